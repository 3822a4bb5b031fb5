"""Model files: which format a file is, whether it may be read, and loading it with its input contract.

Formats read by default (none of them runs arbitrary Python in the engine's process):

* **ONNX** -> :class:`~dlxai.models.adapters.OnnxClassifier`, run by onnxruntime in a sandboxed worker
  process (:mod:`dlxai.models.remote`); one input per column (skl2onnx) is matched to the data's columns by
  name, one tensor input takes the preprocessed matrix.  Converted with onnx2torch for gradient methods, and
  when that fails the model says which methods remain.
* **TorchScript** (``torch.jit.save``) -> :class:`~dlxai.models.adapters.TorchModuleClassifier`: vetted against
  an operator allowlist (:mod:`dlxai.models.vetting`) before anything loads it, predicting in its worker.
* **safetensors** (or a ``torch.save`` state_dict read with ``weights_only=True``) for dlxai's own
  architectures, with the JSON spec that :func:`dlxai.models.export.export_spec` writes.
* **skops** for scikit-learn, only with the untrusted types the user confirmed (``trusted=[...]``); a pipeline
  fitted on a DataFrame reads the raw columns itself (:mod:`dlxai.models.rawcolumns`).

Pickle/joblib is refused (:data:`dlxai.errors.MODEL_PICKLE_REFUSED`) unless the operator sets
``DLXAI_ALLOW_PICKLE=1``.  Every loaded model carries an input contract chosen by
:func:`dlxai.models.inputs.choose_contract` and checked on sample rows before anything else runs it.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import warnings
import zipfile

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.data.jsonsafe import load_json
from dlxai.errors import DlxaiError, UnsupportedModelError, UserInputError
from dlxai.models.adapters import OUTPUT_KINDS, OnnxClassifier, TorchModuleClassifier, UploadedModel, _frozen
from dlxai.models.contracts import DEFAULT_TIME_BUDGET_S, check_contract
from dlxai.models.inputs import InputFacts, choose_contract, facts_from_onnx, facts_from_sklearn, onnx_inputs
from dlxai.models.rawcolumns import RawColumnsClassifier, favourable_index
from dlxai.models.spec import SPEC_FORMAT, validate_spec

PICKLE_ENV = "DLXAI_ALLOW_PICKLE"
MAX_MODEL_BYTES = 2_000_000_000  # a protobuf (ONNX) cannot be larger; a tabular model is megabytes
MAX_MODEL_RATIO = 200  # arrays of weights compress about 1.1x; 1000x is a bomb
PICKLE_EXTENSIONS = (".pkl", ".pickle", ".joblib", ".jbl", ".sav", ".dill", ".cloudpickle")
PICKLE_WARNING = "Loaded from a pickle because DLXAI_ALLOW_PICKLE=1: only do this with files you created yourself."
NO_SANDBOX_WARNING = (
    "This platform has no sandbox for model workers ({platform}), so the uploaded model runs in dlxai's own "
    "process: load only files you trust."
)
MODEL_FOREIGN = "{name!r} is {what}, which dlxai does not load as a model. {fix}"
_FOREIGN = (  # (magic prefix, what it is, how to get a file dlxai reads)
    (b"\x89HDF\r\n\x1a\n", "a Keras/HDF5 file", "Convert it to ONNX (tf2onnx) and upload the .onnx file."),
    (b"PAR1", "a Parquet data table", "Upload data in the Data tab; a model file is ONNX, TorchScript, "
                                      "safetensors or skops."),
    (b"{", "a JSON document", "If it is the model's spec, upload it as the spec; a JSON model (e.g. XGBoost) must "
                              "be converted to ONNX first."),
    (b"tree\nversion=", "a LightGBM text model", "Convert it to ONNX (onnxmltools) first."),
)


class UntrustedTypesError(UserInputError):
    """A skops file needs types the user has not confirmed; ``types`` lists them for the UI."""

    def __init__(self, message: str, types: list[str]):
        super().__init__(message)
        self.types = list(types)


def pickle_allowed() -> bool:
    """Whether the operator opted in to pickle/joblib files (single-user local use only: loading runs code)."""
    return os.environ.get(PICKLE_ENV, "").strip() == "1"


# --- format detection --------------------------------------------------------------------------------
def _is_pickle(raw: bytes, name: str) -> bool:
    if name.lower().endswith(PICKLE_EXTENSIONS):
        return True
    if len(raw) >= 2 and raw[0] == 0x80 and raw[1] in (2, 3, 4, 5):
        return True
    return raw[:2] in (b"x\x9c", b"x\xda", b"x\x01") and name.lower().endswith((".pt", ".pth", ".bin", ".model"))


def detect_format(data, name: str = "model") -> str:
    """``onnx | torchscript | torch_state_dict | safetensors | skops | pickle`` from the bytes (not the name)."""
    raw = _bytes(data, name)
    if not raw:
        raise UserInputError(f"The model file {name!r} is empty. Upload the exported model file.")
    if _is_pickle(raw, name):
        return "pickle"
    for magic, what, fix in _FOREIGN:
        if raw.lstrip()[:len(magic)] == magic:
            raise UserInputError(MODEL_FOREIGN.format(name=name, what=what, fix=fix))
    if raw.startswith(b"PK\x03\x04"):
        names = _check_archive(raw, name)
        if "schema.json" in names:
            return "skops"
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("data.pkl") for n in names):
            return "torch_state_dict"
        if "config.json" in names or any(n.endswith(".weights.h5") for n in names):
            raise UserInputError(MODEL_FOREIGN.format(name=name, what="a Keras model archive",
                                                      fix="Convert it to ONNX (tf2onnx) and upload the .onnx file."))
        raise UserInputError(errors.MODEL_UNKNOWN_FORMAT.format(name=name, head=raw[:8]))
    if len(raw) > 10:
        n = int.from_bytes(raw[:8], "little")
        if 2 <= n <= len(raw) - 8 and raw[8:9] == b"{":
            return "safetensors"
    return "onnx"  # protobuf has no magic; parsing decides (and says "claims to be ONNX and is not")


def _bytes(data, name: str = "model") -> bytes:
    """The model file's bytes, its size checked first (from ``os.stat`` for a path: a 2 GB file is never read)."""
    if isinstance(data, (str, os.PathLike)) and os.path.exists(data):
        return read_model_file(data, name)
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    elif hasattr(data, "getvalue"):
        if hasattr(data, "getbuffer"):  # BytesIO, Streamlit's UploadedFile: the size without a copy
            with data.getbuffer() as view:
                _check_size(view.nbytes, name)
        raw = bytes(data.getvalue())
    else:
        raise UserInputError(f"Expected the model file's bytes; received {type(data).__name__}.")
    _check_size(len(raw), name)
    return raw


def _check_size(size: int, name: str) -> None:
    if size > MAX_MODEL_BYTES:
        raise UserInputError(errors.MODEL_TOO_LARGE.format(name=name, size=size, limit=MAX_MODEL_BYTES))


def read_model_file(path, name: str | None = None) -> bytes:
    """A model file's bytes from its path: a regular file (not a device or pipe) of at most ``MAX_MODEL_BYTES``."""
    from dlxai.data.tables import regular_file_size

    name = name or os.path.basename(os.fspath(path))
    _check_size(regular_file_size(path), name)
    with open(path, "rb") as fh:
        raw = fh.read(MAX_MODEL_BYTES + 1)  # the file may have grown since
    _check_size(len(raw), name)
    return raw


def _check_archive(raw: bytes, name: str) -> list[str]:
    """The member names of a zipped model, refused before anything unpacks it when its members declare more than
    ``MAX_MODEL_BYTES`` together or a member unpacks to more than ``MAX_MODEL_RATIO`` times its packed size
    (readers stop at the declared size, so the declaration bounds what they produce)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UserInputError(errors.MODEL_UNKNOWN_FORMAT.format(name=name, head=raw[:8])) from exc
    total = sum(i.file_size for i in infos)
    worst = max(infos, key=lambda i: i.file_size / max(i.compress_size, 1), default=None)
    if worst is not None and (total > MAX_MODEL_BYTES or (
            worst.file_size > 50_000_000 and worst.file_size > MAX_MODEL_RATIO * max(worst.compress_size, 1))):
        raise UserInputError(errors.MODEL_ARCHIVE_BOMB.format(
            name=name, size=len(raw), unpacked=total, member=worst.filename, limit=MAX_MODEL_BYTES,
            ratio=MAX_MODEL_RATIO))
    return [i.filename for i in infos]


def parse_spec(spec) -> dict:
    """A spec given as dict, JSON text or JSON bytes, validated against ``spec.schema.json``."""
    if spec is None:
        return {}
    if isinstance(spec, (bytes, bytearray, str)):
        spec = load_json(spec, what="The model spec")  # bounded in size and depth
    if not isinstance(spec, dict):
        raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"expected a JSON object, got {type(spec).__name__}"))
    if spec.get("format", SPEC_FORMAT) != SPEC_FORMAT:
        raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"format {spec.get('format')!r} is not {SPEC_FORMAT!r}"))
    validate_spec(spec)
    return spec


# --- loaders ----------------------------------------------------------------------------------------
def skops_untrusted_types(data, name: str = "model.skops") -> list[str]:
    """The types a skops file would load that skops does not trust by default (show these to the user); an
    archive that would unpack beyond the limits is refused before skops opens it."""
    import skops.io as sio

    raw = _bytes(data, name)
    _check_archive(raw, name)
    try:
        return sorted(sio.get_untrusted_types(data=raw))
    except Exception as exc:  # noqa: BLE001 - skops raises many kinds on a malformed file
        raise UserInputError(f"The file is not a readable skops archive ({type(exc).__name__}: {exc}). "
                             "Save the model again with skops.io.dump.") from exc


def _parse_onnx(raw: bytes, name: str):
    """The ONNX graph, vetted (standard domains, no external data) and checked, parsed in this process (it is
    data; nothing of it runs here)."""
    import onnx

    from dlxai.models.vetting import vet_onnx

    try:
        proto = onnx.load_from_string(raw)
    except Exception as exc:  # noqa: BLE001 - protobuf raises assorted errors on garbage
        raise _not_onnx(raw, name, exc) from exc
    vet_onnx(proto, name)
    try:
        onnx.checker.check_model(proto)
        if not proto.graph.node or not proto.graph.input:
            raise ValueError("the graph has no nodes or no inputs")
    except Exception as exc:  # noqa: BLE001 - the checker's errors are not one class
        raise _not_onnx(raw, name, exc) from exc
    return proto


def _not_onnx(raw: bytes, name: str, exc: Exception) -> UserInputError:
    if not name.lower().endswith(".onnx"):
        return UserInputError(errors.MODEL_UNKNOWN_FORMAT.format(name=name, head=raw[:8]))
    return UserInputError(errors.MODEL_NOT_ONNX.format(name=name, detail=f"{type(exc).__name__}: {str(exc)[:200]}"))


def _remote(raw: bytes, fmt: str, name: str, budget: float, what: str):
    """The file loaded in its own sandboxed worker; its errors said as the user's file's errors."""
    from dlxai.models.remote import RemoteModel

    try:
        return RemoteModel(raw, fmt, name, budget)
    except DlxaiError:
        raise
    except Exception as exc:  # noqa: BLE001 - the loader's errors come back as builtin exceptions
        raise UserInputError(what.format(detail=str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)) from exc


def _onnx_estimator(raw: bytes, name: str, output: str, inputs, isolate: bool, budget: float) -> OnnxClassifier:
    cannot_run = errors.MODEL_NOT_ONNX.format(name=name, detail="onnxruntime cannot run it: {detail}")
    if isolate:
        return OnnxClassifier(raw, output, _remote(raw, "onnx", name, budget, cannot_run), inputs)
    est = OnnxClassifier(raw, output, None, inputs)
    try:
        est._session()
    except Exception as exc:  # noqa: BLE001 - onnxruntime's errors are not one class
        raise UserInputError(cannot_run.format(detail=str(exc)[:300])) from exc
    return est


def _onnx_to_torch(est: OnnxClassifier, proto) -> str:
    """Convert the graph for gradient methods; the reason it failed ('' when it did not)."""
    try:
        from onnx2torch import convert

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.torch_ = _frozen(convert(proto).eval())
    except Exception as exc:  # noqa: BLE001 - any failure only means: no gradient methods
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return ""


def _torchscript_estimator(raw: bytes, name: str, output: str, isolate: bool, budget: float):
    """``(estimator, parameter count)``; the archive was vetted before this is called."""
    cannot_load = (f"{name!r} looks like TorchScript but cannot be loaded ({{detail}}). Save it with "
                   "torch.jit.script(model).save(path).")
    if isolate:
        remote = _remote(raw, "torchscript", name, budget, cannot_load)
        return TorchModuleClassifier(output=output, source=raw, remote=remote), remote.facts.get("parameters")
    import torch

    try:
        module = _frozen(torch.jit.load(io.BytesIO(raw), map_location="cpu").eval())
    except Exception as exc:  # noqa: BLE001
        raise UserInputError(cannot_load.format(detail=f"{type(exc).__name__}: {str(exc)[:200]}")) from exc
    return TorchModuleClassifier(module, output), None


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


def _own_architecture(sd: dict, spec: dict):
    """dlxai's own mlp/logreg rebuilt from its weights and the spec's ``architecture``; ``(estimator, kind)``."""
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

    untrusted = skops_untrusted_types(raw, name)
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
    """Only reached when the operator opted in (``DLXAI_ALLOW_PICKLE=1``) for single-user local use."""
    if not pickle_allowed():  # the gate stands here too, so no other caller can reach joblib.load by default
        raise UserInputError(errors.MODEL_PICKLE_REFUSED.format(name=name))
    import joblib

    try:
        est = joblib.load(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001
        raise UserInputError(f"{name!r} could not be unpickled ({type(exc).__name__}: {exc}).") from exc
    if not hasattr(est, "predict_proba"):
        raise UnsupportedModelError(f"The unpickled object {type(est).__name__} has no predict_proba.")
    return est


def _network(fmt: str, raw: bytes, name: str, output: str, proto, gradients: bool, isolate: bool, budget: float):
    """``(estimator, conversion error, parameter count)`` of an ONNX or TorchScript file (vetted already)."""
    if fmt == "torchscript":
        est, n_params = _torchscript_estimator(raw, name, output, isolate, budget)
        return est, "", n_params
    est = _onnx_estimator(raw, name, output, onnx_inputs(proto), isolate, budget)
    n_params = int(sum(int(np.prod(t.dims)) for t in proto.graph.initializer))
    if gradients and est.remote is not None:  # converted and explained in its worker, never in this process
        return est, est.remote.network_error(), n_params
    return est, _onnx_to_torch(est, proto) if gradients else "", n_params


def _in_process(fmt: str, raw: bytes, name: str, trusted, spec: dict):
    """``(estimator, kind, warnings)`` of the formats read in this process (no user code runs: skops with
    confirmed types, dlxai's own architectures; pickle only when the operator opted in)."""
    if fmt in ("safetensors", "torch_state_dict"):
        est, kind = _own_architecture(_state_dict_from(raw, fmt, name), spec)
        return est, kind, ()
    if fmt == "skops":
        return _load_skops(raw, name, trusted), fmt, ()
    return _load_pickle(raw, name), fmt, (PICKLE_WARNING,)


def _facts(fmt: str, raw: bytes, name: str, est, columns) -> tuple[InputFacts, object]:
    """What the file says about its inputs (and the parsed ONNX graph)."""
    if fmt == "onnx":
        proto = _parse_onnx(raw, name)
        return facts_from_onnx(onnx_inputs(proto), columns), proto
    if fmt == "torchscript":
        return InputFacts("tensor", "torchscript", detail=f"the TorchScript module {name!r} takes one tensor"), None
    if fmt in ("safetensors", "torch_state_dict"):
        return InputFacts("tensor", "weights", detail=f"{name!r} holds weights only"), None
    return facts_from_sklearn(est), None


def input_facts(data, name: str = "model", columns=()) -> InputFacts:
    """What a model file says about its inputs, read without running anything from it: the Upload page shows it
    (and asks for a spec or columns only when the file does not name its inputs) before the model is loaded."""
    raw = _bytes(data, name)
    fmt = detect_format(raw, name)
    if fmt in ("skops", "pickle"):
        return InputFacts("unknown", "sklearn", detail="a scikit-learn model: fitted on a DataFrame, it reads its "
                                                       "columns by name (seen when it loads)")
    return _facts(fmt, raw, name, None, columns)[0]


def load_model(
    data,
    name: str = "model",
    *,
    spec=None,
    input_columns=None,
    trusted=None,
    output: str = "auto",
    sample: pd.DataFrame | None = None,
    reference: pd.DataFrame | None = None,
    positive_label=None,
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    dataset_name: str = "",
    isolate: bool = True,
) -> UploadedModel:
    """Load a model file safely, attach its input contract and (given ``sample`` rows) check it.

    The contract is read from the file where it names its inputs (a pipeline's ``feature_names_in_``, ONNX
    inputs per column: raw columns), else taken from the spec's ``preprocessing`` or ``input_columns``; see
    :func:`dlxai.models.inputs.choose_contract`.  ``reference`` are the training rows a raw-columns contract
    takes its levels and medians from (default: ``sample``); ``positive_label`` names the favourable class of a
    model whose classes are labels.  ONNX and TorchScript run in a sandboxed worker unless ``isolate=False``
    (files you trust, e.g. your own exports).  ``time_budget_s`` bounds the check on 256 rows, and every later
    prediction in proportion to its rows.  Raises :class:`UserInputError` / :class:`UnsupportedModelError` only.
    """
    if output not in OUTPUT_KINDS:
        raise UserInputError(f"output must be one of {OUTPUT_KINDS}; received {output!r}.")
    if isinstance(time_budget_s, bool) or not isinstance(time_budget_s, (int, float)) or not time_budget_s > 0:
        raise UserInputError(f"time_budget_s must be a positive number of seconds; received {time_budget_s!r}.")
    raw = _bytes(data, name)
    spec = parse_spec(spec)
    fmt = detect_format(raw, name)
    if fmt == "pickle" and not pickle_allowed():  # refused before anything else looks at the file
        raise UserInputError(errors.MODEL_PICKLE_REFUSED.format(name=name))
    if fmt == "torchscript":
        from dlxai.models.vetting import vet_torchscript

        vet_torchscript(raw, name)  # a refused archive never reaches a worker, nor torch.jit.load
    if spec.get("output") in ("probabilities", "logits") and output == "auto":
        output = spec["output"]
    warn: tuple[str, ...] = ()
    if isolate and sys.platform != "linux" and fmt in ("onnx", "torchscript"):
        isolate, warn = False, (NO_SANDBOX_WARNING.format(platform=sys.platform),)
    est, kind = None, fmt
    if fmt in ("skops", "pickle"):  # what the estimator exposes (feature_names_in_) decides its contract
        est, kind, more = _in_process(fmt, raw, name, trusted, spec)
        warn += more
    frames = [f for f in (reference, sample) if isinstance(f, pd.DataFrame)]
    facts, proto = _facts(fmt, raw, name, est, frames[0].columns if frames else ())
    prep = choose_contract(facts, spec, input_columns, reference=reference, sample=sample, file=name, est=est)
    if fmt in ("safetensors", "torch_state_dict"):
        est, kind, _ = _in_process(fmt, raw, name, trusted, spec)
    raw_columns = getattr(prep, "contract_kind", "") == "raw"
    conversion_error, n_params = "", None
    if fmt in ("onnx", "torchscript"):
        est, conversion_error, n_params = _network(fmt, raw, name, output, proto, not raw_columns, isolate,
                                                   float(time_budget_s))
    if raw_columns:
        if isinstance(est, OnnxClassifier):  # skl2onnx: probabilities in the order of the sorted class labels
            est = RawColumnsClassifier(est, prep, 1, output)
        else:
            est = RawColumnsClassifier(est, prep, favourable_index(est.classes_, positive_label, name),
                                       "probabilities")
    digest = hashlib.sha256(raw).hexdigest()
    model = UploadedModel(
        estimator=est, preprocessor=prep, kind=kind, name=f"{name} (uploaded {fmt})",
        feature_columns=tuple(prep.numeric) + tuple(prep.categorical),
        params={"format": fmt, "file": name, "sha256": digest[:16], "output": output,
                "contract": prep.contract_kind, "isolated": bool(isolate and fmt in ("onnx", "torchscript"))},
        source=f"uploaded {fmt} file {name}", dataset=dataset_name, format=fmt, sha256=digest,
        conversion_error=conversion_error, warnings=warn, n_parameters=n_params,
    )
    if sample is not None:
        try:
            model.contract = check_contract(model, sample, time_budget_s=time_budget_s)
        except BaseException:
            model.close()  # a refused model leaves no worker behind
            raise
    return model
