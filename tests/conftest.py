"""Shared fixtures: the bundled datasets and small trained models, built once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def adult():
    from dlxai.data import load_adult

    return load_adult()


@pytest.fixture(scope="session")
def german():
    from dlxai.data import load_german

    return load_german()


@pytest.fixture(scope="session")
def adult_mlp(adult):
    """The Adult MLP with the app's default settings (about 4 s on 2 cores)."""
    from dlxai.models import train_model

    return train_model(adult, "mlp", seed=0)


@pytest.fixture(scope="session")
def german_mlp(german):
    from dlxai.models import train_model

    return train_model(german, "mlp", seed=0)


@pytest.fixture(scope="session")
def adult_logreg(adult):
    from dlxai.models import train_model

    return train_model(adult, "logreg", seed=0)
