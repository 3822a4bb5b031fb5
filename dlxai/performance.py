"""How well the model predicts: accuracy, balanced accuracy, ROC AUC, confusion matrix, calibration."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

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


# --- the same report from per-class summaries that add up across partitions -------------------------------
AUC_EXACT_MAX_VALUES = 100_000  # distinct scores kept exactly (ROC AUC exact); beyond this, scores are binned
AUC_BINS = 65_536  # fixed bins of [0, 1] once binned: ROC AUC within the bound roc_auc_bound() reports


@dataclass(frozen=True)
class ClassScores:
    """What :func:`evaluate` needs from the rows of ONE true class, in a form that adds up (``a + b``).

    A table split into partitions gives one summary per class per partition; their sums give
    :func:`evaluate_classes` the whole table.  ``values``/``counts`` hold each distinct score and its rows
    (ROC AUC then equals :func:`evaluate`'s bit for bit); past :data:`AUC_EXACT_MAX_VALUES` distinct scores
    ``values`` is None and ``counts`` holds rows per one of :data:`AUC_BINS` equal bins of [0, 1].  Sums of
    probabilities are kept as exact fractions of the partitions' float sums, so summaries added in any order (as
    partitions finish) give the same bits.
    """

    n: int
    decided: np.ndarray  # (2,) rows decided 0 and 1 at the threshold
    values: np.ndarray | None
    counts: np.ndarray
    calibration_count: np.ndarray  # (n_bins,) rows per calibration bin
    calibration_sum: np.ndarray  # (n_bins,) Fractions: sum of probabilities per calibration bin
    sum_sq: Fraction  # sum of p**2: the Brier term of these rows when the class is the negative one
    sum_sq_c: Fraction  # sum of (1 - p)**2: the term when it is the positive one

    def binned(self) -> np.ndarray:
        if self.values is None:
            return self.counts
        return np.bincount(_auc_bin(self.values), weights=self.counts, minlength=AUC_BINS).astype(np.int64)

    def __add__(self, other: ClassScores) -> ClassScores:
        if self.values is not None and other.values is not None:
            values, inverse = np.unique(np.concatenate([self.values, other.values]), return_inverse=True)
            counts = np.bincount(inverse, weights=np.concatenate([self.counts, other.counts])).astype(np.int64)
            if len(values) > AUC_EXACT_MAX_VALUES:
                values, counts = None, np.bincount(_auc_bin(values), weights=counts, minlength=AUC_BINS).astype(np.int64)
        else:
            values, counts = None, self.binned() + other.binned()
        return ClassScores(self.n + other.n, self.decided + other.decided, values, counts,
                           self.calibration_count + other.calibration_count,
                           self.calibration_sum + other.calibration_sum,
                           self.sum_sq + other.sum_sq, self.sum_sq_c + other.sum_sq_c)


def _auc_bin(p: np.ndarray) -> np.ndarray:
    return np.minimum((np.asarray(p, dtype=np.float64) * AUC_BINS).astype(np.int64), AUC_BINS - 1)


def _calibration_bin(p: np.ndarray, n_bins: int) -> np.ndarray:
    edges = np.linspace(0, 1, n_bins + 1)
    return np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)


def class_scores(proba, *, threshold: float = 0.5, n_bins: int = 10) -> ClassScores:
    """The :class:`ClassScores` of rows of one true class whose positive-class probabilities are ``proba``."""
    p = np.asarray(proba, dtype=np.float64).reshape(-1)
    values, counts = np.unique(p, return_counts=True)
    if len(values) > AUC_EXACT_MAX_VALUES:
        values, counts = None, np.bincount(_auc_bin(p), minlength=AUC_BINS).astype(np.int64)
    idx = _calibration_bin(p, n_bins)
    decided = np.bincount((p >= threshold).astype(np.int64), minlength=2)
    return ClassScores(len(p), decided, values, counts.astype(np.int64), np.bincount(idx, minlength=n_bins),
                       _exact(np.bincount(idx, weights=p, minlength=n_bins)), Fraction(float(np.sum(p ** 2))),
                       Fraction(float(np.sum((1 - p) ** 2))))


def _exact(sums: np.ndarray) -> np.ndarray:
    return np.array([Fraction(float(x)) for x in sums], dtype=object)


def decision_scores(decided, *, n_bins: int = 10) -> ClassScores:
    """The :class:`ClassScores` of 0/1 decisions used as probabilities (``decided``: rows decided 0 and 1)."""
    d0, d1 = (int(x) for x in decided)
    keep = np.array([d0, d1]) > 0
    cal_count = np.zeros(n_bins, dtype=np.int64)
    cal_count[0] += d0
    cal_count[n_bins - 1] += d1
    cal_sum = np.zeros(n_bins)
    cal_sum[n_bins - 1] = float(d1)
    return ClassScores(d0 + d1, np.array([d0, d1], dtype=np.int64), np.array([0.0, 1.0])[keep],
                       np.array([d0, d1], dtype=np.int64)[keep], cal_count, _exact(cal_sum), Fraction(d1),
                       Fraction(d0))


def roc_auc_bound(negative: ClassScores, positive: ClassScores) -> float:
    """Largest possible |binned ROC AUC - exact ROC AUC| (0 when both are exact).

    Binning changes only pairs of a positive and a negative row in the same bin: exact AUC scores such a pair
    1, 0 or 1/2, the binned one 1/2, so the error is at most half the share of such pairs:
    ``0.5 * sum_b P_b N_b / (P N)``.  Probabilities spread over [0, 1] give about ``0.5 / AUC_BINS`` (< 1e-5).
    """
    if negative.values is not None and positive.values is not None or not negative.n or not positive.n:
        return 0.0
    same_bin = float(np.dot(negative.binned().astype(np.float64), positive.binned().astype(np.float64)))
    return 0.5 * same_bin / (float(negative.n) * float(positive.n))


def roc_auc_classes(negative: ClassScores, positive: ClassScores, *, higher: bool = True) -> float:
    """ROC AUC of the two classes' summaries (higher scores rank as positive unless ``higher`` is False)."""
    from sklearn.metrics import roc_auc_score

    if not negative.n or not positive.n:
        return float("nan")
    if negative.values is not None and positive.values is not None:
        scores = np.concatenate([negative.values, positive.values])
        weights = np.concatenate([negative.counts, positive.counts])
        sizes = (len(negative.values), len(positive.values))
    else:
        keep_n, keep_p = np.flatnonzero(negative.binned()), np.flatnonzero(positive.binned())
        scores = np.concatenate([keep_n, keep_p]).astype(np.float64)
        weights = np.concatenate([negative.binned()[keep_n], positive.binned()[keep_p]])
        sizes = (len(keep_n), len(keep_p))
    y = np.repeat([0, 1], sizes)
    return float(roc_auc_score(y, scores if higher else -scores, sample_weight=weights))


def evaluate_classes(negative: ClassScores, positive: ClassScores, *, threshold: float = 0.5,
                     n_bins: int = 10) -> PerformanceReport:
    """:func:`evaluate` from the summaries of the negative and the positive rows.

    Equal to :func:`evaluate` on the same rows: counts, accuracy, balanced accuracy, the confusion matrix and
    ROC AUC (exact scores) bit for bit; calibration means and the Brier score up to float rounding of sums
    added in another order (~1e-16 relative).  Binned ROC AUC is within :func:`roc_auc_bound`.
    """
    from sklearn.metrics import balanced_accuracy_score

    n = negative.n + positive.n
    if n == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="y_true"))
    confusion = np.array([negative.decided, positive.decided], dtype=np.int64)
    cells = [(t, d) for t in (0, 1) for d in (0, 1) if confusion[t, d] > 0]
    balanced = balanced_accuracy_score([t for t, _ in cells], [d for _, d in cells],
                                       sample_weight=[confusion[t, d] for t, d in cells])
    cnt = negative.calibration_count + positive.calibration_count
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.array([float(x) for x in negative.calibration_sum + positive.calibration_sum]) / cnt
        mean_y = positive.calibration_count / cnt
    keep = cnt > 0
    return PerformanceReport(
        n=n,
        threshold=threshold,
        accuracy=float((confusion[0, 0] + confusion[1, 1]) / n),
        balanced_accuracy=float(balanced),
        roc_auc=roc_auc_classes(negative, positive),
        confusion=confusion,
        calibration_pred=mean_p[keep],
        calibration_true=mean_y[keep],
        calibration_count=cnt[keep],
        brier=float(negative.sum_sq + positive.sum_sq_c) / n,
    )
