"""The run history: one row per setting, a re-run replaces its row, bounded; audits become history rows."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.lessons.history import MAX_RUNS, METRICS, Run, add_run, audit_record, history_frame, interval, labelled


def test_a_rerun_replaces_its_row_in_place_and_the_history_is_bounded():
    runs = add_run([], Run("a", {"dp": 0.1}))
    runs = add_run(runs, Run("b", {"dp": 0.2}))
    runs = add_run(runs, Run("a", {"dp": 0.3}))
    assert [r.setting for r in runs] == ["a", "b"] and runs[0].values["dp"] == 0.3
    for i in range(MAX_RUNS + 3):
        runs = add_run(runs, Run(f"s{i}", {"dp": i}))
    assert len(runs) == MAX_RUNS and runs[-1].setting == f"s{MAX_RUNS + 2}"


def test_history_frame_has_one_row_per_run_and_nan_where_a_run_lacks_a_metric():
    runs = [Run("a", {"dp": 0.1, "accuracy": 0.8, "dp_lo": 0.05, "dp_hi": 0.2}), Run("b", {"dp": 0.2})]
    f = history_frame(runs)
    assert list(f.index) == ["a", "b"] and list(f.columns) == ["dp", "accuracy"]  # METRICS order, known keys only
    assert np.isnan(f.loc["b", "accuracy"])
    assert list(labelled(f).columns) == [METRICS["dp"], METRICS["accuracy"]]
    lo, hi = interval(runs, "dp")
    assert lo[0] == 0.05 and np.isnan(hi[1])


def test_audit_record_takes_accuracy_dp_and_eo_with_intervals():
    from dlxai.fairness.metrics import audit_fairness

    rng = np.random.default_rng(0)
    audit = audit_fairness(rng.integers(0, 2, 400), rng.integers(0, 2, 400), rng.choice(["a", "b"], 400),
                           n_bootstrap=50)
    rec = audit_record(audit)
    assert rec["dp"] == pytest.approx(audit.summary["demographic_parity_difference"])
    assert rec["eo_lo"] <= rec["eo"] <= rec["eo_hi"] or np.isnan(rec["eo_lo"])
    assert set(rec) == {"accuracy", "dp", "dp_lo", "dp_hi", "eo", "eo_lo", "eo_hi"}
