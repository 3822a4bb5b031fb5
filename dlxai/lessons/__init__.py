"""Classroom lessons: guided steps over the bias lab, the digits and Adult, each answering in seconds.

- :mod:`dlxai.lessons.lesson` — what a lesson and a step are; :func:`get_lesson`.
- :mod:`dlxai.lessons.catalogue` — the six lessons, as data (texts the page, the handout and the benchmark share).
- :mod:`dlxai.lessons.words` — the lessons' plain-language definitions and a "how to read this" per chart.
- :mod:`dlxai.lessons.deserved` — every metric against the deserved labels as well as the recorded ones.
- :mod:`dlxai.lessons.lab` — the bias lab's dials, the small model, one run's analysis, the proxy detector.
- :mod:`dlxai.lessons.digits` — the digits lesson's models, randomisation checks and deletion curves.
- :mod:`dlxai.lessons.cleverhans` — the Clever Hans lesson: a CNN on watermarked digits, graded and explained.
- :mod:`dlxai.lessons.history` — the run history that lets a class compare settings.

The engine part of the lessons: it never imports streamlit or a plotting library (figures are in
:mod:`dlxai.plots.lessons`, the handout in :mod:`dlxai.report.handout`).
"""

from dlxai.lessons.lesson import Lesson, Step, get_lesson

__all__ = ["Lesson", "Step", "get_lesson"]
