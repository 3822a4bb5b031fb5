"""The audit PDF and the bundle of results it is built from.

>>> bundle = audit_model(model, dataset, sensitive=["sex", "race"], rules=["demographic_parity_difference>0.1"])
>>> build_report(bundle, title="Credit model audit").save("report.pdf")

Heavy dependencies (fpdf2, kaleido, matplotlib) are imported only when a report is built.
"""

from dlxai.report.audit import (
    DEFAULT_RULES,
    RULE_METRICS,
    AuditBundle,
    CheckResult,
    Rule,
    audit_model,
    audit_predictions,
    default_positive_label,
    parse_rule,
)
from dlxai.report.builder import ReportResult, build_report
from dlxai.report.sections import DEFAULT_SECTIONS, OPTIONAL, SECTIONS

__all__ = [
    "DEFAULT_RULES", "DEFAULT_SECTIONS", "OPTIONAL", "RULE_METRICS", "SECTIONS", "AuditBundle", "CheckResult",
    "ReportResult", "Rule", "audit_model", "audit_predictions", "build_report", "default_positive_label",
    "parse_rule",
]
