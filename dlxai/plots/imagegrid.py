"""A grid of explained images: one row per image (the image in colour, then one heatmap per method)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlxai.plots.style import DIVERGING, layout


def heatmap_grid(pixels, maps: list[dict], titles: list[str], *, title: str = "", row_height: int = 190) -> go.Figure:
    """``pixels``: uint8 ``[n, H, W, C]`` as the model saw them; ``maps[i]``: method -> ``[C, H, W]`` or ``[H, W]``
    attribution of image ``i``.  Each heatmap is scaled to its own largest magnitude, symmetric around 0 (red: for
    the class, blue: against it); the hover shows the values."""
    methods = list(maps[0]) if maps else []
    n, cols = len(maps), 1 + len(methods)
    names = [name for t in titles for name in (t, *methods)]
    fig = make_subplots(rows=max(n, 1), cols=cols, subplot_titles=names, horizontal_spacing=0.02,
                        vertical_spacing=0.3 / max(n, 1))
    for r in range(n):
        px = np.asarray(pixels[r])
        rgb = np.repeat(px, 3, axis=2) if px.shape[2] == 1 else px
        fig.add_trace(go.Image(z=rgb, hoverinfo="skip"), row=r + 1, col=1)
        for c, method in enumerate(methods, start=2):
            z = np.asarray(maps[r][method], dtype=np.float64)
            while z.ndim > 2:
                z = z.sum(axis=0)
            m = float(np.abs(z).max()) or 1.0
            fig.add_trace(go.Heatmap(z=z, colorscale=DIVERGING, zmin=-m, zmax=m, showscale=False,
                                     hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra>" + method + "</extra>"),
                          row=r + 1, col=c)
            fig.update_yaxes(autorange="reversed", row=r + 1, col=c)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    for k in range(1, n * cols + 1):  # square pixels in every panel
        fig.layout[f"yaxis{'' if k == 1 else k}"].scaleanchor = f"x{'' if k == 1 else k}"
    return layout(fig, title, height=60 + row_height * max(n, 1), margin=dict(l=10, r=10, t=60, b=10))


def mean_map_panels(mean, names: list[str], *, title: str = "", height: int = 260) -> go.Figure:
    """One panel per class or group of a :class:`~dlxai.explain.imagemaps.MeanMaps`: its mean heatmap, titled with
    its name and image count, on ONE colour scale shared by every panel (with its colour bar), so panels compare."""
    n = len(mean.keys)
    fig = make_subplots(rows=1, cols=max(n, 1), horizontal_spacing=0.02,
                        subplot_titles=[f"{name} ({int(c)} images)" for name, c in zip(names, mean.counts, strict=True)])
    m = float(np.abs(mean.maps).max()) or 1.0
    unit = "mean of per-image maps scaled to max |value| 1" if mean.normalised else "mean attribution"
    for i in range(n):
        fig.add_trace(go.Heatmap(z=np.asarray(mean.maps[i], dtype=np.float64), colorscale=DIVERGING, zmin=-m, zmax=m,
                                 showscale=i == n - 1, colorbar=dict(title=dict(text="relevance", side="right")),
                                 hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra>" + names[i] + "</extra>"),
                      row=1, col=i + 1)
        fig.update_yaxes(autorange="reversed", row=1, col=i + 1)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    for k in range(1, n + 1):
        fig.layout[f"yaxis{'' if k == 1 else k}"].scaleanchor = f"x{'' if k == 1 else k}"
    return layout(fig, title or f"Mean heatmap ({unit})", height=height, margin=dict(l=10, r=10, t=70, b=10))
