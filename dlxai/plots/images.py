"""Heatmap figures for image explanations: the image beside one heatmap per method, and attention maps."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlxai.plots.style import DIVERGING, layout


def _to_hw(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    while a.ndim > 2:  # [1, C, H, W] or [C, H, W] -> [H, W]: sum channels (attributions add up)
        a = a.sum(axis=0)
    return a


def image_heatmaps(image, heatmaps: dict, *, title: str = "", signed: bool = True, height: int = 340,
                   notes: dict | None = None) -> go.Figure:
    """The image (grey) followed by one heatmap per entry of ``heatmaps`` (``name -> [H, W]`` or ``[C, H, W]``),
    every panel on the same pixel grid and with its own colour bar.

    Each heatmap is scaled to its own largest magnitude (methods' units differ, so one shared scale would hide the
    smaller ones); with ``signed`` the scale is symmetric around 0.  ``notes`` (name -> text) go under the panels.
    """
    names = list(heatmaps)
    n = 1 + len(names)
    gap = 0.09  # room for each panel's colour bar
    fig = make_subplots(rows=1, cols=n, subplot_titles=["input", *names], horizontal_spacing=gap)
    img = _to_hw(image)
    panels = [("input", img, "gray_r", 0.0, float(img.max()) or 1.0, "pixel value")]
    for name in names:
        z = _to_hw(heatmaps[name])
        m = float(np.abs(z).max()) or 1.0
        zmin, zmax = (-m, m) if signed and (z < 0).any() else (0.0, m)
        panels.append((name, z, DIVERGING if zmin < 0 else "Reds", zmin, zmax, "attribution"))
    for i, (name, z, scale, zmin, zmax, what) in enumerate(panels, start=1):
        axis = fig.layout[f"xaxis{'' if i == 1 else i}"]
        fig.add_trace(go.Heatmap(
            z=z, colorscale=scale, zmin=zmin, zmax=zmax,
            colorbar=dict(x=axis.domain[1] + 0.006, xanchor="left", len=0.78, y=0.45, thickness=10,
                          tickfont=dict(size=10), tickformat=".2g", exponentformat="e"),
            hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra>" + name + f" ({what})</extra>"), row=1, col=i)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if i == 1 else i}", showticklabels=False,
                         row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    for name, text in (notes or {}).items():
        if name in names:
            axis = fig.layout[f"xaxis{names.index(name) + 2}"]
            fig.add_annotation(text=text, x=sum(axis.domain) / 2, y=-0.04, xref="paper", yref="paper",
                               showarrow=False, yanchor="top", font=dict(size=10))
    return layout(fig, title, height=height, margin=dict(l=10, r=40, t=70, b=40 if notes else 10))


def attention_heatmap(matrix, *, title: str = "", labels: list[str] | None = None, height: int = 420) -> go.Figure:
    """One ``[T, T]`` attention (or rollout) matrix: rows are queries, columns the tokens attended to."""
    z = np.asarray(matrix, dtype=np.float64)
    labels = labels or [str(i) for i in range(z.shape[0])]
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, colorscale="Viridis", zmin=0,
                               hovertemplate="query %{y} → key %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="query token")
    fig.update_xaxes(title="key token")
    return layout(fig, title, height=height)


def token_labels(n_tokens: int, prefix: int = 1, grid: tuple[int, int] | None = None) -> list[str]:
    """``CLS`` for the prefix token, then ``r{row}c{col}`` patch labels on a grid (or plain indices)."""
    out = ["CLS" if prefix == 1 else f"P{i}" for i in range(prefix)]
    for i in range(n_tokens - prefix):
        out.append(f"r{i // grid[1]}c{i % grid[1]}" if grid else str(i))
    return out
