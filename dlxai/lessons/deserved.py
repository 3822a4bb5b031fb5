"""Judge a model against what people deserved, not only against what was recorded.

The bias lab records a share of group B's deserved approvals as rejections, in the training rows *and*
in the test rows.  Accuracy, true positive rates and equalized odds measured on the test split therefore
grade the model against biased answers: a model that copies the bias scores well.  The lab also keeps
each person's deserved label (:data:`~dlxai.data.bundled.DESERVED`), so every metric can be computed twice,
side by side: against the recorded labels (what an auditor with only the data would see) and against the
deserved ones (what the applicants would see).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlxai.data.bundled import DESERVED
from dlxai.data.dataset import TabularDataset
from dlxai.errors import UserInputError
from dlxai.fairness.metrics import METRIC_LABELS, FairnessAudit, audit_fairness

NO_DESERVED = (
    "{name} keeps no deserved labels (no {column!r} column): only the bias lab knows what each person deserved. "
    "Generate the bias lab (Home or a lesson) to compare recorded and deserved labels."
)
RECORDED = "recorded labels"
DESERVED_LABELS = "deserved labels"
# the rows of the side-by-side summary: (label, where the value comes from)
SUMMARY_ROWS = (
    ("Accuracy", "accuracy"),
    ("Selection rate gap (demographic parity difference)", "demographic_parity_difference"),
    ("True positive rate gap (equal opportunity difference)", "equal_opportunity_difference"),
    ("Equalized odds difference", "equalized_odds_difference"),
)


def has_deserved(dataset: TabularDataset) -> bool:
    return DESERVED in dataset.test.columns and DESERVED in dataset.train.columns


def deserved_labels(dataset: TabularDataset, split: str = "test") -> np.ndarray:
    """0/1 per row of ``split``: 1 where the person deserved the favourable outcome."""
    if not has_deserved(dataset):
        raise UserInputError(NO_DESERVED.format(name=dataset.name, column=DESERVED))
    return (dataset.frame(split)[DESERVED] == dataset.schema.positive_label).to_numpy(np.int64)


@dataclass(frozen=True)
class Judged:
    """One set of decisions audited twice: against the recorded and against the deserved labels.

    ``missing`` holds, per group, the share of deserved approvals in ``split`` that the records turned into
    rejections: the label bias the data carries, which no metric on the recorded labels can see.  Group
    labels are the audits' (strings).
    """

    attribute: str
    recorded: FairnessAudit
    deserved: FairnessAudit
    missing: pd.Series

    def summary(self) -> pd.DataFrame:
        """Accuracy and the disparity metrics, one row each; columns: recorded labels, deserved labels."""
        rows = {}
        for label, key in SUMMARY_ROWS:
            rows[label] = [_value(self.recorded, key), _value(self.deserved, key)]
        return pd.DataFrame.from_dict(rows, orient="index", columns=[RECORDED, DESERVED_LABELS])

    def by_group(self, metrics=("selection_rate", "accuracy", "tpr", "fpr")) -> pd.DataFrame:
        """One row per metric; per group, a column against the recorded and one against the deserved labels
        (``"B · deserved labels"``).  The selection rate needs no labels: it reads the same in both."""
        cols = {}
        for g in self.recorded.by_group.index:
            for audit, which in ((self.recorded, RECORDED), (self.deserved, DESERVED_LABELS)):
                cols[f"{g} · {which}"] = [float(audit.by_group.loc[g, m]) for m in metrics]
        return pd.DataFrame(cols, index=[METRIC_LABELS[m] for m in metrics])


def _value(audit: FairnessAudit, key: str) -> float:
    return float(audit.overall["accuracy"]) if key == "accuracy" else float(audit.summary[key])


def judge(y_pred, dataset: TabularDataset, attribute: str = "group", *, split: str = "test",
          n_bootstrap: int = 200, seed: int = 0) -> Judged:
    """Audit ``y_pred`` (0/1 decisions on ``split``) against the recorded and the deserved labels."""
    y_deserved = deserved_labels(dataset, split)
    y_recorded = dataset.y(split)
    groups = dataset.sensitive(split, [attribute])
    kw = dict(n_bootstrap=n_bootstrap, seed=seed)
    recorded = audit_fairness(y_recorded, y_pred, groups, **kw)
    deserved = audit_fairness(y_deserved, y_pred, groups, **kw)
    g = groups[attribute].astype(str).to_numpy()
    missing = {}
    for name in sorted(set(g)):
        mask = (g == name) & (y_deserved == 1)
        missing[name] = float((y_recorded[mask] == 0).mean()) if mask.any() else float("nan")
    return Judged(attribute, recorded, deserved, pd.Series(missing, name="missing approvals"))
