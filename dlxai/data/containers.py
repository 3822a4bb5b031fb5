"""Compressed uploads (gzip, bz2, xz, zip) unpacked in bounded pieces: a size and ratio cap stops zip bombs while
they unpack, several members one after another are read whole, and bytes after the last member are refused."""

from __future__ import annotations

import bz2
import io
import lzma
import zipfile
import zlib

from dlxai import errors
from dlxai.errors import UserInputError

MAX_COMPRESSION_RATIO = 200  # real CSV compresses 5-20x; 1000x+ is a bomb
MAGIC = {
    b"PAR1": "parquet",
    b"PK\x03\x04": "zip",
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
}


def sniff_container(raw: bytes) -> str | None:
    for magic, kind in MAGIC.items():
        if raw.startswith(magic):
            return kind
    return None


def _bounded(chunks, name: str, n_compressed: int, max_bytes: int) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > max_bytes or (len(out) > 50_000_000 and len(out) > MAX_COMPRESSION_RATIO * n_compressed):
            raise UserInputError(errors.UPLOAD_DECOMPRESSION_BOMB.format(
                name=name, compressed=n_compressed, limit=max_bytes, ratio=MAX_COMPRESSION_RATIO))
    return bytes(out)


_STREAMS = {"gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), "bz2": bz2.BZ2Decompressor,
            "xz": lzma.LZMADecompressor}


def _member(d, data: bytes, step: int):
    """One compressed member of ``data`` in pieces of at most ``step`` bytes; ``d.unused_data`` is what follows."""
    if hasattr(d, "unconsumed_tail"):  # zlib
        while not d.eof:
            piece = d.decompress(data, step)
            stuck = not piece and d.unconsumed_tail == data
            data = d.unconsumed_tail
            if piece:
                yield piece
            elif stuck or not data:
                break
    else:  # bz2 / lzma
        yield d.decompress(data, step)
        while not d.eof and not d.needs_input:
            yield d.decompress(b"", step)
    if not d.eof:
        raise EOFError("the compressed stream ends early (truncated file)")


def _stream(make, magic: bytes, raw: bytes, step: int = 1 << 20):
    """Decompress ``raw`` in pieces (never the whole output at once), member after member (``cat a.gz b.gz``,
    pbzip2 and pixz write several); bytes after the last member that begin no new one are refused."""
    data = raw
    while True:
        d = make()
        yield from _member(d, data, step)
        data = d.unused_data
        if not data.strip(b"\x00"):  # nothing, or the zero padding some tape-era tools add
            return
        if not data.startswith(magic):
            raise ValueError(f"{len(data):,} bytes after the compressed data are not part of it")


def decompress(raw: bytes, kind: str, name: str, max_bytes: int) -> tuple[bytes, str]:
    try:
        if kind in _STREAMS:
            make = _STREAMS[kind]
            magic = next(m for m, k in MAGIC.items() if k == kind)
            return _bounded(_stream(make, magic, raw), name, len(raw), max_bytes), name
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX")]
            if len(members) != 1:
                raise UserInputError(errors.UPLOAD_ZIP_MEMBERS.format(
                    name=name, n=len(members), members=[m.filename for m in members][:5]))
            info = members[0]
            if info.file_size > max_bytes or (
                info.file_size > 50_000_000 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
            ):
                raise UserInputError(errors.UPLOAD_DECOMPRESSION_BOMB.format(
                    name=name, compressed=len(raw), limit=max_bytes, ratio=MAX_COMPRESSION_RATIO))
            with zf.open(info) as fh:  # the declared size may lie: read in bounded pieces anyway
                return _bounded(iter(lambda: fh.read(1 << 20), b""), name, len(raw), max_bytes), info.filename
    except UserInputError:
        raise
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, ValueError, RuntimeError,
            NotImplementedError) as exc:
        raise UserInputError(errors.UPLOAD_BAD_COMPRESSION.format(name=name, kind=kind, detail=exc)) from exc
