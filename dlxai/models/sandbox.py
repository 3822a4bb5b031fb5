"""The inside of the model worker: the zygote that forks workers, and the limits each worker puts on itself.

Process tree: the engine's process starts one *zygote* (``python -I``, a clean environment, its own session)
which imports numpy/torch/onnxruntime once and then only forks; each fork becomes a worker that, before it
reads its first request, closes every inherited descriptor but its channel, clears its environment, drops
root's capabilities, sets rlimits, restricts file access with Landlock and installs a seccomp filter.  Only
then does it unpickle and run the functions the parent sends (dlxai/models/worker.py is the parent's side).

The zygote runs no model code, so it holds nothing a model could reach; a worker never sees the engine's
environment, memory or descriptors.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import math
import mmap
import os
import pickle
import resource
import signal
import socket
import struct
import sys
import time
import traceback

# Environment variables a worker keeps (from the zygote's, which the parent already filtered).
ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# Read-only locations a worker may open under Landlock, besides the interpreter's prefixes and sys.path.
READ_PATHS = ("/usr", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/localtime", "/dev/null", "/dev/urandom",
              "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/sys/devices/system/cpu", "/sys/fs/cgroup")
# Syscalls a worker may not make at all: networking, new processes, debugging other processes, mounts,
# kernel modules/keys/bpf, io_uring (it bypasses seccomp's view of file access), and changing the file tree.
DENIED_SYSCALLS = (
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "execve", "execveat", "fork",
    "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "tkill", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "keyctl", "add_key", "request_key", "creat", "openat2",
    "open_by_handle_at", "name_to_handle_at", "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir",
    "mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown",
    "fchown", "lchown", "fchownat", "truncate", "mknod", "mknodat", "memfd_create", "setuid", "setgid",
    "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "capset", "personality", "swapon",
    "swapoff", "reboot", "sethostname", "setdomainname", "acct", "quotactl", "syslog", "iopl", "ioperm",
    "fanotify_init", "kcmp",
)
_CLONE_THREAD = 0x00010000
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C
_HEADER = struct.Struct("!Q")
_PR_SET_PDEATHSIG = 1
_M_ARENA_MAX = -8

STATE: dict = {}  # per-worker storage for loaded models (see ModelWorker.install)
_THREADS = [1]


def worker_threads() -> int:
    """The thread count the current call was given (set torch's already; use it for onnxruntime sessions)."""
    return _THREADS[0]


# --- framing (the worker's side; the parent's, with deadlines, is in worker.py) --------------------
def write_frame(fd: int, payload: bytes) -> None:
    """Blocking write of one length-prefixed message (the worker's side)."""
    for part in (_HEADER.pack(len(payload)), payload):
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view):]


def read_frame(fd: int) -> bytearray | None:
    """Blocking read of one message; None at end of stream (the parent went away)."""
    head = _read_exact(fd, _HEADER.size)
    return None if head is None else _read_exact(fd, _HEADER.unpack(head)[0])


def _read_exact(fd: int, n: int) -> bytearray | None:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            return None
        got += k
    return buf


# --- the zygote ------------------------------------------------------------------------------------
def zygote_main(ctl_fd: int, preload: list[str]) -> None:
    """Import ``preload`` once, then fork a sandboxed worker for every request on the control socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctl = socket.socket(fileno=ctl_fd)
    t0, imported = time.perf_counter(), []
    for name in preload:
        try:
            __import__(name)
            imported.append(name)
        except Exception:  # noqa: BLE001 - a missing optional library: workers import it themselves or do without
            pass
    ctl.send(json.dumps({"ready": imported, "seconds": time.perf_counter() - t0}).encode())
    exited: dict[int, int] = {}  # workers that ended on their own, until the engine asks (or forgets)
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(ctl, 1 << 16, 2)
        except OSError:
            data, fds = b"", []
        if not data:  # the engine's process is gone; its workers die with the zygote (PDEATHSIG)
            os._exit(0)
        msg = json.loads(data)
        _collect(exited)
        if msg["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                ctl.close()
                _worker_main(fds[0], fds[1], msg["limits"], msg["path"])
            for fd in fds:
                os.close(fd)
            ctl.send(json.dumps({"pid": pid}).encode())
        elif msg["op"] == "reap":
            status = exited.pop(msg["pid"], None)
            ctl.send(json.dumps({"status": status if status is not None else _reap(msg["pid"])}).encode())


def _collect(exited: dict[int, int]) -> None:
    """Reap workers that already ended (e.g. their engine-side object was garbage-collected)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exited[pid] = status
        if len(exited) > 4096:
            exited.pop(next(iter(exited)))


def _reap(pid: int) -> int | None:
    """Kill a worker that is still ours (alive or a zombie) and return its wait status."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


# --- a worker ------------------------------------------------------------------------------------
def _worker_main(fd: int, arena: int, limits: dict, path: list[str]) -> None:
    """Runs in the forked child: lock itself down, say hello, then serve calls until the channel closes.
    ``arena``: the engine's shared memory (a sealed memfd) that large arguments arrive in."""
    code = 0
    try:
        try:
            info = apply_sandbox((fd, arena), limits, path)
        except BaseException as exc:  # noqa: BLE001 - report why, then exit: never run code unconfined
            step = traceback.extract_tb(exc.__traceback__)[-1]
            write_frame(fd, pickle.dumps(("setup-failed", f"{type(exc).__name__}: {exc} (in {step.name}, "
                                                          f"line {step.lineno})")))
            os._exit(70)
        write_frame(fd, pickle.dumps(("hello", info)))
        _serve(fd, arena)
    except BaseException:  # noqa: BLE001
        code = 71
    finally:
        os._exit(code)


def _arguments(request, arena: int) -> tuple:
    """A request's ``(pickle, [(offset, length), ...])`` -> the call it holds; its arrays' bytes are copied out of
    the arena (one memory copy instead of streaming them through the socket; a copy, so the engine can reuse the
    arena while the function keeps what it was given).  Runs inside the worker on requests the engine wrote to this
    worker's private pipe; an upload's bytes are a plain bytes argument in them, never unpickled (the engine reads
    the worker's replies with a restricted unpickler, ``wire.ResultUnpickler``)."""
    data, spans = request
    if not spans:
        return pickle.loads(data)
    end = max(off + n for off, n in spans)
    with mmap.mmap(arena, end, prot=mmap.PROT_READ) as mm:
        view = memoryview(mm)
        try:
            buffers = [bytearray(view[off:off + n]) for off, n in spans]
        finally:
            view.release()
    return pickle.loads(data, buffers=buffers)


def _serve(fd: int, arena: int) -> None:
    import threading

    threading.excepthook = lambda args: None
    while True:
        request = read_frame(fd)
        if request is None:
            return
        try:
            # the request comes from the engine over this worker's private pipe (ModelWorker.call), never from an
            # upload: an uploaded model's bytes arrive inside it as a plain bytes argument, not as a pickle
            _op, fn, args, threads, cpu_s = _arguments(pickle.loads(request), arena)
        except Exception as exc:  # noqa: BLE001 - e.g. the function's module cannot be imported here
            write_frame(fd, pickle.dumps((*_error_reply(exc), _cpu_used())))
            continue
        _THREADS[0] = threads
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(threads)
        used = _cpu_used()
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (min(math.ceil(used + cpu_s), hard), hard))  # whole seconds
        try:
            reply = ("ok", fn(*args))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent as data
            reply = _error_reply(exc)
        finally:
            resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        try:
            payload = pickle.dumps((*reply, _cpu_used()), protocol=5)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result
            payload = pickle.dumps((*_error_reply(TypeError(f"the result cannot be sent back: {exc}")), _cpu_used()))
        write_frame(fd, payload)


def _cpu_used() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


_MEMORY_HINTS = ("can't allocate memory", "cannot allocate memory", "bad_alloc", "failed to allocate", "out of memory")


def _error_reply(exc: BaseException) -> tuple:
    """("error", kind, module, class name, message, plain attributes, traceback text) - data only, no objects."""
    text = str(exc)
    memory = isinstance(exc, MemoryError) or any(h in text.lower() for h in _MEMORY_HINTS)
    attrs = {k: v for k, v in vars(exc).items() if _plain(v)} if hasattr(exc, "__dict__") else {}
    tb = "".join(traceback.format_exception(exc))[-6000:]
    return ("error", "memory" if memory else "raised", type(exc).__module__, type(exc).__qualname__,
            text[:4000], attrs, tb)


def _plain(value, depth: int = 0) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)) and depth < 3:
        return all(_plain(v, depth + 1) for v in value)
    return False


# --- the limits ---------------------------------------------------------------------------------
def apply_sandbox(fds: tuple[int, ...], limits: dict, path: list[str]) -> dict:
    """Confine the current (freshly forked) process; returns what was applied, for ``sandbox_status``."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    _keep_only_fds(fds)
    sys.path[:] = path
    sys.dont_write_bytecode = True
    os.chdir("/")
    keep = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    os.environ.clear()
    os.environ.update(keep)
    libc.mallopt(_M_ARENA_MAX, 2)  # each thread's arena reserves 64 MB of address space otherwise
    info = {"pid": os.getpid(), "env": sorted(keep)}
    info["capabilities"] = _drop_capabilities(libc) if os.geteuid() == 0 else "not root"
    info["rlimits"] = _set_rlimits(limits)
    info["landlock"] = _landlock(path) if limits.get("landlock", True) else "off (disabled)"
    info["seccomp"] = _seccomp() if limits.get("seccomp", True) else "off (disabled)"
    return info


def _keep_only_fds(fds: tuple[int, ...]) -> None:
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    for name in os.listdir("/proc/self/fd"):
        n = int(name)
        if n > 2 and n not in fds:
            try:
                os.close(n)
            except OSError:
                pass


def _drop_capabilities(libc) -> str:
    """Root in a container keeps uid 0 but loses every capability: it can no longer raise hard rlimits,
    override file permissions, or ptrace (read the memory or environment of) other root processes."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    return "dropped (uid 0 without capabilities)"


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _set_rlimits(limits: dict) -> dict:
    """Address space = what the preloaded libraries already map + ``memory_mb``; no files written, no core
    dumps, few descriptors; CPU time per call is set before each call under a lifetime hard limit."""
    address = _vm_size() + int(limits["memory_mb"]) * 2**20
    nofile = len(os.listdir("/proc/self/fd")) + int(limits["max_open_files"])
    lifetime = int(limits["lifetime_cpu_s"])
    for res, value in ((resource.RLIMIT_AS, address), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_NOFILE, nofile), (resource.RLIMIT_CPU, lifetime)):
        resource.setrlimit(res, (value, value))
    return {"AS": address, "FSIZE": 0, "CORE": 0, "NOFILE": nofile, "CPU": lifetime,
            "NPROC": "not set (counts all of the user's processes; seccomp forbids new processes instead)"}


def _readable(path: list[str]) -> set[str]:
    """What a worker may read: the interpreter's prefixes (the venv), system libraries, its own /proc entry,
    and from every other sys.path entry (a project folder) only its packages and modules, so files beside
    them (``.streamlit/secrets.toml``, ``.env``, data) stay closed."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    allowed = {*prefixes, *READ_PATHS, f"/proc/{os.getpid()}"}
    for entry in path:
        real = os.path.realpath(entry)
        if any(real == p or real.startswith(p + os.sep) for p in prefixes) or not os.path.isdir(real):
            continue
        for name in os.listdir(real):
            full = os.path.join(real, name)
            if name.startswith("."):
                continue
            if name.endswith(".py") or os.path.isfile(os.path.join(full, "__init__.py")):
                allowed.add(full)
    return allowed


def _landlock(path: list[str]) -> str:
    try:
        import landlock
    except ImportError:
        return "off (the landlock package is not installed)"
    try:
        abi = landlock.landlock_abi_version()
        read_dir = landlock.FSAccess.READ_FILE | landlock.FSAccess.READ_DIR
        ruleset = landlock.Ruleset()  # handles every file-system right: what is not allowed below is denied
        for p in sorted(_readable(path)):
            if os.path.exists(p):
                ruleset.allow(p, rules=read_dir if os.path.isdir(p) else landlock.FSAccess.READ_FILE)
        ruleset.apply()
    except Exception as exc:  # noqa: BLE001 - old kernel, LSM disabled, ...: say so, keep the other walls
        return f"off ({type(exc).__name__}: {exc})"
    return f"on (ABI {abi}): read-only access to the interpreter, system libraries and importable packages"


def _seccomp() -> str:
    try:
        import pyseccomp as sc
    except (ImportError, RuntimeError) as exc:  # RuntimeError: libseccomp.so is missing
        return f"off (pyseccomp/libseccomp unavailable: {exc})"
    eperm, me = sc.ERRNO(errno.EPERM), os.getpid()
    flt = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            flt.add_rule(eperm, name)
        except (OSError, ValueError):  # not a syscall on this architecture
            pass
    flt.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))  # processes, not threads
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # flags sit behind a pointer; glibc falls back to clone
    for call, arg in (("open", 1), ("openat", 2)):
        for mask, value in ((os.O_ACCMODE, os.O_WRONLY), (os.O_ACCMODE, os.O_RDWR), (os.O_CREAT, os.O_CREAT),
                            (os.O_TRUNC, os.O_TRUNC), (os.O_APPEND, os.O_APPEND)):
            flt.add_rule(eperm, call, sc.Arg(arg, sc.MASKED_EQ, mask, value))
    for call in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):  # signal only itself
        flt.add_rule(eperm, call, sc.Arg(0, sc.NE, me))
    flt.add_rule(eperm, "prlimit64", sc.Arg(0, sc.NE, 0))  # only its own limits (pid 0 = itself)
    for request in (_TIOCSTI, _TIOCLINUX):  # typing into the terminal the server runs in
        flt.add_rule(eperm, "ioctl", sc.Arg(1, sc.EQ, request))
    flt.load()
    return (f"on (pyseccomp {sc.__version__}): EPERM for sockets, exec, fork/vfork/clone of processes, ptrace, "
            "mounts, signals to other processes, opening files for writing, changing the file tree")
