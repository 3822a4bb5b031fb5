"""scikit-learn's estimator checks on the classifiers Fairlearn retrains (TorchMLPClassifier and its
fairness-penalised subclass).  Checks that cannot hold are listed with the reason."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from dlxai.fairness.penalised import FairPenaltyMLPClassifier
from dlxai.models.torch_mlp import TorchMLPClassifier

pytestmark = pytest.mark.slow  # ~120 small fits: about 80 s on 2 shared cores

FAST = {"hidden_layer_sizes": (16,), "max_epochs": 40, "learning_rate": 0.02, "validation_fraction": 0.0,
        "dropout": 0.0, "device": "cpu"}
FLOAT32 = ("float32 arithmetic: results agree to ~1e-7 absolute, sklearn asks for rtol 1e-7 on float64 values "
           "(sample_weight equivalence itself is tested exactly-up-to-float32 in test_mitigation.py)")


def expected_failures(est) -> dict[str, str]:
    failures = {
        "check_sample_weight_equivalence_on_dense_data": FLOAT32,
        "check_methods_subset_invariance": FLOAT32 + "; batched float32 matmul rounds differently by batch size",
    }
    return failures


@parametrize_with_checks(
    [TorchMLPClassifier(**FAST), FairPenaltyMLPClassifier(**FAST, fairness_weight=1.0)],
    expected_failed_checks=expected_failures,
)
def test_sklearn_contract(estimator, check):
    check(estimator)
