"""Small, fast models for the mitigation tests (seconds on 2 cores)."""

from __future__ import annotations

import re

import pytest

# a small MLP: one hidden layer, few epochs, no early-stopping slice
SMALL_MLP = {"hidden_layer_sizes": (32,), "max_epochs": 5, "batch_size": 1024, "validation_fraction": 0.0}


@pytest.fixture(scope="session")
def adult_small_mlp(adult):
    from dlxai.models import train_model

    return train_model(adult, "mlp", seed=0, **SMALL_MLP)


def fragment(message: str) -> str:
    """The longest literal piece of a message constant (between ``{...}`` fields), as a regex."""
    parts = re.split(r"\{[^}]*\}", message)
    return re.escape(max(parts, key=len).strip())
