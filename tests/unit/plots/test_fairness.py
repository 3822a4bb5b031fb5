"""Fairness figures: bars, impact ratios and the disparity summary carry the audit's numbers and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlxai.fairness.metrics import FOUR_FIFTHS, audit_fairness
from dlxai.plots.fairness import disparity_summary, group_metric_bars, group_sizes, impact_ratio_bars
from dlxai.plots.style import PALETTE


@pytest.fixture(scope="module")
def audit():
    rng = np.random.default_rng(0)
    g = pd.Series(rng.choice(["a", "b"], 400), name="grp")
    y = rng.integers(0, 2, 400)
    pred = (rng.random(400) < np.where(g == "a", 0.6, 0.3)).astype(int)
    return audit_fairness(y, pred, g, n_bootstrap=50, min_group_size=10)


def test_group_bars_show_each_metric_with_its_interval(audit):
    fig = group_metric_bars(audit)
    assert len(fig.data) == 3
    sel = fig.data[0]
    assert list(sel.x) == ["a", "b"]
    assert np.allclose(sel.y, audit.by_group["selection_rate"])
    assert np.allclose(np.asarray(sel.y) + np.asarray(sel.error_y.array), audit.ci_high["selection_rate"])
    assert "95% bootstrap intervals" in fig.layout.title.text


def test_impact_ratio_marks_groups_under_four_fifths(audit):
    fig = impact_ratio_bars(audit)
    r = audit.by_group["impact_ratio"]
    assert np.allclose(fig.data[0].y, r)
    assert list(fig.data[0].marker.color) == [PALETTE[1] if v < FOUR_FIFTHS else PALETTE[0] for v in r]
    assert fig.layout.shapes[0].y0 == FOUR_FIFTHS


def test_disparity_summary_has_one_dot_per_metric(audit):
    fig = disparity_summary(audit)
    assert np.allclose(fig.data[0].x, [audit.summary[k] for k in audit.summary])


def test_group_sizes():
    fig = group_sizes(pd.Series([3, 5], index=["x", "y"]), "Sizes")
    assert list(fig.data[0].y) == [3, 5] and fig.layout.title.text == "Sizes"
