"""The handout: one to two pages, the steps and questions, the class's runs; the answers only on request."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pypdf import PdfReader

from dlxai.lessons import get_lesson
from dlxai.lessons.history import Run, history_frame
from dlxai.plots.lessons import front_scatter, history_bars
from dlxai.report.handout import HandoutImages, build_handout, plain


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), " ".join(p.extract_text() for p in reader.pages)


@pytest.fixture(scope="module")
def price_runs():
    return [Run("Original model (no mitigation)", {"accuracy": 0.856, "dp": 0.166, "eo": 0.071}),
            Run("Threshold optimizer: equal selection rates",
                {"accuracy": 0.836, "dp": 0.002, "dp_lo": 0.0, "dp_hi": 0.015, "eo": 0.314})]


def test_a_student_handout_has_the_steps_questions_and_runs_on_at_most_two_pages(price_runs):
    lesson = get_lesson("price_of_fairness")
    figs = [("history", history_bars(history_frame(price_runs, lesson.history))),
            ("front", front_scatter(price_runs, "DP"))]
    pages, text = _text(build_handout(lesson, price_runs, figs, date="2026-01-01"))
    assert 1 <= pages <= 2
    flat = " ".join(text.split())
    for step in lesson.steps:
        assert " ".join(plain(step.question).split())[:40] in flat
    assert "Threshold optimizer: equal selection rates" in flat and "0.836" in flat
    assert "What you should have seen" not in flat


def test_the_teachers_copy_adds_the_reveals():
    lesson = get_lesson("bias_in_bias_out")
    pages, text = _text(build_handout(lesson, [], answers=True))
    assert pages <= 2 and "What you should have seen" in " ".join(text.split())


def test_image_rows_are_drawn():
    lesson = get_lesson("trust_explanations")
    rng = np.random.default_rng(0)
    row = HandoutImages("CNN reads a 3", rng.random((1, 8, 8)), {"IG": rng.normal(size=(1, 8, 8))})
    pages, _ = _text(build_handout(lesson, [Run("CNN · IG", {"rho": 0.9, "deletion_auc": 0.06})], images=(row,)))
    assert pages <= 2


def test_plain_drops_markdown():
    assert plain("Press **Run**, then *look* at `group`.") == "Press Run, then look at group."
