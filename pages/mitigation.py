"""Mitigation: retrain or post-process the active model under a fairness constraint; compare on a front."""

import streamlit as st

from dlxai.fairness.mitigation import CONSTRAINTS, METHODS
from dlxai.plots.mitigation import before_after_table, front_figure
from ui import mitigation as ui_mit
from ui import state
from ui.errors import error_boundary
from ui.widgets import require_model

st.title("Mitigation")
ds, m = require_model()
st.caption(f"Active model: **{m.name}**. Mitigation works on a copy; the original stays available below.")

c1, c2 = st.columns(2)
method = c1.selectbox("Method", list(METHODS), format_func=lambda k: METHODS[k].label, key="mit_method")
spec = METHODS[method]
if not spec.constraints:
    constraint = "none"
    c2.selectbox("Constraint", ["(pre-processing: none)"], disabled=True, key="mit_constraint_none")
else:
    constraint = c2.selectbox("Constraint", list(spec.constraints), format_func=CONSTRAINTS.get, key="mit_constraint")
options = ds.group_columns()
sensitive = st.multiselect("Sensitive attribute(s)", options, default=[c for c in state.sensitive() if c in options][:2],
                           max_selections=2, key="mit_sensitive")
if spec.needs_sensitive_at_prediction:
    st.info("Post-processing sets a threshold per group, so the mitigated model **needs the sensitive attribute "
            "at prediction time**: it reads it from every row it scores and cannot score rows without it.")

knob = spec.strength
s1, s2, s3, s4 = st.columns(4)
strength = None
if knob.widget is not None:  # the registry says which knobs the page offers, and their range
    lo, hi = knob.widget
    if knob.integer:
        strength = int(s1.number_input(knob.label, int(lo), int(hi), int(knob.default), key="mit_strength_int"))
    else:
        strength = float(s1.number_input(knob.label, float(lo), float(hi), float(knob.default), format="%.3f",
                                         key="mit_strength"))
is_mlp = hasattr(m.estimator, "max_epochs")
epochs = int(s2.number_input("Epochs per retraining (MLP)", 1, 200, 5, key="mit_epochs", disabled=not is_mlp))
max_iter = int(s3.number_input("Max iterations (ExpGrad)", 1, 200, 20, key="mit_iter",
                               disabled=not spec.uses_max_iter))
seed = int(s4.number_input("Seed", 0, 100_000, 0, key="mit_seed"))
mode = st.radio("Run", ["One model", "Sweep the strength (front)"], horizontal=True, key="mit_mode",
                disabled=len(knob.sweep) < 2)
sweep_values = None
if mode.startswith("Sweep") and len(knob.sweep) > 1:
    text = st.text_input(f"Values of {knob.name}", ", ".join(f"{v:g}" for v in knob.sweep), key="mit_sweep")
    try:
        sweep_values = [(int if knob.integer else float)(x) for x in text.split(",") if x.strip()]
    except ValueError:
        st.error(f"Values of {knob.name} must be numbers separated by commas; received {text!r}.")
        st.stop()

if st.button("Run mitigation", type="primary", key="mit_run"):
    with error_boundary("Mitigation"):
        ui_mit.run(m, ds, method, constraint, sensitive, strength=strength, sweep_values=sweep_values,
                   estimator_params={"max_epochs": epochs} if is_mlp else None, max_iter=max_iter, seed=seed)

out = state.mitigation(ds.fingerprint)
if out is None:
    st.info("Pick a method and a constraint, then press **Run mitigation**.")
    st.stop()

results = ui_mit.results_of(out)
state.set_result("mitigation", out)  # about the data, not one model: it holds the before and the after
if len(results) > 1:
    st.subheader("Accuracy–fairness front")
    gap = st.radio("Fairness axis", ["dp", "eo"], horizontal=True, key="mit_gap",
                   format_func={"dp": "Demographic parity difference", "eo": "Equalized odds difference"}.get)
    st.plotly_chart(front_figure(out, gap), key="mit_front")
    st.dataframe(out.points.drop(columns=["model_name"]).style.format(precision=3), width="stretch")

st.subheader("Before and after")
shown = results[-1] if len(results) == 1 else results[int(st.selectbox(
    "Point", range(len(results)), format_func=lambda i: results[i].label, key="mit_point"))]
for note in shown.notes:
    (st.warning if note.startswith(("No improvement", "Constraint not met")) else st.info)(note)
st.dataframe(shown.table().style.format(precision=3), width="stretch", key="mit_table")
st.caption(f"Test split, 95% bootstrap intervals ({shown.params['n_bootstrap']} resamples); fit took "
           f"{shown.fit_seconds:.1f} s over {shown.params['fits'] or 1} training run(s).")
with st.expander("Before/after as a figure"):
    st.plotly_chart(before_after_table(shown), key="mit_table_fig")

st.subheader("Make a model active")
candidates = {m.name: m} if not getattr(m, "source", "").startswith("mitigated") else {}
for r in results:
    candidates[r.model.name] = r.model
    if r.deterministic is not None:
        candidates[r.deterministic.name] = r.deterministic
candidates.update({k: v for k, v in state.models().items() if k not in candidates and v.dataset == ds.name})
ui_mit.model_switcher(candidates)
