"""Mitigation: retrain or post-process the active model under a fairness constraint; compare on a front."""

import streamlit as st

from dlxai.fairness.mitigation import CONSTRAINTS, METHODS, Front
from dlxai.fairness.mitigation.results import COLUMN_LABELS
from dlxai.plots.mitigation import GAP_LABEL, before_after_table, front_figure
from ui import mitigation as ui_mit
from ui import state
from ui.errors import error_boundary
from ui.widgets import require_model

st.title("Mitigation")
ds, m = require_model()
st.caption(f"Active model: **{m.name}**. Mitigation works on a copy; the original stays available below.")

c1, c2 = st.columns(2)
method = ui_mit.method_picker(m, c1)
spec = METHODS[method]
if not spec.constraints:
    constraint = "none"
    c2.selectbox("Constraint", ["(pre-processing: none)"], disabled=True, key="mit_constraint_none")
else:
    constraint = c2.selectbox("Constraint", list(spec.constraints), format_func=CONSTRAINTS.get, key="mit_constraint")
options = ds.group_columns()
sensitive = st.multiselect("Sensitive attribute(s)", options, default=[c for c in state.sensitive() if c in options][:2],
                           max_selections=2, key="mit_sensitive")
refused = ui_mit.refusal(m, method, sensitive)
if spec.needs_sensitive_at_prediction:
    st.info("Post-processing sets a threshold per group, so the mitigated model **needs the sensitive attribute "
            "at prediction time**: it reads it from every row it scores and cannot score rows without it.")

# the defaults are the registry's quick settings, per method: each finishes on Adult in about 2 minutes on 2 cores
knob, quick = spec.strength, spec.quick
retrains = spec.planned_fits(knob.default, quick.max_iter or 1) > 0
s1, s2, s3, s4, s5 = st.columns(5)
strength = None
if knob.widget is not None:  # the registry says which knobs the page offers, and their range
    lo, hi = knob.widget
    if knob.integer:
        strength = int(s1.number_input(knob.label, int(lo), int(hi), int(knob.default), key=f"mit_strength_{method}"))
    else:
        strength = float(s1.number_input(knob.label, float(lo), float(hi), float(knob.default), format="%.3f",
                                         key=f"mit_strength_{method}"))
is_mlp = hasattr(m.estimator, "max_epochs")
epochs = int(s2.number_input("Epochs per retraining (MLP)", 1, 200, quick.max_epochs or 5, key=f"mit_epochs_{method}",
                             disabled=not (is_mlp and retrains)))
max_iter = int(s3.number_input("Max iterations (ExpGrad)", 1, 200, quick.max_iter or 20, key=f"mit_iter_{method}",
                               disabled=not spec.uses_max_iter))
n_train = len(ds.train)
rows = int(s4.number_input("Training rows (0 = all)", 0, n_train, min(quick.max_rows or 0, n_train), step=1000,
                           key=f"mit_rows_{method}", disabled=not retrains,
                           help="Retrain on a sample of this many training rows, stratified by group and label."))
seed = int(s5.number_input("Seed", 0, 100_000, 0, key="mit_seed"))
if quick.why:
    st.caption(f"The defaults keep a run short (seconds on Adult on 2 idle cores, well within 2 minutes; a busy "
               f"machine stretches that): {quick.why} Raise them for a closer fit; the time grows in proportion.")
mode = st.radio("Run", ["One model", "Sweep the strength (front)"], horizontal=True, key="mit_mode",
                disabled=len(knob.sweep) < 2)
sweep_values = None
if mode.startswith("Sweep") and len(knob.sweep) > 1:
    text = st.text_input(f"Values of {knob.label or knob.name}", ", ".join(f"{v:g}" for v in knob.sweep), key="mit_sweep")
    try:
        sweep_values = [(int if knob.integer else float)(x) for x in text.split(",") if x.strip()]
    except ValueError:
        st.error(f"Values of {knob.label or knob.name} must be numbers separated by commas; received {text!r}.")
        st.stop()

if st.button("Run mitigation", type="primary", key="mit_run", disabled=bool(refused),
             help="While it runs, Streamlit's Stop (top right) ends it after the current fit or epoch."):
    with error_boundary("Mitigation"):
        ui_mit.run(m, ds, method, constraint, sensitive, strength=strength, sweep_values=sweep_values,
                   estimator_params={"max_epochs": epochs} if is_mlp and retrains else None, max_iter=max_iter,
                   max_rows=rows if rows and rows < n_train else None, seed=seed)

runs = state.mitigation_runs(ds.fingerprint)
if not runs:
    st.info("Pick a method and a constraint, then press **Run mitigation**.")
    st.stop()

st.subheader("Runs of this session")
st.dataframe(ui_mit.runs_table(runs).style.format(precision=3), width="stretch", hide_index=True, key="mit_runs")
ui_mit.report_picker(ds, runs)
run_no = int(st.selectbox("Run to show", range(len(runs), 0, -1), format_func=lambda i: ui_mit.run_name(i, runs[i - 1]),
                          key=f"mit_show_run_{len(runs)}"))  # a new run gets a new box, showing it
out = runs[run_no - 1]
results = ui_mit.results_of(out)
if isinstance(out, Front) and len(results) > 1:
    st.subheader("Accuracy–fairness front")
    gap = st.radio("Fairness axis", list(GAP_LABEL), horizontal=True, key="mit_gap", format_func=GAP_LABEL.get)
    st.plotly_chart(front_figure(out, gap), key="mit_front")
    st.dataframe(out.points.drop(columns=["model_name"]).rename(columns=COLUMN_LABELS).style.format(precision=3),
                 width="stretch", hide_index=True)

st.subheader("Before and after")
shown = results[-1] if len(results) == 1 else results[int(st.selectbox(
    "Point", range(len(results)), format_func=lambda i: results[i].label, key="mit_point"))]
ui_mit.show_result(shown, "mit_result")
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
