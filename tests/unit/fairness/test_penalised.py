"""Fairness-penalised training: the gap is what it says, λ=0 is plain training, λ>0 narrows the gap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlxai.errors import UserInputError
from dlxai.fairness import mitigation as mt
from dlxai.fairness.penalised import BAD_FAIRNESS_WEIGHT, FairPenaltyMLPClassifier, fairness_gap, group_gap
from dlxai.models.torch_mlp import TorchMLPClassifier
from tests.unit.fairness.conftest import fragment


def test_group_gap_equals_hand_computation():
    p = torch.tensor([0.9, 0.7, 0.2, 0.4, 0.6, 0.1], requires_grad=True)
    g = torch.tensor([0, 0, 1, 1, 1, 0])
    y = torch.tensor([1, 0, 1, 0, 1, 0])
    # group 0: (0.9+0.7+0.1)/3 = 0.5667, group 1: (0.2+0.4+0.6)/3 = 0.4
    assert float(group_gap(p, g, 2)) == pytest.approx(1.7 / 3 - 0.4)
    # positives: g0 {0.9}, g1 {0.2, 0.6} -> 0.9 - 0.4; negatives: g0 {0.7, 0.1} = 0.4, g1 {0.4} -> 0.0
    assert float(fairness_gap(p, y, g, 2, "true_positive_rate_parity")) == pytest.approx(0.5)
    assert float(fairness_gap(p, y, g, 2, "equalized_odds")) == pytest.approx(0.5)
    # integer weights equal repeated rows
    w = torch.tensor([2.0, 1.0, 1.0, 3.0, 1.0, 1.0])
    rep = torch.repeat_interleave(torch.arange(6), w.long())
    assert float(group_gap(p, g, 2, weights=w)) == pytest.approx(float(group_gap(p[rep], g[rep], 2)))
    group_gap(p, g, 2).backward()
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    assert float(group_gap(p, torch.zeros(6, dtype=torch.long), 2)) == 0.0  # a single group: nothing to compare


def test_lambda_zero_is_plain_training():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    s = rng.integers(0, 2, size=80)
    params = dict(hidden_layer_sizes=(8,), max_epochs=4, random_state=2, device="cpu")
    plain = TorchMLPClassifier(**params).fit(X, y)
    pen = FairPenaltyMLPClassifier(**params, fairness_weight=0.0).fit(X, y, sensitive_features=s)
    np.testing.assert_array_equal(plain.predict_proba(X), pen.predict_proba(X))


def test_penalty_narrows_demographic_parity_on_adult(adult, adult_small_mlp):
    r = mt.mitigate(adult_small_mlp, adult, "penalised", "demographic_parity", sensitive=["sex"], strength=1.0,
                    n_bootstrap=100)
    assert r.after.demographic_parity < 0.05 < r.before.demographic_parity
    assert r.before.accuracy - r.after.accuracy < 0.03
    assert r.model.torch_module() is not None  # one network: gradient explanations still apply
    assert type(r.model.estimator).__name__ == "FairPenaltyMLPClassifier"
    assert r.model.estimator.callback is None


def test_bad_penalty_parameters():
    X = np.zeros((10, 2), dtype=np.float32)
    y = np.arange(10) % 2
    with pytest.raises(UserInputError, match=fragment(BAD_FAIRNESS_WEIGHT)):
        FairPenaltyMLPClassifier(fairness_weight=-1).fit(X, y)
    with pytest.raises(UserInputError, match="Unknown fairness penalty"):
        FairPenaltyMLPClassifier(penalty="karma").fit(X, y)
    with pytest.raises(UserInputError, match="inconsistent numbers of rows"):
        FairPenaltyMLPClassifier(max_epochs=1).fit(X, y, sensitive_features=np.zeros(3))
