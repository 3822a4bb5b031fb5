"""Shared by the benchmark scripts: run from the repository root or from benchmarks/.

Every script takes ``--load N``: N busy processes spin beside it (a shared machine; the dashboard's users share
its cores), started by :func:`start_load` and stopped when the script exits, or killed by the kernel if it dies.
"""

import argparse
import atexit
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import dlxai  # noqa: E402,F401  (first, as in the dashboard and the CLI: it sets OpenMP's wait policy before torch loads)

# A busy loop that dies with its parent (PR_SET_PDEATHSIG = 1), so a killed benchmark leaves no spinner behind.
_SPIN = "import ctypes, signal; ctypes.CDLL(None).prctl(1, signal.SIGKILL)\nwhile True: pass"
_LOAD: list = []


def add_load_option(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    ap.add_argument("--load", type=int, default=0, metavar="N",
                    help="run N busy processes beside the benchmark (each keeps one core busy)")
    return ap


def start_load(n: int) -> list:
    """Start ``n`` busy processes (stopped at exit, or by :func:`stop_load`); returns them."""
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL) for _ in range(max(0, n))]
    _LOAD.extend(procs)
    return procs


@atexit.register
def stop_load() -> None:
    while _LOAD:
        p = _LOAD.pop()
        p.kill()
        p.wait()


def load_from_args(argv=None) -> int:
    """``--load N`` for a script that has no parser of its own: starts the load, returns N."""
    n = add_load_option(argparse.ArgumentParser(add_help=False)).parse_known_args(argv)[0].load
    start_load(n)
    return n


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(best wall seconds over ``repeat`` runs, last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best, out


def emit(record: dict) -> None:
    print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in record.items()}), flush=True)
