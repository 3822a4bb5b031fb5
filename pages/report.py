"""Report: the audit PDF - sections, thresholds, title and names, progress, download."""

import streamlit as st

from dlxai.report import SECTIONS, parse_rule
from dlxai.report.messages import MISSING
from dlxai.report.sections import check_lines
from ui import report as ur
from ui import state
from ui.errors import error_boundary
from ui.widgets import require_model, threshold_slider

st.title("Report")
st.caption("The audit as a PDF a reviewer can sign off: the same numbers and figures as the pages, plus limitations "
           "and a manifest to reproduce them.")
ds, m = require_model()

st.subheader("Cover")
c1, c2, c3 = st.columns(3)
title = c1.text_input("Title", f"Audit of {m.name}", key="rep_title")
organisation = c2.text_input("Organisation", "", key="rep_org")
analyst = c3.text_input("Analyst", "", key="rep_analyst")

st.subheader("What to audit")
options = ds.group_columns()
default_attrs = [c for c in (state.sensitive() or list(ds.schema.sensitive)) if c in options]
a1, a2, a3 = st.columns([2, 1, 1])
attrs = a1.multiselect("Sensitive attributes (each audited on its own)", options, default=default_attrs,
                       key="rep_attrs")
threshold = threshold_slider(a2, "rep_threshold")
n_boot = a3.number_input("Bootstrap resamples", 0, 20_000, 1000, step=100, key="rep_boot")

st.subheader("Pass/fail thresholds")
st.caption("The executive summary marks each check PASS or FAIL; a check fails when the rule holds for an attribute.")
t1, t2, t3 = st.columns(3)
use_dp = t1.checkbox("Demographic parity difference above", True, key="rep_use_dp")
dp_max = t1.number_input("max DP difference", 0.0, 1.0, 0.1, 0.01, key="rep_dp", label_visibility="collapsed")
use_eo = t2.checkbox("Equalized odds difference above", True, key="rep_use_eo")
eo_max = t2.number_input("max EO difference", 0.0, 1.0, 0.1, 0.01, key="rep_eo", label_visibility="collapsed")
use_ratio = t3.checkbox("Demographic parity ratio below", True, key="rep_use_ratio")
ratio_min = t3.number_input("min DP ratio", 0.0, 1.0, 0.8, 0.05, key="rep_ratio", label_visibility="collapsed")
extra = st.text_area("More rules, one a line (e.g. `accuracy<0.8`, `equalized_odds_ratio<0.7`)", "", key="rep_extra",
                     height=68)

st.subheader("Sections")
found = state.results(m.fingerprint)
choices = list(SECTIONS)
sections = st.multiselect("Sections to include", choices, default=choices, format_func=SECTIONS.get,
                          key="rep_sections")
for kind in ("explanations", "counterfactuals", "surrogate", "mitigation"):
    if kind in sections:
        included = "included from this session."
        if kind == "mitigation" and isinstance(found.get(kind), list):  # every run ticked on the Mitigation page
            included = f"{len(found[kind])} run(s) from this session (choose which on the Mitigation page)."
        st.caption(f"- {SECTIONS[kind]}: " + (included if kind in found else MISSING[kind]))
engine = st.selectbox("Charts", ["auto", "kaleido", "matplotlib"], key="rep_engine",
                      help="auto: plotly's renderer with Chromium when installed, else matplotlib (no browser needed).")

if not attrs:
    st.info("Choose at least one sensitive attribute to audit.")
    st.stop()

if st.button("Build report", type="primary", key="rep_build"):
    with error_boundary("Building the report"):
        rules = ur.rules_from(dp_max if use_dp else None, eo_max if use_eo else None,
                              ratio_min if use_ratio else None, extra)
        for r in rules:
            parse_rule(r)
        bundle = ur.audit_bundle(ds, ds.fingerprint, m, m.fingerprint, tuple(attrs), float(threshold), tuple(rules),
                                 int(n_boot), 0, 30)
        bundle = ur.attach(bundle, ds, attrs, found)
        result = ur.build_with_progress(bundle, title=title, organisation=organisation, analyst=analyst,
                                        sections=sections, chart_engine=engine)
        state.set_report(state.BuiltReport(result, check_lines(bundle), bundle.passed, m.fingerprint))

built = state.report(m.fingerprint)
if built is not None:
    result = built.result
    verdict = "PASSED" if built.passed else "FAILED"
    (st.success if verdict == "PASSED" else st.error)(
        f"Report ready: {result.pages} pages, {sum(result.chart_engines.values())} charts "
        f"({', '.join(f'{n} {k}' for k, n in result.chart_engines.items()) or 'none'}), verdict {verdict}.")
    if built.checks:
        st.dataframe([dict(zip(("Rule", "Attribute", "Value", "Result"), r, strict=False)) for r in built.checks],
                     width="stretch")
    st.download_button("Download the PDF", result.pdf, file_name="dlxai-audit-report.pdf", mime="application/pdf",
                       type="primary", key="rep_download")
