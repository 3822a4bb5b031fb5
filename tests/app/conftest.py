"""AppTest helpers: paths resolve against this file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture()
def app():
    """app.py run once (Adult is active), with a generous timeout for training on 2 cores."""
    return AppTest.from_file(APP, default_timeout=300).run()


def errors_of(at) -> list[str]:
    """The error messages on the page as the user reads them (ui.errors escapes Markdown before showing them)."""
    return [re.sub(r"\\([\\`*_{}\[\]()#+!|<>~$])", r"\1", e.value) for e in at.error]


@pytest.fixture(scope="session")
def german_tiny():
    """German credit and a small MLP (3 epochs): enough for a page to have something to show."""
    from dlxai.data import load_german
    from dlxai.models import train_model

    ds = load_german()
    return ds, train_model(ds, "mlp", seed=0, max_epochs=3, hidden_layer_sizes=(16,))


def with_model(app, german_tiny):
    """Make German credit and the small MLP the session's active data and model."""
    from ui import state

    ds, m = german_tiny
    app.session_state[state.DATASET] = ds
    app.session_state[state.DATASET_KEY] = "german"
    app.session_state[state.MODEL] = m
    app.session_state[state.MODELS] = {m.name: m}
    app.session_state[state.SENSITIVE] = ["sex"]
    return app
