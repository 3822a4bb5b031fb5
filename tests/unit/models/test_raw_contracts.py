"""Bring your own model, for real: files written by the real exporters load with the right contract detected,
predict what the exporter predicts, and get fairness, SHAP, counterfactuals and a surrogate.

Raw-columns models (a skops pipeline, skl2onnx with one input per column) read the table itself: SHAP's kernel
treats each raw column (a categorical one too) as one feature, counterfactuals move in raw column space, and
gradient methods are not offered.  Networks on a matrix (torch.jit, torch.onnx) get gradients as well.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from dlxai.data.preprocess import Preprocessor, TabularPreprocessor
from dlxai.errors import UnsupportedModelError
from dlxai.explain.attribution import attribute
from dlxai.explain.counterfactuals import SearchOptions, find_counterfactuals
from dlxai.explain.registry import applicable_methods
from dlxai.explain.surrogate import fit_surrogate
from dlxai.fairness import audit_fairness
from dlxai.models.adapters import RAW_NO_GRADIENTS
from dlxai.models.contracts import preprocessing_spec
from dlxai.models.formats import load_model, skops_untrusted_types
from tests.unit.models import exporters

NUMERIC_COLUMNS = ["duration", "credit_amount", "installment_rate", "age"]
# name -> (contract kind, words of the contract's description)
EXPECTED = {
    "skops-hgb": ("raw", "raw columns (the pipeline's own preprocessing) — 20 columns: duration"),
    "skops-logreg": ("raw", "raw columns (the pipeline's own preprocessing) — 20 columns"),
    "skl2onnx-logreg": ("raw", "raw columns (one ONNX input per column) — 20 columns"),
    "torchscript-mlp": ("standard", "preprocessing spec — 7 numeric and 13 categorical columns"),
    "torch-onnx-mlp": ("columns", "declared numeric columns, in order — 4: duration, credit_amount"),
}
RAW = [k for k, (kind, _) in EXPECTED.items() if kind == "raw"]


@pytest.fixture(scope="module")
def prep(german):
    return Preprocessor(german.schema.numeric, german.schema.categorical).fit(german.X("train"))


@pytest.fixture(scope="module")
def files(german, prep):
    """name -> (bytes, file name, the exporter's P(favourable), load_model keywords)."""
    ts = exporters.torchscript_mlp(prep)
    out = {
        "skops-hgb": exporters.skops_pipeline(german, "hgb"),
        "skops-logreg": exporters.skops_pipeline(german, "logreg"),
        "skl2onnx-logreg": exporters.skl2onnx_pipeline(german),
        "torchscript-mlp": ts[:3],
        "torch-onnx-mlp": exporters.torch_onnx_mlp(NUMERIC_COLUMNS),
    }
    extra = {"torchscript-mlp": {"spec": {"preprocessing": preprocessing_spec(prep)}},
             "torch-onnx-mlp": {"input_columns": NUMERIC_COLUMNS}}
    return {k: (*v, extra.get(k, {})) for k, v in out.items()}


@pytest.fixture(scope="module")
def models(german, files):
    loaded = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (raw, fname, _, kw) in files.items():
            trusted = skops_untrusted_types(raw) if fname.endswith(".skops") else None
            loaded[name] = load_model(raw, fname, trusted=trusted, sample=german.X("test"),
                                      reference=german.X("train"), positive_label=german.schema.positive_label,
                                      dataset_name=german.name, **kw)
    yield loaded
    for m in loaded.values():
        m.close()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_contract_is_detected_and_said(models, name):
    m = models[name]
    kind, words = EXPECTED[name]
    assert m.contract_kind == kind and m.contract.ok
    assert m.contract.contract.startswith(words), m.contract.contract
    if kind == "raw":
        assert m.feature_columns == tuple(m.preprocessor.numeric) + tuple(m.preprocessor.categorical)
        assert len(m.preprocessor.columns_) == 20


@pytest.mark.parametrize("name", list(EXPECTED))
def test_predictions_equal_the_exporters(models, files, german, name):
    X = german.X("test")
    np.testing.assert_allclose(models[name].predict_proba(X), files[name][2](X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fairness_audit_of_the_uploaded_model(models, german, name):
    m, X = models[name], german.X("test")
    pred = m.predict(X)
    audit = audit_fairness(german.y("test"), pred, german.sensitive("test", ["sex"]), n_bootstrap=0)
    sex = german.sensitive("test", ["sex"])["sex"].to_numpy()
    rates = [pred[sex == g].mean() for g in np.unique(sex)]
    assert audit.summary["demographic_parity_difference"] == pytest.approx(max(rates) - min(rates), abs=1e-12)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_kernel_shap_explains_raw_columns(models, german, name):
    m = models[name]
    rows = german.X("test").head(2)
    r = attribute(m, rows, method="kernel_shap", baselines="samples", reference=german.X("train"),
                  n_baseline_samples=5, n_samples=64, seed=0)
    by = r.by_feature()
    if m.contract_kind == "raw":
        # one feature per raw column: a categorical column is one feature of the kernel, not one per level
        assert r.values.shape == (2, 20) and list(r.feature_names) == list(m.preprocessor.feature_names_out_)
        assert set(by.columns) == set(german.schema.features)
        assert np.abs(r.values[:, len(m.preprocessor.numeric):]).sum() > 0  # categories do matter
    assert np.abs(r.delta).max() < 1e-4  # SHAP's efficiency: sum(phi) = f(x) - E f(background)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_counterfactuals_by_random_search(models, german, name):
    m = models[name]
    X = german.X("test")
    pred = m.predict(X)
    rows = X[pred == pred.min()].head(1)  # a rejected row (a random network may accept everybody)
    opts = SearchOptions(method="random", n_candidates=100, n_sparse_candidates=10, on_failure="keep")
    cf = find_counterfactuals(m, german, rows, k=1, options=opts)
    s = cf.summary()
    assert s["method"] == "random" and s["queries"] == 1
    found = cf.for_query(0)
    if len(found):
        assert (m.predict(found[list(m.feature_columns)]) == 1 - pred.min()).all()
        for c in m.preprocessor.categorical:  # raw levels the data knows, not encoded columns
            assert set(found[c].dropna()) <= set(german.X("train")[c].unique())


@pytest.mark.parametrize("name", list(EXPECTED))
def test_surrogate_tree_on_raw_columns(models, german, name):
    s = fit_surrogate(models[name], german, max_depth=3)
    assert s.fidelity > 0.6
    assert all(n in german.schema.numeric or " = " in n for n in s.feature_names)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_methods_are_honest(models, german, name):
    m = models[name]
    methods = applicable_methods(m)
    if m.contract_kind == "raw":
        assert "integrated_gradients" not in methods and "kernel_shap" in methods
        assert not any("gradient" in a for a in m.available_methods)
        assert m.gradients_unavailable == RAW_NO_GRADIENTS and m.explains == ""
        with pytest.raises(UnsupportedModelError, match="takes the raw columns and encodes them itself"):
            m.torch_module()
        with pytest.raises(UnsupportedModelError, match="does not apply"):
            attribute(m, german.X("test").head(2), method="integrated_gradients")
    else:
        assert {"saliency", "integrated_gradients", "expected_gradients"} <= set(methods)
        assert "half the decision margin" in m.explains


def test_the_raw_contract_satisfies_the_preprocessor_protocol(models, german):
    prep = models["skops-hgb"].preprocessor
    assert isinstance(prep, TabularPreprocessor)
    assert list(prep.feature_groups_) == [*prep.numeric, *prep.categorical]
    assert all(len(idx) == 1 for idx in prep.feature_groups_.values()) and prep.n_features_out_ == 20
    assert len(prep.medians_) == len(prep.means_) == len(prep.scales_) == len(prep.numeric)
    assert len(prep.categories_) == len(prep.categorical)
    X = german.X("test").head(50)
    Z = prep.transform(X)
    assert Z.shape == (50, 20) and Z.dtype == np.float32
    back = prep.decode(Z)  # the matrix decodes to the same raw rows, whole numbers as integers
    pd.testing.assert_frame_equal(back, X[list(prep.columns_)].reset_index(drop=True), check_dtype=False)
    assert back["age"].dtype == np.int64


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "expected_gradients"])
def test_torchscript_gradients_work_on_a_private_copy(models, files, german, method):
    m = models["torchscript-mlp"]
    module = m.estimator._inner()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    kw = {"baselines": "samples", "reference": german.X("train"), "n_baseline_samples": 5} \
        if method == "expected_gradients" else {}
    r = attribute(m, german.X("test").head(6), method=method, **kw)
    assert np.isfinite(r.values).all() and (np.abs(r.values).sum(axis=1) > 0).all()
    after = module.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())


def test_one_logit_networks_explain_rejected_rows_too(german, prep):
    raw, name, reference, net = exporters.torchscript_mlp(prep, n_out=1)
    # in this process (a trusted copy), to read the head's output; the worker gives the same numbers
    # (tests/unit/models/test_isolated_uploads.py)
    m = load_model(raw, name, spec={"preprocessing": preprocessing_spec(prep)}, output="logits",
                   sample=german.X("test"), isolate=False)
    try:
        X = german.X("test")
        np.testing.assert_allclose(m.predict_proba(X), reference(X), atol=1e-6)
        rows = pd.concat([X[m.predict(X) == 0].head(3), X[m.predict(X) == 1].head(3)])
        assert len(rows) == 6
        r = attribute(m, rows, method="integrated_gradients", n_steps=64)  # the predicted class, by default
        assert list(r.target) == [0, 0, 0, 1, 1, 1]
        assert (np.abs(r.values).sum(axis=1) > 1e-6).all()  # rejected rows once got all zeros ([0, logit] head)
        with torch.no_grad():  # class 0 explains -1/2 the logit, class 1 +1/2 of it
            z = net(torch.from_numpy(prep.transform(rows)))[:, 0].double().numpy()
            out = m.torch_module()(torch.from_numpy(prep.transform(rows))).double().numpy()
        np.testing.assert_allclose(out, np.column_stack([-z / 2, z / 2]), atol=1e-5)
        assert r.completeness_error.max() < 0.1  # IG sums to f(x) - f(baseline) of the explained output
    finally:
        m.close()


def test_post_processing_works_and_retraining_says_why_not(models, german):
    from dlxai.fairness.mitigation import mitigate

    m = models["skl2onnx-logreg"]
    r = mitigate(m, german, "threshold_optimizer", "demographic_parity", sensitive=["sex"], n_bootstrap=0)
    assert r.model.predict_proba(german.frame("test")).shape == (len(german.test),)
    with pytest.raises(UnsupportedModelError, match="cannot be trained again.*threshold optimizer"):
        mitigate(m, german, "reweighing", "demographic_parity", sensitive=["sex"], n_bootstrap=0)
