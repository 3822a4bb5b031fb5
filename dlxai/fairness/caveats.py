"""What a fairness audit's numbers cannot carry, said in words: thin rates and the disparities they set.

A difference of 0.800 between two groups' true positive rates reads as a finding; when one rate is
0 of 3 positives and the other 4 of 5, it is noise.  These notes name the group, the rate and the
rows it rests on (its denominator: positives for TPR, negatives for FPR, predicted positives for
precision), so the reader can weigh the number.  Plain functions of an audit's tables; used by
:func:`dlxai.fairness.metrics.audit_from_counts`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlxai.glossary import DENOMINATORS, name


def notes(by_group: pd.DataFrame, dens: pd.DataFrame, summary: dict, thin: tuple, min_group_size: int,
          min_den: int, confidence: float) -> tuple[str, ...]:
    """Warnings, most consequential first: disparities set by thin rates, small groups, thin rates, undefined.

    ``dens`` holds the rows behind each rate (group x metric), ``thin`` the :class:`ThinRate` records.
    """
    out = list(_thin_disparities(by_group, dens, summary, min_den))
    small = tuple(g for g, c in by_group["count"].items() if c < min_group_size)
    if small:
        out.append(
            f"{len(small)} group(s) have fewer than {min_group_size} rows ({', '.join(small)}); their rates are "
            "unreliable - read the intervals, or merge small groups."
        )
    conf = f"{confidence:.0%}"
    for metric in ("tpr", "fpr", "precision"):  # selection rate and accuracy: the small-groups note covers them
        few = [t for t in thin if t.metric == metric]
        if few:
            unit = DENOMINATORS[metric]
            each = ", ".join(f"{t.group} ({t.value:.3f} from {t.denominator:,}, {conf} interval {t.low:.3f}–"
                             f"{t.high:.3f})" for t in few)
            out.append(f"{name(metric)} rests on fewer than {min_den} {unit} in {len(few)} group(s): {each}.")
    for metric, needs in (("tpr", "positive"), ("fpr", "negative"), ("precision", "predicted-positive")):
        undefined = [g for g, v in by_group[metric].items() if np.isnan(v)]
        if undefined:
            out.append(
                f"{name(metric)} is undefined for {', '.join(undefined)} (no {needs} rows); those groups "
                "are left out of the differences that use it."
            )
    return tuple(out)


def _drivers(by_group: pd.DataFrame) -> dict[str, str]:
    """The per-group rate whose extremes set each disparity summary (equalized odds: the larger gap)."""
    def spread(m):
        v = by_group[m]
        return v.max() - v.min(), (v.min() / v.max() if v.max() > 0 else np.nan)

    (tpr_d, tpr_r), (fpr_d, fpr_r) = spread("tpr"), spread("fpr")
    return {
        "demographic_parity_difference": "selection_rate",
        "demographic_parity_ratio": "selection_rate",
        "equalized_odds_difference": "fpr" if np.isnan(tpr_d) or fpr_d > tpr_d else "tpr",
        "equalized_odds_ratio": "fpr" if np.isnan(tpr_r) or fpr_r < tpr_r else "tpr",
        "equal_opportunity_difference": "tpr",
    }


def _thin_disparities(by_group: pd.DataFrame, dens: pd.DataFrame, summary: dict, min_den: int) -> list[str]:
    """One note per pair of groups whose thin rates set one or more disparity summaries."""
    pairs: dict[tuple, list[str]] = {}
    for key, metric in _drivers(by_group).items():
        v = by_group[metric]
        if v.isna().all() or np.isnan(summary[key]):
            continue
        hi, lo = v.idxmax(), v.idxmin()
        if hi != lo and min(dens.at[hi, metric], dens.at[lo, metric]) < min_den:
            pairs.setdefault((metric, hi, lo), []).append(f"{name(key).lower()} ({summary[key]:.3f})")
    notes = []
    for (metric, hi, lo), names in pairs.items():
        unit, v = DENOMINATORS[metric], by_group[metric]
        what = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        notes.append(
            f"The {what} rest{'s' if len(names) == 1 else ''} on few rows: the {name(metric).lower()} of "
            f"{hi} ({v[hi]:.3f} from {dens.at[hi, metric]:,} {unit}) against that of {lo} ({v[lo]:.3f} from "
            f"{dens.at[lo, metric]:,} {unit}). Read the per-group intervals before acting on "
            f"{'it' if len(names) == 1 else 'them'}."
        )
    return notes
