"""Pre-processing mitigation: reweighing (Kamiran & Calders, 2012) and Fairlearn's CorrelationRemover.

* :func:`reweighing_weights` gives each row the weight ``P(A=a) P(Y=y) / P(A=a, Y=y)``, so that in the
  weighted training data the label is independent of the group (Kamiran, F. & Calders, T. (2012).
  Data preprocessing techniques for classification without discrimination. KAIS 33(1), 1-33).
* :class:`DecorrelatedPreprocessor` follows dlxai's preprocessing with Fairlearn's
  ``CorrelationRemover``: the one-hot columns of the sensitive feature are dropped and every other
  column is (with ``alpha=1``) made linearly uncorrelated with them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import UnsupportedModelError, UserInputError

WEIGHTS_UNDEFINED = (
    "Reweighing is undefined here: the combination {cell} of group and label has no training rows, so its weight "
    "P(A)P(Y)/P(A,Y) would divide by zero. Merge small groups or pick another sensitive attribute."
)
NOT_A_FEATURE = (
    "CorrelationRemover needs the sensitive attribute among the model's input features, but {columns} are not "
    "features of this model (features: {features}). Pick a sensitive attribute that is one of those features, or "
    "use reweighing, which needs the attribute only at training time."
)


def reweighing_weights(y, sensitive) -> np.ndarray:
    """Kamiran & Calders weights ``n_a * n_y / (n * n_ay)`` for every row (mean weight is 1)."""
    from dlxai.fairness.metrics import group_codes

    yy = np.asarray(y).reshape(-1)
    codes, labels, attrs = group_codes(sensitive)
    if len(codes) != len(yy):
        raise UserInputError(errors.LENGTH_MISMATCH.format(lengths=[len(yy), len(codes)]))
    if len(yy) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="y"))
    ylev, ycode = np.unique(yy, return_inverse=True)
    G, K, n = len(labels), len(ylev), len(yy)
    joint = np.bincount(codes * K + ycode, minlength=G * K).reshape(G, K).astype(np.float64)
    if (joint == 0).any():
        g, k = np.argwhere(joint == 0)[0]
        raise UserInputError(WEIGHTS_UNDEFINED.format(cell=f"({labels[g]}, y={ylev[k]})"))
    expected = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True) / n
    return (expected / joint)[codes, ycode]


class DecorrelatedPreprocessor:
    """``base.transform`` followed by a fitted ``CorrelationRemover`` (duck-types dlxai's Preprocessor).

    ``feature_groups_`` maps each raw feature to its output columns after the sensitive columns are
    removed (the sensitive features map to no column: the model no longer sees them).
    """

    def __init__(self, base, sensitive_columns: tuple[str, ...], alpha: float = 1.0):
        self.base = base
        self.sensitive_columns = tuple(sensitive_columns)
        self.alpha = alpha

    def fit(self, X: pd.DataFrame):
        from fairlearn.preprocessing import CorrelationRemover

        groups = getattr(self.base, "feature_groups_", None)
        if groups is None:
            raise UnsupportedModelError("CorrelationRemover needs dlxai's preprocessing (feature groups) in the model.")
        missing = [c for c in self.sensitive_columns if c not in groups]
        if missing:
            raise UserInputError(NOT_A_FEATURE.format(columns=missing, features=list(groups)))
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise UserInputError(f"alpha must lie in [0, 1]; received {self.alpha!r}. 1 removes all linear correlation.")
        self.sensitive_ids_ = tuple(sorted(i for c in self.sensitive_columns for i in groups[c]))
        Z = self.base.transform(X)
        self.remover_ = CorrelationRemover(sensitive_feature_ids=list(self.sensitive_ids_), alpha=float(self.alpha))
        self.remover_.fit(Z)
        keep = [i for i in range(Z.shape[1]) if i not in set(self.sensitive_ids_)]
        new_index = {old: new for new, old in enumerate(keep)}
        self.feature_groups_ = {c: tuple(new_index[i] for i in idx if i in new_index) for c, idx in groups.items()}
        names = list(self.base.feature_names_out_)
        self.feature_names_out_ = tuple(names[i] for i in keep)
        self.n_features_out_ = len(keep)
        self.columns_ = tuple(self.base.numeric) + tuple(self.base.categorical)  # the preprocessor protocol
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        Z = self.base.transform(X)
        return np.ascontiguousarray(self.remover_.transform(Z), dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_out_, dtype=object)
