"""Recourse burden: a constructed case equals a hand computation; the real search feeds it."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.errors import UserInputError
from dlxai.explain.counterfactuals import SearchOptions
from dlxai.fairness.recourse import burden_from_costs, recourse_burden, recourse_costs


def test_burden_on_a_constructed_case_equals_hand_computation():
    costs = [1.0, 2.0, 3.0, np.nan, 4.0, 6.0, 8.0, 10.0]
    groups = ["A", "A", "A", "A", "B", "B", "B", "B"]
    b = burden_from_costs(costs, groups, n_bootstrap=500, seed=1)
    assert b.by_group.loc["A", "burden"] == pytest.approx(2.0)        # (1+2+3)/3, the NaN has no recourse
    assert b.by_group.loc["B", "burden"] == pytest.approx(7.0)        # (4+6+8+10)/4
    assert b.by_group.loc["A", "no_recourse_rate"] == pytest.approx(0.25)
    assert b.by_group.loc["A", "rejected"] == 4 and b.by_group.loc["A", "with_recourse"] == 3
    assert b.gap == pytest.approx(5.0) and b.highest == "B" and b.lowest == "A"
    assert b.by_group.loc["B", "ratio"] == pytest.approx(3.5)
    for g in ("A", "B"):
        lo, hi = b.by_group.loc[g, ["ci_low", "ci_high"]]
        assert lo <= b.by_group.loc[g, "burden"] <= hi
    assert 1.0 <= b.gap_ci[0] <= 5.0 <= b.gap_ci[1] <= 9.0   # bootstrap means stay within each group's range


def test_burden_bad_input():
    with pytest.raises(UserInputError, match="only"):
        burden_from_costs([1.0, 2.0, np.nan], ["A", "A", "B"])
    with pytest.raises(UserInputError, match="inconsistent numbers of rows"):
        burden_from_costs([1.0, 2.0], ["A"])


def test_recourse_burden_from_a_real_search(german_mlp, german):
    costs = recourse_costs(german_mlp, german, max_rows=12, k=1, options=SearchOptions(steps=150))
    assert len(costs) <= 12 and (german_mlp.predict(german.X("test").iloc[costs.index]) == 0).all()
    b = recourse_burden(german_mlp, german, "sex", costs=costs, n_bootstrap=200)
    assert set(b.by_group.index) <= {"female", "male"}
    sex = german.test["sex"].to_numpy()[costs.index]
    for g in b.by_group.index:
        c = costs["cost"].to_numpy()[sex == g]
        assert b.by_group.loc[g, "burden"] == pytest.approx(np.nanmean(c))
