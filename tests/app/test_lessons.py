"""AppTest: every lesson walked end to end as a student would, and its numbers say what its reveals claim.

The walk is ``benchmarks/lessons.py``'s :func:`walk` (pick the step, set its dials, press its button), so the
benchmark times exactly what this test checks, with the lessons' own settings.
"""

from __future__ import annotations

from benchmarks.lessons import walk
from dlxai.lessons.catalogue import LESSONS
from dlxai.lessons.lab import LabSettings
from tests.app.conftest import errors_of
from ui import lessons as L
from ui import state


def _clean(at, step, seconds):
    assert not at.exception, (step.key, at.exception)
    assert not errors_of(at), (step.key, errors_of(at))
    assert not any("Nothing to look at yet" in i.value for i in at.info), f"{step.key} showed nothing"
    assert any(f"**Question:** {step.question}" == i.value for i in at.info), step.key


def _runs(at, key: str) -> dict:
    return {r.setting: r.values for r in at.session_state[state.LESSON_RUNS][key]}


def _label(label_bias, proxy, group) -> str:
    return LabSettings(label_bias, proxy, group).label


def test_bias_in_bias_out_then_the_dials_hold_on_home_and_the_handout(app):
    at, timings = walk("bias_in_bias_out", app, on_step=_clean)
    assert [t[0] for t in timings] == [s.key for s in LESSONS["bias_in_bias_out"].steps]
    runs = _runs(at, "bias_in_bias_out")
    fair, half, ninety = (runs[_label(b, 0.5, True)] for b in (0.0, 0.5, 0.9))
    assert fair["dp"] < 0.08 and fair["accuracy_recorded"] == fair["accuracy_deserved"]
    assert half["dp"] > 0.2 and ninety["dp"] > half["dp"]
    # the key point: the more biased the records, the better a model that copies them looks on them
    assert ninety["accuracy_recorded"] > half["accuracy_recorded"]
    assert fair["accuracy_deserved"] > half["accuracy_deserved"] > ninety["accuracy_deserved"]
    assert ninety["accuracy_recorded"] - ninety["accuracy_deserved"] > 0.08
    assert len(at.get("plotly_chart")) >= 2  # the judged bars and the run history

    at.toggle(key=L.widget_key("bias_in_bias_out", "answers")).set_value(True)
    at.button(key=L.widget_key("bias_in_bias_out", "handout")).click().run()
    assert not at.exception and not errors_of(at)
    assert at.get("download_button")

    at.switch_page("pages/home.py").run()  # the dials keep their values on another page
    assert at.slider(key="lab_label_bias").value == 0.9 and at.checkbox(key="lab_group").value is True
    at.switch_page(L.PAGES["bias_in_bias_out"]).run()
    assert at.radio(key=L.widget_key("bias_in_bias_out", "step")).value == 3
    assert at.slider(key=L.widget_key("bias_in_bias_out", "label_bias")).value == 0.9
    at.slider(key=L.widget_key("bias_in_bias_out", "label_bias")).set_value(0.2).run()
    assert any("The dials now say" in w.value for w in at.warning)  # results and dials differ: said so


def test_blindness_is_not_fairness(app):
    at, _ = walk("blindness", app, on_step=_clean)
    runs = _runs(at, "blindness")
    sees, hidden, no_proxy = runs[_label(0.6, 0.9, True)], runs[_label(0.6, 0.9, False)], runs[_label(0.6, 0.0, False)]
    assert sees["share_group"] > 0.08 and hidden["share_group"] == 0.0
    assert 0.15 < hidden["dp"] < sees["dp"]  # hiding the group helps, but the proxy keeps much of the gap
    assert hidden["share_proxy"] > sees["share_proxy"]
    assert no_proxy["dp"] < 0.08
    assert no_proxy["eo_recorded"] - no_proxy["eo_deserved"] > 0.1  # biased labels flag a fair-ish model
    _, assoc = at.session_state[state.LESSON_RESULTS][("blindness", "association")]
    assert assoc.index[0] == "neighbourhood" and assoc.iloc[0] > 0.6


def test_which_explanation_can_you_trust(app):
    from dlxai.lessons import digits as D
    from ui import images

    assert D.EPOCHS == images.DEFAULT_EPOCHS  # the lesson's models are the Images page's
    at, _ = walk("trust_explanations", app, on_step=_clean)
    runs = _runs(at, "trust_explanations")
    assert set(runs) == {"CNN · Integrated gradients", "CNN · LRP-ε", "CNN · LRP-Flat", "ViT · Integrated gradients",
                         "ViT · Attention rollout"}
    ig, eps, flat = runs["CNN · Integrated gradients"], runs["CNN · LRP-ε"], runs["CNN · LRP-Flat"]
    assert ig["rho"] > 0.5 and eps["rho"] > 0.5 and flat["rho"] < 0.5  # over all pixels: IG, LRP-ε fail
    assert ig["rho_ink"] < 0.5 and eps["rho_ink"] < 0.5  # on the digit's own pixels they pass
    assert max(ig["deletion_auc"], eps["deletion_auc"]) < flat["deletion_auc"] < flat["random_deletion_auc"]
    assert len(at.get("plotly_chart")) >= 2  # deletion curves, run history
    assert len(at.session_state[state.LESSON_RESULTS][("trust_explanations", "handout_images")]) == 2
    at.switch_page("pages/images.py").run()  # the Images page shows the lesson's models
    assert {"CNN test accuracy", "ViT test accuracy"} <= {m.label for m in at.metric}


def test_the_price_of_fairness(app):
    at, _ = walk("price_of_fairness", app, on_step=_clean)
    runs = list(at.session_state[state.LESSON_RUNS]["price_of_fairness"])
    base, parity, odds, penalty = (r.values for r in runs)
    assert parity["dp"] < 0.03 < base["dp"] and parity["eo"] > base["eo"]  # closing one gap opens another
    assert odds["eo"] < 0.03 and odds["dp"] > 0.03
    for v in (parity, odds, penalty):
        assert base["accuracy"] - 0.06 < v["accuracy"] <= base["accuracy"] + 0.01
    assert penalty["dp"] < base["dp"] / 2
    assert at.radio(key=L.widget_key("price_of_fairness", "axis")).value == "EO"
    assert len(at.get("plotly_chart")) >= 1  # the front


def test_what_would_it_take(app):
    at, _ = walk("what_would_it_take", app, on_step=_clean)
    runs = _runs(at, "what_would_it_take")
    biased, fair = runs[_label(0.6, 0.9, False)], runs[_label(0.0, 0.9, False)]
    assert biased["burden_B"] > biased["burden_A"]
    assert abs(fair["burden_gap"]) < biased["burden_gap"]


def test_clever_hans_the_shortcut(app):
    from dlxai.lessons.cleverhans import ShortcutSettings

    at, _ = walk("clever_hans", app, on_step=_clean)
    runs = _runs(at, "clever_hans")
    one, zero, half = (runs[ShortcutSettings(c, 8).label] for c in (1.0, 0.0, 0.5))
    area = one["area_share"]
    # correlation 1: the clean 8s are lost, the watermark makes other digits 8s, the explanations point at it
    assert one["class_clean"] < 0.2 and one["hijacked"] > 0.2 and one["accuracy_watermarked"] < 0.8
    assert one["share_ig"] > 5 * area and one["share_lrp"] > 5 * area
    # correlation 0: the shortcut is gone
    assert zero["class_clean"] > 0.95 and zero["hijacked"] < 0.01
    assert abs(zero["accuracy_clean"] - zero["accuracy_watermarked"]) < 0.01
    assert zero["share_ig"] < 1.5 * area and zero["share_lrp"] < 1.5 * area
    # correlation 0.5: clean accuracy hides what the watermarked test set and the explanations show
    assert half["class_clean"] > 0.9 and half["hijacked"] > 0.05 and half["share_ig"] > 2 * area
    assert len(at.get("plotly_chart")) >= 3  # two heatmap rows and the run history
    assert len(at.session_state[state.LESSON_RESULTS][("clever_hans", "handout_images")]) == 3
    at.button(key=L.widget_key("clever_hans", "handout")).click().run()
    assert not at.exception and not errors_of(at) and at.get("download_button")
