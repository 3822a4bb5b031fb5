"""Counterfactuals respect the world: on Adult (the app's default MLP) an answer keeps relationship consistent with
an immutable sex, moves education-num with education, changes different features in each of its k answers, and
every strongly associated pair of its values occurs in the training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlxai.errors import UserInputError
from dlxai.explain.counterfactuals import CFSpace, Constraints, SearchOptions, World, find_counterfactuals
from dlxai.explain.counterfactuals.world import default_min_support

N_ROWS = 30


@pytest.fixture(scope="module")
def rows(adult, adult_mlp):
    X = adult.X("test")
    return X[adult_mlp.predict(X) == 0].iloc[:N_ROWS]


@pytest.fixture(scope="module")
def result(adult, adult_mlp, rows):
    """Default settings: sex and race immutable, age only increases."""
    return find_counterfactuals(adult_mlp, adult, rows, k=3, seed=0, options=SearchOptions(on_failure="keep"))


@pytest.fixture(scope="module")
def world(adult, adult_mlp):
    return World(CFSpace(adult_mlp, adult))


def _valid(res):
    return res.counterfactuals[res.counterfactuals["valid"]]


def _education_map(adult) -> pd.Series:
    train = adult.X("train")
    return train.groupby("education")["education-num"].agg(lambda s: s.mode().iloc[0])


def test_the_pairs_and_the_dependency_are_found_in_the_training_rows(world):
    """Measured, not hard-coded: education determines education-num, relationship is tied to sex."""
    d = world.describe()
    assert {"driver": "education", "dependent": "education-num"} in d["dependencies"]
    pairs = {frozenset(p["features"]): p for p in d["pairs"]}
    assert pairs[frozenset({"relationship", "sex"})]["measure"] == "cramers_v"
    assert pairs[frozenset({"education", "education-num"})]["strength"] == pytest.approx(1.0)
    assert all(p["strength"] >= 0.5 for p in d["pairs"])
    assert frozenset({"capital-gain", "education"}) not in pairs
    assert d["min_support"] == default_min_support(32561) == 5


def test_relationship_levels_a_woman_never_has_are_barred(world, adult, adult_mlp):
    space = world.space
    train = adult.X("train")
    fixed = np.array([f in ("sex", "race") for f in space.features])
    women = train[train["sex"] == "Female"].iloc[:5]
    num0, codes0 = space.encode_raw(women)
    g = space.categorical.index("relationship")
    allowed = world.level_masks(fixed, num0, codes0)[g]
    levels = space.levels[g]
    assert not allowed[:, levels.index("Husband")].any()  # one 'Husband' among 10,771 training women
    assert allowed[:, levels.index("Wife")].all()


def test_with_sex_immutable_relationship_keeps_to_levels_seen_with_the_rows_sex(adult, rows, result):
    cf = _valid(result)
    train = adult.X("train")
    seen = pd.crosstab(train["relationship"], train["sex"])
    q = cf.index.get_level_values("query")
    changed = cf["relationship"].to_numpy() != rows["relationship"].to_numpy()[q]
    assert changed.any()  # the search does change relationship; the check below has something to check
    assert (cf["sex"].to_numpy() == rows["sex"].to_numpy()[q]).all()
    for rel, sex in zip(cf["relationship"][changed], cf["sex"][changed], strict=True):
        assert seen.loc[rel, sex] >= 5, (rel, sex)


def test_education_and_education_num_stay_consistent(adult, adult_mlp, rows, result):
    edu = _education_map(adult)
    cf = _valid(result)
    assert (cf["education"].map(edu).to_numpy() == cf["education-num"].to_numpy()).all()
    # only education may change: every answer changes both, consistently
    only = find_counterfactuals(adult_mlp, adult, rows.iloc[:10], k=2, seed=0,
                                constraints=Constraints(vary=("education", "education-num")),
                                options=SearchOptions(on_failure="keep"))
    cf = _valid(only)
    assert len(cf) >= 5
    q = cf.index.get_level_values("query")
    assert (cf["education"].to_numpy() != rows["education"].to_numpy()[q]).all()
    assert (cf["education"].map(edu).to_numpy() == cf["education-num"].to_numpy()).all()
    # a pair that may not change as a whole is held
    held = find_counterfactuals(adult_mlp, adult, rows.iloc[:5], k=2, seed=0,
                                constraints=Constraints(immutable=("sex", "race", "education-num")),
                                options=SearchOptions(on_failure="keep"))
    cf = held.counterfactuals
    q = cf.index.get_level_values("query")
    assert (cf["education"].to_numpy() == rows["education"].to_numpy()[q]).all()


def test_the_k_answers_change_different_feature_sets(adult, rows, result):
    feats = list(adult.schema.features)
    repeats = 0
    for i in range(len(rows)):
        cf, q = result.for_query(i), rows.iloc[i]
        sets = [frozenset(f for f in feats if str(r[f]) != str(q[f])) for _, r in cf.iterrows()]
        repeats += len(set(sets)) < len(sets)
    assert repeats == 0


def test_the_plausible_share_is_one_and_validity_stays(adult, rows, result):
    assert result.summary()["validity"] >= 0.99
    assert result.plausible_share == 1.0
    assert result.summary()["plausible_pairs"] == 1.0
    assert (result.metrics["plausible_pairs"].dropna() == 1.0).all()
    # checked independently: every strongly associated pair of categorical values occurs in the training rows
    train = adult.X("train")
    cf = _valid(result)
    for a, b in (("relationship", "sex"), ("education", "education-num"), ("occupation", "education-num")):
        seen = set(zip(train[a].astype(str), train[b].astype(str)))
        assert all(pair in seen for pair in zip(cf[a].astype(str), cf[b].astype(str))), (a, b)


def test_with_plausibility_off_implausible_answers_are_flagged(adult, adult_mlp, rows):
    res = find_counterfactuals(adult_mlp, adult, rows, k=3, seed=0,
                               options=SearchOptions(on_failure="keep", plausibility="off"))
    cf = _valid(res)
    inconsistent = cf["education"].map(_education_map(adult)).to_numpy() != cf["education-num"].to_numpy()
    assert inconsistent.any()  # searched as independent features, education drifts from education-num...
    assert not cf["plausible"][inconsistent].any()  # ...and those answers are flagged
    assert res.plausible_share < 1.0
    assert res.params["plausibility"] == "off" and res.params["world"]["dependencies"]


def test_bad_plausibility_options_are_refused():
    with pytest.raises(UserInputError, match="plausibility must be"):
        SearchOptions(plausibility="sometimes")
    for bad in (0, 1.5, "high", True):
        with pytest.raises(UserInputError, match="association_threshold must be"):
            SearchOptions(association_threshold=bad)
    for bad in (0, 2.5, True):
        with pytest.raises(UserInputError, match="min_support must be"):
            SearchOptions(min_support=bad)
