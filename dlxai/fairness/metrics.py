"""Group fairness metrics computed from confusion counts, with exact bootstrap intervals.

Every metric here (selection rate, accuracy, TPR, FPR, FNR, precision per group and the disparity
summaries built from them) is a function of the 2x2 confusion counts of each group.  So one
``np.bincount`` over ``group * 4 + y_true * 2 + y_pred`` replaces a per-group loop, and a
row bootstrap is *exactly* a multinomial draw over those ``4 * n_groups`` cells with the observed
cell frequencies: 1,000 resamples of a million rows cost 1,000 multinomial draws of a few dozen
cells instead of 10^9 index draws.

Values equal Fairlearn's ``MetricFrame`` and its ``*_difference`` / ``*_ratio`` functions (the
tests cross-check to 1e-12), with one deliberate difference: a rate whose denominator is zero
(TPR of a group without positive rows) is NaN here and reported in ``warnings``, where
Fairlearn silently uses 0 and so reports a disparity that is not there.

Two kinds of interval, each where it is the right tool.  Per-group rates get a Wilson score interval
(``wilson_low``/``wilson_high``): closed form from the rate's count and its denominator, close to nominal
coverage for small counts, and never zero-width - a percentile bootstrap of 0 of 3 positives selected
is 0.000-0.000, which reads as certainty.  The disparity summaries (max minus min over groups, ratios)
have no such closed form and keep the bootstrap (``summary_ci``); ``ci_low``/``ci_high`` keep the
bootstrap of every rate too, for comparison and for existing readers.  "Small" is judged on each rate's
denominator (positives for TPR, negatives for FPR, predicted positives for precision), not only on the
group's size: a group of 66 rows with 3 positives has a TPR resting on 3 rows.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import UserInputError
from dlxai.fairness.caveats import notes as _notes
from dlxai.glossary import TERMS

GROUP_METRICS = ("count", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
RATE_METRICS = GROUP_METRICS[1:]
SUMMARY_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
)
METRIC_LABELS = {k: t.name for k, t in TERMS.items()}  # the one key -> human name mapping (dlxai.glossary)
INTERSECTION_SEP = " & "
FOUR_FIFTHS = 0.8


# --- input handling ------------------------------------------------------------------------
def _binary(a, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1:
        raise UserInputError(f"{what} must be one-dimensional; received shape {np.shape(a)}.")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise UserInputError(errors.NOT_BINARY_PREDICTIONS.format(what=what, values=sorted(map(str, set(arr[:1000])))[:5]))
    uniq = np.unique(arr)
    if not np.isin(uniq, (0, 1)).all():
        raise UserInputError(errors.NOT_BINARY_PREDICTIONS.format(what=what, values=uniq[:5].tolist()))
    return arr.astype(np.int64)


def group_codes(sensitive) -> tuple[np.ndarray, list[str], tuple[str, ...]]:
    """Integer group codes, their labels (sorted) and the attribute names.

    ``sensitive`` is a Series (one attribute) or a DataFrame of one or two columns (their
    intersection, labelled ``"Female & Black"``).  Missing values form a group ``"missing"``.
    """
    if isinstance(sensitive, pd.Series):
        frame = sensitive.to_frame(name=sensitive.name if sensitive.name is not None else "group")
    elif isinstance(sensitive, pd.DataFrame):
        frame = sensitive
    else:
        arr = np.asarray(sensitive)
        if arr.ndim == 2:
            frame = pd.DataFrame(arr, columns=[f"sf{i}" for i in range(arr.shape[1])])
        else:
            frame = pd.DataFrame({"group": arr})
    if frame.shape[1] == 0:
        raise UserInputError(errors.NO_SENSITIVE)
    if frame.shape[1] > 2:
        raise UserInputError(errors.TOO_MANY_SENSITIVE.format(n=frame.shape[1], columns=list(frame.columns)))
    attrs = tuple(str(c) for c in frame.columns)
    codes = np.zeros(len(frame), dtype=np.int64)
    labels: list[str] = [""]
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = [str(c) for c in s.cat.categories]
            c = s.cat.codes.to_numpy().astype(np.int64)
        else:
            c, uniq = pd.factorize(s.astype(object).where(s.notna(), "missing").astype(str), sort=True)
            cats = list(uniq)
        if (c < 0).any():  # NaN in a categorical
            cats = cats + ["missing"]
            c = np.where(c < 0, len(cats) - 1, c)
        codes = codes * len(cats) + c
        labels = [f"{a}{INTERSECTION_SEP}{b}" if a else b for a in labels for b in cats]
    used, codes = np.unique(codes, return_inverse=True)
    return codes.astype(np.int64), [labels[i] for i in used], attrs


def confusion_counts(y_true, y_pred, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """(n_groups, 2, 2) counts indexed [group, y_true, y_pred]."""
    cell = codes * 4 + y_true * 2 + y_pred
    return np.bincount(cell, minlength=n_groups * 4).reshape(n_groups, 2, 2)


def _div(num, den):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def fractions_from_counts(c: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Numerator and denominator (integer counts) of every rate, from counts of shape (..., groups, 2, 2)."""
    tn, fp, fn, tp = c[..., 0, 0], c[..., 0, 1], c[..., 1, 0], c[..., 1, 1]
    n = tn + fp + fn + tp
    return {
        "selection_rate": (tp + fp, n),
        "accuracy": (tp + tn, n),
        "tpr": (tp, tp + fn),
        "fpr": (fp, fp + tn),
        "fnr": (fn, fn + tp),
        "precision": (tp, tp + fp),
    }


def rates_from_counts(c: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group metrics from counts of shape (..., groups, 2, 2)."""
    fr = fractions_from_counts(c)
    return {"count": fr["selection_rate"][1].astype(np.float64), **{k: _div(*f) for k, f in fr.items()}}


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (NaN where ``trials`` is 0).

    Exact at the edges: 0 successes give a lower bound of 0 and ``trials`` successes an upper bound of 1,
    and the width is never 0 for ``trials`` > 0.
    """
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (x + z * z / 2) / (n + z * z)
        half = z / (n + z * z) * np.sqrt(x * (n - x) / n + z * z / 4)
        lo = np.where(x <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        hi = np.where(x >= n, 1.0, np.clip(centre + half, 0.0, 1.0))
    empty = n <= 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def _nanmax(a, axis=-1):
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(a, axis=axis)


def _nanmin(a, axis=-1):
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmin(a, axis=axis)


def summary_from_rates(r: dict[str, np.ndarray], present: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Fairlearn's between-groups differences and ratios (worst case for equalized odds)."""
    def only(x):
        return x if present is None else np.where(present, x, np.nan)

    sel, tpr, fpr = only(r["selection_rate"]), only(r["tpr"]), only(r["fpr"])
    dp_diff = _nanmax(sel) - _nanmin(sel)
    dp_ratio = _div(_nanmin(sel), _nanmax(sel))
    tpr_diff = _nanmax(tpr) - _nanmin(tpr)
    fpr_diff = _nanmax(fpr) - _nanmin(fpr)
    tpr_ratio = _div(_nanmin(tpr), _nanmax(tpr))
    fpr_ratio = _div(_nanmin(fpr), _nanmax(fpr))
    return {
        "demographic_parity_difference": dp_diff,
        "demographic_parity_ratio": dp_ratio,
        "equalized_odds_difference": np.fmax(tpr_diff, fpr_diff),
        "equalized_odds_ratio": np.fmin(tpr_ratio, fpr_ratio),
        "equal_opportunity_difference": tpr_diff,
    }


# --- result --------------------------------------------------------------------------------
class ThinRate(NamedTuple):
    """A group's rate that rests on fewer rows than the audit's ``min_denominator`` (but on at least one)."""

    group: str
    metric: str
    value: float
    denominator: int  # the rows the rate is taken over: positives for TPR, negatives for FPR, ...
    low: float  # its Wilson interval
    high: float


@dataclass(frozen=True)
class FairnessAudit:
    """How a classifier's decisions differ between groups, with intervals.

    ``by_group`` has one row per group (index: group label) and the columns of
    :data:`GROUP_METRICS`, plus ``impact_ratio`` (selection rate over the reference group's) and
    ``selection_rate_gap`` (minus the reference group's).  ``ci_low``/``ci_high`` hold the bootstrap
    bounds for every rate column and ``wilson_low``/``wilson_high`` its Wilson bounds (the ones to read
    per group: see the module docstring); ``denominators`` the rows each rate is taken over.
    ``summary`` and ``summary_ci`` hold the disparity metrics and their bootstrap intervals.
    ``thin_rates`` lists the rates resting on fewer than ``params["min_denominator"]`` rows.
    """

    attributes: tuple[str, ...]
    by_group: pd.DataFrame
    overall: pd.Series
    summary: dict[str, float]
    ci_low: pd.DataFrame
    ci_high: pd.DataFrame
    summary_ci: dict[str, tuple[float, float]]
    reference_group: str
    four_fifths_violated: bool
    small_groups: tuple[str, ...]
    warnings: tuple[str, ...]
    denominators: pd.DataFrame
    wilson_low: pd.DataFrame
    wilson_high: pd.DataFrame
    thin_rates: tuple[ThinRate, ...]
    params: dict = field(default_factory=dict)

    @property
    def attribute_label(self) -> str:
        return INTERSECTION_SEP.join(self.attributes)

    def intervals(self, kind: str = "wilson") -> tuple[pd.DataFrame, pd.DataFrame]:
        """Lower and upper bounds of every per-group rate: ``"wilson"`` or ``"bootstrap"``."""
        if kind not in ("wilson", "bootstrap"):
            raise UserInputError(f"Interval kind must be 'wilson' or 'bootstrap'; received {kind!r}.")
        return (self.wilson_low, self.wilson_high) if kind == "wilson" else (self.ci_low, self.ci_high)

    @property
    def four_fifths_failures(self) -> pd.Series:
        """The impact ratio of every group selected at under four-fifths of the reference rate, lowest first."""
        r = self.by_group["impact_ratio"]
        return r[r < FOUR_FIFTHS].sort_values(kind="stable")

    @property
    def four_fifths_verdict(self) -> str:
        """The four-fifths rule in one sentence, naming every failing group with its impact ratio."""
        ref, fail = self.reference_group, self.four_fifths_failures
        if len(fail):
            groups = ", ".join(f"{g} ({_ratio_text(v)})" for g, v in fail.items())
            many = len(fail) > 1
            return (f"Four-fifths rule violated: {len(fail)} group{'s are' if many else ' is'} selected at under "
                    f"{FOUR_FIFTHS:.0%} of the rate of {ref}, the reference group. Impact "
                    f"ratio{'s' if many else ''}: {groups}.")
        if not self.by_group.at[ref, "selection_rate"] > 0:
            return f"Four-fifths rule undefined: the reference group {ref} is never selected, so there is no ratio."
        return (f"Four-fifths rule met: every group is selected at least {FOUR_FIFTHS:.0%} as often as {ref}, "
                "the reference group.")

    def difference(self, metric: str = "selection_rate") -> float:
        """Largest minus smallest group value of a per-group metric (Fairlearn's between_groups)."""
        return float(_nanmax(self.by_group[metric].to_numpy()) - _nanmin(self.by_group[metric].to_numpy()))

    def ratio(self, metric: str = "selection_rate") -> float:
        v = self.by_group[metric].to_numpy()
        return float(_div(_nanmin(v), _nanmax(v)))

    def to_dict(self) -> dict:
        """Plain JSON-able layout (used by the CLI and the report)."""
        def clean(v):
            v = float(v)
            return None if np.isnan(v) else v

        return {
            **{k: clean(v) for k, v in self.summary.items()},
            "ci": {k: [clean(a), clean(b)] for k, (a, b) in self.summary_ci.items()},
            "reference_group": self.reference_group,
            "four_fifths_violated": bool(self.four_fifths_violated),
            "small_groups": list(self.small_groups),
            "warnings": list(self.warnings),
            "by_group": {
                g: {k: (int(row[k]) if k == "count" else clean(row[k])) for k in self.by_group.columns}
                for g, row in self.by_group.iterrows()
            },
            "four_fifths_verdict": self.four_fifths_verdict,
            "wilson_ci": {
                g: {k: [clean(self.wilson_low.at[g, k]), clean(self.wilson_high.at[g, k])] for k in RATE_METRICS}
                for g in self.by_group.index
            },
            "thin_rates": [{**t._asdict(), "denominator": int(t.denominator)} for t in self.thin_rates],
        }


def _ratio_text(v: float) -> str:
    """An impact ratio in two decimals, or three where two would round a failing 0.797 up to 0.80."""
    text = f"{v:.2f}"
    return f"{v:.3f}" if v < FOUR_FIFTHS <= float(text) else text


def audit_fairness(
    y_true,
    y_pred,
    sensitive,
    *,
    reference_group: str | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    min_denominator: int | None = None,
) -> FairnessAudit:
    """Per-group metrics, disparity summaries and bootstrap intervals for binary decisions.

    ``y_true`` and ``y_pred`` are 0/1 (1 = the favourable outcome).  ``sensitive`` is a Series or a
    DataFrame of one or two columns (two are intersected).  ``reference_group`` defaults to the
    group with the highest selection rate, as the four-fifths rule compares against it.
    ``min_group_size`` flags groups with few rows; ``min_denominator`` (default: ``min_group_size``)
    flags rates taken over few rows - a TPR over 3 positive rows - and the disparities they set.
    """
    yt = _binary(y_true, "y_true")
    yp = _binary(y_pred, "y_pred")
    codes, labels, attrs = group_codes(sensitive)
    lengths = [len(yt), len(yp), len(codes)]
    if len(set(lengths)) != 1:
        raise UserInputError(errors.LENGTH_MISMATCH.format(lengths=lengths))
    if lengths[0] == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="y_true"))
    counts = confusion_counts(yt, yp, codes, len(labels))
    return audit_from_counts(counts, labels, attrs, reference_group=reference_group, n_bootstrap=n_bootstrap,
                             confidence=confidence, seed=seed, min_group_size=min_group_size,
                             min_denominator=min_denominator)


def audit_from_counts(
    counts,
    labels,
    attributes,
    *,
    reference_group: str | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    min_denominator: int | None = None,
) -> FairnessAudit:
    """The audit from per-group confusion counts alone (shape ``(groups, 2, 2)``, ``[group, y_true, y_pred]``).

    Everything, the bootstrap included, is a function of these counts, so counts summed over the
    partitions of a table (see :mod:`dlxai.report.distributed`) give exactly the single-table audit.
    ``labels`` name the groups in ``counts`` order, sorted as :func:`group_codes` sorts them.  The keywords
    are :func:`audit_fairness`'s.
    """
    counts = np.asarray(counts, dtype=np.int64)
    labels, attrs = [str(g) for g in labels], tuple(str(a) for a in attributes)
    if counts.ndim != 3 or counts.shape[1:] != (2, 2) or counts.shape[0] != len(labels):
        raise UserInputError(f"counts must have shape (groups, 2, 2) with one label per group; received shape "
                             f"{counts.shape} and {len(labels)} labels.")
    if counts.sum() == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="y_true"))
    if len(labels) < 2:
        raise UserInputError(errors.SINGLE_GROUP.format(column=INTERSECTION_SEP.join(attrs), group=labels[0]))
    if not 0.5 <= confidence < 1.0:
        raise UserInputError(f"confidence must lie in [0.5, 1); received {confidence!r}. Use e.g. 0.95.")
    if int(n_bootstrap) < 0:
        raise UserInputError(f"n_bootstrap must be 0 (no intervals) or more; received {n_bootstrap!r}.")
    if int(min_group_size) < 1:
        raise UserInputError(f"min_group_size must be at least 1; received {min_group_size!r}.")
    min_den = int(min_group_size if min_denominator is None else min_denominator)
    if min_den < 1:
        raise UserInputError(f"min_denominator must be at least 1; received {min_denominator!r}.")

    G = len(labels)
    rates = rates_from_counts(counts)
    summary = {k: float(v) for k, v in summary_from_rates(rates).items()}
    by_group = pd.DataFrame({k: rates[k] for k in GROUP_METRICS}, index=pd.Index(labels, name=INTERSECTION_SEP.join(attrs)))
    by_group["count"] = by_group["count"].astype(np.int64)

    if reference_group is None:
        reference_group = str(by_group["selection_rate"].idxmax())
    elif reference_group not in by_group.index:
        raise UserInputError(errors.UNKNOWN_GROUP.format(group=reference_group, groups=labels))
    ref_rate = by_group.at[reference_group, "selection_rate"]
    by_group["impact_ratio"] = _div(by_group["selection_rate"].to_numpy(), np.full(G, ref_rate))
    by_group["selection_rate_gap"] = by_group["selection_rate"] - ref_rate
    four_fifths = bool((by_group["impact_ratio"] < FOUR_FIFTHS).any())

    overall_counts = counts.sum(axis=0)
    overall = pd.Series({k: float(v) for k, v in rates_from_counts(overall_counts).items()})
    overall["count"] = int(overall["count"])
    B = int(n_bootstrap)
    ci_low, ci_high, summary_ci = _bootstrap(counts, by_group.index, B, confidence, seed, summary)
    dens, w_low, w_high = _wilson(counts, by_group.index, confidence)
    thin = tuple(ThinRate(str(g), k, float(by_group.at[g, k]), int(dens.at[g, k]), float(w_low.at[g, k]),
                          float(w_high.at[g, k]))
                 for k in RATE_METRICS for g in by_group.index if 0 < dens.at[g, k] < min_den)
    return FairnessAudit(
        attributes=attrs,
        by_group=by_group,
        overall=overall,
        summary=summary,
        ci_low=ci_low,
        ci_high=ci_high,
        summary_ci=summary_ci,
        reference_group=str(reference_group),
        four_fifths_violated=four_fifths,
        small_groups=tuple(g for g, c in by_group["count"].items() if c < min_group_size),
        warnings=_notes(by_group, dens, summary, thin, min_group_size, min_den, confidence),
        denominators=dens,
        wilson_low=w_low,
        wilson_high=w_high,
        thin_rates=thin,
        params={"n_bootstrap": B, "confidence": confidence, "seed": seed, "min_group_size": min_group_size,
                "min_denominator": min_den},
    )


def _wilson(counts: np.ndarray, index: pd.Index, confidence: float):
    """Denominators (integers) and Wilson bounds of every per-group rate."""
    fr = fractions_from_counts(counts)
    bounds = {k: wilson_interval(num, den, confidence) for k, (num, den) in fr.items()}
    dens = pd.DataFrame({k: den.astype(np.int64) for k, (_, den) in fr.items()}, index=index)
    low = pd.DataFrame({k: b[0] for k, b in bounds.items()}, index=index)
    high = pd.DataFrame({k: b[1] for k, b in bounds.items()}, index=index)
    return dens, low, high


def _bootstrap(counts: np.ndarray, index: pd.Index, B: int, confidence: float, seed: int, summary: dict):
    """Exact row bootstrap: a multinomial over the confusion cells."""
    n = int(counts.sum())
    G = counts.shape[0]
    alpha = (1 - confidence) / 2
    if B <= 0:
        ci_low = pd.DataFrame(np.nan, index=index, columns=list(RATE_METRICS))
        return ci_low, ci_low.copy(), {k: (np.nan, np.nan) for k in summary}
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts.reshape(-1) / n, size=B).reshape(B, G, 2, 2)
    brates = rates_from_counts(draws)
    present = brates["count"] > 0
    bsum = summary_from_rates(brates, present)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        lo = {k: np.nanquantile(brates[k], alpha, axis=0) for k in RATE_METRICS}
        hi = {k: np.nanquantile(brates[k], 1 - alpha, axis=0) for k in RATE_METRICS}
        summary_ci = {
            k: (float(np.nanquantile(v, alpha)), float(np.nanquantile(v, 1 - alpha))) for k, v in bsum.items()
        }
    return pd.DataFrame(lo, index=index), pd.DataFrame(hi, index=index), summary_ci
