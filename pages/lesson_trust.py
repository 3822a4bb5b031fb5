"""Lesson: Which explanation can you trust? — IG, LRP and attention on digits; randomisation and deletion decide."""

import streamlit as st

from dlxai.lessons import digits as D
from dlxai.lessons.history import Run
from dlxai.plots.images import image_heatmaps
from dlxai.plots.lessons import deletion_lines, randomisation_lines
from dlxai.report.handout import HandoutImages
from ui import images as img
from ui import state
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


def _model(kind: str, progress=None) -> dict:
    """The lesson's ``kind`` model (shared by every visitor): estimator, test accuracy, content hash."""
    def make():
        est, acc = D.train(img.digits(), kind, progress)
        return {"estimator": est, "accuracy": acc, "hash": img.model_hash(est)}

    return shared(("digits", kind, D.MODEL_PARAMS[kind]), make)


def _trained() -> list[str]:
    return list(state.lesson_result(KEY, "trained") or [])


def _train(kind: str) -> dict:
    bar, update = progress_bar(f"Training the {D.SHORT[kind]}…")
    entry = _model(kind, lambda info: update(info.fraction, f"{D.SHORT[kind]}: epoch {info.epoch}/{info.max_epochs}"))
    bar.empty()
    state.set_lesson_result(KEY, "trained", list(dict.fromkeys([*_trained(), kind])))
    return entry


def _image_dial(lesson) -> int:
    n = len(img.digits().y("test"))
    return int(st.number_input("Test image", 0, n - 1, step=1, help="Which handwritten digit of the test split to "
                               "explain.", **state.bind(widget_key(KEY, "image"), int(state.lesson_value(KEY, "image", 0)),
                                                        lambda v: state.set_lesson_value(KEY, "image", int(v)))))


def heatmaps_answer(lesson, step):
    """Train one model (one click), pick a digit; its methods' heatmaps side by side."""
    kind = step.action
    if st.button(step.press, key=button_key(KEY, step.key), type="primary"):
        _train(kind)
    index = _image_dial(lesson)
    if kind not in _trained():
        return None

    def show():
        entry = _model(kind)
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


def _models_for_checks() -> dict:
    """Both models, training any the class skipped (so a check always compares all four maps)."""
    return {kind: (_model(kind) if kind in _trained() else _train(kind))["estimator"] for kind in D.MODEL_PARAMS}


def randomise_answer(lesson, step):
    if st.button(step.press, key=button_key(KEY, step.key), type="primary"):
        models = _models_for_checks()
        bar, update = progress_bar("Scrambling layers and explaining again…")
        key = ("randomise", tuple(_model(k)["hash"] for k in models), D.N_SANITY)
        state.set_lesson_result(KEY, "checks", shared(key, lambda: D.randomise(models, img.digits(), progress=update)))
        bar.empty()
    checks = state.lesson_result(KEY, "checks")
    if checks is None:
        return None
    return lambda: chart(lesson, "randomisation", randomisation_lines(checks), "randomisation")


def delete_answer(lesson, step):
    if st.button(step.press, key=button_key(KEY, step.key), type="primary"):
        models = _models_for_checks()
        bar, update = progress_bar("Blanking pixels, most important first…")
        key = ("delete", tuple(_model(k)["hash"] for k in models), D.N_DELETION)
        curves = shared(key, lambda: D.delete(models, img.digits(), progress=update))
        bar.empty()
        state.set_lesson_result(KEY, "curves", curves)
        table = D.checks_table(state.lesson_result(KEY, "checks") or {}, curves)
        for name, row in table.iterrows():
            record(lesson, Run(name, {k: float(row[k]) for k in ("rho", "deletion_auc", "random_deletion_auc")},
                               step.key))
    curves = state.lesson_result(KEY, "curves")
    if curves is None:
        return None

    def show():
        chart(lesson, "deletion", deletion_lines(curves), "deletion")
        st.markdown("##### Both checks")
        table = D.checks_table(state.lesson_result(KEY, "checks") or {}, curves)
        st.dataframe(table.rename(columns={"rho": "ρ after scrambling every layer", "deletion_auc": "deletion area",
                                           "random_deletion_auc": "deletion area, random order"})
                     .style.format(precision=3, na_rep="— (press Scramble the models)"), width="stretch")
        how_to_read("checks")

    return show


lesson_page(KEY, {"cnn": heatmaps_answer, "vit": heatmaps_answer, "randomise": randomise_answer,
                  "delete": delete_answer})
