"""Tiny models and model files for the upload tests (German credit: 1,000 rows, trains in about a second)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_mlp(german):
    from dlxai.models import train_model

    return train_model(german, "mlp", seed=0, max_epochs=2, hidden_layer_sizes=(8,))


@pytest.fixture(scope="session")
def tiny_logreg(german):
    from dlxai.models import train_model

    return train_model(german, "logreg", seed=0)


@pytest.fixture(scope="session")
def width(tiny_mlp):
    return tiny_mlp.preprocessor.n_features_out_


@pytest.fixture(scope="session")
def spec_json(tiny_mlp):
    from dlxai.models.export import export_safetensors

    return export_safetensors(tiny_mlp)[1]


@pytest.fixture(scope="session")
def prep_spec(spec_json):
    """Only the preprocessing part of the spec: what a user sends with a model dlxai did not train."""
    import json

    return {"preprocessing": json.loads(spec_json)["preprocessing"]}
