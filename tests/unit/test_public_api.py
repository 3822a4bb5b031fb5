"""The public face: ``import dlxai`` gives the verbs, cheaply, with one argument convention."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import dlxai

MODEL_DATASET_VERBS = ("audit_model", "find_counterfactuals", "recourse_burden", "fit_surrogate", "mitigate", "sweep")
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sklearn", "fairlearn", "captum", "shap", "streamlit", "plotly", "matplotlib", "onnxruntime")


def test_import_dlxai_is_cheap_and_loads_no_heavy_library():
    code = f"import sys, dlxai; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


def test_all_lists_exactly_the_lazy_verbs_and_the_errors():
    assert set(dlxai.__all__) == set(dlxai._LAZY) | {"DlxaiError", "NotFittedError", "UnsupportedModelError",
                                                       "UserInputError", "__version__"}


@pytest.mark.parametrize("name", sorted(dlxai._LAZY))
def test_every_public_name_resolves(name):
    obj = getattr(dlxai, name)
    assert callable(obj), name
    assert name in dir(dlxai)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dlxai.nope  # noqa: B018


@pytest.mark.parametrize("name", MODEL_DATASET_VERBS)
def test_verbs_take_model_then_dataset(name):
    params = list(inspect.signature(getattr(dlxai, name)).parameters)
    assert params[:2] == ["model", "dataset"], (name, params)


@pytest.mark.parametrize("name", sorted(dlxai._LAZY))
def test_no_default_is_tied_to_a_demo_dataset(name):
    obj = getattr(dlxai, name)
    if inspect.isclass(obj):
        return
    for p in inspect.signature(obj).parameters.values():
        text = repr(p.default).lower()
        assert not any(word in text for word in ("'sex'", "'race'", "adult", "german")), (name, p)


@pytest.mark.parametrize("name", ["find_counterfactuals", "recourse_burden", "mitigate", "attribute"])
def test_no_verb_takes_a_sprawl_of_keywords(name):
    params = inspect.signature(getattr(dlxai, name)).parameters
    assert len(params) <= 16, (name, list(params))


def test_the_readme_library_section_uses_only_public_verbs():
    import re

    text = (ROOT / "README.md").read_text()
    section = text[text.index("### The library"):text.index("## Explanations")]
    used = set(re.findall(r"dlxai\.(\w+)\(", section))
    assert used, "the README's library section shows no call"
    assert used <= set(dlxai.__all__), used - set(dlxai.__all__)
    assert "from dlxai." not in section  # no reaching into modules
