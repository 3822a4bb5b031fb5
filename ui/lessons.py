"""Glue for the Lessons pages: one step at a time, the bias lab's dials, the run history and the handout.

A lesson page calls :func:`lesson_page` with its lesson's key and, per step action, a function that draws the
step's controls (its one dial or button) and returns a function that draws its results (or None before the
first press).  The frame around it — intro and words, the step picker, "Look at", the question, the reveal,
the run history, the handout — is the same on every lesson page.

Models on bundled data are shared through ``st.cache_resource`` registries keyed by their settings
(:func:`ui.cache.demo_model` for tabular models, :func:`ui.images.train` for the digit models, :func:`shared` for
mitigations and the digits checks), so a class of students pays for each setting once; training and the digits
checks run in the job runner (:mod:`ui.jobs`).  Every session key lives in ``ui.state``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from dlxai.lessons import lab as L
from dlxai.lessons.deserved import DESERVED_LABELS, RECORDED
from dlxai.lessons.history import Run, add_run, history_frame, labelled
from dlxai.lessons.lesson import Lesson, Step, get_lesson
from dlxai.lessons.words import HOW_TO_READ, WORDS, metric_help
from dlxai.plots.fairness import group_metric_bars
from dlxai.plots.lessons import history_bars, judged_bars, share_bars
from ui import state
from ui.cache import Registry, build_once, demo_dataset, demo_model
from ui.errors import error_boundary

PAGES = {
    "bias_in_bias_out": "pages/lesson_bias.py",
    "blindness": "pages/lesson_blindness.py",
    "trust_explanations": "pages/lesson_trust.py",
    "price_of_fairness": "pages/lesson_price.py",
    "what_would_it_take": "pages/lesson_recourse.py",
    "clever_hans": "pages/lesson_clever_hans.py",
}
# every dial a lesson step may ask for: name -> the AppTest/Streamlit widget type that draws it
DIALS = {"label_bias": "slider", "proxy_strength": "slider", "include_group": "toggle", "judge": "radio",
         "image": "number_input", "penalty": "number_input", "axis": "radio", "applicant": "selectbox",
         "correlation": "slider", "shortcut_class": "selectbox"}
LAB_DIALS = ("label_bias", "proxy_strength", "include_group")
JUDGES = [RECORDED, DESERVED_LABELS]
MAX_FIGURES = 3  # the step charts a handout carries, besides the run history
REGISTRY_MAX = 24

Answer = Callable[[Lesson, Step], Callable[[], None] | None]


def widget_key(lesson: str, dial: str) -> str:
    return f"lesson_{lesson}_{dial}"


def button_key(lesson: str, step: str) -> str:
    return f"lesson_{lesson}_{step}_go"


# --- shared registries ----------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _registry() -> Registry:
    """Lesson results on bundled data with fixed settings (mitigations, the digits checks), shared by every
    visitor: key -> object."""
    return Registry(REGISTRY_MAX)


def shared(key: tuple, make: Callable[[], object]):
    """The object under ``key`` in the shared registry, made once (by whoever asks first; others wait for it)."""
    return build_once(_registry(), key, make)


def progress_bar(text: str):
    """A progress bar and a callback ``(fraction, text=None)`` that moves it."""
    bar = st.progress(0.0, text=text)

    def update(fraction: float, message: str | None = None) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message or text)

    return bar, update


# --- the frame of every lesson page ----------------------------------------------------------------
def lesson_page(key: str, answers: dict[str, Answer]) -> None:
    """Draw lesson ``key``: intro, the step on screen (through ``answers[step.action]``), history, handout."""
    lesson = get_lesson(key)
    st.title(f"Lesson: {lesson.title}")
    st.caption(f"{lesson.summary}  \nAbout {lesson.minutes} minutes · {len(lesson.steps)} steps · everything runs "
               "here, offline; every step answers in seconds.")
    index = min(state.lesson_step(key), len(lesson.steps) - 1)
    with st.expander("Before you start: who is who, and the words used here", expanded=index == 0):
        st.markdown(lesson.intro)
        words_table(lesson)
    index = st.radio("Step", list(range(len(lesson.steps))), horizontal=True,
                     format_func=lambda i: f"{i + 1} · {lesson.steps[i].title}",
                     **state.bind(widget_key(key, "step"), index, lambda v: state.set_lesson_step(key, v)))
    step = lesson.steps[index]
    st.subheader(f"Step {index + 1} of {len(lesson.steps)} · {step.title}")
    st.markdown(f"**Do:** {step.do}")
    show = None
    with error_boundary(f"Step {index + 1}"):
        show = answers[step.action](lesson, step)
    st.markdown(f"**Look at:** {step.look}")
    if show is None:
        st.info(f"Nothing to look at yet: press **{step.press}** above." if step.press
                else "Nothing to look at yet: do the earlier steps first.")
    else:
        with error_boundary(f"Showing step {index + 1}"):
            show()
    st.info(f"**Question:** {step.question}", icon=":material/help:")
    with st.expander("What you should have seen, and why"):
        st.markdown(step.reveal)
    _step_buttons(lesson, index)
    if "history" not in step.show:
        runs = state.lesson_runs(key)
        if runs:
            with st.expander(f"Your runs so far ({len(runs)})"):
                history_view(lesson)
    handout_section(lesson)


def _step_buttons(lesson: Lesson, index: int) -> None:
    c1, c2, _ = st.columns([1, 1, 3])
    if index > 0:
        c1.button("← Previous step", key=widget_key(lesson.key, "prev"), on_click=state.set_lesson_step,
                  args=(lesson.key, index - 1))
    if index < len(lesson.steps) - 1:
        c2.button("Next step →", key=widget_key(lesson.key, "next"), type="primary", on_click=state.set_lesson_step,
                  args=(lesson.key, index + 1))
    else:
        c2.markdown("**Last step.** Make the handout below.")


def words_table(lesson: Lesson) -> None:
    st.markdown("**The words used here**")
    st.markdown("\n".join(f"- **{WORDS[k][0]}**: {WORDS[k][1]}" for k in lesson.words))


def how_to_read(kind: str) -> None:
    """The short "how to read this" beside a chart or table of ``kind`` (a key of HOW_TO_READ)."""
    st.caption(f"**How to read this:** {HOW_TO_READ[kind]}")


def chart(lesson: Lesson, name: str, fig, kind: str) -> None:
    """Show ``fig`` with its "how to read this", and keep it for the handout (the last one under ``name``)."""
    st.plotly_chart(fig, key=f"lesson_{lesson.key}_{name}")
    how_to_read(kind)
    figs = dict(state.lesson_result(lesson.key, "figures") or {})
    figs.pop(name, None)
    figs[name] = fig
    state.set_lesson_result(lesson.key, "figures", dict(list(figs.items())[-MAX_FIGURES:]))


def record(lesson: Lesson, run: Run) -> None:
    state.set_lesson_runs(lesson.key, add_run(state.lesson_runs(lesson.key), run))


# --- the run history -----------------------------------------------------------------------------
def history_view(lesson: Lesson) -> None:
    runs = state.lesson_runs(lesson.key)
    if not runs:
        st.caption("Your runs will appear here, one per setting, so you can compare them.")
        return
    keys = [k for k in lesson.history if any(k in r.values for r in runs)]
    frame = history_frame(runs, keys)
    if keys:
        chart(lesson, "history", history_bars(frame, f"{lesson.title}: your runs compared"), "history")
    table = labelled(frame)
    table.index = [f"{i}: {s}" for i, s in enumerate(table.index, start=1)]
    st.dataframe(table.style.format("{:.3f}", na_rep="—"), width="stretch")
    if st.button("Clear the run history", key=widget_key(lesson.key, "clear")):
        state.set_lesson_runs(lesson.key, [])
        st.rerun()


def handout_section(lesson: Lesson) -> None:
    """Make the lesson's PDF handout on request (it carries the runs and charts made so far)."""
    from dlxai.report.handout import build_handout

    st.divider()
    st.markdown("#### Handout")
    c1, c2 = st.columns([2, 3])
    answers = c1.toggle("Include the answers (teacher's copy)", key=widget_key(lesson.key, "answers"))
    runs = state.lesson_runs(lesson.key)
    figs = dict(state.lesson_result(lesson.key, "figures") or {})
    made_from = (tuple(r.setting for r in runs), tuple(map(str, (r.values for r in runs))), tuple(figs), answers)
    pdf = state.lesson_handout(lesson.key, made_from)
    if c1.button("Make the handout (PDF)", key=widget_key(lesson.key, "handout")):
        with error_boundary("Making the handout"), st.spinner("Drawing the handout…"):
            figures = [(name, fig) for name, fig in figs.items() if name != "history"]
            if "history" in figs:
                figures.insert(0, ("history", figs["history"]))
            images = state.lesson_result(lesson.key, "handout_images") or ()
            pdf = build_handout(lesson, runs, figures, images=tuple(images), answers=answers)
            state.set_lesson_handout(lesson.key, made_from, pdf)
    if pdf is not None:
        c1.download_button("Download the handout", pdf, file_name=f"{lesson.key}{'_answers' if answers else ''}.pdf",
                           mime="application/pdf", key=widget_key(lesson.key, "download"))
    c2.caption("One to two pages for students: the steps, the questions with room for answers, and your class's own "
               "runs and charts. The teacher's copy adds what students should have seen.")


# --- the bias lab ---------------------------------------------------------------------------------
def dial_settings() -> L.LabSettings:
    d = state.lab_dials()
    return L.LabSettings(d["label_bias"], d["proxy_strength"], d["include_group"], d["seed"])


def lab_dials(lesson: Lesson, step: Step) -> L.LabSettings:
    """The three lab dials (shared with Home; they keep their values across pages) and this step's preset."""
    d = state.lab_dials()
    c1, c2, c3 = st.columns(3)
    c1.slider("Label bias against group B", 0.0, 1.0, step=0.05, help=WORDS["label_bias"][1],
              **state.bind(widget_key(lesson.key, "label_bias"), float(d["label_bias"]),
                           lambda v: state.set_lab_dial("label_bias", v)))
    c2.slider("Proxy strength (neighbourhood reveals the group)", 0.0, 1.0, step=0.05, help=WORDS["proxy_strength"][1],
              **state.bind(widget_key(lesson.key, "proxy_strength"), float(d["proxy_strength"]),
                           lambda v: state.set_lab_dial("proxy_strength", v)))
    c3.toggle("Group is a model input", help=WORDS["group_input"][1],
              **state.bind(widget_key(lesson.key, "include_group"), bool(d["include_group"]),
                           lambda v: state.set_lab_dial("include_group", v)))
    wanted = {k: v for k, v in step.set.items() if k in LAB_DIALS}
    now = state.lab_dials()
    off = {k: v for k, v in wanted.items() if now[k] != v}
    if off:
        shown = ", ".join(f"{k.replace('_', ' ')} {_dial_text(v)}" for k, v in off.items())
        a, b = st.columns([3, 1])
        a.caption(f"This step is written for {shown}. Other settings are fine to explore; the reveal talks about "
                  "these.")
        b.button("Set the dials for this step", key=widget_key(lesson.key, f"{step.key}_preset"),
                 on_click=_preset, args=(wanted,))
    return dial_settings()


def _dial_text(v) -> str:
    return ("on" if v else "off") if isinstance(v, bool) else f"{v:g}"


def _preset(values: dict) -> None:
    for k, v in values.items():
        state.set_lab_dial(k, v)


def lab_model(settings: L.LabSettings, progress=None):
    """The lab for ``settings`` and the lessons' small model trained on it (shared, trained once)."""
    ds = demo_dataset("bias_lab", settings.params())
    model = demo_model(ds, settings.key, L.MODEL_KIND, L.MODEL_PARAMS, L.MODEL_SEED, progress)
    return ds, model


@st.cache_data(show_spinner=False, max_entries=64)
def lab_analysis(_model, model_key: str, _dataset, dataset_key: str, settings: L.LabSettings) -> L.LabRun:
    return L.analyse(_model, _dataset, settings)


def run_lab(lesson: Lesson, step: Step, settings: L.LabSettings, *, keep: bool = True) -> L.LabRun:
    """Generate the lab, train (or fetch) its model, analyse it; with ``keep``, record the run in the history."""
    bar, update = progress_bar(f"Generating the lab ({settings.label}) and training the model…")
    ds, model = lab_model(settings, lambda info: update(0.8 * info.fraction,
                                                         f"Training: epoch {info.epoch}/{info.max_epochs}"))
    update(0.85, "Grading the decisions and explaining 200 of them…")
    run = lab_analysis(model, model.fingerprint, ds, ds.fingerprint, settings)
    bar.empty()
    state.set_lesson_result(lesson.key, "lab", run)
    if keep:
        record(lesson, Run(settings.label, run.record(), step.key))
    return run


def lab_answer(lesson: Lesson, step: Step):
    """A lab step: the dials, Run, and the views the step names (metrics, rates, judged, shares, history)."""
    settings = lab_dials(lesson, step)
    if st.button(step.press or "Run", key=button_key(lesson.key, step.key), type="primary"):
        run_lab(lesson, step, settings)
    run = state.lesson_result(lesson.key, "lab")
    if run is None:
        return None
    return lambda: show_lab(lesson, step, run, settings)


def stale_note(run: L.LabRun, settings: L.LabSettings) -> None:
    if run.settings != settings:
        st.warning(f"These results are for **{run.settings.label}**. The dials now say **{settings.label}**: press "
                   "**Run** to see those.", icon=":material/tune:")


def show_lab(lesson: Lesson, step: Step, run: L.LabRun, settings: L.LabSettings | None = None) -> None:
    if settings is not None:
        stale_note(run, settings)
    judge = state.lesson_value(lesson.key, "judge", RECORDED)
    if "metrics" in step.show:
        lab_metrics(run, judge if "judged" in step.show else RECORDED)
    if "rates" in step.show:
        chart(lesson, "rates", group_metric_bars(run.judged.recorded), "rates")
        st.caption("Graded on the recorded labels, as an auditor with only the data would grade it.")
    if "judged" in step.show:
        judged_view(lesson, run)
    if "shares" in step.show:
        chart(lesson, "shares", share_bars(run.shares), "shares")
    if "history" in step.show:
        st.markdown("##### Your runs compared")
        history_view(lesson)
    use_on_other_pages(run.settings)


def metric_row(audit, selection_rates, groups: dict[str, str]) -> None:
    """One row of metrics with their glossary help: accuracy, DP and EO differences, then the selection rate of
    each group in ``groups`` (group -> its label on screen)."""
    cols = st.columns(3 + len(groups))
    cols[0].metric("Accuracy", f"{audit.overall['accuracy']:.3f}", help=metric_help("accuracy"))
    cols[1].metric("DP difference", f"{audit.summary['demographic_parity_difference']:.3f}",
                   help=metric_help("demographic_parity_difference"))
    cols[2].metric("EO difference", f"{audit.summary['equalized_odds_difference']:.3f}",
                   help=metric_help("equalized_odds_difference"))
    for col, (g, text) in zip(cols[3:], groups.items(), strict=True):
        col.metric(text, f"{float(selection_rates.get(g, np.nan)):.3f}", help=metric_help("selection_rate"))


def lab_metrics(run: L.LabRun, judge: str) -> None:
    audit = run.judged.deserved if judge == DESERVED_LABELS else run.judged.recorded
    sel = run.judged.recorded.by_group["selection_rate"]
    st.markdown(f"Graded against the **{judge}**:")
    metric_row(audit, sel, {"A": "Selection rate A", "B": "Selection rate B"})
    st.caption(f"Model: {run.model_name}, trained on the recorded decisions of the lab ({run.settings.label}). "
               f"Test rows: {int(run.judged.recorded.overall['count']):,}. Share of attribution on neighbourhood: "
               f"{run.share_proxy:.0%}; on group: {run.share_group:.0%}.")
    how_to_read("metrics")


def judged_view(lesson: Lesson, run: L.LabRun) -> None:
    st.markdown("##### Recorded labels against deserved labels")
    st.dataframe(run.judged.summary().style.format("{:.3f}"), width="stretch")
    st.dataframe(run.judged.by_group().style.format("{:.3f}"), width="stretch")
    missing = run.judged.missing
    st.caption("In these test rows, the records turned " + " and ".join(
        f"{v:.0%} of group {g}'s deserved approvals" for g, v in missing.items()) + " into rejections.")
    how_to_read("judged")
    chart(lesson, "judged", judged_bars(run.judged), "judged_bars")


def judge_answer(lesson: Lesson, step: Step):
    """Switch the grading between recorded and deserved labels (no new run: the same decisions)."""
    st.radio("Judge the model against", JUDGES, horizontal=True,
             **state.bind(widget_key(lesson.key, "judge"), state.lesson_value(lesson.key, "judge", RECORDED),
                          lambda v: state.set_lesson_value(lesson.key, "judge", v)))
    run = state.lesson_result(lesson.key, "lab")
    if run is None:
        return None

    def show():
        st.caption(f"The decisions of the last run ({run.settings.label}).")
        lab_metrics(run, state.lesson_value(lesson.key, "judge", RECORDED))
        judged_view(lesson, run)

    return show


def proxy_answer(lesson: Lesson, step: Step):
    """The proxy detector on the lab of the last run (on the data alone: no model needed)."""
    from dlxai.plots.lessons import association_bars

    run = state.lesson_result(lesson.key, "lab")
    settings = run.settings if run is not None else dial_settings()
    st.caption(f"Runs on the lab of your last run: {settings.label}.")
    if st.button(step.press, key=button_key(lesson.key, step.key), type="primary"):
        ds = demo_dataset("bias_lab", settings.params())
        state.set_lesson_result(lesson.key, "association", (settings, proxy_detector(ds, ds.fingerprint)))
    saved = state.lesson_result(lesson.key, "association")
    if saved is None:
        return None

    def show():
        which, assoc = saved
        st.caption(f"Association with the group in the training rows of the lab ({which.label}).")
        chart(lesson, "association", association_bars(assoc), "association")

    return show


@st.cache_data(show_spinner=False, max_entries=32)
def proxy_detector(_dataset, dataset_key: str) -> pd.Series:
    return L.proxy_detector(_dataset)


def use_on_other_pages(settings: L.LabSettings) -> None:
    """Make this lab and its model the active audit, to look further on Fairness, Explanations, …"""
    active = state.dataset_key() == settings.key and state.model() is not None
    if active:
        st.caption("This lab and its model are the active audit: the Fairness, Explanations and Counterfactuals "
                   "pages show them.")
        return
    if st.button("Open this lab and model on the other pages", key=f"lesson_use_{settings.key}"):
        ds, model = lab_model(settings)
        state.set_dataset(ds, settings.key)
        state.set_model(model)
        state.set_sensitive([L.GROUP])
        st.rerun()


# --- mitigation (Adult) -----------------------------------------------------------------------------
ADULT_MODEL_PARAMS = (("hidden_layer_sizes", (32,)), ("max_epochs", 5))
ADULT_SENSITIVE = "sex"
PENALTY_EPOCHS = 3


def mitigate(model, dataset, method: str, constraint: str, **kwargs):
    """The lessons' one call into mitigation: ``dlxai.mitigate(model, dataset, ...)``."""
    import dlxai

    return dlxai.mitigate(model, dataset, method, constraint, **kwargs)


def mitigation_values(result) -> dict:
    """Accuracy, DP and EO of a mitigated model (with intervals), as a history row."""
    row = result.after.row()
    return {k: float(row[k]) for k in ("accuracy", "dp", "dp_lo", "dp_hi", "eo", "eo_lo", "eo_hi")}


def mitigation_table(result, label: str | None = None) -> pd.DataFrame:
    """The before/after table of a mitigation (original model first): each value with its 95% interval."""
    t = result.table()

    def fmt(v, lo, hi):
        return f"{v:.3f}" if np.isnan(lo) else f"{v:.3f}  [{lo:.3f}, {hi:.3f}]"

    return pd.DataFrame({
        "Accuracy": [fmt(r.accuracy, r.accuracy_lo, r.accuracy_hi) for r in t.itertuples()],
        "DP difference": [fmt(r.dp, r.dp_lo, r.dp_hi) for r in t.itertuples()],
        "EO difference": [fmt(r.eo, r.eo_lo, r.eo_hi) for r in t.itertuples()],
        "Selection rate": [f"{r.selection_rate:.3f}" for r in t.itertuples()],
    }, index=["Before: the model as trained",
              *(f"After: {label if label and k == 1 else i}" for k, i in enumerate(t.index) if k)])


def adult_baseline(progress=None):
    ds = demo_dataset("adult")
    return ds, demo_model(ds, "adult", "mlp", ADULT_MODEL_PARAMS, 0, progress)


def adult_mitigation(method: str, constraint: str, strength=None, progress=None):
    """A mitigation of the lesson's Adult model, shared by every visitor (bundled data, fixed settings)."""
    ds, model = adult_baseline()
    opts = {"sensitive": [ADULT_SENSITIVE], "seed": 0, "n_bootstrap": 200}
    if method == "penalised":
        opts.update(strength=float(strength), estimator_params={"max_epochs": PENALTY_EPOCHS})
    key = ("mitigation", model.fingerprint, method, constraint, strength, PENALTY_EPOCHS)
    return shared(key, lambda: mitigate(model, ds, method, constraint, progress=progress, **opts))


@st.cache_data(show_spinner=False, max_entries=8)
def adult_audit(_model, model_key: str, _dataset, dataset_key: str):
    from dlxai.fairness.metrics import audit_fairness

    y_pred = _model.predict(_dataset.frame("test"))
    return audit_fairness(_dataset.y("test"), y_pred, _dataset.sensitive("test", [ADULT_SENSITIVE]),
                          n_bootstrap=200, seed=0)
