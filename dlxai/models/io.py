"""Safe model loading and export.

Formats read by default (none of them runs arbitrary Python):

* **ONNX** -> :class:`OnnxClassifier` (onnxruntime); converted with onnx2torch for gradient
  methods, and when that fails the model says which methods remain.
* **TorchScript** (``torch.jit.save``) -> :class:`TorchModuleClassifier`.
* **safetensors** (or a ``torch.save`` state_dict read with ``weights_only=True``) for dlxai's own
  architectures, with the JSON spec that :func:`export_spec` writes.
* **skops** for scikit-learn, only with the untrusted types the user confirmed (``trusted=[...]``).
* **predictions only**: :func:`load_predictions` -> :class:`PredictionsOnly` (a fairness audit
  without a model).

Pickle/joblib is refused (:data:`dlxai.errors.MODEL_PICKLE_REFUSED`) unless the operator sets
``DLXAI_ALLOW_PICKLE=1``.  Every loaded model carries an *input contract* (a preprocessing spec,
or named numeric columns in order) and :func:`check_contract` runs it on a sample — shapes,
NaN, time budget — before anything else does.
"""

from __future__ import annotations

import concurrent.futures
import copy
import hashlib
import io
import json
import os
import time
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from dlxai import errors
from dlxai.data.jsonsafe import load_json
from dlxai.errors import DlxaiError, UnsupportedModelError, UserInputError
from dlxai.models.base import AuditModel

SPEC_FORMAT = "dlxai-model-spec"
SPEC_VERSION = 1
PICKLE_ENV = "DLXAI_ALLOW_PICKLE"
PICKLE_EXTENSIONS = (".pkl", ".pickle", ".joblib", ".jbl", ".sav", ".dill", ".cloudpickle")
OUTPUT_KINDS = ("auto", "probabilities", "logits")
DEFAULT_TIME_BUDGET_S = 10.0
CONTRACT_SAMPLE_ROWS = 256
MODEL_AGNOSTIC = "performance and fairness audits, SHAP KernelExplainer, surrogate trees, counterfactual search"


class UntrustedTypesError(UserInputError):
    """A skops file needs types the user has not confirmed; ``types`` lists them for the UI."""

    def __init__(self, message: str, types: list[str]):
        super().__init__(message)
        self.types = list(types)


def pickle_allowed() -> bool:
    return os.environ.get(PICKLE_ENV, "").strip() == "1"


# --- input contracts (preprocessing without fitting) -----------------------------------------------
def _check_columns(X, columns) -> None:
    """A DataFrame holding every column the model's contract names, or a UserInputError naming the first missing."""
    if not isinstance(X, pd.DataFrame):
        raise UserInputError(f"transform needs a DataFrame with named columns; received {type(X).__name__}.")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise UserInputError(errors.UNKNOWN_COLUMN.format(column=missing[0], available=list(X.columns)))


class ColumnsPreprocessor(TransformerMixin, BaseEstimator):
    """The contract "the model takes these numeric columns, in this order", as a preprocessor."""

    def __init__(self, columns=()):
        self.columns = columns

    def fit(self, X=None, y=None):
        cols = [str(c) for c in self.columns]
        if not cols:
            raise UserInputError(errors.MODEL_NO_INPUT_CONTRACT)
        if len(set(cols)) != len(cols):
            raise UserInputError(f"The input columns repeat a name: {cols}. List each column once, in the model's order.")
        self.columns_ = tuple(cols)
        self.numeric, self.categorical = tuple(cols), ()
        self.feature_names_out_ = tuple(cols)
        self.feature_groups_ = {c: (i,) for i, c in enumerate(cols)}
        self.n_features_out_ = len(cols)
        # the preprocessor protocol: raw numbers pass through unchanged (no imputation: missing values are refused)
        self.medians_ = np.zeros(len(cols))
        self.means_ = np.zeros(len(cols))
        self.scales_ = np.ones(len(cols))
        self.categories_ = []
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        _check_columns(X, self.columns_)
        out = np.empty((len(X), len(self.columns_)), dtype=np.float32)
        for i, c in enumerate(self.columns_):
            col = X[c]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                raise UserInputError(
                    f"The model takes column {c!r} as a number, but it holds text such as "
                    f"{list(col.dropna().astype(str).unique()[:3])}. Upload the model's preprocessing spec instead, "
                    "or declare only numeric columns."
                )
            v = col.to_numpy(np.float32, na_value=np.nan)
            if np.isnan(v).any():
                raise UserInputError(
                    f"Column {c!r} has {int(np.isnan(v).sum())} missing values, and the model takes raw numbers. "
                    "Fill them, or upload a preprocessing spec that imputes them."
                )
            out[:, i] = v
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_out_, dtype=object)

    def to_spec(self) -> dict:
        return {"kind": "columns", "columns": list(self.columns_)}


class SpecPreprocessor(TransformerMixin, BaseEstimator):
    """dlxai's :class:`~dlxai.data.preprocess.Preprocessor` rebuilt from its exported numbers
    (medians, means, scales, categories): the same float32 matrix without refitting."""

    def __init__(self, spec=None):
        self.spec = spec

    def fit(self, X=None, y=None):
        s = self.spec or {}
        try:
            self.numeric = tuple(map(str, s["numeric"]))
            self.categorical = tuple(map(str, s["categorical"]))
            self.medians_ = np.asarray(s["medians"], dtype=np.float64)
            self.means_ = np.asarray(s["means"], dtype=np.float64)
            self.scales_ = np.asarray(s["scales"], dtype=np.float64)
            self.categories_ = [list(map(str, c)) for c in s["categories"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"preprocessing: {exc!r}")) from exc
        n = len(self.numeric)
        if not (len(self.medians_) == len(self.means_) == len(self.scales_) == n) or len(self.categories_) != len(self.categorical):
            raise UserInputError(errors.MODEL_SPEC_INVALID.format(
                detail=f"preprocessing lists {n} numeric columns but {len(self.medians_)} medians, {len(self.means_)} "
                       f"means, {len(self.scales_)} scales; {len(self.categorical)} categorical columns but "
                       f"{len(self.categories_)} category lists"))
        if not (np.isfinite(self.medians_).all() and np.isfinite(self.means_).all() and (self.scales_ > 0).all()):
            raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail="medians/means must be finite and scales > 0"))
        self.columns_ = self.numeric + self.categorical
        names = list(self.numeric) + [f"{c}_{v}" for c, cats in zip(self.categorical, self.categories_) for v in cats]
        self.feature_names_out_ = tuple(s.get("feature_names_out") or names)
        groups, i = {}, 0
        for c in self.numeric:
            groups[c] = (i,)
            i += 1
        for c, cats in zip(self.categorical, self.categories_):
            groups[c] = tuple(range(i, i + len(cats)))
            i += len(cats)
        self.feature_groups_ = groups
        self.n_features_out_ = i
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        _check_columns(X, self.columns_)
        parts = []
        if self.numeric:
            num = np.empty((len(X), len(self.numeric)), dtype=np.float64)
            for i, c in enumerate(self.numeric):
                col = X[c]
                if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                    raise UserInputError(f"Column {c!r} must be numeric for this model; it holds text such as "
                                         f"{list(col.dropna().astype(str).unique()[:3])}.")
                num[:, i] = col.to_numpy(np.float64, na_value=np.nan)
            num = np.where(np.isnan(num), self.medians_, num)
            num -= self.means_
            num /= self.scales_
            parts.append(num)
        for c, cats in zip(self.categorical, self.categories_):
            values = X[c].astype(object).where(X[c].notna(), "missing").astype(str)
            codes = pd.Index(cats).get_indexer(values)  # -1 for a level unseen in training
            oh = np.zeros((len(X), len(cats)), dtype=np.float64)
            known = codes >= 0
            oh[np.nonzero(known)[0], codes[known]] = 1.0
            parts.append(oh)
        out = np.hstack(parts) if parts else np.zeros((len(X), 0))
        return np.ascontiguousarray(out, dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_out_, dtype=object)

    def to_spec(self) -> dict:
        return {"kind": "standard", **{k: v for k, v in (self.spec or {}).items() if k != "kind"}}


def preprocessing_spec(prep) -> dict:
    """The JSON-able numbers behind a fitted preprocessor (dlxai's own, or a contract from this module)."""
    if hasattr(prep, "to_spec"):
        return prep.to_spec()
    if not hasattr(prep, "medians_"):
        raise UnsupportedModelError("The model's preprocessing is not fitted, so it cannot be exported.")
    return {"kind": "standard", "numeric": list(prep.numeric), "categorical": list(prep.categorical),
            "medians": prep.medians_.tolist(), "means": prep.means_.tolist(), "scales": prep.scales_.tolist(),
            "categories": [list(c) for c in prep.categories_], "feature_names_out": list(prep.feature_names_out_)}


def preprocessor_from_spec(spec: dict):
    if not isinstance(spec, dict):
        raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"preprocessing must be an object, got {type(spec).__name__}"))
    kind = spec.get("kind")
    if kind == "columns":
        return ColumnsPreprocessor(list(spec.get("columns") or [])).fit()
    if kind == "standard":
        return SpecPreprocessor(spec).fit()
    raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"preprocessing kind {kind!r} (use 'standard' or 'columns')"))


# --- output interpretation -------------------------------------------------------------------------
def _resolve_output(out: np.ndarray, output: str) -> str:
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
    kind = _resolve_output(out, output)
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


class _Uploaded(ClassifierMixin, BaseEstimator):
    """Shared parts of the wrappers: classes [0, 1], output interpretation, raw forward."""

    classes_ = np.array([0, 1])
    output = "auto"

    def predict_proba(self, X) -> np.ndarray:
        return _to_proba(self.raw_output(X), getattr(self, "output_", self.output))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def decision_function(self, X) -> np.ndarray:
        p = np.clip(self.predict_proba(X)[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))


class OnnxClassifier(_Uploaded):
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
        return _logit_head(torch_, getattr(self, "output_", "logits" if self.output == "auto" else self.output))

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


class TorchModuleClassifier(_Uploaded):
    """A ``torch.nn.Module`` (TorchScript, or ONNX converted by onnx2torch) on the preprocessed matrix.
    ``module_`` is the module with a two-logit head, what gradient methods use."""

    def __init__(self, module=None, output: str = "auto", n_features_in: int | None = None):
        self.module = module
        self.output = output
        self.n_features_in = n_features_in

    @property
    def module_(self):
        return _logit_head(self.module, getattr(self, "output_", "logits" if self.output == "auto" else self.output))

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


# --- the loaded model -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContractReport:
    """What the input-contract check saw on a sample of rows."""

    ok: bool
    n_rows: int
    n_inputs: int | None
    output_shape: tuple
    output_kind: str
    seconds: float
    time_budget_s: float
    problems: tuple[str, ...] = ()


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


# --- format detection --------------------------------------------------------------------------------
def _is_pickle(raw: bytes, name: str) -> bool:
    if name.lower().endswith(PICKLE_EXTENSIONS):
        return True
    if len(raw) >= 2 and raw[0] == 0x80 and raw[1] in (2, 3, 4, 5):
        return True
    return raw[:2] in (b"x\x9c", b"x\xda", b"x\x01") and name.lower().endswith((".pt", ".pth", ".bin", ".model"))


def detect_format(data, name: str = "model") -> str:
    """``onnx | torchscript | torch_state_dict | safetensors | skops | pickle`` from the bytes (not the name)."""
    raw = _bytes(data)
    if not raw:
        raise UserInputError(f"The model file {name!r} is empty. Upload the exported model file.")
    if _is_pickle(raw, name):
        return "pickle"
    if raw.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise UserInputError(errors.MODEL_UNKNOWN_FORMAT.format(name=name, head=raw[:8])) from exc
        if "schema.json" in names:
            return "skops"
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("data.pkl") for n in names):
            return "torch_state_dict"
        raise UserInputError(errors.MODEL_UNKNOWN_FORMAT.format(name=name, head=raw[:8]))
    if len(raw) > 10:
        n = int.from_bytes(raw[:8], "little")
        if 2 <= n <= len(raw) - 8 and raw[8:9] == b"{":
            return "safetensors"
    return "onnx"  # protobuf has no magic; parsing decides (and says "claims to be ONNX and is not")


def _bytes(data) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "getvalue"):
        return bytes(data.getvalue())
    if isinstance(data, (str, os.PathLike)) and os.path.exists(data):
        with open(data, "rb") as fh:
            return fh.read()
    raise UserInputError(f"Expected the model file's bytes; received {type(data).__name__}.")


def parse_spec(spec) -> dict:
    """A spec given as dict, JSON text or JSON bytes, validated."""
    if spec is None:
        return {}
    if isinstance(spec, (bytes, bytearray, str)):
        try:
            spec = load_json(spec, what="the spec")
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"not JSON ({exc})")) from exc
    if not isinstance(spec, dict):
        raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"expected a JSON object, got {type(spec).__name__}"))
    if spec.get("format", SPEC_FORMAT) != SPEC_FORMAT:
        raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"format {spec.get('format')!r} is not {SPEC_FORMAT!r}"))
    return spec


# --- loaders ----------------------------------------------------------------------------------------
def skops_untrusted_types(data) -> list[str]:
    """The types a skops file would load that skops does not trust by default (show these to the user)."""
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(data=_bytes(data)))
    except Exception as exc:  # noqa: BLE001 - skops raises many kinds on a malformed file
        raise UserInputError(f"The file is not a readable skops archive ({type(exc).__name__}: {exc}). "
                             "Save the model again with skops.io.dump.") from exc


def _load_onnx(raw: bytes, name: str, output: str):
    import onnx

    try:
        proto = onnx.load_from_string(raw)
        onnx.checker.check_model(proto)
        if not proto.graph.node or not proto.graph.input:
            raise ValueError("the graph has no nodes or no inputs")
    except Exception as exc:  # noqa: BLE001 - protobuf/onnx raise assorted errors on garbage
        raise UserInputError(errors.MODEL_NOT_ONNX.format(name=name, detail=f"{type(exc).__name__}: {str(exc)[:200]}")) from exc
    est = OnnxClassifier(raw, output)
    try:
        est._session()
    except Exception as exc:  # noqa: BLE001 - onnxruntime's errors are not one class
        raise UserInputError(errors.MODEL_NOT_ONNX.format(name=name, detail=f"onnxruntime cannot run it: {str(exc)[:300]}")) from exc
    conversion_error = ""
    try:
        import warnings

        from onnx2torch import convert

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = convert(proto).eval()
        est.torch_ = module
    except Exception as exc:  # noqa: BLE001 - any failure only means: no gradient methods
        conversion_error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return est, conversion_error


def _load_torchscript(raw: bytes, name: str, output: str):
    import torch

    try:
        module = torch.jit.load(io.BytesIO(raw), map_location="cpu").eval()
    except Exception as exc:  # noqa: BLE001
        raise UserInputError(f"{name!r} looks like TorchScript but cannot be loaded ({type(exc).__name__}: "
                             f"{str(exc)[:200]}). Save it with torch.jit.script(model).save(path).") from exc
    return TorchModuleClassifier(module, output)


def _state_dict_from(raw: bytes, fmt: str, name: str) -> dict:
    if fmt == "safetensors":
        from safetensors.torch import load as st_load

        try:
            return st_load(raw)
        except Exception as exc:  # noqa: BLE001
            raise UserInputError(f"{name!r} is not a readable safetensors file ({exc}).") from exc
    import pickle

    import torch

    try:
        sd = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, ValueError, EOFError) as exc:
        raise UserInputError(errors.MODEL_PICKLE_REFUSED.format(name=name) + f" (weights-only load refused: {str(exc)[:160]})") from exc
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise UserInputError(f"{name!r} holds a {type(sd).__name__}, not a state_dict of tensors. Save model.state_dict().")
    return sd


def _own_architecture(sd: dict, spec: dict, name: str):
    arch = spec.get("architecture")
    if not isinstance(arch, dict):
        raise UserInputError(errors.MODEL_SPEC_INVALID.format(
            detail="weights need the spec's 'architecture' (kind + hyperparameters); upload the JSON that came with them"))
    kind = arch.get("kind")
    try:
        n_in = int(arch["n_inputs"])
        if kind == "mlp":
            import torch

            from dlxai.models.torch_mlp import TorchMLPClassifier, build_mlp

            hidden = tuple(int(h) for h in arch.get("hidden_layer_sizes", ()))
            dropout = float(arch.get("dropout", 0.0))
            module = build_mlp(n_in, hidden, int(arch.get("n_outputs", 2)), dropout)
            module.load_state_dict({k: torch.as_tensor(v) for k, v in sd.items()}, strict=True)
            module.eval()
            est = TorchMLPClassifier(hidden_layer_sizes=hidden, dropout=dropout, device="cpu")
            est.module_, est.classes_, est.n_features_in_ = module, np.array([0, 1]), n_in
            est.device_, est.history_, est.best_epoch_, est.fit_seconds_ = "cpu", [], 0, 0.0
            return est, "mlp"
        if kind == "logreg":
            from sklearn.linear_model import LogisticRegression

            est = LogisticRegression()
            est.coef_ = np.asarray(sd["coef"], dtype=np.float64).reshape(1, n_in)
            est.intercept_ = np.asarray(sd["intercept"], dtype=np.float64).reshape(1)
            est.classes_, est.n_features_in_ = np.array([0, 1]), n_in
            est.n_iter_ = np.array([0])
            return est, "logreg"
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise UserInputError(errors.MODEL_SPEC_INVALID.format(
            detail=f"the weights do not match the architecture {arch} ({str(exc)[:300]})")) from exc
    raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"architecture kind {kind!r} (use 'mlp' or 'logreg')"))


def _load_skops(raw: bytes, name: str, trusted):
    import skops.io as sio

    untrusted = skops_untrusted_types(raw)
    confirmed = set(trusted or [])
    pending = [t for t in untrusted if t not in confirmed]
    if pending:
        raise UntrustedTypesError(errors.MODEL_UNTRUSTED_TYPES.format(name=name, types=pending), pending)
    try:
        est = sio.loads(raw, trusted=[t for t in untrusted])
    except Exception as exc:  # noqa: BLE001
        raise UserInputError(f"The skops file {name!r} could not be loaded ({type(exc).__name__}: {str(exc)[:200]}).") from exc
    if not hasattr(est, "predict_proba"):
        raise UnsupportedModelError(f"The skops model {type(est).__name__} has no predict_proba; dlxai audits "
                                    "probabilistic classifiers. Wrap it (e.g. CalibratedClassifierCV) and export again.")
    return est


def _load_pickle(raw: bytes, name: str):
    if not pickle_allowed():
        raise UserInputError(errors.MODEL_PICKLE_REFUSED.format(name=name))
    import joblib  # only reached when the operator opted in for single-user local use

    try:
        return joblib.load(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001
        raise UserInputError(f"{name!r} could not be unpickled ({type(exc).__name__}: {exc}).") from exc


def load_model(
    data,
    name: str = "model",
    *,
    spec=None,
    input_columns=None,
    trusted=None,
    output: str = "auto",
    sample: pd.DataFrame | None = None,
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    dataset_name: str = "",
) -> UploadedModel:
    """Load a model file safely, attach its input contract and (given ``sample`` rows) check it.

    The contract is the spec's ``preprocessing`` or ``input_columns`` (numeric columns in the
    model's order).  Raises :class:`UserInputError` / :class:`UnsupportedModelError` only.
    """
    if output not in OUTPUT_KINDS:
        raise UserInputError(f"output must be one of {OUTPUT_KINDS}; received {output!r}.")
    raw = _bytes(data)
    spec = parse_spec(spec)
    fmt = detect_format(raw, name)
    if fmt == "pickle":
        est_or_none = _load_pickle(raw, name)
    if spec.get("preprocessing") is not None:
        prep = preprocessor_from_spec(spec["preprocessing"])
    elif input_columns:
        prep = ColumnsPreprocessor(list(input_columns)).fit()
    else:
        raise UserInputError(errors.MODEL_NO_INPUT_CONTRACT)
    if spec.get("output") in ("probabilities", "logits") and output == "auto":
        output = spec["output"]
    conversion_error, kind, warn = "", fmt, ()
    if fmt == "onnx":
        est, conversion_error = _load_onnx(raw, name, output)
    elif fmt == "torchscript":
        est = _load_torchscript(raw, name, output)
    elif fmt in ("safetensors", "torch_state_dict"):
        est, kind = _own_architecture(_state_dict_from(raw, fmt, name), spec, name)
    elif fmt == "skops":
        est = _load_skops(raw, name, trusted)
    else:
        est = est_or_none
        warn = ("Loaded from a pickle because DLXAI_ALLOW_PICKLE=1: only do this with files you created yourself.",)
        if not hasattr(est, "predict_proba"):
            raise UnsupportedModelError(f"The unpickled object {type(est).__name__} has no predict_proba.")
    digest = hashlib.sha256(raw).hexdigest()
    model = UploadedModel(
        estimator=est, preprocessor=prep, kind=kind, name=f"{name} (uploaded {fmt})",
        feature_columns=tuple(prep.columns_), params={"format": fmt, "file": name, "sha256": digest[:16], "output": output},
        source=f"uploaded {fmt} file {name}", dataset=dataset_name, format=fmt, sha256=digest,
        conversion_error=conversion_error, warnings=warn,
    )
    if sample is not None:
        model.contract = check_contract(model, sample, time_budget_s=time_budget_s)
    return model


# --- the input contract -------------------------------------------------------------------------------
def _short(exc: BaseException, limit: int = 300) -> str:
    """One readable line for a user's model error (TorchScript prepends its interpreter traceback)."""
    text = str(exc)
    if "Traceback of TorchScript" in text or "The following operation failed" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        text = lines[-1] if lines else text
    return f"{type(exc).__name__}: {text[:limit]}"


def _call_with_budget(fn, budget: float):
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    start = time.perf_counter()
    fut = pool.submit(fn)
    try:
        return fut.result(timeout=budget), time.perf_counter() - start
    except concurrent.futures.TimeoutError:
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def check_contract(model: AuditModel, sample: pd.DataFrame, *, time_budget_s: float = DEFAULT_TIME_BUDGET_S,
                   raise_on_problem: bool = True) -> ContractReport:
    """Run ``model`` on up to 256 ``sample`` rows and check input width, output shape, NaN and speed.

    Every mismatch is collected and (by default) raised together as one
    :class:`UnsupportedModelError` before any other engine call sees the model.
    """
    if not isinstance(sample, pd.DataFrame) or len(sample) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the sample for the model check"))
    if not (isinstance(time_budget_s, (int, float)) and time_budget_s > 0):
        raise UserInputError(f"time_budget_s must be a positive number of seconds; received {time_budget_s!r}.")
    rows = sample.head(CONTRACT_SAMPLE_ROWS)
    problems: list[str] = []
    est = model.estimator
    n_inputs, shape, kind, seconds = None, (), "", 0.0

    missing = [c for c in model.feature_columns if c not in rows.columns]
    if missing:
        problems.append(f"the data lacks the input columns {missing[:10]} (it has {list(rows.columns)[:15]})")
        X = None
    else:
        try:
            X = model.transform(rows)
            n_inputs = int(X.shape[1])
        except DlxaiError as exc:
            problems.append(f"preparing the input failed: {exc}")
            X = None
    if X is not None:
        expected = None
        if isinstance(est, OnnxClassifier):
            expected = est.input_width
        elif getattr(est, "n_features_in_", None) is not None:
            expected = int(est.n_features_in_)
        if expected is not None and expected != X.shape[1]:
            problems.append(f"the model expects {expected} input columns, but the input contract gives {X.shape[1]}")
        else:
            runner = getattr(est, "raw_output", None) or est.predict_proba
            try:
                out, seconds = _call_with_budget(lambda: np.asarray(runner(X)), float(time_budget_s))
            except concurrent.futures.TimeoutError:
                seconds = float(time_budget_s)
                problems.append(f"the model took longer than the time budget of {time_budget_s:g} s on {len(X)} rows")
                out = None
            except Exception as exc:  # noqa: BLE001 - the user's model may raise anything
                problems.append(f"the model raised on {len(X)} sample rows: {_short(exc)}")
                out = None
            if out is not None:
                shape = tuple(out.shape)
                if out.dtype.kind not in "fiub":
                    problems.append(f"the model returned {out.dtype} values, not numbers")
                elif out.ndim == 0 or out.shape[0] != len(X):
                    problems.append(f"the model returned {shape[0] if shape else 'a scalar'} outputs for {len(X)} rows")
                elif not (out.ndim == 1 or (out.ndim == 2 and out.shape[1] in (1, 2))):
                    problems.append(f"the output shape is {shape}; expected (n, 2), (n, 1) or (n,) logits/probabilities")
                elif not np.isfinite(out.astype(np.float64)).all():
                    bad = int((~np.isfinite(out.astype(np.float64))).any(axis=-1).sum()) if out.ndim == 2 else int(
                        (~np.isfinite(out.astype(np.float64))).sum())
                    problems.append(f"the model returned NaN or infinite values for {bad} of {len(X)} sample rows")
                else:
                    flat = out.astype(np.float64)
                    flat = flat[:, 0] if flat.ndim == 2 and flat.shape[1] == 1 else flat
                    requested = getattr(est, "output", "probabilities")
                    kind = _resolve_output(flat, requested if requested in OUTPUT_KINDS else "probabilities")
                    if isinstance(est, _Uploaded):
                        est.output_ = kind  # our own wrapper, never the user's module
                    elif len(getattr(est, "classes_", [0, 1])) != 2:
                        problems.append(f"the classifier has classes {list(est.classes_)}; dlxai needs two")
                    if requested == "probabilities" and not np.all((flat >= 0) & (flat <= 1)):
                        problems.append("the output was declared as probabilities but lies outside [0, 1]")
    report = ContractReport(not problems, len(rows), n_inputs, shape, kind, float(seconds), float(time_budget_s),
                            tuple(problems))
    if problems and raise_on_problem:
        fix = ("Check that the preprocessing spec or the declared columns match what the model was trained on, "
               "and that the model returns binary scores.")
        raise UnsupportedModelError(errors.MODEL_CONTRACT.format(problems="; ".join(problems), fix=fix))
    return report


# --- predictions only ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PredictionsOnly:
    """Labels, decisions and groups from a predictions file: a fairness audit without a model."""

    y_true: np.ndarray
    y_pred: np.ndarray
    sensitive: pd.DataFrame
    scores: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    def audit(self, attributes=None, **kwargs):
        from dlxai.fairness import audit_fairness

        cols = list(attributes) if attributes else list(self.sensitive.columns[:1])
        missing = [c for c in cols if c not in self.sensitive.columns]
        if missing:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=missing[0], available=list(self.sensitive.columns)))
        return audit_fairness(self.y_true, self.y_pred, self.sensitive[cols], **kwargs)


def load_predictions(
    frame: pd.DataFrame,
    label: str,
    positive_label,
    sensitive,
    *,
    prediction: str | None = None,
    positive_prediction=None,
    score: str | None = None,
    threshold: float = 0.5,
) -> PredictionsOnly:
    """Validate a predictions table: true label, sensitive columns, and a prediction or a score column."""
    if hasattr(frame, "frame"):
        frame = frame.frame
    if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the predictions file"))
    if (prediction is None) == (score is None):
        raise UserInputError(errors.PREDICTIONS_BOTH.format(prediction=prediction, score=score))
    sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive or [])
    if not sensitive:
        raise UserInputError(errors.NO_SENSITIVE)
    for c in [label, *sensitive, prediction or score]:
        if c not in frame.columns:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=list(frame.columns)))
    y = frame[label]
    if y.isna().any():
        raise UserInputError(f"The label {label!r} is missing in {int(y.isna().sum())} rows. Drop or fill those rows.")
    values = y.unique()
    if len(values) != 2:
        raise UserInputError(errors.NON_BINARY_TARGET.format(column=label, n=len(values), values=sorted(map(str, values))[:10]))
    pos = next((v for v in values if v == positive_label or str(v) == str(positive_label)), None)
    if pos is None:
        raise UserInputError(f"The positive label {positive_label!r} does not occur in {label!r}, whose values are "
                             f"{sorted(map(str, values))}. Choose one of them.")
    y_true = (y == pos).to_numpy(np.int64)
    scores = None
    if prediction is not None:
        p = frame[prediction]
        if p.isna().any():
            raise UserInputError(f"The prediction column {prediction!r} is missing in {int(p.isna().sum())} rows.")
        pv = p.unique()
        if len(pv) > 2:
            raise UserInputError(errors.NOT_BINARY_PREDICTIONS.format(
                what=f"The prediction column {prediction!r}", values=sorted(map(str, pv))[:10]))
        ppos = positive_prediction if positive_prediction is not None else (pos if any(str(v) == str(pos) for v in pv) else 1)
        y_pred = p.astype(str).eq(str(ppos)).to_numpy(np.int64)
        if not y_pred.any() and not any(str(v) == str(ppos) for v in pv):
            raise UserInputError(f"The positive prediction {ppos!r} does not occur in {prediction!r} (values "
                                 f"{sorted(map(str, pv))}). Choose the value that means the favourable decision.")
    else:
        s = frame[score]
        if not pd.api.types.is_numeric_dtype(s):
            raise UserInputError(f"The score column {score!r} must hold numbers; it holds text such as "
                                 f"{list(s.dropna().astype(str).unique()[:3])}.")
        scores = s.to_numpy(np.float64, na_value=np.nan)
        if not np.isfinite(scores).all():
            raise UserInputError(f"The score column {score!r} has {int((~np.isfinite(scores)).sum())} missing or "
                                 "infinite values. Fill or drop those rows.")
        if not (isinstance(threshold, (int, float)) and np.isfinite(threshold)):
            raise UserInputError(f"threshold must be a finite number; received {threshold!r}.")
        y_pred = (scores >= float(threshold)).astype(np.int64)
    groups = frame[sensitive].copy()
    for c in sensitive:
        g = groups[c].dropna().unique()
        if len(g) == 0:
            raise UserInputError(f"The sensitive attribute {c!r} is missing in every row. Pick another attribute or fill it.")
        if len(g) < 2:
            raise UserInputError(errors.SINGLE_GROUP.format(column=c, group=g[0]))
        groups[c] = groups[c].astype(object).where(groups[c].notna(), "missing").astype(str)
    return PredictionsOnly(y_true, y_pred, groups, scores, {
        "label": label, "positive_label": pos, "sensitive": sensitive, "prediction": prediction,
        "score": score, "threshold": float(threshold) if score is not None else None})


# --- export -------------------------------------------------------------------------------------------
def _architecture(model: AuditModel) -> tuple[dict, dict]:
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
            "architecture": arch, "output": "logits" if arch["kind"] == "mlp" else "logits",
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
    import warnings

    import torch

    module = copy.deepcopy(model.estimator.module_).cpu().eval()
    dummy = torch.zeros(2, arch["n_inputs"], dtype=torch.float32)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (dummy,), buf, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    return buf.getvalue()
