"""Fairlearn's own computation of the metrics dlxai must equal: the cross-check of the tests and the comparator of
``benchmarks/fairness_metrics.py``, written once."""

from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score


def fairlearn_metrics(y_true, y_pred, sf):
    """(MetricFrame of the per-group metrics, dict of the disparity summaries), as Fairlearn computes them."""
    mf = MetricFrame(
        metrics={
            "count": count, "selection_rate": selection_rate, "accuracy": accuracy_score,
            "tpr": true_positive_rate, "fpr": false_positive_rate, "fnr": false_negative_rate,
            "precision": lambda yt, yp: precision_score(yt, yp, zero_division=0),
        },
        y_true=y_true, y_pred=y_pred, sensitive_features=sf,
    )
    summary = {
        "demographic_parity_difference": demographic_parity_difference(y_true, y_pred, sensitive_features=sf),
        "demographic_parity_ratio": demographic_parity_ratio(y_true, y_pred, sensitive_features=sf),
        "equalized_odds_difference": equalized_odds_difference(y_true, y_pred, sensitive_features=sf),
        "equalized_odds_ratio": equalized_odds_ratio(y_true, y_pred, sensitive_features=sf),
        "equal_opportunity_difference": equal_opportunity_difference(y_true, y_pred, sensitive_features=sf),
    }
    return mf, summary
