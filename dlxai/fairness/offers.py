"""What the app offers for a model, capability by capability, and the reason for each thing it does not offer.

One table the pages read before the user clicks (a picker lists only what is offered; the rest is shown with its
reason) and the capability-matrix test runs in full: every capability offered for a model kind runs on it.
:func:`offers` maps each capability key to ``""`` (offered) or the reason shown to the user.
"""

from __future__ import annotations

from dlxai.explain.registry import METHODS as EXPLAIN_METHODS
from dlxai.explain.registry import TABULAR, model_info
from dlxai.fairness.mitigation.registry import METHODS as MITIGATION_METHODS
from dlxai.fairness.mitigation.registry import why_not as mitigation_why_not

# capability key -> what the pages and the report table call it
BASE = {
    "performance": "Performance",
    "fairness": "Fairness audit",
}
SEARCHES = {
    "counterfactuals": "Counterfactuals",
    "recourse": "Recourse burden",
    "surrogate": "Surrogate tree",
}
REPORT = {"report": "Report (PDF)"}
PREDICTIONS_ONLY = (
    "a predictions-only audit has decisions, not a model: there is no model to {what}. Upload the model itself to "
    "get it"
)


def tabular_methods() -> list[str]:
    """The attribution methods that work on tables, in registry order."""
    return [k for k, spec in EXPLAIN_METHODS.items() if TABULAR in spec.kinds]


def labels() -> dict[str, str]:
    """Every capability key, in the order the pages come, with its human name."""
    out = dict(BASE)
    out.update({f"explain:{k}": f"Explanations: {EXPLAIN_METHODS[k].label}" for k in tabular_methods()})
    out.update(SEARCHES)
    out.update({f"mitigate:{k}": f"Mitigation: {spec.short}" for k, spec in MITIGATION_METHODS.items()})
    out.update(REPORT)
    return out


def explain_offers(model) -> dict[str, str]:
    """Attribution method key -> '' (offered) or why not, for tabular rows of ``model``."""
    info = model_info(model)
    return {k: (info.why_not(EXPLAIN_METHODS[k], TABULAR) or "").rstrip(".") for k in tabular_methods()}


def mitigation_offers(model, sensitive=()) -> dict[str, str]:
    """Mitigation method key -> '' (offered) or why not, for mitigating by the ``sensitive`` columns."""
    return {k: mitigation_why_not(model, k, tuple(sensitive)) or "" for k in MITIGATION_METHODS}


def offers(model, sensitive=()) -> dict[str, str]:
    """Capability key (see :func:`labels`) -> '' when it is offered for ``model``, else the reason.

    ``model`` is an :class:`~dlxai.models.base.AuditModel`, or None for a predictions-only audit (fairness,
    performance and the report of the uploaded decisions; nothing that needs a model).  ``sensitive``: the columns
    mitigation would constrain (the correlation remover needs them among the model's features)."""
    if model is None:
        verbs = {"explain": "explain", "counterfactuals": "search for counterfactuals",
                 "recourse": "search for counterfactuals", "surrogate": "imitate with a tree",
                 "mitigate": "retrain or post-process"}
        return {k: "" if k in BASE or k in REPORT else PREDICTIONS_ONLY.format(what=verbs[k.split(":")[0]])
                for k in labels()}
    out = dict.fromkeys(BASE, "")
    out.update({f"explain:{k}": why for k, why in explain_offers(model).items()})
    # the searches score the rows they build with the groups of the row each stands for (dlxai.explain.groups): any
    # model, also one that reads group columns at prediction (ThresholdOptimizer)
    out.update(dict.fromkeys(SEARCHES, ""))
    out.update({f"mitigate:{k}": why for k, why in mitigation_offers(model, sensitive).items()})
    out.update(dict.fromkeys(REPORT, ""))
    return out
