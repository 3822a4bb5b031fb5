"""AppTest helpers: paths resolve against this file."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture()
def app():
    """app.py run once (Adult is active), with a generous timeout for training on 2 cores."""
    return AppTest.from_file(APP, default_timeout=300).run()


def errors_of(at) -> list[str]:
    return [e.value for e in at.error]
