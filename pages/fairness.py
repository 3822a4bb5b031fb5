"""Fairness: per-group rates with intervals, disparity metrics, the four-fifths rule."""

import streamlit as st

from dlxai import errors
from dlxai.fairness import METRIC_LABELS
from dlxai.plots.fairness import disparity_summary, group_metric_bars, impact_ratio_bars
from ui import state
from ui.cache import fairness
from ui.errors import error_boundary
from ui.widgets import require_model, threshold_slider

st.title("Fairness")
ds, m = require_model()

options = ds.group_columns()
attrs = st.multiselect(
    "Sensitive attributes (two are intersected)", options, max_selections=2,
    **state.bind("fair_attrs", [c for c in state.sensitive() if c in options][:2], state.set_sensitive),
)
c1, c2, c3, c4 = st.columns(4)
threshold = threshold_slider(c1, "fair_threshold")
min_size = c2.number_input("Warn below group size", 1, 100_000, 30, key="fair_min_size")
n_boot = c3.number_input("Bootstrap resamples", 0, 20_000, 1000, step=100, key="fair_boot")
seed = c4.number_input("Bootstrap seed", 0, 100_000, 0, key="fair_seed")

if not attrs:
    st.error(errors.NO_SENSITIVE, icon="⚠️")
    st.stop()

groups = sorted(map(str, ds.test[attrs[0]].dropna().unique())) if len(attrs) == 1 else []
ref_choices = ["(highest selection rate)"] + groups
ref = st.selectbox("Reference group", ref_choices, key="fair_ref",
                   help="Impact ratios and gaps are measured against this group.")
reference = None if ref == ref_choices[0] else ref

with error_boundary("The fairness audit"):
    audit = fairness(m, m.fingerprint, ds, ds.fingerprint, tuple(attrs), threshold, reference, int(n_boot),
                     int(min_size), int(seed))
    s, ci = audit.summary, audit.summary_ci
    conf = int(round(100 * audit.params["confidence"]))
    cols = st.columns(len(s))
    for col, (k, v) in zip(cols, s.items()):
        lo, hi = ci[k]
        col.metric(METRIC_LABELS[k], f"{v:.3f}", help=f"{conf}% bootstrap interval: {lo:.3f} – {hi:.3f}")
        col.caption(f"{conf}% CI {lo:.3f} – {hi:.3f}")
    if audit.four_fifths_violated:
        st.error("Four-fifths rule violated: at least one group is selected at under 80% of the reference group's rate.")
    else:
        st.success("Four-fifths rule met: every group's selection rate is at least 80% of the reference group's.")
    for w in audit.warnings:
        st.warning(w)

    st.plotly_chart(group_metric_bars(audit), key="fair_bars")
    a, b = st.columns(2)
    a.plotly_chart(impact_ratio_bars(audit), key="fair_impact")
    b.plotly_chart(disparity_summary(audit), key="fair_summary")

    st.subheader("Per-group table")
    table = audit.by_group.copy()
    for k in ("selection_rate", "tpr", "fpr"):
        table[f"{k} CI"] = [f"{lo:.3f} – {hi:.3f}" for lo, hi in zip(audit.ci_low[k], audit.ci_high[k])]
    st.dataframe(table.style.format(precision=3), width="stretch")
    st.caption(
        f"{audit.overall['count']:,} test rows; overall selection rate {audit.overall['selection_rate']:.3f}, "
        f"accuracy {audit.overall['accuracy']:.3f}. Intervals: {audit.params['n_bootstrap']:,} bootstrap resamples, "
        f"seed {audit.params['seed']}. Reference group: {audit.reference_group}."
    )
