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
  raises :class:`Cancelled`.  Stop leaves a note on the page where the job ran.
- A job on an uploaded model (:func:`holds_worker`: its sandboxed worker stays with the server) runs in a thread
  of the server instead (``in_process=True``), bounded and followed the same way; Stop ends its model call in
  flight by killing the worker's child (a fresh one serves the session's next call), so it too ends within 2 s.

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
import queue
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


def _remotes(model) -> list:
    """The RemoteModel handles ``model`` (an AuditModel) predicts through: an uploaded file's sandboxed worker."""
    est = getattr(model, "estimator", None)
    remotes = (getattr(e, "remote", None) for e in (est, getattr(est, "inner", None)))
    return [r for r in remotes if r is not None]


def holds_worker(model) -> bool:
    """Whether ``model`` (an AuditModel) predicts through an uploaded file's sandboxed worker, which stays with this
    process (a copy sent to a job process would have none): run its jobs with ``in_process=True``."""
    return bool(_remotes(model))


def _workers_in(fn, args, kwargs) -> list:
    """The model workers the job's models (its arguments, or the object of a bound method) call."""
    found = []
    for obj in (getattr(fn, "__self__", None), *args, *kwargs.values()):
        for remote in _remotes(obj):
            worker = vars(remote).get("worker")
            if worker is not None and worker not in found:
                found.append(worker)
    return found


def run(fn, *args, progress: Callable | None = None, label: str = "The job", threads: int | None = None,
        cancel: threading.Event | None = None, in_process: bool = False, **kwargs):
    """``fn(*args, **kwargs)`` in a job process; returns its result or re-raises its exception.

    ``progress``: called in this thread with whatever the job passes to its ``progress=`` argument (given to
    ``fn`` only when set).  ``threads``: an upper bound on the job's torch threads (default: the free cores).
    ``cancel``: an event that, once set, kills the job and raises :class:`Cancelled`.  In a Streamlit script,
    Stop or a rerun kills the job and lets Streamlit's signal through.  ``in_process``: run it in a thread of
    this process (an uploaded model's worker cannot travel); Stop then kills the worker's child under the job's
    model call, so the job ends within the same 2 s (see :func:`_run_beside`).
    """
    if not process_mode():
        return _run_inline(fn, args, kwargs, progress, threads)
    check = page_check()
    note = _placeholder(check)
    try:
        return _run_bounded(fn, args, kwargs, progress, label, threads, cancel, in_process, check)
    except BaseException as exc:
        if note is not None and type(exc).__name__ == "StopException":
            _say_after_stop(note, STOPPED.format(label=label))
        raise


def _run_bounded(fn, args, kwargs, progress, label: str, threads, cancel, in_process: bool, check):
    budget = _take_slot(label, check, cancel)
    try:
        if in_process:
            return _run_beside(fn, args, kwargs, progress, label, check, cancel, threads or 1)
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


STOPPED = "{label} was stopped, as asked; nothing was kept. The rest of the page and your session are as they were."


def _placeholder(check):
    """An empty slot on the page for the job's stop note (None outside a script run)."""
    if check is None:
        return None
    import streamlit as st

    return st.empty()


def _say_after_stop(note, text: str) -> None:
    """Write ``text`` into ``note`` after the user pressed Stop.  Streamlit refuses every write from the script's
    own thread once Stop is pressed (it raises its stop signal again), so a short helper thread carrying the
    run's context writes it, before the signal ends the run."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import add_script_run_ctx, get_script_run_ctx

    def write():
        try:
            note.info(text, icon=":material/stop_circle:")
        except Exception:  # noqa: BLE001, S110 - the note is a courtesy; the stop itself has happened
            pass

    helper = threading.Thread(target=write, name="dlxai-job-stop-note", daemon=True)
    add_script_run_ctx(helper, get_script_run_ctx())
    helper.start()
    helper.join(2.0)


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


# --- a job in a thread of this process (its model predicts in a worker that cannot travel) ----------------------
STOP_WAIT_S = 1.5  # the most a stopped in-process job is waited for before the page's signal goes on
_DONE = object()


def _run_beside(fn, args, kwargs, progress, label: str, check, cancel, threads: int):
    """``fn`` in a thread of this process while this (the page's) thread draws its progress and checks for Stop
    every :data:`POLL_S`.  On Stop, a rerun or ``cancel``: the job's model workers end its call in flight (their
    child is killed, a fresh one serves the next call) and refuse its later calls, its progress callback raises,
    so the thread ends within :data:`STOP_WAIT_S`; whatever it raised then is dropped, as the process runner
    drops a killed process's."""
    updates: queue.SimpleQueue = queue.SimpleQueue()
    outcome: dict = {}
    stopped = threading.Event()

    def report(*values):
        if stopped.is_set():
            raise Cancelled(f"{label} was stopped.")
        updates.put(values)

    def job():
        try:
            outcome["ok"] = _run_inline(fn, args, kwargs, report if progress is not None else None, threads)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the page
            outcome["error"] = exc
        finally:
            for worker in workers:  # here too: a job that outlived STOP_WAIT_S may call again once it ended
                worker.resume(threading.get_ident())
            updates.put(_DONE)

    workers = _workers_in(fn, args, kwargs)
    thread = threading.Thread(target=job, name=f"dlxai-job {label}", daemon=True)
    thread.start()
    try:
        _follow_beside(updates, progress, label, check, cancel)
    except BaseException:
        stopped.set()
        for worker in workers:
            worker.interrupt(thread.ident)
        thread.join(STOP_WAIT_S)
        raise
    finally:
        if not thread.is_alive():
            for worker in workers:
                worker.resume(thread.ident)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["ok"]


def _follow_beside(updates, progress, label: str, check, cancel) -> None:
    while True:
        try:
            item = updates.get(timeout=POLL_S)
        except queue.Empty:
            item = None
        while item is not None:
            if item is _DONE:
                return
            if progress is not None:
                progress(*item)
            try:
                item = updates.get_nowait()
            except queue.Empty:
                item = None
        if check is not None:
            check()
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{label} was cancelled.")
