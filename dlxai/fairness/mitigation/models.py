"""Mitigated models that need more than the features: Fairlearn's mixtures and group thresholds as AuditModels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.fairness.mitigation.messages import (
    NOT_A_NETWORK_THRESHOLDED,
    NOT_ONE_NETWORK,
    SENSITIVE_AT_PREDICTION,
    THRESHOLDED_NETWORK,
    THRESHOLDED_NO_NETWORK,
)
from dlxai.models.base import AuditModel, digest_estimator
from dlxai.validation import as_levels


def groups_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Sensitive columns as strings with ``"missing"`` for NaN (Fairlearn cannot group NaN)."""
    return as_levels(frame)


def _unwrap(est):
    """The fitted model inside the wrappers a fit used (the wrappers' module is loaded if the fit used one)."""
    from dlxai.fairness.mitigation.wrappers import unwrap

    return unwrap(est)


class MixtureEstimator:
    """ExponentiatedGradient as a classifier on the preprocessed matrix (``predict_proba`` = mixture)."""

    def __init__(self, mitigator):
        self.mitigator = mitigator
        self.classes_ = np.array([0, 1])

    @property
    def members(self) -> list[tuple[float, Any]]:
        w = self.mitigator.weights_
        return [(float(w.iloc[i]), _unwrap(p)) for i, p in enumerate(self.mitigator.predictors_)
                if float(w.iloc[i]) > 0]

    def predict_proba(self, X, sensitive_features=None) -> np.ndarray:
        return np.asarray(self.mitigator._pmf_predict(X), dtype=np.float64)

    def predict(self, X, sensitive_features=None, random_state=None) -> np.ndarray:
        return np.asarray(self.mitigator.predict(X, random_state=random_state)).astype(np.int64)

    def digest(self, h) -> None:
        for w, p in self.members:
            h.update(np.float64(w).tobytes())
            digest_estimator(p, h)


class PostProcessedEstimator:
    """ThresholdOptimizer as a classifier that needs ``sensitive_features`` at prediction time."""

    def __init__(self, mitigator):
        self.mitigator = mitigator
        self.classes_ = np.array([0, 1])

    @property
    def fitted(self):
        """The model whose scores the thresholds apply to."""
        return _unwrap(self.mitigator.estimator_)

    @property
    def members(self) -> list[tuple[float, Any]]:
        return [(1.0, self.fitted)]

    def predict_proba(self, X, sensitive_features=None) -> np.ndarray:
        return np.asarray(self.mitigator._pmf_predict(X, sensitive_features=sensitive_features), dtype=np.float64)

    def predict(self, X, sensitive_features=None, random_state=None) -> np.ndarray:
        return np.asarray(self.mitigator.predict(X, sensitive_features=sensitive_features,
                                                 random_state=random_state)).astype(np.int64)

    def digest(self, h) -> None:
        digest_estimator(self.fitted, h)
        h.update(repr(self.mitigator.interpolated_thresholder_.interpolation_dict).encode())


@dataclass(eq=False)
class MitigatedModel(AuditModel):
    """An :class:`AuditModel` whose decisions may be randomized and may need the sensitive attribute.

    * ``sensitive_columns``: raw columns read from the frame passed to ``predict_proba``/``predict``
      (ThresholdOptimizer).  Pass ``dataset.frame(split)``; a frame without them raises
      :data:`~dlxai.fairness.mitigation.messages.SENSITIVE_AT_PREDICTION`.
    * ``randomized``: ``predict`` draws decisions with ``prediction_seed`` (reproducible), and
      ``predict_proba`` is the probability of a favourable decision, not a calibrated score.
    """

    sensitive_columns: tuple[str, ...] = ()
    randomized: bool = False
    prediction_seed: int = 0

    def sensitive_features(self, X: pd.DataFrame):
        """What ``predict_proba``/``predict`` pass to the estimator as ``sensitive_features`` for the rows ``X``
        (None for a model that reads no group columns)."""
        if not self.sensitive_columns:
            return None
        cols = list(self.sensitive_columns)
        missing = [c for c in cols if not isinstance(X, pd.DataFrame) or c not in X.columns]
        if missing:
            raise UserInputError(SENSITIVE_AT_PREDICTION.format(name=self.name, columns=cols, missing=missing))
        return groups_frame(X[cols])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        sf = self.sensitive_features(X)
        return self.estimator.predict_proba(self.transform(X), sensitive_features=sf)[:, 1]

    def predict(self, X: pd.DataFrame, threshold: float = 0.5, random_state: int | None = None) -> np.ndarray:
        """Decisions: the seeded randomized draw for randomized models (``threshold`` does not apply)."""
        if not self.randomized:
            return super().predict(X, threshold)
        sf = self.sensitive_features(X)
        seed = self.prediction_seed if random_state is None else random_state
        return self.estimator.predict(self.transform(X), sensitive_features=sf, random_state=seed)

    def torch_module(self):
        members = self.estimator.members
        if len(members) == 1 and getattr(members[0][1], "module_", None) is not None and not self.sensitive_columns:
            return members[0][1].module_
        if self.sensitive_columns:
            net = len(members) == 1 and getattr(members[0][1], "module_", None) is not None
            raise UnsupportedModelError(NOT_A_NETWORK_THRESHOLDED.format(
                name=self.name, original=THRESHOLDED_NETWORK if net else THRESHOLDED_NO_NETWORK))
        what = f"randomized mixture of {len(members)} models" if len(members) > 1 else "group-thresholded model"
        raise UnsupportedModelError(NOT_ONE_NETWORK.format(name=self.name, what=what))

    @property
    def parameter_count(self) -> int:
        total = 0
        for _, est in self.estimator.members:
            module = getattr(est, "module_", None)
            if module is not None:
                total += int(sum(p.numel() for p in module.parameters()))
            elif getattr(est, "coef_", None) is not None:
                total += int(np.size(est.coef_) + np.size(getattr(est, "intercept_", 0)))
        return total

    @cached_property
    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.kind}|{self.name}|{sorted(self.params.items())!r}|{self.prediction_seed}".encode())
        self.estimator.digest(h)
        return h.hexdigest()
