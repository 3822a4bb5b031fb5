"""Lesson: Clever Hans — a watermark that comes with the 8s is learned as a shortcut; IG and LRP point at it."""

from ui.cleverhans import ANSWERS, KEY
from ui.lessons import lesson_page

lesson_page(KEY, ANSWERS)
