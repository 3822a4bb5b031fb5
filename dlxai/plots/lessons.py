"""Lesson results -> figures: the run history, recorded vs deserved labels, proxies, and the digits checks.

Every figure here is drawn with bars, markers and lines only, so the handout's browser-free renderer
(:func:`dlxai.report.charts.matplotlib_png`) draws the same chart the page shows.  Categorical axes hold
short labels (run numbers); the long setting names go in tick texts on screen and in the handout's table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dlxai.explain.quality import SANITY_MAX_SPEARMAN
from dlxai.explain.views import PROXY_THRESHOLD
from dlxai.fairness.metrics import METRIC_LABELS
from dlxai.lessons.deserved import DESERVED_LABELS, RECORDED, Judged
from dlxai.lessons.history import METRICS, Run, interval
from dlxai.lessons.lab import GROUP, PROXY
from dlxai.plots.style import PALETTE, REFERENCE, colour, layout

LIGHT = ["#93c5fd", "#fca5a5", "#86efac", "#d8b4fe"]  # lighter twins of the first four palette colours
GAP_KEYS = {"DP": "dp", "EO": "eo"}


def _wrap(text: str, width: int = 18) -> str:
    words, lines, line = str(text).split(" "), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "<br>".join(lines)


def history_bars(frame: pd.DataFrame, title: str = "Your runs compared") -> go.Figure:
    """One group of bars per run (x: run number, its setting as tick text), one bar per metric column."""
    fig = go.Figure()
    runs = [str(i + 1) for i in range(len(frame))]
    for i, key in enumerate(frame.columns):
        fig.add_bar(x=runs, y=frame[key].to_numpy(dtype=float), name=METRICS.get(key, str(key)),
                    marker_color=colour(i), customdata=np.asarray(frame.index, dtype=object)[:, None],
                    hovertemplate="%{customdata[0]}<br>" + METRICS.get(key, str(key)) + ": %{y:.3f}<extra></extra>")
    ticks = [f"{r}: {_wrap(s)}" for r, s in zip(runs, frame.index, strict=True)]
    top = float(np.nanmax(frame.to_numpy(dtype=float))) if frame.size and np.isfinite(frame.to_numpy()).any() else 1
    return layout(fig, title, height=420, barmode="group",
                  xaxis=dict(type="category", tickmode="array", tickvals=runs, ticktext=ticks),
                  yaxis=dict(title="value", range=[0, max(1.0, top) * 1.05]),
                  legend=dict(orientation="h", y=-0.35), margin=dict(l=60, r=20, t=60, b=150))


def judged_bars(judged: Judged, metrics=("accuracy", "tpr", "fpr")) -> go.Figure:
    """Per group, each metric against the recorded labels (light) and the deserved labels (dark)."""
    fig = go.Figure()
    groups = [str(g) for g in judged.recorded.by_group.index]
    for i, m in enumerate(metrics):
        for audit, which, shade in ((judged.recorded, RECORDED, LIGHT[i % len(LIGHT)]),
                                    (judged.deserved, DESERVED_LABELS, colour(i))):
            v = audit.by_group[m].to_numpy(dtype=float)
            lo, hi = audit.ci_low[m].to_numpy(dtype=float), audit.ci_high[m].to_numpy(dtype=float)
            fig.add_bar(x=groups, y=v, name=f"{METRIC_LABELS[m]} · {which}", marker_color=shade,
                        error_y=dict(type="data", symmetric=False, array=np.nan_to_num(hi - v),
                                     arrayminus=np.nan_to_num(v - lo)),
                        hovertemplate="group %{x}<br>" + f"{METRIC_LABELS[m]} ({which})" + ": %{y:.3f}<extra></extra>")
    return layout(fig, f"The same decisions graded twice, by {judged.attribute} (95% intervals)", barmode="group",
                  height=420, yaxis=dict(title="rate", range=[0, 1.05]), xaxis=dict(title=judged.attribute),
                  legend=dict(orientation="h", y=-0.2))


def share_bars(shares: pd.Series, highlight=(GROUP, PROXY),
               title: str = "Where the model's reasoning rests (share of attribution)") -> go.Figure:
    """Share of attribution per input, largest on top; the group and its proxy in red."""
    s = shares.iloc[::-1]
    colors = [PALETTE[1] if f in set(highlight) else PALETTE[0] for f in s.index]
    fig = go.Figure(go.Bar(x=s.to_numpy(dtype=float), y=[str(i) for i in s.index], orientation="h",
                           marker_color=colors, text=[f"{v:.0%}" for v in s.to_numpy(dtype=float)],
                           textposition="outside", hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    top = float(s.max()) if len(s) else 1.0
    return layout(fig, title, height=max(300, 30 * len(s) + 110),
                  xaxis=dict(title="share of attribution", tickformat=".0%", range=[0, min(1.0, top * 1.25 + 0.02)]))


def association_bars(association: pd.Series, threshold: float = PROXY_THRESHOLD) -> go.Figure:
    """The proxy detector: each feature's association with the group, the likely-proxy line at ``threshold``."""
    s = association.iloc[::-1]
    colors = [PALETTE[1] if v >= threshold else PALETTE[0] for v in s.to_numpy(dtype=float)]
    fig = go.Figure(go.Bar(x=s.to_numpy(dtype=float), y=[str(i) for i in s.index], orientation="h",
                           marker_color=colors, hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.add_vline(x=threshold, line_dash="dash", line_color=REFERENCE, annotation_text=f"likely proxy ≥ {threshold}",
                  annotation_position="bottom right")
    return layout(fig, "Proxy detector: how well each feature predicts the group (Cramér's V / η)",
                  height=max(300, 30 * len(s) + 110), xaxis=dict(title="association with the group", range=[0, 1.02]))


def randomisation_lines(checks: dict) -> go.Figure:
    """Spearman ρ per method as more layers are re-initialised (top first); the pass line at 0.5."""
    fig = go.Figure()
    for i, (name, check) in enumerate(checks.items()):
        rho = np.asarray(check.spearman, dtype=float)
        x = np.arange(1, len(rho) + 1) / len(rho)
        fig.add_scatter(x=x, y=rho, mode="lines+markers", name=f"{name} (ρ = {rho[-1]:.2f})",
                        line=dict(color=colour(i)), customdata=np.asarray(check.stages, dtype=object)[:, None],
                        hovertemplate="%{customdata[0]}: ρ = %{y:.3f}<extra>" + name + "</extra>")
    fig.add_hline(y=SANITY_MAX_SPEARMAN, line_dash="dash", line_color=REFERENCE,
                  annotation_text=f"passes below ρ = {SANITY_MAX_SPEARMAN}", annotation_position="bottom left")
    return layout(fig, "Randomisation check: does the explanation change when the model is scrambled?", height=400,
                  xaxis=dict(title="share of layers scrambled (top layers first)", tickformat=".0%", range=[0, 1.02]),
                  yaxis=dict(title="similarity to the trained map (ρ)", range=[-0.1, 1.05]),
                  legend=dict(orientation="h", y=-0.3))


def deletion_lines(curves: dict) -> go.Figure:
    """Deletion curve per method, and each model's random-order reference as a grey dashed line."""
    fig = go.Figure()
    randoms: dict[str, object] = {}
    for i, (name, f) in enumerate(curves.items()):
        fig.add_scatter(x=f.fractions, y=f.deletion, mode="lines", name=f"{name} (area {f.deletion_auc:.2f})",
                        line=dict(color=colour(i)))
        randoms.setdefault(name.split(" · ")[0], f)
    for j, (model, f) in enumerate(randoms.items()):
        fig.add_scatter(x=f.fractions, y=f.random_deletion, mode="lines",
                        name=f"{model} · random order (area {f.random_deletion_auc:.2f})",
                        line=dict(color=["#6b7280", "#9ca3af"][j % 2], dash="dash"))
    return layout(fig, "Deletion curves: the model's confidence as the most important pixels are blanked", height=400,
                  xaxis=dict(title="share of pixels blanked", tickformat=".0%", range=[0, 1.0]),
                  yaxis=dict(title="confidence in its answer", range=[0, 1.02]), legend=dict(orientation="h", y=-0.3))


def front_scatter(runs: list[Run], gap: str = "DP") -> go.Figure:
    """Accuracy against the DP (or EO) difference, one dot per run with its 95% interval on the gap."""
    key = GAP_KEYS.get(gap, "dp")
    fig = go.Figure()
    lo, hi = interval(runs, key)
    for i, r in enumerate(runs):
        x, y = float(r.values.get(key, np.nan)), float(r.values.get("accuracy", np.nan))
        if not np.isfinite(x) or not np.isfinite(y):
            continue
        fig.add_scatter(x=[x], y=[y], mode="markers", name=r.setting,
                        marker=dict(size=13, color=colour(i), symbol="diamond" if i == 0 else "circle"),
                        error_x=dict(type="data", symmetric=False, array=[np.nan_to_num(hi[i] - x)],
                                     arrayminus=[np.nan_to_num(x - lo[i])]),
                        hovertemplate=f"{r.setting}<br>{gap} %{{x:.3f}}<br>accuracy %{{y:.3f}}<extra></extra>")
    label = METRICS["dp" if key == "dp" else "eo"]
    return layout(fig, f"Accuracy against the {gap} gap: every model you tried", height=440,
                  xaxis=dict(title=f"{label} (0 is parity)", rangemode="tozero"), yaxis=dict(title="Accuracy"),
                  legend=dict(orientation="h", y=-0.3))


# --- the Clever Hans lesson ------------------------------------------------------------------------
WATERMARK_EDGE = "#16a34a"  # the outline of the watermark's pixels (green: neither red nor blue of the maps)


def outline_mask(fig: go.Figure, mask, n_panels: int) -> go.Figure:
    """Outline the bounding box of ``mask`` (``[H, W]`` booleans) on the first ``n_panels`` pixel panels of
    ``fig`` (an :func:`~dlxai.plots.images.image_heatmaps` figure or an :func:`image_strip`)."""
    rows, cols = np.nonzero(np.asarray(mask, dtype=bool))
    if not len(rows):
        return fig
    for i in range(1, n_panels + 1):
        suffix = "" if i == 1 else str(i)
        fig.add_shape(type="rect", x0=cols.min() - 0.5, x1=cols.max() + 0.5, y0=rows.min() - 0.5,
                      y1=rows.max() + 0.5, xref=f"x{suffix}", yref=f"y{suffix}",
                      line=dict(color=WATERMARK_EDGE, width=2.5))
    return fig


def image_strip(images, titles, *, title: str = "", mask=None, per_row: int = 7) -> go.Figure:
    """Small grey images (``[n, C, H, W]``) in rows of ``per_row``, each with its title; ``mask`` outlined on
    every one."""
    from plotly.subplots import make_subplots

    n = len(images)
    rows = max(1, -(-n // per_row))
    fig = make_subplots(rows=rows, cols=per_row, subplot_titles=list(titles), horizontal_spacing=0.02,
                        vertical_spacing=0.12)
    for i, image in enumerate(images):
        r, c = divmod(i, per_row)
        z = np.asarray(image, dtype=float).sum(axis=0)
        fig.add_trace(go.Heatmap(z=z, colorscale="gray_r", zmin=0, zmax=1, showscale=False,
                                 hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"), row=r + 1, col=c + 1)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if i == 0 else i + 1}", showticklabels=False,
                         showgrid=False, zeroline=False, row=r + 1, col=c + 1)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=r + 1, col=c + 1)
    fig.update_annotations(font=dict(size=11))
    if mask is not None:
        outline_mask(fig, mask, n)
    return layout(fig, title, height=70 + 150 * rows, margin=dict(l=10, r=10, t=70, b=10))
