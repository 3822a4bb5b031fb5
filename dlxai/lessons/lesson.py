"""What a lesson is: steps as data, so the dashboard, the handout and the benchmark read the same text.

A :class:`Step` says what the students do (one click or one dial), what they look at, the question they
answer and the reveal ("what you should have seen, and why").  ``set`` names the dials the step assumes and
their values — all of the lab's dials for a lab step, so a class can start at any step (``do`` says which one to
turn); ``press`` the button that answers it (empty: turning the dial is the whole step).  ``show``
names the views the page draws for the step, ``action`` which computation answers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlxai.errors import UserInputError

UNKNOWN_LESSON = "Unknown lesson {key!r}. Choose one of: {choices}."
UNKNOWN_STEP = "Lesson {lesson!r} has no step {step!r}. Its steps: {choices}."


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    do: str
    look: str
    question: str
    reveal: str
    action: str
    set: dict = field(default_factory=dict)
    press: str = ""
    show: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    summary: str
    minutes: int
    data: str  # "bias_lab", "digits" or "adult": what the lesson runs on
    intro: str  # who is who, what the dials do (Markdown)
    words: tuple[str, ...]  # keys of dlxai.lessons.words.WORDS the lesson uses
    steps: tuple[Step, ...]
    history: tuple[str, ...] = ()  # keys of dlxai.lessons.history.METRICS its run history shows

    def step(self, key: str) -> Step:
        for s in self.steps:
            if s.key == key:
                return s
        raise UserInputError(UNKNOWN_STEP.format(lesson=self.key, step=key, choices=[s.key for s in self.steps]))

    def index(self, key: str) -> int:
        return self.steps.index(self.step(key))


def get_lesson(key: str) -> Lesson:
    from dlxai.lessons.catalogue import LESSONS

    if key not in LESSONS:
        raise UserInputError(UNKNOWN_LESSON.format(key=key, choices=list(LESSONS)))
    return LESSONS[key]
