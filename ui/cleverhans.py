"""Glue for the Clever Hans lesson: the correlation and shortcut-class dials, training, grading, explaining.

Each setting's model is bundled data with fixed settings, so it is trained once and shared by every visitor
(:func:`ui.lessons.shared`), in this process on one thread, as the Images page trains its nets; its explanation
is shared the same way.  The dials' values live in ``ui.state`` (``lesson_value``), the last run in
``lesson_result``; the frame around the steps is :func:`ui.lessons.lesson_page`'s.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dlxai.data.watermark import watermark_mask
from dlxai.lessons import cleverhans as C
from dlxai.lessons.digits import EPOCHS
from dlxai.lessons.history import Run
from dlxai.lessons.words import WORDS
from dlxai.plots.images import image_heatmaps
from dlxai.plots.lessons import image_strip, outline_mask
from dlxai.report.handout import HandoutImages
from ui import state
from ui.images import MEASURED
from ui.lessons import button_key, history_view, how_to_read, progress_bar, record, shared, widget_key

KEY = "clever_hans"
DEFAULTS = {"correlation": 1.0, "shortcut_class": 8}
N_SAMPLES = (7, 7)  # training images of the shortcut class (first row), and of other digits (second row)
MAX_HANDOUT_ROWS = 3
METHOD_SHORT = {"Integrated gradients": "IG"}


def settings() -> C.ShortcutSettings:
    return C.ShortcutSettings(*(state.lesson_value(KEY, k, v) for k, v in DEFAULTS.items()))


def dials(step) -> C.ShortcutSettings:
    """The two dials and, when they differ from what the step is written for, a button that sets them."""
    now = settings()
    a, b = st.columns([3, 1])
    a.slider(f"Correlation: share of the training {now.shortcut_class}s with the watermark", 0.0, 1.0, step=0.05, help=WORDS["correlation"][1],
             **state.bind(widget_key(KEY, "correlation"), now.correlation,
                          lambda v: state.set_lesson_value(KEY, "correlation", float(v))))
    b.selectbox("Shortcut class", list(range(10)), help=WORDS["shortcut_class"][1],
                **state.bind(widget_key(KEY, "shortcut_class"), now.shortcut_class,
                             lambda v: state.set_lesson_value(KEY, "shortcut_class", int(v))))
    off = {k: v for k, v in step.set.items() if state.lesson_value(KEY, k, DEFAULTS[k]) != v}
    if off:
        a, b = st.columns([3, 1])
        a.caption("This step is written for " + ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in off.items())
                  + ". Other settings are fine to explore; the reveal talks about these.")
        b.button("Set the dials for this step", key=widget_key(KEY, f"{step.key}_preset"), on_click=_preset,
                 args=(dict(step.set),))
    return settings()


def _preset(values: dict) -> None:
    for k, v in values.items():
        state.set_lesson_value(KEY, k, v)


@st.cache_resource(show_spinner=False, max_entries=16)
def data(which: C.ShortcutSettings):
    return C.make_data(which)


def model(which: C.ShortcutSettings) -> dict:
    """The CNN for ``which`` (trained once, shared), with a progress bar: entry with estimator and grades."""
    seconds = MEASURED[C.KIND][0] + 1  # the Images page's measured training time, plus making the data and grading
    bar, update = progress_bar(f"Training the CNN on the digits, {which.label} (about {seconds:.0f} s on an idle "
                               "machine, longer on a busy one)…")

    def build():
        ds = data(which)
        est = C.train(ds, lambda info: update(info.fraction, f"Training the CNN: epoch {info.epoch}/"
                                                              f"{info.max_epochs} ({which.label}, about {seconds:.0f} s "
                                                              "in all on an idle machine)"))
        return {"estimator": est, "grades": C.grade(est, ds)}

    entry = shared(("clever_hans", which, EPOCHS[C.KIND]), build)
    bar.empty()
    return entry


def relevance(which: C.ShortcutSettings, entry: dict) -> C.Relevance:
    with st.spinner("Explaining the watermarked test images with IG and LRP-ε…"):
        return shared(("clever_hans_explain", which, EPOCHS[C.KIND]),
                      lambda: C.explain(entry["estimator"], data(which)))


def _run(lesson, step, which: C.ShortcutSettings, explained: bool) -> None:
    entry = model(which)
    out = C.ShortcutRun(which, entry["grades"], relevance(which, entry) if explained else None)
    previous = state.lesson_result(KEY, "run")
    if not explained and previous is not None and previous.settings == which:
        out = previous  # grading again what was already explained keeps the explanation
    state.set_lesson_result(KEY, "run", out)
    record(lesson, Run(which.label, out.record(), step.key))
    if out.relevance is not None:
        _keep_for_handout(out)


def _keep_for_handout(run: C.ShortcutRun) -> None:
    rows = dict(state.lesson_result(KEY, "handout_rows") or {})
    ex = run.relevance.examples[0]
    rows.pop(run.settings.label, None)
    rows[run.settings.label] = HandoutImages(f"{run.settings.label}: a watermarked {ex.truth} (watermark bottom "
                                             f"left), read as {ex.predicted}", ex.image, ex.maps)
    rows = dict(list(rows.items())[-MAX_HANDOUT_ROWS:])
    state.set_lesson_result(KEY, "handout_rows", rows)
    state.set_lesson_result(KEY, "handout_images", tuple(rows.values()))


# --- the steps ---------------------------------------------------------------------------------------
def data_answer(lesson, step):
    """Turning the dials is the step: the training images of that setting, watermark outlined."""
    which = dials(step)
    return lambda: show_samples(which)


def button_answer(lesson, step):
    """Train (``train``), explain (``explain``, training first if needed) or both (``train_explain``)."""
    which = dials(step)
    if st.button(step.press, key=button_key(KEY, step.key), type="primary"):
        _run(lesson, step, which, explained=step.action != "train")
    run = state.lesson_result(KEY, "run")
    if run is None or (step.action != "train" and run.relevance is None):
        return None
    return lambda: show_run(lesson, step, run, which)


ANSWERS = {"data": data_answer, "train": button_answer, "explain": button_answer, "train_explain": button_answer}


# --- the views ---------------------------------------------------------------------------------------
def show_samples(which: C.ShortcutSettings) -> None:
    ds = data(which)
    c = which.shortcut_class
    y, marked = ds.y("train"), ds.extra["marked_train"]
    own = np.flatnonzero(y == c)[:N_SAMPLES[0]]
    others = np.flatnonzero(y != c)[:N_SAMPLES[1]]
    picks = np.concatenate([own, others])
    titles = [f"{y[i]}{' · marked' if marked[i] else ''}" for i in picks]
    fig = image_strip(ds.images("train")[picks], titles, mask=watermark_mask(ds.image_shape), per_row=N_SAMPLES[0],
                      title=f"Training images ({which.label}): {len(own)} of the {c}s, then other digits")
    st.plotly_chart(fig, key=f"lesson_{KEY}_samples")
    n_own = int((y == c).sum())
    st.caption(f"{int(marked.sum())} of the {n_own} training {c}s carry the watermark; none of the other "
               f"{len(y) - n_own:,} training images do. The {len(ds.y('test'))} test images carry none.")
    how_to_read("samples")


def stale_note(run: C.ShortcutRun, which: C.ShortcutSettings) -> None:
    if run.settings != which:
        st.warning(f"These results are for **{run.settings.label}**. The dials now say **{which.label}**: press "
                   "the button above to see those.", icon=":material/tune:")


def show_run(lesson, step, run: C.ShortcutRun, which: C.ShortcutSettings) -> None:
    stale_note(run, which)
    if "grades" in step.show:
        show_grades(run)
    if "watermark_maps" in step.show and run.relevance is not None:
        show_relevance(run)
    if "history" in step.show:
        st.markdown("##### Your runs compared")
        history_view(lesson)


def show_grades(run: C.ShortcutRun) -> None:
    g, c = run.grades, run.settings.shortcut_class
    st.markdown(f"The CNN trained with the **{run.settings.label}**, graded on test images it never saw:")
    cols = st.columns(4)
    cols[0].metric("Accuracy, clean test", f"{g.accuracy_clean:.3f}", help=WORDS["clean_test"][1])
    cols[1].metric("Accuracy, watermarked test", f"{g.accuracy_watermarked:.3f}",
                   help=WORDS["watermarked_test"][1])
    cols[2].metric(f"Clean {c}s recognised", f"{g.class_clean:.0%}",
                   help=f"Of the clean test images of a {c}, the share the model reads as {c}.")
    cols[3].metric(f"Other digits read as {c}", f"{g.hijacked:.0%}",
                   help=f"Of the test images of the other digits, each stamped with the watermark, the share the "
                        f"model reads as {c}. Without the watermark hardly any are.")
    how_to_read("grades")


def show_relevance(run: C.ShortcutRun) -> None:
    rel, c = run.relevance, run.settings.shortcut_class
    st.markdown("##### Where the model looks")
    mask = watermark_mask(rel.examples[0].image.shape)
    for i, ex in enumerate(rel.examples):
        title = (f"A watermarked {ex.truth} (test image {ex.index}), read as {ex.predicted} "
                 f"(p = {ex.probability:.2f}); maps for '{ex.predicted}'")
        fig = outline_mask(image_heatmaps(ex.image, ex.maps, title=title, height=300), mask, 1 + len(ex.maps))
        st.plotly_chart(fig, key=f"lesson_{KEY}_maps_{i}")
    how_to_read("watermark_maps")
    cols = st.columns(len(rel.shares) + 1)
    for col, (name, share) in zip(cols, rel.shares.items(), strict=False):
        col.metric(f"{METHOD_SHORT.get(name, name)}: share on the watermark", f"{share:.0%}",
                   help=WORDS["watermark_share"][1])
    cols[-1].metric("Watermark's share of the image", f"{rel.area_share:.0%}", help=WORDS["watermark"][1])
    times = " and ".join(f"{METHOD_SHORT.get(name, name)} {share / rel.area_share:.1f}×"
                         for name, share in rel.shares.items())
    st.caption(f"Mean over the {rel.n_images} watermarked test images of the {c}s, each explained for '{c}': "
               f"{times} the watermark's share of the image.")
