"""Model performance -> figures: confusion matrix, calibration curve, training curve."""

from __future__ import annotations

import plotly.graph_objects as go

from dlxai.performance import PerformanceReport
from dlxai.plots.style import PALETTE, layout


def confusion_matrix(report: PerformanceReport, classes: tuple[str, str] = ("0", "1")) -> go.Figure:
    """Counts of actual against predicted class, the counts written in the cells.

    ``classes`` names the unfavourable and the favourable class (e.g. ``("<=50K", ">50K")``).
    """
    cm = report.confusion
    text = [[f"{cm[i, j]:,}" for j in range(2)] for i in range(2)]
    neg, pos = (str(c) for c in classes)
    fig = go.Figure(go.Heatmap(
        z=cm, x=[neg, pos], y=[neg, pos], text=text, texttemplate="%{text}", colorscale="Blues",
        colorbar=dict(title="rows", thickness=12),
        hovertemplate="actual %{y}, predicted %{x}: %{text} rows<extra></extra>",
    ))
    return layout(fig, "Confusion matrix (test split)", height=340, xaxis=dict(title="Predicted", type="category"),
                  yaxis=dict(title="Actual", autorange="reversed", type="category"))


def calibration_curve(report: PerformanceReport) -> go.Figure:
    """Observed positive rate per bin of predicted probability, against the diagonal of perfect calibration."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color="#9ca3af"), name="perfectly calibrated")
    fig.add_scatter(x=report.calibration_pred, y=report.calibration_true, mode="lines+markers", name="model",
                    marker=dict(color=PALETTE[0]), customdata=report.calibration_count,
                    hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>%{customdata} rows<extra></extra>")
    return layout(fig, f"Calibration (Brier score {report.brier:.3f})", xaxis=dict(title="Mean predicted probability"),
                  yaxis=dict(title="Observed positive rate"), height=340)


def training_curve(history) -> go.Figure:
    """Loss per epoch (training, and validation when held out), the kept epoch marked."""
    fig = go.Figure()
    epochs = [h.epoch for h in history]
    fig.add_scatter(x=epochs, y=[h.train_loss for h in history], mode="lines+markers", name="train loss",
                    line=dict(color=PALETTE[0]))
    if history and history[0].val_loss is not None:
        fig.add_scatter(x=epochs, y=[h.val_loss for h in history], mode="lines+markers", name="validation loss",
                        line=dict(color=PALETTE[3]))
        fig.add_vline(x=history[-1].best_epoch, line_dash="dot", line_color="#9ca3af",
                      annotation_text="kept", annotation_position="top left")
    step = max(1, -(-len(epochs) // 10))  # whole epochs only (never 1.5), at most ~10 ticks
    return layout(fig, "Training", xaxis=dict(title="Epoch", tick0=1, dtick=step, tickformat="d"),
                  yaxis=dict(title="Loss"), height=300)
