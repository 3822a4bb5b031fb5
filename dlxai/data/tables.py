"""A user's table file (CSV or Parquet, plain or gzip/bz2/xz/zip-compressed) -> a DataFrame, bounded.

:func:`read_table` -> :class:`ParsedTable`.  The file may be hostile, so every step is bounded before it
costs anything: the size from ``os.stat`` or a streamed count before the bytes are held; decompression in
pieces with a size and ratio cap (zip bombs); Parquet refused from its metadata (rows, an estimate of the
memory it takes once read, nested columns) before anything is materialised; delimiter detection by counting
fields on a bounded sample (``csv.Sniffer``'s regexes took 20 s on a crafted 60 KB file); the header read
whole, however wide, so duplicate names are found anywhere in it.  Every problem is a
:class:`UserInputError` with a message from :mod:`dlxai.errors`; nothing else escapes.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd

from dlxai import errors
from dlxai.data.containers import MAX_COMPRESSION_RATIO, decompress, sniff_container
from dlxai.errors import UserInputError

DEFAULT_MAX_BYTES = 1_500_000_000  # 1M rows x 100 numeric columns is ~0.8 GB of CSV
DEFAULT_MAX_MEMORY = 2_000_000_000  # the app's target peak (benchmarks/uploads.py): a read may not plan for more
DEFAULT_MAX_ROWS = 20_000_000  # audits, bootstraps and training are sized for a few million rows
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 50
READ_CHUNK = 16 << 20
DELIMITERS = ",;\t|"
CONSISTENT = 0.9  # a delimiter giving the same field count on >= 90 % of the sampled records is consistent
NA_VALUES = ["?", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", ""]



@dataclass(frozen=True)
class ParsedTable:
    """A user's table as parsed, plus how it was read (shown to the user)."""

    frame: pd.DataFrame
    name: str
    format: str  # "csv" or "parquet"
    encoding: str | None
    delimiter: str | None
    n_bytes: int
    compression: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return self.frame.shape


# --- source -> bytes, size checked first -----------------------------------------------------------
def _read_bounded(fh, name: str, max_bytes: int) -> bytes:
    """Read a stream in pieces, refusing it as soon as it passes ``max_bytes`` (it may never end)."""
    parts, total = [], 0
    while True:
        part = fh.read(READ_CHUNK)
        if not part:
            return b"".join(parts)
        if isinstance(part, str):
            raise UserInputError(f"{name!r} was opened as text; open it in binary mode ('rb') or pass its path.")
        total += len(part)
        if total > max_bytes:
            raise UserInputError(errors.UPLOAD_TOO_LARGE_STREAM.format(name=name, limit=max_bytes))
        parts.append(bytes(part))


def _as_bytes(data, name: str, max_bytes: int) -> bytes:
    """The file's bytes from bytes, a path or a file object; its size is known (or counted) before it is held."""
    def check(size: int) -> None:
        if size > max_bytes:
            raise UserInputError(errors.UPLOAD_TOO_LARGE.format(name=name, size=size, limit=max_bytes))

    if isinstance(data, (bytes, bytearray, memoryview)):
        check(memoryview(data).nbytes)
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        try:
            check(regular_file_size(data))
            with open(data, "rb") as fh:
                return _read_bounded(fh, name, max_bytes)
        except OSError as exc:
            raise UserInputError(errors.UPLOAD_NO_FILE.format(path=os.fspath(data), detail=exc.strerror or exc)) from exc
    if hasattr(data, "getbuffer"):  # BytesIO, Streamlit's UploadedFile: the size without a copy
        with data.getbuffer() as view:
            check(view.nbytes)
        return bytes(data.getvalue())
    if hasattr(data, "getvalue"):
        raw = bytes(data.getvalue())
        check(len(raw))
        return raw
    if hasattr(data, "read"):
        return _read_bounded(data, name, max_bytes)
    raise UserInputError(f"Expected the file's bytes, a path or a file object; received {type(data).__name__}. "
                         "Pass the uploaded file's content.")


def regular_file_size(path) -> int:
    """The size of the file at ``path``, which must be a regular file: only that has a size to check before
    reading (/dev/zero never ends, a named pipe blocks).  ``OSError`` when it cannot be read at all."""
    info = os.stat(path)
    if stat.S_ISREG(info.st_mode):
        return info.st_size
    what = ("a directory" if stat.S_ISDIR(info.st_mode) else "a named pipe" if stat.S_ISFIFO(info.st_mode)
            else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket or other")
    raise UserInputError(errors.UPLOAD_NOT_REGULAR.format(path=os.fspath(path), what=what))


def _default_name(data) -> str:
    path = data if isinstance(data, (str, os.PathLike)) else getattr(data, "name", None)
    return os.path.basename(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else "upload.csv"


# --- text: encoding, delimiter, header -----------------------------------------------------------
def _blank(raw: bytes) -> bool:
    """Only whitespace (checks the head first, so a large file is not copied by ``strip``)."""
    return not raw[:SNIFF_BYTES].strip() and not raw.strip()


def _looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(sample.count(bytes([b])) for b in range(32) if b not in (9, 10, 13, 12))
    return controls > 0.01 * len(sample)


def _text_codec(encoding) -> None:
    """Only a text encoding may decode a table: ``rot13`` or ``zlib_codec`` turn text into text or bytes into bytes."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError) as exc:
        raise UserInputError(f"Unknown encoding {encoding!r}. Use 'auto', 'utf-8' or 'latin-1'.") from exc
    if not getattr(info, "_is_text_encoding", True):
        raise UserInputError(errors.UPLOAD_NOT_TEXT_ENCODING.format(encoding=encoding))


def _detect_encoding(raw: bytes, name: str, encoding: str | None) -> tuple[str, tuple[str, ...]]:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise UserInputError(errors.UPLOAD_UTF16.format(name=name))
    if encoding not in (None, "auto"):
        _text_codec(encoding)
        _check_decodes(raw, encoding, name)
        return encoding, ()
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", ()
    try:
        _check_decodes(raw, "utf-8", name)
        return "utf-8", ()
    except UserInputError:
        pass
    try:
        _check_decodes(raw, "cp1252", name)
        enc = "cp1252"
    except UserInputError:
        enc = "latin-1"
    return enc, (f"The file is not UTF-8; it was read as {'Windows-1252' if enc == 'cp1252' else 'Latin-1'}. "
                 "Check accented letters in the preview.",)


def _check_decodes(raw: bytes, encoding: str, name: str) -> None:
    dec = codecs.getincrementaldecoder(encoding)()
    step = 8 << 20
    for i in range(0, len(raw), step):
        try:
            dec.decode(raw[i:i + step], final=i + step >= len(raw))
        except UnicodeError as exc:  # UnicodeDecodeError, or a codec (idna, punycode) refusing in its own words
            at = i + getattr(exc, "start", 0)
            raise UserInputError(errors.UPLOAD_BAD_ENCODING.format(
                name=name, encoding=encoding, position=at, snippet=raw[max(at - 10, 0):at + 10])) from exc


def _field_counts(lines: list[str], sep: str) -> tuple[bool, int, float]:
    """With ``sep`` (quote-aware): whether the header has the most common number of fields per record, that
    number, and the share of records that have it."""
    try:
        counts = [len(r) for r in csv.reader(lines, delimiter=sep) if r]
    except csv.Error:
        return False, 0, 0.0
    if not counts:
        return False, 0, 0.0
    mode, n = Counter(counts).most_common(1)[0]
    return counts[0] == mode, mode, n / len(counts)


def _detect_delimiter(sample: str, name: str, cut: bool) -> str:
    """The candidate splitting the header and the first records into the same number (>= 2) of fields,
    preferring more fields (a ``;`` file with decimal commas: the header has no commas).

    Linear in the sample (at most ``SNIFF_BYTES``, ``SNIFF_LINES`` records), unlike ``csv.Sniffer``, whose
    regexes backtrack for tens of seconds on crafted quotes.  ``cut``: the sample ends mid-file, so its last
    line may be partial and is left out.
    """
    lines = sample.splitlines()
    head = next((ln for ln in lines if ln.strip()), None)
    if head is None:
        raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    lines = [ln for ln in (lines[:-1] if cut else lines) if ln.strip()][:SNIFF_LINES]
    stats = {d: _field_counts(lines, d) for d in DELIMITERS}
    split = [d for d in DELIMITERS if stats[d][1] >= 2]
    if split:  # consistent first, then agreeing with the header, then more fields
        return max(split, key=lambda d: (stats[d][2] >= CONSISTENT, stats[d][0], stats[d][1], stats[d][2],
                                         -DELIMITERS.index(d)))
    counts = {d: head.count(d) for d in DELIMITERS}  # one column, or a header longer than the sample
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _header(raw: bytes, enc: str, sep: str, name: str) -> tuple[list[str], int | None]:
    """The whole first record, however long (a 20,000-column header passes any fixed sample), names trimmed;
    and the number of fields of the first data record (None when it cannot be told here)."""
    def lines():
        stream = io.TextIOWrapper(io.BytesIO(raw), encoding=enc, newline="")  # "" lets csv see bare \r itself
        first = next(stream, "")
        yield first.lstrip("\ufeff")
        yield from stream

    records = csv.reader(lines(), delimiter=sep)
    try:
        first = next(records, [])
    except (csv.Error, UnicodeError) as exc:
        raise UserInputError(
            f"{name} could not be read as a table: its first line is malformed ({exc}). Save it as a CSV with one "
            "header line and one row per line."
        ) from exc
    try:
        row = next(records, None)
    except (csv.Error, UnicodeError):  # a field over csv's limit: pandas reads it, and says if it cannot
        row = None
    return [h.strip() for h in first], None if row is None else len(row)


def _check_widths(header: list[str], n_row: int | None, name: str, sep: str) -> None:
    """A first row longer than the header makes pandas take the extra leading fields as the index; one is R's row
    names, more make a MultiIndex whose construction is quadratic (a crafted 1 MB file: minutes of CPU)."""
    if n_row is not None and n_row > len(header) + 1:
        raise UserInputError(errors.UPLOAD_PARSE_ERROR.format(
            name=name, delimiter=sep, detail=f"the header has {len(header):,} fields but the first row has {n_row:,}"))


def _check_header(header: list[str], name: str) -> None:
    if any(h == "" for h in header) and len(header) > 1:
        blank = [i + 1 for i, h in enumerate(header) if h == ""]
        if not (blank == [1]):  # a leading unnamed index column (pandas' to_csv) is tolerated
            raise UserInputError(errors.UPLOAD_BLANK_HEADER.format(name=name, positions=_few(blank)))
    seen, dup = set(), []
    for h in header:
        if h in seen and h not in dup:
            dup.append(h)
        seen.add(h)
    if dup:
        raise UserInputError(errors.UPLOAD_DUPLICATE_COLUMNS.format(name=name, columns=dup))


def _few(items: list, n: int = 10) -> str:
    """A list for a message: the first ``n`` items, and how many more."""
    return str(items[:n])[:-1] + (f", ... {len(items) - n:,} more]" if len(items) > n else "]")


def _padded(sample: str, sep: str) -> bool:
    """Fields written as ``a, b, c`` (Adult's style): skip the space after each delimiter.  Only then,
    because skipping costs pandas about 60 % more time on a large file."""
    return sample.count(sep + " ") > 0.5 * max(sample.count(sep), 1)


# --- CSV ---------------------------------------------------------------------------------------------
def _refuse_binary(head: bytes, name: str) -> None:
    if not _looks_binary(head):
        return
    odd, even = head[1::2], head[0::2]
    n_odd, n_even = odd.count(b"\x00"), even.count(b"\x00")
    if len(head) >= 8 and ((n_odd > 0.8 * len(odd) and n_even < 0.05 * len(even))
                           or (n_even > 0.8 * len(even) and n_odd < 0.05 * len(odd))):
        raise UserInputError(errors.UPLOAD_UTF16.format(name=name))
    raise UserInputError(errors.UPLOAD_BINARY.format(name=name))


def _read_csv(raw: bytes, name: str, delimiter: str | None, encoding: str | None) -> ParsedTable:
    if _blank(raw):
        raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UserInputError(errors.UPLOAD_UTF16.format(name=name))
    _refuse_binary(raw[:SNIFF_BYTES], name)
    enc, notes = _detect_encoding(raw, name, encoding)
    sample = codecs.getincrementaldecoder(enc)().decode(raw[:SNIFF_BYTES])  # a character cut at the end waits
    if not sample and raw[:SNIFF_BYTES].strip():  # a codec that decodes nothing of it (idna buffers whole labels)
        raise UserInputError(errors.UPLOAD_BAD_ENCODING.format(name=name, encoding=enc, position=0, snippet=raw[:20]))
    auto = delimiter in (None, "", "auto")
    sep = _detect_delimiter(sample, name, cut=len(raw) > SNIFF_BYTES) if auto else delimiter
    if not isinstance(sep, str) or len(sep) != 1:
        raise UserInputError(f"The delimiter must be one character; received {sep!r}. Use ',', ';', '\\t' or '|'.")
    header, n_row = _header(raw, enc, sep, name)
    _check_header(header, name)
    _check_widths(header, n_row, name, sep)
    try:
        df = pd.read_csv(io.BytesIO(raw), sep=sep, encoding=enc, low_memory=False, na_values=NA_VALUES,
                         skipinitialspace=_padded(sample, sep), encoding_errors="strict")
    except pd.errors.EmptyDataError as exc:
        raise UserInputError(errors.UPLOAD_EMPTY.format(name=name)) from exc
    except pd.errors.ParserError as exc:
        raise UserInputError(errors.UPLOAD_PARSE_ERROR.format(name=name, delimiter=sep, detail=str(exc).strip())) from exc
    except (UnicodeDecodeError, ValueError, OverflowError, MemoryError) as exc:
        raise UserInputError(errors.UPLOAD_PARSE_ERROR.format(name=name, delimiter=sep, detail=exc)) from exc
    df.columns = [str(c).strip() for c in df.columns]
    if df.shape[1] == 1:
        others = {d: sample.count(d) for d in DELIMITERS if d != sep}
        hint = max(others, key=others.get)
        raise UserInputError(errors.UPLOAD_ONE_COLUMN.format(
            name=name, delimiter=sep, column=str(df.columns[0])[:60],
            hint=repr(hint) if others[hint] else "',', ';' or tab"))
    if len(df) == 0:
        raise UserInputError(errors.UPLOAD_HEADER_ONLY.format(name=name, columns=list(df.columns)[:10]))
    return ParsedTable(df, name, "csv", enc, sep, len(raw), notes=notes)


# --- Parquet -------------------------------------------------------------------------------------
def _frame_bytes(pf) -> int:
    """The bytes the rows take once read, from the metadata alone: rows x the width of each column's type
    (fixed types: their width; text and binary: an offset and a pointer plus the mean value size in the
    first row group, low when dictionary-encoded).  Run-length encoding makes 120 M rows a 1 MB file."""
    import pyarrow as pa

    md, schema = pf.metadata, pf.schema_arrow
    first = md.row_group(0) if md.num_row_groups else None

    def mean_size(j: int, name: str) -> float:  # a flat schema: field j is Parquet column j
        if first is None or not first.num_rows or j >= first.num_columns:
            return 0.0
        col = first.column(j)
        return col.total_uncompressed_size / first.num_rows if col.path_in_schema == name else 0.0

    width = 0.0
    for j, f in enumerate(schema):
        t = f.type.index_type if pa.types.is_dictionary(f.type) else f.type  # pandas categorical: its codes
        try:
            width += max(t.bit_width // 8, 1)
        except ValueError:  # not fixed-width: string, binary
            width += 16 + mean_size(j, f.name)
    return int(md.num_rows * width)


def _parquet_guard(pf, name: str, n_bytes: int, max_bytes: int, max_memory: int, max_rows: int) -> None:
    """Refuse from the metadata, before any row is read."""
    import pyarrow as pa

    md = pf.metadata
    expanded = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    if expanded > max_bytes:
        raise UserInputError(errors.UPLOAD_DECOMPRESSION_BOMB.format(
            name=name, compressed=n_bytes, limit=max_bytes, ratio=MAX_COMPRESSION_RATIO))
    schema = pf.schema_arrow
    names = list(schema.names)
    dup = sorted(c for c, k in Counter(names).items() if k > 1)
    if dup:
        raise UserInputError(errors.UPLOAD_DUPLICATE_COLUMNS.format(name=name, columns=dup))
    nested = [f"{f.name!r} ({f.type})" for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise UserInputError(errors.UPLOAD_NESTED_COLUMNS.format(name=name, columns=", ".join(nested[:10])))
    if md.num_rows > max_rows:
        raise UserInputError(errors.UPLOAD_TOO_MANY_ROWS.format(name=name, rows=md.num_rows, limit=max_rows))
    need = 2 * _frame_bytes(pf)  # the Arrow table and the pandas frame are both alive while converting
    if need > max_memory:
        raise UserInputError(errors.UPLOAD_TOO_BIG_IN_MEMORY.format(
            name=name, estimate=need, rows=md.num_rows, columns=len(names), limit=max_memory, size=n_bytes))


def _read_parquet(raw: bytes, name: str, max_bytes: int, max_memory: int, max_rows: int) -> ParsedTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(io.BytesIO(raw))
        _parquet_guard(pf, name, len(raw), max_bytes, max_memory, max_rows)
        df = pf.read().to_pandas()
    except UserInputError:
        raise
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError, MemoryError) as exc:
        raise UserInputError(errors.UPLOAD_BAD_PARQUET.format(name=name, detail=exc)) from exc
    df.columns = [str(c) for c in df.columns]
    if df.shape[1] == 0:
        raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    if len(df) == 0:
        raise UserInputError(errors.UPLOAD_HEADER_ONLY.format(name=name, columns=list(df.columns)[:10]))
    return ParsedTable(df, name, "parquet", None, None, len(raw))


def read_table(data, name: str | None = None, *, delimiter: str | None = None, encoding: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES, max_memory: int = DEFAULT_MAX_MEMORY,
               max_rows: int = DEFAULT_MAX_ROWS, progress: Callable[[float, str], None] | None = None) -> ParsedTable:
    """Parse a CSV or Parquet file (optionally gzip/bz2/xz/zip-compressed).

    ``data``: the file's bytes, a path, or a file object; ``name`` defaults to the path's or file's name.
    ``delimiter`` and ``encoding`` default to detection.  ``max_bytes`` caps the file and its unpacked size;
    ``max_memory`` and ``max_rows`` cap a Parquet file's rows once read, judged from its metadata.
    ``progress(fraction, what)`` hears of each stage.  Raises :class:`UserInputError` for every kind of
    unusable file, never anything else.
    """
    name = name or _default_name(data)
    say = progress or (lambda fraction, what: None)
    say(0.05, "Checking size and compression…")
    raw = _as_bytes(data, name, max_bytes)
    if _blank(raw):
        raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    compression = None
    kind = sniff_container(raw)
    if kind in ("gzip", "bz2", "xz", "zip"):
        compression = kind
        raw, _ = decompress(raw, kind, name, max_bytes)
        kind = sniff_container(raw)
        if kind in ("gzip", "bz2", "xz", "zip"):
            raise UserInputError(errors.UPLOAD_NESTED_ARCHIVE.format(name=name))
        if _blank(raw):
            raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    say(0.2, "Detecting the format, encoding and delimiter, then parsing…")
    if kind == "parquet" or (kind is None and name.lower().endswith(".parquet") and _looks_binary(raw[:SNIFF_BYTES])):
        table = _read_parquet(raw, name, max_bytes, max_memory, max_rows)
    else:
        table = _read_csv(raw, name, delimiter, encoding)
    if compression:
        table = replace(table, compression=compression)
    say(1.0, f"Read {table.shape[0]:,} rows × {table.shape[1]} columns")
    return table
