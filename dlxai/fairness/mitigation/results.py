"""What :func:`~dlxai.fairness.mitigation.mitigate` and :func:`~dlxai.fairness.mitigation.sweep` return."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dlxai.fairness.mitigation.registry import CONSTRAINTS, METHODS
from dlxai.fairness.mitigation.scores import Scores
from dlxai.fairness.mitigation.tradeoff import TradeOff
from dlxai.models.base import AuditModel

# the short keys of Scores.row() and Front.points, as the page and the PDF name them
COLUMN_LABELS = {
    "label": "Model", "strength": "Strength", "accuracy": "Accuracy", "accuracy_lo": "Accuracy 95% CI low",
    "accuracy_hi": "Accuracy 95% CI high", "dp": "Demographic parity difference", "dp_lo": "DP difference CI low",
    "dp_hi": "DP difference CI high", "eo": "Equalized odds difference", "eo_lo": "EO difference CI low",
    "eo_hi": "EO difference CI high", "tpr_gap": "Equal opportunity difference", "selection_rate": "Selection rate",
    "fit_seconds": "Fit time (s)",
}


def label(method: str, constraint: str, strength) -> str:
    """``ExpGrad, Demographic parity, Allowed violation (ε) 0.01``: the method's short name, its constraint and
    strength, in the words the Mitigation page uses."""
    knob = METHODS[method].strength
    s = "" if strength is None else f", {knob.label or knob.name} {strength:g}"
    c = "" if constraint == "none" else f", {CONSTRAINTS.get(constraint, constraint)}"
    return f"{METHODS[method].short}{c}{s}"


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
    tradeoff: TradeOff | None = None  # every metric before vs after, with the verdict per metric
    deterministic_tradeoff: TradeOff | None = None  # the same for the best deterministic member
    warnings: tuple[str, ...] = ()  # the notes that warn: a metric got worse, no improvement, bound missed

    @property
    def label(self) -> str:
        return label(self.method, self.constraint, self.strength)

    @property
    def improved(self) -> bool:
        return self.after.gap(self._metric_constraint) < self.before.gap(self._metric_constraint) - 0.005

    @property
    def _metric_constraint(self) -> str:
        return self.constraint if self.constraint in CONSTRAINTS else "demographic_parity"

    def worse(self) -> list[str]:
        """Keys of the metrics (:data:`~dlxai.fairness.mitigation.tradeoff.METRICS`) that got worse."""
        return [] if self.tradeoff is None else self.tradeoff.worse()

    def table(self) -> pd.DataFrame:
        """Before/after table: one row per model (original, mitigated, best deterministic member), short keys."""
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
