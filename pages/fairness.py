"""Fairness: the four-fifths verdict, disparity metrics, per-group rates with intervals, what the numbers mean."""

import numpy as np
import pandas as pd
import streamlit as st

from dlxai import errors
from dlxai.fairness import METRIC_LABELS
from dlxai.glossary import DENOMINATORS
from dlxai.plots.fairness import DIFFERENCES, RATIOS, disparity_summary, group_metric_bars, impact_ratio_bars
from ui import state
from ui.cache import fairness
from ui.errors import error_boundary
from ui.widgets import glossary_expander, glossary_help, require_model, threshold_slider

GLOSSARY = (*DIFFERENCES, *RATIOS, "impact_ratio", "four_fifths", "selection_rate", "tpr", "fpr", "fnr", "precision",
            "accuracy", "wilson", "bootstrap")
TABLE_RATES = ("selection_rate", "tpr", "fpr", "precision", "accuracy")


def _intervals(lo: pd.Series, hi: pd.Series) -> list[str]:
    return [f"{a:.3f} – {b:.3f}" if np.isfinite(a) and np.isfinite(b) else "undefined" for a, b in zip(lo, hi)]


def _px(texts) -> int:
    """A column wide enough for its longest text (header or cell) at the table's font, so nothing is cut."""
    return max(70, min(360, round(7 * max(map(len, texts))) + 34))


def _group_table(audit, metric: str, conf: int) -> None:
    """One rate by group: the rows it rests on, its value, its Wilson and bootstrap intervals (human headers)."""
    groups = [str(g) for g in audit.by_group.index]
    name, rows = METRIC_LABELS[metric], DENOMINATORS[metric].capitalize()
    wilson, boot = f"Wilson {conf}%", f"Bootstrap {conf}%"
    table = pd.DataFrame({
        audit.attribute_label: groups,
        rows: audit.denominators[metric].to_numpy(),
        name: audit.by_group[metric].to_numpy(dtype=float),
        wilson: _intervals(audit.wilson_low[metric], audit.wilson_high[metric]),
        boot: _intervals(audit.ci_low[metric], audit.ci_high[metric]),
    })
    config = {
        audit.attribute_label: st.column_config.TextColumn(pinned=True, width=_px(groups + [audit.attribute_label])),
        rows: st.column_config.NumberColumn(format="localized", width=_px([rows]),
                                            help=f"The rows the {name.lower()} is taken over."),
        name: st.column_config.NumberColumn(format="%.3f", width=_px([name]), help=glossary_help(metric)),
        wilson: st.column_config.TextColumn(width=130, help=f"{conf}% Wilson interval. " + glossary_help("wilson")),
        boot: st.column_config.TextColumn(width=130, help=f"{conf}% bootstrap interval. " + glossary_help("bootstrap")),
    }
    if metric == "selection_rate":
        table["Impact ratio"] = audit.by_group["impact_ratio"].to_numpy(dtype=float)
        config["Impact ratio"] = st.column_config.NumberColumn(format="%.2f", width=_px(["Impact ratio"]),
                                                               help=glossary_help("impact_ratio"))
    st.dataframe(table, hide_index=True, column_config=config, width="content", key=f"fair_table_{metric}")


st.title("Fairness")
ds, m = require_model()

options = ds.group_columns()
attrs = st.multiselect(
    "Sensitive attributes (two are intersected)", options, max_selections=2,
    **state.bind("fair_attrs", [c for c in state.sensitive() if c in options][:2], state.set_sensitive),
)
c1, c2, c3, c4 = st.columns(4)
threshold = threshold_slider(c1, "fair_threshold")
min_size = c2.number_input(
    "Warn below this many rows", 1, 100_000, 30, key="fair_min_size",
    help="Warns when a group has fewer rows, and when a rate rests on fewer: positive rows for the true positive "
         "rate, negative rows for the false positive rate, predicted positives for precision.")
n_boot = c3.number_input("Bootstrap resamples", 0, 20_000, 1000, step=100, key="fair_boot",
                         help="For the intervals of the differences and ratios; 0 skips them.")
seed = c4.number_input("Bootstrap seed", 0, 100_000, 0, key="fair_seed")

if not attrs:
    st.error(errors.NO_SENSITIVE, icon=":material/warning:")
    st.stop()

groups = sorted(map(str, ds.test[attrs[0]].dropna().unique())) if len(attrs) == 1 else []
ref_choices = ["(highest selection rate)"] + groups
ref = st.selectbox("Reference group", ref_choices, key="fair_ref",
                   help="Impact ratios and the four-fifths rule compare every group with this one.")
reference = None if ref == ref_choices[0] else ref

with error_boundary("The fairness audit"):
    audit = fairness(m, m.fingerprint, ds, ds.fingerprint, tuple(attrs), threshold, reference, int(n_boot),
                     int(min_size), int(seed))
    s, ci = audit.summary, audit.summary_ci
    conf = int(round(100 * audit.params["confidence"]))
    if audit.four_fifths_violated:
        st.error(audit.four_fifths_verdict, icon=":material/balance:")
    else:
        st.success(audit.four_fifths_verdict, icon=":material/balance:")

    for title, keys in (("Differences — 0 means the groups are treated alike", DIFFERENCES),
                        ("Ratios — 1 means the groups are treated alike", RATIOS)):
        st.markdown(f"**{title}**")
        for col, k in zip(st.columns(3), keys):
            lo, hi = ci[k]
            col.metric(METRIC_LABELS[k], f"{s[k]:.3f}", help=glossary_help(k))
            col.caption(f"{conf}% bootstrap interval {lo:.3f} – {hi:.3f}" if np.isfinite(lo) else "No interval "
                        "(0 bootstrap resamples)")
    glossary_expander(GLOSSARY)
    if audit.warnings:
        st.warning("**Read these numbers with care**\n" + "\n".join(f"- {w}" for w in audit.warnings))

    st.plotly_chart(group_metric_bars(audit), key="fair_bars")
    a, b = st.columns(2)
    a.plotly_chart(impact_ratio_bars(audit), key="fair_impact")
    b.plotly_chart(disparity_summary(audit), key="fair_summary")

    st.subheader("Rates by group")
    for tab, k in zip(st.tabs([METRIC_LABELS[k] for k in TABLE_RATES]), TABLE_RATES):
        with tab:
            _group_table(audit, k, conf)
    st.caption(
        f"{int(audit.overall['count']):,} test rows; overall selection rate {audit.overall['selection_rate']:.3f}, "
        f"accuracy {audit.overall['accuracy']:.3f}. Per-group rates carry Wilson intervals, which stay honest for "
        f"small counts (a bootstrap of 0 of 3 is 0.000 – 0.000); the differences and ratios carry "
        f"{audit.params['n_bootstrap']:,} bootstrap resamples (seed {audit.params['seed']}). "
        f"Reference group: {audit.reference_group}."
    )
