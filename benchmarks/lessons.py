"""Time every lesson step as a student meets it: each lesson walked end to end in the real app (AppTest).

Prints one JSON line per lesson: {"lesson", "steps", "slowest_step", "slowest_s", "total_s", "slowest_cpu_s"},
where a step's time is the app's answer to its one click or dial (the rerun after it), from cold caches: every
lesson starts with empty ``st.cache_data`` / ``st.cache_resource``, as in a class where nobody ran it yet.  The
goal is every step ≤ 30 s on two idle cores; ``slowest_cpu_s`` (the process's CPU seconds in the slowest step,
all threads) tells what the step needs when the machine is shared and wall-clock times are inflated.  Usage: ``python benchmarks/lessons.py [--lesson KEY ...] [--warm] [--load N]``.

:func:`walk` is also what ``tests/app/test_lessons.py`` runs, so the test and the benchmark take the same path.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APP = str(ROOT / "app.py")


def walk(lesson_key: str, at=None, on_step=None, timeout: float = 300):
    """Walk lesson ``lesson_key`` step by step in an AppTest ``at`` (a fresh app when None).

    Each step: pick it, set the dials it names (``step.set``), press its button (``step.press``), rerun.
    ``on_step(at, step, seconds)`` is called after each.  Returns ``(at, [(step key, seconds, cpu seconds), ...])``.
    """
    from streamlit.testing.v1 import AppTest

    from dlxai.lessons import get_lesson
    from ui.lessons import DIALS, PAGES, button_key, widget_key

    lesson = get_lesson(lesson_key)
    at = at if at is not None else AppTest.from_file(APP, default_timeout=timeout).run()
    at.switch_page(PAGES[lesson_key]).run()
    timings = []
    for i, step in enumerate(lesson.steps):
        at.radio(key=widget_key(lesson_key, "step")).set_value(i).run()
        for dial, value in step.set.items():
            getattr(at, DIALS[dial])(key=widget_key(lesson_key, dial)).set_value(value)
        t, cpu = time.perf_counter(), time.process_time()
        if step.press:
            at.button(key=button_key(lesson_key, step.key)).click()
        at.run()
        seconds = time.perf_counter() - t
        timings.append((step.key, seconds, time.process_time() - cpu))
        if on_step is not None:
            on_step(at, step, seconds)
    return at, timings


def main() -> None:
    import logging

    import streamlit as st
    from _common import add_load_option, start_load

    from dlxai.lessons.catalogue import LESSONS

    ap = add_load_option(argparse.ArgumentParser())
    ap.add_argument("--lesson", action="append", choices=list(LESSONS), help="only these lessons (repeatable)")
    ap.add_argument("--warm", action="store_true", help="keep the caches between lessons")
    args = ap.parse_args()
    start_load(args.load)
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime" notes of the bare AppTest process
    for key in args.lesson or list(LESSONS):
        if not args.warm:
            st.cache_data.clear()
            st.cache_resource.clear()
        errors: list[str] = []

        def check(at, step, seconds, errors=errors):
            if at.exception or at.error:
                errors.append(f"{step.key}: {[e.value for e in at.exception] + [e.value for e in at.error]}")

        _, timings = walk(key, on_step=check)
        slowest = max(timings, key=lambda t: t[1])
        record = {"lesson": key, "steps": len(timings), "slowest_step": slowest[0], "slowest_s": round(slowest[1], 2),
                  "total_s": round(sum(t[1] for t in timings), 2), "slowest_cpu_s": round(slowest[2], 2), "load": args.load}
        if errors:
            record["errors"] = errors
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
