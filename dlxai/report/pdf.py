"""PDF primitives (fpdf2): headings, paragraphs, bullets, tables, key-value tables and charts on A4 pages.

Knows nothing about audits: :mod:`dlxai.report.builder` and :mod:`dlxai.report.renderers` say what goes on the
pages, this module how it is laid out.  Text is set in DejaVu Sans, the font matplotlib ships (a pinned dependency),
embedded as a subset: group names and values from uploaded data print as they are (Łódź, Ελλάδα, Москва, ≤, —), the
same on every machine.  Characters the font lacks (e.g. CJK) print as blanks.  Charts are plotly figures rendered by
:mod:`dlxai.report.charts`, either when placed or prefetched in one worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dlxai.report import charts, messages

FONT = "DejaVuSans"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf",
               "BI": "DejaVuSans-BoldOblique.ttf"}
ACCENT = (37, 99, 235)
FAIL_RGB = (220, 38, 38)
PASS_RGB = (22, 163, 74)
GREY = (120, 120, 120)


def _font_dir():
    from pathlib import Path

    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _pdf_class():
    """fpdf2's FPDF with the DejaVu fonts and a footer (imported here: fpdf2 loads only when a PDF is drawn)."""
    from fpdf import FPDF

    class _PDF(FPDF):
        footer_text = ""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            fonts = _font_dir()
            for style, name in _FONT_FILES.items():
                self.add_font(FONT, style, str(fonts / name))

        def footer(self):
            self.set_y(-12)
            self.set_font(FONT, size=7)
            self.set_text_color(*GREY)
            self.cell(0, 5, str(self.footer_text), align="L")
            self.set_x(-40)
            self.cell(30, 5, f"Page {self.page_no()}/{{nb}}", align="R")
            self.set_text_color(0, 0, 0)

    return _PDF


@dataclass(frozen=True)
class ChartSpec:
    """A chart to prefetch: drawn by ``make()``, placed by ``key``, ``per_row`` side by side, ``height`` px tall."""

    key: str
    label: str
    make: Callable[[], Any]
    per_row: int
    height: int


class Document:
    """An A4 document being written top to bottom; :meth:`output` gives its bytes."""

    def __init__(self, *, title: str, author: str, creator: str, footer: str, chart_engine: str = charts.AUTO,
                 chart_width: int = 900, progress: Callable[[str], None] | None = None):
        self.engine = chart_engine
        self.chart_width = chart_width
        self.progress = progress or (lambda message: None)
        self.engines: dict[str, int] = {}  # chart engine -> charts rendered with it
        self.pending: dict = {}
        self.pool = None
        self.pdf = _pdf_class()(orientation="P", unit="mm", format="A4")
        self.pdf.footer_text = footer
        self.pdf.set_auto_page_break(True, margin=16)
        self.pdf.set_margins(15, 15, 15)
        self.pdf.set_title(title)
        self.pdf.set_author(author)
        self.pdf.set_creator(creator)

    # --- pages and text -----------------------------------------------------------------------
    @property
    def epw(self) -> float:
        return self.pdf.epw

    @property
    def pages(self) -> int:
        return self.pdf.page_no()

    def new_page(self) -> None:
        self.pdf.add_page()

    def space(self, mm: float) -> None:
        self.pdf.ln(mm)

    def room(self) -> bool:
        """Short sections share a page when the current one is less than 60% full."""
        return self.pdf.page_no() > 1 and self.pdf.get_y() < self.pdf.h * 0.6

    def title_page(self, outline: str, title: str, subtitle: str) -> None:
        """A new page with ``title`` and ``subtitle`` centred a third of the way down."""
        pdf = self.pdf
        pdf.add_page()
        pdf.start_section(outline, level=0)
        pdf.set_y(60)
        pdf.set_font(FONT, "B", 24)
        pdf.set_text_color(*ACCENT)
        pdf.multi_cell(0, 11, str(title), align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(4)
        pdf.set_font(FONT, "", 13)
        pdf.multi_cell(0, 7, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(14)

    def h1(self, text: str, new_page: bool = True) -> None:
        if new_page:
            self.pdf.add_page()
        self.pdf.start_section(str(text), level=0)
        self.pdf.set_font(FONT, "B", 16)
        self.pdf.set_text_color(*ACCENT)
        self.pdf.cell(0, 10, str(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)
        self.pdf.ln(2)

    def h2(self, text: str) -> None:
        if self.pdf.get_y() > self.pdf.h - 50:
            self.pdf.add_page()
        self.pdf.start_section(str(text), level=1)
        self.pdf.set_font(FONT, "B", 12)
        self.pdf.cell(0, 8, str(text), new_x="LMARGIN", new_y="NEXT")

    def para(self, text: str, size: float = 10, style: str = "", color=None) -> None:
        self.pdf.set_font(FONT, style, size)
        if color:
            self.pdf.set_text_color(*color)
        self.pdf.multi_cell(0, size * 0.5, str(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)
        self.pdf.ln(1.5)

    def bullets(self, items, size: float = 10) -> None:
        self.pdf.set_font(FONT, "", size)
        for item in items:
            self.pdf.set_x(self.pdf.l_margin)
            self.pdf.cell(5, size * 0.5, "-")
            self.pdf.multi_cell(0, size * 0.5, str(item), new_x="LMARGIN", new_y="NEXT")
            self.pdf.ln(0.8)
        self.pdf.ln(1)

    # --- tables -------------------------------------------------------------------------------
    def _wrap(self, text: str, width: float) -> list[str]:
        """Greedy word wrap by the font's widths (fpdf2's table() is ~20x slower for our plain tables)."""
        pdf = self.pdf
        out = []
        for para in text.split("\n"):
            line = ""
            for word in para.split(" "):
                cand = f"{line} {word}" if line else word
                if pdf.get_string_width(cand) <= width:
                    line = cand
                    continue
                if line:
                    out.append(line)
                while pdf.get_string_width(word) > width and len(word) > 1:  # hashes, long tokens
                    cut = self._cut(word, width)
                    out.append(word[:cut])
                    word = word[cut:]
                line = word
            out.append(line)
        return out or [""]

    def _cut(self, word: str, width: float) -> int:
        """Where to break a token wider than ``width``: after its last '.', '_', '-', '/' or ',' that fits (a
        dotted key breaks between its names, never inside one), else at the last character that fits (a hash)."""
        pdf = self.pdf
        cut = max(1, int(len(word) * width / pdf.get_string_width(word)))
        while cut > 1 and pdf.get_string_width(word[:cut]) > width:
            cut -= 1
        seps = [i + 1 for i in range(1, cut) if word[i] in "._-/,"]
        return seps[-1] if seps else cut

    def _row(self, cells, col_w, size: float, bold: bool, header) -> None:
        """One table row, its cells wrapped to the tallest; a row that does not fit starts a page (and repeats
        the header there)."""
        pdf, lh, pad = self.pdf, size * 0.45, 1.0
        pdf.set_font(FONT, "B" if bold else "", size)
        lines = [self._wrap(str(c), w - 2 * pad) for c, w in zip(cells, col_w, strict=False)]
        h = max(len(x) for x in lines) * lh + 2 * pad
        if pdf.get_y() + h > pdf.h - pdf.b_margin:
            pdf.add_page()
            if header is not None and not bold:
                self._row(header, col_w, size, True, header)
                pdf.set_font(FONT, "", size)
        x0, y0 = pdf.l_margin, pdf.get_y()
        if bold:
            pdf.set_fill_color(235, 240, 250)
        x = x0
        for ls, w in zip(lines, col_w, strict=False):
            pdf.rect(x, y0, w, h, style="DF" if bold else "D")
            for j, line in enumerate(ls):
                pdf.set_xy(x + pad, y0 + pad + j * lh)
                pdf.cell(w - 2 * pad, lh, line)
            x += w
        pdf.set_xy(x0, y0 + h)

    def table(self, header, rows, widths=None, size: float = 8.5) -> None:
        """``rows`` under a bold ``header`` (None: no header), column widths in proportion to ``widths``."""
        if not rows:
            return
        rel = list(widths or [1] * len(rows[0]))
        col_w = [self.epw * r / sum(rel) for r in rel]
        self.pdf.set_draw_color(200, 200, 200)
        if header is not None:
            self._row(header, col_w, size, True, header)
        for row in rows:
            self._row(row, col_w, size, False, header)
        self.pdf.set_draw_color(0, 0, 0)
        self.pdf.ln(3)

    def kv(self, pairs, size: float = 9) -> None:
        """A two-column table of (name, value) pairs; the name column is as wide as the longest name (within a
        quarter and three fifths of the page), so names print whole and the values wrap."""
        pairs = [(str(k), v) for k, v in pairs]
        if not pairs:
            return
        self.pdf.set_font(FONT, "", size)
        longest = max(self.pdf.get_string_width(k) for k, _ in pairs) + 3.0  # the cells' padding and a margin
        name_w = min(max(longest, self.epw * 0.25), self.epw * 0.6)
        self.table(None, pairs, widths=(name_w, self.epw - name_w), size=size)

    # --- charts -------------------------------------------------------------------------------
    def prefetch(self, specs: list[ChartSpec]) -> None:
        """Build every figure now and render them in one worker thread, in order, so the browser draws while
        this thread writes the tables (the worker only waits on the browser or runs matplotlib)."""
        from concurrent.futures import ThreadPoolExecutor

        if not specs:
            return
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="dlxai-charts")
        for s in specs:
            width = max(int(self.chart_width / s.per_row), 660)  # half-width charts keep their titles
            self.pending[s.key] = (s.label, self.pool.submit(charts.render_png, s.make(), width, s.height, self.engine))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _count(self, r) -> None:
        key = r.engine or "none"
        self.engines[key] = self.engines.get(key, 0) + 1

    def chart(self, fig, label: str, height_px: int | None = None) -> None:
        """A chart not prefetched, rendered now, across the page."""
        self.progress(messages.RENDERING_CHART.format(label=label))
        r = charts.render_png(fig, width=self.chart_width, height=height_px, engine=self.engine)
        self._count(r)
        self._place([(r, label)])

    def charts(self, keys) -> None:
        """Prefetched charts (those of ``keys`` that were prefetched): one across the page, or several side by side."""
        rendered = []
        for key in keys:
            if key not in self.pending:
                continue
            label, fut = self.pending.pop(key)
            self.progress(messages.RENDERING_CHART.format(label=label))
            r = fut.result()
            self._count(r)
            rendered.append((r, label))
        self._place(rendered)

    def _place(self, rendered) -> None:
        for r, label in rendered:
            if r.png is None:
                self.para(messages.CHART_NOT_RENDERED.format(label=label, note=r.note), 8, "I")
        shown = [r for r, _ in rendered if r.png is not None]
        if not shown:
            return
        w = self.epw / len(rendered)
        h = max(w * r.height / r.width for r in shown)
        if self.pdf.get_y() + h > self.pdf.h - 18:
            self.pdf.add_page()
        y = self.pdf.get_y()
        for i, r in enumerate(shown):
            self.pdf.image(io.BytesIO(r.png), x=self.pdf.l_margin + i * w, y=y, w=w, h=w * r.height / r.width)
        self.pdf.set_xy(self.pdf.l_margin, y + h + 2)

    def output(self) -> bytes:
        return bytes(self.pdf.output())
