"""Result objects -> plotly figures.  The pages and the PDF report draw the same figures."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dlxai.fairness.metrics import FOUR_FIFTHS, METRIC_LABELS, FairnessAudit
from dlxai.performance import PerformanceReport

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]


def _layout(fig: go.Figure, title: str, height: int = 380, **kw) -> go.Figure:
    fig.update_layout(title=title, template="plotly_white", margin=dict(l=60, r=20, t=60, b=50), height=height, **kw)
    return fig


def group_metric_bars(audit: FairnessAudit, metrics=("selection_rate", "tpr", "fpr")) -> go.Figure:
    """One bar per group and metric with its bootstrap interval as error bars."""
    fig = go.Figure()
    groups = [str(g) for g in audit.by_group.index]
    for i, m in enumerate(metrics):
        v = audit.by_group[m].to_numpy(dtype=float)
        lo = audit.ci_low[m].to_numpy(dtype=float)
        hi = audit.ci_high[m].to_numpy(dtype=float)
        fig.add_bar(
            name=METRIC_LABELS[m], x=groups, y=v, marker_color=PALETTE[i % len(PALETTE)],
            error_y=dict(type="data", symmetric=False, array=np.nan_to_num(hi - v), arrayminus=np.nan_to_num(v - lo)),
            hovertemplate="%{x}<br>" + METRIC_LABELS[m] + ": %{y:.3f}<extra></extra>",
        )
    conf = int(round(100 * audit.params.get("confidence", 0.95)))
    return _layout(fig, f"Rates by {audit.attribute_label} ({conf}% bootstrap intervals)", barmode="group",
                   yaxis=dict(title="rate", range=[0, 1.05]), xaxis=dict(title=audit.attribute_label))


def impact_ratio_bars(audit: FairnessAudit) -> go.Figure:
    """Selection rate of each group over the reference group's, with the four-fifths line."""
    r = audit.by_group["impact_ratio"]
    colors = [PALETTE[1] if v < FOUR_FIFTHS else PALETTE[0] for v in r.to_numpy()]
    fig = go.Figure(go.Bar(x=[str(g) for g in r.index], y=r.to_numpy(), marker_color=colors,
                           hovertemplate="%{x}: %{y:.2f}<extra></extra>"))
    fig.add_hline(y=FOUR_FIFTHS, line_dash="dash", line_color="#dc2626", annotation_text="four-fifths (0.8)")
    return _layout(fig, f"Impact ratio vs reference group {audit.reference_group}", yaxis=dict(title="ratio"),
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
    return _layout(fig, "Disparity metrics (differences: 0 is parity; ratios: 1 is parity)",
                   xaxis=dict(title="value", range=[0, 1.05]), height=320)


def group_sizes(sizes, title: str = "Group sizes") -> go.Figure:
    fig = go.Figure(go.Bar(x=[str(i) for i in sizes.index], y=sizes.to_numpy(), marker_color=PALETTE[0]))
    return _layout(fig, title, yaxis=dict(title="rows"), height=300)


def confusion_matrix(report: PerformanceReport) -> go.Figure:
    cm = report.confusion
    text = [[f"{cm[i, j]:,}" for j in range(2)] for i in range(2)]
    fig = go.Figure(go.Heatmap(
        z=cm, x=["predicted 0", "predicted 1"], y=["actual 0", "actual 1"], text=text, texttemplate="%{text}",
        colorscale="Blues", showscale=False,
    ))
    return _layout(fig, "Confusion matrix (test split)", yaxis=dict(autorange="reversed"), height=340)


def calibration_curve(report: PerformanceReport) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color="#9ca3af"), name="perfect")
    fig.add_scatter(x=report.calibration_pred, y=report.calibration_true, mode="lines+markers", name="model",
                    marker=dict(color=PALETTE[0]), customdata=report.calibration_count,
                    hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>%{customdata} rows<extra></extra>")
    return _layout(fig, f"Calibration (Brier score {report.brier:.3f})", xaxis=dict(title="mean predicted probability"),
                   yaxis=dict(title="observed positive rate"), height=340)


def training_curve(history) -> go.Figure:
    fig = go.Figure()
    epochs = [h.epoch for h in history]
    fig.add_scatter(x=epochs, y=[h.train_loss for h in history], mode="lines+markers", name="train loss")
    if history and history[0].val_loss is not None:
        fig.add_scatter(x=epochs, y=[h.val_loss for h in history], mode="lines+markers", name="validation loss")
        fig.add_vline(x=history[-1].best_epoch, line_dash="dot", annotation_text="kept")
    return _layout(fig, "Training", xaxis=dict(title="epoch"), yaxis=dict(title="loss"), height=300)
