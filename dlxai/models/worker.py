"""Run uploaded models in a sandboxed worker process that can be killed, not abandoned.

A model that loops forever, allocates without bound, or tries the host's files, network or processes must not
take the engine with it.  :class:`ModelWorker` runs picklable top-level functions in a child process that has
confined itself before it runs any of them (dlxai/models/sandbox.py: rlimits, a cleared environment, no
capabilities, Landlock read-only file access, a seccomp filter).  Every wait has a deadline: on a time-out the
child is killed and the next call gets a fresh one; a child that dies (memory, CPU limit, a forbidden syscall)
becomes a clear :class:`~dlxai.errors.ModelResourceError`.

Workers fork from one *zygote* process that imported numpy/torch/onnxruntime once (``import torch`` alone
takes 3-4 s), so a worker is ready in a fraction of a second; :func:`prestart` warms the zygote in the
background when an app starts.

Results come back through a restricted unpickler: plain Python data and numpy arrays only.  A compromised
worker therefore cannot make the engine's process construct objects (torch tensors unpickle through
``torch.load`` and are refused: return ``tensor.numpy()``).
"""

from __future__ import annotations

import atexit
import builtins
import io
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

from dlxai import errors
from dlxai.errors import Cancelled, DlxaiError, ModelResourceError, ModelTimeoutError
from dlxai.models.sandbox import ENV_ALLOWLIST
from dlxai.models.wire import Arena, ResultUnpickler, serialize

# What the zygote imports before it forks.  Not onnxruntime: importing it starts a thread, and forking a
# process with threads can leave a lock held forever in the child; a worker imports it in ~0.1-0.4 s.
# pyseccomp and landlock look for their C libraries at import, which a confined worker could not do.
PRELOAD = ("numpy", "torch", "pyseccomp", "landlock")
ZYGOTE_START_S = 120.0  # importing torch under load on two shared cores can take tens of seconds
SPAWN_S = 30.0
_HEADER_SIZE = 8


@dataclass(frozen=True)
class WorkerLimits:
    """What a worker may use.  ``memory_mb`` is address space on top of what the preloaded libraries map."""

    memory_mb: int = 2048
    timeout_s: float = 60.0  # wall clock per call (the parent kills the worker)
    cpu_s: float = 120.0  # CPU seconds per call (RLIMIT_CPU; catches runaway threads before the wall clock)
    threads: int = 1  # torch intra-op threads per call, unless the call says otherwise
    max_open_files: int = 32  # descriptors the worker may open beyond those it starts with
    max_result_mb: int = 2048  # largest reply the parent reads
    lifetime_cpu_s: int = 3600  # RLIMIT_CPU hard limit; the worker is replaced before a call could reach it
    seccomp: bool = True
    landlock: bool = True


class _Dead(Exception):
    """The worker's channel closed (it exited or was killed)."""


class _Late(Exception):
    """A deadline passed while talking to the worker."""


# --- the zygote --------------------------------------------------------------------------------------
class _Zygote:
    """The process workers are forked from; started with a clean environment in its own session."""

    def __init__(self, preload=PRELOAD):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
        env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        code = (f"import sys; sys.path[:0] = {_import_path()!r}; from dlxai.models.sandbox import zygote_main; "
                f"zygote_main({theirs.fileno()}, {list(preload)!r})")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", code], env=env, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, cwd="/", start_new_session=True)
        theirs.close()
        self.sock, self.lock = ours, threading.Lock()
        try:
            self.ready = self._reply(ZYGOTE_START_S)
        except BaseException:
            self.close()
            raise

    def _reply(self, timeout: float) -> dict:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        except (TimeoutError, OSError) as exc:
            self.proc.kill()  # a late answer would be taken for the next one: start afresh instead
            raise RuntimeError(f"the model worker's zygote process did not answer within {timeout:g} s") from exc
        if not data:
            raise RuntimeError(f"the model worker's zygote process exited (code {self.proc.poll()})")
        return json.loads(data)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, limits: WorkerLimits, arena: int) -> tuple[int, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        msg = json.dumps({"op": "spawn", "limits": asdict(limits), "path": _import_path()}).encode()
        with self.lock:
            try:
                socket.send_fds(self.sock, [msg], [theirs.fileno(), arena])
                pid = self._reply(SPAWN_S)["pid"]
            finally:
                theirs.close()
        return pid, ours

    def reap(self, pid: int) -> int | None:
        """Kill ``pid`` if it still runs and collect its exit status."""
        with self.lock:
            self.sock.sendall(json.dumps({"op": "reap", "pid": pid}).encode())
            return self._reply(SPAWN_S)["status"]

    def close(self) -> None:
        self.sock.close()  # the zygote exits on end of stream
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_ZYGOTE: _Zygote | None = None
_ZYGOTE_LOCK = threading.Lock()


def _import_path() -> list[str]:
    return [os.path.abspath(p or ".") for p in sys.path if os.path.isdir(p or ".")]


def _zygote() -> _Zygote:
    global _ZYGOTE
    with _ZYGOTE_LOCK:
        if _ZYGOTE is None or not _ZYGOTE.alive():
            _ZYGOTE = _Zygote()
        return _ZYGOTE


def prestart() -> threading.Thread:
    """Start the zygote in the background (call once when the app starts), so the first worker is quick."""
    thread = threading.Thread(target=_zygote, name="dlxai-zygote", daemon=True)
    thread.start()
    return thread


@atexit.register
def shutdown() -> None:
    """Stop the zygote (and with it every idle worker); the next worker starts a fresh one."""
    global _ZYGOTE
    if _ZYGOTE is not None:
        _ZYGOTE.close()
        _ZYGOTE = None


def sandbox_status() -> str:
    """What a worker on this machine will be confined by, probed without starting one."""
    if sys.platform != "linux":
        return f"UNAVAILABLE: the sandboxed model worker needs Linux (this is {sys.platform})"
    parts = ["rlimits: AS (memory), CPU per call, FSIZE=0 (no file writes), CORE=0, NOFILE",
             "environment: cleared except " + ", ".join(ENV_ALLOWLIST)]
    try:
        import pyseccomp

        parts.append(f"seccomp: available (pyseccomp {pyseccomp.__version__})")
    except (ImportError, RuntimeError) as exc:
        parts.append(f"seccomp: UNAVAILABLE ({exc}); only rlimits and Landlock apply")
    try:
        import landlock

        parts.append(f"landlock: available (ABI {landlock.landlock_abi_version()})")
    except Exception as exc:  # noqa: BLE001 - ImportError, or the kernel lacks it
        parts.append(f"landlock: unavailable ({type(exc).__name__}: {exc})")
    if os.geteuid() == 0:
        parts.append("root: capabilities are dropped in the worker")
    return "; ".join(parts)


# --- the worker ---------------------------------------------------------------------------------------
class ModelWorker:
    """One sandboxed child process; ``call`` runs a function in it and returns the result.

    ``fn`` must be a picklable top-level function (pickled by reference: the worker imports its module) and
    its arguments picklable; the result must be plain data or numpy arrays.  Calls are serialised.  Use as a
    context manager, or call :meth:`close`.
    """

    def __init__(self, limits: WorkerLimits | None = None):
        self.limits = limits or WorkerLimits()
        self._lock = threading.RLock()
        self._pid: int | None = None
        self._sock: socket.socket | None = None
        self._arena: Arena | None = None
        self._cpu_used = 0.0
        self._installed: list[tuple] = []
        self.info: dict = {}
        self.generation = 0  # how many children this worker has started (a replacement increments it)
        self._stopped: set[int] = set()  # threads whose calls end at once (their job was stopped): see interrupt
        self._caller: int | None = None  # the thread whose call is in flight
        self._shut: socket.socket | None = None  # a channel interrupt shut (its call may have ended just before)
        self.start_seconds = 0.0  # fork + sandbox set-up of the latest child (the zygote already running)

    # lifecycle
    def start(self) -> ModelWorker:
        """Start the child now (``call`` does it on demand) and replay :meth:`install`-ed setup calls."""
        with self._lock:
            if self._sock is None:
                self._spawn()
        return self

    def _spawn(self) -> None:
        try:
            zygote = _zygote()
            t0 = time.perf_counter()
            arena = Arena()
            try:
                pid, sock = zygote.spawn(self.limits, arena.fd)
            except BaseException:
                arena.close()
                raise
        except (OSError, RuntimeError) as exc:
            raise ModelResourceError(errors.MODEL_WORKER_DIED.format(how=f"it could not be started: {exc}",
                                                                     what="the sandbox set-up")) from exc
        self._pid, self._sock, self._arena, self._cpu_used = pid, sock, arena, 0.0
        self.generation += 1
        try:
            kind, *rest = self._receive(time.monotonic() + SPAWN_S)
        except (_Dead, _Late) as exc:
            self._discard()
            raise ModelResourceError(errors.MODEL_WORKER_DIED.format(
                how=f"it did not start: {type(exc).__name__}", what="the sandbox set-up")) from None
        if kind != "hello":
            self._discard()
            raise ModelResourceError(errors.MODEL_WORKER_DIED.format(how=f"sandbox set-up failed: {rest[0]}",
                                                                     what="the sandbox set-up"))
        self.info = rest[0]
        self.start_seconds = time.perf_counter() - t0
        try:
            for fn, args, timeout_s in self._installed:
                self._call(fn, args, timeout_s, None, None, f"set-up {getattr(fn, '__name__', fn)}")
        except BaseException:
            self._discard()  # never leave a worker up without the model its callers expect
            raise

    def close(self) -> None:
        with self._lock:
            self._discard()

    def __enter__(self) -> ModelWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        # Only close the channel: an idle child exits at end of stream and the zygote reaps it.  (Reaping here
        # would take the zygote's lock from inside the garbage collector, possibly while this thread holds it.)
        sock, arena = getattr(self, "_sock", None), getattr(self, "_arena", None)
        if sock is not None:
            sock.close()
        if arena is not None:
            arena.close()

    def _discard(self) -> int | None:
        """Kill and reap the child (if any); returns its wait status."""
        pid, sock, arena = self._pid, self._sock, self._arena
        self._pid = self._sock = self._arena = self._shut = None
        if sock is not None:
            sock.close()
        if arena is not None:
            arena.close()
        if pid is None:
            return None
        zygote = _ZYGOTE
        if zygote is None or not zygote.alive():
            return None  # its zygote is gone, and with it (PDEATHSIG) the child
        try:
            return zygote.reap(pid)
        except (OSError, RuntimeError):
            return None

    @property
    def status(self) -> str:
        """What the running child applied to itself (start it first)."""
        if not self.info:
            return "not started"
        return "; ".join(f"{k}: {v}" for k, v in self.info.items() if k != "pid")

    # calls
    def install(self, fn, *args, timeout_s: float | None = None):
        """Run ``fn(*args)`` now and again first thing in every replacement child (e.g. load a model into
        :data:`dlxai.models.sandbox.STATE`); returns the first run's result."""
        with self._lock:
            result = self.call(fn, *args, timeout_s=timeout_s, what=f"set-up {getattr(fn, '__name__', fn)}")
            self._installed.append((fn, args, timeout_s))
            return result

    def call(self, fn, *args, timeout_s: float | None = None, cpu_s: float | None = None,
             threads: int | None = None, what: str | None = None):
        """``fn(*args)`` in the worker.  Raises :class:`ModelTimeoutError` after ``timeout_s`` (the child is
        killed; the next call starts a new one), :class:`ModelResourceError` if the child runs out of memory,
        CPU time, or dies; otherwise re-raises the function's own error (dlxai errors and builtin
        exceptions keep their class; others become RuntimeError), with the worker's traceback as a note."""
        what = what or getattr(fn, "__name__", "a model call")
        with self._lock:
            self._caller = threading.get_ident()  # first, then the check: interrupt sets the flag, then reads this
            try:
                spent = self._cpu_used + (cpu_s or self.limits.cpu_s) >= self.limits.lifetime_cpu_s
                if self._sock is not None and (spent or self._sock is self._shut):
                    self._discard()
                if self._sock is None:
                    self._spawn()
                return self._call(fn, args, timeout_s, cpu_s, threads, what)
            finally:
                self._caller = None

    def interrupt(self, thread: int) -> None:
        """From any thread: ``thread``'s call in flight ends at once with :class:`~dlxai.errors.Cancelled` (its child
        is killed; the next call starts a fresh one), and so do its later calls until :meth:`resume`.  For Stop on a
        job that runs an uploaded model in the server process (ui/jobs.py)."""
        self._stopped.add(thread)
        sock = self._sock
        if sock is not None and self._caller == thread:
            self._shut = sock
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read in ``thread``, which then reaps the child
            except OSError:
                pass

    def resume(self, thread: int) -> None:
        """Let ``thread`` call again (its stopped job has ended)."""
        self._stopped.discard(thread)

    def _refuse_stopped(self, what: str) -> None:
        if threading.get_ident() in self._stopped:
            raise Cancelled(errors.MODEL_CALL_STOPPED.format(what=what))

    def _call(self, fn, args, timeout_s, cpu_s, threads, what):
        self._refuse_stopped(what)
        timeout = float(timeout_s if timeout_s is not None else self.limits.timeout_s)
        cpu = float(cpu_s if cpu_s is not None else self.limits.cpu_s)
        request = serialize(("call", fn, args, int(threads or self.limits.threads), cpu), self._arena)
        deadline = time.monotonic() + timeout
        try:
            self._send(request, deadline)
            reply = self._receive(deadline)
        except _Late:
            self._discard()
            raise ModelTimeoutError(errors.MODEL_TIMEOUT.format(seconds=timeout, what=what)) from None
        except _Dead:
            status = self._discard()
            self._refuse_stopped(what)  # the channel was shut by interrupt, not by the model
            raise self._death(status, what, cpu) from None
        self._cpu_used = reply[-1]
        if reply[0] == "ok":
            return reply[1]
        raise _rebuild(reply, what, self.limits)

    def _death(self, status: int | None, what: str, cpu: float) -> ModelResourceError:
        if status is not None and os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                return ModelResourceError(errors.MODEL_CPU_LIMIT.format(seconds=cpu, what=what))
            how = f"killed by {signal.Signals(sig).name}"
            if sig == signal.SIGSYS:
                how += ", a system call the sandbox forbids"
            elif sig == signal.SIGKILL:
                how += ", e.g. the machine ran out of memory"
        elif status is not None and os.WIFEXITED(status):
            how = f"exit code {os.WEXITSTATUS(status)}"
        else:
            how = "its exit status is unknown"
        return ModelResourceError(errors.MODEL_WORKER_DIED.format(how=how, what=what))

    # the channel: every wait has a deadline
    def _send(self, payload: bytes, deadline: float) -> None:
        try:
            for part in (len(payload).to_bytes(_HEADER_SIZE, "big"), payload):
                self._sock.settimeout(max(deadline - time.monotonic(), 1e-3))
                self._sock.sendall(part)
        except TimeoutError:
            raise _Late() from None
        except OSError:
            raise _Dead() from None

    def _read(self, n: int, deadline: float) -> bytes:
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Late()
            self._sock.settimeout(remaining)
            try:
                k = self._sock.recv_into(view[got:])
            except TimeoutError:
                raise _Late() from None
            except OSError:
                raise _Dead() from None
            if k == 0:
                raise _Dead()
            got += k
        return bytes(buf)

    def _receive(self, deadline: float) -> tuple:
        size = int.from_bytes(self._read(_HEADER_SIZE, deadline), "big")
        if size > self.limits.max_result_mb * 2**20:
            self._discard()
            raise ModelResourceError(errors.MODEL_WORKER_DIED.format(
                how=f"it sent {size:,} bytes, over the {self.limits.max_result_mb:,} MB limit", what="a reply"))
        try:
            return ResultUnpickler(io.BytesIO(self._read(size, deadline))).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
            self._discard()
            raise ModelResourceError(errors.MODEL_WORKER_DIED.format(
                how=f"its reply was refused ({exc})", what="a reply")) from None


def _rebuild(reply: tuple, what: str, limits: WorkerLimits) -> BaseException:
    """The parent-side exception for an ("error", kind, module, name, message, attrs, traceback, cpu) reply."""
    _, kind, module, name, message, attrs, tb, _cpu = reply
    if kind == "memory":
        exc: BaseException = ModelResourceError(errors.MODEL_OUT_OF_MEMORY.format(limit_mb=limits.memory_mb, what=what))
    else:
        cls = None
        if module.startswith("dlxai.") and module in sys.modules:  # never import a module the worker names
            found = getattr(sys.modules[module], name, None)
            cls = found if isinstance(found, type) and issubclass(found, DlxaiError) else None
        elif module == "builtins":
            found = getattr(builtins, name, None)
            cls = found if isinstance(found, type) and issubclass(found, Exception) else None
        if cls is None:
            exc = RuntimeError(f"{module}.{name}: {message}")
        else:
            exc = cls.__new__(cls)
            exc.args = (message,)
            exc.__dict__.update(attrs)
    exc.add_note(f"In the model worker, running {what}:\n{tb}")
    return exc
