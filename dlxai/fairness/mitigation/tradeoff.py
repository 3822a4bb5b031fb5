"""Before vs after on the same test rows: every fairness metric with intervals, and which ones got worse.

A mitigation is judged on more than the metric it was asked to reduce: ThresholdOptimizer under demographic
parity can multiply the equalized odds difference, and a penalty on one gap can widen another.
:func:`compare` scores both models' decisions on the same rows and reports, for accuracy, balanced accuracy,
the demographic parity / equalized odds differences and ratios and the equal opportunity difference, the
value before and after with 95% intervals, the change with its own interval, and a verdict; per group, the
selection rate, true positive rate and false positive rate before and after.

**The rule for "worse".** Paired bootstrap: each resample draws test rows with replacement (exactly: a
multinomial over the cells group × label × decision before × decision after, as the audit draws over
confusion cells), scores *both* models on those rows, and takes the change after − before.  A metric got
**worse** when the whole 95% interval of that change lies on the bad side of zero (a difference grew, a ratio
or an accuracy fell) and the change is at least :data:`MIN_CHANGE` (half a percentage point: a gap that is
exactly 0 before, as for a model that accepts everyone, cannot shrink under resampling, so any change from it
would otherwise count); **better** likewise on the good side; otherwise *no clear change*.
Pairing makes the change's interval narrower than two separate intervals, so a real shift is not hidden by
the noise both models share, and noise alone is not called a change.  With ``n_bootstrap = 0`` there is no
interval: the point change decides, beyond :data:`NO_INTERVAL_TOLERANCE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlxai.fairness.metrics import group_codes, rates_from_counts, summary_from_rates

# key -> (name on screen and in the PDF, higher is better)
METRICS = {
    "accuracy": ("Accuracy", True),
    "balanced_accuracy": ("Balanced accuracy", True),
    "demographic_parity_difference": ("Demographic parity difference", False),
    "demographic_parity_ratio": ("Demographic parity ratio", True),
    "equalized_odds_difference": ("Equalized odds difference", False),
    "equalized_odds_ratio": ("Equalized odds ratio", True),
    "equal_opportunity_difference": ("Equal opportunity difference", False),
}
FAIRNESS_METRICS = tuple(k for k in METRICS if k not in ("accuracy", "balanced_accuracy"))
GROUP_RATES = {"selection_rate": "Selection rate", "tpr": "True positive rate", "fpr": "False positive rate"}
MIN_CHANGE = 0.005  # the smallest change called worse or better, as "No improvement" uses for the constraint
NO_INTERVAL_TOLERANCE = 0.01
WORSE, BETTER, UNCLEAR, UNDEFINED = "worse", "better", "no clear change", "undefined"
GOT_WORSE = (
    "{metric} got worse: {before:.3f} → {after:.3f} (change {change:+.3f}, 95% CI {lo:+.3f} to {hi:+.3f}; "
    "paired bootstrap on the test split)."
)
GOT_WORSE_NO_CI = "{metric} got worse: {before:.3f} → {after:.3f} (change {change:+.3f}; no interval, n_bootstrap = 0)."


def _div(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _stats(joint: np.ndarray) -> tuple[dict, dict]:
    """Metrics of the models before and after from joint counts ``(..., groups, label, before, after)``."""
    out = []
    for counts in (joint.sum(axis=-1), joint.sum(axis=-2)):  # (..., groups, label, decision)
        rates = rates_from_counts(counts)
        m = summary_from_rates(rates, rates["count"] > 0)
        c = counts.sum(axis=-3)
        tn, fp, fn, tp = c[..., 0, 0], c[..., 0, 1], c[..., 1, 0], c[..., 1, 1]
        m["accuracy"] = _div(tp + tn, tn + fp + fn + tp)
        m["balanced_accuracy"] = (_div(tp, tp + fn) + _div(tn, tn + fp)) / 2
        out.append(({k: np.asarray(m[k], dtype=float) for k in METRICS}, {k: rates[k] for k in GROUP_RATES}))
    return out[0], out[1]


def _quantiles(draws: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(draws, alpha, axis=0), np.nanquantile(draws, 1 - alpha, axis=0)


def _verdict(change: float, lo: float, hi: float, higher_is_better: bool, has_ci: bool) -> str:
    if not np.isfinite(change):
        return UNDEFINED
    sign = 1.0 if higher_is_better else -1.0  # > 0 is an improvement after multiplying by sign
    if not has_ci or not (np.isfinite(lo) and np.isfinite(hi)):
        good = sign * change
        return WORSE if good < -NO_INTERVAL_TOLERANCE else BETTER if good > NO_INTERVAL_TOLERANCE else UNCLEAR
    good_lo, good_hi = sorted((sign * lo, sign * hi))
    if abs(change) < MIN_CHANGE:
        return UNCLEAR
    return WORSE if good_hi < 0 else BETTER if good_lo > 0 else UNCLEAR


@dataclass(frozen=True)
class TradeOff:
    """Every metric of two models on the same test rows (see the module doc for the rule behind ``verdict``).

    ``metrics``: one row per key of :data:`METRICS` with ``label``, ``before``/``after``/``change`` and their
    ``_lo``/``_hi`` bounds, and ``verdict``.  ``groups``: one row per (group, rate of :data:`GROUP_RATES`), the same
    columns without a verdict (a group's rate moving is the point of mitigation, not a harm in itself).
    """

    metrics: pd.DataFrame
    groups: pd.DataFrame
    n_bootstrap: int
    confidence: float = 0.95

    def worse(self, fairness_only: bool = False) -> list[str]:
        keys = FAIRNESS_METRICS if fairness_only else tuple(METRICS)
        return [k for k in keys if self.metrics.at[k, "verdict"] == WORSE]

    def sentence(self, key: str) -> str:
        """``Equalized odds difference got worse: 0.077 → 0.308 (change +0.231, 95% CI +0.214 to +0.249; …)``."""
        r = self.metrics.loc[key]
        fmt = GOT_WORSE if self.n_bootstrap > 0 and np.isfinite(r["change_lo"]) else GOT_WORSE_NO_CI
        return fmt.format(metric=r["label"], before=r["before"], after=r["after"], change=r["change"],
                          lo=r["change_lo"], hi=r["change_hi"])

    def display(self) -> pd.DataFrame:
        """The metrics as the page and the PDF print them: human names, values with their intervals."""
        m = self.metrics
        return pd.DataFrame({
            "Metric": m["label"],
            "Before [95% CI]": [_ci(r.before, r.before_lo, r.before_hi) for r in m.itertuples()],
            "After [95% CI]": [_ci(r.after, r.after_lo, r.after_hi) for r in m.itertuples()],
            "Change [95% CI]": [_ci(r.change, r.change_lo, r.change_hi, signed=True) for r in m.itertuples()],
            "Verdict": m["verdict"],
        }).reset_index(drop=True)

    def display_groups(self) -> pd.DataFrame:
        g = self.groups
        return pd.DataFrame({
            "Group": g.index.get_level_values(0), "Rate": g["label"].to_numpy(),
            "Before [95% CI]": [_ci(r.before, r.before_lo, r.before_hi) for r in g.itertuples()],
            "After [95% CI]": [_ci(r.after, r.after_lo, r.after_hi) for r in g.itertuples()],
            "Change [95% CI]": [_ci(r.change, r.change_lo, r.change_hi, signed=True) for r in g.itertuples()],
        }).reset_index(drop=True)


def _ci(v: float, lo: float, hi: float, signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    if not np.isfinite(v):
        return "—"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f.format(v)
    return f"{f.format(v)} [{f.format(lo)}, {f.format(hi)}]"


def _pick(draws: dict | None, key: str):
    return None if draws is None else draws[key]


def compare(y_true, before, after, sensitive, *, n_bootstrap: int = 200, confidence: float = 0.95,
            seed: int = 0) -> TradeOff:
    """Every metric of decisions ``before`` and ``after`` on the same rows, with paired bootstrap intervals."""
    yt, pb, pa = (np.asarray(a).astype(np.int64).ravel() for a in (y_true, before, after))
    codes, labels, _ = group_codes(sensitive)
    G, B, alpha = len(labels), int(n_bootstrap), (1 - confidence) / 2
    joint = np.bincount(((codes * 2 + yt) * 2 + pb) * 2 + pa, minlength=G * 8).reshape(G, 2, 2, 2)
    (mb, gb), (ma, ga) = _stats(joint)
    db = da = dgb = dga = None
    if B > 0:
        n = int(joint.sum())
        draws = np.random.default_rng(seed).multinomial(n, joint.reshape(-1) / n, size=B).reshape(B, G, 2, 2, 2)
        (db, dgb), (da, dga) = _stats(draws)

    def bounds(d_before, d_after, size: int) -> dict:
        """``before``/``after``/``change`` ``_lo``/``_hi`` (the change paired per resample); NaN without resamples."""
        if d_before is None:
            return {f"{side}_{b}": np.full(size, np.nan) for side in ("before", "after", "change") for b in ("lo", "hi")}
        out = {}
        for side, d in (("before", d_before), ("after", d_after), ("change", d_after - d_before)):
            lo, hi = _quantiles(d, alpha)
            out[f"{side}_lo"], out[f"{side}_hi"] = np.atleast_1d(lo), np.atleast_1d(hi)
        return out

    rows = {}
    for k, (label, higher) in METRICS.items():
        row = {"label": label, "before": float(mb[k]), "after": float(ma[k]), "change": float(ma[k] - mb[k])}
        row.update({c: float(v[0]) for c, v in bounds(_pick(db, k), _pick(da, k), 1).items()})
        row["verdict"] = _verdict(row["change"], row["change_lo"], row["change_hi"], higher, B > 0)
        rows[k] = row
    group_rows = {}
    for k, label in GROUP_RATES.items():
        bb = bounds(_pick(dgb, k), _pick(dga, k), G)
        for i, g in enumerate(labels):
            b, a = float(gb[k][i]), float(ga[k][i])
            group_rows[(g, k)] = {"label": label, "before": b, "after": a, "change": a - b,
                                  **{c: float(v[i]) for c, v in bb.items()}}
    groups = pd.DataFrame.from_dict(group_rows, orient="index")
    groups.index = pd.MultiIndex.from_tuples(groups.index, names=["group", "rate"])
    return TradeOff(pd.DataFrame.from_dict(rows, orient="index"), groups, B, confidence)
