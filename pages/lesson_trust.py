"""Lesson: Which explanation can you trust? — IG, LRP and attention on digits; randomisation and deletion decide."""

import streamlit as st

from dlxai.lessons import digits as D
from dlxai.lessons.history import Run
from dlxai.plots.images import image_heatmaps
from dlxai.plots.lessons import deletion_lines, randomisation_lines
from dlxai.report.handout import HandoutImages
from ui import images as img
from ui import jobs, state
from ui.lessons import (
    button_key,
    chart,
    how_to_read,
    lesson_page,
    progress_bar,
    record,
    shared,
    widget_key,
)

KEY = "trust_explanations"


def _model(kind: str) -> dict:
    """Train (or fetch) the lesson's ``kind`` model: the Images page's (same epochs, seed 0), shared by every
    visitor and trained once in the job runner; it shows on the Images page too.  Entry: estimator, test
    accuracy, content hash."""
    return img.train(kind, D.EPOCHS[kind], D.SEED)


def _entry(kind: str) -> dict | None:
    """The lesson's ``kind`` model if this session trained it (and it is still in the shared registry)."""
    if state.image_models().get(kind) != (kind, D.EPOCHS[kind], D.SEED):
        return None
    return img.trained().get(kind)


def _image_dial(lesson) -> int:
    n = len(img.digits().y("test"))
    return int(st.number_input("Test image", 0, n - 1, step=1, help="Which handwritten digit of the test split to "
                               "explain.", **state.bind(widget_key(KEY, "image"), int(state.lesson_value(KEY, "image", 0)),
                                                        lambda v: state.set_lesson_value(KEY, "image", int(v)))))


def heatmaps_answer(lesson, step):
    """Train one model (one click), pick a digit; its methods' heatmaps side by side."""
    kind = step.action
    if st.button(step.press, key=button_key(KEY, step.key), type="primary"):
        _model(kind)
    index = _image_dial(lesson)
    entry = _entry(kind)
    if entry is None:
        return None

    def show():
        est = entry["estimator"]
        ds = img.digits()
        image = ds.images("test")[index]
        pred, proba = img.predict_one(est, image)
        maps = {}
        for method, name, params in D.METHODS[kind]:
            maps[name], _ = img.heatmap(est, entry["hash"], index, method, params, pred)
        st.metric(f"{D.SHORT[kind]} test accuracy", f"{entry['accuracy']:.3f}")
        title = (f"{D.SHORT[kind]} reads test image {index} (truly a {int(ds.y('test')[index])}) as a {pred} "
                 f"(p = {proba.max():.2f})")
        chart(lesson, f"heatmaps_{kind}", image_heatmaps(image, maps, title=title), "heatmaps")
        rows = dict(state.lesson_result(KEY, "handout_rows") or {})
        rows[kind] = HandoutImages(title, image, maps)
        state.set_lesson_result(KEY, "handout_rows", rows)
        state.set_lesson_result(KEY, "handout_images", tuple(rows.values()))

    return show


def _job(fn, what: str, text: str):
    """``fn(models, digits)`` for both models (training any the class skipped) in the job runner, shared by every
    visitor: the same models give the same checks."""
    entries = {kind: _entry(kind) or _model(kind) for kind in D.EPOCHS}
    models = {kind: e["estimator"] for kind, e in entries.items()}
    bar, update = progress_bar(text)
    key = (what, tuple(e["hash"] for e in entries.values()), D.N_SANITY, D.N_DELETION)
    out = shared(key, lambda: jobs.run(fn, models, img.digits(), progress=update, label=text, threads=1))
    bar.empty()
    return out


def randomise_answer(lesson, step):
    if st.button(step.press, key=button_key(KEY, step.key), type="primary"):
        state.set_lesson_result(KEY, "checks", _job(D.randomise_all, "randomise",
                                                    "Scrambling layers and explaining again…"))
    saved = state.lesson_result(KEY, "checks")
    if saved is None:
        return None
    checks, ink = saved

    def show():
        chart(lesson, "randomisation", randomisation_lines(checks), "randomisation")
        st.markdown("##### The same check on the digit's own pixels")
        table = D.checks_table(checks, {}, ink)[["rho", "rho_ink"]]
        st.dataframe(table.rename(columns={"rho": "ρ, all 64 pixels", "rho_ink": "ρ, the digit's inked pixels only"})
                     .style.format("{:.2f}"), width="stretch")
        how_to_read("ink")

    return show


def delete_answer(lesson, step):
    if st.button(step.press, key=button_key(KEY, step.key), type="primary"):
        curves = _job(D.delete, "delete", "Blanking pixels, most important first…")
        state.set_lesson_result(KEY, "curves", curves)
        checks, ink = state.lesson_result(KEY, "checks") or ({}, {})
        for name, row in D.checks_table(checks, curves, ink).iterrows():
            record(lesson, Run(name, {k: float(row[k]) for k in ("rho", "rho_ink", "deletion_auc",
                                                                 "random_deletion_auc")}, step.key))
    curves = state.lesson_result(KEY, "curves")
    if curves is None:
        return None

    def show():
        chart(lesson, "deletion", deletion_lines(curves), "deletion")
        st.markdown("##### Both checks")
        checks, ink = state.lesson_result(KEY, "checks") or ({}, {})
        table = D.checks_table(checks, curves, ink)
        st.dataframe(table.rename(columns={"rho": "ρ, all pixels", "rho_ink": "ρ, digit's pixels",
                                           "deletion_auc": "deletion area",
                                           "random_deletion_auc": "deletion area, random order"})
                     .style.format(precision=3, na_rep="— (press Scramble the models)"), width="stretch")
        how_to_read("checks")

    return show


lesson_page(KEY, {"cnn": heatmaps_answer, "vit": heatmaps_answer, "randomise": randomise_answer,
                  "delete": delete_answer})
