"""Fairness figures: bars, impact ratios and the disparity summary carry the audit's numbers and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlxai.fairness.metrics import FOUR_FIFTHS, audit_fairness
from dlxai.plots.fairness import (
    DIFFERENCES,
    FAIL,
    PASS,
    RATIOS,
    disparity_summary,
    group_metric_bars,
    group_sizes,
    impact_ratio_bars,
)
from dlxai.plots.style import PALETTE


@pytest.fixture(scope="module")
def audit():
    rng = np.random.default_rng(0)
    g = pd.Series(rng.choice(["a", "b"], 400), name="grp")
    y = rng.integers(0, 2, 400)
    pred = (rng.random(400) < np.where(g == "a", 0.6, 0.3)).astype(int)
    return audit_fairness(y, pred, g, n_bootstrap=50, min_group_size=10)


def test_group_bars_show_each_metric_with_its_wilson_interval_by_default(audit):
    fig = group_metric_bars(audit)
    assert len(fig.data) == 3
    sel = fig.data[0]
    assert list(sel.x) == ["a", "b"] and sel.name == "Selection rate"
    assert np.allclose(sel.y, audit.by_group["selection_rate"])
    assert np.allclose(np.asarray(sel.y) + np.asarray(sel.error_y.array), audit.wilson_high["selection_rate"])
    assert "95% Wilson intervals" in fig.layout.title.text
    boot = group_metric_bars(audit, interval="bootstrap")
    assert np.allclose(np.asarray(boot.data[0].y) + np.asarray(boot.data[0].error_y.array),
                       audit.ci_high["selection_rate"])
    assert "95% Bootstrap intervals" in boot.layout.title.text


def test_rates_never_wear_the_verdict_colours(audit):
    """Red and blue mean below / at or above four-fifths on the page; a rate's bars use neither."""
    colours = {tr.marker.color for tr in group_metric_bars(audit, ("selection_rate", "tpr", "fpr", "precision")).data}
    assert not colours & {PASS, FAIL} and len(colours) == 4


def test_impact_ratio_marks_groups_under_four_fifths_and_labels_the_line_off_the_bars(audit):
    fig = impact_ratio_bars(audit)
    r = audit.by_group["impact_ratio"]
    assert fig.data[0].orientation == "h" and np.allclose(fig.data[0].x, r)
    assert list(fig.data[0].marker.color) == [PALETTE[1] if v < FOUR_FIFTHS else PALETTE[0] for v in r]
    assert fig.layout.shapes[0].x0 == FOUR_FIFTHS
    label = fig.layout.annotations[0]
    assert "four-fifths" in label.text and label.yref == "paper" and label.y >= 1  # above the plot area


def test_intersection_labels_break_after_the_ampersand():
    rng = np.random.default_rng(1)
    sf = pd.DataFrame({"sex": rng.choice(["F", "M"], 300), "race": rng.choice(["Black", "White"], 300)})
    a = audit_fairness(rng.integers(0, 2, 300), rng.integers(0, 2, 300), sf, n_bootstrap=0)
    fig = group_metric_bars(a)
    assert list(fig.data[0].x) == ["F & Black", "F & White", "M & Black", "M & White"]
    assert list(fig.layout.xaxis.ticktext)[0] == "F &<br>Black"


def test_disparity_summary_puts_differences_and_ratios_on_axes_of_their_own(audit):
    fig = disparity_summary(audit)
    diffs, ratios = fig.data
    assert np.allclose(diffs.x, [audit.summary[k] for k in DIFFERENCES])
    assert np.allclose(ratios.x, [audit.summary[k] for k in RATIOS])
    assert diffs.xaxis != ratios.xaxis and diffs.yaxis != ratios.yaxis
    assert list(diffs.y) == ["Demographic parity", "Equalized odds", "Equal opportunity"]
    assert [a.text for a in fig.layout.annotations][:2] == ["Differences (0 = parity)", "Ratios (1 = parity)"]


def test_group_sizes():
    fig = group_sizes(pd.Series([3, 5], index=["x", "y"]), "Sizes")
    assert list(fig.data[0].y) == [3, 5] and fig.layout.title.text == "Sizes" and fig.layout.yaxis.title.text == "Rows"
