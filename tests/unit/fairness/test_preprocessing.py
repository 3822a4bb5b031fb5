"""Pre-processing: Kamiran & Calders reweighing and Fairlearn's CorrelationRemover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlxai.errors import UserInputError
from dlxai.fairness import mitigation as mt
from dlxai.fairness.preprocessing import NOT_A_FEATURE, WEIGHTS_UNDEFINED, DecorrelatedPreprocessor, reweighing_weights
from tests.unit.fairness.conftest import fragment


def test_reweighing_weights_equal_hand_computation():
    # 8 rows: group a = [F,F,F,M,M,M,M,M], y = [1,0,0,1,1,1,0,0]
    a = pd.Series(["F", "F", "F", "M", "M", "M", "M", "M"], name="sex")
    y = np.array([1, 0, 0, 1, 1, 1, 0, 0])
    w = reweighing_weights(y, a)
    # w(a, y) = P(a) P(y) / P(a, y): P(F)=3/8, P(M)=5/8, P(y=1)=4/8, P(y=0)=4/8
    hand = {("F", 1): (3 / 8) * (4 / 8) / (1 / 8), ("F", 0): (3 / 8) * (4 / 8) / (2 / 8),
            ("M", 1): (5 / 8) * (4 / 8) / (3 / 8), ("M", 0): (5 / 8) * (4 / 8) / (2 / 8)}
    np.testing.assert_allclose(w, [hand[(g, t)] for g, t in zip(a, y)], rtol=1e-15)
    # in the weighted data the positive rate is the same in both groups (label independent of group)
    for g in ("F", "M"):
        m = (a == g).to_numpy()
        assert np.sum(w[m] * y[m]) / np.sum(w[m]) == pytest.approx(0.5)
    assert w.sum() == pytest.approx(len(y))


def test_reweighing_undefined_cell():
    with pytest.raises(UserInputError, match=fragment(WEIGHTS_UNDEFINED)):
        reweighing_weights([1, 1, 0, 0], pd.Series(["a", "a", "b", "b"]))


def test_reweighing_retrains_and_narrows_dp(adult, adult_small_mlp):
    r = mt.mitigate(adult_small_mlp, adult, "reweighing", sensitive=["sex"], n_bootstrap=50)
    assert r.constraint == "none"
    assert r.after.demographic_parity < r.before.demographic_parity
    assert r.model.torch_module() is not None


def test_correlation_remover(adult, adult_small_mlp):
    prep = DecorrelatedPreprocessor(adult_small_mlp.preprocessor, ("sex",)).fit(adult.X("train"))
    Z = prep.transform(adult.X("train"))
    sex_cols = adult_small_mlp.preprocessor.feature_groups_["sex"]
    assert Z.shape[1] == adult_small_mlp.preprocessor.n_features_out_ - len(sex_cols)
    assert prep.feature_groups_["sex"] == ()
    male = (adult.train["sex"] == "Male").to_numpy(float)
    corr = [abs(np.corrcoef(Z[:, j], male)[0, 1]) for j in range(Z.shape[1]) if Z[:, j].std() > 0]
    assert max(corr) < 1e-3  # every remaining column is linearly uncorrelated with sex
    with pytest.raises(UserInputError, match=fragment(NOT_A_FEATURE)):
        DecorrelatedPreprocessor(adult_small_mlp.preprocessor, ("age_band",)).fit(adult.X("train"))
    r = mt.mitigate(adult_small_mlp, adult, "correlation_remover", sensitive=["sex"], strength=1.0,
                    n_bootstrap=0)
    assert r.model.predict_proba(adult.X("test")).shape == (len(adult.test),)
    assert r.after.demographic_parity < r.before.demographic_parity
