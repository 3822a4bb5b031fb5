"""Adapters: an uploaded network (ONNX, TorchScript) as a scikit-learn binary classifier, and the model it becomes.

A user's model may return probabilities or logits, one column or two; :func:`_to_proba` reads what it
returned (``output="auto"`` decides from the values, which :func:`dlxai.models.contracts.check_contract`
records as ``output_``) and gradient methods get the same network behind a two-logit head
(:func:`_logit_head`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from dlxai import errors
from dlxai.errors import UnsupportedModelError
from dlxai.models.base import AuditModel

if TYPE_CHECKING:
    from dlxai.models.contracts import ContractReport

OUTPUT_KINDS = ("auto", "probabilities", "logits")
MODEL_AGNOSTIC = "performance and fairness audits, SHAP KernelExplainer, surrogate trees, counterfactual search"


# --- output interpretation -------------------------------------------------------------------------
def resolve_output(out: np.ndarray, output: str) -> str:
    """``"probabilities"`` or ``"logits"``: the declared kind, or for ``"auto"`` what the values look like."""
    if output in ("probabilities", "logits"):
        return output
    in01 = bool(np.all((out >= 0) & (out <= 1)))
    if out.ndim == 2 and out.shape[1] == 2:
        return "probabilities" if in01 and np.allclose(out.sum(axis=1), 1.0, atol=1e-4) else "logits"
    return "probabilities" if in01 else "logits"


def _to_proba(out: np.ndarray, output: str) -> np.ndarray:
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    kind = resolve_output(out, output)
    if out.ndim == 1:
        p1 = out if kind == "probabilities" else 1.0 / (1.0 + np.exp(-out))
        return np.column_stack([1.0 - p1, p1])
    if out.ndim == 2 and out.shape[1] == 2:
        if kind == "probabilities":
            return out
        z = out - out.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    raise UnsupportedModelError(
        f"The model returned outputs of shape {out.shape}; dlxai audits binary classifiers returning (n, 2) or "
        "(n, 1)/(n,) logits or probabilities. Export the model with a binary head."
    )


def _logit_head(module, output: str):
    """Wrap a module so it returns two logits (what gradient methods expect), whatever it returned."""
    import torch
    import torch.nn as nn

    class LogitHead(nn.Module):
        def __init__(self, inner, output):
            super().__init__()
            self.inner = inner
            self.output = output

        def forward(self, x):
            out = self.inner(x)
            if isinstance(out, (tuple, list)):
                out = out[0]
            if out.dim() == 1:
                out = out.unsqueeze(1)
            if out.shape[1] == 1:
                z = out if self.output == "logits" else torch.logit(out.clamp(1e-7, 1 - 1e-7))
                return torch.cat([torch.zeros_like(z), z], dim=1)
            if self.output == "probabilities":
                return torch.log(out.clamp_min(1e-12))
            return out

    return LogitHead(module, output).eval()


class UploadedClassifier(ClassifierMixin, BaseEstimator):
    """Shared parts of the wrappers: classes [0, 1], output interpretation, raw forward."""

    classes_ = np.array([0, 1])
    output = "auto"

    @property
    def _head_output(self) -> str:
        """What the two-logit head reads: the checked kind, else the declared one (``auto``: logits)."""
        return getattr(self, "output_", "logits" if self.output == "auto" else self.output)

    def predict_proba(self, X) -> np.ndarray:
        return _to_proba(self.raw_output(X), getattr(self, "output_", self.output))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def decision_function(self, X) -> np.ndarray:
        p = np.clip(self.predict_proba(X)[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))


class OnnxClassifier(UploadedClassifier):
    """An ONNX model run by onnxruntime, on the preprocessed float matrix.  The session is rebuilt
    from the stored bytes on demand, so copies (``copy.deepcopy``) and pickling of the wrapper work."""

    def __init__(self, model_bytes: bytes = b"", output: str = "auto"):
        self.model_bytes = model_bytes
        self.output = output

    def _session(self):
        sess = self.__dict__.get("_sess")
        if sess is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            sess = ort.InferenceSession(self.model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
            self.__dict__["_sess"] = sess
        return sess

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_sess", None)
        return state

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        new.__dict__.update({k: copy.deepcopy(v, memo) for k, v in self.__getstate__().items()})
        return new

    @property
    def module_(self):
        """The onnx2torch conversion with a two-logit head (gradient methods), or None."""
        torch_ = self.__dict__.get("torch_")
        if torch_ is None:
            return None
        return _logit_head(torch_, self._head_output)

    @property
    def input_width(self) -> int | None:
        shape = self._session().get_inputs()[0].shape
        return shape[-1] if len(shape) == 2 and isinstance(shape[-1], int) else None

    def raw_output(self, X) -> np.ndarray:
        sess = self._session()
        inp = sess.get_inputs()[0]
        dtype = np.float64 if "double" in inp.type else np.float32
        X = np.asarray(X, dtype=dtype)
        outs = sess.run(None, {inp.name: X})
        metas = sess.get_outputs()
        best = None
        for meta, val in zip(metas, outs):
            if isinstance(val, list) and val and isinstance(val[0], dict):  # skl2onnx ZipMap
                keys = sorted(val[0])
                val = np.array([[d[k] for k in keys] for d in val], dtype=np.float64)
            val = np.asarray(val)
            if val.dtype.kind != "f":
                continue
            if best is None or "prob" in meta.name.lower():
                best = val
        if best is None:
            raise UnsupportedModelError(
                f"The ONNX model has no floating-point output (outputs: {[m.name for m in metas]}); dlxai needs "
                "scores or probabilities."
            )
        return best


class TorchModuleClassifier(UploadedClassifier):
    """A ``torch.nn.Module`` (TorchScript, or ONNX converted by onnx2torch) on the preprocessed matrix.
    ``module_`` is the module with a two-logit head, what gradient methods use."""

    def __init__(self, module=None, output: str = "auto", n_features_in: int | None = None):
        self.module = module
        self.output = output
        self.n_features_in = n_features_in

    @property
    def module_(self):
        return _logit_head(self.module, self._head_output)

    def raw_output(self, X) -> np.ndarray:
        import torch

        X = np.asarray(X, dtype=np.float32)
        outs = []
        with torch.no_grad():
            for i in range(0, max(len(X), 1), 65536):
                o = self.module(torch.from_numpy(np.ascontiguousarray(X[i:i + 65536])))
                if isinstance(o, (tuple, list)):
                    o = o[0]
                outs.append(o.detach().double().cpu().numpy())
        return np.concatenate(outs) if len(outs) > 1 else outs[0]


@dataclass(eq=False)
class UploadedModel(AuditModel):
    """An :class:`AuditModel` loaded from a file, with its format, contract check and what it supports."""

    format: str = ""
    sha256: str = ""
    conversion_error: str = ""
    contract: ContractReport | None = None
    warnings: tuple[str, ...] = ()

    def torch_module(self):
        if self.conversion_error:
            raise UnsupportedModelError(errors.MODEL_CONVERSION_FAILED.format(
                detail=self.conversion_error, available=MODEL_AGNOSTIC))
        return super().torch_module()

    @property
    def available_methods(self) -> tuple[str, ...]:
        base = ("performance", "fairness", "SHAP kernel", "surrogate", "counterfactuals")
        if getattr(self.estimator, "module_", None) is not None and not self.conversion_error:
            return ("gradient methods (saliency, integrated gradients, LRP)", *base)
        return base
