"""The one palette and the one layout every figure uses, so pages and the PDF look alike."""

from __future__ import annotations

import plotly.graph_objects as go

# Qualitative colours, one per series; the first two also mean "fine" (blue) and "look here" (red).
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]
REFERENCE = PALETTE[1]  # thresholds and reference lines (four-fifths, ρ limit, tolerance)
DIVERGING = "RdBu_r"  # signed maps: red is evidence for the class, blue against it
MARGIN = dict(l=60, r=20, t=60, b=50)


def colour(i: int) -> str:
    """The palette's ``i``-th colour, cycling."""
    return PALETTE[i % len(PALETTE)]


def layout(fig: go.Figure, title: str, height: int = 380, margin: dict | None = None, **kw) -> go.Figure:
    """Title, the white template, margins and height; ``kw`` goes to ``update_layout`` (axes, legend, barmode)."""
    fig.update_layout(title=title, template="plotly_white", margin=margin or MARGIN, height=height, **kw)
    return fig
