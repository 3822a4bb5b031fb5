"""AppTest of the Upload page: st.file_uploader driven with real bytes (AppTest in Streamlit 1.67 supports
``file_uploader(...).set_value((name, bytes, mime))``), a dataset and a model made active only after
validation, and a representative subset of the bad-input catalogue keeping the previous data and model."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest

from tests import makers
from tests.app.conftest import errors_of, with_model
from tests.unit.models import exporters

GOOD = pd.DataFrame({
    "age": np.arange(300) % 50 + 20,
    "hours": np.arange(300) % 30 + 10.5,
    "sex": ["Female", "Male", "Male"] * 100,
    "approved": ["yes", "no", "no", "no"] * 75,
})


def upload_page(at):
    at.switch_page("pages/upload.py").run()
    assert not at.exception
    return at


def set_active_model(at, model):
    at.session_state["dlxai.model"] = model
    at.session_state["dlxai.models"] = {model.name: model}


def active(at):
    return at.session_state["dlxai.dataset"].name, at.session_state["dlxai.model"]


def test_page_renders_with_four_tabs(app):
    at = upload_page(app)
    assert at.title[0].value == "Upload your data and model"
    assert [t.label for t in at.tabs] == ["Data", "Model", "Predictions only", "Export"]
    assert len(at.file_uploader) == 5
    assert not at.warning or all("DLXAI_ALLOW_PICKLE" not in w.value for w in at.warning)


def test_csv_upload_maps_schema_and_becomes_active(app):
    at = upload_page(app)
    at.file_uploader(key="up_data").set_value(("loans.csv", GOOD.to_csv(index=False, sep=";").encode(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    assert any("300 rows × 4 columns" in s.value and "';'" in s.value for s in at.success)
    assert at.selectbox(key="up_target").value == "approved"
    assert at.selectbox(key="up_positive").value == "yes"
    assert at.multiselect(key="up_sensitive").value == ["age", "sex"]
    at.multiselect(key="up_sensitive").set_value(["sex"]).run()
    assert len(at.get("plotly_chart")) >= 1  # the group-size preview
    at.button(key="up_use_data").click().run()
    assert not at.exception and not errors_of(at)
    ds = at.session_state["dlxai.dataset"]
    assert ds.name == "loans.csv" and len(ds.train) + len(ds.test) == 300
    assert ds.schema.sensitive == ("sex",) and ds.schema.positive_label == "yes"
    assert any("is active: 210 training and 90 test rows" in s.value for s in at.success)


def test_separate_test_file_is_used(app):
    at = upload_page(app)
    at.file_uploader(key="up_data").set_value(("train.csv", GOOD.to_csv(index=False).encode(), "text/csv"))
    at.file_uploader(key="up_test").set_value(("test.csv", GOOD.head(120).to_csv(index=False).encode(), "text/csv"))
    at.run()
    at.button(key="up_use_data").click().run()
    assert not at.exception and not errors_of(at)
    ds = at.session_state["dlxai.dataset"]
    assert (len(ds.train), len(ds.test)) == (300, 120)


BAD_DATA = [
    ("empty.csv", b"", "is empty"),
    ("header.csv", b"age,sex,approved\n", "has a header"),
    ("garbage.csv", np.random.default_rng(0).bytes(3000), "not a text table"),
    ("dups.csv", b"age,age,approved\n1,2,yes\n3,4,no\n", "duplicate column names"),
    ("utf16.csv", GOOD.to_csv(index=False).encode("utf-16"), "UTF-16"),
    ("bomb.csv.gz", gzip.compress(b"0" * 300_000_000), "zip bombs"),
]


def test_bad_data_files_keep_the_previous_data_and_model(app, adult_logreg):
    at = upload_page(app)
    set_active_model(at, adult_logreg)
    at.run()
    before = active(at)
    assert before[1] is adult_logreg
    for name, raw, expected in BAD_DATA:
        at.file_uploader(key="up_data").set_value((name, raw, "text/csv")).run()
        assert not at.exception, name
        assert any(expected in e for e in errors_of(at)), (name, errors_of(at))
        assert active(at) == before, name


def test_bad_mapping_keeps_the_previous_data(app, adult_logreg):
    one_class = GOOD.assign(sex="Female")
    at = upload_page(app)
    set_active_model(at, adult_logreg)
    at.file_uploader(key="up_data").set_value(("one.csv", one_class.to_csv(index=False).encode(), "text/csv")).run()
    at.multiselect(key="up_sensitive").set_value(["sex"]).run()
    at.button(key="up_use_data").click().run()
    assert not at.exception
    assert any("single group ('Female')" in e for e in errors_of(at)), errors_of(at)
    assert active(at)[0] == "adult" and active(at)[1] is adult_logreg


def test_model_upload_onnx_with_spec_becomes_active(app, adult_logreg):
    from dlxai.models.export import export_onnx, export_safetensors

    at = upload_page(app)
    spec = export_safetensors(adult_logreg)[1]
    at.file_uploader(key="up_model").set_value(("lr.onnx", export_onnx(adult_logreg), "application/octet-stream"))
    at.file_uploader(key="up_spec").set_value(("lr.json", spec, "application/json"))
    at.run()
    at.button(key="up_load_model").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    m = at.session_state["dlxai.model"]
    assert m.format == "onnx" and m.contract.ok
    assert any("is active. Contract: preprocessing spec" in s.value and "Checked on 256 rows" in s.value
               for s in at.success), [s.value for s in at.success]
    ds = at.session_state["dlxai.dataset"]
    X = ds.X("test").head(200)
    np.testing.assert_allclose(m.predict_proba(X), adult_logreg.predict_proba(X), atol=1e-5)
    # the uploaded model drives the other pages
    at.switch_page("pages/fairness.py").run()
    assert not at.exception
    assert all("Four-fifths" in e for e in errors_of(at)), errors_of(at)  # a finding, not a failure
    assert any(mm.label == "Demographic parity difference" for mm in at.metric)


def test_bad_model_files_keep_the_previous_model(app, adult_logreg):
    at = upload_page(app)
    set_active_model(at, adult_logreg)
    at.run()
    before = active(at)
    n_num = len(at.session_state["dlxai.dataset"].schema.numeric)
    bad = [
        ("model.pt", makers.pickle_bytes({"weights": [1, 2]}), "runs whatever code it contains"),
        ("fake.onnx", b"definitely not onnx", "claims to be ONNX"),
        ("wrong.onnx", makers.onnx_bytes(makers.linear(n_num + 3), n_num + 3), f"expects {n_num + 3} input columns"),
        ("nan.pt", makers.torchscript_bytes(makers.nan_module(n_num)), "NaN or infinite"),
        ("boom.pt", makers.torchscript_bytes(makers.raising_module()), "boom in forward"),
    ]
    for name, raw, expected in bad:
        at.file_uploader(key="up_model").set_value((name, raw, "application/octet-stream")).run()
        at.button(key="up_load_model").click().run()
        assert not at.exception, name
        assert any(expected in e for e in errors_of(at)), (name, errors_of(at))
        assert active(at) == before, name


def test_a_skops_pipeline_reads_the_raw_columns_and_the_page_says_so(app, german_tiny):
    ds, _ = german_tiny
    at = upload_page(with_model(app, german_tiny))
    raw, name, reference = exporters.skops_pipeline(ds, "logreg")
    at.file_uploader(key="up_model").set_value((name, raw, "application/octet-stream")).run()
    assert not at.exception and not errors_of(at), errors_of(at)
    assert any("skops does not trust by default" in w.value for w in at.warning)
    at.checkbox(key="up_trust").check().run()
    at.button(key="up_load_model").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    assert any("Contract: raw columns (the pipeline's own preprocessing) — 20 columns: duration" in s.value
               for s in at.success), [s.value for s in at.success]
    assert any(i.value.startswith("Gradient methods (saliency") and "are not offered" in i.value for i in at.info)
    m = at.session_state["dlxai.model"]
    assert m.contract_kind == "raw"
    np.testing.assert_allclose(m.predict_proba(ds.X("test")), reference(ds.X("test")), atol=1e-6)
    at.switch_page("pages/explanations.py").run()  # only the methods that apply: SHAP's kernel, no gradients
    assert not at.exception
    assert at.selectbox(key="ex_method").options == ["SHAP: kernel (model-agnostic)"]


def test_an_onnx_file_with_one_input_per_column_needs_no_spec(app, german_tiny):
    ds, _ = german_tiny
    at = upload_page(with_model(app, german_tiny))
    raw, name, reference = exporters.skl2onnx_pipeline(ds)
    at.file_uploader(key="up_model").set_value((name, raw, "application/octet-stream")).run()
    assert any("names the columns it reads" in i.value for i in at.info), [i.value for i in at.info]
    assert not [w for w in at.multiselect if w.key.startswith("up_cols")]  # nothing to declare
    at.button(key="up_load_model").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    first = at.session_state["dlxai.model"]
    assert first.contract.contract.startswith("raw columns (one ONNX input per column)")
    np.testing.assert_allclose(first.predict_proba(ds.X("test")), reference(ds.X("test")), atol=1e-6)
    # another upload replaces it: the first model's worker process is stopped
    at.file_uploader(key="up_model").set_value(("again.onnx", raw, "application/octet-stream")).run()
    at.button(key="up_load_model").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    assert at.session_state["dlxai.model"] is not first
    assert first.estimator.inner.remote.worker._pid is None


def test_a_pipeline_for_other_data_keeps_the_previous_model(app, adult_logreg, german):
    """A German credit pipeline uploaded while Adult is active: its columns are missing, the error says which."""
    at = upload_page(app)
    set_active_model(at, adult_logreg)
    at.run()
    before = active(at)
    raw, name, _ = exporters.skops_pipeline(german, "logreg")
    at.file_uploader(key="up_model").set_value((name, raw, "application/octet-stream")).run()
    at.checkbox(key="up_trust").check().run()
    at.button(key="up_load_model").click().run()
    assert not at.exception
    assert any("reads the columns ['duration'" in e and "which the data lacks" in e for e in errors_of(at)), \
        errors_of(at)
    assert active(at) == before


def test_predictions_only_audit_is_shown(app):
    at = upload_page(app)
    df = makers.predictions_frame()
    at.file_uploader(key="up_pred").set_value(("preds.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="up_p_label").set_value("label").run()
    at.selectbox(key="up_p_pos").set_value("good")
    at.multiselect(key="up_p_sens").set_value(["sex"])
    at.selectbox(key="up_p_col").set_value("pred").run()
    at.button(key="up_p_go").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    assert any("Fairness of the uploaded predictions by sex" in s.value for s in at.subheader)
    assert at.metric[0].label == "Demographic parity difference"
    p = at.session_state["dlxai.predictions"]
    expected = abs((df[df.sex == "F"].pred == "good").mean() - (df[df.sex == "M"].pred == "good").mean())
    assert float(at.metric[0].value) == pytest.approx(expected, abs=1e-3)
    assert p.y_pred.sum() == (df.pred == "good").sum()

    # the same decisions as an audit PDF for a reviewer, without a model
    at.button(key="up_p_pdf").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    res = at.session_state["dlxai.predictions.report"]
    import io

    from pypdf import PdfReader

    text = "\n".join(pg.extract_text() for pg in PdfReader(io.BytesIO(res.pdf)).pages)
    assert "Audit of the uploaded decisions" in text and "preds.csv" in text
    assert f"{expected:.3f}" in text  # the page's demographic parity difference, in the PDF
    assert any(b.label.startswith("Download the PDF") for b in at.download_button)


def test_predictions_only_with_a_decile_score_where_lower_is_favourable(app):
    """A 1-10 risk decile cut at 5, favourable at or below it: accepted on any scale, as by the CLI."""
    at = upload_page(app)
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"label": rng.choice(["good", "bad"], 300), "sex": rng.choice(["F", "M"], 300),
                       "risk": rng.integers(1, 11, 300)})
    at.file_uploader(key="up_pred").set_value(("deciles.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="up_p_label").set_value("label").run()
    at.selectbox(key="up_p_pos").set_value("good")
    at.multiselect(key="up_p_sens").set_value(["sex"])
    at.radio(key="up_p_mode").set_value("a score and a threshold").run()
    at.selectbox(key="up_p_col").set_value("risk")
    at.number_input(key="up_p_thr").set_value(5.0)
    at.radio(key="up_p_dir").set_value("lower").run()
    at.button(key="up_p_go").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    p = at.session_state["dlxai.predictions"]
    np.testing.assert_array_equal(p.y_pred, (df.risk <= 5).to_numpy(np.int64))
    assert p.params["threshold"] == 5.0 and p.params["higher_is_favourable"] is False
    at.button(key="up_p_pdf").click().run()  # the PDF audits the same decisions (it once refused scores outside [0, 1])
    assert not at.exception and not errors_of(at), errors_of(at)
    assert at.session_state["dlxai.predictions.report"].pages > 0


def test_export_tab_offers_three_downloads(app, adult_logreg):
    at = upload_page(app)
    set_active_model(at, adult_logreg)
    at.run()
    labels = [b.label for b in at.download_button]
    assert labels == ["Download model.safetensors", "Download model.json", "Download model.onnx"]


def test_pickle_banner_when_operator_allows_it(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    monkeypatch.setenv("DLXAI_ALLOW_PICKLE", "1")
    at = AppTest.from_file(APP, default_timeout=300).run()
    upload_page(at)
    assert any("DLXAI_ALLOW_PICKLE=1 is set" in w.value for w in at.warning)


def test_an_error_quoting_a_file_name_shows_it_verbatim_not_as_markdown():
    """A file name is the user's text: ``[x](url)`` or ``__torch__`` must not become a link or bold text."""
    from ui.errors import plain

    name = "![](http://evil/x.png) [click](http://evil) __torch__.pt"
    escaped = plain(f"The model file {name!r} is not supported.")
    assert not re.search(r"(?<!\\)[\[\]()!_]", escaped.replace("not supported.", ""))  # every one escaped
    assert "\\_\\_torch\\_\\_" in escaped and "\\!\\[\\]" in escaped


def test_predictions_only_defaults_show_every_group_and_decide_as_the_cli(app, tmp_path):
    """The label defaults to the Data tab's suggestion, the rule's effect shows before the audit, every selected
    sensitive column is audited on screen, and the CLI on the same file with the same rule decides the same."""
    import json

    from dlxai.cli import run
    from dlxai.data.mapping import suggest_target

    at = upload_page(app)
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"sex": rng.choice(["F", "M"], 300), "race": rng.choice(["a", "b"], 300),
                       "credit_score": rng.integers(300, 851, 300), "repaid": rng.choice(["yes", "no"], 300)})
    at.file_uploader(key="up_pred").set_value(("scores.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    assert at.selectbox(key="up_p_label").value == suggest_target(df) == "repaid"
    at.multiselect(key="up_p_sens").set_value(["sex", "race"])
    at.radio(key="up_p_mode").set_value("a score and a threshold").run()
    at.selectbox(key="up_p_col").set_value("credit_score")
    at.number_input(key="up_p_thr").set_value(600.0).run()
    n_fav = int((df.credit_score >= 600).sum())
    assert any(f"range from {df.credit_score.min()} to {df.credit_score.max()}" in c.value
               and f"decides {n_fav:,} of 300 rows" in c.value for c in at.caption), [c.value for c in at.caption]
    at.button(key="up_p_go").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    shown = [s.value for s in at.subheader]
    assert "Fairness of the uploaded predictions by sex" in shown and "Fairness of the uploaded predictions by race" \
        in shown
    page = at.session_state["dlxai.predictions"]

    csv = tmp_path / "scores.csv"
    df.to_csv(csv, index=False)
    out = tmp_path / "r.json"
    assert run(["audit", "--data", str(csv), "--target", "repaid", "--positive-label", "yes", "--sensitive", "sex",
                "--sensitive", "race", "--score-column", "credit_score", "--threshold", "600", "--json", str(out),
                "--quiet", "--n-bootstrap", "0"]) == 0
    res = json.loads(out.read_text())
    for g in ("F", "M"):
        rows = (df.sex == g).to_numpy()
        assert res["fairness"]["sex"]["by_group"][g]["selection_rate"] == pytest.approx(page.y_pred[rows].mean())
