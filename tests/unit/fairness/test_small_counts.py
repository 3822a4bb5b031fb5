"""Rates from few rows: Wilson intervals that are never zero-width, warnings judged on each rate's denominator,
and the four-fifths verdict naming every failing group."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest

from dlxai.fairness.metrics import audit_fairness, audit_from_counts, wilson_interval


def _rows(groups: dict[str, tuple[int, int, int, int]]):
    """y_true, y_pred, group from per-group confusion counts (tn, fp, fn, tp)."""
    yt, yp, g = [], [], []
    for name, (tn, fp, fn, tp) in groups.items():
        for (t, p), k in (((0, 0), tn), ((0, 1), fp), ((1, 0), fn), ((1, 1), tp)):
            yt += [t] * k
            yp += [p] * k
            g += [name] * k
    return np.array(yt), np.array(yp), pd.Series(g, name="grp")


# --- the Wilson interval, against values computed by hand -------------------------------------
# z = 1.959964; centre = (x + z²/2) / (n + z²); half = z / (n + z²) * sqrt(x (n - x) / n + z²/4)
@pytest.mark.parametrize(("x", "n", "lo", "hi"), [
    (8, 10, 0.4901625, 0.9433178),   # centre 9.92/13.84 = 0.71676, half 0.22658
    (0, 5, 0.0, 0.4344825),          # centre = half = 1.92073/8.84146 = 0.21724: lower bound exactly 0
    (5, 5, 0.5655175, 1.0),          # the mirror image of 0 of 5
    (3, 5, 0.2307243, 0.8823792),
    (0, 3, 0.0, 0.5614970),
])
def test_wilson_interval_equals_the_hand_computed_values(x, n, lo, hi):
    a, b = wilson_interval(x, n, 0.95)
    assert float(a) == pytest.approx(lo, abs=1e-6) and float(b) == pytest.approx(hi, abs=1e-6)


def test_wilson_interval_widens_with_confidence_and_is_nan_without_rows():
    lo95, hi95 = wilson_interval(8, 10, 0.95)
    lo99, hi99 = wilson_interval(8, 10, 0.99)
    assert lo99 < lo95 and hi99 > hi95
    lo, hi = wilson_interval(np.array([0, 2]), np.array([0, 4]))
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and 0 < lo[1] < 0.5 < hi[1] < 1


def test_a_group_with_0_of_5_positives_selected_gets_an_interval_of_non_zero_width():
    # group a: 5 positive rows, none selected -> TPR 0; the bootstrap says 0.000-0.000, Wilson 0.000-0.434
    yt, yp, g = _rows({"a": (50, 5, 5, 0), "b": (400, 40, 100, 300)})
    a = audit_fairness(yt, yp, g, n_bootstrap=500, seed=0)
    assert a.by_group.at["a", "tpr"] == 0.0
    assert a.ci_low.at["a", "tpr"] == a.ci_high.at["a", "tpr"] == 0.0  # the percentile bootstrap's blind spot
    assert a.wilson_low.at["a", "tpr"] == 0.0
    assert a.wilson_high.at["a", "tpr"] == pytest.approx(0.4344825, abs=1e-6)
    assert a.denominators.at["a", "tpr"] == 5 and a.denominators.at["a", "fpr"] == 55
    assert a.denominators.at["a", "precision"] == 5 and a.denominators.at["b", "selection_rate"] == 840
    # every rate lies inside its own Wilson interval
    for k in ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision"):
        v = a.by_group[k]
        assert ((a.wilson_low[k] <= v) & (v <= a.wilson_high[k])).all(), k
    assert a.intervals("bootstrap") == (a.ci_low, a.ci_high) and a.intervals() == (a.wilson_low, a.wilson_high)


# --- "small" is judged on the denominator of each rate -------------------------------------------
def test_a_rate_over_few_positives_warns_naming_the_group_the_rate_and_its_count():
    # group "rare" has 60 rows (not a small group) but only 3 positive rows: its TPR rests on 3 rows
    yt, yp, g = _rows({"rare": (50, 7, 3, 0), "common": (300, 40, 60, 200)})
    a = audit_fairness(yt, yp, g, n_bootstrap=0, min_group_size=30)
    assert a.small_groups == ()
    [thin] = [t for t in a.thin_rates if t.metric == "tpr"]
    assert (thin.group, thin.value, thin.denominator) == ("rare", 0.0, 3)
    note = next(w for w in a.warnings if w.startswith("True positive rate rests on"))
    assert "fewer than 30 positive rows" in note and "rare (0.000 from 3," in note
    # the disparity it sets says so, with both groups and both counts
    lead = a.warnings[0]
    assert lead.startswith("The equalized odds difference (0.769)") and "equal opportunity difference" in lead
    assert "common (0.769 from 260 positive rows) against that of rare (0.000 from 3 positive rows)" in lead


def test_few_negatives_in_a_large_group_flag_its_false_positive_rate():
    yt, yp, g = _rows({"big": (8, 2, 200, 790), "other": (300, 30, 50, 120)})  # 1,000 rows, 10 negative
    a = audit_fairness(yt, yp, g, n_bootstrap=0, min_group_size=30)
    assert a.small_groups == () and [(t.group, t.metric) for t in a.thin_rates] == [("big", "fpr")]
    assert any("False positive rate rests on fewer than 30 negative rows in 1 group(s): big (0.200 from 10," in w
               for w in a.warnings)


def test_min_denominator_is_its_own_threshold_and_defaults_to_min_group_size():
    yt, yp, g = _rows({"rare": (50, 7, 3, 0), "common": (300, 40, 60, 200)})
    assert audit_fairness(yt, yp, g, n_bootstrap=0, min_group_size=3).thin_rates == ()
    a = audit_fairness(yt, yp, g, n_bootstrap=0, min_group_size=3, min_denominator=10)
    assert {(t.group, t.metric) for t in a.thin_rates} == {("rare", "tpr"), ("rare", "fnr"), ("rare", "precision")}
    assert a.params["min_denominator"] == 10


def test_undefined_rates_are_not_thin_and_no_note_is_made_when_every_rate_is_well_supported():
    yt, yp, g = _rows({"a": (40, 10, 0, 0), "b": (300, 40, 60, 200)})  # a has no positive rows at all
    a = audit_fairness(yt, yp, g, n_bootstrap=0, min_group_size=30)
    assert not any(t.metric in ("tpr", "fnr") for t in a.thin_rates)
    assert any("True positive rate is undefined for a" in w for w in a.warnings)
    ok = audit_fairness(*_rows({"a": (300, 50, 40, 60), "b": (300, 40, 60, 200)}), n_bootstrap=0)
    assert ok.thin_rates == () and ok.warnings == ()


# --- the four-fifths verdict -------------------------------------------------------------------
def test_the_verdict_names_every_failing_group_once_with_its_ratio_and_is_not_repeated_as_a_warning():
    # selection rates: ref 0.50, p 0.35 (0.70), q 0.30 (0.60), r 0.45 (0.90)
    yt, yp, g = _rows({"ref": (50, 50, 0, 0), "p": (65, 35, 0, 0), "q": (70, 30, 0, 0), "r": (55, 45, 0, 0)})
    a = audit_fairness(yt, yp, g, n_bootstrap=0)
    assert list(a.four_fifths_failures.index) == ["q", "p"]  # lowest first
    v = a.four_fifths_verdict
    assert v.startswith("Four-fifths rule violated: 2 groups are selected at under 80% of the rate of ref")
    assert v.endswith("Impact ratios: q (0.60), p (0.70).")
    assert v.count("q (") == 1 and v.count("p (") == 1 and "r (" not in v
    assert not any("Four-fifths" in w for w in a.warnings)
    met = audit_fairness(*_rows({"ref": (50, 50, 0, 0), "r": (55, 45, 0, 0)}), n_bootstrap=0)
    assert met.four_fifths_verdict.startswith("Four-fifths rule met")


def test_a_ratio_just_under_four_fifths_is_not_printed_as_080():
    yt, yp, g = _rows({"ref": (0, 1000, 0, 0), "x": (203, 797, 0, 0)})  # 0.797
    assert "x (0.797)" in audit_fairness(yt, yp, g, n_bootstrap=0).four_fifths_verdict


# --- what stays as it was --------------------------------------------------------------------
def test_audit_from_counts_keeps_its_signature_and_the_new_fields_reach_to_dict():
    params = inspect.signature(audit_from_counts).parameters
    assert list(params)[:3] == ["counts", "labels", "attributes"]
    assert all(p.default is not inspect.Parameter.empty for name, p in params.items() if name not in
               ("counts", "labels", "attributes"))
    counts = np.array([[[300, 40], [60, 200]], [[50, 7], [3, 0]]])  # [group, y_true, y_pred]
    a = audit_from_counts(counts, ["common", "rare"], ["grp"], n_bootstrap=0)
    d = json.loads(json.dumps(a.to_dict()))
    assert d["thin_rates"][0] == {"group": "rare", "metric": "tpr", "value": 0.0, "denominator": 3, "low": 0.0,
                                  "high": pytest.approx(0.5614970, abs=1e-6)}
    assert d["wilson_ci"]["rare"]["tpr"][0] == 0.0 and d["four_fifths_verdict"].startswith("Four-fifths rule")
