"""Views: local, global per raw feature, per-group comparison with proxies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dlxai.errors import UserInputError
from dlxai.explain.attribution import AttributionResult, attribute
from dlxai.explain.views import (
    feature_association,
    global_importance,
    group_comparison,
    likely_proxies,
    local_view,
)


def _result(values, groups=None, row_index=None):
    values = np.asarray(values, dtype=float)
    return AttributionResult(values=values, method="integrated_gradients", params={}, target=np.zeros(len(values)),
                             inputs=np.zeros_like(values), baselines=None,
                             feature_names=tuple(f"c{i}" for i in range(values.shape[1])), feature_groups=groups,
                             row_index=row_index)


def test_one_hot_columns_are_summed_back_to_raw_features():
    r = _result([[1.0, -2.0, 0.5, 0.25], [0.0, 1.0, -1.0, 3.0]], groups={"age": (0,), "job": (1, 2, 3)})
    by = r.by_feature()
    assert list(by.columns) == ["age", "job"]
    np.testing.assert_allclose(by.to_numpy(), [[1.0, -1.25], [0.0, 3.0]])
    g = global_importance(r)
    assert list(g.index) == ["job", "age"]
    np.testing.assert_allclose(g.to_numpy(), [(1.25 + 3.0) / 2, 0.5])
    np.testing.assert_allclose(global_importance(r, mask=[True, False]).loc["job"], 1.25)


def test_local_view_sorts_by_magnitude_and_shows_raw_values():
    raw = pd.DataFrame({"age": [30, 40], "job": ["a", "b"]}, index=[10, 11])
    r = _result([[1.0, -2.0, 0.5, 0.25], [0.0, 1.0, -1.0, 3.0]], groups={"age": (0,), "job": (1, 2, 3)},
                row_index=np.array([10, 11]))
    lv = local_view(r, 1, raw=raw)
    assert list(lv["feature"]) == ["job", "age"]
    assert list(lv["value"]) == ["b", "40"]
    np.testing.assert_allclose(lv["attribution"], [3.0, 0.0])
    with pytest.raises(UserInputError, match="not among the 2 explained rows"):
        local_view(r, 5)


def test_association_finds_a_planted_proxy():
    rng = np.random.default_rng(0)
    sex = rng.choice(["f", "m"], 500)
    data = pd.DataFrame({
        "sex": sex,
        "height": np.where(sex == "m", 178, 165) + rng.normal(0, 4, 500),  # strong numeric proxy
        "noise": rng.normal(size=500),
        "job": np.where(rng.random(500) < 0.9, sex, "x"),  # strong categorical proxy
        "city": rng.choice(["p", "q", "r"], 500),
    })
    assoc = feature_association(data, "sex")
    assert assoc["height"] > 0.7 and assoc["job"] > 0.7
    assert assoc["noise"] < 0.15 and assoc["city"] < 0.15
    assert set(likely_proxies(data, "sex")) == {"height", "job"}


def test_group_comparison_reports_weight_on_sensitive_and_proxies():
    # group f: weight on sex; group m: weight on income
    vals = np.array([[3.0, 1.0, 0.0]] * 10 + [[0.0, 1.0, 3.0]] * 10)
    r = _result(vals, groups={"sex": (0,), "hours": (1,), "income": (2,)})
    groups = ["f"] * 10 + ["m"] * 10
    cmp = group_comparison(r, groups, "sex", proxies=["income"])
    np.testing.assert_allclose(cmp.sensitive_share.to_numpy(), [0.75, 0.0])
    np.testing.assert_allclose(cmp.proxy_share.to_numpy(), [0.0, 0.75])
    assert cmp.max_share_gap.iloc[0] == pytest.approx(0.75)
    assert cmp.rank_correlation < 0
    assert dict(cmp.group_sizes) == {"f": 10, "m": 10}
    with pytest.raises(UserInputError, match="explained"):
        group_comparison(r, groups[:5], "sex")


def test_group_comparison_on_adult_like_german(german, german_mlp):
    rows = german.X("test").head(120)
    r = attribute(german_mlp, rows, method="input_x_gradient")
    sex = german.test.loc[r.row_index, "sex"]
    cmp = group_comparison(r, sex, "sex", data=german.train)
    assert set(cmp.importance.columns) == set(map(str, sex.unique()))
    assert list(cmp.importance.index) == list(german.schema.features)
    np.testing.assert_allclose(cmp.share.sum(axis=0).to_numpy(), 1.0)
    # status_sex encodes sex: it is found as a proxy
    assert "status_sex" in cmp.proxies
    assert (cmp.proxy_share > 0).all()


def test_compare_importance_shows_shares_per_model():

    from dlxai.explain.attribution import attribute
    from dlxai.explain.views import compare_importance

    torch.manual_seed(0)
    x = torch.randn(20, 3)
    a = torch.nn.Sequential(torch.nn.Linear(3, 2))
    b = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with torch.no_grad():
        a[0].weight.copy_(torch.tensor([[0.0, 0.0, 0.0], [3.0, 1.0, 0.0]]))
        b[0].weight.copy_(torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 3.0]]))
    ra = attribute(a, x, method="input_x_gradient", target=1)
    rb = attribute(b, x, method="input_x_gradient", target=1)
    t = compare_importance({"before": ra, "after": rb})
    assert list(t.columns) == ["before", "after"]
    assert t.sum().tolist() == pytest.approx([1.0, 1.0])
    # the first feature carries most of the weight before and none after
    first = t.index[0]
    assert t.loc[first, "before"] > 0.5 and t.loc[first, "after"] == pytest.approx(0.0)
    with pytest.raises(UserInputError, match="at least two"):
        compare_importance({"only": ra})


@pytest.mark.parametrize("kind, method, words", [
    ("app MLP", "integrated_gradients", "logit scale"),
    ("skops pipeline (raw columns)", "kernel_shap", "probability scale (0 to 1)"),
    ("TorchScript + spec", "integrated_gradients", "half the decision margin"),
])
def test_the_explained_output_and_its_scale_are_named(german, kind, method, words):
    from dlxai.explain.views import explained_output
    from tests.unit.models.exporters import Zoo

    zoo = Zoo(german)
    try:
        m = zoo[kind]
        kw = {"n_samples": 16, "baselines": "samples", "reference": german.X("train"), "n_baseline_samples": 3} \
            if method == "kernel_shap" else {"n_steps": 8}
        res = attribute(m, german.X("test").head(3), method=method, target=1, **kw)
        text = explained_output(m, res)
        assert words in text and "the favourable class (1)" in text
    finally:
        zoo.close()
