"""Lesson: Blindness is not fairness — hide the group, find the proxy that carries it back in."""

from ui.lessons import lab_answer, lesson_page, proxy_answer

lesson_page("blindness", {"lab": lab_answer, "proxy": proxy_answer})
