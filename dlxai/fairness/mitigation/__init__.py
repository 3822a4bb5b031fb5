"""Mitigation: retrain or post-process a model under a fairness constraint.

One entry point, :func:`mitigate`, runs one method of the registry (:data:`METHODS`, one
:class:`~dlxai.fairness.mitigation.registry.MethodSpec` each: label, constraints, strength, fit function) on a
copy of the model and returns a :class:`MitigationResult` (the new model as an
:class:`~dlxai.models.base.AuditModel`, its test-split accuracy and disparities with bootstrap intervals next to
the original's, every fairness metric before and after with a paired-bootstrap verdict in ``result.tradeoff``
(:mod:`~dlxai.fairness.mitigation.tradeoff`), warnings for each metric that got worse, honest notes).  Progress
counts real fits and a ``progress`` callback that returns False stops the run
(:mod:`~dlxai.fairness.mitigation.progress`).  :func:`sweep` runs a method over several strengths and returns the
accuracy-fairness :class:`Front`; every point is a model the user can make active.

Both take ``sensitive=None``, meaning the dataset schema's sensitive attributes (``dataset.schema.sensitive``);
name one or two columns where the schema has none or more than two (Adult has sex, race and age_band).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlxai.data.dataset import TabularDataset
from dlxai.errors import CANCELLED, Cancelled, UnsupportedModelError, UserInputError
from dlxai.fairness.mitigation import messages as msg
from dlxai.fairness.mitigation.methods import Fitted, Job
from dlxai.fairness.mitigation.models import MitigatedModel, MixtureEstimator, PostProcessedEstimator, groups_frame
from dlxai.fairness.mitigation.progress import FitCounter, Progress
from dlxai.fairness.mitigation.registry import (
    CONSTRAINT_METRIC,
    CONSTRAINTS,
    METHODS,
    MethodSpec,
    Quick,
    Strength,
    why_not,
)
from dlxai.fairness.mitigation.results import Front, MitigationResult, label
from dlxai.fairness.mitigation.scores import Scores, score_model, score_predictions, sensitive_columns
from dlxai.fairness.mitigation.tradeoff import METRICS, TradeOff, compare
from dlxai.models.base import AuditModel

__all__ = [
    "CONSTRAINTS", "CONSTRAINT_METRIC", "METHODS", "METRICS", "Front", "MethodSpec", "MitigatedModel",
    "MitigationResult", "MixtureEstimator", "PostProcessedEstimator", "Quick", "Scores", "Strength", "TradeOff",
    "compare", "mitigate", "score_model", "score_predictions", "sweep",
]
MIN_ROWS = 100  # the fewest training rows max_rows may ask for


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


def _check_inputs(model, dataset, spec: MethodSpec, constraint: str, sensitive, strength, max_iter, max_rows):
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
    why = why_not(model, spec.key, tuple(cols))
    if why:  # the rule the page shows before the click (penalised needs dlxai's MLP, an upload cannot retrain, ...)
        raise UnsupportedModelError(f"{why}.")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise UserInputError(msg.BAD_MAX_ITER.format(value=max_iter))
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer))
                                 or max_rows < MIN_ROWS):
        raise UserInputError(msg.BAD_MAX_ROWS.format(value=max_rows, least=MIN_ROWS))
    return constraint, cols, strength


def _judge(spec: MethodSpec, constraint: str, before: Scores, after: Scores, fitted: Fitted,
           tradeoff: TradeOff) -> tuple[list[str], list[str]]:
    """(notes, warnings): every metric that got worse leads (fairness first, then accuracy), then whether the
    constrained disparity fell and met its bound, then the fit's own notes."""
    warnings = [tradeoff.sentence(k) for k in tradeoff.worse(fairness_only=True)]
    warnings += [tradeoff.sentence(k) for k in tradeoff.worse() if k not in tradeoff.worse(fairness_only=True)]
    c = constraint if constraint in CONSTRAINTS else "demographic_parity"
    what = CONSTRAINT_METRIC[c].replace("_", " ").capitalize()
    lo, hi = after.gap_ci(c)
    if after.gap(c) >= before.gap(c) - 0.005:
        warnings.insert(0, msg.NO_IMPROVEMENT.format(metric=what, after=after.gap(c), lo=lo, hi=hi,
                                                     before=before.gap(c), method=spec.label.split(" (")[0]))
    elif fitted.bound is not None and after.gap(c) > fitted.bound:
        warnings.insert(0, msg.NOT_MET.format(metric=what, after=after.gap(c), lo=lo, hi=hi, bound=fitted.bound))
    return warnings + list(fitted.notes), warnings


def _say(progress: Progress | None, fraction: float, text: str, what: str) -> None:
    """Report to ``progress``; a False answer stops the run (:class:`~dlxai.errors.Cancelled`)."""
    if progress is not None and progress(fraction, text) is False:
        raise Cancelled(CANCELLED.format(what=what, done=0, planned=1))


def _sample(n: int, y: np.ndarray, sf: pd.DataFrame, max_rows: int | None, seed: int) -> np.ndarray | None:
    """Sorted row positions of a sample of ``max_rows`` stratified by group × label (None: keep every row)."""
    if max_rows is None or n <= max_rows:
        return None
    strata = pd.factorize(pd.Series(np.asarray(y)).astype(str).str.cat(sf.astype(str).to_numpy(), sep="|"))[0]
    rng = np.random.default_rng(seed)
    keep = []
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        keep.append(rng.choice(rows, size=max(1, int(round(len(rows) * max_rows / n))), replace=False))
    return np.sort(np.concatenate(keep))


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
    max_rows: int | None = None,
    before: Scores | None = None,
) -> MitigationResult:
    """Run ``method`` under ``constraint`` on a copy of ``model``; score both on the test split.

    ``sensitive`` names the one or two columns that define groups; None means ``dataset.schema.sensitive``.
    ``strength`` is the method's knob (``METHODS[method].strength``: eps, grid_size, λ, alpha; None is its
    default).  ``estimator_params`` override the retrained estimator's settings (e.g. ``{"max_epochs": 5}`` for
    quick fits).  ``max_rows`` retrains on a sample of that many training rows, stratified by group and label
    (None: every row; :data:`METHODS`' ``quick`` settings say what the page uses).  ``progress(fraction, text)``
    is called as each real fit starts (``Fit 3 of 31 · about 40 s left``) and after each epoch of dlxai's MLP;
    returning False stops the run there with :class:`~dlxai.errors.Cancelled`.  ``before`` reuses scores of the
    original model (a sweep computes them once).

    The result compares every fairness metric before and after (``result.tradeoff``, paired bootstrap) and
    leads its ``warnings`` with each metric that got worse beyond its interval.
    """
    spec = _spec(method)
    constraint, cols, strength = _check_inputs(model, dataset, spec, constraint, sensitive, strength, max_iter,
                                               max_rows)
    if before is None:
        before = score_model(model, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    _say(progress, 0.0, f"Starting {spec.label}…", spec.label)
    X_train, y, sf = dataset.frame("train"), dataset.y("train"), groups_frame(dataset.sensitive("train", cols))
    rows = None if spec.planned_fits(strength, max_iter) == 0 else _sample(len(y), y, sf, max_rows, seed)
    if rows is not None:
        X_train, y, sf = X_train.iloc[rows], y[rows], sf.iloc[rows].reset_index(drop=True)
    metric = CONSTRAINT_METRIC[constraint if constraint in CONSTRAINTS else "demographic_parity"]
    counter = FitCounter(spec.planned_fits(strength, max_iter), progress, spec.label)
    job = Job(
        model=model, dataset=dataset, constraint=constraint, strength=strength, columns=cols, seed=seed,
        name=f"{model.name} · {label(method, constraint, strength)}",
        params={"mitigation": method, "constraint": constraint, spec.strength.name: strength,
                "sensitive": list(cols), "mitigation_seed": seed, **({} if rows is None else {"max_rows": max_rows})},
        metric=metric, X_train=X_train, y=y, sf=sf, Xp=model.transform(X_train), estimator_params=estimator_params,
        max_iter=max_iter, counter=counter,
    )
    try:
        fitted = spec.fit(job)
    finally:
        counter.detach()
    seconds = job.elapsed
    _say(progress, 1.0, f"{spec.short} done in {seconds:.1f} s; scoring on the test split…", spec.label)
    after = score_model(fitted.model, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
    if rows is not None:
        fitted.notes.insert(0, msg.SAMPLED_ROWS.format(rows=len(rows), total=len(dataset.train), seed=seed))
    test_y, test_groups = dataset.y("test"), dataset.sensitive("test", cols)
    before_decisions = before.decisions if before.decisions is not None else model.predict(dataset.frame("test"))

    def tradeoff_of(scores: Scores) -> TradeOff:
        return compare(test_y, before_decisions, scores.decisions, test_groups, n_bootstrap=n_bootstrap, seed=seed)

    det_scores = det_tradeoff = None
    if fitted.deterministic is not None:
        det_scores = score_model(fitted.deterministic, dataset, cols, n_bootstrap=n_bootstrap, seed=seed)
        det_tradeoff = tradeoff_of(det_scores)
    tradeoff = tradeoff_of(after)
    notes, warnings = _judge(spec, constraint, before, after, fitted, tradeoff)
    return MitigationResult(
        method=method, constraint=constraint, strength=strength, sensitive=tuple(cols), model=fitted.model,
        before=before, after=after, fit_seconds=seconds, notes=tuple(notes),
        deterministic=fitted.deterministic, deterministic_scores=det_scores,
        params={**job.params, "n_bootstrap": n_bootstrap, "fits": job.fits, "planned_fits": counter.planned,
                "max_iter": max_iter, "estimator_params": dict(estimator_params or {})},
        tradeoff=tradeoff, deterministic_tradeoff=det_tradeoff, warnings=tuple(warnings),
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
                return progress((k + frac) / len(values), f"Point {k + 1} of {len(values)}: {text}")
            return None

        results.append(mitigate(model, dataset, method, constraint, sensitive=cols, strength=v, seed=seed,
                                progress=sub, n_bootstrap=n_bootstrap, before=baseline, **options))
    return Front(method=method, constraint=constraint if spec.constraints else "none", sensitive=tuple(cols),
                 points=_front_rows(model, baseline, results), results=tuple(results), baseline=baseline)
