"""Bundled datasets: Adult, German credit and the bias lab."""

import pandas as pd
import pytest

from dlxai.data import load_demo, make_bias_lab
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


def test_unknown_demo_lists_the_choices():
    with pytest.raises(UserInputError, match="Choose one of"):
        load_demo("mnist")
