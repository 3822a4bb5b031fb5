"""Hypothesis fuzzing of the loaders: whatever bytes arrive, only dlxai's own errors come out."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlxai.data import mapping, tables
from dlxai.errors import DlxaiError
from dlxai.models.export import export_onnx
from dlxai.models.formats import load_model

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
NAMES = st.sampled_from(["f.csv", "f.tsv", "f.parquet", "f.csv.gz", "f.zip", "f.txt"])
CELL = st.one_of(st.text(alphabet=st.sampled_from(list("ab1.9-,;\t|\"' \néß€\x00?")), max_size=6),
                 st.sampled_from(["NA", "1e3", "nan", "x,y", '"q"', "-0.5", "True"]))


def _parse_then_map(raw: bytes, name: str, **kw):
    """The path the page takes: parse, profile, map a schema, build the dataset, preview it."""
    try:
        t = tables.read_table(raw, name, max_bytes=2_000_000, **kw)
        prof = mapping.profile_columns(t.frame)
        assert len(prof) == t.frame.shape[1]
        cols = list(t.frame.columns)
        target = mapping.suggest_target(t.frame)
        labels = mapping.label_values(t.frame, target)
        sens = [c for c in cols if c != target][:1]
        s = mapping.build_schema(t.frame, target, labels[-1] if labels else "x", sens)
        mapping.dataset_from_upload(t, s)
        mapping.preview(t.frame, target=target, sensitive=sens)
    except DlxaiError as exc:
        assert str(exc)


@FUZZ
@given(raw=st.binary(max_size=3000), name=NAMES)
def test_random_bytes_never_escape(raw, name):
    _parse_then_map(raw, name)


@FUZZ
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=0, max_size=30),
       sep=st.sampled_from([",", ";", "\t", "|"]), encoding=st.sampled_from(["utf-8", "latin-1", "cp1252", "utf-16"]),
       wrap=st.sampled_from(["plain", "gzip", "zip"]), forced=st.sampled_from([None, ",", ";"]))
def test_csv_like_text_never_escapes(rows, sep, encoding, wrap, forced):
    text = "\n".join(sep.join(r) for r in rows)
    raw = text.encode(encoding, errors="replace")
    if wrap == "gzip":
        raw = gzip.compress(raw)
    elif wrap == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("x.csv", raw)
        raw = buf.getvalue()
    _parse_then_map(raw, "fuzz.csv", delimiter=forced)


@FUZZ
@given(df=st.integers(1, 40).flatmap(lambda n: st.fixed_dictionaries({
    "a": st.lists(st.one_of(st.integers(-5, 5), st.none(), st.floats(allow_nan=True)), min_size=n, max_size=n),
    "g": st.lists(st.sampled_from(["x", "y", None]), min_size=n, max_size=n),
    "y": st.lists(st.sampled_from([0, 1, 2]), min_size=n, max_size=n)})))
def test_structured_tables_never_escape(df):
    frame = pd.DataFrame(df)
    buf = io.BytesIO()
    frame.to_parquet(buf)
    _parse_then_map(buf.getvalue(), "t.parquet")
    _parse_then_map(frame.to_csv(index=False).encode(), "t.csv")


PREFIXES = [b"", b"PK\x03\x04", b"\x80\x04\x95", b"PAR1", b"\x08\x07\x12\x07pytorch", b"\x10\x00\x00\x00\x00\x00\x00\x00{"]


@FUZZ
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=2000),
       name=st.sampled_from(["m.onnx", "m.pt", "m.safetensors", "m.skops", "m.bin"]))
def test_random_model_files_never_escape(german, prefix, body, name):
    try:
        load_model(prefix + body, name, input_columns=["duration", "age"], sample=german.X("test"))
    except DlxaiError as exc:
        assert str(exc)


@pytest.fixture(scope="module")
def onnx_blob(tiny_mlp):
    return export_onnx(tiny_mlp)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_onnx_never_escapes(german, spec_json, onnx_blob, data):
    raw = bytearray(onnx_blob)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.sampled_from([len(raw), len(raw) // 2, 40]))
    try:
        m = load_model(bytes(raw[:cut]), "m.onnx", spec=spec_json, sample=german.X("test"))
        assert np.isfinite(m.predict_proba(german.X("test").head(10))).all()
    except DlxaiError as exc:
        assert str(exc)
