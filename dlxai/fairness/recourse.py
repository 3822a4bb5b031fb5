"""Recourse burden per group (Sharma et al., CERTIFAI, 2020).

For the rows the model rejects, the cost of their cheapest counterfactual (MAD-normalised L1
over numeric features + number of changed categoricals, see
:mod:`dlxai.explain.counterfactuals`) is what each person would have to change; its mean per
group is the group's *burden*.  A fair model asks as much of every group.  Intervals come from a
row bootstrap within each group; the comparison is the largest minus the smallest burden, with
its own bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import UserInputError
from dlxai.validation import as_levels

if TYPE_CHECKING:
    from dlxai.explain.counterfactuals import SearchOptions

NO_REJECTED = (
    "The model rejects no row of the {split} split, so there is no recourse to measure. Pick another model or "
    "a higher decision threshold."
)
ONE_GROUP_BURDEN = (
    "Recourse burden compares groups, but rejected rows with a counterfactual were found in {groups} of {column!r}. "
    "Pick an attribute with at least two such groups, or search more rejected rows."
)


@dataclass(frozen=True)
class RecourseBurden:
    """Mean counterfactual cost of the rejected rows of each group.

    ``by_group`` (index: group) has ``rejected`` (rows the model rejects, in the rows used),
    ``with_recourse`` (of those, rows with a counterfactual), ``no_recourse_rate``, ``burden``
    (mean cost), ``ci_low``/``ci_high`` and ``ratio`` (burden over the smallest group's).  ``gap``
    is the largest minus the smallest burden and ``gap_ci`` its interval.  ``costs`` holds each
    rejected row's cost (NaN: no counterfactual) and group.
    """

    attribute: str
    by_group: pd.DataFrame
    gap: float
    gap_ci: tuple[float, float]
    highest: str
    lowest: str
    costs: pd.DataFrame
    params: dict = field(default_factory=dict)


def burden_from_costs(costs, groups, *, n_bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0,
                      attribute: str = "group", params: dict | None = None) -> RecourseBurden:
    """Burden per group from each rejected row's counterfactual cost (NaN: none found)."""
    c = np.asarray(costs, dtype=np.float64)
    g = as_levels(pd.Series(groups)).to_numpy()
    if len(c) != len(g):
        raise UserInputError(errors.LENGTH_MISMATCH.format(lengths=[len(c), len(g)]))
    if len(c) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="costs"))
    if not 0.5 <= confidence < 1.0:
        raise UserInputError(f"confidence must lie in [0.5, 1); received {confidence!r}. Use e.g. 0.95.")
    if int(n_bootstrap) < 0:
        raise UserInputError(f"n_bootstrap must be 0 (no intervals) or more; received {n_bootstrap!r}.")
    labels = sorted(set(g))
    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    rows, boots = [], []
    for lab in labels:
        cg = c[g == lab]
        ok = cg[np.isfinite(cg)]
        burden = float(ok.mean()) if len(ok) else np.nan
        if int(n_bootstrap) and len(ok):
            bs = ok[rng.integers(0, len(ok), size=(int(n_bootstrap), len(ok)))].mean(axis=1)
            lo, hi = np.quantile(bs, [alpha, 1 - alpha])
        else:
            bs, lo, hi = np.full(int(n_bootstrap), np.nan), np.nan, np.nan
        boots.append(bs)
        rows.append({"rejected": len(cg), "with_recourse": len(ok), "no_recourse_rate": 1 - len(ok) / len(cg),
                     "burden": burden, "ci_low": float(lo), "ci_high": float(hi)})
    by_group = pd.DataFrame(rows, index=pd.Index(labels, name=attribute))
    have = by_group["burden"].notna()
    if have.sum() < 2:
        raise UserInputError(ONE_GROUP_BURDEN.format(groups=f"only the group {by_group.index[have][0]!r}" if have.any() else "no group", column=attribute))
    lowest, highest = str(by_group["burden"].idxmin()), str(by_group["burden"].idxmax())
    by_group["ratio"] = by_group["burden"] / by_group.at[lowest, "burden"]
    gap = float(by_group.at[highest, "burden"] - by_group.at[lowest, "burden"])
    if int(n_bootstrap):
        B = np.stack([b for b, h in zip(boots, have, strict=True) if h])
        gaps = B.max(axis=0) - B.min(axis=0)
        gap_ci = (float(np.quantile(gaps, alpha)), float(np.quantile(gaps, 1 - alpha)))
    else:
        gap_ci = (np.nan, np.nan)
    return RecourseBurden(
        attribute=attribute, by_group=by_group, gap=gap, gap_ci=gap_ci, highest=highest, lowest=lowest,
        costs=pd.DataFrame({"group": g, "cost": c}),
        params={"n_bootstrap": int(n_bootstrap), "confidence": confidence, "seed": seed, **(params or {})},
    )


def recourse_costs(model, dataset, *, split: str = "test", max_rows: int = 300, k: int = 1, constraints=None,
                   options: SearchOptions | None = None, seed: int = 0,
                   progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """Cost of the cheapest valid counterfactual of each rejected row (a seeded sample of at most ``max_rows``).

    Index: the rows' positions in the split; columns ``cost`` (NaN: none found), ``n_changed`` and ``plausible``
    (its strongly associated pairs of values occur in the training rows; see
    :mod:`dlxai.explain.counterfactuals.world`).
    One search serves every attribute: pass the result to :func:`burden_from_costs`.  ``options`` tune the
    search (:class:`~dlxai.explain.counterfactuals.SearchOptions`); the rows are rejected ones, so the search
    always asks for the favourable class and keeps rows without a counterfactual.
    """
    from dlxai.explain.counterfactuals import BAD_OPTIONS, SearchOptions, find_counterfactuals
    from dlxai.explain.groups import scored_rows

    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 2:
        raise UserInputError(f"max_rows must be a whole number of at least 2; received {max_rows!r}.")
    X = scored_rows(model, dataset, split)  # with the group columns a post-processed model reads from each row
    rejected = rejected_sample(model, X, max_rows, seed, split)
    if options is not None and not isinstance(options, SearchOptions):
        raise UserInputError(BAD_OPTIONS.format(kind=type(options).__name__))
    options = replace(SearchOptions() if options is None else options, desired_class=1, on_failure="keep")
    res = find_counterfactuals(model, dataset, X.iloc[rejected], k=k, constraints=constraints, options=options,
                               seed=seed, progress=progress)
    return costs_from_result(res, rejected)


def rejected_sample(model, X: pd.DataFrame, max_rows: int, seed: int, split: str = "test") -> np.ndarray:
    """Positions of the rows of ``X`` the model rejects: all of them, or a seeded sample of ``max_rows``.

    Rejected means P(favourable) < 0.5, where the counterfactual search decides: a randomized model's (a
    ThresholdOptimizer's) seeded draws would also reject rows it favours, which have no decision to flip."""
    rejected = np.nonzero(np.asarray(model.predict_proba(X)) < 0.5)[0]
    if len(rejected) == 0:
        raise UserInputError(NO_REJECTED.format(split=split))
    rng = np.random.default_rng(seed)
    if len(rejected) > max_rows:
        rejected = np.sort(rng.choice(rejected, int(max_rows), replace=False))
    return rejected


def costs_from_result(res, rejected: np.ndarray) -> pd.DataFrame:
    """Each searched row's cheapest valid counterfactual (cost, features changed, plausible) from a search of the
    rows at positions ``rejected``, as :func:`recourse_costs` returns it."""
    cheapest = np.argmin(np.where(res.valid, res.cost, np.inf), axis=1)
    rows = np.arange(len(rejected))
    found = res.valid.any(axis=1)
    plausible = res.counterfactuals["plausible"].to_numpy().reshape(res.valid.shape)
    return pd.DataFrame({"cost": np.where(found, res.cost[rows, cheapest], np.nan),
                         "n_changed": np.where(found, res.n_changed[rows, cheapest], np.nan),
                         "plausible": found & plausible[rows, cheapest]},
                        index=pd.Index(rejected, name="row")).assign(method=res.method)


def recourse_burden(
    model,
    dataset,
    attribute: str,
    *,
    split: str = "test",
    max_rows: int = 300,
    k: int = 1,
    constraints=None,
    options: SearchOptions | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    costs: pd.DataFrame | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> RecourseBurden:
    """Recourse burden by ``attribute`` over (a seeded sample of at most ``max_rows``) rejected rows.

    Each rejected row's cost is that of its cheapest valid counterfactual (``k`` are searched);
    rows without one count in ``no_recourse_rate``.  ``costs`` from :func:`recourse_costs`
    skips the search; ``options`` tune it (see :func:`recourse_costs`).
    """
    groups = dataset.sensitive(split, [attribute])[attribute]
    if costs is None:
        costs = recourse_costs(model, dataset, split=split, max_rows=max_rows, k=k, constraints=constraints,
                               options=options, seed=seed, progress=progress)
    return burden_from_costs(costs["cost"].to_numpy(), groups.iloc[costs.index.to_numpy()].to_numpy(),
                             n_bootstrap=n_bootstrap, confidence=confidence, seed=seed, attribute=attribute,
                             params={"split": split, "rows_used": len(costs), "k": k})
