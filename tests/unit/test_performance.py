import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, confusion_matrix, roc_auc_score

from dlxai.errors import UserInputError
from dlxai.performance import evaluate


def test_matches_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    p = np.clip(0.3 * y + 0.7 * rng.random(1000), 0, 1)
    r = evaluate(y, p, threshold=0.4)
    pred = (p >= 0.4).astype(int)
    assert r.accuracy == pytest.approx((pred == y).mean())
    assert r.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, pred))
    assert r.roc_auc == pytest.approx(roc_auc_score(y, p))
    assert r.brier == pytest.approx(brier_score_loss(y, p))
    np.testing.assert_array_equal(r.confusion, confusion_matrix(y, pred))
    assert r.calibration_count.sum() == 1000
    assert np.all(np.diff(r.calibration_pred) > 0)


def test_nan_probabilities_are_refused():
    with pytest.raises(UserInputError, match="NaN or out-of-range"):
        evaluate([0, 1], [0.2, np.nan])
