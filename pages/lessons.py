"""Lessons: what each classroom lesson teaches, how long it takes, and where to start."""

import streamlit as st

from dlxai.lessons.catalogue import LESSONS
from ui.lessons import PAGES

st.title("Lessons")
st.markdown(
    "Six guided lessons for a class, each a short sequence of steps. Every step asks for **one click or one "
    "dial**, says **what to look at**, asks **a question**, and keeps **the answer** folded away under *What you "
    "should have seen, and why*. Everything runs here, offline, and every step answers in seconds, so a class can "
    "follow along live on a projector or on their own laptops."
)
st.markdown(
    "- **Runs are kept.** Each lesson keeps a history of the settings you tried, as a chart and a table, so a class "
    "can compare them; the dials keep their values when you visit other pages.\n"
    "- **A handout per lesson.** One to two pages with the steps, the questions (with room for answers) and your "
    "class's own runs and charts — or a teacher's copy with the answers.\n"
    "- **Suggested order:** the first two lessons build on each other; the others stand alone."
)
for i, lesson in enumerate(LESSONS.values(), start=1):
    with st.container(border=True):
        a, b = st.columns([4, 1])
        a.markdown(f"**{i}. {lesson.title}** — {lesson.summary}")
        a.caption(f"About {lesson.minutes} minutes · {len(lesson.steps)} steps: "
                  + " → ".join(s.title for s in lesson.steps))
        b.page_link(PAGES[lesson.key], label="Start", icon=":material/play_arrow:")
