"""Adapters: an uploaded network (ONNX, TorchScript) as a scikit-learn binary classifier, and the model it becomes.

A user's model may return probabilities or logits, one column or two; :func:`_to_proba` reads what it
returned (``output="auto"`` decides from the values, which :func:`dlxai.models.contracts.check_contract`
records as ``output_``).  An uploaded file predicts in its sandboxed worker (``remote``, a
:class:`~dlxai.models.remote.RemoteModel`); gradient methods get the network in this process (TorchScript
after vetting, ONNX as its onnx2torch conversion) behind a centred two-logit head (:func:`_logit_head`),
which explains the decision margin (:data:`EXPLAINS_MARGIN`).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from dlxai import errors
from dlxai.errors import UnsupportedModelError
from dlxai.models.base import AuditModel
from dlxai.models.remote import onnx_run, onnx_session, torch_forward

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


EXPLAINS_MARGIN = (
    "half the decision margin: class 1's score is +½ × the log-odds of the favourable outcome and class 0's is "
    "−½ × it, so accepted and rejected rows alike are explained (never the constant of a one-logit network)"
)


def _logit_head(module, output: str):
    """Wrap a module so it returns two centred logits ``[−m/2, m/2]`` (what gradient methods expect), where ``m`` is
    the log-odds of the favourable class: softmax gives the same probabilities as ``predict_proba``, and neither
    column is a constant (``[0, logit]`` made every rejected row's explanation all zeros)."""
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
                margin = out if self.output == "logits" else torch.logit(out.clamp(1e-7, 1 - 1e-7))
            else:
                z = torch.log(out.clamp_min(1e-12)) if self.output == "probabilities" else out
                margin = z[:, 1:2] - z[:, 0:1]
            half = 0.5 * margin
            return torch.cat([-half, half], dim=1)

    return LogitHead(module, output).eval()


def _frozen(module):
    """Parameters that are leaves without gradients: a deep copy of a loaded TorchScript module otherwise clones
    them with autograd history, and attribution cannot switch their gradients off ("only leaf variables")."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


NOT_REFITTABLE = (
    "An uploaded network ({kind}) cannot be trained again: dlxai has its file, not how it was trained. Mitigations "
    "that retrain (reductions, reweighing, correlation remover, penalised training) need a model trained in dlxai or "
    "a scikit-learn model (skops) that can be cloned and refitted; the threshold optimizer (post-processing) works "
    "on any model."
)


class UploadedClassifier(ClassifierMixin, BaseEstimator):
    """Shared parts of the wrappers: classes [0, 1], output interpretation, raw forward."""

    classes_ = np.array([0, 1])
    output = "auto"
    explains = EXPLAINS_MARGIN
    file_kind = "a model file"  # what the user uploaded, in their words

    @property
    def _head_output(self) -> str:
        """What the two-logit head reads: the checked kind, else the declared one (``auto``: logits)."""
        return getattr(self, "output_", "logits" if self.output == "auto" else self.output)

    @property
    def gradient_worker(self):
        """The :class:`~dlxai.models.remote.RemoteModel` that runs gradient methods on this upload in its worker
        (then ``module_`` is None: no code from the file runs in this process), or None."""
        return self.remote

    def raw_output(self, X, timeout_s: float | None = None) -> np.ndarray:
        raise NotImplementedError

    @property
    def refit_unavailable(self) -> str:
        """Why a clone of this model cannot be refitted ('' when it can): what mitigation asks before it offers a
        method that retrains."""
        return NOT_REFITTABLE.format(kind=self.file_kind)

    def fit(self, X=None, y=None, **fit_params):
        """An uploaded model is fitted already and cannot be refitted (it is a file, not a recipe).  The method
        exists because scikit-learn and fairlearn take "has fit" to mean "is an estimator" (post-processing)."""
        raise UnsupportedModelError(self.refit_unavailable)

    def predict_proba(self, X) -> np.ndarray:
        return _to_proba(self.raw_output(X), getattr(self, "output_", self.output))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def decision_function(self, X) -> np.ndarray:
        p = np.clip(self.predict_proba(X)[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))


ONNX_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
              "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": object,
              "tensor(float16)": np.float16}


def onnx_feed(values, name: str, onnx_type: str, shape) -> np.ndarray:
    """One column as the array an ONNX input of ``onnx_type`` takes (strings as str objects, missing as "")."""
    import pandas as pd

    dtype = ONNX_TYPES.get(onnx_type)
    if dtype is None:
        raise UnsupportedModelError(f"The ONNX input {name!r} has type {onnx_type}, which dlxai cannot feed; it "
                                    f"feeds {sorted(ONNX_TYPES)}.")
    s = pd.Series(values)
    if dtype is object:
        arr = s.astype(object).where(s.notna(), "").astype(str).to_numpy(dtype=object)
    elif np.issubdtype(dtype, np.integer):
        arr = np.rint(pd.to_numeric(s).to_numpy(dtype=np.float64)).astype(dtype)
    else:
        arr = pd.to_numeric(s).to_numpy(dtype=np.float64).astype(dtype)
    return arr.reshape(-1, 1) if len(shape) == 2 else arr


class OnnxClassifier(UploadedClassifier):
    """An ONNX model run by onnxruntime: in its sandboxed worker (``remote``), or in this process for a file the
    caller trusts.  Takes the preprocessed float matrix (one input), or a DataFrame fed to the inputs by name
    (one input per column, as skl2onnx writes a pipeline).  The session is rebuilt from the stored bytes on
    demand, so copies (``copy.deepcopy``) and pickling of the wrapper work."""

    file_kind = "ONNX"

    def __init__(self, model_bytes: bytes = b"", output: str = "auto", remote=None, inputs=()):
        self.model_bytes = model_bytes
        self.output = output
        self.remote = remote
        self.inputs = inputs  # (name, type, shape) per graph input

    def _session(self):
        sess = self.__dict__.get("_sess")
        if sess is None:
            sess = onnx_session(self.model_bytes)
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
        if len(self.inputs) != 1:
            return None
        shape = self.inputs[0][2]
        return shape[-1] if len(shape) == 2 and isinstance(shape[-1], int) else None

    def feeds(self, X):
        """A DataFrame -> one array per named input; a matrix stays the single input's array."""
        import pandas as pd

        if not isinstance(X, pd.DataFrame):
            return np.asarray(X)
        return {name: onnx_feed(X[name], name, kind, shape) for name, kind, shape in self.inputs}

    def raw_output(self, X, timeout_s: float | None = None) -> np.ndarray:
        feeds = self.feeds(X)
        if self.remote is not None:
            return self.remote.predict(feeds, timeout_s)
        return onnx_run(self._session(), feeds)


class TorchModuleClassifier(UploadedClassifier):
    """A ``torch.nn.Module`` on the preprocessed matrix.  Uploaded TorchScript predicts in its sandboxed worker
    (``remote``); gradient methods use ``module_``, the module loaded in this process after vetting (``source``,
    loaded on first use) behind the two-logit head."""

    file_kind = "TorchScript"

    def __init__(self, module=None, output: str = "auto", n_features_in: int | None = None, source: bytes = b"",
                 remote=None):
        self.module = module
        self.output = output
        self.n_features_in = n_features_in
        self.source = source
        self.remote = remote

    def _inner(self):
        if self.module is not None:
            return self.module
        loaded = self.__dict__.get("_loaded")
        if loaded is None:
            import torch

            loaded = _frozen(torch.jit.load(io.BytesIO(self.source), map_location="cpu").eval())
            self.__dict__["_loaded"] = loaded
        return loaded

    @property
    def module_(self):
        if self.module is None and self.remote is not None:
            return None  # an upload: gradient methods run in its worker (gradient_worker)
        return _logit_head(self._inner(), self._head_output)

    def raw_output(self, X, timeout_s: float | None = None) -> np.ndarray:
        if self.remote is not None:
            return self.remote.predict(np.asarray(X, dtype=np.float32), timeout_s)
        return torch_forward(self._inner(), X)


RAW_NO_GRADIENTS = (
    "gradient methods (saliency, integrated gradients, expected gradients, DeepLIFT, LRP) are not offered: this "
    "model takes the raw columns and encodes them itself (categories as text, through its own encoders), so no "
    "numeric input exists for a gradient to flow to. Use SHAP kernel over the raw columns, counterfactual search "
    "or a surrogate tree"
)
NOT_A_NETWORK = "gradient methods need a PyTorch network; this model is a {kind}"
IN_WORKER_ONLY = (
    "{name} runs only in its sandboxed worker process (an uploaded file), where gradient attributions are computed; "
    "this step needs the network in the engine's process. Use a model-agnostic method (random or genetic "
    "counterfactual search, SHAP kernel, surrogate tree), or load a copy you trust with isolate=False."
)


@dataclass(eq=False)
class UploadedModel(AuditModel):
    """An :class:`AuditModel` loaded from a file, with its format, contract check and what it supports.

    For a raw-columns contract, :meth:`predict_proba` gives the model the data's own columns (its pipeline or
    graph imputes and encodes them), so predictions equal the exporter's; explanations and counterfactuals
    go through the contract's matrix (one column per raw column).
    """

    format: str = ""
    sha256: str = ""
    conversion_error: str = ""
    contract: ContractReport | None = None
    warnings: tuple[str, ...] = ()
    n_parameters: int | None = None

    @property
    def contract_kind(self) -> str:
        """``raw`` (the table itself), ``standard`` (a dlxai preprocessing spec) or ``columns`` (declared)."""
        return getattr(self.preprocessor, "contract_kind", "")

    @property
    def gradients_unavailable(self) -> str:
        """Why gradient methods do not apply to this model ('' when they do)."""
        if self.contract_kind == "raw":
            return RAW_NO_GRADIENTS
        if self.conversion_error:
            return errors.MODEL_CONVERSION_FAILED.format(detail=self.conversion_error, available=MODEL_AGNOSTIC)
        est = self.estimator
        if getattr(est, "module_", None) is None and getattr(est, "gradient_worker", None) is None:
            return NOT_A_NETWORK.format(kind=type(est).__name__)
        return ""

    def torch_module(self):
        why = self.gradients_unavailable
        if why:
            raise UnsupportedModelError(why if why.endswith(".") else f"{why[0].upper()}{why[1:]}.")
        if getattr(self.estimator, "module_", None) is None:
            raise UnsupportedModelError(IN_WORKER_ONLY.format(name=self.name))
        return super().torch_module()

    @property
    def available_methods(self) -> tuple[str, ...]:
        base = ("performance", "fairness", "SHAP kernel", "surrogate", "counterfactuals")
        if not self.gradients_unavailable:
            return ("gradient methods (saliency, integrated gradients, expected gradients, LRP)", *base)
        return base

    @property
    def explains(self) -> str:
        """Which output gradient methods explain ('' when they do not apply)."""
        return getattr(self.estimator, "explains", "") if not self.gradients_unavailable else ""

    def predict_proba(self, X) -> np.ndarray:
        frame = getattr(self.preprocessor, "frame", None)
        if frame is None:
            return super().predict_proba(X)
        p = np.asarray(self.estimator.predict_proba(frame(X)), dtype=np.float64)
        return p[:, 1]

    @property
    def parameter_count(self) -> int:
        return int(self.n_parameters) if self.n_parameters is not None else super().parameter_count

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over the file, the contract and the settings (no need to load a worker's model to hash it)."""
        from dlxai.models.contracts import preprocessing_spec

        h = hashlib.sha256(f"{self.kind}|{self.name}|{sorted(self.params.items())!r}|{self.sha256}".encode())
        if self.preprocessor is not None:
            h.update(json.dumps(preprocessing_spec(self.preprocessor), sort_keys=True, default=str).encode())
        return h.hexdigest()

    def close(self) -> None:
        """Stop the model's worker process (if it has one); a later prediction starts and loads a fresh one."""
        for est in (self.estimator, getattr(self.estimator, "inner", None)):
            remote = getattr(est, "remote", None)
            if remote is not None:
                remote.close()
