"""Home: what dlxai does, and the demos."""

import streamlit as st

from dlxai.lessons.lab import LabSettings
from ui import state
from ui.cache import demo_dataset
from ui.errors import error_boundary

st.title("dlxai — explainability & fairness audits")
st.markdown(
    "Train or load a model, then see **whether it treats groups differently** — with per-group rates and "
    "intervals that stay honest for small groups, disparity metrics that equal Fairlearn's, and a plain-words "
    "glossary behind every number — and **why it decides** as it does. Everything runs offline on your machine."
)
st.markdown(
    "1. Pick a demo below (or keep Adult, already loaded).\n"
    "2. **Data & model**: look at the data and its groups, choose the sensitive attributes, train a model.\n"
    "3. **Fairness**: the four-fifths verdict, differences and ratios between groups, rates by group with "
    "intervals, and *What do these numbers mean?*"
)

st.subheader("Demos")
c1, c2, c3 = st.columns(3)
with c1:
    st.markdown("**UCI Adult** — income above $50K from the 1994 census (48,842 people). Sensitive: sex, race, age band.")
    if st.button("Use Adult", key="demo_adult", type="primary"):
        with error_boundary("Loading Adult"):
            state.set_dataset(demo_dataset("adult"), "adult")
            st.success("Adult is active. Train a model on **Data & model**.")
with c2:
    st.markdown("**German credit** — good or bad credit risk (1,000 applicants). Sensitive: sex, age band.")
    if st.button("Use German credit", key="demo_german"):
        with error_boundary("Loading German credit"):
            state.set_dataset(demo_dataset("german"), "german")
            st.success("German credit is active. Train a model on **Data & model**.")
with c3:
    st.markdown("**Bias lab** — synthetic credit decisions where *you* set the bias against group B. "
                "Guided lessons: **Lessons** in the menu.")
    dials = state.lab_dials()  # shared with the lessons: they keep their values on every page

    def _dial(name):
        return lambda v: state.set_lab_dial(name, v)

    label_bias = st.slider("Label bias against group B", 0.0, 1.0, step=0.05,
                           help="Share of group B's deserved approvals recorded as rejections.",
                           **state.bind("lab_label_bias", float(dials["label_bias"]), _dial("label_bias")))
    proxy = st.slider("Proxy strength (neighbourhood reveals group)", 0.0, 1.0, step=0.05,
                      **state.bind("lab_proxy", float(dials["proxy_strength"]), _dial("proxy_strength")))
    include_group = st.checkbox("Group is a model input", **state.bind("lab_group", bool(dials["include_group"]),
                                                                         _dial("include_group")))
    seed = st.number_input("Seed", 0, 10_000, **state.bind("lab_seed", int(dials["seed"]), _dial("seed")))
    settings = LabSettings(label_bias, proxy, include_group, int(seed))
    active = LabSettings.from_dataset_key(state.dataset_key())
    if active is not None and active != settings:
        st.caption(f"The active lab is **{active.label}**; the dials say **{settings.label}**. Press Generate to "
                   "apply them.")
    if st.button("Generate bias lab", key="demo_lab"):
        with error_boundary("Generating the bias lab"):
            state.set_dataset(demo_dataset("bias_lab", settings.params()), settings.key)
            st.success("Bias lab generated. Train a model, then turn the dial and compare.")

ds = state.dataset()
if ds is not None:
    st.divider()
    st.caption(f"Active: **{ds.name}** — {ds.description}  \nSource: {ds.provenance}")
