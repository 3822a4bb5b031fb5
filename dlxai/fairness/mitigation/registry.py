"""The mitigation methods: one :class:`MethodSpec` each, read by the dispatcher and by the page's pickers.

* ``exponentiated_gradient`` (Fairlearn, reduction; strength ``eps``): a *randomized* mixture of retrained
  models.  The result is a :class:`~dlxai.fairness.mitigation.models.MitigatedModel` whose ``predict`` draws
  seeded random decisions (``prediction_seed``; Fairlearn's own ``predict(random_state=...)``) and whose
  ``predict_proba`` is the mixture's probability of a favourable decision.  The best deterministic member is
  offered as a plain model with its own metrics (``result.deterministic``).
* ``grid_search`` (Fairlearn, reduction; strength ``grid_size``): the best grid point, a plain model.
* ``threshold_optimizer`` (Fairlearn, post-processing): group-specific thresholds on the model's scores; it
  **needs the sensitive attribute at prediction time**, so its model reads those columns from the raw frame
  (pass ``dataset.frame(split)``, which holds them; ``dataset.X(split)`` lacks attributes that are not model
  features, and then prediction raises ``SENSITIVE_AT_PREDICTION``).
* ``penalised`` (in-processing; strength λ): :class:`~dlxai.fairness.penalised.FairPenaltyMLPClassifier`.
* ``reweighing`` (pre-processing): Kamiran & Calders weights, retrained through ``sample_weight``.
* ``correlation_remover`` (pre-processing; strength ``alpha``): Fairlearn's CorrelationRemover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlxai.errors import UserInputError
from dlxai.fairness.mitigation import methods
from dlxai.fairness.mitigation.messages import BAD_STRENGTH

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


@dataclass(frozen=True)
class Strength:
    """A method's one knob: its parameter name, default, the values a sweep uses, and what values are valid.

    ``check`` is None for a method without a knob (any value given is ignored).  ``widget`` is the range of the
    page's number input, None where the page does not offer the knob (it keeps the default).
    """

    name: str
    default: Any
    sweep: tuple
    check: Callable[[Any], bool] | None = None
    rule: str = ""
    hint: str = ""
    label: str = ""
    integer: bool = False
    widget: tuple | None = None

    def validated(self, value, method_label: str):
        """``value`` if the rule allows it, the default for None; raises :class:`UserInputError` otherwise."""
        if value is None or self.check is None:
            return self.default
        if not self.check(value):
            raise UserInputError(BAD_STRENGTH.format(name=self.name, method=method_label, rule=self.rule,
                                                     value=value, hint=self.hint))
        return value


@dataclass(frozen=True)
class Quick:
    """The page's default run settings for a method (the engine's own defaults stay exact: every row, max_iter 50).

    Chosen so that each method finishes on Adult with dlxai's default MLP within about 2 minutes on 2 idle
    cores (``benchmarks/mitigation.py --defaults`` measures it); ``why`` says on the page what the shortcut costs.
    None leaves a setting at the engine's default.
    """

    max_iter: int | None = None  # ExponentiatedGradient's iterations
    max_epochs: int | None = None  # epochs per retraining of dlxai's MLP
    max_rows: int | None = None  # training rows the retrainings see (a stratified sample)
    why: str = ""


def _expgrad_fits(strength, max_iter: int) -> int:
    """Fits ExponentiatedGradient is planned to make: four per iteration.

    Each iteration fits one best response; its duality-gap check refits once while the gap is large and up to
    four times once it is small, and the linear-programming step checks the gap again whenever a new classifier
    joined the mixture: 1 to 9 fits per iteration.  Fairlearn stops before ``max_iter`` once the gap is below its
    tolerance: on Adult at the page's 10 iterations, 23 fits under demographic parity or equalized odds and 32
    under true positive rate parity; on German, 29 in 5 iterations.  A run that needs more than planned shows
    ``(more than planned)``, never a total it has passed.
    """
    return 4 * int(max_iter)


@dataclass(frozen=True)
class MethodSpec:
    """What the dispatcher and the page's pickers need to know about one mitigation method."""

    key: str
    label: str  # the picker's name for it
    short: str  # in model names and front labels
    constraints: tuple[str, ...]  # () for a method that takes no constraint (pre-processing)
    strength: Strength
    fit: Callable[[methods.Job], methods.Fitted]
    needs_torch: bool = False  # retrains dlxai's torch MLP only
    needs_sensitive_at_prediction: bool = False
    uses_max_iter: bool = False
    quick: Quick = Quick()
    planned_fits: Callable[[Any, int], int] = lambda strength, max_iter: 1  # real fits, for the progress


def _number(value) -> bool:
    return isinstance(value, (int, float))


def _unit(value) -> bool:
    return _number(value) and 0 <= value <= 1


NO_KNOB = Strength("none", None, (None,))

METHODS: dict[str, MethodSpec] = {
    "exponentiated_gradient": MethodSpec(
        "exponentiated_gradient", "Exponentiated gradient (reduction, randomized)", "ExpGrad", tuple(CONSTRAINTS),
        Strength("eps", 0.01, (0.2, 0.1, 0.05, 0.02, 0.01), lambda v: _number(v) and 0 < v <= 1, "in (0, 1]",
                 "Smaller is stricter; e.g. 0.01.", label="Allowed violation (ε)", widget=(0.0, 100.0)),
        methods.fit_exponentiated_gradient, uses_max_iter=True, planned_fits=_expgrad_fits,
        quick=Quick(max_iter=10, max_epochs=3, max_rows=8_000,
                    why="each retraining of the mixture sees a stratified sample of 8,000 training rows for 3 "
                        "epochs, over at most 10 iterations: about a fifth of the work of every row for 5 epochs over "
                        "20 iterations. On Adult the result is a little looser (accuracy 0.836 instead of 0.839, "
                        "demographic parity difference 0.020 instead of 0.013)."),
    ),
    "grid_search": MethodSpec(
        "grid_search", "Grid search (reduction)", "GridSearch", tuple(CONSTRAINTS),
        Strength("grid_size", 7, (3, 5, 7, 9),
                 lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 2 <= v <= 100,
                 "a whole number from 2 to 100", "Each grid point is one retraining; e.g. 7.", label="Grid size",
                 integer=True, widget=(2, 50)),
        methods.fit_grid_search, planned_fits=lambda strength, max_iter: int(strength),
        quick=Quick(max_epochs=3, max_rows=16_000,
                    why="one retraining per grid point: each sees a stratified sample of 16,000 training rows for 3 "
                        "epochs."),
    ),
    "threshold_optimizer": MethodSpec(
        "threshold_optimizer", "Threshold optimizer (post-processing, needs the attribute at prediction time)",
        "ThresholdOpt", tuple(CONSTRAINTS),
        Strength("tol", None, (None,), _unit, "in [0, 1] (the allowed relaxation)",
                 "Leave it empty for strict parity.", label="Allowed relaxation (tolerance)"),
        methods.fit_threshold_optimizer, needs_sensitive_at_prediction=True,
        planned_fits=lambda strength, max_iter: 0,
    ),
    "penalised": MethodSpec(
        "penalised", "Fairness-penalised training (in-processing, torch MLP)", "Penalised", tuple(CONSTRAINTS),
        Strength("fairness_weight", 5.0, (0.5, 1.0, 2.0, 5.0, 10.0), lambda v: _number(v) and np.isfinite(v) and v >= 0,
                 "a number of at least 0", "0 is plain training; larger trades accuracy for parity, e.g. 5.",
                 label="Fairness weight (λ)", widget=(0.0, 100.0)),
        methods.fit_penalised, needs_torch=True, quick=Quick(max_epochs=5, why="one retraining of 5 epochs."),
    ),
    "reweighing": MethodSpec(
        "reweighing", "Reweighing (pre-processing, Kamiran & Calders)", "Reweighing", (), NO_KNOB,
        methods.fit_reweighing, quick=Quick(max_epochs=5, why="one retraining of 5 epochs."),
    ),
    "correlation_remover": MethodSpec(
        "correlation_remover", "Correlation remover (pre-processing)", "CorrRemover", (),
        Strength("alpha", 1.0, (0.25, 0.5, 0.75, 1.0), _unit, "in [0, 1]",
                 "1 removes all linear correlation with the attribute.", label="Share of correlation removed (α)", widget=(0.0, 100.0)),
        methods.fit_correlation_remover, quick=Quick(max_epochs=5, why="one retraining of 5 epochs."),
    ),
}


NO_DECORRELATION = (
    "the correlation remover rewrites the model's numeric inputs from dlxai's preprocessing, but {name} reads {what}, "
    "so there is no encoded input to decorrelate. Use reweighing or a reduction instead"
)


def estimator_kind(est) -> str:
    """What the model is, in the user's words: "an uploaded ONNX network", "a scikit-learn Pipeline"."""
    est = getattr(est, "inner", None) or est
    if getattr(est, "file_kind", ""):
        return f"an uploaded {est.file_kind} network"
    lib = type(est).__module__.split(".")[0]
    return f"a {'scikit-learn ' if lib == 'sklearn' else ''}{type(est).__name__}"


def why_not(model, method: str, sensitive=()) -> str | None:
    """Why mitigation ``method`` is not offered for ``model`` (None when it is), said before anything runs: a
    mitigated model is not mitigated again; penalised training needs dlxai's MLP; every method but post-processing
    retrains a clone of the model's estimator, which an uploaded network (a file, not a recipe) cannot do."""
    from dlxai.fairness.mitigation import messages as msg
    from dlxai.fairness.mitigation.models import MitigatedModel

    spec = METHODS[method]
    if isinstance(model, MitigatedModel):
        return msg.ALREADY_MITIGATED.format(name=model.name).rstrip(".")
    if spec.needs_torch and not methods.is_torch_mlp(model.estimator):
        return msg.NEEDS_TORCH.format(kind=estimator_kind(model.estimator), name=model.name).rstrip(".")
    if spec.planned_fits(spec.strength.default, 1) == 0:  # post-processing: the fitted model is all it needs
        return None
    refit = getattr(model.estimator, "refit_unavailable", "")
    if refit:
        return refit.rstrip(".")
    if method == "correlation_remover":
        from dlxai.fairness.preprocessing import NOT_A_FEATURE

        groups = getattr(model.preprocessor, "feature_groups_", None)
        if groups is None or getattr(model.preprocessor, "contract_kind", "") == "raw":
            what = ("the raw columns and encodes them itself (categories as text)"
                    if getattr(model.preprocessor, "contract_kind", "") == "raw" else "inputs without dlxai's feature groups")
            return NO_DECORRELATION.format(name=model.name, what=what)
        missing = [c for c in sensitive if c not in groups]
        if missing:
            return NOT_A_FEATURE.format(columns=missing, features=list(groups)).rstrip(".")
    return None
