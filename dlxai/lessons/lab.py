"""The bias lab as the lessons use it: its dials, the small model a class trains, and one run's analysis.

A run is one setting of the dials: the lab generated with them, a small MLP trained on its recorded labels,
and what the lessons look at — the decisions judged against recorded and deserved labels
(:mod:`dlxai.lessons.deserved`), where the model's attributions land (the group itself, the neighbourhood
proxy) and how strongly each feature tracks the group (the proxy detector of :mod:`dlxai.explain.views`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlxai.data.bundled import DESERVED, make_bias_lab
from dlxai.data.dataset import TabularDataset
from dlxai.explain.views import feature_association, global_importance
from dlxai.lessons.deserved import Judged, judge
from dlxai.validation import check_float

GROUP = "group"
PROXY = "neighbourhood"  # the feature the proxy-strength dial ties to the group
# the small model every lesson trains on the lab: a few seconds on two cores, gradients for explanations
MODEL_KIND = "mlp"
MODEL_PARAMS = (("hidden_layer_sizes", (32,)), ("max_epochs", 8))
MODEL_SEED = 0
N_EXPLAIN = 200  # rows whose attributions give the shares on the group and the proxy


@dataclass(frozen=True)
class LabSettings:
    """The dials of the bias lab (see :func:`~dlxai.data.bundled.make_bias_lab`)."""

    label_bias: float = 0.3
    proxy_strength: float = 0.5
    include_group: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_bias", round(check_float(self.label_bias, "label_bias", low=0.0, high=1.0), 2))
        object.__setattr__(self, "proxy_strength",
                           round(check_float(self.proxy_strength, "proxy_strength", low=0.0, high=1.0), 2))
        object.__setattr__(self, "include_group", bool(self.include_group))
        object.__setattr__(self, "seed", int(self.seed))

    def params(self) -> tuple:
        """``make_bias_lab`` keyword arguments as a hashable tuple: the dashboard's cache key for the lab."""
        return (("label_bias", self.label_bias), ("proxy_strength", self.proxy_strength),
                ("include_group", self.include_group), ("seed", self.seed))

    @property
    def key(self) -> str:
        """The dataset key the dashboard uses for this lab (the same one Home's Generate button uses)."""
        return f"bias_lab:{self.params()}"

    @property
    def label(self) -> str:
        """The setting in a few words, for tables and chart axes."""
        group = "group is an input" if self.include_group else "group hidden"
        seed = "" if self.seed == 0 else f" · seed {self.seed}"
        return f"bias {self.label_bias:.2f} · proxy {self.proxy_strength:.2f} · {group}{seed}"

    def make(self) -> TabularDataset:
        return make_bias_lab(**dict(self.params()))

    @classmethod
    def from_dataset_key(cls, key: str | None) -> LabSettings | None:
        """The settings behind a ``bias_lab:(...)`` dataset key, or None for any other dataset."""
        if not key or not key.startswith("bias_lab:"):
            return None
        try:
            import ast

            return cls(**dict(ast.literal_eval(key.split(":", 1)[1])))
        except (ValueError, SyntaxError, TypeError):
            return None


@dataclass(frozen=True)
class LabRun:
    """What the lessons show for one setting of the dials."""

    settings: LabSettings
    judged: Judged
    shares: pd.Series  # share of the mean |attribution| per feature, largest first
    model_name: str

    @property
    def share_group(self) -> float:
        return float(self.shares.get(GROUP, 0.0))

    @property
    def share_proxy(self) -> float:
        return float(self.shares.get(PROXY, 0.0))

    def record(self) -> dict[str, float]:
        """The numbers the run history keeps (see :data:`dlxai.lessons.history.METRICS`)."""
        rec, des = self.judged.recorded, self.judged.deserved
        return {
            "accuracy_recorded": float(rec.overall["accuracy"]),
            "accuracy_deserved": float(des.overall["accuracy"]),
            "dp": float(rec.summary["demographic_parity_difference"]),
            "dp_lo": float(rec.summary_ci["demographic_parity_difference"][0]),
            "dp_hi": float(rec.summary_ci["demographic_parity_difference"][1]),
            "eo_recorded": float(rec.summary["equalized_odds_difference"]),
            "eo_deserved": float(des.summary["equalized_odds_difference"]),
            "share_group": self.share_group,
            "share_proxy": self.share_proxy,
        }


def attribution_shares(model, dataset: TabularDataset, *, n_rows: int = N_EXPLAIN, seed: int = 0) -> pd.Series:
    """Share of the mean |integrated gradients| per raw feature over a seeded sample of test rows."""
    from dlxai.explain.attribution import attribute

    X = dataset.X("test")
    rows = X if n_rows >= len(X) else X.sample(n=n_rows, random_state=seed).sort_index()
    result = attribute(model, rows, method="integrated_gradients", baselines="mean", reference=dataset.X("train"))
    g = global_importance(result)
    total = float(g.sum())
    return (g / total if total > 0 else g).rename("share")


def analyse(model, dataset: TabularDataset, settings: LabSettings, *, threshold: float = 0.5,
            n_bootstrap: int = 200, n_explain: int = N_EXPLAIN, seed: int = 0) -> LabRun:
    """Judge ``model``'s test decisions against both labels, and find where its attributions land."""
    proba = model.predict_proba(dataset.frame("test"))
    y_pred = (np.asarray(proba) >= threshold).astype(np.int64)
    judged = judge(y_pred, dataset, GROUP, n_bootstrap=n_bootstrap, seed=seed)
    shares = attribution_shares(model, dataset, n_rows=n_explain, seed=seed) if n_explain else pd.Series(dtype=float)
    return LabRun(settings, judged, shares, getattr(model, "name", type(model).__name__))


def proxy_detector(dataset: TabularDataset) -> pd.Series:
    """How strongly each feature tracks the group on the training rows (Cramér's V / η), largest first.

    Needs no model: an auditor can run it on the data alone.
    """
    return feature_association(dataset.train, GROUP, [f for f in dataset.schema.features if f != GROUP])


def deserving_rejected(model, dataset: TabularDataset, group: str = "B", *, threshold: float = 0.5,
                       limit: int | None = None) -> pd.DataFrame:
    """Test rows of ``group`` the model rejects although they deserved approval, closest to approval first.

    Columns: the features, ``decision`` (recorded), ``deserved`` and ``proba`` (the model's score); index: the
    rows' positions in the test split.
    """
    test = dataset.frame("test")
    proba = np.asarray(model.predict_proba(test), dtype=float)
    mask = ((test[GROUP] == group).to_numpy() & (proba < threshold)
            & (test[DESERVED] == dataset.schema.positive_label).to_numpy())
    idx = np.nonzero(mask)[0]
    idx = idx[np.argsort(-proba[idx], kind="stable")][:limit]  # slicing with None keeps them all
    cols = [*dataset.schema.features, GROUP, dataset.schema.target, DESERVED]
    rows = test.iloc[idx][list(dict.fromkeys(cols))].copy()
    rows["proba"] = proba[idx]
    rows.index = pd.Index(idx, name="row")
    return rows
