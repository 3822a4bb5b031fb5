"""The lessons as data: every step complete, every word and metric defined, every chart explained."""

from __future__ import annotations

import re

import pytest

from dlxai.errors import UserInputError
from dlxai.lessons import get_lesson
from dlxai.lessons.catalogue import LESSONS
from dlxai.lessons.history import METRICS
from dlxai.lessons.lesson import UNKNOWN_LESSON
from dlxai.lessons.words import HOW_TO_READ, WORDS

LAB_DIALS = {"label_bias", "proxy_strength", "include_group"}
OTHER_DIALS = {"judge", "image", "penalty", "axis", "applicant", "correlation", "shortcut_class"}
VIEWS = {"metrics", "rates", "judged", "shares", "history", "association", "heatmaps", "randomisation", "ink", "deletion",
         "checks", "before_after", "front", "counterfactuals", "burden", "applicant", "samples", "grades",
         "watermark_maps"}


def test_the_six_lessons_of_the_issues_are_there():
    assert [lesson.title for lesson in LESSONS.values()] == [
        "Bias in, bias out", "Blindness is not fairness", "Which explanation can you trust?",
        "The price of fairness", "What would it take?", "Clever Hans: the shortcut"]


@pytest.mark.parametrize("key", list(LESSONS))
def test_every_step_says_what_to_do_look_at_ask_and_reveal(key):
    lesson = get_lesson(key)
    assert 3 <= len(lesson.steps) <= 6 and len({s.key for s in lesson.steps}) == len(lesson.steps)
    for s in lesson.steps:
        for text in (s.title, s.do, s.look, s.question, s.reveal):
            assert text.strip() and "  " not in text, (s.key, text)
        assert s.question.rstrip().endswith("?"), s.key
        assert set(s.set) <= LAB_DIALS | OTHER_DIALS, s.key
        assert s.press or s.set, f"{s.key}: a step is one click or one dial"
        assert set(s.show) <= VIEWS, s.key
        if s.press:
            assert f"**{s.press}**" in s.do, f"{s.key}: the instruction names the button"
        if s.action in ("lab", "applicant", "burden_run"):  # a class can start at any step: it sets every dial
            assert set(s.set) >= LAB_DIALS, s.key
    assert set(lesson.words) <= set(WORDS) and set(lesson.history) <= set(METRICS)
    assert lesson.index(lesson.steps[-1].key) == len(lesson.steps) - 1


def test_every_view_a_step_shows_has_a_how_to_read():
    shown = {v for lesson in LESSONS.values() for s in lesson.steps for v in s.show} - {"history"}
    assert shown <= set(HOW_TO_READ) and "history" in HOW_TO_READ


def test_lesson_markdown_is_balanced():
    """Unbalanced ** or ` would spill bold or code over the rest of a paragraph on screen."""
    for lesson in LESSONS.values():
        for text in (lesson.intro, lesson.summary, *(t for s in lesson.steps for t in (s.do, s.look, s.question,
                                                                                      s.reveal))):
            assert text.count("**") % 2 == 0 and text.count("`") % 2 == 0, text
            assert not re.search(r"\s\*\*\s", text), text


def test_an_unknown_lesson_is_a_user_error():
    with pytest.raises(UserInputError) as e:
        get_lesson("nope")
    assert str(e.value) == UNKNOWN_LESSON.format(key="nope", choices=list(LESSONS))
    with pytest.raises(UserInputError):
        get_lesson("blindness").step("nope")
