"""How well the model predicts: accuracy, balanced accuracy, ROC AUC, confusion matrix, calibration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlxai import errors
from dlxai.errors import UserInputError


@dataclass(frozen=True)
class PerformanceReport:
    n: int
    threshold: float
    accuracy: float
    balanced_accuracy: float
    roc_auc: float
    confusion: np.ndarray  # [[tn, fp], [fn, tp]]
    calibration_pred: np.ndarray  # mean predicted probability per bin
    calibration_true: np.ndarray  # observed positive rate per bin
    calibration_count: np.ndarray
    brier: float

    def to_dict(self) -> dict:
        return {
            "n": self.n, "threshold": self.threshold, "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy, "roc_auc": self.roc_auc, "brier": self.brier,
            "confusion": self.confusion.tolist(),
        }


def evaluate(y_true, proba, *, threshold: float = 0.5, n_bins: int = 10) -> PerformanceReport:
    """Performance of positive-class probabilities ``proba`` against 0/1 labels ``y_true``."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_auc_score

    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    p = np.asarray(proba, dtype=np.float64).reshape(-1)
    if len(y) != len(p):
        raise UserInputError(errors.LENGTH_MISMATCH.format(lengths=[len(y), len(p)]))
    if len(y) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="y_true"))
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise UserInputError("Probabilities must be finite numbers in [0, 1]; the model returned NaN or out-of-range values.")
    pred = (p >= threshold).astype(np.int64)
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    cnt = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(idx, weights=p, minlength=n_bins) / cnt
        mean_y = np.bincount(idx, weights=y, minlength=n_bins) / cnt
    keep = cnt > 0
    return PerformanceReport(
        n=len(y),
        threshold=threshold,
        accuracy=float((pred == y).mean()),
        balanced_accuracy=float(balanced_accuracy_score(y, pred)),
        roc_auc=auc,
        confusion=confusion_matrix(y, pred, labels=[0, 1]),
        calibration_pred=mean_p[keep],
        calibration_true=mean_y[keep],
        calibration_count=cnt[keep],
        brier=float(np.mean((p - y) ** 2)),
    )
