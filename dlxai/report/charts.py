"""Plotly figures -> PNG for the PDF report.

The first choice is kaleido (plotly's own renderer) driving the system Chromium, so the report shows
exactly the figures the pages show.  ``kaleido.start_sync_server()`` keeps one browser open for the
whole process (~0.3 s a figure instead of ~2.5 s).  Where no browser is installed, or it fails or
hangs, the same figure data is drawn with matplotlib instead (bars with error bars, lines, markers,
heatmaps, reference lines), so a report never fails for lack of a browser.  If even matplotlib is
missing, :func:`render_png` returns ``None`` and the report prints the numbers as a table only.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
from dataclasses import dataclass

import numpy as np

KALEIDO = "kaleido"
MATPLOTLIB = "matplotlib"
AUTO = "auto"
ENGINES = (AUTO, KALEIDO, MATPLOTLIB)
ENV_ENGINE = "DLXAI_CHART_ENGINE"  # force an engine for a whole process (e.g. "matplotlib" on a server)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FIRST_RENDER_TIMEOUT_S = 90.0

_lock = threading.Lock()
_kaleido_state = {"started": False, "broken": None}  # broken: None (untried), False (works) or the reason


@dataclass(frozen=True)
class RenderedChart:
    png: bytes | None
    engine: str | None  # "kaleido", "matplotlib" or None (not rendered)
    width: int
    height: int
    note: str = ""


def find_browser() -> str | None:
    """The Chromium/Chrome kaleido would use, or None."""
    env = os.environ.get("BROWSER_PATH")
    if env and os.path.exists(env):
        return env
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def kaleido_status() -> str:
    """A line for the reproducibility manifest."""
    if _kaleido_state["broken"]:
        return f"unavailable ({_kaleido_state['broken']})"
    return "available" if find_browser() else "unavailable (no Chromium/Chrome found)"


def _kaleido_png(fig, width: int, height: int, scale: float) -> bytes:
    import kaleido

    if not _kaleido_state["started"]:
        kaleido.start_sync_server(silence_warnings=True)
        _kaleido_state["started"] = True
    return kaleido.calc_fig_sync(fig.to_dict(), opts=dict(format="png", width=width, height=height, scale=scale))


def _kaleido_first(fig, width: int, height: int, scale: float) -> bytes:
    """The first kaleido render runs in a thread with a timeout, so a hung browser cannot hang the report."""
    box: dict = {}

    def work():
        try:
            box["png"] = _kaleido_png(fig, width, height, scale)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            box["error"] = exc

    t = threading.Thread(target=work, daemon=True, name="dlxai-kaleido-first")
    t.start()
    t.join(FIRST_RENDER_TIMEOUT_S)
    if t.is_alive():
        raise TimeoutError(f"the browser did not answer within {FIRST_RENDER_TIMEOUT_S:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["png"]


def warm_up() -> threading.Thread | None:
    """Start the browser in the background (a report calls this first and builds tables meanwhile)."""
    if _kaleido_state["broken"] is not None or _engine_choice(AUTO) == MATPLOTLIB or find_browser() is None:
        return None
    import plotly.graph_objects as go

    t = threading.Thread(target=render_png, args=(go.Figure(go.Bar(x=[0], y=[1])), 80, 60, AUTO), daemon=True,
                         name="dlxai-kaleido-warmup")
    t.start()
    return t


def _engine_choice(engine: str) -> str:
    if engine not in ENGINES:
        from dlxai.errors import UserInputError
        from dlxai.report.messages import UNKNOWN_CHART_ENGINE

        raise UserInputError(UNKNOWN_CHART_ENGINE.format(engine=engine, choices=list(ENGINES)))
    if engine == AUTO:
        forced = os.environ.get(ENV_ENGINE, "").strip().lower()
        if forced in (KALEIDO, MATPLOTLIB):
            return forced
    return engine


def render_png(fig, width: int = 900, height: int | None = None, engine: str = AUTO, scale: float = 1.0) -> RenderedChart:
    """Render ``fig`` (a plotly figure) to PNG bytes with kaleido, else matplotlib, else not at all."""
    height = int(height or (fig.layout.height or 400))
    width = int(width)
    engine = _engine_choice(engine)
    notes = []
    if engine in (AUTO, KALEIDO):
        reason = _kaleido_state["broken"]
        if reason is None and find_browser() is None:
            reason = "no Chromium/Chrome found"
        if not reason:
            try:
                with _lock:
                    if _kaleido_state["broken"] is None:
                        png = _kaleido_first(fig, width, height, scale)
                        _kaleido_state["broken"] = False
                    elif _kaleido_state["broken"] is False:
                        png = _kaleido_png(fig, width, height, scale)
                    else:
                        raise RuntimeError(_kaleido_state["broken"])
                return RenderedChart(png, KALEIDO, width, height)
            except Exception as exc:  # noqa: BLE001 - any browser failure falls back
                reason = f"{type(exc).__name__}: {exc}"[:200]
                _kaleido_state["broken"] = reason
        notes.append(f"kaleido unavailable ({reason})")
    try:
        png = matplotlib_png(fig, width, height)
        return RenderedChart(png, MATPLOTLIB, width, height, "; ".join(notes))
    except ImportError as exc:
        notes.append(f"matplotlib unavailable ({exc})")
    except Exception as exc:  # noqa: BLE001 - a figure the fallback cannot draw: the tables still hold the numbers
        notes.append(f"matplotlib could not draw it ({type(exc).__name__}: {exc})"[:200])
    return RenderedChart(None, None, width, height, "; ".join(notes))


# --- the browser-free fallback ------------------------------------------------------------------
def _arr(v) -> np.ndarray | None:
    if v is None:
        return None
    try:
        return np.asarray(v)
    except Exception:  # noqa: BLE001
        return None


def _title(obj) -> str:
    t = getattr(obj, "title", None)
    text = getattr(t, "text", None) if t is not None else None
    return str(text or "")


def _err(e):
    if e is None or getattr(e, "array", None) is None:
        return None
    plus = np.asarray(e.array, dtype=float)
    minus = np.asarray(e.arrayminus, dtype=float) if getattr(e, "arrayminus", None) is not None else plus
    return np.clip(np.nan_to_num(np.vstack([minus, plus])), 0, None)  # matplotlib refuses negative lengths


def _trace_color(t):
    if t.type in ("bar", "scatter") and t.marker is not None and t.marker.color is not None:
        color = t.marker.color
        return color if isinstance(color, str) else list(color)
    return None


def _bar_categories(bars, horizontal: bool) -> list[str]:
    categories: list[str] = []
    for t in bars:
        cats = t.y if horizontal else t.x
        for c in cats if cats is not None else []:
            if str(c) not in categories:
                categories.append(str(c))
    return categories


def _draw_bar(ax, t, bars, categories, horizontal: bool) -> None:
    width_each = 0.8 / max(len(bars), 1)
    cats, vals = (t.y, t.x) if horizontal else (t.x, t.y)
    xs = [categories.index(str(c)) for c in cats]
    pos = np.asarray(xs, dtype=float) - 0.4 + width_each * (bars.index(t) + 0.5)
    v = np.nan_to_num(np.asarray(vals, dtype=float))
    if horizontal:
        ax.barh(pos, v, height=width_each, color=_trace_color(t), label=t.name, xerr=_err(t.error_x), capsize=3)
    else:
        ax.bar(pos, v, width=width_each, color=_trace_color(t), label=t.name, yerr=_err(t.error_y), capsize=3)


def _draw_scatter(ax, t, cat_axis: dict) -> None:
    x, y = _arr(t.x), _arr(t.y)
    if y is not None and y.dtype.kind in "OUS":  # categorical y axis (disparity summary)
        for lab in y:
            cat_axis.setdefault(str(lab), len(cat_axis))
        y = np.asarray([cat_axis[str(v)] for v in y], dtype=float)
    mode = t.mode or "lines+markers"
    style = ("-" if "lines" in mode else "") + ("o" if "markers" in mode else "")
    if t.line is not None and t.line.dash:
        style = "--" + ("o" if "markers" in mode else "")
    color = _trace_color(t)
    line_color = (t.line.color if t.line is not None and t.line.color else None) or (
        color if isinstance(color, str) else None)
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ax.errorbar(xs, ys, xerr=_err(t.error_x), yerr=_err(t.error_y), fmt=style or "o", color=line_color,
                label=t.name, capsize=3)
    if "text" in mode and t.text is not None and not isinstance(t.text, str):  # node labels (the surrogate tree)
        below = "bottom" in (t.textposition or "")
        for xi, yi, label in zip(xs, ys, t.text, strict=False):
            ax.annotate(str(label).replace("<br>", "\n"), (xi, yi), xytext=(0, -8 if below else 8),
                        textcoords="offset points", ha="center", va="top" if below else "bottom", fontsize=7)


def _draw_heatmap(ax, t) -> None:
    z = np.asarray(t.z, dtype=float)
    ax.imshow(z, cmap="Blues", aspect="auto")
    if t.x is not None:
        ax.set_xticks(range(len(t.x)), [str(v) for v in t.x])
    if t.y is not None:
        ax.set_yticks(range(len(t.y)), [str(v) for v in t.y])
    text = t.text if t.text is not None else z
    for r in range(z.shape[0]):
        for c in range(z.shape[1]):
            ax.text(c, r, str(text[r][c]), ha="center", va="center",
                    color="white" if z[r, c] > np.nanmax(z) * 0.6 else "black")


def _decorate(ax, fig, categories, cat_axis, horizontal: bool) -> None:
    """Category ticks, reference lines, titles, ranges and the legend, as the plotly layout asks."""
    if categories and horizontal:
        ax.set_yticks(range(len(categories)), categories, fontsize=8)
    elif categories:
        ax.set_xticks(range(len(categories)), categories, rotation=20 if len(categories) > 4 else 0, ha="right"
                      if len(categories) > 4 else "center", fontsize=8)
    if cat_axis:
        ax.set_yticks(list(cat_axis.values()), list(cat_axis), fontsize=8)
    for shape in fig.layout.shapes or ():
        if shape.type == "line" and shape.y0 is not None and shape.y0 == shape.y1 and shape.xref and "domain" in shape.xref:
            ax.axhline(float(shape.y0), color=shape.line.color or "red", linestyle="--", linewidth=1)
        elif shape.type == "line" and shape.x0 is not None and shape.x0 == shape.x1 and shape.yref and "domain" in shape.yref:
            ax.axvline(float(shape.x0), color=shape.line.color or "grey", linestyle=":", linewidth=1)
    lay = fig.layout
    ax.set_title(_title(lay), fontsize=10)
    ax.set_xlabel(_title(lay.xaxis), fontsize=9)
    ax.set_ylabel(_title(lay.yaxis), fontsize=9)
    if lay.yaxis.range is not None and not horizontal:
        ax.set_ylim(*lay.yaxis.range)
    if lay.xaxis.range is not None and (horizontal or not categories):
        ax.set_xlim(*lay.xaxis.range)
    if lay.xaxis.visible is False and lay.yaxis.visible is False:  # a diagram (the surrogate tree), not a plot
        ax.set_axis_off()
    if lay.yaxis.autorange == "reversed" and not any(t.type == "heatmap" for t in fig.data):
        ax.invert_yaxis()
    if sum(1 for t in fig.data if t.name) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def matplotlib_png(fig, width: int = 900, height: int = 400) -> bytes:
    """Draw a plotly figure's bars, scatters and heatmaps with matplotlib (no browser, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    mfig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(mfig)
    ax = mfig.add_subplot(111)
    bars = [t for t in fig.data if t.type == "bar"]
    horizontal = bool(bars) and all(t.orientation == "h" for t in bars)
    categories = _bar_categories(bars, horizontal)
    cat_axis: dict = {}  # for scatters on a categorical y axis
    for t in fig.data:
        if t.type == "bar":
            _draw_bar(ax, t, bars, categories, horizontal)
        elif t.type == "scatter":
            _draw_scatter(ax, t, cat_axis)
        elif t.type == "heatmap":
            _draw_heatmap(ax, t)
    _decorate(ax, fig, categories, cat_axis, horizontal)
    mfig.tight_layout()
    buf = io.BytesIO()
    mfig.savefig(buf, format="png")
    return buf.getvalue()


def shutdown() -> None:
    """Close kaleido's browser (tests and the CLI call this at the end; it also closes at exit)."""
    if _kaleido_state["started"]:
        import kaleido

        try:
            kaleido.stop_sync_server(silence_warnings=True)
        finally:
            _kaleido_state["started"] = False
            if _kaleido_state["broken"] is False:
                _kaleido_state["broken"] = None
