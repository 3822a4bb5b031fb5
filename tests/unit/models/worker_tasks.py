"""Functions the worker tests run inside the sandbox (top level, so they pickle by reference).

Each returns plain data describing what happened, so the test in the parent decides pass/fail.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess

import numpy as np


def _outcome(fn) -> str:
    try:
        return f"ok: {fn()!r}"
    except Exception as exc:  # noqa: BLE001 - the failure is the observation
        return f"{type(exc).__name__}: {exc}"


def write_files(path: str, existing: str) -> dict:
    def append():
        with open(existing, "a") as fh:
            fh.write("tampered")

    def create():
        with open(path, "w") as fh:
            fh.write("escaped")

    return {"create": _outcome(create), "os.open": _outcome(lambda: os.open(path, os.O_WRONLY | os.O_CREAT)),
            "append": _outcome(append), "remove": _outcome(lambda: os.remove(existing))}


def open_sockets(port: int) -> dict:
    return {"socket": _outcome(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
            "connect": _outcome(lambda: socket.create_connection(("127.0.0.1", port), timeout=2)),
            "unix": _outcome(lambda: socket.socket(socket.AF_UNIX))}


def start_processes(marker: str) -> dict:
    def fork():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        return pid

    return {"subprocess": _outcome(lambda: subprocess.run(["touch", marker], check=True)),
            "os.system": _outcome(lambda: os.system(f"touch {marker}")), "os.fork": _outcome(fork)}


def read_secrets(engine_pid: int) -> dict:
    def read(path):
        with open(path, "rb") as fh:
            return fh.read().decode(errors="replace")

    return {"environ": dict(os.environ), "self": _outcome(lambda: read("/proc/self/environ")),
            "zygote": _outcome(lambda: read(f"/proc/{os.getppid()}/environ")),
            "engine": _outcome(lambda: read(f"/proc/{engine_pid}/environ")),
            "engine memory": _outcome(lambda: read(f"/proc/{engine_pid}/mem")),
            "signal engine": _outcome(lambda: os.kill(engine_pid, 0))}


def read_files(paths: list[str]) -> dict:
    def read(path):
        with open(path, "rb") as fh:
            return len(fh.read())

    return {p: _outcome(lambda p=p: read(p)) for p in paths}


def allocate(mb: int) -> float:
    return float(np.ones(mb * 2**20 // 8).sum())


def spin() -> None:
    while True:
        pass


def spin_threads(n: int) -> None:
    import threading

    def busy():
        while True:
            pass

    for _ in range(n):
        threading.Thread(target=busy, daemon=True).start()
    busy()


def die() -> None:
    os.kill(os.getpid(), 9)


def raise_(kind: str) -> None:
    from dlxai.errors import UserInputError

    raise {"dlxai": UserInputError, "builtin": KeyError}.get(kind, type("Custom", (Exception,), {}))("boom")


def return_tensor():
    import torch

    return torch.ones(2)


def mlp_step(seed: int) -> tuple:
    """A small MLP forward + backward (threads set by the worker); returns the loss and the gradients."""
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    x, y = torch.randn(256, 20), torch.randint(0, 2, (256,))
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    return float(loss.detach()), net[0].weight.grad.numpy().copy(), torch.get_num_threads()


def onnx_relu_affine(model: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    from dlxai.models.sandbox import worker_threads

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = worker_threads()
    sess = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def load_torchscript(key: str, raw: bytes) -> str:
    """Vet, then load, a TorchScript archive into the worker's STATE (what the engine's loader will do)."""
    import torch

    from dlxai.models.sandbox import STATE
    from dlxai.models.vetting import vet_torchscript

    vet_torchscript(raw, key)
    STATE[key] = torch.jit.load(io.BytesIO(raw), map_location="cpu").eval()
    return type(STATE[key]).__name__


def predict_torchscript(key: str, X: np.ndarray) -> np.ndarray:
    import torch

    from dlxai.models.sandbox import STATE

    with torch.no_grad():
        return torch.softmax(STATE[key](torch.from_numpy(X)), dim=1).double().numpy()


def pid() -> int:
    return os.getpid()


def checksum(arrays: list) -> list:
    """What arrived: (shape, dtype, sum, first values) per array, and whether each may be written (a private copy)."""
    out = []
    for a in arrays:
        a[...] = a  # a copy of the arena's bytes, not a read-only view of them
        out.append((a.shape, str(a.dtype), float(np.asarray(a, dtype=np.float64).sum()), a.ravel()[:3].tolist()))
    return out


def shrink_the_arena() -> list:
    """Try to truncate every descriptor the worker holds (the arena among them) to nothing."""
    results = []
    for fd in range(3, 256):
        try:
            os.ftruncate(fd, 0)
            results.append((fd, "truncated"))
        except OSError as exc:
            results.append((fd, exc.errno))
    return results
