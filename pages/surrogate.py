"""Surrogate tree: readable rules that imitate the model, shown with how often they agree with it."""

import streamlit as st

from dlxai.plots.counterfactuals import fidelity_bars, tree_figure
from ui import state
from ui.counterfactuals import local_tree, surrogate
from ui.errors import error_boundary
from ui.widgets import require_model, threshold_slider

st.title("Surrogate tree")
st.caption("A decision tree fitted to the model's decisions on training rows. Its rules are only as trustworthy "
           "as its fidelity: the share of held-out test rows where the tree and the model agree.")
ds, m = require_model()
mk, dk = m.fingerprint, ds.fingerprint

c1, c2, c3, c4 = st.columns(4)
depth = c1.slider("Depth", 1, 12, 4, key="sur_depth")
space = c2.radio("Inputs", ["raw", "preprocessed"], horizontal=True, key="sur_space",
                 help="raw: features in their own units, categories one-hot; preprocessed: the model's own inputs.")
sens = c3.multiselect("Fidelity per group of", ds.group_columns(), default=list(ds.schema.sensitive)[:2],
                      key="sur_sens")
threshold = threshold_slider(c4, "sur_threshold")

with error_boundary("The surrogate tree"):
    sur = surrogate(m, mk, ds, dk, int(depth), space, tuple(sens), threshold)
    state.set_result("surrogate", sur, about=m.fingerprint)
    a, b, c = st.columns(3)
    a.metric("Fidelity (held-out)", f"{sur.fidelity:.3f}")
    b.metric("Fidelity (training rows)", f"{sur.train_fidelity:.3f}")
    c.metric("Leaves", f"{sur.n_leaves}")
    if len(sur.fidelity_by_group):
        st.plotly_chart(fidelity_bars(sur), key="sur_fid")
    st.plotly_chart(tree_figure(sur.tree, sur.feature_names, sur.class_names), key="sur_tree")
    st.subheader("Rules")
    st.code(sur.text, language=None, wrap_lines=True)  # long rules wrap instead of running off the box

st.subheader("Local surrogate around one row")
l1, l2, l3 = st.columns(3)
row = l1.number_input("Row of the test split", 0, len(ds.test) - 1, 0, key="sur_row")
ldepth = l2.slider("Local depth", 1, 6, 3, key="sur_ldepth")
n = l3.number_input("Neighbours", 200, 20_000, 1000, step=200, key="sur_n")
with error_boundary("The local surrogate"):
    loc = local_tree(m, mk, ds, dk, int(row), int(ldepth), int(n), threshold)
    st.metric("Local fidelity (held-out neighbours)", f"{loc.fidelity:.3f}")
    st.markdown(f"The model decides **{loc.row_prediction}** for row {row}; the local tree's rule for it: "
                f"**{' AND '.join(loc.path) or 'always'}**. {loc.positive_share:.0%} of its neighbours are "
                f"decided {ds.schema.positive_label}.")
    st.plotly_chart(tree_figure(loc.tree, loc.feature_names, ("not " + str(ds.schema.positive_label),
                                                                         str(ds.schema.positive_label)),
                                           title="Local surrogate"), key="sur_local_tree")
