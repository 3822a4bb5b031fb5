"""CSV/Parquet parsing, detection, profiling, schema mapping and dataset building on real bytes."""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from dlxai import errors
from dlxai.data import mapping, tables
from dlxai.errors import UserInputError


def people(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income_k": np.round(rng.normal(40, 10, n), 2),
        "sex": rng.choice(["Female", "Male"], n),
        "city": rng.choice(["Köln", "Zürich", "Málaga"], n),
        "approved": rng.choice(["yes", "no"], n),
    })


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiter_is_detected(sep):
    df = people()
    t = tables.read_table(df.to_csv(index=False, sep=sep).encode(), "p.csv")
    assert t.delimiter == sep
    assert t.shape == (300, 5)
    pd.testing.assert_frame_equal(t.frame, df, check_dtype=False)


@pytest.mark.parametrize("encoding,expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("latin-1", "cp1252")])
def test_encoding_is_detected_and_accents_survive(encoding, expected):
    df = people()
    t = tables.read_table(df.to_csv(index=False).encode(encoding), "p.csv")
    assert t.encoding == expected
    assert set(t.frame["city"]) == {"Köln", "Zürich", "Málaga"}
    assert list(t.frame.columns) == list(df.columns)  # the BOM is not glued to the first name
    assert bool(t.notes) == (expected == "cp1252")  # the user is told the file was not UTF-8


def test_explicit_encoding_and_delimiter_win():
    raw = people().to_csv(index=False, sep=";").encode("latin-1")
    t = tables.read_table(raw, "p.csv", delimiter=";", encoding="latin-1")
    assert (t.delimiter, t.encoding) == (";", "latin-1")
    assert "Köln" in set(t.frame["city"])


@pytest.mark.parametrize("kind", ["gzip", "bz2", "zip"])
def test_compressed_files_are_read(kind):
    raw = people().to_csv(index=False).encode()
    if kind == "gzip":
        blob = gzip.compress(raw)
    elif kind == "bz2":
        blob = bz2.compress(raw)
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("people.csv", raw)
        blob = buf.getvalue()
    t = tables.read_table(blob, f"p.{kind}")
    assert t.compression == kind and t.shape == (300, 5)


def test_parquet_is_read_with_types():
    df = people()
    buf = io.BytesIO()
    df.to_parquet(buf)
    t = tables.read_table(buf.getvalue(), "p.parquet")
    assert t.format == "parquet" and t.delimiter is None
    pd.testing.assert_frame_equal(t.frame, df, check_dtype=False)


def test_quoted_fields_with_delimiters_inside():
    raw = b'name,comment,y\n"Smith, J","said ""hi"", left",1\n"Doe, A","ok",0\n"Roe, B","fine; good",1\n'
    t = tables.read_table(raw, "q.csv")
    assert t.frame.loc[0, "comment"] == 'said "hi", left' and t.shape == (3, 3)


def test_question_marks_are_missing_values():
    t = tables.read_table(b"a,b,y\n1,x,0\n?,y,1\n3,?,0\n", "m.csv")
    assert t.frame["a"].isna().sum() == 1 and t.frame["b"].isna().sum() == 1
    assert pd.api.types.is_numeric_dtype(t.frame["a"])


def test_profile_infers_types_and_flags_ids_and_mixed():
    df = people(2000)
    df["id"] = [f"u{i}" for i in range(len(df))]
    df["zip"] = ["12345"] * 1990 + ["n/a-code"] * 10
    df["empty"] = np.nan
    df["flag"] = np.random.default_rng(0).integers(0, 2, len(df))
    prof = {p.name: p for p in mapping.profile_columns(df)}
    assert prof["age"].kind == "numeric" and prof["income_k"].kind == "numeric"
    assert prof["sex"].kind == "categorical" and prof["flag"].kind == "categorical"
    assert prof["id"].kind == "ignore" and "2,000 distinct" in prof["id"].note
    assert prof["zip"].kind == "categorical" and "mixed types" in prof["zip"].note and "n/a-code" in prof["zip"].note
    assert prof["empty"].kind == "ignore"


def test_suggestions_pick_label_and_sensitive():
    df = people()
    assert mapping.suggest_target(df) == "approved"
    assert mapping.suggest_sensitive(df, "approved") == ["age", "sex"] or mapping.suggest_sensitive(df, "approved") == ["sex"]


def test_build_schema_and_dataset_with_split():
    t = tables.read_table(people().to_csv(index=False).encode(), "p.csv")
    s = mapping.build_schema(t.frame, "approved", "yes", ["sex"], ignore=["city"])
    assert s.numeric == ("age", "income_k") and s.categorical == ("sex",) and s.ignore == ("city",)
    ds = mapping.dataset_from_upload(t, s, test_size=0.25, seed=3)
    assert (len(ds.train), len(ds.test)) == (225, 75)
    assert "city" not in ds.train.columns
    assert ds.y("train").mean() == pytest.approx((t.frame["approved"] == "yes").mean(), abs=0.02)  # stratified


def test_positive_label_given_as_text_matches_numbers():
    df = people()
    df["approved"] = (df["approved"] == "yes").astype(int)
    s = mapping.build_schema(df, "approved", "1", ["sex"])
    assert s.positive_label == 1


def test_separate_test_file():
    train = tables.read_table(people(300, 0).to_csv(index=False).encode(), "train.csv")
    test = tables.read_table(people(120, 1).to_csv(index=False).encode(), "test.csv")
    s = mapping.build_schema(train.frame, "approved", "yes", ["sex"])
    ds = mapping.dataset_from_upload(train, s, test=test)
    assert (len(ds.train), len(ds.test)) == (300, 120)


def test_test_file_missing_columns_is_named():
    train = tables.read_table(people().to_csv(index=False).encode(), "train.csv")
    test = tables.read_table(people().drop(columns=["income_k"]).to_csv(index=False).encode(), "test.csv")
    s = mapping.build_schema(train.frame, "approved", "yes", ["sex"])
    with pytest.raises(UserInputError, match=r"lacks the columns \['income_k'\]"):
        mapping.dataset_from_upload(train, s, test=test)


def test_preview_has_group_sizes():
    df = people()
    pv = mapping.preview(df, target="approved", sensitive=["sex"])
    assert len(pv.head) == 20
    assert pv.group_sizes["sex"].sum() == 300 and set(pv.group_sizes["sex"].index) == {"Female", "Male"}
    assert pv.target_counts.sum() == 300


def test_caller_frame_is_not_changed():
    df = people()
    before = df.copy()
    s = mapping.build_schema(df, "approved", "yes", ["sex"])
    mapping.dataset_from_upload(df, s)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.slow
def test_a_million_rows_by_a_hundred_columns_loads():
    """1,000,000 x 100 (Parquet, float32): parsed, profiled and built into a dataset."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    cols = {f"x{i}": rng.standard_normal(n, dtype=np.float32) for i in range(97)}
    cols["group"] = rng.choice(np.array(["a", "b", "c"]), n)
    cols["region"] = rng.choice(np.array(["n", "s"]), n)
    cols["y"] = rng.integers(0, 2, n).astype(np.int8)
    buf = io.BytesIO()
    pd.DataFrame(cols).to_parquet(buf)
    del cols
    t = tables.read_table(buf.getvalue(), "big.parquet")
    assert t.shape == (1_000_000, 100)
    s = mapping.build_schema(t.frame, "y", 1, ["group"])
    assert len(s.numeric) == 97
    ds = mapping.dataset_from_upload(t, s, test_size=0.2)
    assert len(ds.train) + len(ds.test) == 1_000_000
    assert errors.UPLOAD_TOO_LARGE  # the limit constant exists and 1M x 100 stays under it
    assert len(buf.getvalue()) < tables.DEFAULT_MAX_BYTES


def test_progress_is_reported_up_to_done():
    seen = []
    tables.read_table(people().to_csv(index=False).encode(), "p.csv", progress=lambda f, what: seen.append((f, what)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[-1][1] == "Read 300 rows × 5 columns"


def test_padded_fields_are_trimmed_like_adult():
    t = tables.read_table(b"age, sex, y\n39, Male, <=50K\n50, Female, >50K\n", "a.csv")
    assert list(t.frame.columns) == ["age", "sex", "y"] and set(t.frame["sex"]) == {"Male", "Female"}


def test_bare_carriage_return_is_a_clear_error_not_a_csv_crash():
    """Found by the fuzzer: b'\\r!' made the csv module raise its own error out of read_table."""
    from dlxai.errors import DlxaiError

    with pytest.raises(DlxaiError):
        tables.read_table(b"\r!", "f.csv")
