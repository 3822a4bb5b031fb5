"""Export -> re-upload -> the same predictions, for every model kind trained in the app, through files on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dlxai.models.contracts import preprocessor_from_spec
from dlxai.models.export import export_onnx, export_safetensors
from dlxai.models.formats import load_model


@pytest.fixture(params=["mlp", "logreg"])
def trained(request, tiny_mlp, tiny_logreg):
    return tiny_mlp if request.param == "mlp" else tiny_logreg


def test_safetensors_and_spec_roundtrip_through_files(tmp_path, german, trained):
    weights, spec = export_safetensors(trained)
    (tmp_path / "model.safetensors").write_bytes(weights)
    (tmp_path / "model.json").write_bytes(spec)
    m = load_model((tmp_path / "model.safetensors").read_bytes(), "model.safetensors",
                       spec=(tmp_path / "model.json").read_bytes(), sample=german.X("test"), dataset_name=german.name)
    X = german.X("test")
    np.testing.assert_allclose(m.predict_proba(X), trained.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(m.predict(X), trained.predict(X))
    assert m.kind == trained.kind and m.feature_names_out == trained.feature_names_out
    assert m.preprocessor.feature_groups_ == trained.preprocessor.feature_groups_


def test_onnx_and_spec_roundtrip(tmp_path, german, trained):
    _, spec = export_safetensors(trained)
    (tmp_path / "model.onnx").write_bytes(export_onnx(trained))
    m = load_model((tmp_path / "model.onnx").read_bytes(), "model.onnx", spec=spec, sample=german.X("test"))
    X = german.X("all")
    np.testing.assert_allclose(m.predict_proba(X), trained.predict_proba(X), atol=1e-5)
    assert (m.predict(X) != trained.predict(X)).sum() <= 1  # float32 ONNX vs float64 numpy at the threshold


def test_spec_preprocessing_reproduces_the_fitted_matrix_exactly(german, tiny_mlp, spec_json):
    prep = preprocessor_from_spec(json.loads(spec_json)["preprocessing"])
    X = german.X("all")
    np.testing.assert_array_equal(prep.transform(X), tiny_mlp.preprocessor.transform(X))
    # unseen levels and missing values behave like the fitted OneHotEncoder/SimpleImputer
    odd = X.head(20).copy()
    odd.loc[odd.index[:5], "purpose"] = "a level never seen"
    odd.loc[odd.index[5:10], "duration"] = np.nan
    odd.loc[odd.index[10:15], "status"] = None
    np.testing.assert_array_equal(prep.transform(odd), tiny_mlp.preprocessor.transform(odd))


def test_reuploaded_mlp_supports_gradients_like_the_original(german, tiny_mlp):
    weights, spec = export_safetensors(tiny_mlp)
    m = load_model(weights, "model.safetensors", spec=spec, sample=german.X("test"))
    x = torch.from_numpy(tiny_mlp.transform(german.X("test").head(16)))
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    tiny_mlp.torch_module()(a)[:, 1].sum().backward()
    m.torch_module()(b)[:, 1].sum().backward()
    torch.testing.assert_close(a.grad, b.grad)
    assert m.parameter_count == tiny_mlp.parameter_count
