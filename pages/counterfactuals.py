"""Counterfactuals: what a rejected applicant would have to change, and who bears more of that burden."""

import streamlit as st

from dlxai.fairness.recourse import recourse_burden
from dlxai.plots.counterfactuals import burden_bars
from ui import state
from ui.counterfactuals import (
    burden_costs,
    constraint_editor,
    groups_caption,
    highlight_changes,
    rejected_rows,
    search_key,
    search_row,
    searched,
    time_estimate,
    world_caption,
)
from ui.errors import error_boundary
from ui.widgets import require_model

st.title("Counterfactuals")
st.caption("The smallest changes to a row that flip the model's decision, and the recourse burden per group: "
           "the mean cost of those changes for each group's rejected rows (Sharma et al., CERTIFAI, 2020). "
           "Cost = sum of numeric changes in MADs (median absolute deviations) + number of changed categories.")
ds, m = require_model()
mk, dk = m.fingerprint, ds.fingerprint
if state.threshold() != 0.5:
    st.caption(f"The counterfactual search decides at a score of 0.5; the decision threshold of the other pages "
               f"({state.threshold():.2f}) does not apply here.")

rejected = rejected_rows(m, mk, ds, dk)
features = list(ds.schema.features)
c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
if len(rejected):
    row = c1.selectbox("Row of the test split (rejected applicants first)", list(rejected.index),
                       format_func=lambda i: f"row {i} · P({ds.schema.positive_label}) = {rejected[i]:.2f}",
                       key="cf_row")
else:
    c1.info("The model rejects no test row; pick any row to see what would make it rejected.")
    row = c1.number_input("Row of the test split", 0, len(ds.test) - 1, 0, key="cf_row_any")
k = c2.slider("Counterfactuals", 1, 6, 3, key="cf_k")
seed = c3.number_input("Seed", 0, 10_000, 0, key="cf_seed")
penalty = c4.number_input("Cost per changed feature", 0.0, 50.0, 6.0, 1.0, key="cf_penalty",
                          help="How many MADs of change one extra changed feature is worth when picking "
                               "counterfactuals: higher gives fewer changed features, lower gives smaller changes.")

st.subheader("Constraints")
constraints = constraint_editor(ds, model=m)

st.subheader(f"Counterfactuals for row {row}")
key = search_key(m, ds, int(row), int(k), constraints, int(seed), float(penalty))
go_row = st.button("Find counterfactuals", key="cf_go", type="primary",
                   help=f"Searches this row with these settings; takes {time_estimate(m)}.")
res = None
with error_boundary("The counterfactual search"):
    res = search_row(m, ds, key) if go_row else searched(key)
    if res is None:
        st.info(f"Press **Find counterfactuals** to search row {row} with these settings (takes {time_estimate(m)}).")
    else:
        query = ds.X("test").iloc[int(row)]
        cfs = res.for_query(0)
        state.set_result("counterfactuals", res, about=m.fingerprint)
        st.dataframe(highlight_changes(query, cfs, features), width="stretch")
        met = res.metrics.iloc[0]
        cols = st.columns(5)
        for col, (name, label, fmt) in zip(cols, [("validity", "Validity", "{:.0%}"),
                                                 ("proximity", "Mean cost", "{:.2f}"),
                                                 ("sparsity", "Features changed", "{:.1f}"),
                                                 ("diversity", "Diversity", "{:.2f}"),
                                                 ("plausibility", "Distance to a real row", "{:.2f}")], strict=True):
            col.metric(label, "—" if met[name] != met[name] else fmt.format(met[name]))
        st.caption(f"{len(cfs)} of {k} counterfactuals flip the decision ({res.method} search, {res.seconds:.1f} s). "
                   "Highlighted cells differ from the original row. " + world_caption(res) + groups_caption(res))

st.subheader("Recourse burden by group")
if not len(rejected):
    st.info("The model rejects no row of the test split, so no one needs recourse and there is no burden to compare.")
    st.stop()
attrs = [c for c in ds.schema.sensitive] or ds.group_columns()[:1]
b1, b2 = st.columns(2)
attr = b1.selectbox("Group by", attrs, key="cf_burden_attr")
max_rows = b2.number_input("Rejected rows to search (a seeded sample)", 10, 5000, 200, step=50, key="cf_burden_rows")
go = st.button("Compute recourse burden", key="cf_burden_go")
with error_boundary("The recourse burden"):
    costs = burden_costs(m, ds, constraints, int(max_rows), compute=go)
    if costs is None:
        st.info("Press **Compute recourse burden** to search counterfactuals for the rejected rows.")
    else:
        burden = recourse_burden(m, ds, attr, costs=costs)
        state.set_result("counterfactuals", [res, burden] if res is not None else burden, about=m.fingerprint)
        st.plotly_chart(burden_bars(burden), key="cf_burden_chart")
        st.dataframe(burden.by_group.style.format(precision=3), width="stretch")
        st.caption(f"Highest burden: {burden.highest}; lowest: {burden.lowest}; gap {burden.gap:.2f} "
                   f"(95% CI {burden.gap_ci[0]:.2f} – {burden.gap_ci[1]:.2f}), {len(costs)} rejected rows.")
