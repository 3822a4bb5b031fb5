"""Test-split accuracy and disparities of one model, with bootstrap intervals: what before and after compare."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlxai import errors
from dlxai.data.dataset import TabularDataset
from dlxai.errors import UserInputError
from dlxai.fairness.metrics import audit_fairness
from dlxai.models.base import AuditModel


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
    decisions: np.ndarray | None = field(default=None, repr=False, compare=False)  # what before/after compare

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


def sensitive_columns(dataset: TabularDataset, sensitive) -> list[str]:
    """The columns that define groups: ``sensitive`` (a name or names), or the schema's when it is None.

    None means ``dataset.schema.sensitive``, so a dataset whose schema names one or two attributes needs no
    argument; one that names more (Adult: sex, race, age_band) needs the one or two to mitigate for.
    """
    if sensitive is None:
        sensitive = dataset.schema.sensitive
    cols = [sensitive] if isinstance(sensitive, str) else list(sensitive or ())
    if not cols:
        raise UserInputError(errors.NO_SENSITIVE)
    if len(cols) > 2:
        raise UserInputError(errors.TOO_MANY_SENSITIVE.format(n=len(cols), columns=cols))
    dataset.sensitive("train", cols)  # validates the names
    return cols


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
        decisions=np.asarray(y_pred).astype(np.int64),
    )


def score_model(model: AuditModel, dataset: TabularDataset, sensitive=None, *, split: str = "test",
                n_bootstrap: int = 200, seed: int = 0) -> Scores:
    """:func:`score_predictions` of ``model.predict`` on the raw frame of ``split`` (0.5 threshold).

    ``sensitive`` None means the schema's sensitive attributes (see :func:`sensitive_columns`).
    """
    cols = sensitive_columns(dataset, sensitive)
    frame = dataset.frame(split)
    return score_predictions(dataset.y(split), model.predict(frame), dataset.sensitive(split, cols),
                             n_bootstrap=n_bootstrap, seed=seed)
