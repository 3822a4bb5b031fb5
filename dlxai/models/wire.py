"""What travels between the engine and a model's sandboxed worker (:mod:`dlxai.models.worker`).

* requests: :func:`serialize` pickles a call, its large arrays placed in an :class:`Arena` (shared memory);
* replies: :class:`ResultUnpickler` reads them, refusing anything but plain data and numpy arrays.
"""

from __future__ import annotations

import os
import pickle

_RESULT_GLOBALS = frozenset({
    ("builtins", "complex"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
    ("builtins", "bytearray"), ("builtins", "range"), ("collections", "OrderedDict"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
})


class ResultUnpickler(pickle.Unpickler):
    """Reads a worker's reply: plain data and numpy arrays only (the worker runs hostile code)."""

    def find_class(self, module, name):
        if (module, name) in _RESULT_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the worker sent a {module}.{name}; results must be plain data or numpy arrays")


# --- the arena: large arguments travel through shared memory --------------------------------------------
OUT_OF_BAND_BYTES = 1 << 16  # arrays at least this big go through the arena, smaller ones inside the pickle
_ALIGN = 64


class Arena:
    """A memfd both processes map: the engine copies a call's large arrays into it and sends only their places
    (streaming megabytes through the socket took as long as the model's own work on a busy machine).  Sealed
    against shrinking, so a worker cannot truncate it under the engine's mapping; the worker maps it read-only,
    and nothing the engine reads comes from it (replies travel in the socket)."""

    def __init__(self, size: int = 1 << 20):
        import fcntl

        self.fd = os.memfd_create("dlxai-arena", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
        self.size, self.mm = 0, None
        self._grow(size)

    def _grow(self, size: int) -> None:
        import mmap

        if self.mm is not None:
            self.mm.close()
        os.ftruncate(self.fd, size)
        self.size, self.mm = size, mmap.mmap(self.fd, size)

    def put(self, buffers: list) -> list[tuple[int, int]]:
        spans, end = [], 0
        for b in buffers:
            spans.append((end, b.nbytes))
            end += -(-b.nbytes // _ALIGN) * _ALIGN
        if end > self.size:
            self._grow(max(end, 2 * self.size))
        for (off, n), b in zip(spans, buffers):
            self.mm[off:off + n] = b
        return spans

    def close(self) -> None:
        if self.mm is not None:
            self.mm.close()
            self.mm = None
        os.close(self.fd)


def serialize(request: tuple, arena: Arena) -> bytes:
    """The request as ``pickle((pickle-without-large-arrays, their places in the arena))``."""
    large: list = []

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        try:
            raw = buf.raw()
        except BufferError:  # not contiguous: inside the pickle
            return True
        if raw.nbytes < OUT_OF_BAND_BYTES:
            return True
        large.append(raw)
        return False

    data = pickle.dumps(request, protocol=5, buffer_callback=out_of_band)
    return pickle.dumps((data, arena.put(large) if large else []), protocol=5)
