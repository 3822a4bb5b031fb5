"""Fairness audits -> figures: rates by group with intervals, impact ratios, disparity summary, group sizes."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dlxai.fairness.metrics import FOUR_FIFTHS, METRIC_LABELS, FairnessAudit
from dlxai.plots.style import PALETTE, REFERENCE, colour, layout


def group_metric_bars(audit: FairnessAudit, metrics=("selection_rate", "tpr", "fpr")) -> go.Figure:
    """One bar per group and metric with its bootstrap interval as error bars."""
    fig = go.Figure()
    groups = [str(g) for g in audit.by_group.index]
    for i, m in enumerate(metrics):
        v = audit.by_group[m].to_numpy(dtype=float)
        lo = audit.ci_low[m].to_numpy(dtype=float)
        hi = audit.ci_high[m].to_numpy(dtype=float)
        fig.add_bar(
            name=METRIC_LABELS[m], x=groups, y=v, marker_color=colour(i),
            error_y=dict(type="data", symmetric=False, array=np.nan_to_num(hi - v), arrayminus=np.nan_to_num(v - lo)),
            hovertemplate="%{x}<br>" + METRIC_LABELS[m] + ": %{y:.3f}<extra></extra>",
        )
    conf = int(round(100 * audit.params.get("confidence", 0.95)))
    return layout(fig, f"Rates by {audit.attribute_label} ({conf}% bootstrap intervals)", barmode="group",
                  yaxis=dict(title="rate", range=[0, 1.05]), xaxis=dict(title=audit.attribute_label))


def impact_ratio_bars(audit: FairnessAudit) -> go.Figure:
    """Selection rate of each group over the reference group's, with the four-fifths line."""
    r = audit.by_group["impact_ratio"]
    colors = [PALETTE[1] if v < FOUR_FIFTHS else PALETTE[0] for v in r.to_numpy()]
    fig = go.Figure(go.Bar(x=[str(g) for g in r.index], y=r.to_numpy(), marker_color=colors,
                           hovertemplate="%{x}: %{y:.2f}<extra></extra>"))
    fig.add_hline(y=FOUR_FIFTHS, line_dash="dash", line_color=REFERENCE, annotation_text="four-fifths (0.8)")
    return layout(fig, f"Impact ratio vs reference group {audit.reference_group}", yaxis=dict(title="ratio"),
                  xaxis=dict(title=audit.attribute_label))


def disparity_summary(audit: FairnessAudit) -> go.Figure:
    """The disparity metrics as dots with their intervals."""
    names = list(audit.summary)
    v = np.array([audit.summary[k] for k in names], dtype=float)
    lo = np.array([audit.summary_ci[k][0] for k in names], dtype=float)
    hi = np.array([audit.summary_ci[k][1] for k in names], dtype=float)
    fig = go.Figure(go.Scatter(
        x=v, y=[METRIC_LABELS[k] for k in names], mode="markers", marker=dict(size=12, color=PALETTE[0]),
        error_x=dict(type="data", symmetric=False, array=np.nan_to_num(hi - v), arrayminus=np.nan_to_num(v - lo)),
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    ))
    return layout(fig, "Disparity metrics (differences: 0 is parity; ratios: 1 is parity)",
                  xaxis=dict(title="value", range=[0, 1.05]), height=320)


def group_sizes(sizes, title: str = "Group sizes") -> go.Figure:
    """Rows per group (a Series: group -> count)."""
    fig = go.Figure(go.Bar(x=[str(i) for i in sizes.index], y=sizes.to_numpy(), marker_color=PALETTE[0]))
    return layout(fig, title, yaxis=dict(title="rows"), height=300)
