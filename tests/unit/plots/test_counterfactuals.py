"""Recourse burden bars, the surrogate tree and its fidelity bars show the result's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.explain.surrogate import fit_surrogate
from dlxai.fairness.recourse import burden_from_costs
from dlxai.plots.counterfactuals import burden_bars, fidelity_bars, tree_figure


@pytest.fixture(scope="module")
def sur(german_mlp, german):
    return fit_surrogate(german_mlp, german, max_depth=3, sensitive=["sex", "age_band"])


def test_burden_chart_shows_each_group_with_its_interval():
    b = burden_from_costs([1.0, 2.0, 3.0, 4.0, 6.0, 8.0], ["A", "A", "A", "B", "B", "B"], n_bootstrap=200)
    fig = burden_bars(b)
    bar = fig.data[0]
    assert list(bar.x) == ["A", "B"] and list(bar.y) == [2.0, 6.0]
    assert np.allclose(np.asarray(bar.error_y.array) + bar.y, b.by_group["ci_high"].to_numpy())
    assert "gap 4.00" in fig.layout.title.text


def test_tree_figure_draws_every_node(sur):
    fig = tree_figure(sur.tree, sur.feature_names, sur.class_names)
    nodes = fig.data[1]
    assert len(nodes.x) == sur.tree.tree_.node_count
    assert all("<br>" in str(t) for t in nodes.text)  # every node: what it tests or decides, then its rows


def test_fidelity_bars_show_every_group(sur):
    bars = fidelity_bars(sur)
    assert sorted(float(v) for tr in bars.data for v in tr.y) == sorted(sur.fidelity_by_group["fidelity"].tolist())
    assert [tr.name for tr in bars.data] == ["sex", "age_band"]


def test_tree_nodes_read_as_conditions_one_hot_as_equal_or_not(adult_mlp, adult):
    """A one-hot split reads `marital-status ≠ Married-civ-spouse` (left, true), never `... = ... ≤ 0.5`."""
    from dlxai.explain.surrogate import split_conditions

    sur = fit_surrogate(adult_mlp, adult, max_depth=2, sensitive=[])
    splits = [str(t) for t in tree_figure(sur.tree, sur.feature_names, sur.class_names).data[1].text if "?" in str(t)]
    assert splits and not any("0.5" in s and "≠" in s for s in splits)
    assert any(" = " not in s and "≠" in s for s in splits)  # Adult's first splits are on one-hot levels
    assert split_conditions("marital-status = Married-civ-spouse", 0.5) == (
        "marital-status ≠ Married-civ-spouse", "marital-status = Married-civ-spouse")
    assert split_conditions("age", 37.5) == ("age ≤ 37.5", "age > 37.5")
    assert split_conditions("capital-gain", 12940.5)[0] == "capital-gain ≤ 12,940.5"  # never 1.294e+04
    assert split_conditions("capital-gain", 7140.0)[1] == "capital-gain > 7,140"
