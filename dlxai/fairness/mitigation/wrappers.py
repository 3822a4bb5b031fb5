"""Estimator wrappers the mitigation methods need; imported only by a fit (they load scikit-learn).

* :class:`CountedFit`: counts each real ``fit`` a Fairlearn reduction makes of a copy of the estimator (see
  :mod:`~dlxai.fairness.mitigation.progress`).
* :class:`ScoresAsFloat64`: hands Fairlearn's ThresholdOptimizer float64 scores.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from dlxai.fairness.mitigation.progress import FitCounter


class CountedFit(ClassifierMixin, BaseEstimator):
    """``estimator`` whose every ``fit`` is counted by ``counter`` first; predictions pass straight through.

    Fairlearn keeps these wrappers among its fitted predictors; :func:`unwrap` gives the estimator inside,
    which is what dlxai's models store, digest and explain.
    """

    def __init__(self, estimator=None, counter: FitCounter | None = None):
        self.estimator = estimator
        self.counter = counter

    def fit(self, X, y, **fit_params):
        if self.counter is not None:
            self.counter.start_fit()
        self.estimator.fit(X, y, **fit_params)
        self.classes_ = self.estimator.classes_
        return self

    def predict(self, X):
        return self.estimator.predict(X)

    def predict_proba(self, X):
        return self.estimator.predict_proba(X)


class ScoresAsFloat64(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose ``predict_proba`` Fairlearn's ThresholdOptimizer reads as float64.

    A scikit-learn model fitted on dlxai's float32 matrix (logistic regression, say) returns float32 scores;
    Fairlearn writes its float64 interpolated thresholds back into a frame of those scores, and pandas refuses
    the lossy write (``TypeError: Invalid value ... for dtype 'float32'``).  Widening the scores is exact.
    """

    def __init__(self, estimator=None):
        self.estimator = estimator

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self):
        return getattr(self.estimator, "classes_", np.array([0, 1]))

    def fit(self, X, y, **kwargs):  # never called: ThresholdOptimizer runs with prefit=True
        raise NotImplementedError("ScoresAsFloat64 wraps a fitted model; fit the model itself.")

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(X), dtype=np.float64)

    def predict(self, X):
        return self.estimator.predict(X)


def unwrap(est):
    """The estimator inside a :class:`CountedFit` or :class:`ScoresAsFloat64` (``est`` itself otherwise)."""
    return est.estimator if isinstance(est, (CountedFit, ScoresAsFloat64)) else est
