"""Lesson: The price of fairness — mitigation on Adult, what each constraint costs and does to the other gap."""

import streamlit as st

from dlxai.lessons.history import Run, audit_record
from dlxai.lessons.words import WORDS
from dlxai.plots.fairness import group_metric_bars
from dlxai.plots.lessons import GAP_KEYS, front_scatter
from ui import lessons as ui
from ui import state

KEY = "price_of_fairness"
CONSTRAINT = {"parity": "demographic_parity", "odds": "equalized_odds"}
BASELINE = "Original model (no mitigation)"


def _baseline(lesson, step):
    bar, update = ui.progress_bar("Training the model on 32,561 census rows…")
    ds, model = ui.adult_baseline(lambda info: update(info.fraction, f"Epoch {info.epoch}/{info.max_epochs}"))
    bar.empty()
    audit = ui.adult_audit(model, model.fingerprint, ds, ds.fingerprint)
    state.set_lesson_result(KEY, "baseline", audit)
    ui.record(lesson, Run(BASELINE, audit_record(audit), step.key))
    return audit


def baseline_answer(lesson, step):
    if st.button(step.press, key=ui.button_key(KEY, step.key), type="primary"):
        _baseline(lesson, step)
    audit = state.lesson_result(KEY, "baseline")
    if audit is None:
        return None

    def show():
        ui.metric_row(audit, audit.by_group["selection_rate"],
                      {"Female": "Selection rate, female", "Male": "Selection rate, male"})
        ui.how_to_read("metrics")
        ui.chart(lesson, "rates", group_metric_bars(audit), "rates")

    return show


def _mitigated(lesson, step, method: str, constraint: str, strength=None, label: str = ""):
    if state.lesson_result(KEY, "baseline") is None:
        _baseline(lesson, lesson.steps[0])
    bar, update = ui.progress_bar("Mitigating…")
    result = ui.adult_mitigation(method, constraint, strength, progress=update)
    bar.empty()
    state.set_lesson_result(KEY, "mitigation", (label, result))
    ui.record(lesson, Run(label, ui.mitigation_values(result), step.key))


def _show_mitigation(lesson, step):
    saved = state.lesson_result(KEY, "mitigation")
    if saved is None:
        return None
    label, result = saved

    def show():
        st.markdown(f"##### Before and after: {label}")
        st.dataframe(ui.mitigation_table(result, label), width="stretch")
        ui.how_to_read("before_after")
        for note in result.notes:
            st.caption(note)
        st.markdown("##### Your runs compared")
        ui.history_view(lesson)

    return show


def mitigate_answer(lesson, step):
    """A threshold optimizer for the step's constraint (one click)."""
    constraint = CONSTRAINT[step.key]
    if st.button(step.press, key=ui.button_key(KEY, step.key), type="primary"):
        name = "selection rates" if constraint == "demographic_parity" else "error rates"
        _mitigated(lesson, step, "threshold_optimizer", constraint, label=f"Threshold optimizer: equal {name}")
    return _show_mitigation(lesson, step)


def penalty_answer(lesson, step):
    """Penalised retraining at the λ on the dial (a few epochs, so it answers in seconds)."""
    lam = st.number_input("Penalty weight λ", 0.0, 100.0, step=1.0, format="%.1f",
                          help=WORDS["penalised_training"][1] + f" Each retraining runs {ui.PENALTY_EPOCHS} epochs.",
                          **state.bind(ui.widget_key(KEY, "penalty"), float(state.lesson_value(KEY, "penalty", 5.0)),
                                       lambda v: state.set_lesson_value(KEY, "penalty", float(v))))
    if st.button(step.press, key=ui.button_key(KEY, step.key), type="primary"):
        _mitigated(lesson, step, "penalised", "demographic_parity", float(lam), label=f"Penalised training, λ = {lam:g}")
    return _show_mitigation(lesson, step)


def front_answer(lesson, step):
    axis = st.radio("Fairness gap", list(GAP_KEYS), horizontal=True,
                    format_func={"DP": "DP: selection rates", "EO": "EO: error rates"}.get,
                    **state.bind(ui.widget_key(KEY, "axis"), state.lesson_value(KEY, "axis", "DP"),
                                 lambda v: state.set_lesson_value(KEY, "axis", v)))
    runs = state.lesson_runs(KEY)
    if not runs:
        return None
    return lambda: ui.chart(lesson, "front", front_scatter(runs, axis), "front")


ui.lesson_page(KEY, {"baseline": baseline_answer, "mitigate": mitigate_answer, "penalty": penalty_answer,
                     "front": front_answer})
