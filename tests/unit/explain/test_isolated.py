"""Gradient methods on an uploaded network run in its sandboxed worker (dlxai/explain/isolated.py): nothing from the
file loads in the engine's process, the numbers equal the in-process path's, and the time limit holds."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from dlxai.errors import ModelTimeoutError
from dlxai.models.formats import load_model
from tests.unit.models import exporters
from tests.unit.models.test_isolated_uploads import COLUMNS, HangsOnBigBatches, scripted

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the worker's sandbox is Linux-only")


GRADIENT_METHODS = ("saliency", "input_x_gradient", "integrated_gradients", "deeplift", "expected_gradients", "lrp")


def _gradient_upload(fmt: str, german):
    from dlxai.data import Preprocessor
    from dlxai.models.contracts import preprocessing_spec

    if fmt == "onnx":
        raw, name, _ = exporters.torch_onnx_mlp(COLUMNS)
        return raw, name, {"input_columns": COLUMNS}
    prep = Preprocessor(german.schema.numeric, german.schema.categorical).fit(german.X("train"))
    raw, name, _, _ = exporters.torchscript_mlp(prep)
    return raw, name, {"spec": {"preprocessing": preprocessing_spec(prep)}}


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_gradient_methods_run_in_the_worker_with_the_in_process_numbers(german, monkeypatch, fmt):
    """Saliency, IG, DeepLIFT, expected gradients and LRP on an upload run in its worker (nothing from the file is
    loaded or converted in this process) and give exactly what the in-process path gives on a trusted copy."""
    from dlxai.explain.attribution import attribute
    from dlxai.explain.registry import applicable_methods
    from dlxai.models.torch_mlp import torch_threads

    raw, name, kw = _gradient_upload(fmt, german)
    rows = german.X("test").head(40)
    options = {"expected_gradients": {"baselines": "samples", "reference": german.X("train"), "n_baseline_samples": 4},
               "integrated_gradients": {"n_steps": 16, "baselines": "mean", "reference": german.X("train")}}
    local = load_model(raw, name, sample=german.X("test"), isolate=False, **kw)
    methods = [m for m in GRADIENT_METHODS if m in applicable_methods(local)]
    assert {"saliency", "integrated_gradients", "deeplift", "expected_gradients"} <= set(methods)
    with torch_threads(1):  # the worker's thread count: the same reductions, the same bits
        expected = {m: attribute(local, rows, method=m, **options.get(m, {})) for m in methods}

    def refused(*a, **k):
        raise AssertionError("the uploaded model's code was loaded in the engine's process")

    monkeypatch.setattr(torch.jit, "load", refused)
    import onnx2torch

    monkeypatch.setattr(onnx2torch, "convert", refused)
    isolated = load_model(raw, name, sample=german.X("test"), **kw)
    try:
        assert isolated.estimator.module_ is None and isolated.estimator.gradient_worker is not None
        assert not isolated.gradients_unavailable
        assert [m for m in GRADIENT_METHODS if m in applicable_methods(isolated)] == methods
        seen = []
        for m in methods:
            got = attribute(isolated, rows, method=m, progress=seen.append, **options.get(m, {}))
            want = expected[m]
            np.testing.assert_array_equal(got.values, want.values, err_msg=m)
            np.testing.assert_array_equal(got.target, want.target)
            for attr in ("delta", "output_gap", "baselines"):
                a, b = getattr(got, attr), getattr(want, attr)
                assert (a is None) == (b is None), (m, attr)
                if a is not None:
                    np.testing.assert_array_equal(a, b, err_msg=f"{m} {attr}")
            assert got.params == want.params and got.feature_names == want.feature_names
            assert got.feature_groups == want.feature_groups
            np.testing.assert_array_equal(got.row_index, want.row_index)
        assert seen and seen[-1] == 1.0
    finally:
        isolated.close()
        local.close()


def test_a_gradient_method_past_its_time_limit_replaces_the_worker(german):
    """A network that answers the contract check and loops on a gradient method's many rows: the call ends with a
    clear error, the worker is replaced, and the model predicts again afterwards."""
    from dlxai.explain.attribution import attribute

    raw = scripted(HangsOnBigBatches(len(COLUMNS), limit=300))
    m = load_model(raw, "hangs.pt", input_columns=COLUMNS, sample=german.X("test"), time_budget_s=0.5)
    try:
        first = m.estimator.remote.worker.generation
        with pytest.raises(ModelTimeoutError, match="did not finish within"):
            attribute(m, german.X("test").head(20), method="integrated_gradients", n_steps=32, batch_size=4096)
        assert m.estimator.remote.worker._pid is None  # killed, not abandoned
        assert m.predict_proba(german.X("test").head(5)).shape == (5,)
        assert m.estimator.remote.worker.generation == first + 1
    finally:
        m.close()
