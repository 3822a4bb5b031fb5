"""The run history of a lesson: one row per setting a class tried, so settings can be compared.

A :class:`Run` is what one press of a lesson's button produced: the setting in words and the numbers the
lesson compares.  Running the same setting again replaces its row (a re-click is not a new experiment);
the history keeps the most recent :data:`MAX_RUNS` settings in the order they were first run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_RUNS = 12
# every number a history can hold: key -> its label on screen and in the handout
METRICS: dict[str, str] = {
    "accuracy_recorded": "Accuracy (recorded)",
    "accuracy_deserved": "Accuracy (deserved)",
    "dp": "DP difference",
    "eo_recorded": "EO (recorded)",
    "eo_deserved": "EO (deserved)",
    "share_group": "Share on group",
    "share_proxy": "Share on neighbourhood",
    "accuracy": "Accuracy",
    "eo": "EO difference",
    "rho": "Randomisation ρ (all pixels)",
    "rho_ink": "Randomisation ρ (digit's pixels)",
    "deletion_auc": "Deletion area",
    "random_deletion_auc": "Deletion area, random order",
    "burden_A": "Recourse burden, group A",
    "burden_B": "Recourse burden, group B",
    "burden_gap": "Burden gap",
    "accuracy_clean": "Accuracy, clean test",
    "accuracy_watermarked": "Accuracy, watermarked test",
    "class_clean": "Clean shortcut class recognised",
    "class_watermarked": "Watermarked shortcut class recognised",
    "hijacked": "Others read as the shortcut class",
    "share_ig": "IG share on the watermark",
    "share_lrp": "LRP-ε share on the watermark",
    "area_share": "Watermark's share of the image",
}
# the interval columns a run may carry for a metric: "<key>_lo" / "<key>_hi"


@dataclass(frozen=True)
class Run:
    setting: str  # what was run, in a few words ("bias 0.50 · proxy 0.50 · group hidden")
    values: dict  # metric key (of METRICS, or "<key>_lo"/"<key>_hi") -> number
    step: str = ""  # the lesson step it answered
    notes: tuple[str, ...] = field(default_factory=tuple)


def add_run(runs: list[Run], run: Run) -> list[Run]:
    """``runs`` with ``run`` added (replacing an earlier run of the same setting in place), at most MAX_RUNS."""
    out = list(runs)
    for i, r in enumerate(out):
        if r.setting == run.setting:
            out[i] = run
            return out
    out.append(run)
    return out[-MAX_RUNS:]


def history_frame(runs: list[Run], metrics=None) -> pd.DataFrame:
    """One row per run (index: the setting), one column per metric key (NaN where a run lacks it)."""
    keys = list(metrics) if metrics is not None else [k for k in METRICS if any(k in r.values for r in runs)]
    frame = pd.DataFrame([{k: float(r.values.get(k, np.nan)) for k in keys} for r in runs], columns=keys,
                         index=pd.Index([r.setting for r in runs], name="setting"), dtype=float)
    return frame


def interval(runs: list[Run], key: str) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper interval bounds of ``key`` per run (NaN where a run has none)."""
    lo = np.array([float(r.values.get(f"{key}_lo", np.nan)) for r in runs])
    hi = np.array([float(r.values.get(f"{key}_hi", np.nan)) for r in runs])
    return lo, hi


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its metric keys replaced by their labels (for tables a student reads)."""
    return frame.rename(columns=METRICS)


def audit_record(audit) -> dict:
    """Accuracy, DP and EO (with the DP/EO intervals) of a :class:`~dlxai.fairness.metrics.FairnessAudit`."""
    out = {"accuracy": float(audit.overall["accuracy"])}
    for key, name in (("dp", "demographic_parity_difference"), ("eo", "equalized_odds_difference")):
        out[key] = float(audit.summary[name])
        out[f"{key}_lo"], out[f"{key}_hi"] = (float(v) for v in audit.summary_ci[name])
    return out
