"""Parse a user's table (CSV or Parquet, plain or gzip/zip-compressed) safely, profile it, map its schema.

Everything here works on bytes, so the page, the CLI and tests share one path:

* :func:`read_table` -> :class:`ParsedTable`: size limit, compression guard (zip bombs), binary
  garbage, encoding (UTF-8, else Latin-1/cp1252) and delimiter detection (``csv.Sniffer``),
  empty / header-only / duplicate-column checks.  Every problem is a :class:`UserInputError`
  with a message from :mod:`dlxai.errors`; nothing else escapes.
* :func:`profile_columns` -> one :class:`ColumnProfile` per column: the inferred type
  (numeric / categorical / ignore), missing values, distinct values, mixed-type and ID-like notes.
* :func:`build_schema` turns the user's mapping (target, positive label, sensitive, types,
  ignored) into a validated :class:`~dlxai.data.schema.Schema`; :func:`dataset_from_upload`
  makes the :class:`~dlxai.data.dataset.TabularDataset` (seeded split, or a separate test file).
"""

from __future__ import annotations

import bz2
import codecs
import csv
import io
import lzma
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.data.dataset import TabularDataset, make_dataset, validate_frame
from dlxai.data.schema import CATEGORICAL, NUMERIC, Schema
from dlxai.errors import UserInputError

IGNORE = "ignore"
DEFAULT_MAX_BYTES = 1_500_000_000  # 1M rows x 100 numeric columns is ~0.8 GB of CSV
DEFAULT_MAX_CATEGORIES = 1000  # more levels than this: an ID, free text, or a number stored as text
MAX_COMPRESSION_RATIO = 200  # real CSV compresses 5-20x; 1000x+ is a bomb
SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
NA_VALUES = ["?", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", ""]
MIXED_FRACTION = 0.9  # a text column whose values are >= 90 % numbers is flagged as mixed
SENSITIVE_HINTS = ("sex", "gender", "race", "ethnic", "age", "religion", "nationality", "disab", "marital")

_MAGIC = {
    b"PAR1": "parquet",
    b"PK\x03\x04": "zip",
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
}


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


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: str
    kind: str  # numeric | categorical | ignore (the inferred default; the user may change it)
    n_missing: int
    n_unique: int
    examples: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class UploadPreview:
    """What the page shows before the user commits: rows, types and group sizes."""

    head: pd.DataFrame
    profiles: tuple[ColumnProfile, ...]
    group_sizes: dict = field(default_factory=dict)  # sensitive column -> Series of counts
    target_counts: pd.Series | None = None


# --- bytes -> text/frame ---------------------------------------------------------------------
def _as_bytes(data) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "getvalue"):
        return bytes(data.getvalue())
    if hasattr(data, "read"):
        return bytes(data.read())
    raise UserInputError(f"Expected the file's bytes; received {type(data).__name__}. Pass the uploaded file's content.")


def _sniff_container(raw: bytes) -> str | None:
    for magic, kind in _MAGIC.items():
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


def _stream(decompressor, raw: bytes, step: int = 1 << 20):
    """Decompress ``raw`` in pieces of at most ``step`` bytes (never the whole output at once)."""
    if hasattr(decompressor, "unconsumed_tail"):  # zlib
        data = raw
        while True:
            piece = decompressor.decompress(data, step)
            if piece:
                yield piece
            data = decompressor.unconsumed_tail
            if not data and len(piece) < step:
                break
        yield decompressor.flush()
        if not decompressor.eof:
            raise EOFError("the compressed stream ends early (truncated file)")
        return
    piece = decompressor.decompress(raw, step)  # bz2 / lzma
    yield piece
    while not decompressor.eof and not decompressor.needs_input:
        yield decompressor.decompress(b"", step)
    if not decompressor.eof:
        raise EOFError("the compressed stream ends early (truncated file)")


def _decompress(raw: bytes, kind: str, name: str, max_bytes: int) -> tuple[bytes, str]:
    try:
        if kind == "gzip":
            return _bounded(_stream(zlib.decompressobj(16 + zlib.MAX_WBITS), raw), name, len(raw), max_bytes), name
        if kind == "bz2":
            return _bounded(_stream(bz2.BZ2Decompressor(), raw), name, len(raw), max_bytes), name
        if kind == "xz":
            return _bounded(_stream(lzma.LZMADecompressor(), raw), name, len(raw), max_bytes), name
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


def _detect_encoding(raw: bytes, name: str, encoding: str | None) -> tuple[str, tuple[str, ...]]:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise UserInputError(errors.UPLOAD_UTF16.format(name=name))
    if encoding not in (None, "auto"):
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise UserInputError(f"Unknown encoding {encoding!r}. Use 'auto', 'utf-8' or 'latin-1'.") from exc
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
        except UnicodeDecodeError as exc:
            raise UserInputError(errors.UPLOAD_BAD_ENCODING.format(
                name=name, encoding=encoding, position=i + exc.start,
                snippet=raw[max(i + exc.start - 10, 0):i + exc.start + 10])) from exc


def _detect_delimiter(text_sample: str, name: str) -> str:
    lines = [ln for ln in text_sample.splitlines() if ln.strip()][:50]
    if not lines:
        raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # the sniffer gives up on one-column files and some quoted files: count candidates in the header
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] > 0 else ","


def _padded(sample: str, sep: str) -> bool:
    """Fields written as ``a, b, c`` (Adult's style): skip the space after each delimiter.  Only then,
    because skipping costs pandas about 60 % more time on a large file."""
    return sample.count(sep + " ") > 0.5 * max(sample.count(sep), 1)


def _read_csv(raw: bytes, name: str, delimiter: str | None, encoding: str | None) -> ParsedTable:
    if _blank(raw):
        raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    head = raw[:SNIFF_BYTES]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UserInputError(errors.UPLOAD_UTF16.format(name=name))
    if _looks_binary(head):
        odd, even = head[1::2], head[0::2]
        n_odd, n_even = odd.count(b"\x00"), even.count(b"\x00")
        if len(head) >= 8 and ((n_odd > 0.8 * len(odd) and n_even < 0.05 * len(even))
                               or (n_even > 0.8 * len(even) and n_odd < 0.05 * len(odd))):
            raise UserInputError(errors.UPLOAD_UTF16.format(name=name))
        raise UserInputError(errors.UPLOAD_BINARY.format(name=name))
    enc, notes = _detect_encoding(raw, name, encoding)
    sample = raw[:SNIFF_BYTES].decode(enc, errors="ignore")
    auto = delimiter in (None, "", "auto")
    sep = _detect_delimiter(sample, name) if auto else delimiter
    if len(sep) != 1:
        raise UserInputError(f"The delimiter must be one character; received {sep!r}. Use ',', ';', '\\t' or '|'.")
    try:  # newline="" lets the csv module see bare \r line ends itself
        first = next(csv.reader(io.StringIO(sample.lstrip("\ufeff"), newline=""), delimiter=sep), [])
    except csv.Error as exc:
        raise UserInputError(
            f"{name} could not be read as a table: its first line is malformed ({exc}). Save it as a CSV with one "
            "header line and one row per line."
        ) from exc
    header = [h.strip() for h in first]
    seen, dup = set(), []
    for h in header:
        if h in seen and h not in dup:
            dup.append(h)
        seen.add(h)
    if dup:
        raise UserInputError(errors.UPLOAD_DUPLICATE_COLUMNS.format(name=name, columns=dup))
    if any(h == "" for h in header) and len(header) > 1:
        blank = [i + 1 for i, h in enumerate(header) if h == ""]
        if not (blank == [1]):  # a leading unnamed index column (pandas' to_csv) is tolerated
            raise UserInputError(errors.UPLOAD_BLANK_HEADER.format(name=name, positions=blank))
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


def _read_parquet(raw: bytes, name: str, max_bytes: int) -> ParsedTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(io.BytesIO(raw))
        md = pf.metadata
        expanded = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
        if expanded > max_bytes:
            raise UserInputError(errors.UPLOAD_DECOMPRESSION_BOMB.format(
                name=name, compressed=len(raw), limit=max_bytes, ratio=MAX_COMPRESSION_RATIO))
        names = list(pf.schema_arrow.names)
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise UserInputError(errors.UPLOAD_DUPLICATE_COLUMNS.format(name=name, columns=dup))
        table = pf.read()
        df = table.to_pandas()
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


def read_table(data, name: str = "upload.csv", *, delimiter: str | None = None, encoding: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES, progress: Callable[[float, str], None] | None = None) -> ParsedTable:
    """Parse an uploaded CSV or Parquet file (optionally gzip/bz2/xz/zip-compressed) from its bytes.

    ``delimiter`` and ``encoding`` default to detection.  ``progress(fraction, what)`` hears of each
    stage.  Raises :class:`UserInputError` for every kind of unusable file, never anything else.
    """
    say = progress or (lambda fraction, what: None)
    say(0.05, "Checking size and compression…")
    raw = _as_bytes(data)
    if len(raw) > max_bytes:
        raise UserInputError(errors.UPLOAD_TOO_LARGE.format(name=name, size=len(raw), limit=max_bytes))
    if _blank(raw):
        raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    compression = None
    kind = _sniff_container(raw)
    if kind in ("gzip", "bz2", "xz", "zip"):
        compression = kind
        raw, inner = _decompress(raw, kind, name, max_bytes)
        kind = _sniff_container(raw)
        if kind in ("gzip", "bz2", "xz", "zip"):
            raise UserInputError(errors.UPLOAD_NESTED_ARCHIVE.format(name=name))
        if _blank(raw):
            raise UserInputError(errors.UPLOAD_EMPTY.format(name=name))
    say(0.2, "Detecting the format, encoding and delimiter, then parsing…")
    if kind == "parquet" or (kind is None and name.lower().endswith(".parquet") and raw[:4] != b"PAR1"
                             and _looks_binary(raw[:SNIFF_BYTES])):
        table = _read_parquet(raw, name, max_bytes)
    else:
        table = _read_csv(raw, name, delimiter, encoding)
    if compression:
        table = ParsedTable(table.frame, table.name, table.format, table.encoding, table.delimiter, table.n_bytes,
                            compression, table.notes)
    say(1.0, f"Read {table.shape[0]:,} rows × {table.shape[1]} columns")
    return table


# --- profile and schema ------------------------------------------------------------------------
def _is_mixed(col: pd.Series) -> tuple[bool, list[str]]:
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return False, []
    values = col.dropna()
    if values.empty:
        return False, []
    head = values.iloc[:200]
    if pd.to_numeric(head.astype(str), errors="coerce").notna().mean() < 0.5:  # plainly text: skip the full check
        return False, []
    sample = values.iloc[:20000]
    num = pd.to_numeric(sample.astype(str), errors="coerce")
    frac = float(num.notna().mean())
    if MIXED_FRACTION <= frac < 1.0:
        return True, list(sample[num.isna()].astype(str).unique()[:3])
    return False, []


def profile_columns(df: pd.DataFrame, *, max_categories: int = DEFAULT_MAX_CATEGORIES) -> tuple[ColumnProfile, ...]:
    """Infer each column's type: numbers -> numeric (two-valued integers -> categorical),
    text -> categorical, text with more than ``max_categories`` levels or empty -> ignore.
    One hashing pass per column (``unique``), so a million rows profile in about a second."""
    out = []
    n = len(df)
    for c in df.columns:
        col = df[c]
        n_missing = int(col.isna().sum())
        uniq = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else col.unique()
        uniq = uniq[~pd.isna(uniq)] if n_missing else uniq
        n_unique = len(uniq)
        examples = tuple(map(str, uniq[:5]))
        note = ""
        if n_missing == n:
            kind, note = IGNORE, "every value is missing"
        elif pd.api.types.is_bool_dtype(col):
            kind = CATEGORICAL
        elif pd.api.types.is_numeric_dtype(col):
            kind = CATEGORICAL if (n_unique <= 2 and pd.api.types.is_integer_dtype(col)) else NUMERIC
        else:
            mixed, bad = _is_mixed(col)
            if mixed:
                kind, note = CATEGORICAL, f"mixed types: mostly numbers, but also {bad}"
            elif n_unique > max_categories:
                kind, note = IGNORE, f"{n_unique:,} distinct values (an ID or free text?)"
            else:
                kind = CATEGORICAL
        out.append(ColumnProfile(str(c), str(col.dtype), kind, n_missing, n_unique, examples, note))
    return tuple(out)


def suggest_target(df: pd.DataFrame) -> str:
    """The last two-valued column (datasets usually end with the label), else the last column."""
    for c in reversed(df.columns):
        if df[c].nunique(dropna=True) == 2:
            return str(c)
    return str(df.columns[-1])


def suggest_sensitive(df: pd.DataFrame, target: str | None = None) -> list[str]:
    return [str(c) for c in df.columns if c != target and any(h in str(c).lower() for h in SENSITIVE_HINTS)
            and 2 <= df[c].nunique(dropna=True) <= 50]


def label_values(df: pd.DataFrame, column: str) -> list:
    """The distinct values of ``column`` (raw, sorted by their text) — the choices for the positive label."""
    if column not in df.columns:
        raise UserInputError(errors.UNKNOWN_COLUMN.format(column=column, available=list(df.columns)))
    return sorted(df[column].dropna().unique().tolist(), key=str)


def match_label(df: pd.DataFrame, column: str, label):
    """The raw value of ``column`` whose text equals ``label`` (widgets hand labels back as text)."""
    for v in label_values(df, column):
        if v == label or str(v) == str(label):
            return v
    raise UserInputError(
        f"The positive label {label!r} does not occur in {column!r}, whose values are "
        f"{[str(v) for v in label_values(df, column)[:10]]}. Choose one of them."
    )


def build_schema(
    df: pd.DataFrame,
    target: str,
    positive_label,
    sensitive=(),
    types: dict[str, str] | None = None,
    ignore=(),
    *,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    profiles: tuple[ColumnProfile, ...] | None = None,
) -> Schema:
    """The user's mapping as a validated :class:`Schema`.

    ``types`` maps column -> ``"numeric" | "categorical" | "ignore"`` and defaults to
    :func:`profile_columns`; columns in ``ignore`` (and typed ``"ignore"``) are not features.
    Sensitive columns are features unless ignored (then they are kept for the audit only).
    """
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the uploaded table"))
    if target not in df.columns:
        raise UserInputError(errors.UNKNOWN_COLUMN.format(column=target, available=list(df.columns)))
    types = dict(types or {})
    if any(c not in types for c in df.columns):  # infer only what the user left open
        profiles = profiles if profiles is not None else profile_columns(df, max_categories=max_categories)
        types = {**{p.name: p.kind for p in profiles}, **types}
    for c, k in types.items():
        if c not in df.columns:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=list(df.columns)))
        if k not in (NUMERIC, CATEGORICAL, IGNORE):
            raise UserInputError(f"Column {c!r} has type {k!r}; use 'numeric', 'categorical' or 'ignore'.")
    sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    if not sensitive:
        raise UserInputError(errors.NO_SENSITIVE)
    for c in [*sensitive, *ignore]:
        if c not in df.columns:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=list(df.columns)))
    if target in sensitive:
        raise UserInputError(f"The target {target!r} cannot also be a sensitive attribute; pick another column.")
    ignored = set(ignore) | {c for c, k in types.items() if k == IGNORE}
    positive = match_label(df, target, positive_label)
    numeric, categorical = [], []
    for c in df.columns:
        if c == target or c in ignored:
            continue
        col = df[c]
        if types[c] == NUMERIC:
            if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                parsed = pd.to_numeric(col.dropna().astype(str), errors="coerce")
                bad = list(col.dropna()[parsed.isna().to_numpy()].astype(str).unique()[:3])
                raise UserInputError(errors.UPLOAD_MIXED_TYPES.format(column=c, bad=bad, share=float(parsed.notna().mean())))
            numeric.append(c)
        else:
            n_levels = int(col.nunique(dropna=True))
            if n_levels > max_categories:
                raise UserInputError(errors.UPLOAD_TOO_MANY_CATEGORIES.format(column=c, n=n_levels, limit=max_categories))
            categorical.append(c)
    for c in sensitive:
        groups = df[c].nunique(dropna=True)
        if groups > max_categories:
            raise UserInputError(errors.UPLOAD_TOO_MANY_CATEGORIES.format(column=c, n=groups, limit=max_categories))
    return Schema(target=target, positive_label=positive, sensitive=tuple(sensitive), numeric=tuple(numeric),
                  categorical=tuple(categorical), ignore=tuple(sorted(ignored - {target})))


def _numeric_cast(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    bools = [c for c in schema.numeric if pd.api.types.is_bool_dtype(df[c])]
    if not bools:
        return df
    df = df.copy()
    for c in bools:
        df[c] = df[c].astype(np.float64)
    return df


def dataset_from_upload(
    table: ParsedTable | pd.DataFrame,
    schema: Schema,
    *,
    test: ParsedTable | pd.DataFrame | None = None,
    test_size: float = 0.3,
    seed: int = 0,
    name: str | None = None,
) -> TabularDataset:
    """A validated dataset from an uploaded table: a seeded stratified split, or ``test`` as the test split."""
    train_df = table.frame if isinstance(table, ParsedTable) else table
    source = table.name if isinstance(table, ParsedTable) else "uploaded table"
    keep = [c for c in train_df.columns if c not in schema.ignore or c in schema.sensitive or c == schema.target]
    train_df = _numeric_cast(train_df[keep], schema)
    test_df = None
    if test is not None:
        test_df = test.frame if isinstance(test, ParsedTable) else test
        missing = [c for c in keep if c not in test_df.columns]
        if missing:
            raise UserInputError(errors.UPLOAD_TEST_COLUMNS.format(missing=missing[:10], columns=list(test_df.columns)[:20]))
        test_df = _numeric_cast(test_df[keep], schema)
        for c in schema.numeric:
            if not pd.api.types.is_numeric_dtype(test_df[c]):
                bad = list(test_df[c].dropna()[pd.to_numeric(test_df[c].dropna().astype(str), errors="coerce").isna().to_numpy()]
                           .astype(str).unique()[:3])
                raise UserInputError(errors.UPLOAD_MIXED_TYPES.format(column=c, bad=bad, share=0.0))
    if test_df is None:
        if not (isinstance(test_size, (int, float)) and 0.0 < test_size < 1.0):
            raise UserInputError(f"test_size must be between 0 and 1; received {test_size!r}. Use e.g. 0.3.")
        validate_frame(train_df, schema)  # before splitting: messages speak of the whole file
        train_df, test_df = stratified_split(train_df, schema.target, test_size, seed)
    return make_dataset(
        name or source.rsplit("/", 1)[-1], train_df, schema, test=test_df, test_size=test_size, seed=seed,
        description=f"Uploaded file {source}", provenance="uploaded by the user",
    )


def stratified_split(df: pd.DataFrame, target: str, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split keeping each target class's share (classes with one row go to training)."""
    codes, _ = pd.factorize(df[target])
    rng = np.random.default_rng(seed)
    test_idx = []
    for k in range(codes.max() + 1):
        idx = np.flatnonzero(codes == k)
        if len(idx) < 2:
            continue
        n_test = min(max(int(round(test_size * len(idx))), 1), len(idx) - 1)
        test_idx.append(rng.choice(idx, size=n_test, replace=False))
    mask = np.zeros(len(df), dtype=bool)
    if test_idx:
        mask[np.concatenate(test_idx)] = True
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def preview(df: pd.DataFrame, *, target: str | None = None, sensitive=(), rows: int = 20,
            max_categories: int = DEFAULT_MAX_CATEGORIES, profiles: tuple[ColumnProfile, ...] | None = None
            ) -> UploadPreview:
    """First rows, column profiles and the size of every group of each sensitive column."""
    sizes = {}
    for c in sensitive:
        if c in df.columns:
            sizes[c] = df[c].value_counts(dropna=False).sort_values(ascending=False).head(50)
    tc = df[target].value_counts(dropna=False) if target in df.columns else None
    if profiles is None:
        profiles = profile_columns(df, max_categories=max_categories)
    return UploadPreview(df.head(rows), profiles, sizes, tc)
