"""The model as dlxai audits it: raw feature rows -> preprocessing -> a classifier."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.validation import check_threshold

if TYPE_CHECKING:
    from dlxai.data.preprocess import TabularPreprocessor


def digest_module(module, h) -> None:
    """Feed a torch module's learned state (every state-dict entry's name and bytes, in order) into hash ``h``."""
    for k, v in module.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())


def digest_estimator(estimator, h) -> None:
    """Feed a fitted classifier's learned parameters into hash ``h``: a skorch-style network's state dict
    (``module_``), else a linear model's ``coef_``, ``intercept_`` and ``classes_``.  The one rule every model
    fingerprint uses, so equal parameters give equal hashes wherever they are hashed."""
    module = getattr(estimator, "module_", None)
    if module is not None:
        digest_module(module, h)
        return
    for attr in ("coef_", "intercept_", "classes_"):
        if hasattr(estimator, attr):
            h.update(np.ascontiguousarray(getattr(estimator, attr)).tobytes())


@dataclass(eq=False)
class AuditModel:
    """A fitted binary classifier plus what is needed to feed it raw rows.

    ``estimator`` follows the scikit-learn classifier contract on the preprocessed matrix
    (``predict_proba`` with classes ``[0, 1]``, 1 being the favourable outcome).  Engine code
    never changes ``estimator`` in place: explanations work on copies.
    """

    estimator: Any
    preprocessor: TabularPreprocessor | None
    kind: str
    name: str
    feature_columns: tuple[str, ...]
    params: dict = field(default_factory=dict)
    fit_seconds: float = 0.0
    source: str = "trained in dlxai"
    dataset: str = ""

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Raw rows (a frame that may hold more columns: target, sensitive) -> the estimator's matrix."""
        if self.preprocessor is None:
            if isinstance(X, pd.DataFrame):
                missing = [c for c in self.feature_columns if c not in X.columns]
                if missing:
                    raise UserInputError(f"The model needs columns {missing}, which the data lacks.")
                X = X[list(self.feature_columns)]
            return np.asarray(X, dtype=np.float32)
        return self.preprocessor.transform(X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the favourable outcome, one value per row."""
        p = np.asarray(self.estimator.predict_proba(self.transform(X)), dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise UnsupportedModelError(
                f"{self.name} returned probabilities of shape {p.shape}; dlxai audits binary classifiers with "
                "two output columns."
            )
        return p[:, 1]

    def predict(self, X: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        return (self.predict_proba(X) >= check_threshold(threshold)).astype(np.int64)

    @property
    def feature_names_out(self) -> tuple[str, ...]:
        if self.preprocessor is None:
            return tuple(self.feature_columns)
        return tuple(self.preprocessor.feature_names_out_)

    def torch_module(self):
        """The underlying ``torch.nn.Module`` (logits out) or :class:`UnsupportedModelError`."""
        module = getattr(self.estimator, "module_", None)
        if module is None:
            raise UnsupportedModelError(
                f"{self.name} ({self.kind}) is not a PyTorch network, so gradient methods do not apply. "
                "Use a model-agnostic method (SHAP kernel, surrogate tree) instead."
            )
        return module

    @property
    def parameter_count(self) -> int:
        module = getattr(self.estimator, "module_", None)
        if module is not None:
            return int(sum(p.numel() for p in module.parameters()))
        coef = getattr(self.estimator, "coef_", None)
        if coef is not None:
            return int(np.size(coef) + np.size(getattr(self.estimator, "intercept_", 0)))
        return 0

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over the learned parameters and settings: the cache key and the report's model hash."""
        h = hashlib.sha256(f"{self.kind}|{self.name}|{sorted(self.params.items())!r}".encode())
        digest_estimator(self.estimator, h)
        return h.hexdigest()

    def card(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "dataset": self.dataset,
            "parameters": self.parameter_count,
            "fit_seconds": round(self.fit_seconds, 3),
            "settings": dict(self.params),
            "sha256": self.fingerprint,
        }
