"""Views of attributions: one row (local), the data or one group (global), and groups compared.

Tabular attributions are summed back to raw features with the preprocessor's ``feature_groups_``
(the one-hot columns of a categorical feature add up), so every view speaks in the user's columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlxai.errors import UserInputError
from dlxai.explain.attribution import AttributionResult

BAD_ROW = "Row {row!r} is not among the {n} explained rows. Pick a position between 0 and {last}."
GROUPS_LENGTH = (
    "The group labels have {got} rows but {n} rows were explained. Pass the sensitive column for exactly the "
    "explained rows (e.g. dataset.test.loc[result.row_index, 'sex'])."
)
# association above which a feature counts as a likely proxy of the sensitive attribute
PROXY_THRESHOLD = 0.3


def _check(result) -> None:
    if not isinstance(result, AttributionResult):
        raise UserInputError(f"Views need an AttributionResult from attribute(); received {type(result).__name__}.")


def per_feature(result: AttributionResult) -> pd.DataFrame:
    """Attributions per raw feature (rows × features); image/tensor results keep one column per value."""
    _check(result)
    return result.by_feature()


def local_view(result: AttributionResult, row: int = 0, raw: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row's attribution per raw feature, largest |attribution| first, with the raw value when given."""
    _check(result)
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < result.n:
        raise UserInputError(BAD_ROW.format(row=row, n=result.n, last=result.n - 1))
    by = result.by_feature()
    s = by.iloc[int(row)]
    out = pd.DataFrame({"feature": s.index.astype(str), "attribution": s.to_numpy(dtype=float)})
    if raw is not None and result.row_index is not None:
        values = raw.loc[result.row_index[int(row)]]
        out["value"] = [str(values.get(f, "")) for f in s.index]
    out = out.reindex(out["attribution"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    return out


def global_importance(result: AttributionResult, mask=None) -> pd.Series:
    """Mean |attribution| per raw feature over all rows (or the rows where ``mask`` is true), largest first."""
    _check(result)
    by = result.by_feature().abs()
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (result.n,):
            raise UserInputError(GROUPS_LENGTH.format(got=mask.shape[0] if mask.ndim else 0, n=result.n))
        if not mask.any():
            raise UserInputError("The mask selects no rows; pick a group that occurs among the explained rows.")
        by = by[mask]
    return by.mean().sort_values(ascending=False).rename("mean |attribution|")


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V of two categorical columns, in [0, 1] (also used by the counterfactual search's world model)."""
    from scipy.stats import chi2_contingency

    table = pd.crosstab(a.astype(str), b.astype(str))
    if min(table.shape) < 2:
        return 0.0
    chi2 = chi2_contingency(table, correction=False)[0]
    n = table.to_numpy().sum()
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


def correlation_ratio(categories: pd.Series, values: pd.Series) -> float:
    """The correlation ratio η of a numeric column given a categorical one, in [0, 1]."""
    v = pd.to_numeric(values, errors="coerce")
    ok = v.notna()
    v, c = v[ok].astype(float), categories[ok].astype(str)
    total = ((v - v.mean()) ** 2).sum()
    if total == 0:
        return 0.0
    between = sum(len(g) * (g.mean() - v.mean()) ** 2 for _, g in v.groupby(c))
    return float(np.sqrt(between / total))


def feature_association(data: pd.DataFrame, sensitive: str, features=None) -> pd.Series:
    """How strongly each feature tracks the sensitive column: Cramér's V (categorical) or the correlation
    ratio η (numeric), both in [0, 1]; largest first."""
    if sensitive not in data.columns:
        raise UserInputError(f"Sensitive column {sensitive!r} is not in the data. Available: {list(data.columns)}.")
    feats = [c for c in (features if features is not None else data.columns) if c != sensitive]
    s = data[sensitive]
    out = {}
    for f in feats:
        col = data[f]
        if pd.api.types.is_numeric_dtype(col) and col.nunique() > 10:
            out[f] = correlation_ratio(s, col)
        else:
            out[f] = cramers_v(s, col)
    return pd.Series(out, dtype=float).sort_values(ascending=False).rename("association")


def likely_proxies(data: pd.DataFrame, sensitive: str, features=None, *, threshold: float = PROXY_THRESHOLD,
                   top: int = 3) -> list[str]:
    """Up to ``top`` features whose association with ``sensitive`` is at least ``threshold``."""
    assoc = feature_association(data, sensitive, features)
    return list(assoc[assoc >= threshold].index[:top])


@dataclass(frozen=True)
class GroupComparison:
    """Do explanations differ between groups, and how much weight lands on the sensitive attribute?

    ``importance``: mean |attribution| per feature (rows) and group (columns); ``share``: the same as
    a share of each group's total; ``sensitive_share`` / ``proxy_share``: per group, the share on the
    sensitive feature itself (0 when the model does not see it) and on its likely proxies;
    ``rank_correlation``: the smallest Spearman correlation between two groups' importance rankings.
    """

    sensitive: str
    importance: pd.DataFrame
    share: pd.DataFrame
    sensitive_share: pd.Series
    proxy_share: pd.Series
    proxies: tuple[str, ...]
    association: pd.Series
    group_sizes: pd.Series
    rank_correlation: float

    @property
    def max_share_gap(self) -> pd.Series:
        """Per feature, the largest difference in share between two groups, largest first."""
        return (self.share.max(axis=1) - self.share.min(axis=1)).sort_values(ascending=False)


def group_comparison(result: AttributionResult, groups, sensitive: str, *, data: pd.DataFrame | None = None,
                     proxies=None, min_group_size: int = 5) -> GroupComparison:
    """Compare explanations between the groups of ``groups`` (labels of the explained rows).

    ``data`` (e.g. the training rows with the sensitive column) is used to find likely proxies
    unless ``proxies`` are given.
    """
    _check(result)
    labels = pd.Series(np.asarray(groups, dtype=object)).astype(str)
    if len(labels) != result.n:
        raise UserInputError(GROUPS_LENGTH.format(got=len(labels), n=result.n))
    sizes = labels.value_counts()
    keep = sizes[sizes >= min_group_size].index
    if len(keep) < 2:
        raise UserInputError(
            f"Comparing groups needs at least two groups with {min_group_size}+ explained rows; {sensitive!r} has "
            f"{dict(sizes)} among them. Explain more rows or pick another attribute."
        )
    by = result.by_feature().abs().reset_index(drop=True)
    importance = pd.DataFrame({g: by[labels.to_numpy() == g].mean() for g in sorted(keep)})
    share = importance / importance.sum(axis=0).replace(0, np.nan)
    feats = list(importance.index)
    if proxies is None:
        if data is not None:
            assoc = feature_association(data, sensitive, [f for f in feats if f in data.columns])
            proxies = [p for p in assoc[assoc >= PROXY_THRESHOLD].index[:3]]
        else:
            assoc, proxies = pd.Series(dtype=float, name="association"), []
    else:
        proxies = [p for p in proxies if p in feats]
        assoc = (feature_association(data, sensitive, [f for f in feats if f in data.columns]) if data is not None
                 else pd.Series(dtype=float, name="association"))
    proxies = [p for p in proxies if p != sensitive]
    sens_share = share.loc[sensitive] if sensitive in share.index else pd.Series(0.0, index=share.columns)
    prox_share = share.loc[proxies].sum(axis=0) if proxies else pd.Series(0.0, index=share.columns)
    ranks = importance.rank(axis=0)
    corr = ranks.corr(method="pearson").to_numpy()
    rank_corr = float(np.nanmin(corr)) if corr.size else float("nan")
    return GroupComparison(sensitive, importance, share, sens_share.rename("share on sensitive"),
                           prox_share.rename("share on proxies"), tuple(proxies), assoc, sizes[keep], rank_corr)


def compare_importance(results: dict) -> pd.DataFrame:
    """Share of the total mean |attribution| per raw feature, one column per named result.

    Used to compare a model before and after mitigation: did the weight on the sensitive attribute and
    its proxies go down?  Rows are features (ordered by the first result), columns the result names.
    """
    if len(results) < 2:
        raise UserInputError(f"Comparing needs at least two explanations; received {len(results)}.")
    shares = {}
    for name, r in results.items():
        g = global_importance(r)
        total = float(g.sum())
        shares[name] = g / total if total > 0 else g
    table = pd.DataFrame(shares).fillna(0.0)
    return table.sort_values(by=next(iter(results)), ascending=False)


PROBABILITY_SCALE = "on the probability scale (0 to 1), as the model outputs it"
TREE_LOG_ODDS_SCALE = (
    "on the log-odds scale: the sum of the boosted trees before the sigmoid (the model's decision function; a "
    "probability p is log(p / (1 − p)) there)"
)
LOGIT_SCALE = (
    "on the logit scale: the network's output for that class before softmax (sums of attributions are in log-odds "
    "units)"
)


def _explained_class(targets: np.ndarray) -> str:
    levels = sorted({int(t) for t in np.asarray(targets).ravel()})
    if len(levels) > 1:
        return "each row's predicted class (1 = favourable, 0 = unfavourable)"
    return "the favourable class (1)" if levels[0] == 1 else "the unfavourable class (0)"


def held_groups_note(result) -> list[str]:
    """What holding each row's groups means for ``result``, as clauses ([] for a model that reads no group
    columns): a post-processed model's thresholds read the groups of each row it scores."""
    if getattr(result, "groups", None) is None:
        return []
    cols = list(result.groups.columns)
    note = [f"each row is scored with its own group ({', '.join(cols)}): the model's thresholds differ by group, "
            f"so every row built to explain a row (coalitions, background rows) keeps that row's group, and the "
            f"base value is that group's"]
    inputs = [c for c in cols if c in (result.feature_groups or {})]
    if inputs:
        note.append(f"{', '.join(inputs)} is also an input feature of the original model: its attribution is its "
                    f"effect as that input, while the thresholds still use each row's actual group")
    return note


def explained_output(model, result) -> str:
    """Which output ``result`` explains and on which scale, in words: the score of the class it targeted, from the
    network (gradient methods; an uploaded network's two-logit head explains the decision margin, see
    ``model.explains``) or the model's probabilities (model-agnostic methods on a model without a network)."""
    from dlxai.explain.registry import METHODS, model_info

    _check(result)
    cls = _explained_class(result.target)
    if (result.info or {}).get("output") == "log-odds":  # tree SHAP of gradient boosting: its decision function
        return f"the log-odds of {cls}, {TREE_LOG_ODDS_SCALE}"
    if not model_info(model).gradients:
        return f"the probability of {cls}, {PROBABILITY_SCALE}" + "".join(f"; {c}" for c in held_groups_note(result))
    explains = getattr(model, "explains", "")
    if explains:
        return f"the score of {cls} from the network's two-logit head, {explains}; on the log-odds scale"
    how = "" if METHODS[result.method].needs_gradients else " (through the network)"
    return f"the score of {cls}{how}, {LOGIT_SCALE}"
