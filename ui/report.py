"""Glue for the Report page: the cached audit bundle, the optional results other pages left, the build with
progress in the job runner.  Pages hand their results to the report through :func:`ui.state.set_result`."""

from __future__ import annotations

import streamlit as st

from dlxai.report import audit_model, build_report
from ui import jobs


@st.cache_data(show_spinner=False, max_entries=16)
def audit_bundle(_dataset, dataset_key: str, _model, model_key: str, attrs: tuple, threshold: float, rules: tuple,
                 n_bootstrap: int, seed: int, min_group_size: int):
    """:func:`dlxai.report.audit_model`, keyed by the data's and the model's SHA-256 and every parameter."""
    return audit_model(_model, _dataset, sensitive=list(attrs), threshold=threshold, rules=list(rules),
                       n_bootstrap=n_bootstrap, seed=seed, min_group_size=min_group_size)


def attach(bundle, dataset, attrs, found: dict):
    """The cached bundle with this session's optional results (and the per-group explanation tables)."""
    if not found:
        return bundle
    from dlxai.report.audit import explanation_groups

    extras = dict(bundle.extras)
    if found.get("explanations") is not None:
        extras["explanation_groups"] = explanation_groups(found["explanations"], dataset, list(attrs))
    return bundle.with_results(**found, extras=extras)


def build_with_progress(bundle, **options):
    """Build the PDF in the job runner (Stop ends it at once) with a progress bar."""
    bar = st.progress(0.0, text="Starting the report…")

    def progress(fraction, message):
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)

    result = jobs.run(build_report, bundle, progress=progress, label="Building the report", **options)
    bar.progress(1.0, text=f"Report ready: {result.pages} pages in {result.seconds:.1f} s")
    return result


def rules_from(dp_max: float | None, eo_max: float | None, ratio_min: float | None, extra: str) -> list[str]:
    """The threshold widgets as rule strings (a rule is violated when it holds); extra lines are parsed strictly."""
    rules = []
    if dp_max is not None:
        rules.append(f"demographic_parity_difference>{dp_max:g}")
    if eo_max is not None:
        rules.append(f"equalized_odds_difference>{eo_max:g}")
    if ratio_min is not None:
        rules.append(f"demographic_parity_ratio<{ratio_min:g}")
    rules += [line.strip() for line in (extra or "").splitlines() if line.strip()]
    return rules
