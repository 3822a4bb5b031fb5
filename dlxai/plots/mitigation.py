"""Mitigation results -> figures: the accuracy-fairness front and the before/after table."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dlxai.fairness.mitigation import Front, MitigationResult
from dlxai.plots.style import PALETTE, layout

GAP_LABEL = {"dp": "Demographic parity difference", "eo": "Equalized odds difference"}


def front_figure(front: Front, gap: str = "dp") -> go.Figure:
    """Accuracy vs the DP (or EO) difference, one marker per model, 95% bootstrap intervals both ways."""
    if gap not in GAP_LABEL:
        gap = "dp"
    pts = front.points
    fig = go.Figure()
    kinds = [("Original", pts["label"] == "Original", PALETTE[1], "diamond"),
             ("Deterministic member", pts["label"].str.endswith("(deterministic)"), PALETTE[2], "square"),
             ("Mitigated", (pts["label"] != "Original") & ~pts["label"].str.endswith("(deterministic)"), PALETTE[0],
              "circle")]
    for name, mask, color, symbol in kinds:
        p = pts[mask]
        if p.empty:
            continue
        x, y = p[gap].to_numpy(float), p["accuracy"].to_numpy(float)
        fig.add_scatter(
            x=x, y=y, mode="markers+text" if name == "Mitigated" else "markers", name=name,
            text=[lbl.split(" ")[-1] for lbl in p["label"]] if name == "Mitigated" else None,
            textposition="top center", marker=dict(size=11, color=color, symbol=symbol),
            error_x=dict(type="data", symmetric=False, array=np.nan_to_num(p[f"{gap}_hi"].to_numpy(float) - x),
                         arrayminus=np.nan_to_num(x - p[f"{gap}_lo"].to_numpy(float))),
            error_y=dict(type="data", symmetric=False, array=np.nan_to_num(p["accuracy_hi"].to_numpy(float) - y),
                         arrayminus=np.nan_to_num(y - p["accuracy_lo"].to_numpy(float))),
            customdata=p[["label"]].to_numpy(),
            hovertemplate="%{customdata[0]}<br>gap %{x:.3f}<br>accuracy %{y:.3f}<extra></extra>",
        )
    return layout(fig, f"Accuracy vs {GAP_LABEL[gap].lower()} on the test split ({', '.join(front.sensitive)}; 95% "
                       "bootstrap intervals)", height=440,
                  xaxis=dict(title=f"{GAP_LABEL[gap]} (0 is parity)", rangemode="tozero"), yaxis=dict(title="Accuracy"))


def before_after_table(result: MitigationResult) -> go.Figure:
    """The before/after table as a figure (for the report): accuracy and gaps with intervals."""
    t = result.table()

    def fmt(v, lo, hi):
        return f"{v:.3f}" if np.isnan(lo) else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"

    cols = {
        "Model": list(t.index),
        "Accuracy": [fmt(r.accuracy, r.accuracy_lo, r.accuracy_hi) for r in t.itertuples()],
        "Demographic parity difference": [fmt(r.dp, r.dp_lo, r.dp_hi) for r in t.itertuples()],
        "Equalized odds difference": [fmt(r.eo, r.eo_lo, r.eo_hi) for r in t.itertuples()],
        "Equal opportunity difference": [f"{r.tpr_gap:.3f}" for r in t.itertuples()],
        "Selection rate": [f"{r.selection_rate:.3f}" for r in t.itertuples()],
    }
    fig = go.Figure(go.Table(header=dict(values=list(cols), fill_color="#e5e7eb", align="left"),
                             cells=dict(values=list(cols.values()), align="left")))
    return layout(fig, f"Before and after: {result.label}", height=120 + 40 * len(t),
                  margin=dict(l=10, r=10, t=50, b=10))
