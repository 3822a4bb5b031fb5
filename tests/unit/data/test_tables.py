"""Hostile table files are refused (or read) in bounded time and memory, each with a clear message.

The cases come from a catalogue of hostile inputs: a file over the size cap, an endless stream, a run-length
encoded Parquet file claiming 120 M rows, nested Parquet columns, a CSV built to make ``csv.Sniffer``
backtrack for seconds, a header wider than any sample, and codec names that are not text encodings.
"""

from __future__ import annotations

import io
import re
import resource
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlxai import errors
from dlxai.data import tables
from dlxai.errors import DlxaiError, UserInputError


def msg(template: str) -> str:
    """A regex matching any message formatted from ``template`` (the fixed text between the fields)."""
    return "(?s)" + ".*?".join(re.escape(p) for p in re.split(r"\{[^}]*\}", template))


class Clock:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


GOOD = b"age,sex,y\n" + b"".join(f"{20 + i % 50},{'FM'[i % 2]},{i % 3 == 0:d}\n".encode() for i in range(200))


# --- size before reading ---------------------------------------------------------------------------
def test_a_file_over_the_cap_is_refused_from_its_size_before_it_is_read(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:  # sparse: 1.6 GB long, no disk used
        fh.truncate(1_600_000_000)
    before = peak_rss_mb()
    with Clock() as c, pytest.raises(UserInputError, match=msg(errors.UPLOAD_TOO_LARGE)) as info:
        tables.read_table(path)
    assert c.seconds < 0.5 and peak_rss_mb() - before < 100
    assert "'huge.csv' is 1,600,000,000 bytes" in str(info.value)


class Endless(io.RawIOBase):
    """A stream that never ends (a pipe, /dev/zero): only a count can refuse it."""

    def readable(self):
        return True

    def readinto(self, b):
        b[:] = b"1" * len(b)
        return len(b)


def test_an_endless_stream_is_refused_by_a_streamed_count():
    with Clock() as c, pytest.raises(UserInputError, match=msg(errors.UPLOAD_TOO_LARGE_STREAM)):
        tables.read_table(io.BufferedReader(Endless()), "pipe.csv", max_bytes=50_000_000)
    assert c.seconds < 2


def test_paths_and_file_objects_read_like_bytes(tmp_path):
    path = tmp_path / "good.csv"
    path.write_bytes(GOOD)
    want = tables.read_table(GOOD, "good.csv").frame
    by_path = tables.read_table(path)
    assert by_path.name == "good.csv" and by_path.n_bytes == len(GOOD)
    with open(path, "rb") as fh:
        by_file = tables.read_table(fh)
    for t in (by_path, by_file, tables.read_table(str(path)), tables.read_table(io.BytesIO(GOOD), "g.csv")):
        pd.testing.assert_frame_equal(t.frame, want)
    with pytest.raises(UserInputError, match=msg(errors.UPLOAD_TOO_LARGE)):
        tables.read_table(io.BytesIO(GOOD), "g.csv", max_bytes=100)  # the buffer's size, before a copy
    with pytest.raises(UserInputError, match=msg(errors.UPLOAD_NO_FILE)):
        tables.read_table(tmp_path / "missing.csv")


# --- Parquet judged from its metadata --------------------------------------------------------------
@pytest.fixture(scope="module")
def rle_120m() -> bytes:
    """120 M identical int64 values: dictionary + run-length encoded, the file is a few hundred KB (written as
    120 row groups of 1 M rows, so the test never holds more than 8 MB of values)."""
    chunk = pa.table({"x": pa.array(np.zeros(1_000_000, dtype=np.int64))})
    buf = io.BytesIO()
    with pq.ParquetWriter(buf, chunk.schema, compression="none", write_statistics=False) as w:
        for _ in range(120):
            w.write_table(chunk)
    raw = buf.getvalue()
    assert pq.ParquetFile(io.BytesIO(raw)).metadata.num_rows == 120_000_000
    assert len(raw) < 2_000_000
    return raw


def _refused_quickly(raw: bytes, template: str, **kw) -> str:
    pool = pa.default_memory_pool()
    before_rss, before_pool = peak_rss_mb(), pool.max_memory()
    with Clock() as c, pytest.raises(UserInputError, match=msg(template)) as info:
        tables.read_table(raw, "rle.parquet", **kw)
    assert c.seconds < 1.0
    assert peak_rss_mb() - before_rss < 100 and pool.max_memory() - before_pool < 100_000_000  # nothing materialised
    return str(info.value)


def test_a_run_length_encoded_parquet_of_120m_rows_is_refused_from_its_metadata(rle_120m):
    text = _refused_quickly(rle_120m, errors.UPLOAD_TOO_MANY_ROWS)
    assert "120,000,000 rows" in text and f"{tables.DEFAULT_MAX_ROWS:,}" in text


def test_the_memory_estimate_refuses_what_would_not_fit(rle_120m):
    # rows allowed, memory capped below the estimate (120 M x 8 bytes, twice: the Arrow table and the frame)
    text = _refused_quickly(rle_120m, errors.UPLOAD_TOO_BIG_IN_MEMORY, max_rows=10**9, max_memory=1_000_000_000)
    assert "about 1,920,000,000 bytes" in text and "120,000,000 rows x 1 columns" in text


def test_the_memory_estimate_counts_type_widths():
    df = pd.DataFrame({"i8": np.zeros(1000, np.int8), "f64": np.zeros(1000), "s": ["abc"] * 1000})
    buf = io.BytesIO()
    df.to_parquet(buf)
    est = tables._frame_bytes(pq.ParquetFile(io.BytesIO(buf.getvalue())))
    assert 1000 * (1 + 8 + 16) <= est < 1000 * 40


@pytest.mark.parametrize("column, type_text", [
    (pa.array([[1, 2], [3], []]), "list<element: int64>"),
    (pa.array([{"a": 1}, {"a": 2}, {"a": 3}]), "struct<a: int64>"),
    (pa.array([[("k", 1)], [], [("j", 2)]], type=pa.map_(pa.string(), pa.int64())), "map<string, int64"),
])
def test_nested_parquet_columns_are_refused_by_name_and_type(column, type_text):
    buf = io.BytesIO()
    pq.write_table(pa.table({"age": [30, 40, 50], "history": column, "y": [0, 1, 0]}), buf)
    with pytest.raises(UserInputError, match=msg(errors.UPLOAD_NESTED_COLUMNS)) as info:
        tables.read_table(buf.getvalue(), "n.parquet")
    assert f"'history' ({type_text}" in str(info.value) and "'age'" not in str(info.value)


# --- CSV: dialect and header ------------------------------------------------------------------------
def test_a_csv_built_to_defeat_the_sniffer_reads_in_well_under_a_second():
    """Cells of lone apostrophes: csv.Sniffer's quote regex backtracks over them (7 s for these 44 KB on
    2 cores; the catalogue's 60 KB took 20-26 s)."""
    n = 1500
    raw = (",".join(f"c{i}" for i in range(n)) + "\n" + "\n".join(",".join(["'"] * n) for _ in range(12)) + "\n").encode()
    assert 40_000 < len(raw) < tables.SNIFF_BYTES
    with Clock() as c:
        t = tables.read_table(raw, "apostrophes.csv")
    assert c.seconds < 1.0
    assert t.delimiter == "," and t.shape == (12, n) and (t.frame == "'").all().all()


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_detection_reads_only_a_sample_and_skips_its_cut_last_line(sep):
    rows = 20_000
    df = pd.DataFrame({"a": np.arange(rows), "b": np.arange(rows) % 7, "note": ["x, y; z | w"] * rows})
    raw = df.to_csv(index=False, sep=sep).encode()
    with Clock() as c:
        got = tables._detect_delimiter(raw[:tables.SNIFF_BYTES].decode(), "big.csv", cut=True)
    assert got == sep and c.seconds < 0.1


def wide_csv(names: list[str]) -> bytes:
    return (",".join(names) + "\n" + "\n".join(",".join(str(r + i % 5) for i in range(len(names)))
                                              for r in range(3)) + "\n").encode()


def test_a_20000_column_header_is_read_whole():
    names = [f"feature_{i:05d}" for i in range(20_000)]
    raw = wide_csv(names)
    assert raw.index(b"\n") > tables.SNIFF_BYTES  # the header alone is longer than any sample
    with Clock() as c:
        t = tables.read_table(raw, "wide.csv")
    assert c.seconds < 3.0  # pandas builds 20,000 columns; 2 shared cores
    assert list(t.frame.columns) == names and t.shape == (3, 20_000) and t.delimiter == ","


def test_a_duplicate_at_column_15000_is_refused_naming_it():
    names = [f"feature_{i:05d}" for i in range(20_000)]
    names[15_000] = "feature_00042"
    with Clock() as c, pytest.raises(UserInputError, match=msg(errors.UPLOAD_DUPLICATE_COLUMNS)) as info:
        tables.read_table(wide_csv(names), "wide.csv")
    assert c.seconds < 2.0 and "['feature_00042']" in str(info.value)


# --- encodings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["rot13", "zlib_codec", "base64", "hex", "bz2_codec", "uu"])
def test_non_text_codec_names_are_refused(codec):
    with Clock() as c, pytest.raises(UserInputError, match=msg(errors.UPLOAD_NOT_TEXT_ENCODING)) as info:
        tables.read_table(GOOD, "g.csv", encoding=codec)
    assert repr(codec) in str(info.value) and c.seconds < 1


@pytest.mark.parametrize("codec", ["idna", "punycode", "utf-16", "utf-32", "unicode_escape", "utf-7"])
def test_odd_text_codecs_read_or_fail_cleanly(codec):
    try:
        t = tables.read_table(GOOD, "g.csv", encoding=codec)
    except DlxaiError as exc:
        assert len(str(exc)) > 40
    else:
        assert t.shape == (200, 3)
