"""A one-to-two-page student handout for a lesson: its steps and questions, and the class's own runs.

Drawn with the report's PDF primitives (:class:`dlxai.report.pdf.Document`); charts are the page's plotly
figures rendered with matplotlib (no browser, a fraction of a second each).  The reveals are left out unless
``answers=True`` (the teacher's copy), and each question gets room for an answer.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
from dataclasses import dataclass

import numpy as np

from dlxai import __version__
from dlxai.lessons.history import METRICS, Run, history_frame
from dlxai.lessons.lesson import Lesson
from dlxai.lessons.words import WORDS
from dlxai.report import charts
from dlxai.report.pdf import ACCENT, GREY, ChartSpec, Document

ANSWER_SPACE_MM = 11
CHART_HEIGHT = 330
HISTORY_HEIGHT = 300


@dataclass(frozen=True)
class HandoutImages:
    """A row of image heatmaps for the handout: the input and one signed map per method."""

    title: str
    image: np.ndarray
    maps: dict


def plain(markdown: str) -> str:
    """The lesson's Markdown as plain text: no ``**``, ``*`` or backticks."""
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", str(markdown))
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    return text.replace("`", "")


def _heatmap_png(row: HandoutImages, width_px: int = 900) -> bytes:
    """The image in grey and each map in red/blue, side by side (matplotlib; plotly's subplots don't convert)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [("input", row.image, "gray_r", None), *((n, m, "RdBu_r", "signed") for n, m in row.maps.items())]
    fig = Figure(figsize=(width_px / 100, 2.1), dpi=100)
    FigureCanvasAgg(fig)
    for i, (name, values, cmap, signed) in enumerate(panels, start=1):
        z = np.asarray(values, dtype=float)
        while z.ndim > 2:
            z = z.sum(axis=0)
        ax = fig.add_subplot(1, len(panels), i)
        m = float(np.abs(z).max()) or 1.0
        ax.imshow(z, cmap=cmap, vmin=-m if signed else None, vmax=m if signed else None)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(row.title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _steps(doc: Document, lesson: Lesson, answers: bool) -> None:
    for i, step in enumerate(lesson.steps, start=1):
        doc.pdf.set_font("DejaVuSans", "B", 10)
        doc.pdf.multi_cell(0, 5, f"Step {i}. {step.title}", new_x="LMARGIN", new_y="NEXT")
        doc.para(f"Do: {plain(step.do)}  Look at: {plain(step.look)}", 8.5)
        doc.para(f"Question: {plain(step.question)}", 9, "B")
        if answers:
            doc.para(f"What you should have seen: {plain(step.reveal)}", 8, "I", GREY)
        else:
            y = doc.pdf.get_y() + ANSWER_SPACE_MM - 2
            doc.pdf.set_draw_color(190, 190, 190)
            doc.pdf.line(doc.pdf.l_margin, y, doc.pdf.l_margin + doc.epw, y)
            doc.pdf.set_draw_color(0, 0, 0)
            doc.space(ANSWER_SPACE_MM)


def _runs_table(doc: Document, lesson: Lesson, runs: list[Run]) -> None:
    frame = history_frame(runs, [k for k in lesson.history if any(k in r.values for r in runs)])
    header = ["#", "Setting", *(METRICS[k] for k in frame.columns)]
    rows = [[str(i), setting, *("—" if np.isnan(v) else f"{v:.3f}" for v in values)]
            for i, (setting, values) in enumerate(zip(frame.index, frame.to_numpy(dtype=float), strict=True), start=1)]
    doc.table(header, rows, widths=[0.4, 3.2, *[1.3] * len(frame.columns)], size=7.5)


def build_handout(lesson: Lesson, runs: list[Run], figures=(), *, images: tuple[HandoutImages, ...] = (),
                  answers: bool = False, date: str | None = None) -> bytes:
    """The handout of ``lesson`` as PDF bytes.

    ``runs`` is the class's run history (printed as a table); ``figures`` are ``(label, plotly figure)`` pairs
    from the page, drawn two to a row (the one labelled ``"history"`` across the page); ``images`` are heatmap
    rows (the digits lesson).
    """
    date = date or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")
    copy = "teacher's copy with answers" if answers else "student handout"
    doc = Document(title=f"{lesson.title} - {copy}", author="dlxai", creator=f"dlxai {__version__}",
                   footer=f"dlxai lesson - {lesson.title} - {copy} - {date}", chart_engine=charts.MATPLOTLIB,
                   chart_width=900)
    try:
        figures = list(figures)
        history = [k for k, (label, _) in enumerate(figures) if label == "history"][:1]
        doc.prefetch([ChartSpec(f"fig{i}", label, lambda f=fig: f, 1 if i in history else 2,
                                HISTORY_HEIGHT if i in history else CHART_HEIGHT)
                      for i, (label, fig) in enumerate(figures)])
        doc.new_page()
        doc.pdf.set_font("DejaVuSans", "B", 17)
        doc.pdf.set_text_color(*ACCENT)
        doc.pdf.cell(0, 9, lesson.title, new_x="LMARGIN", new_y="NEXT")
        doc.pdf.set_text_color(0, 0, 0)
        doc.para(plain(lesson.summary), 9.5, "I")
        doc.para("Name: ______________________    Class: __________    Date: " + date, 9)
        doc.para(plain(lesson.intro), 8.5)
        doc.para("Words: " + " · ".join(f"{WORDS[k][0]}: {plain(WORDS[k][1])}" for k in lesson.words), 7.5,
                 color=GREY)
        _steps(doc, lesson, answers)
        if runs or figures or images:
            doc.h2("Your class's runs")
        if runs:
            _runs_table(doc, lesson, runs)
        for row in images:
            png = _heatmap_png(row)
            h = doc.epw * 210 / 900
            if doc.pdf.get_y() + h > doc.pdf.h - 18:
                doc.new_page()
            doc.pdf.image(io.BytesIO(png), x=doc.pdf.l_margin, y=doc.pdf.get_y(), w=doc.epw, h=h)
            doc.pdf.set_y(doc.pdf.get_y() + h + 1)
        for i in history:  # the run history across the page, the step charts two to a row
            doc.charts([f"fig{i}"])
        keys = [f"fig{i}" for i in range(len(figures)) if i not in history]
        for k in range(0, len(keys), 2):
            doc.charts(keys[k:k + 2])
        return doc.output()
    finally:
        doc.close()
