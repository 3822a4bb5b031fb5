"""What the report says, as plain data: section names, findings, limitations, the manifest.

Kept apart from the PDF drawing (:mod:`dlxai.report.builder`, :mod:`dlxai.report.renderers`) so the page, the CLI
and the tests can use the same sentences.
"""

from __future__ import annotations

import numpy as np

from dlxai.fairness.metrics import FOUR_FIFTHS, METRIC_LABELS

# section key -> heading, in report order
SECTIONS = {
    "cover": "Cover",
    "summary": "Executive summary",
    "data": "Data",
    "model": "Model card",
    "performance": "Performance",
    "fairness": "Fairness",
    "explanations": "Explanations",
    "counterfactuals": "Counterfactuals and recourse",
    "surrogate": "Surrogate model",
    "mitigation": "Mitigation",
    "limitations": "Limitations",
    "manifest": "Reproducibility manifest",
}
OPTIONAL = ("explanations", "counterfactuals", "surrogate", "mitigation")
DEFAULT_SECTIONS = tuple(SECTIONS)
LOW_FIDELITY = 0.9


def fmt(v, digits: int = 3) -> str:
    """Numbers as the report prints them (tests format the engine's numbers with this too)."""
    if v is None:
        return "n/a"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not np.isfinite(f):
        return "n/a"
    return f"{f:.{digits}f}"


def scored_as(bundle) -> str:
    """What the audited decisions came with, so the report prints only the numbers they support.

    ``"model"``: a model's probabilities (every metric); ``"probabilities"``: a score column of probabilities (ROC
    AUC, Brier, calibration); ``"ranking"``: a score on another scale (ROC AUC of its ranking; Brier and calibration
    would come from the 0/1 decisions); ``"decisions"``: a prediction column (no score: accuracy-type metrics only).
    """
    if bundle.model_card.get("kind") != "predictions":
        return "model"
    if bundle.params.get("score_column") is None:
        return "decisions"
    p = bundle.performance
    shown = np.asarray(p.calibration_pred)[np.asarray(p.calibration_count) > 0] if p is not None else np.array([])
    return "ranking" if np.isin(shown, (0.0, 1.0)).all() else "probabilities"


def has_model(bundle) -> bool:
    """False for a predictions-only audit: nothing to explain, search counterfactuals of, or retrain."""
    return bundle.model_card.get("kind") != "predictions"


def findings(bundle) -> list[str]:
    """The key fairness findings, worst first, one sentence each."""
    out = []
    for attr, a in bundle.fairness.items():
        s = a.summary
        bg = a.by_group
        hi, lo = bg["selection_rate"].idxmax(), bg["selection_rate"].idxmin()
        out.append(
            f"By {attr}: selection rates range from {fmt(bg.at[lo, 'selection_rate'])} ({lo}) to "
            f"{fmt(bg.at[hi, 'selection_rate'])} ({hi}); demographic parity difference "
            f"{fmt(s['demographic_parity_difference'])} (95% CI {fmt(a.summary_ci['demographic_parity_difference'][0])}"
            f" to {fmt(a.summary_ci['demographic_parity_difference'][1])}), equalized odds difference "
            f"{fmt(s['equalized_odds_difference'])}."
        )
        if a.four_fifths_violated:
            worst = bg["impact_ratio"].idxmin()
            out.append(f"By {attr}: the four-fifths rule is violated - {worst} is selected at "
                       f"{fmt(bg.at[worst, 'impact_ratio'], 2)} times the rate of {a.reference_group}.")
    return out


def check_lines(bundle) -> list[tuple[str, str, str, str]]:
    """(rule, attribute, value, PASS/FAIL/UNDEFINED) rows of the executive summary."""
    rows = []
    for c in bundle.checks:
        verdict = "UNDEFINED" if c.violated is None else ("FAIL" if c.violated else "PASS")
        rows.append((rule_text(c.rule), c.attribute, fmt(c.value), verdict))
    return rows


def rule_text(rule) -> str:
    """A threshold rule as a reader says it: ``Demographic parity difference > 0.1`` (the manifest keeps
    ``demographic_parity_difference>0.1``, the form the CLI and the Report page's rule box read)."""
    return f"{METRIC_LABELS.get(rule.metric, rule.metric)} {rule.op} {rule.value:g}"


def limitations(bundle) -> list[str]:
    """Caveats generated from the data and the results (never boilerplate)."""
    out = []
    for attr, a in bundle.fairness.items():
        if a.small_groups:
            sizes = ", ".join(f"{g} ({int(a.by_group.at[g, 'count'])} rows)" for g in a.small_groups)
            out.append(f"Small groups by {attr}: {sizes} have fewer than {a.params['min_group_size']} rows; their "
                       "rates are unreliable - read the intervals or merge groups.")
        for metric, needs in (("tpr", "positive"), ("fpr", "negative")):
            undefined = [str(g) for g, v in a.by_group[metric].items() if not np.isfinite(v)]
            if undefined:
                out.append(f"{METRIC_LABELS[metric]} is undefined by {attr} for {', '.join(undefined)} (no {needs} "
                           "rows); the differences that use it leave those groups out.")
        if a.four_fifths_violated:
            below = [str(g) for g, v in a.by_group["impact_ratio"].items() if v < FOUR_FIFTHS]
            out.append(f"Four-fifths rule by {attr}: {', '.join(below)} below {FOUR_FIFTHS} of the selection rate "
                       f"of {a.reference_group}. The rule is a screening heuristic, not a legal finding.")
        wide = a.summary_ci.get("demographic_parity_difference", (np.nan, np.nan))
        if np.isfinite(wide[0]) and np.isfinite(wide[1]) and wide[1] - wide[0] > 0.1:
            out.append(f"The demographic parity difference by {attr} is uncertain: its interval spans "
                       f"{fmt(wide[0])} to {fmt(wide[1])}.")
        if a.params.get("n_bootstrap", 0) == 0:
            out.append(f"No bootstrap intervals were computed by {attr} (n_bootstrap = 0).")
    if bundle.randomized:
        out.append("The model is a randomized classifier: the same row can receive different decisions on different "
                   "calls, so individual decisions (and explanations of them) are not reproducible.")
    for r in _mitigation_results(bundle.mitigation):
        if getattr(r.model, "randomized", False):
            out.append(f"The mitigated model {r.label} is a randomized classifier: its decisions are drawn at random "
                       "(seeded), so a single row's decision and its explanation are not stable.")
    fid = _fidelity(bundle.surrogate)
    if fid is not None and fid < LOW_FIDELITY:
        out.append(f"The surrogate model agrees with the audited model on only {fid:.1%} of rows (below "
                   f"{LOW_FIDELITY:.0%}); its rules describe the model loosely.")
    if bundle.model_card.get("kind") == "predictions":
        out.append("Predictions-only audit: the decisions were given, not computed, so no explanation, "
                   "counterfactual or calibration of a model is possible, and the audit holds for these rows only.")
    if bundle.data.split == "test" and bundle.data.test_rows is not None:
        out.append(f"Metrics describe the {bundle.data.rows:,} test rows of {bundle.data.name}; other populations "
                   "may differ.")
    missing = [k for k in OPTIONAL if getattr(bundle, k) is None]
    if missing and has_model(bundle):
        out.append("Not run in this audit: " + ", ".join(missing) + ".")
    return out


def _mitigation_results(mitigation) -> list:
    """The MitigationResults in the mitigation section: one, a Front's, or those of a list of them."""
    if mitigation is None:
        return []
    from dlxai.fairness.mitigation import Front, MitigationResult

    out = []
    for item in mitigation if isinstance(mitigation, (list, tuple)) else [mitigation]:
        if isinstance(item, MitigationResult):
            out.append(item)
        elif isinstance(item, Front):
            out.extend(item.results)
    return out


def _fidelity(surrogate) -> float | None:
    """The held-out fidelity of a surrogate tree (None for anything else, or when it is not finite)."""
    if surrogate is None:
        return None
    from dlxai.explain.surrogate import SurrogateTree

    if isinstance(surrogate, SurrogateTree) and np.isfinite(surrogate.fidelity):
        return float(surrogate.fidelity)
    return None


def manifest(bundle, chart_engines: dict | None = None) -> dict:
    """Everything needed to reproduce the numbers: versions, seeds, every parameter, hashes."""
    from dlxai.report.audit import library_versions

    out = {
        "libraries": library_versions(),
        "data_sha256": bundle.data.sha256,
        "model_sha256": (bundle.model_card or {}).get("sha256"),
        "parameters": bundle.params,
        "fairness_params": {attr: dict(a.params) for attr, a in bundle.fairness.items()},
    }
    settings = (bundle.model_card or {}).get("settings")
    if settings and "model_settings" not in bundle.params:
        out["model_settings"] = settings
    if chart_engines:
        out["charts"] = chart_engines
    return out


def flatten(d, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dict -> ("a.b.c", "value") rows for a two-column table."""
    rows = []
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                rows.extend(flatten(v, key))
            else:
                rows.append((key, _short(v)))
    else:
        rows.append((prefix, _short(d)))
    return rows


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_short(x) for x in v) + "]"
    return str(v)
