"""Uploaded ONNX and TorchScript models run in a sandboxed worker process (:mod:`dlxai.models.worker`).

Two halves:

* the worker's side, top-level functions the worker imports by reference: :func:`load_task` vets a TorchScript
  archive (again: the engine vetted it before it sent it) and loads the file into
  :data:`dlxai.models.sandbox.STATE`, returning plain facts; :func:`predict_task` runs it on numpy input and
  returns numpy output;
* the engine's side, :class:`RemoteModel`: one worker per uploaded model, calls with a time limit that grows
  with the number of rows (a model that answers 256 rows quickly and loops on more is stopped, its worker
  replaced, and the caller gets :class:`~dlxai.errors.ModelTimeoutError`).

This module imports only numpy at the top, so a worker that imports it stays light.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os

import numpy as np

SAMPLE_ROWS = 256  # the contract check's sample: time budgets are given per this many rows
LOAD_TIMEOUT_S = 120.0
MAX_CALL_TIMEOUT_S = 3600.0
TORCH_CHUNK = 65536
NO_WORKER = (
    "The model {name!r} runs in a worker process that this copy of the model does not have (copies made by "
    "pickling leave it behind). Load the model file again."
)


# --- shared by the worker and the engine (in-process runs of trusted copies) --------------------------------
def torch_forward(module, X) -> np.ndarray:
    """The module's raw output on a float matrix, in chunks, as float64 numpy."""
    import torch

    X = np.asarray(X, dtype=np.float32)
    outs = []
    with torch.no_grad():
        for i in range(0, max(len(X), 1), TORCH_CHUNK):
            o = module(torch.from_numpy(np.ascontiguousarray(X[i:i + TORCH_CHUNK])))
            if isinstance(o, (tuple, list)):
                o = o[0]
            outs.append(o.detach().double().cpu().numpy())
    return np.concatenate(outs) if len(outs) > 1 else outs[0]


def onnx_session(raw: bytes, threads: int = 1):
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # no warnings about devices and telemetry a sandboxed worker cannot reach
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = int(threads)
    opts.log_severity_level = 3
    return ort.InferenceSession(raw, sess_options=opts, providers=["CPUExecutionProvider"])


def onnx_run(sess, feeds) -> np.ndarray:
    """The scores of an ONNX classifier: the output named like probabilities, else the last floating output.
    ``feeds`` is a dict input name -> array, or one array for a single-input graph."""
    if not isinstance(feeds, dict):
        inp = sess.get_inputs()[0]
        dtype = np.float64 if "double" in inp.type else np.float32
        feeds = {inp.name: np.asarray(feeds, dtype=dtype)}
    outs = sess.run(None, feeds)
    metas = sess.get_outputs()
    best = None
    for meta, val in zip(metas, outs):
        if isinstance(val, list) and val and isinstance(val[0], dict):  # skl2onnx ZipMap: one dict per row
            keys = sorted(val[0])
            val = np.array([[d[k] for k in keys] for d in val], dtype=np.float64)
        val = np.asarray(val)
        if val.dtype.kind != "f":
            continue
        if best is None or "prob" in meta.name.lower():
            best = val
    if best is None:
        from dlxai.errors import UnsupportedModelError

        raise UnsupportedModelError(
            f"The ONNX model has no floating-point output (outputs: {[m.name for m in metas]}); dlxai needs "
            "scores or probabilities.")
    return np.asarray(best, dtype=np.float64)


# --- the worker's side ---------------------------------------------------------------------------------
def load_task(key: str, raw: bytes, fmt: str, name: str) -> dict:
    """Runs in the worker: load the file into ``STATE[key]`` and return what the engine needs to know."""
    from dlxai.models.sandbox import STATE, worker_threads

    if fmt == "torchscript":
        import torch

        from dlxai.models.vetting import vet_torchscript

        vet_torchscript(raw, name)  # never load what the allowlist refuses, whoever asks
        module = torch.jit.load(io.BytesIO(raw), map_location="cpu").eval()
        STATE[key] = ("torch", module)
        return {"parameters": int(sum(p.numel() for p in module.parameters()))}
    if fmt == "onnx":
        with _stderr_closed():  # onnxruntime warns while it starts that it may not see GPUs or write telemetry
            sess = onnx_session(raw, worker_threads())
        STATE[key] = ("onnx", sess)
        STATE[key + RAW_SUFFIX] = raw  # kept for the gradient methods' onnx2torch conversion (made on first use)
        return {"inputs": [(i.name, i.type, list(i.shape)) for i in sess.get_inputs()],
                "outputs": [o.name for o in sess.get_outputs()]}
    raise ValueError(f"the worker does not load {fmt} files")


@contextlib.contextmanager
def _stderr_closed():
    """Standard error pointed at /dev/null (read-only: the sandbox opens nothing for writing) for a while."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def predict_task(key: str, X) -> np.ndarray:
    """Runs in the worker: the loaded model's raw output on ``X`` (a matrix, or ONNX feeds by input name)."""
    from dlxai.models.sandbox import STATE

    kind, obj = STATE[key]
    return torch_forward(obj, X) if kind == "torch" else onnx_run(obj, X)


RAW_SUFFIX, _NET = "#raw", "#net"


def network(key: str):
    """Runs in the worker: the loaded model as a torch network for gradient methods (TorchScript as loaded,
    ONNX as its onnx2torch conversion, made once), parameters frozen; or the reason there is none (a str)."""
    from dlxai.models.sandbox import STATE

    if key + _NET not in STATE:
        kind, obj = STATE[key]
        if kind == "torch":
            net = obj
        else:
            import tempfile
            import warnings

            # torch._dynamo (imported by onnx2torch) asks for a temporary directory at import; probing for one
            # writes a file, which the sandbox forbids: name one instead (nothing is written there)
            tempfile.tempdir = tempfile.tempdir or "/tmp"
            import onnx
            from onnx2torch import convert

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    net = convert(onnx.load_model_from_string(STATE[key + RAW_SUFFIX])).eval()
            except Exception as exc:  # noqa: BLE001 - any failure only means: no gradient methods
                net = f"{type(exc).__name__}: {str(exc)[:200]}"
        if not isinstance(net, str):
            for p in net.parameters():
                p.requires_grad_(False)
        STATE[key + _NET] = net
    return STATE[key + _NET]


def network_task(key: str) -> str:
    """Runs in the worker: why the loaded model has no torch network for gradient methods ('' when it has)."""
    net = network(key)
    return net if isinstance(net, str) else ""


# --- the engine's side ---------------------------------------------------------------------------------
def _rows(X) -> int:
    if isinstance(X, dict):
        return len(next(iter(X.values()))) if X else 0
    return len(X)


class RemoteModel:
    """The engine's handle on one uploaded model loaded in its own sandboxed worker.

    ``budget_s`` is the time allowed per :data:`SAMPLE_ROWS` rows (the contract check's budget): a call on
    ``n`` rows may take ``budget_s * max(1, n / 256)`` seconds.  Copies of an estimator share the handle (one
    worker per upload); :meth:`close` stops the worker, and the next call starts and loads a fresh one.
    """

    def __init__(self, raw: bytes, fmt: str, name: str, budget_s: float, limits=None):
        from dlxai.models.worker import ModelWorker, WorkerLimits

        self.fmt, self.name, self.budget_s = fmt, name, float(budget_s)
        self.key = hashlib.sha256(raw).hexdigest()
        self.worker = ModelWorker(limits or WorkerLimits())
        try:
            self.facts = self.worker.install(load_task, self.key, raw, fmt, name, timeout_s=LOAD_TIMEOUT_S)
        except BaseException:
            self.worker.close()
            raise

    def timeout_for(self, n_rows: int) -> float:
        return min(MAX_CALL_TIMEOUT_S, self.budget_s * max(1.0, n_rows / SAMPLE_ROWS))

    def predict(self, X, timeout_s: float | None = None) -> np.ndarray:
        """Raw output on ``X``; :class:`~dlxai.errors.ModelTimeoutError` past the time limit."""
        worker = self.live_worker()
        n = _rows(X)
        limit = self.timeout_for(n) if timeout_s is None else float(timeout_s)
        what = (f"{self.name} on {n:,} rows; the limit is {self.budget_s:g} s per {SAMPLE_ROWS} rows"
                if timeout_s is None else f"{self.name} on {n:,} sample rows")
        cpu = min(math.ceil(limit) + 5, worker.limits.lifetime_cpu_s // 2)  # one thread: CPU time <= wall time
        return np.asarray(worker.call(predict_task, self.key, X, timeout_s=limit, cpu_s=cpu, what=what))

    def network_error(self) -> str:
        """Why gradient methods cannot run on this model in its worker ('' when they can); asked once."""
        if "_network_error" not in self.__dict__:
            self.__dict__["_network_error"] = self.live_worker().call(
                network_task, self.key, timeout_s=LOAD_TIMEOUT_S, what=f"the gradient check of {self.name}")
        return self.__dict__["_network_error"]

    def live_worker(self):
        """The model's worker, or :class:`~dlxai.errors.UserInputError` for a copy made by pickling."""
        worker = self.__dict__.get("worker")
        if worker is None:
            from dlxai.errors import UserInputError

            raise UserInputError(NO_WORKER.format(name=self.name))
        return worker

    def close(self) -> None:
        worker = self.__dict__.get("worker")
        if worker is not None:
            worker.close()

    @property
    def status(self) -> str:
        worker = self.__dict__.get("worker")
        return worker.status if worker is not None else "no worker"

    def __deepcopy__(self, memo):
        return self  # one worker per upload: copies of the estimator share it

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("worker", None)
        return state
