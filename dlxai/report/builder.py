"""The audit PDF (fpdf2), drawn from an :class:`~dlxai.report.audit.AuditBundle`.

Each section is one method taking the bundle; an optional section whose result is ``None`` prints what is
missing instead of failing.  Charts are the pages' own plotly figures (:mod:`dlxai.plots`) rendered by
:mod:`dlxai.report.charts`.  Text is set in DejaVu Sans, the font matplotlib ships (a pinned dependency), embedded
as a subset: group names and values from uploaded data print as they are (Łódź, Ελλάδα, Москва, ≤, —), the same
on every machine.  Characters the font lacks (e.g. CJK) print as blanks.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlxai import __version__
from dlxai.errors import UserInputError
from dlxai.fairness.metrics import METRIC_LABELS
from dlxai.report import charts, messages
from dlxai.report import sections as S

FONT = "DejaVuSans"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf",
               "BI": "DejaVuSans-BoldOblique.ttf"}
ACCENT = (37, 99, 235)
FAIL_RGB = (220, 38, 38)
PASS_RGB = (22, 163, 74)


def _font_dir():
    from pathlib import Path

    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@dataclass(frozen=True)
class ReportResult:
    pdf: bytes
    pages: int
    sections: tuple  # section keys drawn, in order
    chart_engines: dict  # engine ("kaleido", "matplotlib", "none") -> charts rendered with it
    seconds: float
    missing: tuple  # optional sections that printed a "not run" note

    def save(self, path) -> None:
        with open(path, "wb") as fh:
            fh.write(self.pdf)


def _is_plain(d: dict) -> bool:
    """A dict of plain values (printed as a table), not a dict of result objects."""
    return all(isinstance(v, (int, float, str, bool, type(None), list, tuple, dict, np.number)) for v in d.values())


def _pdf_class():
    from fpdf import FPDF

    class AuditPDF(FPDF):
        footer_text = ""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            fonts = _font_dir()
            for style, name in _FONT_FILES.items():
                self.add_font(FONT, style, str(fonts / name))

        def footer(self):
            self.set_y(-12)
            self.set_font(FONT, size=7)
            self.set_text_color(120, 120, 120)
            self.cell(0, 5, str(self.footer_text), align="L")
            self.set_x(-40)
            self.cell(30, 5, f"Page {self.page_no()}/{{nb}}", align="R")
            self.set_text_color(0, 0, 0)

    return AuditPDF


class _Writer:
    def __init__(self, bundle, *, title, organisation, analyst, date, chart_engine, progress, chart_width):
        self.b = bundle
        self.title = title
        self.organisation = organisation
        self.analyst = analyst
        self.date = date
        self.engine = chart_engine
        self.progress = progress
        self.chart_width = chart_width
        self.engines: dict[str, int] = {}
        self.missing: list[str] = []
        self.pending: dict = {}
        self.pool = None
        self.pdf = _pdf_class()(orientation="P", unit="mm", format="A4")
        self.pdf.footer_text = f"{title} - data {bundle.data.sha256[:12]} - dlxai {__version__}"
        self.pdf.set_auto_page_break(True, margin=16)
        self.pdf.set_margins(15, 15, 15)
        self.pdf.set_title(str(title))
        self.pdf.set_author(str(analyst or organisation or "dlxai"))
        self.pdf.set_creator(f"dlxai {__version__}")

    # --- primitives ---------------------------------------------------------------------------
    @property
    def epw(self) -> float:
        return self.pdf.epw

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
                    cut = max(1, int(len(word) * width / pdf.get_string_width(word)))
                    while cut > 1 and pdf.get_string_width(word[:cut]) > width:
                        cut -= 1
                    out.append(word[:cut])
                    word = word[cut:]
                line = word
            out.append(line)
        return out or [""]

    def table(self, header, rows, widths=None, size: float = 8.5, align=None) -> None:
        if not rows:
            return
        pdf = self.pdf
        n = len(rows[0])
        rel = list(widths or [1] * n)
        col_w = [self.epw * r / sum(rel) for r in rel]
        lh = size * 0.45
        pad = 1.0

        def draw(cells, bold):
            pdf.set_font(FONT, "B" if bold else "", size)
            lines = [self._wrap(str(c), w - 2 * pad) for c, w in zip(cells, col_w, strict=False)]
            h = max(len(x) for x in lines) * lh + 2 * pad
            if pdf.get_y() + h > pdf.h - pdf.b_margin:
                pdf.add_page()
                if header is not None and not bold:
                    draw(header, True)
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

        pdf.set_draw_color(200, 200, 200)
        if header is not None:
            draw(header, True)
        for row in rows:
            draw(row, False)
        pdf.set_draw_color(0, 0, 0)
        pdf.ln(3)

    def kv(self, pairs, size: float = 9) -> None:
        self.table(None, [(k, v) for k, v in pairs], widths=(1, 2.2), size=size)

    def _show_calibration(self) -> bool:
        return self.b.model_card.get("kind") != "predictions" or self.b.threshold is not None

    def _figure_specs(self, keys) -> list:
        """(key, label, make_figure, charts_per_row, height_px) of every chart the chosen sections draw."""
        from dlxai.plots.fairness import disparity_summary, group_metric_bars, impact_ratio_bars
        from dlxai.plots.performance import calibration_curve, confusion_matrix

        b, specs = self.b, []
        if "performance" in keys and b.performance is not None:
            specs.append(("confusion", "confusion matrix", lambda: confusion_matrix(b.performance), 2, 360))
            if self._show_calibration():
                specs.append(("calibration", "calibration", lambda: calibration_curve(b.performance), 2, 360))
        if "fairness" in keys:
            for attr, a in b.fairness.items():
                specs += [
                    (f"bars|{attr}", f"rates by {attr}", lambda a=a: group_metric_bars(a), 1, 360),
                    (f"impact|{attr}", f"impact ratio by {attr}", lambda a=a: impact_ratio_bars(a), 2, 380),
                    (f"disparity|{attr}", f"disparity summary by {attr}", lambda a=a: disparity_summary(a), 2,
                     380),
                ]
        return specs

    def prefetch(self, keys) -> None:
        """Build every figure now and render them in one worker thread, in report order, so the browser draws
        while this thread writes the tables (the worker only waits on the browser or runs matplotlib)."""
        from concurrent.futures import ThreadPoolExecutor

        specs = self._figure_specs(keys)
        if not specs:
            return
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="dlxai-charts")
        for key, label, make, per_row, height in specs:
            width = max(int(self.chart_width / per_row), 660)  # half-width charts keep their titles
            self.pending[key] = (label, self.pool.submit(charts.render_png, make(), width, height, self.engine))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _count(self, r) -> None:
        key = r.engine or "none"
        self.engines[key] = self.engines.get(key, 0) + 1

    def chart(self, fig, label: str, height_px: int | None = None) -> None:
        """A chart not prefetched (optional sections' own figures), rendered now."""
        self.progress(None, f"Rendering chart: {label}")
        r = charts.render_png(fig, width=self.chart_width, height=height_px, engine=self.engine)
        self._count(r)
        self._place([(r, label)])

    def charts(self, keys) -> None:
        """Prefetched charts: one across the page, or several side by side."""
        rendered = []
        for key in keys:
            if key not in self.pending:
                continue
            label, fut = self.pending.pop(key)
            self.progress(None, f"Rendering chart: {label}")
            r = fut.result()
            self._count(r)
            rendered.append((r, label))
        self._place(rendered)

    def _place(self, rendered) -> None:
        for r, label in rendered:
            if r.png is None:
                self.para(f"[Chart '{label}' not rendered: {r.note}. The numbers are in the tables.]", 8, "I")
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

    # --- sections -----------------------------------------------------------------------------
    def cover(self) -> None:
        pdf = self.pdf
        pdf.add_page()
        pdf.start_section("Cover", level=0)
        pdf.set_y(60)
        pdf.set_font(FONT, "B", 24)
        pdf.set_text_color(*ACCENT)
        pdf.multi_cell(0, 11, str(self.title), align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(4)
        pdf.set_font(FONT, "", 13)
        pdf.multi_cell(0, 7, "Fairness and explainability audit", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(14)
        rows = [
            ("Organisation", self.organisation or "-"),
            ("Analyst", self.analyst or "-"),
            ("Date", self.date),
            ("Data", f"{self.b.data.name} ({self.b.data.rows:,} rows audited)"),
            ("Model", self.b.model_card.get("name", "-")),
            ("dlxai version", __version__),
            ("Verdict", "PASSED" if self.b.passed else "FAILED"),
        ]
        self.kv(rows, size=11)
        pdf.ln(20)
        self.para("Generated by dlxai. Every number in this report can be reproduced from the manifest at the end "
                  "(library versions, seeds, parameters, SHA-256 of the data and the model).", 8, "I")

    def summary(self) -> None:
        b = self.b
        self.h1(S.SECTIONS["summary"])
        verdict = "PASSED" if b.passed else "FAILED"
        source = "the thresholds set for this audit" if b.user_rules else "dlxai's default thresholds (none were set)"
        n_fail = sum(1 for c in b.checks if c.violated)
        self.para(f"Verdict: {verdict} - {n_fail} of {len(b.checks)} checks against {source} failed.", 12, "B",
                  FAIL_RGB if not b.passed else PASS_RGB)
        self.table(("Rule (fails when true)", "Attribute", "Value", "Result"), S.check_lines(b),
                   widths=(2.2, 1.2, 0.8, 0.9))
        self.h2("Key findings")
        self.bullets(S.findings(b) or ["No sensitive attribute was audited."])
        if b.performance is not None:
            p = b.performance
            self.para(f"Overall: accuracy {S.fmt(p.accuracy)}, balanced accuracy {S.fmt(p.balanced_accuracy)}, "
                      f"ROC AUC {S.fmt(p.roc_auc)} on {p.n:,} rows at threshold {S.fmt(p.threshold, 2)}.", 9)

    def data(self) -> None:
        d = self.b.data
        self.h1(S.SECTIONS["data"])
        if d.description:
            self.para(d.description, 9)
        rows = [("Name", d.name), ("Rows audited", f"{d.rows:,} ({d.split})")]
        if d.train_rows is not None:
            rows.append(("Training / test rows", f"{d.train_rows:,} / {d.test_rows:,}"))
        rows += [("Columns", str(d.columns)), ("Target", d.target), ("Positive (favourable) label", str(d.positive_label)),
                 ("Positive rate (audited rows)", S.fmt(d.positive_rate)), ("SHA-256 of the data", d.sha256)]
        if d.source:
            rows.append(("Source", d.source))
        self.kv(rows)
        self.h2("Group sizes (audited rows)")
        for attr, sizes in d.group_sizes.items():
            total = sum(sizes.values()) or 1
            self.table((attr, "Rows", "Share"), [(g, f"{n:,}", f"{n / total:.1%}") for g, n in sizes.items()],
                       widths=(2, 1, 1))

    def model(self) -> None:
        card = dict(self.b.model_card or {})
        self.h1(S.SECTIONS["model"])
        settings = card.pop("settings", None)
        labels = {"name": "Name", "kind": "Type", "source": "Source format", "dataset": "Trained on",
                  "parameters": "Parameter count", "fit_seconds": "Training time (s)", "sha256": "SHA-256",
                  "decisions_from": "Decisions from"}
        rows = [(labels.get(k, k), f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else S._short(v))
                for k, v in card.items() if v is not None]
        self.kv(rows)
        if settings:
            self.h2("Training settings")
            self.kv(S.flatten(settings), size=8)

    def performance(self) -> None:
        self.h1(S.SECTIONS["performance"])
        p = self.b.performance
        if p is None:
            self.para(S.MISSING["performance"], 10, "I")
            self.missing.append("performance")
            return
        cm = p.confusion
        self.kv([("Rows", f"{p.n:,}"), ("Decision threshold", S.fmt(p.threshold, 2)), ("Accuracy", S.fmt(p.accuracy)),
                 ("Balanced accuracy", S.fmt(p.balanced_accuracy)), ("ROC AUC", S.fmt(p.roc_auc)),
                 ("Brier score", S.fmt(p.brier)),
                 ("Confusion [[TN, FP], [FN, TP]]", f"[[{cm[0, 0]:,}, {cm[0, 1]:,}], [{cm[1, 0]:,}, {cm[1, 1]:,}]]")])
        self.charts(["confusion", "calibration"])

    def fairness(self) -> None:
        self.h1(S.SECTIONS["fairness"])
        if not self.b.fairness:
            self.para("No sensitive attribute was audited.", 10, "I")
        for i, (attr, a) in enumerate(self.b.fairness.items()):
            if i:
                self.pdf.add_page()
            self.h2(f"By {attr}")
            conf = int(round(100 * a.params.get("confidence", 0.95)))
            rows = [(METRIC_LABELS[k], S.fmt(v), f"{S.fmt(a.summary_ci[k][0])} - {S.fmt(a.summary_ci[k][1])}")
                    for k, v in a.summary.items()]
            self.table(("Disparity metric", "Value", f"{conf}% interval"), rows, widths=(2.2, 1, 1.4))
            flag = "VIOLATED" if a.four_fifths_violated else "met"
            self.para(f"Four-fifths rule: {flag} (reference group {a.reference_group}, the highest selection rate "
                      "unless chosen).", 9, "B", FAIL_RGB if a.four_fifths_violated else PASS_RGB)
            bg = a.by_group

            def ci(m, g, a=a, bg=bg):
                return f"{S.fmt(bg.at[g, m])} [{S.fmt(a.ci_low.at[g, m])}, {S.fmt(a.ci_high.at[g, m])}]"

            rows = [(str(g), f"{int(bg.at[g, 'count']):,}", ci("selection_rate", g), ci("tpr", g), ci("fpr", g),
                     S.fmt(bg.at[g, "impact_ratio"])) for g in bg.index]
            self.table((attr, "Rows", "Selection rate [CI]", "TPR [CI]", "FPR [CI]", "Impact ratio"), rows,
                       widths=(1.5, 0.8, 1.7, 1.7, 1.7, 0.9), size=7.5)
            for w in a.warnings:
                self.para(w, 8, "I")
            self.charts([f"bars|{attr}"])
            self.charts([f"impact|{attr}", f"disparity|{attr}"])

    def _room(self) -> bool:
        """Short sections share a page when the current one is less than 60% full."""
        return self.pdf.page_no() > 1 and self.pdf.get_y() < self.pdf.h * 0.6

    def optional(self, key: str) -> None:
        obj = getattr(self.b, key)
        if obj is None and self._room():
            self.pdf.ln(4)
            self.h1(S.SECTIONS[key], new_page=False)
        else:
            self.h1(S.SECTIONS[key])
        if obj is None:
            self.para(S.MISSING[key], 10, "I", (120, 120, 120))
            self.missing.append(key)
            return
        items = list(obj.values()) if isinstance(obj, dict) and not _is_plain(obj) else (
            list(obj) if isinstance(obj, (list, tuple)) else [obj])
        for item in items:
            if hasattr(item, "by_feature") and hasattr(item, "values"):
                self._attribution(item)
            elif hasattr(item, "before") and hasattr(item, "after") and hasattr(item, "table"):
                self._mitigation(item)
            elif hasattr(item, "points") and hasattr(item, "results"):
                self._front(item)
            elif hasattr(item, "for_query") and hasattr(item, "summary"):
                self._counterfactuals(item)
            elif hasattr(item, "gap_ci") and hasattr(item, "by_group") and hasattr(item, "highest"):
                self._burden(item)
            elif hasattr(item, "fidelity") and hasattr(item, "rules") and hasattr(item, "fidelity_by_group"):
                self._surrogate(item)
            elif type(item).__name__ in ("Completeness", "Faithfulness", "RandomisationCheck"):
                self._quality(item)
            else:
                self._generic(item)

    # --- optional results with a known shape --------------------------------------------------
    def _attribution(self, r) -> None:
        from dlxai.plots.explain import global_bars, group_importance_bars

        by = r.by_feature()
        imp = by.abs().mean(axis=0).sort_values(ascending=False)
        self.h2(f"Global importance ({r.method}, {r.n:,} rows)")
        self.table(("Feature", "Mean |attribution|"), [(str(k), S.fmt(v, 4)) for k, v in imp.head(15).items()],
                   widths=(2, 1))
        self.chart(global_bars(imp, top=12, highlight=self.b.params.get("sensitive", ())), "global importance", 360)
        groups = (self.b.extras or {}).get("explanation_groups") or {}
        for attr, table in groups.items():
            self.h2(f"Importance by {attr}")
            self.table([attr, *map(str, table.columns)],
                       [[str(g), *(S.fmt(v, 4) for v in row)] for g, row in zip(table.index, table.to_numpy())],
                       size=7.5)
            self.chart(group_importance_bars(table.T, attr), f"importance by {attr}", 340)
        self.h2("Example local explanations")
        err = r.completeness_error
        for i in range(min(3, len(by))):
            row = by.iloc[i]
            top = row.reindex(row.abs().sort_values(ascending=False).index).head(5)
            label = f"Row {by.index[i]}" + ("" if err is None else f" (completeness error {err[i]:.2%})")
            self.para(label, 9, "B")
            self.table(("Feature", "Attribution"), [(str(k), S.fmt(v, 4)) for k, v in top.items()], widths=(2, 1),
                       size=8)
        if err is not None:
            self.para(f"Completeness: attributions sum to f(x) - f(baseline) within {np.median(err):.2%} (median "
                      f"relative error over {len(err):,} rows; largest {np.max(err):.2%}).", 9)

    def _counterfactuals(self, r) -> None:
        sm = r.summary()
        self.h2(f"Counterfactual examples ({sm['method']}, {sm['queries']} rows, k = {sm['k']})")
        self.kv([("Validity (share that flips the decision)", S.fmt(sm["validity"])),
                 ("Rows with at least one counterfactual", S.fmt(sm["queries_with_cf"])),
                 ("Proximity (mean cost)", S.fmt(sm["proximity"])), ("Sparsity (features changed)", S.fmt(sm["sparsity"])),
                 ("Diversity", S.fmt(sm["diversity"])), ("Plausibility (cost to nearest real row)", S.fmt(sm["plausibility"]))],
                size=8.5)
        for i in range(min(3, len(r.queries))):
            try:
                cf = r.for_query(i)
            except KeyError:
                continue
            if cf.empty:
                self.para(f"Row {r.queries.index[i]}: no valid counterfactual found.", 8.5, "I")
                continue
            best, q = cf.iloc[0], r.queries.iloc[i]
            changed = [c for c in r.queries.columns if c in cf.columns and str(q[c]) != str(best[c])]
            self.para(f"Row {r.queries.index[i]}: cheapest counterfactual (cost {S.fmt(best['cost'])}, P(favourable) "
                      f"{S.fmt(best['proba'])})", 8.5, "B")
            self.table(("Feature", "Now", "Would need"), [(c, S._short(q[c]), S._short(best[c])) for c in changed],
                       widths=(1.4, 1, 1), size=8)

    def _burden(self, b) -> None:
        from dlxai.plots.counterfactuals import burden_bars

        self.h2(f"Recourse burden by {b.attribute}")
        bg = b.by_group
        cols = [c for c in ("rejected", "with_recourse", "no_recourse_rate", "burden", "ci_low", "ci_high", "ratio")
                if c in bg.columns]
        def cell(c, v):
            return f"{int(v):,}" if c in ("rejected", "with_recourse") and np.isfinite(v) else S.fmt(v)

        self.table([b.attribute, *(c.replace("_", " ") for c in cols)],
                   [[str(g), *(cell(c, bg.at[g, c]) for c in cols)] for g in bg.index], size=7.5)
        self.para(f"Gap between the highest ({b.highest}) and the lowest ({b.lowest}) burden: {S.fmt(b.gap)} "
                  f"(interval {S.fmt(b.gap_ci[0])} - {S.fmt(b.gap_ci[1])}).", 9)
        try:
            self.chart(burden_bars(b), f"recourse burden by {b.attribute}", 340)
        except Exception as exc:  # noqa: BLE001 - the table holds the numbers
            self.para(f"[Burden chart not drawn: {type(exc).__name__}: {exc}]", 8, "I")

    def _surrogate(self, t) -> None:
        from dlxai.plots.counterfactuals import fidelity_bars

        self.h2("Surrogate decision tree")
        depth = getattr(t, "depth", None)
        self.kv([("Fidelity on test rows (agreement with the model)", S.fmt(t.fidelity)),
                 ("Fidelity on training rows", S.fmt(getattr(t, "train_fidelity", None))),
                 ("Depth / leaves", f"{depth} / {getattr(t, 'n_leaves', '-')}")], size=8.5)
        self.para("Rules (largest leaves first)", 9, "B")
        rules = sorted(t.rules, key=lambda r: -r["rows"])[:12]
        self.bullets([f"IF {' AND '.join(r['conditions']) or 'always'} THEN {r['prediction']} ({r['rows']:,} rows, "
                      f"{r['purity']:.0%} agree)" for r in rules], 8)
        fb = t.fidelity_by_group
        if isinstance(fb, pd.DataFrame) and len(fb):
            shown = fb.reset_index()
            self.table([str(c) for c in shown.columns], [[S.fmt(v) if isinstance(v, (float, np.floating)) else str(v)
                                                           for v in row] for row in shown.to_numpy()], size=7.5)
            try:
                self.chart(fidelity_bars(t), "surrogate fidelity by group", 320)
            except Exception as exc:  # noqa: BLE001
                self.para(f"[Fidelity chart not drawn: {type(exc).__name__}: {exc}]", 8, "I")

    def _quality(self, q) -> None:
        name = type(q).__name__
        self.h2(f"Quality check: {name}")
        if name == "Completeness":
            rows = [("Method", q.method), ("Mean relative error", f"{q.mean:.2%}"), ("Median", f"{q.median:.2%}"),
                    (f"Rows within {q.tolerance:.0%}", f"{q.share_within:.1%}")]
        elif name == "Faithfulness":
            rows = [("Deletion AUC (lower is better)", S.fmt(q.deletion_auc)),
                    ("Random-order deletion AUC", S.fmt(q.random_deletion_auc)),
                    ("Insertion AUC (higher is better)", S.fmt(q.insertion_auc)),
                    ("Random-order insertion AUC", S.fmt(q.random_insertion_auc)),
                    ("Faithful (beats random order both ways)", "yes" if q.faithful else "NO"),
                    ("Rows / units", f"{q.n_rows:,} / {q.n_units:,}")]
        else:
            rows = [("Method", q.method), ("Final Spearman after re-initialising all layers", S.fmt(q.final)),
                    ("Passed (explanations depend on the learned weights)", "yes" if q.passed else "NO")]
        self.kv(rows, size=8.5)

    def _mitigation(self, r) -> None:
        label = getattr(r, "label", r.method)
        self.h2(f"{label}")
        self.kv([("Method", r.method), ("Constraint", r.constraint), ("Strength", S._short(r.strength)),
                 ("Sensitive", ", ".join(r.sensitive)), ("Fit time (s)", S.fmt(r.fit_seconds, 1)),
                 ("Randomized decisions", "yes" if getattr(r.model, "randomized", False) else "no"),
                 ("Model SHA-256", getattr(r.model, "fingerprint", "-"))], size=8.5)
        t = r.table()
        cols = [c for c in ("accuracy", "dp", "eo", "tpr_gap", "selection_rate") if c in t.columns]
        self.para("Before / after on the test split", 9, "B")
        self.table(["Model", *cols], [[str(i), *(S.fmt(t.at[i, c]) for c in cols)] for i in t.index], size=8,
                   widths=(2.6, *([1] * len(cols))))
        if r.notes:
            self.bullets(r.notes, 8.5)

    def _front(self, f) -> None:
        from dlxai.plots.mitigation import front_figure

        self.h2(f"Front: {f.method} under {f.constraint}")
        pts = f.points
        cols = [c for c in ("label", "strength", "accuracy", "dp", "eo") if c in pts.columns]
        self.table(cols, [[S.fmt(v) if isinstance(v, (float, np.floating)) else str(v) for v in row]
                          for row in pts[cols].to_numpy()], size=8)
        if {"dp", "accuracy"} <= set(pts.columns):
            self.chart(front_figure(f), "mitigation front", 340)
        for r in f.results[:3]:
            self._mitigation(r)

    def _generic(self, obj, depth: int = 0) -> None:
        """Any result object: its scalars as a table, its frames as tables, its figures as charts."""
        if isinstance(obj, (list, tuple)):
            for item in obj[:5]:
                self._generic(item, depth + 1)
            return
        if isinstance(obj, dict):
            self.kv(S.flatten(obj)[:60], size=8)
            return
        figure = getattr(obj, "figure", None)
        scalars, frames = [], []
        if dataclasses.is_dataclass(obj):
            items = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
        elif hasattr(obj, "to_dict"):
            items = list(obj.to_dict().items())
        else:
            items = [("result", obj)]
        for name, v in items:
            if isinstance(v, (pd.DataFrame, pd.Series)):
                frames.append((name, v.to_frame() if isinstance(v, pd.Series) else v))
            elif isinstance(v, np.ndarray) and v.ndim <= 2 and v.size <= 400:
                frames.append((name, pd.DataFrame(np.atleast_2d(v))))
            elif isinstance(v, (int, float, str, bool, np.number)) or v is None:
                scalars.append((name, S._short(v)))
            elif isinstance(v, dict):
                scalars.extend(S.flatten(v, name)[:30])
        if scalars:
            self.kv(scalars, size=8)
        for name, df in frames:
            self.para(name.replace("_", " ").capitalize(), 9, "B")
            shown = df.head(15)
            header = [str(shown.index.name or "")] + [str(c) for c in shown.columns[:6]]
            rows = [[str(i)] + [S.fmt(v) if isinstance(v, (float, np.floating)) else str(v) for v in r[:6]]
                    for i, r in zip(shown.index, shown.to_numpy().tolist(), strict=False)]
            self.table(header, rows, size=7)
        if callable(figure):
            try:
                self.chart(figure(), type(obj).__name__)
            except Exception as exc:  # noqa: BLE001 - a figure is a bonus; the tables are there
                self.para(f"[Figure of {type(obj).__name__} not drawn: {type(exc).__name__}: {exc}]", 8, "I")

    def limitations(self) -> None:
        if self._room():
            self.pdf.ln(4)
        self.h1(S.SECTIONS["limitations"], new_page=not self._room())
        self.bullets(S.limitations(self.b) or ["No data-driven limitation was found."], 9.5)

    def manifest(self) -> None:
        self.h1(S.SECTIONS["manifest"])
        self.para("Re-running dlxai with these versions, seeds and parameters on data with the same SHA-256 "
                  "reproduces every number in this report.", 9)
        m = S.manifest(self.b, {k: v for k, v in self.engines.items()})
        m["charts_renderer"] = {"kaleido": charts.kaleido_status()}
        self.kv(S.flatten(m), size=7.5)


def build_report(
    bundle,
    *,
    title: str = "Model audit report",
    organisation: str = "",
    analyst: str = "",
    sections=S.DEFAULT_SECTIONS,
    chart_engine: str = charts.AUTO,
    date: str | None = None,
    chart_width: int = 900,
    progress: Callable[[float, str], None] | None = None,
) -> ReportResult:
    """The audit PDF of ``bundle`` (an :class:`~dlxai.report.audit.AuditBundle`) as bytes, plus its page count.

    ``sections``: keys of :data:`dlxai.report.sections.SECTIONS` to include (report order is fixed).
    ``progress(fraction, message)`` is called as sections are drawn.
    """
    start = time.perf_counter()
    if not hasattr(bundle, "fairness") or not hasattr(bundle, "data"):
        raise UserInputError(f"build_report needs an AuditBundle (from audit_model or audit_predictions); received "
                             f"{type(bundle).__name__}.")
    if isinstance(sections, str):
        sections = [sections]
    for s in sections:
        if s not in S.SECTIONS:
            raise UserInputError(messages.UNKNOWN_SECTION.format(name=s, choices=list(S.SECTIONS)))
    if not str(title).strip():
        raise UserInputError("The report title is empty. Type a title, e.g. 'Credit model audit Q3'.")
    keys = [k for k in S.SECTIONS if k in set(sections)]
    if not keys:
        raise UserInputError(f"No report section was chosen. Choose at least one of: {list(S.SECTIONS)}.")
    prog = progress or (lambda f, m: None)
    done = {"n": 0}

    def step(fraction, message):
        prog(min(done["n"] / len(keys), 0.99) if fraction is None else fraction, message)

    w = _Writer(bundle, title=str(title).strip(), organisation=str(organisation).strip(), analyst=str(analyst).strip(),
                date=date or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), chart_engine=chart_engine,
                progress=step, chart_width=chart_width)
    try:
        step(0.0, "Drawing the figures")
        w.prefetch(keys)
        for k in keys:
            step(None, f"Writing {S.SECTIONS[k].lower()}")
            getattr(w, k)() if k not in S.OPTIONAL else w.optional(k)
            done["n"] += 1
    finally:
        w.close()
    pdf_bytes = bytes(w.pdf.output())
    prog(1.0, f"Report ready: {w.pdf.page_no()} pages")
    return ReportResult(pdf_bytes, w.pdf.page_no(), tuple(keys), dict(w.engines), time.perf_counter() - start,
                        tuple(w.missing))
