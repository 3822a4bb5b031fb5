"""The one runner for the dashboard's long jobs (training, reports, sweeps): bounded, threaded to fit, stoppable.

Every long job runs in its own process: a fresh interpreter (``subprocess``, fork + exec) that imported numpy,
pandas, torch and the engine before the job arrived.  One such process is kept warm
as a spare, so a job starts in a fraction of a second, not the 3-4 s ``import torch`` takes.  Separate processes
because torch's thread count is process-wide (one session's setting would change every other's), and because a
process can be killed: Stop on the page ends the computation at once instead of letting it run on unseen.

Why a plain subprocess, not ``multiprocessing`` (the forkserver this runner used before): while Streamlit runs a
page, ``sys.modules["__main__"]`` is the app's script, and every multiprocessing child (spawn or forkserver) runs
``__main__`` again before its job - the whole app.py, in bare mode: it started another model-worker zygote and job
runner inside the job, and printed a few KB of Streamlit warnings to the server's output.  In the browser tests
that output is a pipe nobody reads; once it filled, every job (and the server's own logging) blocked on it, the
job never reported back and its page kept "Running".  A spare runs only this module and writes nothing to the
server's output.

- At most :data:`MAX_JOBS` jobs run at a time on the server (default: one per core); a job beyond waits for a
  slot, saying so on its page.
- A job gets the cores no other job uses as its torch thread budget; the engine lowers it to one thread for
  small networks (:func:`dlxai.models.torch_mlp.threads_for`); BLAS/OpenMP pools outside torch get one thread.
- ``progress`` calls the job makes arrive in the page's script thread (to draw a progress bar).
- Stop or a rerun of the page (Streamlit's own signals, checked every :data:`POLL_S`), or ``cancel.set()``,
  kills the job's process group within :data:`POLL_S` plus the kill; the page's signal propagates, ``cancel``
  raises :class:`Cancelled`.

    model = jobs.run(train_model, dataset, "mlp", seed=0, progress=on_epoch, label="Training")

``fn`` must be picklable by reference (a module-level function) and its arguments and result picklable.
``DLXAI_JOBS=inline`` runs jobs in the calling thread instead (bounded torch threads; Stop then ends a job only
where its engine loop checks for cancellation).
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

# Imported by the spare job process before a job arrives.
PRELOAD = ["numpy", "pandas", "torch", "sklearn.linear_model", "dlxai.models.training", "dlxai.report.builder"]
POLL_S = 0.1  # how often a waiting page checks for Stop
KILL_WAIT_S = 5.0  # the most a kill waits for the process to be gone (it returns as soon as it is)


class Cancelled(Exception):
    """The job was cancelled before it finished; its process is gone."""


class JobFailed(RuntimeError):
    """The job's process died without an answer (e.g. the machine ran out of memory and killed it)."""


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


MAX_JOBS = int(os.environ.get("DLXAI_MAX_JOBS", "0")) or cores()


class _Slots:
    """The server-wide bound on running jobs; a slot comes with the cores no other job uses."""

    def __init__(self, size: int):
        self.size, self.running, self._lock = size, 0, threading.Lock()

    def take(self) -> int | None:
        """A thread budget for a new job, or None when every slot is taken."""
        with self._lock:
            if self.running >= self.size:
                return None
            self.running += 1
            return max(1, cores() - (self.running - 1))

    def give(self) -> None:
        with self._lock:
            self.running -= 1


SLOTS = _Slots(MAX_JOBS)
_LIVE: set = set()  # processes of running jobs and the spare, killed if the server exits first
_SPARE_LOCK = threading.Lock()
_SPARE: list = []  # [(process, connection)]: at most one warm process waiting for a job
MODE_ENV = "DLXAI_JOBS"  # "process" (the default) or "inline"
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def process_mode() -> bool:
    return os.environ.get(MODE_ENV, "process") != "inline"


def _start_spare():
    """A fresh interpreter (``subprocess``, not ``multiprocessing``: under ``streamlit run`` the script's module is
    ``__main__``, and a multiprocessing child runs ``__main__`` again - the whole app.py, its prestarts and its
    warnings - before the job), in its own session (a kill takes its whole group), silent, one-thread pools."""
    ours, theirs = socket.socketpair()
    paths = [os.path.abspath(p or ".") for p in sys.path if os.path.isdir(p or ".")]
    code = f"import sys; sys.path[:0] = {paths!r}; from ui.jobs import _spare_main; _spare_main({theirs.fileno()})"
    env = {**os.environ, **dict.fromkeys(_ONE_THREAD, "1")}  # torch's own count is set per job
    proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    theirs.close()
    _LIVE.add(proc)
    return proc, Connection(ours.detach())


def _take_spare():
    """The warm process (a new one if it died), and a new spare started behind it."""
    with _SPARE_LOCK:
        spare = _SPARE.pop() if _SPARE else None
        if spare is None or spare[0].poll() is not None:
            if spare is not None:
                _discard(spare)
            spare = _start_spare()
        _SPARE.append(_start_spare())
        return spare


def prestart() -> threading.Thread:
    """Start the spare job process in the background, so the first job starts quickly; later calls do nothing."""
    def warm():
        with _SPARE_LOCK:
            if not _SPARE:
                _SPARE.append(_start_spare())

    thread = threading.Thread(target=warm, name="dlxai-jobs-spare", daemon=True)
    if process_mode():
        thread.start()
    return thread


# --- inside the job's process ------------------------------------------------------------------------
def _spare_main(fd: int) -> None:
    """A spare job process: import the libraries, then wait for one job (or the end of the stream: the server went
    away or discarded it)."""
    conn = Connection(fd)
    for name in PRELOAD:
        importlib.import_module(name)
    try:
        payload = conn.recv_bytes()
    except (EOFError, OSError):
        return
    _job_main(conn, payload)


def _progress_gone():
    return None


class _Progress:
    """The job's progress callback: sends its arguments to the page.  Pickles as None, so a result that
    keeps its callback (an estimator's ``callback``) comes back without the channel."""

    def __init__(self, conn):
        self.conn = conn

    def __call__(self, *args):
        self.conn.send_bytes(pickle.dumps(("progress", args), protocol=5))

    def __reduce__(self):
        return _progress_gone, ()


def _job_main(conn, payload: bytes) -> None:
    fn, args, kwargs, threads, wants_progress = pickle.loads(payload)
    import torch

    torch.set_num_threads(threads)
    if wants_progress:
        kwargs["progress"] = _Progress(conn)
    try:
        reply = pickle.dumps(("ok", fn(*args, **kwargs)), protocol=5)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the page
        reply = _error_reply(exc)
    conn.send_bytes(reply)
    conn.close()


def _error_reply(exc: BaseException) -> bytes:
    tb = "".join(traceback.format_exception(exc))
    try:
        data = pickle.dumps(exc, protocol=5)
        pickle.loads(data)  # an exception that cannot be rebuilt goes back as its name and message
        return pickle.dumps(("error", (data, tb)), protocol=5)
    except Exception:  # noqa: BLE001
        return pickle.dumps(("error", (None, f"{type(exc).__name__}: {exc}\n{tb}")), protocol=5)


# --- the page's side -----------------------------------------------------------------------------------
def page_check() -> Callable[[], None] | None:
    """Streamlit's check for Stop or a rerun of the current script run (raises its control exception), or None
    outside a script run."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_run_yield_check
    except ImportError:
        return None
    return get_run_yield_check()


def _take_slot(label: str, check, cancel) -> int:
    budget = SLOTS.take()
    if budget is not None:
        return budget
    note = None
    if check is not None:
        import streamlit as st

        note = st.empty()
        note.info(f"{label}: waiting for a free slot ({SLOTS.size} jobs are running on this server)…")
    try:
        while (budget := SLOTS.take()) is None:
            if check is not None:
                check()
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{label} was cancelled while waiting for a free slot.")
            time.sleep(POLL_S)
        return budget
    finally:
        if note is not None:
            note.empty()


def _kill(proc) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its session's group: what the job started goes too
        except (ProcessLookupError, PermissionError):
            proc.kill()
    try:
        proc.wait(KILL_WAIT_S)
    except subprocess.TimeoutExpired:
        pass
    _LIVE.discard(proc)


def _discard(spare) -> None:
    proc, conn = spare
    _kill(proc)
    conn.close()


def _send(conn, payload: bytes) -> None:
    try:
        conn.send_bytes(payload)
    except OSError:  # the job process was killed (Stop) or died; the page's side reports it
        pass


@atexit.register
def _kill_all() -> None:
    for proc in list(_LIVE):
        _kill(proc)


def _run_inline(fn, args, kwargs, progress, threads):
    from dlxai.models.torch_mlp import torch_threads

    if progress is not None:
        kwargs = {**kwargs, "progress": progress}
    with torch_threads(1 if threads is None else max(1, int(threads))):
        return fn(*args, **kwargs)


def holds_worker(model) -> bool:
    """Whether ``model`` (an AuditModel) predicts through an uploaded file's sandboxed worker, which stays with this
    process (a copy sent to a job process would have none): run its jobs with ``in_process=True``."""
    est = getattr(model, "estimator", None)
    return any(getattr(e, "remote", None) is not None for e in (est, getattr(est, "inner", None)))


def run(fn, *args, progress: Callable | None = None, label: str = "The job", threads: int | None = None,
        cancel: threading.Event | None = None, in_process: bool = False, **kwargs):
    """``fn(*args, **kwargs)`` in a job process; returns its result or re-raises its exception.

    ``progress``: called in this thread with whatever the job passes to its ``progress=`` argument (given to
    ``fn`` only when set).  ``threads``: an upper bound on the job's torch threads (default: the free cores).
    ``cancel``: an event that, once set, kills the job and raises :class:`Cancelled`.  In a Streamlit script,
    Stop or a rerun kills the job and lets Streamlit's signal through.  ``in_process``: run it in this thread (an
    uploaded model's worker cannot travel); Stop then ends it at its next progress call.
    """
    if in_process or not process_mode():
        return _run_inline(fn, args, kwargs, progress, threads)
    check = page_check()
    budget = _take_slot(label, check, cancel)
    try:
        n = budget if threads is None else max(1, min(int(threads), budget))
        payload = pickle.dumps((fn, args, kwargs, n, progress is not None), protocol=5)
        proc, conn = _take_spare()
        # sent from a helper thread: a cold spare reads only once its imports are done, and this thread must keep
        # checking for Stop meanwhile
        sender = threading.Thread(target=_send, args=(conn, payload), name="dlxai-job-send", daemon=True)
        sender.start()
        try:
            return _follow(proc, conn, progress, label, check, cancel)
        finally:
            _kill(proc)  # first: a send still blocked on the pipe then fails at once
            sender.join(KILL_WAIT_S)
            conn.close()
    finally:
        SLOTS.give()


def _follow(proc, conn, progress, label: str, check, cancel):
    while True:
        if conn.poll(POLL_S):
            try:
                kind, value = pickle.loads(conn.recv_bytes())
            except EOFError:
                try:
                    proc.wait(KILL_WAIT_S)
                except subprocess.TimeoutExpired:
                    pass
                raise JobFailed(f"{label} stopped unexpectedly (its process ended with code {proc.returncode}); "
                                "the machine may have run out of memory. Try a smaller setting.") from None
            if kind == "ok":
                return value
            if kind == "error":
                raise _rebuild(*value, label)
            if progress is not None:
                progress(*value)
        if check is not None:
            check()
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{label} was cancelled.")


def _rebuild(data: bytes | None, tb: str, label: str) -> BaseException:
    exc = pickle.loads(data) if data is not None else RuntimeError(tb.splitlines()[0] if tb else label)
    exc.add_note(f"In the job process ({label}):\n{tb}")
    return exc
