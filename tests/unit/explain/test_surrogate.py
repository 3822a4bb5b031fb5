"""Surrogate trees: fidelity equals a direct count, depth is validated, rules read as text."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.errors import UserInputError
from dlxai.explain.surrogate import _Encoder, fit_surrogate, local_surrogate


@pytest.fixture(scope="module")
def sur(german_mlp, german):
    return fit_surrogate(german_mlp, german, max_depth=3, sensitive=["sex", "age_band"])


def test_fidelity_equals_a_direct_count(sur, german_mlp, german):
    X = german.X("test")
    tree_pred = sur.tree.predict(_Encoder(german_mlp, german.X("train"), "raw")(X))
    model_pred = german_mlp.predict(X)
    assert sur.fidelity == pytest.approx(float(np.mean(tree_pred == model_pred)))
    sex = german.test["sex"].to_numpy()
    for g in ("female", "male"):
        want = float(np.mean(tree_pred[sex == g] == model_pred[sex == g]))
        assert sur.fidelity_by_group.loc[("sex", g), "fidelity"] == pytest.approx(want)
        assert sur.fidelity_by_group.loc[("sex", g), "count"] == int((sex == g).sum())
    assert 0.5 <= sur.fidelity <= 1.0


def test_depth_and_rules(sur, german):
    assert sur.depth <= 3 and sur.n_leaves <= 8
    assert len(sur.rules) == sur.n_leaves
    assert sum(r["rows"] for r in sur.rules) == sur.params["train_rows"]
    assert sur.text.startswith("IF ") and "THEN model decides" in sur.text
    pos = str(german.schema.positive_label)
    assert all(r["prediction"] in (pos, f"not {pos}") for r in sur.rules)


def test_preprocessed_space_has_readable_names(german_mlp, german):
    s = fit_surrogate(german_mlp, german, max_depth=2, space="preprocessed")
    assert any(n.endswith("(standardised)") for n in s.feature_names)
    assert any(" = " in n for n in s.feature_names)
    assert 0.0 <= s.fidelity <= 1.0


@pytest.mark.parametrize("depth", [0, 13, 2.5, "4", True])
def test_depth_out_of_range(german_mlp, german, depth):
    with pytest.raises(UserInputError, match="max_depth must be a whole number from 1 to 12"):
        fit_surrogate(german_mlp, german, max_depth=depth)


def test_deeper_trees_fit_at_least_as_well_on_training_rows(german_mlp, german):
    f = [fit_surrogate(german_mlp, german, max_depth=d, min_samples_leaf=1).train_fidelity for d in (1, 4, 8)]
    assert f[0] <= f[1] + 1e-12 <= f[2] + 2e-12


def test_local_surrogate(german_mlp, german):
    row = german.X("test").iloc[[0]]
    loc = local_surrogate(german_mlp, german, row, max_depth=3, n_samples=400)
    assert 0.5 <= loc.fidelity <= 1.0
    assert loc.row_prediction in ("good", "not good")
    assert 0.0 <= loc.positive_share <= 1.0
    assert loc.text.startswith("IF ")
    with pytest.raises(UserInputError, match="max_depth"):
        local_surrogate(german_mlp, german, row, max_depth=20)
    with pytest.raises(UserInputError, match="one raw feature row"):
        local_surrogate(german_mlp, german, german.X("test").iloc[:2])


def test_a_post_processed_model_gets_a_surrogate_scored_with_each_rows_groups(german_mlp, german):
    """ThresholdOptimizer reads age_band (not a model feature) from each row: the surrogate scores real rows with
    their groups, and a row's neighbours keep that row's groups; fidelity is a direct count of that scoring."""
    from dlxai.fairness.mitigation import mitigate

    post = mitigate(german_mlp, german, "threshold_optimizer", sensitive=["age_band"], n_bootstrap=0).model
    assert "age_band" in post.sensitive_columns and "age_band" not in german.schema.features
    sur = fit_surrogate(post, german, max_depth=3, sensitive=["sex"])
    test = german.frame("test")[[*german.schema.features, "age_band"]]
    tree_pred = sur.tree.predict(_Encoder(post, german.X("train"), "raw")(test))
    assert sur.fidelity == pytest.approx(float(np.mean(tree_pred == post.predict(test))))
    row = german.frame("test").iloc[[0]]
    loc = local_surrogate(post, german, row, max_depth=2, n_samples=300)
    assert loc.row_prediction in ("good", "not good") and 0.0 <= loc.fidelity <= 1.0
    with pytest.raises(UserInputError, match="lacks \\['age_band'\\]"):
        local_surrogate(post, german, german.X("test").iloc[[0]], n_samples=300)
