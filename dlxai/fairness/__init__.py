"""Group fairness: metrics with confidence intervals, recourse burden, and mitigation (in their own modules)."""

from dlxai.fairness.metrics import (
    GROUP_METRICS,
    METRIC_LABELS,
    SUMMARY_METRICS,
    FairnessAudit,
    audit_fairness,
    group_codes,
)

__all__ = ["GROUP_METRICS", "METRIC_LABELS", "SUMMARY_METRICS", "FairnessAudit", "audit_fairness", "group_codes"]
