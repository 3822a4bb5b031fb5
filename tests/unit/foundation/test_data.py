"""Bundled datasets, the bias lab, preprocessing."""

import numpy as np
import pandas as pd
import pytest

from dlxai import errors
from dlxai.data import Preprocessor, Schema, load_demo, make_bias_lab, make_dataset
from dlxai.errors import UserInputError


def test_adult_has_its_official_split_and_schema(adult):
    assert len(adult.train) == 32_561 and len(adult.test) == 16_281
    assert adult.schema.positive_label == ">50K"
    assert set(adult.schema.sensitive) == {"sex", "race", "age_band"}
    assert adult.y("train").mean() == pytest.approx(0.2408, abs=1e-3)  # 7,841 of 32,561 earn >50K
    assert set(adult.test["income"]) == {">50K", "<=50K"}  # the test file's trailing dots are gone
    assert adult.train["workclass"].isna().sum() == 1836  # '?' read as missing
    assert "fnlwgt" not in adult.schema.features
    assert adult.group_sizes("sex", "train").to_dict() == {"Female": 10_771, "Male": 21_790}


def test_german_derives_sex_from_personal_status(german):
    full = german.frame("all")
    assert len(full) == 1000
    assert (full["sex"] == "female").sum() == 310  # A92 (310) - A95 does not occur in the file
    assert set(full["credit"]) == {"good", "bad"} and (full["credit"] == "good").sum() == 700
    assert set(full["age_band"]) == {"under 25", "25 and over"}
    assert full["purpose"].str.startswith("A").sum() == 0  # codes decoded to their meanings
    # the seeded split is stratified on the target and reproducible
    again = load_demo("german")
    pd.testing.assert_frame_equal(german.train, again.train)
    assert german.y("train").mean() == pytest.approx(0.7, abs=0.01)


def _label_gap(ds):
    y = ds.y("all")
    g = ds.frame("all")["group"].to_numpy()
    return y[g == "A"].mean() - y[g == "B"].mean()


def test_bias_lab_dial_moves_the_label_gap():
    gaps = [_label_gap(make_bias_lab(4000, label_bias=b, seed=1)) for b in (0.0, 0.3, 0.6, 0.9)]
    assert abs(gaps[0]) < 0.05  # no bias: both groups deserve approval equally often
    assert all(a < b for a, b in zip(gaps, gaps[1:]))  # turning the dial up widens the gap
    assert gaps[-1] > 0.3


def test_bias_lab_proxy_strength_reveals_the_group():
    def assoc(s):
        df = make_bias_lab(4000, proxy_strength=s, seed=2).frame("all")
        return pd.crosstab(df["neighbourhood"], df["group"], normalize="index")["B"].max()

    assert assoc(0.0) < 0.5 < assoc(1.0)
    assert assoc(1.0) == pytest.approx(1.0)


def test_bias_lab_is_seeded():
    a, b = make_bias_lab(500, seed=7), make_bias_lab(500, seed=7)
    pd.testing.assert_frame_equal(a.train, b.train)
    assert a.fingerprint == b.fingerprint != make_bias_lab(500, seed=8).fingerprint


@pytest.mark.parametrize("kw", [{"label_bias": 1.5}, {"proxy_strength": -0.1}, {"n": 10}, {"minority_share": 0.0}])
def test_bias_lab_rejects_out_of_range_dials(kw):
    with pytest.raises(UserInputError, match="received"):
        make_bias_lab(**kw)


def test_preprocessor_is_fitted_on_training_rows_only(adult):
    prep = Preprocessor(adult.schema.numeric, adult.schema.categorical).fit(adult.X("train"))
    Xtr = prep.transform(adult.X("train"))
    Xte = prep.transform(adult.X("test"))
    n_num = len(adult.schema.numeric)
    assert np.allclose(Xtr[:, :n_num].mean(axis=0), 0, atol=1e-4)  # scaled with training statistics
    assert not np.allclose(Xte[:, :n_num].mean(axis=0), 0, atol=1e-4)
    assert Xtr.dtype == np.float32 and not np.isnan(Xtr).any() and not np.isnan(Xte).any()
    # each categorical feature is one-hot: exactly one 1 per row in its group (missing is a level)
    for col in adult.schema.categorical:
        idx = list(prep.feature_groups_[col])
        assert np.all(Xtr[:, idx].sum(axis=1) == 1)
    assert "workclass_missing" in prep.feature_names_out_


def test_preprocessor_ignores_unseen_levels():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "c": ["a", "b", "a", None]})
    prep = Preprocessor(["x"], ["c"]).fit(df)
    out = prep.transform(pd.DataFrame({"x": [2.0], "c": ["zzz"]}))
    assert out.shape == (1, 1 + 3)  # a, b, missing
    assert out[0, 1:].sum() == 0
    assert prep.feature_groups_ == {"x": (0,), "c": (1, 2, 3)}


def _frame(**over):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "x": rng.normal(size=40), "c": rng.choice(["u", "v"], 40), "s": rng.choice(["f", "m"], 40),
        "y": rng.choice(["yes", "no"], 40),
    })
    for k, v in over.items():
        df[k] = v
    return df


SCHEMA = Schema(target="y", positive_label="yes", sensitive=("s",), numeric=("x",), categorical=("c", "s"))


def test_non_binary_target_is_refused():
    df = _frame(y=np.resize(["a", "b", "c"], 40))
    with pytest.raises(UserInputError, match="exactly two classes; it has 3"):
        make_dataset("t", df, SCHEMA)


def test_single_group_sensitive_attribute_is_refused():
    with pytest.raises(UserInputError, match=r"single group \('f'\)"):
        make_dataset("t", _frame(s="f"), SCHEMA)


def test_all_nan_column_is_refused():
    with pytest.raises(UserInputError, match=r"Column 'x' has no values at all"):
        make_dataset("t", _frame(x=np.nan), SCHEMA)


def test_missing_column_names_the_available_ones():
    with pytest.raises(UserInputError, match="Available columns"):
        make_dataset("t", _frame().drop(columns="c"), SCHEMA)


def test_text_in_a_numeric_column_is_named():
    with pytest.raises(UserInputError, match="declared numeric but holds non-numbers"):
        make_dataset("t", _frame(x=np.resize(["1.5", "abc"], 40)), SCHEMA)


def test_with_target_moves_the_old_target_into_the_features(adult):
    ds = adult.with_target("sex", "Male")
    assert ds.schema.target == "sex" and "sex" not in ds.schema.features and "income" in ds.schema.categorical
    with pytest.raises(UserInputError, match=errors.NON_BINARY_TARGET.split("{")[0]):
        adult.with_target("race", "White")


def test_unknown_demo_lists_the_choices():
    with pytest.raises(UserInputError, match="Choose one of"):
        load_demo("mnist")
