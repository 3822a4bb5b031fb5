"""Mitigation: retrain or post-process the active model under a fairness constraint.

One entry point, :func:`mitigate`, runs one method on a copy of the active model and returns a
:class:`MitigationResult` (the new model as an :class:`~dlxai.models.base.AuditModel`, its test-split
accuracy and disparities with bootstrap intervals next to the original's, honest notes).
:func:`sweep` runs a method over several constraint strengths and returns the accuracy-fairness
:class:`Front`; every point is a model the user can make active.

Methods (:data:`METHODS`; the strength each one sweeps is in :data:`STRENGTH`):

* ``exponentiated_gradient`` (Fairlearn, reduction; strength ``eps``): a *randomized* mixture of
  retrained models.  The result is a :class:`MitigatedModel` whose ``predict`` draws seeded random
  decisions (``prediction_seed``; Fairlearn's own ``predict(random_state=...)``) and whose
  ``predict_proba`` is the mixture's probability of a favourable decision.  The best deterministic
  member is offered as a plain model with its own metrics (``result.deterministic``).
* ``grid_search`` (Fairlearn, reduction; strength ``grid_size``): the best grid point, a plain model.
* ``threshold_optimizer`` (Fairlearn, post-processing): group-specific thresholds on the model's scores;
  it **needs the sensitive attribute at prediction time**, so its model reads those columns from the raw
  frame (pass ``dataset.frame(split)``, which holds them; ``dataset.X(split)`` lacks attributes that are
  not model features, and then prediction raises :data:`SENSITIVE_AT_PREDICTION`).
* ``penalised`` (in-processing; strength λ): :class:`~dlxai.fairness.penalised.FairPenaltyMLPClassifier`.
* ``reweighing`` (pre-processing): Kamiran & Calders weights, retrained through ``sample_weight``.
* ``correlation_remover`` (pre-processing; strength ``alpha``): Fairlearn's CorrelationRemover.

The caller's model is never changed: estimators are cloned (reductions, reweighing, penalised) or
deep-copied (post-processing) and the preprocessor is deep-copied.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from dlxai.data.dataset import TabularDataset
from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.fairness.metrics import audit_fairness
from dlxai.models.base import AuditModel

# --- vocabulary ------------------------------------------------------------------------------
METHODS = {
    "exponentiated_gradient": "Exponentiated gradient (reduction, randomized)",
    "grid_search": "Grid search (reduction)",
    "threshold_optimizer": "Threshold optimizer (post-processing, needs the attribute at prediction time)",
    "penalised": "Fairness-penalised training (in-processing, torch MLP)",
    "reweighing": "Reweighing (pre-processing, Kamiran & Calders)",
    "correlation_remover": "Correlation remover (pre-processing)",
}
SHORT = {
    "exponentiated_gradient": "ExpGrad", "grid_search": "GridSearch", "threshold_optimizer": "ThresholdOpt",
    "penalised": "Penalised", "reweighing": "Reweighing", "correlation_remover": "CorrRemover",
}
CONSTRAINTS = {
    "demographic_parity": "Demographic parity",
    "equalized_odds": "Equalized odds",
    "true_positive_rate_parity": "True positive rate parity (equal opportunity)",
}
# which summary metric of FairnessAudit measures each constraint
CONSTRAINT_METRIC = {
    "demographic_parity": "demographic_parity_difference",
    "equalized_odds": "equalized_odds_difference",
    "true_positive_rate_parity": "equal_opportunity_difference",
}
# methods that take a constraint, and those that take none (pre-processing)
METHOD_CONSTRAINTS = {
    "exponentiated_gradient": tuple(CONSTRAINTS),
    "grid_search": tuple(CONSTRAINTS),
    "threshold_optimizer": tuple(CONSTRAINTS),
    "penalised": tuple(CONSTRAINTS),
    "reweighing": ("none",),
    "correlation_remover": ("none",),
}
# (parameter name, default, values a sweep uses)
STRENGTH = {
    "exponentiated_gradient": ("eps", 0.01, (0.2, 0.1, 0.05, 0.02, 0.01)),
    "grid_search": ("grid_size", 7, (3, 5, 7, 9)),
    "threshold_optimizer": ("tol", None, (None,)),
    "penalised": ("fairness_weight", 5.0, (0.5, 1.0, 2.0, 5.0, 10.0)),
    "reweighing": ("none", None, (None,)),
    "correlation_remover": ("alpha", 1.0, (0.25, 0.5, 0.75, 1.0)),
}

# --- messages (tests match on these) --------------------------------------------------------------
UNKNOWN_METHOD = "Unknown mitigation method {method!r}. Choose one of: {choices}."
UNKNOWN_CONSTRAINT = "Method {method!r} does not take the constraint {constraint!r}. Choose one of: {choices}."
BAD_STRENGTH = "{name} for {method} must be {rule}; received {value!r}. {hint}"
SENSITIVE_AT_PREDICTION = (
    "{name} needs the sensitive attribute(s) {columns} at prediction time (its thresholds differ by group), but "
    "the rows passed lack {missing}. Pass frames that hold those columns (dataset.frame(split), not dataset.X(split)), "
    "or make a model active that does not need them (a reduction, penalised training or reweighing)."
)
NEEDS_TORCH = (
    "Penalised training retrains dlxai's PyTorch MLP, but the active model is {kind} ({name}). Train an MLP on "
    "Data & model, or use a reduction (exponentiated gradient, grid search), which work with any classifier."
)
NO_IMPROVEMENT = (
    "No improvement: {metric} is {after:.3f} after {method} (95% CI {lo:.3f}-{hi:.3f}) against {before:.3f} before. "
    "The constraint did not reduce the disparity on the test split; try a stronger setting or another method."
)
NOT_MET = (
    "Constraint not met on the test split: {metric} is {after:.3f} (95% CI {lo:.3f}-{hi:.3f}), above the bound "
    "{bound:.3f} that was asked for. The training split may have met it; try more iterations, or accept a larger bound."
)
ACCURACY_COST = "Accuracy fell by {points:.1f} points ({before:.3f} -> {after:.3f})."
RANDOMIZED_NOTE = (
    "This model is randomized: each decision is drawn with the mixture's probability, using seed {seed} so that "
    "results are reproducible. Gradient explanations need one network: make the best deterministic member active."
)
NOT_CONVERGED = (
    "Exponentiated gradient stopped after {iters} iterations with duality gap {gap:.4f} (target {nu:.4f}): the "
    "solution is approximate. Raise max_iter for a tighter result."
)
MEMBER_CHOICE = (
    "Best deterministic member: the most accurate of the {n} mixture members whose training-split {metric} is at "
    "most {bound:.3f}; it has its own metrics below."
)
MEMBER_NONE_FAIR = (
    "Best deterministic member: none of the {n} mixture members has a training-split {metric} within {bound:.3f}, "
    "so the fairest one ({gap:.3f}) is offered; only the randomized mixture meets the constraint."
)

Progress = Callable[[float, str], None]


# --- scores ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scores:
    """Test-split accuracy and disparities of one model with bootstrap intervals."""

    accuracy: float
    accuracy_ci: tuple[float, float]
    demographic_parity: float
    demographic_parity_ci: tuple[float, float]
    equalized_odds: float
    equalized_odds_ci: tuple[float, float]
    equal_opportunity: float
    equal_opportunity_ci: tuple[float, float]
    selection_rate: float
    by_group_selection: dict

    def gap(self, constraint: str) -> float:
        return {"demographic_parity": self.demographic_parity, "equalized_odds": self.equalized_odds,
                "true_positive_rate_parity": self.equal_opportunity}.get(constraint, self.demographic_parity)

    def gap_ci(self, constraint: str) -> tuple[float, float]:
        return {"demographic_parity": self.demographic_parity_ci, "equalized_odds": self.equalized_odds_ci,
                "true_positive_rate_parity": self.equal_opportunity_ci}.get(constraint, self.demographic_parity_ci)

    def row(self) -> dict:
        return {
            "accuracy": self.accuracy, "accuracy_lo": self.accuracy_ci[0], "accuracy_hi": self.accuracy_ci[1],
            "dp": self.demographic_parity, "dp_lo": self.demographic_parity_ci[0],
            "dp_hi": self.demographic_parity_ci[1],
            "eo": self.equalized_odds, "eo_lo": self.equalized_odds_ci[0], "eo_hi": self.equalized_odds_ci[1],
            "tpr_gap": self.equal_opportunity, "selection_rate": self.selection_rate,
        }


def score_predictions(y_true, y_pred, sensitive, *, n_bootstrap: int = 200, seed: int = 0) -> Scores:
    """Accuracy (exact binomial row bootstrap) and DP/EO/TPR differences (dlxai's audit) with 95% intervals."""
    audit = audit_fairness(y_true, y_pred, sensitive, n_bootstrap=n_bootstrap, seed=seed)
    s, ci = audit.summary, audit.summary_ci
    acc = float(audit.overall["accuracy"])
    n = int(audit.overall["count"])
    if n_bootstrap > 0:
        draws = np.random.default_rng(seed + 1).binomial(n, acc, size=int(n_bootstrap)) / n
        acc_ci = (float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975)))
    else:
        acc_ci = (np.nan, np.nan)
    return Scores(
        accuracy=acc, accuracy_ci=acc_ci,
        demographic_parity=s["demographic_parity_difference"], demographic_parity_ci=ci["demographic_parity_difference"],
        equalized_odds=s["equalized_odds_difference"], equalized_odds_ci=ci["equalized_odds_difference"],
        equal_opportunity=s["equal_opportunity_difference"], equal_opportunity_ci=ci["equal_opportunity_difference"],
        selection_rate=float(audit.overall["selection_rate"]),
        by_group_selection={str(k): float(v) for k, v in audit.by_group["selection_rate"].items()},
    )


def score_model(model: AuditModel, dataset: TabularDataset, sensitive, *, split: str = "test",
                n_bootstrap: int = 200, seed: int = 0) -> Scores:
    """:func:`score_predictions` of ``model.predict`` on the raw frame of ``split`` (0.5 threshold)."""
    cols = _check_sensitive(dataset, sensitive)
    frame = dataset.frame(split)
    return score_predictions(dataset.y(split), model.predict(frame), dataset.sensitive(split, cols),
                             n_bootstrap=n_bootstrap, seed=seed)


# --- models that need more than the features ---------------------------------------------------------
def _estimator_digest(est, h) -> None:
    module = getattr(est, "module_", None)
    if module is not None:
        for k, v in module.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().numpy().tobytes())
        return
    for attr in ("coef_", "intercept_", "classes_"):
        if hasattr(est, attr):
            h.update(np.ascontiguousarray(getattr(est, attr)).tobytes())


class MixtureEstimator:
    """ExponentiatedGradient as a classifier on the preprocessed matrix (``predict_proba`` = mixture)."""

    def __init__(self, mitigator):
        self.mitigator = mitigator
        self.classes_ = np.array([0, 1])

    @property
    def members(self) -> list[tuple[float, Any]]:
        w = self.mitigator.weights_
        return [(float(w.iloc[i]), p) for i, p in enumerate(self.mitigator.predictors_) if float(w.iloc[i]) > 0]

    def predict_proba(self, X, sensitive_features=None) -> np.ndarray:
        return np.asarray(self.mitigator._pmf_predict(X), dtype=np.float64)

    def predict(self, X, sensitive_features=None, random_state=None) -> np.ndarray:
        return np.asarray(self.mitigator.predict(X, random_state=random_state)).astype(np.int64)

    def digest(self, h) -> None:
        for w, p in self.members:
            h.update(np.float64(w).tobytes())
            _estimator_digest(p, h)


class PostProcessedEstimator:
    """ThresholdOptimizer as a classifier that needs ``sensitive_features`` at prediction time."""

    def __init__(self, mitigator):
        self.mitigator = mitigator
        self.classes_ = np.array([0, 1])

    @property
    def members(self) -> list[tuple[float, Any]]:
        return [(1.0, self.mitigator.estimator_)]

    def predict_proba(self, X, sensitive_features=None) -> np.ndarray:
        return np.asarray(self.mitigator._pmf_predict(X, sensitive_features=sensitive_features), dtype=np.float64)

    def predict(self, X, sensitive_features=None, random_state=None) -> np.ndarray:
        return np.asarray(self.mitigator.predict(X, sensitive_features=sensitive_features,
                                                 random_state=random_state)).astype(np.int64)

    def digest(self, h) -> None:
        _estimator_digest(self.mitigator.estimator_, h)
        h.update(repr(self.mitigator.interpolated_thresholder_.interpolation_dict).encode())


@dataclass(eq=False)
class MitigatedModel(AuditModel):
    """An :class:`AuditModel` whose decisions may be randomized and may need the sensitive attribute.

    * ``sensitive_columns``: raw columns read from the frame passed to ``predict_proba``/``predict``
      (ThresholdOptimizer).  Pass ``dataset.frame(split)``; a frame without them raises
      :data:`SENSITIVE_AT_PREDICTION`.
    * ``randomized``: ``predict`` draws decisions with ``prediction_seed`` (reproducible), and
      ``predict_proba`` is the probability of a favourable decision, not a calibrated score.
    """

    sensitive_columns: tuple[str, ...] = ()
    randomized: bool = False
    prediction_seed: int = 0

    def _sensitive(self, X: pd.DataFrame):
        if not self.sensitive_columns:
            return None
        cols = list(self.sensitive_columns)
        missing = [c for c in cols if not isinstance(X, pd.DataFrame) or c not in X.columns]
        if missing:
            raise UserInputError(SENSITIVE_AT_PREDICTION.format(name=self.name, columns=cols, missing=missing))
        return _groups_frame(X[cols])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        sf = self._sensitive(X)
        return self.estimator.predict_proba(self.transform(X), sensitive_features=sf)[:, 1]

    def predict(self, X: pd.DataFrame, threshold: float = 0.5, random_state: int | None = None) -> np.ndarray:
        """Decisions: the seeded randomized draw for randomized models (``threshold`` does not apply)."""
        if not self.randomized:
            return super().predict(X, threshold)
        sf = self._sensitive(X)
        seed = self.prediction_seed if random_state is None else random_state
        return self.estimator.predict(self.transform(X), sensitive_features=sf, random_state=seed)

    def torch_module(self):
        members = self.estimator.members
        if len(members) == 1 and getattr(members[0][1], "module_", None) is not None and not self.sensitive_columns:
            return members[0][1].module_
        raise UnsupportedModelError(
            f"{self.name} is a {'randomized mixture of ' + str(len(members)) + ' models' if len(members) > 1 else 'group-thresholded model'}"
            ", not one PyTorch network, so gradient methods do not apply. Make the best deterministic member (or the "
            "original model) active, or use a model-agnostic method (SHAP kernel, surrogate tree)."
        )

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


# --- results ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MitigationResult:
    """One mitigated model, its scores next to the original's, and what to know about it."""

    method: str
    constraint: str
    strength: float | None
    sensitive: tuple[str, ...]
    model: AuditModel
    before: Scores
    after: Scores
    fit_seconds: float
    notes: tuple[str, ...]
    deterministic: AuditModel | None = None
    deterministic_scores: Scores | None = None
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        s = "" if self.strength is None else f" {STRENGTH[self.method][0]}={self.strength:g}"
        c = "" if self.constraint == "none" else f" {self.constraint}"
        return f"{SHORT[self.method]}{c}{s}"

    @property
    def improved(self) -> bool:
        return self.after.gap(self._metric_constraint) < self.before.gap(self._metric_constraint) - 0.005

    @property
    def _metric_constraint(self) -> str:
        return self.constraint if self.constraint in CONSTRAINTS else "demographic_parity"

    def table(self) -> pd.DataFrame:
        """Before/after table: one row per model (original, mitigated, best deterministic member)."""
        rows = {"Original": self.before.row(), self.label: self.after.row()}
        if self.deterministic_scores is not None:
            rows[f"{self.label} (best deterministic member)"] = self.deterministic_scores.row()
        return pd.DataFrame(rows).T


@dataclass(frozen=True)
class Front:
    """An accuracy-fairness front: one point per strength (plus the original model), with intervals."""

    method: str
    constraint: str
    sensitive: tuple[str, ...]
    points: pd.DataFrame  # label, strength, accuracy(+lo/hi), dp(+lo/hi), eo(+lo/hi), fit_seconds, model_name
    results: tuple[MitigationResult, ...]
    baseline: Scores

    def models(self) -> dict[str, AuditModel]:
        out = {}
        for r in self.results:
            out[r.model.name] = r.model
            if r.deterministic is not None:
                out[r.deterministic.name] = r.deterministic
        return out


# --- helpers --------------------------------------------------------------------------------------------
def _groups_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Sensitive columns as strings with ``"missing"`` for NaN (Fairlearn cannot group NaN)."""
    return frame.astype(object).where(frame.notna(), "missing").astype(str)


def _check_sensitive(dataset: TabularDataset, sensitive) -> list[str]:
    from dlxai import errors

    cols = [sensitive] if isinstance(sensitive, str) else list(sensitive or ())
    if not cols:
        raise UserInputError(errors.NO_SENSITIVE)
    if len(cols) > 2:
        raise UserInputError(errors.TOO_MANY_SENSITIVE.format(n=len(cols), columns=cols))
    dataset.sensitive("train", cols)  # validates the names
    return cols


def _check_strength(method: str, value):
    name, default, _ = STRENGTH[method]
    if value is None:
        return default
    if method == "exponentiated_gradient":
        ok = isinstance(value, (int, float)) and 0 < value <= 1
        rule, hint = "in (0, 1]", "Smaller is stricter; e.g. 0.01."
    elif method == "grid_search":
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 2 <= value <= 100
        rule, hint = "a whole number from 2 to 100", "Each grid point is one retraining; e.g. 7."
    elif method == "penalised":
        ok = isinstance(value, (int, float)) and np.isfinite(value) and value >= 0
        rule, hint = "a number of at least 0", "0 is plain training; larger trades accuracy for parity, e.g. 5."
    elif method == "correlation_remover":
        ok = isinstance(value, (int, float)) and 0 <= value <= 1
        rule, hint = "in [0, 1]", "1 removes all linear correlation with the attribute."
    elif method == "threshold_optimizer":
        ok = isinstance(value, (int, float)) and 0 <= value <= 1
        rule, hint = "in [0, 1] (the allowed relaxation)", "Leave it empty for strict parity."
    else:
        return None
    if not ok:
        raise UserInputError(BAD_STRENGTH.format(name=name, method=METHODS[method], rule=rule, value=value, hint=hint))
    return value


def _moment(constraint: str, bound: float | None = None):
    from fairlearn.reductions import DemographicParity, EqualizedOdds, TruePositiveRateParity

    cls = {"demographic_parity": DemographicParity, "equalized_odds": EqualizedOdds,
           "true_positive_rate_parity": TruePositiveRateParity}[constraint]
    return cls() if bound is None else cls(difference_bound=bound)


def _is_torch_mlp(est) -> bool:
    from dlxai.models.torch_mlp import TorchMLPClassifier

    return isinstance(est, TorchMLPClassifier)


def _base_estimator(model: AuditModel, estimator_params: dict | None, counter: list, progress, expected: int):
    """A clone of the model's estimator (unfitted) that reports each fit's first epoch to ``progress``."""
    from sklearn.base import clone

    est = clone(model.estimator)
    params = dict(estimator_params or {})
    if _is_torch_mlp(est):
        def callback(info, counter=counter):
            if info.epoch == 1:
                counter[0] += 1
                if progress is not None:
                    progress(min(counter[0] / max(expected, 1), 0.99), f"Fit {counter[0]} of about {expected}")
        params["callback"] = callback
    known = est.get_params()
    unknown = [k for k in params if k not in known]
    if unknown:
        raise UserInputError(f"Unknown estimator parameters {unknown} for {type(est).__name__}. Known: {sorted(known)}.")
    return est.set_params(**params)


def _quiet(est) -> None:
    """Drop the progress callback from a fitted estimator (it refers to a page's progress bar)."""
    if hasattr(est, "callback"):
        est.callback = None


def _derived(model: AuditModel, estimator, name: str, params: dict, seconds: float, *, preprocessor=None,
             cls=AuditModel, **extra) -> AuditModel:
    return cls(
        estimator=estimator,
        preprocessor=copy.deepcopy(model.preprocessor) if preprocessor is None else preprocessor,
        kind=model.kind if cls is AuditModel else f"{model.kind}+{params['mitigation']}",
        name=name,
        feature_columns=tuple(model.feature_columns),
        params={**{k: v for k, v in model.params.items() if k != "callback"}, **params},
        fit_seconds=seconds,
        source=f"mitigated in dlxai from {model.name}",
        dataset=model.dataset,
        **extra,
    )


# --- the entry point -----------------------------------------------------------------------------------
def mitigate(
    dataset: TabularDataset,
    model: AuditModel,
    method: str,
    constraint: str = "demographic_parity",
    *,
    sensitive=("sex",),
    strength=None,
    seed: int = 0,
    progress: Progress | None = None,
    n_bootstrap: int = 200,
    estimator_params: dict | None = None,
    max_iter: int = 50,
    before: Scores | None = None,
) -> MitigationResult:
    """Run ``method`` under ``constraint`` on a copy of ``model``; score both on the test split.

    ``strength`` is the method's knob (:data:`STRENGTH`: eps, grid_size, λ, alpha).  ``estimator_params``
    override the retrained estimator's settings (e.g. ``{"max_epochs": 5}`` for quick fits).
    ``progress(fraction, text)`` is called after each retraining starts.  ``before`` reuses scores of the
    original model (a sweep computes them once).
    """
    if method not in METHODS:
        raise UserInputError(UNKNOWN_METHOD.format(method=method, choices=list(METHODS)))
    if not isinstance(model, AuditModel):
        raise UserInputError(f"model must be a dlxai AuditModel; received {type(model).__name__}. Use train_model().")
    if not isinstance(dataset, TabularDataset):
        raise UserInputError(f"dataset must be a dlxai TabularDataset; received {type(dataset).__name__}.")
    allowed = METHOD_CONSTRAINTS[method]
    if allowed == ("none",):
        constraint = "none"
    elif constraint not in allowed:
        raise UserInputError(UNKNOWN_CONSTRAINT.format(method=method, constraint=constraint, choices=list(allowed)))
    if isinstance(model, MitigatedModel):
        raise UnsupportedModelError(
            f"{model.name} is already a mitigated mixture/post-processed model; mitigate the original model (or a "
            "deterministic member) instead."
        )
    cols = _check_sensitive(dataset, sensitive)
    strength = _check_strength(method, strength)
    if method == "penalised" and not _is_torch_mlp(model.estimator):
        raise UnsupportedModelError(NEEDS_TORCH.format(kind=type(model.estimator).__name__, name=model.name))
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise UserInputError(f"max_iter must be a whole number of at least 1; received {max_iter!r}. Use e.g. 50.")

    if before is None:
        before = score_model(model, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    X_train = dataset.frame("train")
    y = dataset.y("train")
    sf = _groups_frame(dataset.sensitive("train", cols))
    Xp = model.transform(X_train)
    counter = [0]
    params = {"mitigation": method, "constraint": constraint, STRENGTH[method][0]: strength,
              "sensitive": list(cols), "mitigation_seed": seed}
    tag = "" if strength is None else f" {STRENGTH[method][0]}={strength:g}"
    name = f"{model.name} · {SHORT[method]}{'' if constraint == 'none' else ' ' + constraint}{tag}"
    notes: list[str] = []
    deterministic = det_scores = None
    metric_c = constraint if constraint in CONSTRAINTS else "demographic_parity"
    metric = CONSTRAINT_METRIC[metric_c]
    bound = None
    start = time.perf_counter()
    if progress is not None:
        progress(0.0, f"Starting {METHODS[method]}…")

    if method == "exponentiated_gradient":
        from fairlearn.reductions import ExponentiatedGradient

        base = _base_estimator(model, estimator_params, counter, progress, max_iter + 1)
        eg = ExponentiatedGradient(base, constraints=_moment(constraint), eps=float(strength), max_iter=int(max_iter))
        eg.fit(Xp, y, sensitive_features=sf)
        for p in eg.predictors_:
            _quiet(p)
        mix = MixtureEstimator(eg)
        params["max_iter"] = int(max_iter)
        new = _derived(model, mix, name, params, time.perf_counter() - start, cls=MitigatedModel,
                       randomized=True, prediction_seed=seed)
        notes.append(RANDOMIZED_NOTE.format(seed=seed))
        if eg.best_gap_ > eg.nu * 1.0001:
            notes.append(NOT_CONVERGED.format(iters=eg.last_iter_ + 1, gap=eg.best_gap_, nu=eg.nu))
        # fairlearn's eps bounds |E[h|A=a] - E[h]| per group; the max-min difference is at most 2 eps
        bound = 2 * float(strength)
        deterministic, det_note = _best_member(model, mix, Xp, y, sf, metric, bound, name, params,
                                               time.perf_counter() - start)
        notes.append(det_note)
        det_scores = score_model(deterministic, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    elif method == "grid_search":
        from fairlearn.reductions import GridSearch

        base = _base_estimator(model, estimator_params, counter, progress, int(strength))
        gs = GridSearch(base, constraints=_moment(constraint), grid_size=int(strength))
        gs.fit(Xp, y, sensitive_features=sf)
        best = gs.predictors_[gs.best_idx_]
        _quiet(best)
        new = _derived(model, best, name, params, time.perf_counter() - start)
    elif method == "threshold_optimizer":
        from fairlearn.postprocessing import ThresholdOptimizer

        est = copy.deepcopy(model.estimator)
        _quiet(est)
        to = ThresholdOptimizer(estimator=est, constraints=constraint, prefit=True, predict_method="predict_proba",
                                tol=strength)
        to.fit(Xp, y, sensitive_features=sf)
        new = _derived(model, PostProcessedEstimator(to), name, params, time.perf_counter() - start,
                       cls=MitigatedModel, sensitive_columns=tuple(cols), randomized=True, prediction_seed=seed)
        notes.append(
            f"Post-processing needs {', '.join(cols)} at prediction time: this model reads it from each row, so it "
            "cannot score rows without it. Its decisions near the group thresholds are randomized (seed "
            f"{seed})."
        )
    elif method == "penalised":
        from dlxai.fairness.penalised import FairPenaltyMLPClassifier

        base = _base_estimator(model, estimator_params, counter, progress, 1)
        est = FairPenaltyMLPClassifier(**base.get_params(), penalty=constraint, fairness_weight=float(strength))
        est.fit(Xp, y, sensitive_features=sf)
        _quiet(est)
        new = _derived(model, est, name, params, time.perf_counter() - start)
    elif method == "reweighing":
        from dlxai.fairness.preprocessing import reweighing_weights

        w = reweighing_weights(y, sf)
        est = _base_estimator(model, estimator_params, counter, progress, 1)
        est.fit(Xp, y, sample_weight=w)
        _quiet(est)
        new = _derived(model, est, name, params, time.perf_counter() - start)
    else:  # correlation_remover
        from dlxai.fairness.preprocessing import DecorrelatedPreprocessor

        prep = DecorrelatedPreprocessor(copy.deepcopy(model.preprocessor), tuple(cols), float(strength)).fit(X_train)
        est = _base_estimator(model, estimator_params, counter, progress, 1)
        est.fit(prep.transform(X_train), y)
        _quiet(est)
        new = _derived(model, est, name, params, time.perf_counter() - start, preprocessor=prep)
    seconds = time.perf_counter() - start
    if progress is not None:
        progress(1.0, f"{SHORT[method]} done in {seconds:.1f} s")

    after = score_model(new, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    lo, hi = after.gap_ci(metric_c)
    if after.gap(metric_c) >= before.gap(metric_c) - 0.005:
        notes.insert(0, NO_IMPROVEMENT.format(metric=metric.replace("_", " "), after=after.gap(metric_c), lo=lo, hi=hi,
                                              before=before.gap(metric_c), method=METHODS[method]))
    elif bound is not None and after.gap(metric_c) > bound:
        notes.insert(0, NOT_MET.format(metric=metric.replace("_", " "), after=after.gap(metric_c), lo=lo, hi=hi,
                                       bound=bound))
    drop = 100 * (before.accuracy - after.accuracy)
    if drop > 0.05:
        notes.append(ACCURACY_COST.format(points=drop, before=before.accuracy, after=after.accuracy))
    return MitigationResult(
        method=method, constraint=constraint, strength=strength, sensitive=tuple(cols), model=new, before=before,
        after=after, fit_seconds=seconds, notes=tuple(notes), deterministic=deterministic,
        deterministic_scores=det_scores, params={**params, "n_bootstrap": n_bootstrap, "fits": counter[0]},
    )


def _best_member(model, mix: MixtureEstimator, Xp, y, sf, metric: str, bound: float, name: str, params: dict,
                 seconds: float):
    members = mix.members
    rows = []
    for i, (w, est) in enumerate(members):
        pred = np.asarray(est.predict(Xp)).astype(np.int64)
        a = audit_fairness(y, pred, sf, n_bootstrap=0)
        rows.append((i, float((pred == y).mean()), a.summary[metric], w))
    fair_enough = [r for r in rows if r[2] <= bound]
    chosen = max(fair_enough, key=lambda r: r[1]) if fair_enough else min(rows, key=lambda r: r[2])
    est = copy.deepcopy(members[chosen[0]][1])
    _quiet(est)
    det = _derived(model, est, f"{name} · best deterministic member", {**params, "member": int(chosen[0]),
                   "member_weight": chosen[3]}, seconds)
    what = metric.replace("_", " ")
    if fair_enough:
        return det, MEMBER_CHOICE.format(n=len(members), metric=what, bound=bound)
    return det, MEMBER_NONE_FAIR.format(n=len(members), metric=what, bound=bound, gap=chosen[2])


def sweep(
    dataset: TabularDataset,
    model: AuditModel,
    method: str,
    constraint: str = "demographic_parity",
    *,
    strengths=None,
    sensitive=("sex",),
    seed: int = 0,
    progress: Progress | None = None,
    n_bootstrap: int = 200,
    **options,
) -> Front:
    """:func:`mitigate` at each strength; an accuracy vs DP/EO front with bootstrap intervals."""
    if method not in METHODS:
        raise UserInputError(UNKNOWN_METHOD.format(method=method, choices=list(METHODS)))
    values = list(STRENGTH[method][2] if strengths is None else strengths)
    if not values:
        raise UserInputError("strengths is empty: give at least one value to sweep over.")
    cols = _check_sensitive(dataset, sensitive)
    baseline = score_model(model, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    results = []
    for k, v in enumerate(values):
        def sub(frac, text, k=k):
            if progress is not None:
                progress((k + frac) / len(values), f"Point {k + 1} of {len(values)}: {text}")

        results.append(mitigate(dataset, model, method, constraint, sensitive=cols, strength=v, seed=seed,
                                progress=sub, n_bootstrap=n_bootstrap, before=baseline, **options))
    rows = [{"label": "Original", "strength": np.nan, **baseline.row(), "fit_seconds": float(model.fit_seconds),
             "model_name": model.name}]
    for r in results:
        rows.append({"label": r.label, "strength": np.nan if r.strength is None else float(r.strength),
                     **r.after.row(), "fit_seconds": r.fit_seconds, "model_name": r.model.name})
        if r.deterministic is not None:
            rows.append({"label": r.label + " (deterministic)", "strength": float(r.strength),
                         **r.deterministic_scores.row(), "fit_seconds": r.fit_seconds,
                         "model_name": r.deterministic.name})
    return Front(method=method, constraint=constraint if METHOD_CONSTRAINTS[method] != ("none",) else "none",
                 sensitive=tuple(cols), points=pd.DataFrame(rows), results=tuple(results), baseline=baseline)
