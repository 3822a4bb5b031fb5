"""Mitigation: retrain or post-process a model under a fairness constraint.

One entry point, :func:`mitigate`, runs one method of the registry (:data:`METHODS`, one
:class:`~dlxai.fairness.mitigation.registry.MethodSpec` each: label, constraints, strength, fit function) on a
copy of the model and returns a :class:`MitigationResult` (the new model as an
:class:`~dlxai.models.base.AuditModel`, its test-split accuracy and disparities with bootstrap intervals next to
the original's, honest notes).  :func:`sweep` runs a method over several strengths and returns the
accuracy-fairness :class:`Front`; every point is a model the user can make active.

Both take ``sensitive=None``, meaning the dataset schema's sensitive attributes (``dataset.schema.sensitive``);
name one or two columns where the schema has none or more than two (Adult has sex, race and age_band).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlxai.data.dataset import TabularDataset
from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.fairness.mitigation import messages as msg
from dlxai.fairness.mitigation.methods import Fitted, Job, Progress, is_torch_mlp
from dlxai.fairness.mitigation.models import MitigatedModel, MixtureEstimator, PostProcessedEstimator, groups_frame
from dlxai.fairness.mitigation.registry import CONSTRAINT_METRIC, CONSTRAINTS, METHODS, MethodSpec, Strength
from dlxai.fairness.mitigation.results import Front, MitigationResult, label
from dlxai.fairness.mitigation.scores import Scores, score_model, score_predictions, sensitive_columns
from dlxai.models.base import AuditModel

__all__ = [
    "CONSTRAINTS", "CONSTRAINT_METRIC", "METHODS", "Front", "MethodSpec", "MitigatedModel", "MitigationResult",
    "MixtureEstimator", "PostProcessedEstimator", "Scores", "Strength", "mitigate", "score_model",
    "score_predictions", "sweep",
]


def _spec(method: str) -> MethodSpec:
    if method not in METHODS:
        raise UserInputError(msg.UNKNOWN_METHOD.format(method=method, choices=list(METHODS)))
    return METHODS[method]


def _constraint(spec: MethodSpec, constraint: str) -> str:
    """The constraint the method runs under: "none" for a method that takes none, else ``constraint`` checked."""
    if not spec.constraints:
        return "none"
    if constraint not in spec.constraints:
        raise UserInputError(msg.UNKNOWN_CONSTRAINT.format(method=spec.key, constraint=constraint,
                                                           choices=list(spec.constraints)))
    return constraint


def _check_inputs(model, dataset, spec: MethodSpec, constraint: str, sensitive, strength, max_iter):
    """Every check before any fitting; returns the constraint, sensitive columns and strength to run with."""
    if not isinstance(model, AuditModel):
        raise UserInputError(msg.NOT_AN_AUDIT_MODEL.format(kind=type(model).__name__))
    if not isinstance(dataset, TabularDataset):
        raise UserInputError(msg.NOT_A_DATASET.format(kind=type(dataset).__name__))
    constraint = _constraint(spec, constraint)
    if isinstance(model, MitigatedModel):
        raise UnsupportedModelError(msg.ALREADY_MITIGATED.format(name=model.name))
    cols = sensitive_columns(dataset, sensitive)
    strength = spec.strength.validated(strength, spec.label)
    if spec.needs_torch and not is_torch_mlp(model.estimator):
        raise UnsupportedModelError(msg.NEEDS_TORCH.format(kind=type(model.estimator).__name__, name=model.name))
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise UserInputError(msg.BAD_MAX_ITER.format(value=max_iter))
    return constraint, cols, strength


def _judge(spec: MethodSpec, constraint: str, before: Scores, after: Scores, fitted: Fitted) -> list[str]:
    """The fit's notes, led by a warning when the disparity did not fall or missed the promised bound."""
    notes = list(fitted.notes)
    c = constraint if constraint in CONSTRAINTS else "demographic_parity"
    what = CONSTRAINT_METRIC[c].replace("_", " ")
    lo, hi = after.gap_ci(c)
    if after.gap(c) >= before.gap(c) - 0.005:
        notes.insert(0, msg.NO_IMPROVEMENT.format(metric=what, after=after.gap(c), lo=lo, hi=hi,
                                                  before=before.gap(c), method=spec.label))
    elif fitted.bound is not None and after.gap(c) > fitted.bound:
        notes.insert(0, msg.NOT_MET.format(metric=what, after=after.gap(c), lo=lo, hi=hi, bound=fitted.bound))
    drop = 100 * (before.accuracy - after.accuracy)
    if drop > 0.05:
        notes.append(msg.ACCURACY_COST.format(points=drop, before=before.accuracy, after=after.accuracy))
    return notes


def mitigate(
    model: AuditModel,
    dataset: TabularDataset,
    method: str,
    constraint: str = "demographic_parity",
    *,
    sensitive=None,
    strength=None,
    seed: int = 0,
    progress: Progress | None = None,
    n_bootstrap: int = 200,
    estimator_params: dict | None = None,
    max_iter: int = 50,
    before: Scores | None = None,
) -> MitigationResult:
    """Run ``method`` under ``constraint`` on a copy of ``model``; score both on the test split.

    ``sensitive`` names the one or two columns that define groups; None means ``dataset.schema.sensitive``.
    ``strength`` is the method's knob (``METHODS[method].strength``: eps, grid_size, λ, alpha; None is its
    default).  ``estimator_params`` override the retrained estimator's settings (e.g. ``{"max_epochs": 5}`` for
    quick fits).  ``progress(fraction, text)`` is called after each retraining starts.  ``before`` reuses scores
    of the original model (a sweep computes them once).
    """
    spec = _spec(method)
    constraint, cols, strength = _check_inputs(model, dataset, spec, constraint, sensitive, strength, max_iter)
    if before is None:
        before = score_model(model, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    X_train = dataset.frame("train")
    metric = CONSTRAINT_METRIC[constraint if constraint in CONSTRAINTS else "demographic_parity"]
    job = Job(
        model=model, dataset=dataset, constraint=constraint, strength=strength, columns=cols, seed=seed,
        name=f"{model.name} · {label(method, constraint, strength)}",
        params={"mitigation": method, "constraint": constraint, spec.strength.name: strength,
                "sensitive": list(cols), "mitigation_seed": seed},
        metric=metric, X_train=X_train, y=dataset.y("train"), sf=groups_frame(dataset.sensitive("train", cols)),
        Xp=model.transform(X_train), estimator_params=estimator_params, max_iter=max_iter, progress=progress,
    )
    if progress is not None:
        progress(0.0, f"Starting {spec.label}…")
    fitted = spec.fit(job)
    seconds = job.elapsed
    if progress is not None:
        progress(1.0, f"{spec.short} done in {seconds:.1f} s")
    after = score_model(fitted.model, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    det_scores = None
    if fitted.deterministic is not None:
        det_scores = score_model(fitted.deterministic, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    return MitigationResult(
        method=method, constraint=constraint, strength=strength, sensitive=tuple(cols), model=fitted.model,
        before=before, after=after, fit_seconds=seconds, notes=tuple(_judge(spec, constraint, before, after, fitted)),
        deterministic=fitted.deterministic, deterministic_scores=det_scores,
        params={**job.params, "n_bootstrap": n_bootstrap, "fits": job.fits},
    )


def _front_rows(model: AuditModel, baseline: Scores, results: list[MitigationResult]) -> pd.DataFrame:
    rows = [{"label": "Original", "strength": np.nan, **baseline.row(), "fit_seconds": float(model.fit_seconds),
             "model_name": model.name}]
    for r in results:
        rows.append({"label": r.label, "strength": np.nan if r.strength is None else float(r.strength),
                     **r.after.row(), "fit_seconds": r.fit_seconds, "model_name": r.model.name})
        if r.deterministic is not None:
            rows.append({"label": r.label + " (deterministic)", "strength": float(r.strength),
                         **r.deterministic_scores.row(), "fit_seconds": r.fit_seconds,
                         "model_name": r.deterministic.name})
    return pd.DataFrame(rows)


def sweep(
    model: AuditModel,
    dataset: TabularDataset,
    method: str,
    constraint: str = "demographic_parity",
    *,
    strengths=None,
    sensitive=None,
    seed: int = 0,
    progress: Progress | None = None,
    n_bootstrap: int = 200,
    **options,
) -> Front:
    """:func:`mitigate` at each strength (default: the method's sweep values); an accuracy vs DP/EO front.

    ``sensitive`` None means ``dataset.schema.sensitive``, as in :func:`mitigate`.
    """
    spec = _spec(method)
    values = list(spec.strength.sweep if strengths is None else strengths)
    if not values:
        raise UserInputError(msg.EMPTY_SWEEP)
    cols = sensitive_columns(dataset, sensitive)
    baseline = score_model(model, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    results = []
    for k, v in enumerate(values):
        def sub(frac, text, k=k):
            if progress is not None:
                progress((k + frac) / len(values), f"Point {k + 1} of {len(values)}: {text}")

        results.append(mitigate(model, dataset, method, constraint, sensitive=cols, strength=v, seed=seed,
                                progress=sub, n_bootstrap=n_bootstrap, before=baseline, **options))
    return Front(method=method, constraint=constraint if spec.constraints else "none", sensitive=tuple(cols),
                 points=_front_rows(model, baseline, results), results=tuple(results), baseline=baseline)
