"""One fit function per mitigation method: a :class:`Job` in, a :class:`Fitted` model (and its notes) out.

Every fit function works on copies: estimators are cloned (reductions, reweighing, penalised) or deep-copied
(post-processing) and the preprocessor is deep-copied, so the caller's model is never changed.  Fairlearn and
torch are imported inside the functions, so importing the registry stays cheap.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dlxai.data.dataset import TabularDataset
from dlxai.errors import UserInputError
from dlxai.fairness.metrics import audit_fairness
from dlxai.fairness.mitigation import messages as msg
from dlxai.fairness.mitigation.models import MitigatedModel, MixtureEstimator, PostProcessedEstimator
from dlxai.fairness.mitigation.progress import FitCounter
from dlxai.models.base import AuditModel


class EpochReport:
    """A torch MLP's epoch callback that reports to the mitigation's fit counter.  Reductions clone the estimator
    many times: every clone shares this one reporter (``__deepcopy__``).  A fitted model must not carry a link to a
    progress bar, so it pickles to a reporter with no counter (a job process hands the model back pickled)."""

    def __init__(self, counter=None):
        self.counter = counter

    def __call__(self, info) -> None:
        if self.counter is not None:
            self.counter.epoch(info.epoch, info.max_epochs)

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return (EpochReport, ())


@dataclass
class Job:
    """One mitigation run: what every fit function reads (training rows, names, settings) and its shared helpers."""

    model: AuditModel
    dataset: TabularDataset
    constraint: str  # "none" for methods that take no constraint
    strength: Any
    columns: list[str]
    seed: int
    name: str  # the mitigated model's name
    params: dict  # recorded on the mitigated model; a fit function may add its own settings
    metric: str  # the FairnessAudit summary metric the constraint is measured by
    X_train: pd.DataFrame
    y: np.ndarray
    sf: pd.DataFrame  # the sensitive columns of the training split, as Fairlearn groups
    Xp: np.ndarray  # the training split through the model's preprocessor
    estimator_params: dict | None = None
    max_iter: int = 50
    counter: FitCounter | None = None  # counts real fits, reports them, stops the run when asked
    start: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def fits(self) -> int:
        return 0 if self.counter is None else self.counter.done

    def base_estimator(self):
        """A clone of the model's estimator (unfitted) with the caller's settings; a torch MLP reports its epochs."""
        from sklearn.base import clone

        est = clone(self.model.estimator)
        params = dict(self.estimator_params or {})
        if is_torch_mlp(est) and self.counter is not None:
            params["callback"] = EpochReport(self.counter)
        known = est.get_params()
        unknown = [k for k in params if k not in known]
        if unknown:
            raise UserInputError(msg.UNKNOWN_ESTIMATOR_PARAMS.format(unknown=unknown, kind=type(est).__name__,
                                                                     known=sorted(known)))
        return est.set_params(**params)

    def counted(self, est):
        """``est`` wrapped so that each fit a reduction makes of a copy of it is counted (see ``progress``)."""
        from dlxai.fairness.mitigation.wrappers import CountedFit

        return CountedFit(est, self.counter)

    def start_fit(self) -> None:
        """Count the one fit of a method that fits once (reweighing, penalised training, ...)."""
        if self.counter is not None:
            self.counter.start_fit()

    def derived(self, estimator, *, name: str | None = None, params: dict | None = None, preprocessor=None,
                cls=AuditModel, **extra) -> AuditModel:
        """The mitigated model around ``estimator``: the original's columns and preprocessor (or ``preprocessor``)."""
        model, params = self.model, self.params if params is None else params
        return cls(
            estimator=estimator,
            preprocessor=copy.deepcopy(model.preprocessor) if preprocessor is None else preprocessor,
            kind=model.kind if cls is AuditModel else f"{model.kind}+{params['mitigation']}",
            name=self.name if name is None else name,
            feature_columns=tuple(model.feature_columns),
            params={**{k: v for k, v in model.params.items() if k != "callback"}, **params},
            fit_seconds=self.elapsed,
            source=f"mitigated in dlxai from {model.name}",
            dataset=model.dataset,
            **extra,
        )


@dataclass
class Fitted:
    """What a fit function returns: the mitigated model, its notes, and the bound it promises (if any)."""

    model: AuditModel
    notes: list[str] = field(default_factory=list)
    bound: float | None = None  # the disparity the method guarantees on the training split
    deterministic: AuditModel | None = None  # a randomized model's best deterministic member


def is_torch_mlp(est) -> bool:
    from dlxai.models.torch_mlp import TorchMLPClassifier

    return isinstance(est, TorchMLPClassifier)


def _quiet(est) -> None:
    """Drop the progress callback from a fitted estimator (it refers to a page's progress bar)."""
    if hasattr(est, "callback"):
        est.callback = None


def _moment(constraint: str):
    from fairlearn.reductions import DemographicParity, EqualizedOdds, TruePositiveRateParity

    return {"demographic_parity": DemographicParity, "equalized_odds": EqualizedOdds,
            "true_positive_rate_parity": TruePositiveRateParity}[constraint]()


# --- reductions ----------------------------------------------------------------------------------------------
def fit_exponentiated_gradient(job: Job) -> Fitted:
    """Fairlearn's ExponentiatedGradient: a randomized mixture, and its best deterministic member."""
    from fairlearn.reductions import ExponentiatedGradient

    from dlxai.fairness.mitigation.wrappers import unwrap

    eg = ExponentiatedGradient(job.counted(job.base_estimator()), constraints=_moment(job.constraint),
                               eps=float(job.strength), max_iter=int(job.max_iter))
    eg.fit(job.Xp, job.y, sensitive_features=job.sf)
    for p in eg.predictors_:
        _quiet(unwrap(p))
    mix = MixtureEstimator(eg)
    job.params["max_iter"] = int(job.max_iter)
    new = job.derived(mix, cls=MitigatedModel, randomized=True, prediction_seed=job.seed)
    notes = [msg.RANDOMIZED_NOTE.format(seed=job.seed)]
    if eg.best_gap_ > eg.nu * 1.0001:
        notes.append(msg.NOT_CONVERGED.format(iters=eg.last_iter_ + 1, gap=eg.best_gap_, nu=eg.nu))
    # fairlearn's eps bounds |E[h|A=a] - E[h]| per group; the max-min difference is at most 2 eps
    bound = 2 * float(job.strength)
    deterministic, note = _best_member(job, mix, bound)
    notes.append(note)
    return Fitted(new, notes, bound, deterministic)


def _best_member(job: Job, mix: MixtureEstimator, bound: float) -> tuple[AuditModel, str]:
    """The most accurate member within ``bound`` on the training split (else the fairest), as a plain model."""
    members = mix.members
    rows = []
    for i, (w, est) in enumerate(members):
        pred = np.asarray(est.predict(job.Xp)).astype(np.int64)
        a = audit_fairness(job.y, pred, job.sf, n_bootstrap=0)
        rows.append((i, float((pred == job.y).mean()), a.summary[job.metric], w))
    fair_enough = [r for r in rows if r[2] <= bound]
    chosen = max(fair_enough, key=lambda r: r[1]) if fair_enough else min(rows, key=lambda r: r[2])
    est = copy.deepcopy(members[chosen[0]][1])
    _quiet(est)
    det = job.derived(est, name=f"{job.name} · best deterministic member",
                      params={**job.params, "member": int(chosen[0]), "member_weight": chosen[3]})
    what = job.metric.replace("_", " ")
    if fair_enough:
        return det, msg.MEMBER_CHOICE.format(n=len(members), metric=what, bound=bound)
    return det, msg.MEMBER_NONE_FAIR.format(n=len(members), metric=what, bound=bound, gap=chosen[2])


def fit_grid_search(job: Job) -> Fitted:
    """Fairlearn's GridSearch: the best grid point, a plain model."""
    from fairlearn.reductions import GridSearch

    from dlxai.fairness.mitigation.wrappers import unwrap

    gs = GridSearch(job.counted(job.base_estimator()), constraints=_moment(job.constraint),
                    grid_size=int(job.strength))
    gs.fit(job.Xp, job.y, sensitive_features=job.sf)
    best = unwrap(gs.predictors_[gs.best_idx_])
    _quiet(best)
    return Fitted(job.derived(best))


# --- post-processing -------------------------------------------------------------------------------------------
def fit_threshold_optimizer(job: Job) -> Fitted:
    """Fairlearn's ThresholdOptimizer on the fitted model: group thresholds, read from each row it scores."""
    from fairlearn.postprocessing import ThresholdOptimizer

    from dlxai.fairness.mitigation.wrappers import ScoresAsFloat64

    est = copy.deepcopy(job.model.estimator)
    _quiet(est)
    to = ThresholdOptimizer(estimator=ScoresAsFloat64(est), constraints=job.constraint, prefit=True,
                            predict_method="predict_proba", tol=job.strength)
    to.fit(job.Xp, job.y, sensitive_features=job.sf)
    new = job.derived(PostProcessedEstimator(to), cls=MitigatedModel, sensitive_columns=tuple(job.columns),
                      randomized=True, prediction_seed=job.seed)
    return Fitted(new, [msg.POST_PROCESSING_NOTE.format(columns=", ".join(job.columns), seed=job.seed)])


# --- in-processing ---------------------------------------------------------------------------------------------
def fit_penalised(job: Job) -> Fitted:
    """dlxai's MLP retrained with λ × a differentiable DP/EO gap added to its loss."""
    from dlxai.fairness.penalised import FairPenaltyMLPClassifier

    base = job.base_estimator()
    est = FairPenaltyMLPClassifier(**base.get_params(), penalty=job.constraint, fairness_weight=float(job.strength))
    job.start_fit()
    est.fit(job.Xp, job.y, sensitive_features=job.sf)
    _quiet(est)
    return Fitted(job.derived(est))


# --- pre-processing --------------------------------------------------------------------------------------------
def fit_reweighing(job: Job) -> Fitted:
    """Kamiran & Calders weights, honoured through ``sample_weight`` by a retrained clone."""
    from dlxai.fairness.preprocessing import reweighing_weights

    w = reweighing_weights(job.y, job.sf)
    est = job.base_estimator()
    job.start_fit()
    est.fit(job.Xp, job.y, sample_weight=w)
    _quiet(est)
    return Fitted(job.derived(est))


def fit_correlation_remover(job: Job) -> Fitted:
    """Fairlearn's CorrelationRemover inside the preprocessor, then a retrained clone on the decorrelated rows."""
    from dlxai.fairness.preprocessing import DecorrelatedPreprocessor

    prep = DecorrelatedPreprocessor(copy.deepcopy(job.model.preprocessor), tuple(job.columns),
                                    float(job.strength)).fit(job.X_train)
    est = job.base_estimator()
    job.start_fit()
    est.fit(prep.transform(job.X_train), job.y)
    _quiet(est)
    return Fitted(job.derived(est, preprocessor=prep))
