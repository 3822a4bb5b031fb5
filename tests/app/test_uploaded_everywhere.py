"""An uploaded model on every page: loaded through the Upload page (real exporters' files), then each page runs
without an exception, and what is not offered for that model is named on the page with its reason before any
click.  Two kinds: a skops pipeline (raw columns, a scikit-learn model that mitigation can refit) and a TorchScript
network (gradients, but a file that cannot be retrained)."""

from __future__ import annotations

import pytest

from dlxai.models.contracts import preprocessing_spec
from tests.app.conftest import errors_of, with_model
from tests.unit.models import exporters

PAGES = ["pages/home.py", "pages/data_model.py", "pages/fairness.py", "pages/explanations.py",
         "pages/counterfactuals.py", "pages/surrogate.py", "pages/mitigation.py", "pages/report.py"]


def texts(at) -> str:
    return "\n".join(str(e.value) for kind in ("info", "caption", "warning", "markdown") for e in getattr(at, kind))


def upload(at, ds, kind: str):
    at.switch_page("pages/upload.py").run()
    if kind == "skops":
        raw, name, _ = exporters.skops_pipeline(ds, "logreg")
        at.file_uploader(key="up_model").set_value((name, raw, "application/octet-stream")).run()
        at.checkbox(key="up_trust").check().run()
    else:
        prep = at.session_state["dlxai.model"].preprocessor
        raw, name, _, _ = exporters.torchscript_mlp(prep, n_out=1)
        import json

        spec = json.dumps({"preprocessing": preprocessing_spec(prep)}).encode()
        at.file_uploader(key="up_model").set_value((name, raw, "application/octet-stream"))
        at.file_uploader(key="up_spec").set_value(("spec.json", spec, "application/json")).run()
    at.button(key="up_load_model").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    m = at.session_state["dlxai.model"]
    assert "uploaded" in m.name
    return m


FINDING = "Four-fifths rule violated"  # the fairness page's finding about the model, shown as an error on purpose
# what each kind's pages must say is not offered, and why (words of the reason the user reads)
REFUSED = {
    "skops": {
        "pages/explanations.py": ["Not offered for this model", "Saliency", "no numeric input exists for a gradient"],
        "pages/mitigation.py": ["Not offered for this model", "Penalised", "correlation remover"],
    },
    "torchscript": {
        "pages/explanations.py": ["Not offered for this model", "LRP", "randomisation check"],
        "pages/mitigation.py": ["Not offered for this model", "cannot be trained again", "Exponentiated gradient"],
    },
}


@pytest.mark.parametrize("kind", ["skops", "torchscript"])
def test_an_uploaded_model_visits_every_page(app, german_tiny, kind):
    ds, _ = german_tiny
    at = with_model(app, german_tiny)
    m = upload(at, ds, kind)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        failed = [e for e in errors_of(at) if not e.startswith(FINDING)]
        assert not failed, (page, failed)
        assert at.session_state["dlxai.model"] is m
        for words in REFUSED[kind].get(page, []):
            assert words in texts(at), (page, words, texts(at)[:3000])
    m.close()
