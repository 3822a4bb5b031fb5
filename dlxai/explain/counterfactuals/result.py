"""What a counterfactual search returns: the counterfactuals of every query row with their quality."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CounterfactualResult:
    """``k`` counterfactuals for each of ``n`` query rows, with their quality.

    ``counterfactuals`` has ``n * k`` raw rows (index: (query, cf)) plus columns ``valid``,
    ``proba`` (P(favourable)), ``cost``, ``n_changed`` (a column that only restates another, education-num
    beside education, is neither costed nor counted) and ``plausible`` (valid, and every strongly associated
    pair of its values occurs in the training rows; see :mod:`~dlxai.explain.counterfactuals.world`).
    ``metrics`` has one row per query: ``validity`` (share of its k that flip the model), and over the valid
    ones ``proximity`` (mean cost), ``sparsity`` (mean number of features changed), ``diversity`` (mean pairwise
    cost between them), ``plausibility`` (mean cost to the nearest training row of the desired class) and
    ``plausible_pairs`` (share that are ``plausible``).  ``params["world"]`` names the pairs kept consistent.
    """

    queries: pd.DataFrame
    counterfactuals: pd.DataFrame
    valid: np.ndarray
    proba: np.ndarray
    cost: np.ndarray
    n_changed: np.ndarray
    desired_class: np.ndarray
    query_proba: np.ndarray
    metrics: pd.DataFrame
    method: str
    seconds: float
    params: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.valid.shape[1])

    @property
    def plausible_share(self) -> float:
        """Share of the valid counterfactuals whose strongly associated pairs of values occur in training rows."""
        cf = self.counterfactuals
        if "plausible" not in cf or not cf["valid"].any():
            return float("nan")
        return float(cf.loc[cf["valid"], "plausible"].mean())

    def for_query(self, i: int, only_valid: bool = True) -> pd.DataFrame:
        """The counterfactuals of query ``i`` (position), cheapest first."""
        cf = self.counterfactuals.xs(i, level="query")
        if only_valid:
            cf = cf[cf["valid"]]
        return cf.sort_values("cost")

    def summary(self) -> dict:
        m = self.metrics
        return {
            "queries": int(len(m)),
            "k": self.k,
            "validity": float(self.valid.mean()) if self.valid.size else float("nan"),
            "queries_with_cf": float(self.valid.any(axis=1).mean()) if self.valid.size else float("nan"),
            "proximity": float(np.nanmean(m["proximity"])) if m["proximity"].notna().any() else float("nan"),
            "sparsity": float(np.nanmean(m["sparsity"])) if m["sparsity"].notna().any() else float("nan"),
            "diversity": float(np.nanmean(m["diversity"])) if m["diversity"].notna().any() else float("nan"),
            "plausibility": float(np.nanmean(m["plausibility"])) if m["plausibility"].notna().any() else float("nan"),
            "plausible_pairs": self.plausible_share,
            "seconds": self.seconds,
            "method": self.method,
        }
