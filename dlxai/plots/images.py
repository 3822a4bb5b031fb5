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


def image_heatmaps(image, heatmaps: dict, *, title: str = "", signed: bool = True, height: int = 320) -> go.Figure:
    """The image (grey) followed by one heatmap per entry of ``heatmaps`` (``name -> [H, W]`` or ``[C, H, W]``).

    Each heatmap is scaled to its own largest magnitude; with ``signed`` the colour scale is symmetric around 0.
    """
    names = list(heatmaps)
    fig = make_subplots(rows=1, cols=1 + len(names), subplot_titles=["input", *names], horizontal_spacing=0.04)
    img = _to_hw(image)
    fig.add_trace(go.Heatmap(z=img, colorscale="gray_r", showscale=False,
                             hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra>input</extra>"), row=1, col=1)
    for i, name in enumerate(names, start=2):
        z = _to_hw(heatmaps[name])
        m = float(np.abs(z).max()) or 1.0
        zmin, zmax = (-m, m) if signed and (z < 0).any() else (0.0, m)
        fig.add_trace(go.Heatmap(z=z, colorscale=DIVERGING if zmin < 0 else "Reds", zmin=zmin, zmax=zmax,
                                 showscale=False, hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra>" + name
                                 + "</extra>"), row=1, col=i)
    for i in range(1, len(names) + 2):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if i == 1 else i}", showticklabels=False,
                         row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    return layout(fig, title, height=height, margin=dict(l=10, r=10, t=70, b=10))


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
