"""Export of a model trained in dlxai: safetensors weights + JSON spec, or ONNX on the preprocessed matrix.

Re-uploading either through :func:`dlxai.models.formats.load_model` gives the same predictions: the spec
carries the architecture and the preprocessing numbers (:func:`dlxai.models.contracts.preprocessing_spec`).
"""

from __future__ import annotations

import copy
import io
import json
import warnings

import numpy as np

from dlxai.errors import UnsupportedModelError
from dlxai.models.base import AuditModel
from dlxai.models.contracts import preprocessing_spec
from dlxai.models.spec import SPEC_FORMAT, SPEC_VERSION


def _architecture(model: AuditModel) -> tuple[dict, dict]:
    """``(architecture spec, state_dict)`` of dlxai's own mlp/logreg, or :class:`UnsupportedModelError`."""
    est = model.estimator
    if model.kind == "mlp" and hasattr(est, "module_") and hasattr(est, "hidden_layer_sizes"):
        sd = {k: v.detach().cpu().contiguous().clone() for k, v in est.module_.state_dict().items()}
        arch = {"kind": "mlp", "hidden_layer_sizes": [int(h) for h in est.hidden_layer_sizes],
                "dropout": float(est.dropout), "n_inputs": int(est.n_features_in_), "n_outputs": len(est.classes_)}
        return arch, sd
    if model.kind == "logreg" and hasattr(est, "coef_"):
        import torch

        if np.asarray(est.coef_).shape[0] != 1:
            raise UnsupportedModelError("Only binary logistic regressions can be exported.")
        sd = {"coef": torch.tensor(np.asarray(est.coef_, dtype=np.float64).reshape(-1)),
              "intercept": torch.tensor(np.asarray(est.intercept_, dtype=np.float64).reshape(1))}
        return {"kind": "logreg", "n_inputs": int(est.n_features_in_)}, sd
    raise UnsupportedModelError(
        f"{model.name} ({model.kind}) is not one of dlxai's own architectures (mlp, logreg), so it cannot be exported "
        "as safetensors + spec. Export only models trained in the app."
    )


def exportable(model: AuditModel) -> bool:
    """Whether :func:`export_safetensors` / :func:`export_onnx` can write ``model`` (dlxai's own mlp/logreg)."""
    try:
        _architecture(model)
    except UnsupportedModelError:
        return False
    return model.preprocessor is not None


def export_spec(model: AuditModel) -> dict:
    """The JSON spec that goes with the weights: architecture, preprocessing, output kind."""
    if model.preprocessor is None:
        raise UnsupportedModelError("The model has no preprocessing to export; dlxai models always have one.")
    arch, _ = _architecture(model)
    return {"format": SPEC_FORMAT, "version": SPEC_VERSION, "name": model.name, "dataset": model.dataset,
            "architecture": arch, "output": "logits",
            "classes": [0, 1], "feature_columns": list(model.feature_columns),
            "preprocessing": preprocessing_spec(model.preprocessor)}


def export_safetensors(model: AuditModel) -> tuple[bytes, bytes]:
    """``(weights.safetensors bytes, spec.json bytes)`` for a model trained in dlxai."""
    from safetensors.torch import save

    spec = export_spec(model)
    _, sd = _architecture(model)
    weights = save(sd, metadata={"format": SPEC_FORMAT, "kind": spec["architecture"]["kind"]})
    return weights, json.dumps(spec, indent=1).encode()


def export_onnx(model: AuditModel) -> bytes:
    """The network on the preprocessed matrix as ONNX (two logits out); pair it with :func:`export_spec`."""
    arch, sd = _architecture(model)
    if arch["kind"] == "logreg":
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        n = arch["n_inputs"]
        w = np.zeros((2, n), dtype=np.float32)
        w[1] = sd["coef"].numpy()
        b = np.array([0.0, float(sd["intercept"][0])], dtype=np.float32)
        graph = helper.make_graph(
            [helper.make_node("Gemm", ["input", "W", "B"], ["logits"], transB=1)], "dlxai_logreg",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
            [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        proto.ir_version = 8
        onnx.checker.check_model(proto)
        return proto.SerializeToString()
    import torch

    module = copy.deepcopy(model.estimator.module_).cpu().eval()
    dummy = torch.zeros(2, arch["n_inputs"], dtype=torch.float32)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (dummy,), buf, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    return buf.getvalue()
