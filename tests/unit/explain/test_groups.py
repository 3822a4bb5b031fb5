"""A model that reads group columns at prediction (Fairlearn's ThresholdOptimizer) is explained with each row's
groups held: kernel SHAP's coalitions and background rows and a counterfactual search's candidates are scored with
the groups of the row they stand for.  Every expected number here comes from Fairlearn's own ThresholdOptimizer
(``_pmf_predict``, the probability its ``predict`` draws from) or the model's ``predict_proba`` on frames that
carry a group, never from the code under test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlxai.errors import UserInputError
from dlxai.explain.attribution import attribute
from dlxai.explain.groups import group_columns, group_parts, held_groups, scored_rows
from dlxai.fairness.mitigation.messages import SENSITIVE_AT_PREDICTION

GROUPS = ("female", "male")


@pytest.fixture(scope="module")
def post(german):
    """ThresholdOptimizer (demographic parity by sex, not a model feature) on a logistic regression."""
    from dlxai.fairness.mitigation import mitigate
    from dlxai.models import train_model

    base = train_model(german, "logreg", seed=0)
    return mitigate(base, german, "threshold_optimizer", "demographic_parity", sensitive=["sex"],
                    n_bootstrap=0).model


def _pmf(post, raw: pd.DataFrame, group: str) -> np.ndarray:
    """P(favourable) from Fairlearn's ThresholdOptimizer, every row scored as ``group``."""
    to = post.estimator.mitigator
    sf = pd.DataFrame({"sex": [group] * len(raw)})
    return np.asarray(to._pmf_predict(post.transform(raw), sensitive_features=sf))[:, 1]


def _one_of_each(german, post, n: int = 2) -> pd.DataFrame:
    frame = scored_rows(post, german, "test")
    return pd.concat([frame[frame["sex"] == g].head(n) for g in GROUPS])


def test_the_thresholds_differ_by_group_so_holding_the_group_matters(post, german):
    """The premise of every test below: the same rows scored as women and as men get different probabilities."""
    X = german.X("test").head(200)
    assert np.abs(_pmf(post, X, "female") - _pmf(post, X, "male")).max() > 0.3
    assert group_columns(post) == ["sex"] and group_columns(post, german) == ["sex"]


def test_kernel_shap_sums_to_the_gap_of_each_rows_own_group(post, german):
    rows = _one_of_each(german, post)
    train = german.X("train").head(300)
    split = np.abs(_pmf(post, train, "female") - _pmf(post, train, "male"))
    bg = train.iloc[np.argsort(-split, kind="stable")[:6]]  # background rows the two groups' thresholds part on
    res = attribute(post, rows, method="kernel_shap", baselines=bg, n_samples=128, seed=0)
    assert list(res.groups["sex"]) == list(rows["sex"])
    sums = res.values.sum(axis=1)
    for i, (_, row) in enumerate(rows.iterrows()):
        g = row["sex"]
        x = rows.iloc[[i]][list(german.schema.features)]
        own = _pmf(post, x, g)[0] - _pmf(post, bg, g).mean()  # f(x) − E[f(background)], both as this row's group
        other = _pmf(post, x, g)[0] - _pmf(post, bg, GROUPS[1 - GROUPS.index(g)]).mean()
        assert res.target[i] == 1 or res.target[i] == 0
        sign = 1.0 if res.target[i] == 1 else -1.0  # the target class's probability; class 0 is 1 − P(favourable)
        assert sums[i] == pytest.approx(sign * own, abs=1e-5)
        assert res.output_gap[i] == pytest.approx(sign * own, abs=1e-5)
        assert abs(own - other) > 0.2  # scored with the other group's thresholds, the sum would be far off


def test_kernel_shap_quality_checks_score_with_the_same_groups(post, german):
    from dlxai.explain.quality import completeness, deletion_insertion

    rows = _one_of_each(german, post)
    res = attribute(post, rows, method="kernel_shap", baselines="samples", reference=german.X("train"),
                    n_baseline_samples=5, n_samples=64)
    assert completeness(res).passed
    curve = deletion_insertion(post, res, n_steps=4)
    # nothing deleted: the curve starts at the rows' own probabilities, each with its own group
    p = np.array([_pmf(post, rows.iloc[[i]][list(german.schema.features)], g)[0]
                  for i, g in enumerate(rows["sex"])])
    p_target = np.where(res.target == 1, p, 1 - p)
    assert curve.deletion[0] == pytest.approx(p_target.mean(), abs=1e-6)


def test_rows_without_the_group_columns_say_what_is_missing(post, german):
    with pytest.raises(UserInputError, match="sex") as info:
        attribute(post, german.X("test").head(2), method="kernel_shap", n_samples=16)
    assert str(info.value).startswith(SENSITIVE_AT_PREDICTION.split("{")[0])


def test_counterfactuals_are_valid_for_each_rows_own_group(post, german):
    from dlxai.explain.counterfactuals import SearchOptions, find_counterfactuals

    rows = _one_of_each(german, post, n=3)
    res = find_counterfactuals(post, german, rows, k=2, seed=0, options=SearchOptions(on_failure="keep"))
    feats = list(german.schema.features)
    np.testing.assert_allclose(res.query_proba, [_pmf(post, rows.iloc[[i]][feats], g)[0]
                                                 for i, g in enumerate(rows["sex"])], atol=1e-12)
    differs = 0
    for q, g in enumerate(rows["sex"]):
        cf = res.for_query(q)
        if not len(cf):
            continue
        own = _pmf(post, cf[feats], g)
        np.testing.assert_allclose(cf["proba"].to_numpy(), own, atol=1e-12)  # rescored by Fairlearn as its group
        assert ((own > 0.5) == (res.desired_class[q] == 1)).all()  # so it flips the decision for this person
        assert (cf["sex"].astype(str) == g).all() if "sex" in cf.columns else True
        differs += int((np.abs(own - _pmf(post, cf[feats], GROUPS[1 - GROUPS.index(g)])) > 1e-6).any())
    assert res.valid.any(axis=1).sum() >= 4
    assert res.params["groups_held"] == ["sex"]
    assert differs >= 1  # as the other group, some of them would score differently: the group was held


def test_recourse_burden_by_group(post, german):
    from dlxai.explain.counterfactuals import SearchOptions
    from dlxai.fairness.recourse import recourse_burden

    burden = recourse_burden(post, german, "sex", max_rows=16, n_bootstrap=20,
                             options=SearchOptions(n_candidates=100))
    assert set(burden.by_group.index) == set(GROUPS)


def test_the_offers_name_what_runs_and_why_gradients_do_not(post, german, german_mlp):
    from dlxai.fairness.mitigation import mitigate
    from dlxai.fairness.mitigation.messages import THRESHOLDED_NETWORK, THRESHOLDED_NO_NETWORK
    from dlxai.fairness.offers import offers

    off = offers(post, ["sex"])
    for key in ("explain:kernel_shap", "counterfactuals", "recourse", "surrogate"):
        assert off[key] == "", (key, off[key])
    why = off["explain:integrated_gradients"]
    assert "ThresholdOptimizer" in why and THRESHOLDED_NO_NETWORK.rstrip(".") in why  # a logistic regression
    on_mlp = mitigate(german_mlp, german, "threshold_optimizer", sensitive=["sex"], n_bootstrap=0).model
    why = offers(on_mlp, ["sex"])["explain:integrated_gradients"]
    assert THRESHOLDED_NETWORK.rstrip(".") in why  # the original is a network: make it active for gradients


def test_a_group_column_that_is_also_a_feature_stays_a_feature(german):
    """status_sex is a model feature and the group the thresholds read: SHAP attributes it as the base model's
    input, while every coalition is thresholded with the explained row's actual status_sex."""
    from dlxai.explain.views import explained_output
    from dlxai.fairness.mitigation import mitigate
    from dlxai.models import train_model

    base = train_model(german, "logreg", seed=0)
    post = mitigate(base, german, "threshold_optimizer", "demographic_parity", sensitive=["status_sex"],
                    n_bootstrap=0).model
    rows = scored_rows(post, german, "test").head(3)
    assert list(rows.columns) == list(german.schema.features)  # the group column is already a feature
    bg = german.X("train").sample(n=5, random_state=2)
    res = attribute(post, rows, method="kernel_shap", baselines=bg, n_samples=128)
    assert "status_sex" in res.by_feature().columns
    to = post.estimator.mitigator
    for i in range(len(rows)):
        g = str(rows["status_sex"].iloc[i])

        def f(raw, g=g):
            sf = pd.DataFrame({"status_sex": [g] * len(raw)})
            return np.asarray(to._pmf_predict(post.transform(raw), sensitive_features=sf))[:, 1]

        sign = 1.0 if res.target[i] == 1 else -1.0
        assert res.values[i].sum() == pytest.approx(sign * (f(rows.iloc[[i]])[0] - f(bg).mean()), abs=1e-5)
    text = explained_output(post, res)
    assert "each row is scored with its own group (status_sex)" in text
    assert "status_sex is also an input feature of the original model" in text


def test_group_parts_and_held_groups(post, german):
    rows = _one_of_each(german, post).iloc[[0, 2, 1, 3]]
    held = held_groups(post, rows)
    assert list(held.index) == [0, 1, 2, 3]
    assert [list(p) for p in group_parts(held)] == [[0, 2], [1, 3]]
    assert held_groups(object(), rows) is None
