"""Group fairness metrics: a hand-counted case, Fairlearn cross-checks, properties, the bootstrap."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlxai import errors
from dlxai.errors import UserInputError
from dlxai.fairness import audit_fairness
from tests.fairlearn_reference import fairlearn_metrics

# 8 rows, two groups, counted by hand:
#   group a: y_true 1 1 0 0, y_pred 1 0 1 0 -> selection 2/4, TPR 1/2, FPR 1/2, acc 2/4, precision 1/2
#   group b: y_true 1 1 1 0, y_pred 1 1 0 0 -> selection 2/4, TPR 2/3, FPR 0/1, acc 3/4, precision 2/2
Y_TRUE = [1, 1, 0, 0, 1, 1, 1, 0]
Y_PRED = [1, 0, 1, 0, 1, 1, 0, 0]
GROUP = pd.Series(list("aaaabbbb"), name="g")


def test_eight_rows_counted_by_hand():
    a = audit_fairness(Y_TRUE, Y_PRED, GROUP, n_bootstrap=0)
    bg = a.by_group
    assert bg.loc["a", ["count", "selection_rate", "tpr", "fpr", "fnr", "accuracy", "precision"]].tolist() == [
        4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert bg.loc["b", ["count", "selection_rate", "tpr", "fpr", "fnr", "accuracy", "precision"]].tolist() == [
        4, 0.5, 2 / 3, 0.0, 1 / 3, 0.75, 1.0]
    assert a.summary["demographic_parity_difference"] == 0.0
    assert a.summary["demographic_parity_ratio"] == 1.0
    assert a.summary["equal_opportunity_difference"] == pytest.approx(2 / 3 - 1 / 2)
    assert a.summary["equalized_odds_difference"] == 0.5  # FPR 0.5 vs 0
    assert a.summary["equalized_odds_ratio"] == 0.0  # FPR ratio 0 / 0.5
    assert a.overall["selection_rate"] == 0.5 and a.overall["count"] == 8
    assert not a.four_fifths_violated


def _assert_equal_to_fairlearn(audit, mf, summary):
    by = mf.by_group
    if isinstance(by.index, pd.MultiIndex):
        by.index = [" & ".join(map(str, t)) for t in by.index]
    by = by.loc[audit.by_group.index]
    for col in ("count", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision"):
        np.testing.assert_allclose(audit.by_group[col].to_numpy(float), by[col].to_numpy(float), rtol=0, atol=1e-12)
    for k, v in summary.items():
        assert abs(audit.summary[k] - v) <= 1e-12, k


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("two_attributes", [False, True])
def test_equals_fairlearn_on_random_data(seed, two_attributes):
    rng = np.random.default_rng(seed)
    n = 3000
    yt = rng.integers(0, 2, n)
    yp = (rng.random(n) < 0.3 + 0.4 * yt).astype(int)
    sf = pd.DataFrame({"a": rng.choice(["p", "q", "r", "s"], n, p=[0.4, 0.3, 0.2, 0.1]), "b": rng.choice(["x", "y"], n)})
    sf = sf if two_attributes else sf["a"]
    audit = audit_fairness(yt, yp, sf, n_bootstrap=0)
    _assert_equal_to_fairlearn(audit, *fairlearn_metrics(yt, yp, sf))


@pytest.mark.parametrize("attrs", [["sex"], ["race"], ["age_band"], ["sex", "race"]])
def test_equals_fairlearn_on_adult_predictions(adult, adult_mlp, attrs):
    yt = adult.y("test")
    yp = adult_mlp.predict(adult.X("test"))
    sf = adult.sensitive("test", attrs)
    sf = sf if len(attrs) == 2 else sf[attrs[0]]
    audit = audit_fairness(yt, yp, sf, n_bootstrap=200)
    _assert_equal_to_fairlearn(audit, *fairlearn_metrics(yt, yp, sf))


def test_adult_mlp_favours_men(adult, adult_mlp):
    """What a user of the demo sees: men are predicted >50K far more often than women."""
    a = audit_fairness(adult.y("test"), adult_mlp.predict(adult.X("test")), adult.sensitive("test", ["sex"]))
    assert a.reference_group == "Male"
    assert a.by_group.at["Female", "selection_rate"] < 0.5 * a.by_group.at["Male", "selection_rate"]
    assert a.four_fifths_violated
    lo, hi = a.summary_ci["demographic_parity_difference"]
    assert 0.1 < lo <= a.summary["demographic_parity_difference"] <= hi < 0.3


def test_undefined_rates_are_nan_and_reported():
    # group c has no positive rows: its TPR is undefined, not 0 (Fairlearn would report 0)
    yt = [1, 0, 1, 0, 0, 0]
    yp = [1, 0, 0, 1, 1, 0]
    a = audit_fairness(yt, yp, pd.Series(list("aabbcc"), name="g"), n_bootstrap=50)
    assert np.isnan(a.by_group.at["c", "tpr"])
    assert a.summary["equal_opportunity_difference"] == 1.0  # a: 1.0, b: 0.0; c left out
    assert any("True positive rate is undefined for c" in w for w in a.warnings)


def test_small_groups_warn_and_reference_group_is_respected():
    rng = np.random.default_rng(0)
    n = 500
    g = np.where(np.arange(n) < 10, "tiny", np.where(rng.random(n) < 0.5, "u", "v"))
    yt, yp = rng.integers(0, 2, n), rng.integers(0, 2, n)
    a = audit_fairness(yt, yp, pd.Series(g, name="g"), reference_group="u", min_group_size=20)
    assert a.small_groups == ("tiny",)
    assert any("fewer than 20 rows (tiny)" in w for w in a.warnings)
    assert a.by_group.at["u", "impact_ratio"] == 1.0 and a.reference_group == "u"
    assert a.by_group.at["v", "selection_rate_gap"] == pytest.approx(
        a.by_group.at["v", "selection_rate"] - a.by_group.at["u", "selection_rate"])


def test_four_fifths_flag():
    yt = np.zeros(200, int)
    yp = np.r_[np.ones(50), np.zeros(50), np.ones(35), np.zeros(65)].astype(int)  # 0.5 vs 0.35 -> ratio 0.7
    g = pd.Series(["m"] * 100 + ["f"] * 100, name="sex")
    a = audit_fairness(yt, yp, g, n_bootstrap=0)
    assert a.four_fifths_violated and a.by_group.at["f", "impact_ratio"] == pytest.approx(0.7)
    assert a.four_fifths_verdict.startswith("Four-fifths rule violated: 1 group is selected") and "f (0.70)" in \
        a.four_fifths_verdict


def test_bootstrap_is_seeded_and_matches_a_row_bootstrap():
    """The multinomial-over-cells bootstrap has the distribution of resampling rows."""
    rng = np.random.default_rng(3)
    n = 2000
    g = pd.Series(rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]), name="g")
    yt = rng.integers(0, 2, n)
    yp = (rng.random(n) < np.where(g == "a", 0.6, 0.4)).astype(int)
    a1 = audit_fairness(yt, yp, g, n_bootstrap=4000, seed=1)
    a2 = audit_fairness(yt, yp, g, n_bootstrap=4000, seed=1)
    assert a1.summary_ci == a2.summary_ci
    # naive bootstrap by resampling rows
    codes = pd.factorize(g)[0]
    vals = []
    for _ in range(1000):  # resample rows; selection rates by hand (Fairlearn's function per resample is slow)
        i = rng.integers(0, n, n)
        rates = np.bincount(codes[i], weights=yp[i], minlength=3) / np.bincount(codes[i], minlength=3)
        vals.append(rates.max() - rates.min())
    lo, hi = np.quantile(vals, [0.025, 0.975])
    assert a1.summary_ci["demographic_parity_difference"] == pytest.approx((lo, hi), abs=0.012)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 300), groups=st.integers(2, 5), seed=st.integers(0, 10_000),
)
def test_properties_on_random_inputs(n, groups, seed):
    rng = np.random.default_rng(seed)
    yt, yp = rng.integers(0, 2, n), rng.integers(0, 2, n)
    g = rng.integers(0, groups, n)
    if len(np.unique(g)) < 2:
        g[0], g[-1] = 0, 1
    sf = pd.Series(g.astype(str), name="g")
    a = audit_fairness(yt, yp, sf, n_bootstrap=100, seed=seed)
    rates = a.by_group[["selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision"]].to_numpy(float)
    assert np.all((rates[~np.isnan(rates)] >= 0) & (rates[~np.isnan(rates)] <= 1))
    assert a.by_group["count"].sum() == n
    sel = a.by_group["selection_rate"]
    assert a.summary["demographic_parity_difference"] == pytest.approx(sel.max() - sel.min())
    for k in ("demographic_parity_ratio", "equalized_odds_ratio"):
        assert np.isnan(a.summary[k]) or 0 <= a.summary[k] <= 1
    for lo, hi in a.summary_ci.values():
        assert np.isnan(lo) or lo <= hi
    # invariant under shuffling the rows
    p = rng.permutation(n)
    b = audit_fairness(yt[p], yp[p], sf.iloc[p].reset_index(drop=True), n_bootstrap=0)
    pd.testing.assert_frame_equal(a.by_group, b.by_group)
    # eo difference is the worse of the TPR and FPR gaps
    tpr, fpr = a.by_group["tpr"], a.by_group["fpr"]
    gaps = [x for x in (tpr.max() - tpr.min(), fpr.max() - fpr.min()) if not np.isnan(x)]
    if gaps:
        assert a.summary["equalized_odds_difference"] == pytest.approx(max(gaps))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [0, 1, 2, 1], "y_pred": [0, 1, 1, 1], "sensitive": list("abab")}, "must hold only 0 and 1"),
        ({"y_true": [0, 1, 1], "y_pred": [0, 1, 1, 1], "sensitive": list("abab")}, "inconsistent numbers of rows"),
        ({"y_true": [0, 1, 1, 0], "y_pred": [0, 1, 1, 1], "sensitive": list("aaaa")}, "single group"),
        ({"y_true": [], "y_pred": [], "sensitive": []}, "No rows to work with"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "sensitive": pd.DataFrame(index=[0, 1])}, errors.NO_SENSITIVE[:30]),
        ({"y_true": [0, 1], "y_pred": [0, 1], "sensitive": pd.DataFrame({"a": [1, 2], "b": [1, 2], "c": [1, 2]})},
         "At most two sensitive attributes"),
        ({"y_true": [0, 1, 1, 0], "y_pred": [0, 1, 1, 1], "sensitive": list("abab"), "reference_group": "z"},
         "Reference group 'z' is not among the groups"),
        ({"y_true": [0, 1, 1, 0], "y_pred": ["no", "yes", "yes", "no"], "sensitive": list("abab")}, "only 0 and 1"),
    ],
)
def test_bad_input_gets_a_clear_message(kwargs, message):
    kwargs = dict(kwargs)
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        audit_fairness(kwargs.pop("y_true"), kwargs.pop("y_pred"), kwargs.pop("sensitive"), **kwargs)
