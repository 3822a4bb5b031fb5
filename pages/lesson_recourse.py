"""Lesson: What would it take? — counterfactuals for a rejected applicant, recourse burden by group."""

import streamlit as st

from dlxai.lessons import lab as L
from dlxai.lessons.history import Run
from dlxai.plots.counterfactuals import burden_bars
from ui import lessons as ui
from ui import state
from ui.counterfactuals import highlight_changes

KEY = "what_would_it_take"
BURDEN_ROWS = 120  # rejected applicants searched for the burden (a seeded sample)


@st.cache_data(show_spinner=False, max_entries=16)
def _deserving(_model, model_key: str, _dataset, dataset_key: str):
    return L.deserving_rejected(_model, _dataset)


@st.cache_data(show_spinner="Searching the smallest changes…", max_entries=64)
def _counterfactuals(_model, model_key: str, _dataset, dataset_key: str, row: int):
    import dlxai

    return dlxai.find_counterfactuals(_model, _dataset, _dataset.X("test").iloc[[row]], k=3, seed=0)


@st.cache_data(show_spinner=False, max_entries=16)
def _burden(_model, model_key: str, _dataset, dataset_key: str):
    import dlxai

    return dlxai.recourse_burden(_model, _dataset, L.GROUP, max_rows=BURDEN_ROWS, n_bootstrap=500, seed=0)


def _current():
    """The lab and model of this lesson's last run, or None."""
    run = state.lesson_result(KEY, "lab")
    if run is None:
        return None
    ds, model = ui.lab_model(run.settings)
    return run, ds, model


def applicant_answer(lesson, step):
    settings = ui.lab_dials(lesson, step)
    if st.button(step.press, key=ui.button_key(KEY, step.key), type="primary"):
        ui.run_lab(lesson, step, settings, keep=False)
    current = _current()
    if current is None:
        return None
    run, ds, model = current
    rows = _deserving(model, model.fingerprint, ds, ds.fingerprint)
    if rows.empty:
        st.warning("The model rejects no group-B applicant who deserved approval at this setting: the records are "
                   "fair enough here. Turn label bias up and press Run.")
        return None
    st.selectbox("Applicant (group B, rejected, deserved approval)", list(rows.index),
                 format_func=lambda i: f"test row {i} · approval score {rows.loc[i, 'proba']:.2f}",
                 **state.bind(ui.widget_key(KEY, "applicant"), _applicant(rows),
                              lambda v: state.set_lesson_value(KEY, "applicant", int(v))))

    def show():
        ui.stale_note(run, settings)
        row = _applicant(rows)
        n_b = int((ds.test[L.GROUP] == "B").sum())
        st.caption(f"{len(rows)} group-B test applicants (of {n_b:,}) are rejected by the model although they deserved "
                   "approval; the list starts with those closest to approval.")
        card = rows.loc[row].rename({"proba": "approval score (model)", "decision": "decision (recorded)",
                                     "deserved": "decision (deserved)"})
        st.dataframe(card.map(_shown).rename(f"test row {row}").to_frame(), width="content")
        ui.how_to_read("applicant")

    return show


def _shown(v) -> str:
    """A value as a person reads it: 18,600 rather than 18600.000, 0.318 rather than 0.3184408."""
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:.3g}"
    return str(v)


def _applicant(rows) -> int:
    """The chosen applicant; by default a typical one (the median approval score), not a borderline case."""
    v = state.lesson_value(KEY, "applicant")
    return int(v) if v in set(rows.index) else int(rows.index[len(rows) // 2])


def counterfactuals_answer(lesson, step):
    current = _current()
    if current is None:
        st.info("Meet an applicant first (step 1).")
        return None
    run, ds, model = current
    rows = _deserving(model, model.fingerprint, ds, ds.fingerprint)
    if rows.empty:
        return None
    row = _applicant(rows)
    st.caption(f"Applicant: test row {row} of the lab {run.settings.label}; the model's approval score now: "
               f"{rows.loc[row, 'proba']:.2f} (approved from 0.50).")
    if st.button(step.press, key=ui.button_key(KEY, step.key), type="primary"):
        state.set_lesson_result(KEY, "cf", (run.settings, row))
    asked = state.lesson_result(KEY, "cf")
    if asked is None or asked != (run.settings, row):
        return None

    def show():
        res = _counterfactuals(model, model.fingerprint, ds, ds.fingerprint, row)
        query = ds.X("test").iloc[row]
        st.dataframe(highlight_changes(query, res.for_query(0), list(ds.schema.features)), width="stretch")
        ui.how_to_read("counterfactuals")

    return show


def _compare(lesson, step, run, ds, model):
    bar, _ = ui.progress_bar(f"Finding the cheapest way to approval for up to {BURDEN_ROWS} rejected applicants…")
    burden = _burden(model, model.fingerprint, ds, ds.fingerprint)
    bar.empty()
    state.set_lesson_result(KEY, "burden", (run.settings, burden))
    b = burden.by_group["burden"]
    ui.record(lesson, Run(run.settings.label, {"burden_A": float(b.get("A")), "burden_B": float(b.get("B")),
                                               "burden_gap": float(b.get("B") - b.get("A"))}, step.key))


def _show_burden(lesson):
    saved = state.lesson_result(KEY, "burden")
    if saved is None:
        return None
    settings, burden = saved

    def show():
        st.caption(f"Lab: {settings.label}. {int(burden.params.get('rows_used', 0))} rejected applicants searched.")
        ui.chart(lesson, "burden", burden_bars(burden), "burden")
        st.markdown("##### Your runs compared")
        ui.history_view(lesson)

    return show


def burden_answer(lesson, step):
    current = _current()
    if current is None:
        st.info("Run the lab first (step 1).")
        return None
    if st.button(step.press, key=ui.button_key(KEY, step.key), type="primary"):
        _compare(lesson, step, *current)
    return _show_burden(lesson)


def burden_run_answer(lesson, step):
    settings = ui.lab_dials(lesson, step)
    if st.button(step.press, key=ui.button_key(KEY, step.key), type="primary"):
        run = ui.run_lab(lesson, step, settings, keep=False)
        ds, model = ui.lab_model(settings)
        _compare(lesson, step, run, ds, model)
    return _show_burden(lesson)


ui.lesson_page(KEY, {"applicant": applicant_answer, "counterfactuals": counterfactuals_answer,
                     "burden": burden_answer, "burden_run": burden_run_answer})
