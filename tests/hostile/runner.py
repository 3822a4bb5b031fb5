"""The catalogue's fork server: one process imports dlxai (pandas, pyarrow, torch, onnx, skops) once, then forks
one child per case, so each case is measured on its own process without paying the imports again.

Protocol: one JSON request per line on stdin ``{"entry", "args", "dir", "limit_s", "limit_mb"}``; one JSON reply
per line on stdout ``{"wall_s", "cpu_s", "maxrss_mb", "exit", "killed"}``.  The child runs ``ENTRIES[entry]``
with its working directory, stdout and stderr in the case's folder, and writes ``result.json`` there: whether it
returned or raised, the exception's class names (its MRO) and message, or the CLI's exit code.  The parent
collects the child's peak RSS and CPU time with ``os.wait4`` and kills it when it passes ``limit_s`` seconds or
``limit_mb`` MB of RSS (a regression must fail the test, not take the machine down).

Run as ``python -m tests.hostile.runner``; the pytest side is tests/hostile/test_catalogue.py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# --- what a case may call (in the child) -----------------------------------------------------------
def _frame(path: str):
    import pandas as pd

    return pd.read_csv(path)


def read_table(path: str, name: str | None = None, **kw):
    from dlxai.data.tables import read_table

    t = read_table(path, name, **kw)
    return {"shape": list(t.shape), "columns": [str(c) for c in t.frame.columns[:3]] + [str(t.frame.columns[-1])]}


def load_model(path: str, name: str, sample: str | None = None, spec: str | None = None, **kw):
    from dlxai.models.formats import load_model

    frame = _frame(sample) if sample else None
    spec_bytes = Path(spec).read_bytes() if spec else None
    model = load_model(Path(path), name, spec=spec_bytes, sample=frame, reference=frame, **kw)
    try:
        out = {"kind": model.kind}
        if frame is not None:
            big = frame.sample(n=max(len(frame), 2048), replace=True, random_state=0)
            out["scores"] = [float(v) for v in model.predict_proba(big)[:5]]
        return out
    finally:
        model.close()


def input_facts(path: str, name: str, columns=()):
    from dlxai.models.formats import input_facts

    return str(input_facts(Path(path), name, columns))


def detect_format(path: str, name: str):
    from dlxai.models.formats import detect_format

    return detect_format(Path(path), name)


def skops_untrusted_types(path: str):
    from dlxai.models.formats import skops_untrusted_types

    return skops_untrusted_types(Path(path).read_bytes())


def parse_spec(path: str):
    from dlxai.models.formats import parse_spec

    return sorted(parse_spec(Path(path).read_bytes()))


def load_predictions(path: str, **kw):
    from dlxai.data.predictions import load_predictions

    return str(type(load_predictions(_frame(path), **kw)).__name__)


def profile(path: str, fn: str, args=()):
    """A Upload-page profiling function on a frame a notebook could build (read with pyarrow directly, so that
    nested cells reach the function as they would from any other source)."""
    import pyarrow.parquet as pq

    from dlxai.data import mapping

    return str(getattr(mapping, fn)(pq.read_table(path).to_pandas(), *args))[:300]


def cli(argv: list[str]):
    from dlxai.cli import run

    return {"exit": run(argv)}


# Deliberately unsafe: only the control tests call these, to prove a payload's side effect is observable.
def unsafe_unpickle(path: str):
    import pickle

    return str(pickle.loads(Path(path).read_bytes()))  # noqa: S301 - the control: this is what dlxai must never do


def unsafe_torchscript(path: str, rows: int = 4, cols: int = 2):
    import torch

    module = torch.jit.load(path)
    return str(module(torch.zeros(rows, cols)).sum().item())


def noop():
    return None


def allocate(mb: int, hold_s: float = 0.0):
    """The measurement's control: touch ``mb`` MB (then wait ``hold_s`` s, for the kill test)."""
    block = b"\x01" * (mb << 20)
    time.sleep(hold_s)
    return len(block) >> 20


ENTRIES = {f.__name__: f for f in (read_table, load_model, input_facts, detect_format, skops_untrusted_types,
                                   parse_spec, load_predictions, profile, cli, unsafe_unpickle,
                                   unsafe_torchscript, noop, allocate)}


# --- the child --------------------------------------------------------------------------------------
def _share_the_zygote() -> None:
    """The parent's model-worker zygote serves every child (a fresh one imports torch for seconds).  A forked
    child cannot ``waitpid`` it, so ask the kernel whether it still runs instead."""
    from dlxai.models import worker

    z = worker._ZYGOTE
    if z is not None:
        def alive() -> bool:
            try:
                os.kill(z.proc.pid, 0)
            except OSError:
                return False
            return True

        z.alive = alive
        z.close = lambda: None  # the parent owns it


def _child(req: dict) -> None:
    d = Path(req["dir"])
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        f = os.open(d / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(f, fd)
        os.close(f)
    os.chdir(d)
    _share_the_zygote()
    try:
        value = ENTRIES[req["entry"]](**req["args"])
        res = {"status": "ok", "value": value if isinstance(value, (dict, list, str, type(None))) else str(value)}
    except BaseException as exc:  # noqa: BLE001 - reported to the test, which decides
        res = {"status": "raised", "mro": [c.__name__ for c in type(exc).__mro__], "message": str(exc)[:6000]}
    try:
        text = json.dumps(res, default=str)
    except (TypeError, ValueError):
        text = json.dumps({"status": res["status"], "value": str(res.get("value"))[:2000]})
    (d / "result.json").write_text(text)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _run(req: dict) -> dict:
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            _child(req)
        finally:
            os._exit(70)
    killed = None
    while True:
        done, status, ru = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if killed is None:
            if time.monotonic() - start > req["limit_s"]:
                killed = "time"
            elif _rss_mb(pid) > req["limit_mb"]:
                killed = "memory"
            if killed:
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return {"wall_s": time.monotonic() - start, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_mb": ru.ru_maxrss / 1024,
            "exit": os.waitstatus_to_exitcode(status), "killed": killed}


def main() -> None:
    import warnings

    warnings.simplefilter("ignore")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy  # noqa: F401
    import onnx  # noqa: F401
    import onnx2torch  # noqa: F401 - 5-15 s to import; every ONNX case converts
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import skops.io  # noqa: F401
    import torch  # noqa: F401

    import dlxai.cli  # noqa: F401
    import dlxai.data.mapping  # noqa: F401
    import dlxai.data.predictions  # noqa: F401
    import dlxai.data.tables  # noqa: F401
    import dlxai.models.formats  # noqa: F401
    import dlxai.report  # noqa: F401
    from dlxai.models import worker

    worker._zygote()  # started once, before any fork, and shared (see _share_the_zygote)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(_run(json.loads(line))), flush=True)
    worker.shutdown()


if __name__ == "__main__":
    main()
