"""The report's own figures (the rest come from :mod:`dlxai.plots`): explanation importance, mitigation fronts."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dlxai.plots import PALETTE, _layout


def importance_bars(importance: pd.Series, title: str = "Global importance (mean |attribution|)") -> go.Figure:
    """Horizontal bars, largest on top."""
    s = importance.sort_values()
    fig = go.Figure(go.Bar(x=s.to_numpy(), y=[str(i) for i in s.index], orientation="h", marker_color=PALETTE[0]))
    return _layout(fig, title, height=max(300, 22 * len(s) + 110), xaxis=dict(title="mean |attribution|"))


def group_importance_bars(table: pd.DataFrame, attribute: str) -> go.Figure:
    """Mean |attribution| of the top features, one bar group per feature, one colour per group."""
    fig = go.Figure()
    for i, g in enumerate(table.index):
        fig.add_bar(name=str(g), x=[str(c) for c in table.columns], y=table.loc[g].to_numpy(),
                    marker_color=PALETTE[i % len(PALETTE)])
    return _layout(fig, f"Importance by {attribute}", barmode="group", yaxis=dict(title="mean |attribution|"))


def front_scatter(points: pd.DataFrame, x: str = "dp", y: str = "accuracy") -> go.Figure:
    """Accuracy against the disparity, one marker per model (the original first)."""
    labels = points["label"].astype(str).tolist() if "label" in points else [str(i) for i in points.index]
    fig = go.Figure(go.Scatter(x=points[x].to_numpy(), y=points[y].to_numpy(), mode="markers+lines",
                               marker=dict(size=10, color=PALETTE[0]), text=labels,
                               hovertemplate="%{text}<br>%{x:.3f}, %{y:.3f}<extra></extra>"))
    return _layout(fig, "Mitigation front: accuracy vs disparity", xaxis=dict(title=x), yaxis=dict(title=y))
