"""Explanation figures: importance bars, group and model comparisons, quality charts carry their inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from dlxai.plots.explain import (
    completeness_hist,
    faithfulness_curves,
    global_bars,
    group_importance_bars,
    group_share_bars,
    importance_comparison_bars,
    local_bars,
    randomisation_bars,
)
from dlxai.plots.style import PALETTE

IMPORTANCE = pd.Series([0.5, 0.3, 0.2, 0.1], index=["income", "sex", "age", "zip"])


def test_local_bars_colour_the_sign_and_show_values():
    local = pd.DataFrame({"feature": ["a", "b"], "attribution": [0.4, -0.2], "value": ["1", "x"]})
    bar = local_bars(local).data[0]
    assert list(bar.y) == ["b = x", "a = 1"]  # largest on top
    assert list(bar.marker.color) == [PALETTE[1], PALETTE[0]]


def test_global_bars_keep_the_top_features_largest_on_top_and_highlight():
    bar = global_bars(IMPORTANCE, top=3, highlight=["sex"]).data[0]
    assert list(bar.y) == ["age", "sex", "income"] and list(bar.x) == [0.2, 0.3, 0.5]
    assert list(bar.marker.color) == [PALETTE[0], PALETTE[1], PALETTE[0]]


def test_group_importance_bars_one_trace_per_group_features_by_mean():
    table = pd.DataFrame({"f": [0.1, 0.4, 0.3], "m": [0.3, 0.2, 0.1]}, index=["a", "b", "c"])
    fig = group_importance_bars(table, "sex")
    assert [tr.name for tr in fig.data] == ["f", "m"]
    assert list(fig.data[0].x) == ["b", "a", "c"] and list(fig.data[0].y) == [0.4, 0.1, 0.3]
    assert fig.layout.title.text == "Mean |attribution| per feature by sex"
    assert list(fig.layout.xaxis.ticktext) == ["b", "a", "c"]


def test_group_share_bars_draw_a_group_comparison():
    share = pd.DataFrame({"f": [0.5, 0.3, 0.2], "m": [0.6, 0.1, 0.3]}, index=["income", "sex", "zip"])
    cmp = SimpleNamespace(share=share, sensitive="sex", proxies=("zip",), group_sizes=pd.Series({"f": 10, "m": 12}))
    fig = group_share_bars(cmp)
    assert [tr.name for tr in fig.data] == ["f (n=10)", "m (n=12)"]
    assert list(fig.layout.xaxis.ticktext) == ["income", "<b>zip</b>", "<b>sex</b>"]
    assert fig.layout.title.text == "Share of attribution per feature by sex (bold: sensitive and likely proxies)"
    assert fig.layout.yaxis.tickformat == ".0%"


def test_importance_comparison_one_trace_per_model():
    table = pd.DataFrame({"before": [0.5, 0.3], "after": [0.6, 0.1]}, index=["income", "sex"])
    fig = importance_comparison_bars(table, highlight=["sex"])
    assert [tr.name for tr in fig.data] == ["before", "after"]
    assert list(fig.layout.yaxis.ticktext) == ["<b>sex</b>", "income"]


def test_quality_charts():
    x = np.linspace(0, 1, 5)
    f = SimpleNamespace(fractions=x, deletion=1 - x, insertion=x, random_deletion=1 - x / 2, random_insertion=x / 2,
                        deletion_auc=0.5, insertion_auc=0.5, random_deletion_auc=0.75, random_insertion_auc=0.25)
    assert len(faithfulness_curves(f).data) == 4
    # one colour meaning per page: red and green are the checks' verdicts there, never a curve's name
    from dlxai.plots.style import PALETTE

    assert not {tr.line.color for tr in faithfulness_curves(f).data} & {PALETTE[1], PALETTE[2]}
    check = SimpleNamespace(stages=("logits", "all"), spearman=np.array([0.7, 0.1]))
    bars = randomisation_bars(check, 0.5)
    assert list(bars.data[0].marker.color) == [PALETTE[1], PALETTE[2]]
    c = SimpleNamespace(relative_error=np.array([0.001, 0.02]), tolerance=0.01)
    hist = completeness_hist(c)
    assert np.allclose(hist.data[0].x, [0.1, 2.0]) and hist.layout.shapes[0].x0 == 1.0
