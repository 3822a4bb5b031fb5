"""Safe model loading: every format on real files, the input contract, export, pickle refusal."""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
import torch

from dlxai import errors
from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.models.contracts import check_contract
from dlxai.models.export import export_onnx, export_safetensors, export_spec
from dlxai.models.formats import PICKLE_ENV, UntrustedTypesError, detect_format, load_model, skops_untrusted_types
from tests import makers


def weights(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same_weights(module, before):
    after = module.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert not module._forward_hooks and not module._forward_pre_hooks and not module._backward_hooks


def test_detect_format_by_content_not_name(tiny_mlp, spec_json, width):
    w, _ = export_safetensors(tiny_mlp)
    assert detect_format(w, "weights.bin") == "safetensors"
    assert detect_format(makers.torchscript_bytes(makers.linear(width)), "model.onnx") == "torchscript"
    assert detect_format(makers.onnx_bytes(makers.linear(width), width), "x") == "onnx"
    assert detect_format(makers.pickle_bytes({"a": 1}), "model.pt") == "pickle"
    buf = io.BytesIO()
    torch.save(makers.linear(3).state_dict(), buf)
    assert detect_format(buf.getvalue(), "m.pt") == "torch_state_dict"


def test_onnx_with_spec_matches_the_torch_module(german, tiny_mlp, spec_json):
    onnx = export_onnx(tiny_mlp)
    # a trusted copy in this process, to read its network (an upload's runs only in its worker:
    # tests/unit/explain/test_isolated.py checks both give the same attributions)
    m = load_model(onnx, "m.onnx", spec=spec_json, sample=german.X("test"), dataset_name=german.name, isolate=False)
    X = german.X("test")
    np.testing.assert_allclose(m.predict_proba(X), tiny_mlp.predict_proba(X), atol=1e-6)
    assert m.contract.ok and m.contract.output_shape == (256, 2) and m.contract.output_kind == "logits"
    assert m.kind == "onnx" and m.dataset == german.name and not m.conversion_error
    # the onnx2torch conversion serves gradients, with the same decision margin, centred: [-m/2, m/2]
    mod = m.torch_module()
    x = torch.from_numpy(tiny_mlp.transform(X.head(50))).requires_grad_()
    out = mod(x)
    out[:, 1].sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    z = tiny_mlp.estimator.module_(x).detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), np.column_stack([z[:, 0] - z[:, 1], z[:, 1] - z[:, 0]]) / 2,
                               atol=1e-5)


def test_onnx_copies_and_keeps_working(german, tiny_mlp, spec_json):
    m = load_model(export_onnx(tiny_mlp), "m.onnx", spec=spec_json, sample=german.X("test"))
    c = copy.deepcopy(m)
    X = german.X("test").head(30)
    np.testing.assert_array_equal(c.predict_proba(X), m.predict_proba(X))


def test_onnx_conversion_failure_says_what_remains(german, spec_json, width):
    m = load_model(makers.onnx_unconvertible(width), "odd.onnx", spec=spec_json, sample=german.X("test"))
    assert m.conversion_error and "NotImplementedError" in m.conversion_error
    assert m.predict_proba(german.X("test")).shape == (len(german.test),)  # onnxruntime still predicts
    with pytest.raises(UnsupportedModelError, match="gradient methods .* are unavailable. Still available: performance"):
        m.torch_module()
    assert "fairness" in m.available_methods and not any("gradient" in a for a in m.available_methods)


@pytest.mark.parametrize("make,output,kind", [
    (lambda n: makers.linear(n, 2), "auto", "logits"),
    (lambda n: makers.sigmoid_net(n), "auto", "probabilities"),
    (lambda n: torch.nn.Sequential(makers.linear(n, 2), torch.nn.Softmax(dim=1)), "auto", "probabilities"),
    (lambda n: makers.linear(n, 1), "logits", "logits"),
])
def test_torchscript_outputs_are_read_as_probabilities(german, prep_spec, width, make, output, kind):
    module = make(width)
    m = load_model(makers.torchscript_bytes(module), "m.pt", spec=prep_spec, output=output,
                   sample=german.X("test"), isolate=False)  # trusted: its network is read below
    assert m.contract.output_kind == kind
    X = german.X("test").head(64)
    x = torch.from_numpy(m.transform(X))
    with torch.no_grad():
        raw = module(x).double()
    if raw.shape[1] == 1:
        expected = raw[:, 0] if kind == "probabilities" else torch.sigmoid(raw[:, 0])
    else:
        expected = raw[:, 1] if kind == "probabilities" else torch.softmax(raw, 1)[:, 1]
    np.testing.assert_allclose(m.predict_proba(X), expected.numpy(), atol=1e-6)
    # the torch module handed to gradient methods gives the same probabilities via two logits
    with torch.no_grad():
        np.testing.assert_allclose(torch.softmax(m.torch_module()(x), 1)[:, 1].double().numpy(), expected.numpy(),
                                   atol=1e-5)


def test_declared_numeric_columns_contract(german):
    cols = ["duration", "credit_amount", "age"]
    module = makers.linear(3)
    m = load_model(makers.onnx_bytes(module, 3), "m.onnx", input_columns=cols, sample=german.X("test"))
    X = german.X("test")
    x = torch.tensor(X[cols].to_numpy(np.float32))
    with torch.no_grad():
        expected = torch.softmax(module(x), 1)[:, 1].numpy()
    np.testing.assert_allclose(m.predict_proba(X), expected, atol=1e-6)
    assert m.feature_columns == tuple(cols) and m.preprocessor.feature_groups_["age"] == (2,)


def test_no_contract_is_refused(width):
    with pytest.raises(UserInputError, match="needs an input contract"):
        load_model(makers.onnx_bytes(makers.linear(width), width), "m.onnx")


def test_state_dict_via_weights_only(german, tiny_mlp, spec_json):
    buf = io.BytesIO()
    torch.save(tiny_mlp.estimator.module_.state_dict(), buf)
    m = load_model(buf.getvalue(), "m.pt", spec=spec_json, sample=german.X("test"))
    np.testing.assert_allclose(m.predict_proba(german.X("test")), tiny_mlp.predict_proba(german.X("test")), atol=1e-7)
    assert m.kind == "mlp"


def test_skops_logreg_loads_without_confirmation(german, tiny_logreg):
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression().fit(tiny_logreg.transform(german.X("train")), german.y("train"))
    spec = export_spec(tiny_logreg)
    m = load_model(makers.skops_bytes(est), "lr.skops", spec=spec, sample=german.X("test"))
    np.testing.assert_allclose(m.predict_proba(german.X("test")),
                               est.predict_proba(tiny_logreg.transform(german.X("test")))[:, 1])


def test_skops_untrusted_types_need_confirmation(german, tiny_logreg):
    from sklearn.ensemble import HistGradientBoostingClassifier

    est = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(
        tiny_logreg.transform(german.X("train")), german.y("train"))
    blob, spec = makers.skops_bytes(est), export_spec(tiny_logreg)
    assert skops_untrusted_types(blob) == ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    with pytest.raises(UntrustedTypesError, match="not trusted by default") as info:
        load_model(blob, "hgb.skops", spec=spec, sample=german.X("test"))
    assert info.value.types == skops_untrusted_types(blob)
    m = load_model(blob, "hgb.skops", spec=spec, trusted=info.value.types, sample=german.X("test"))
    np.testing.assert_allclose(m.predict_proba(german.X("test")),
                               est.predict_proba(tiny_logreg.transform(german.X("test")))[:, 1])


def test_pickle_is_refused_by_default(monkeypatch, spec_json, tiny_logreg):
    monkeypatch.delenv(PICKLE_ENV, raising=False)
    for name in ("model.pkl", "model.joblib", "model.pt"):
        with pytest.raises(UserInputError, match="runs whatever code it contains") as info:
            load_model(makers.pickle_bytes(tiny_logreg.estimator), name, spec=spec_json)
        assert "ONNX" in str(info.value) and "skops" in str(info.value) and PICKLE_ENV in str(info.value)


def test_pickle_allowed_by_operator_env(monkeypatch, german, tiny_logreg):
    monkeypatch.setenv(PICKLE_ENV, "1")
    m = load_model(makers.pickle_bytes(tiny_logreg.estimator), "lr.pkl", spec=export_spec(tiny_logreg),
                       sample=german.X("test"))
    assert m.warnings and "DLXAI_ALLOW_PICKLE=1" in m.warnings[0]
    np.testing.assert_allclose(m.predict_proba(german.X("test")), tiny_logreg.predict_proba(german.X("test")))


def test_loading_never_mutates_the_callers_module(german, spec_json, width):
    module = makers.linear(width)
    before = weights(module)
    m = load_model(makers.torchscript_bytes(module), "m.pt", spec=spec_json, sample=german.X("test"))
    m.predict_proba(german.X("test"))
    assert_same_weights(module, before)


def test_export_never_mutates_the_model_even_after_an_error(tiny_mlp, monkeypatch):
    module = tiny_mlp.estimator.module_
    before = weights(module)
    fp = tiny_mlp.fingerprint
    export_onnx(tiny_mlp)
    export_safetensors(tiny_mlp)

    def boom(*a, **k):
        raise RuntimeError("export failed half-way")

    monkeypatch.setattr(torch.onnx, "export", boom)
    with pytest.raises(RuntimeError):
        export_onnx(tiny_mlp)
    assert_same_weights(module, before)
    assert module.training is False and tiny_mlp.fingerprint == fp


def test_contract_report_without_raising(german, spec_json, width):
    m = load_model(makers.torchscript_bytes(makers.nan_module(width)), "nan.pt", spec=spec_json)
    rep = check_contract(m, german.X("test"), raise_on_problem=False)
    assert not rep.ok and "NaN" in rep.problems[0] and rep.n_rows == 256
    assert errors.MODEL_CONTRACT.split("{")[0] in "The model does not fit the data's input contract: "
