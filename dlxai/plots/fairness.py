"""Fairness audits -> figures: rates by group with intervals, impact ratios, disparity summary, group sizes.

One colour meaning on the Fairness page and in the report's fairness section: red is "below the four-fifths
line" (and the line itself), blue "at or above it"; the rates get colours of their own that are neither, and
the disparity dots are neutral.  Names come from :mod:`dlxai.glossary`, never the metric keys.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dlxai.fairness.metrics import FOUR_FIFTHS, INTERSECTION_SEP, METRIC_LABELS, FairnessAudit
from dlxai.glossary import DENOMINATORS
from dlxai.plots.style import PALETTE, REFERENCE, layout

PASS, FAIL = PALETTE[0], PALETTE[1]  # at or above / below the four-fifths line
NEUTRAL = "#475569"  # values that pass no verdict (the disparity dots)
PARITY = "#9ca3af"  # the line where a disparity means "no difference"
RATE_COLOURS = {  # never red or blue: those are the four-fifths verdict
    "selection_rate": PALETTE[3], "tpr": PALETTE[5], "fpr": PALETTE[6], "precision": PALETTE[7],
    "accuracy": NEUTRAL, "fnr": PALETTE[2],
}
DIFFERENCES = ("demographic_parity_difference", "equalized_odds_difference", "equal_opportunity_difference")
RATIOS = ("demographic_parity_ratio", "equalized_odds_ratio")
_SHORT = {  # the subplot title says "difference" or "ratio"
    "demographic_parity_difference": "Demographic parity", "demographic_parity_ratio": "Demographic parity",
    "equalized_odds_difference": "Equalized odds", "equalized_odds_ratio": "Equalized odds",
    "equal_opportunity_difference": "Equal opportunity",
}


def _ticks(groups: list[str]) -> dict:
    """Intersection labels ("Female & Black") broken after the "&", so they stay horizontal and whole."""
    return dict(tickmode="array", tickvals=groups, ticktext=[g.replace(INTERSECTION_SEP, " &<br>") for g in groups])


def group_metric_bars(audit: FairnessAudit, metrics=("selection_rate", "tpr", "fpr"),
                      interval: str = "wilson") -> go.Figure:
    """One bar per group and rate, with its Wilson (default) or bootstrap interval as error bars.

    Wilson, because a bootstrap of a rate from a handful of rows (0 of 3 positives) has zero width and reads
    as certainty; the hover names the rows each rate rests on.
    """
    low, high = audit.intervals(interval)
    fig = go.Figure()
    groups = [str(g) for g in audit.by_group.index]
    for m in metrics:
        v = audit.by_group[m].to_numpy(dtype=float)
        lo, hi = low[m].to_numpy(dtype=float), high[m].to_numpy(dtype=float)
        custom = np.column_stack([lo, hi, audit.denominators[m].to_numpy()])
        fig.add_bar(
            name=METRIC_LABELS[m], x=groups, y=v, marker_color=RATE_COLOURS.get(m, NEUTRAL), customdata=custom,
            error_y=dict(type="data", symmetric=False, array=np.nan_to_num(hi - v), arrayminus=np.nan_to_num(v - lo)),
            hovertemplate=f"%{{x}}<br>{METRIC_LABELS[m]}: %{{y:.3f}} (%{{customdata[0]:.3f}}–%{{customdata[1]:.3f}})"
                          f"<br>from %{{customdata[2]:,}} {DENOMINATORS[m]}<extra></extra>",
        )
    conf = int(round(100 * audit.params.get("confidence", 0.95)))
    return layout(fig, f"Rates by {audit.attribute_label} ({conf}% {interval.capitalize()} intervals)", barmode="group",
                  yaxis=dict(title="Rate", range=[0, 1.05]), xaxis=dict(title=audit.attribute_label, **_ticks(groups)),
                  legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), margin=dict(l=60, r=20, t=80, b=50))


def impact_ratio_bars(audit: FairnessAudit) -> go.Figure:
    """Selection rate of each group over the reference group's; red below the four-fifths line, blue above.

    Horizontal bars, so long (intersection) group names stay level and whole; the line's label sits above the
    plot area, where no bar can be under it.
    """
    r = audit.by_group["impact_ratio"]
    groups = [str(g) for g in r.index]
    values = r.to_numpy(dtype=float)
    colors = [FAIL if v < FOUR_FIFTHS else PASS for v in values]
    text = [("reference" if g == audit.reference_group else f"{v:.2f}") for g, v in zip(groups, values)]
    fig = go.Figure(go.Bar(y=groups, x=values, orientation="h", marker_color=colors, text=text,
                           textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: impact ratio %{x:.3f}<extra></extra>"))
    fig.add_vline(x=FOUR_FIFTHS, line_dash="dash", line_color=REFERENCE, layer="below")  # behind the bars
    fig.add_annotation(x=FOUR_FIFTHS, xref="x", y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                       text=f"four-fifths ({FOUR_FIFTHS})", font=dict(color=REFERENCE, size=11))
    top = max(1.25, float(np.nanmax(values, initial=0.0)) * 1.2) if np.isfinite(values).any() else 1.25
    return layout(fig, f"Impact ratio (reference: {audit.reference_group})",
                  height=max(300, 120 + 34 * len(groups)), margin=dict(l=60, r=20, t=80, b=50),
                  xaxis=dict(title="Selection rate ÷ the reference group's", range=[0, top]),
                  yaxis=dict(autorange="reversed"))


def disparity_summary(audit: FairnessAudit) -> go.Figure:
    """Differences (0 is parity) and ratios (1 is parity) on axes of their own, with bootstrap intervals."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.6, 0.4], vertical_spacing=0.22,
                        subplot_titles=("Differences (0 = parity)", "Ratios (1 = parity)"))
    for row, keys in ((1, DIFFERENCES), (2, RATIOS)):
        keys = [k for k in keys if k in audit.summary]
        v = np.array([audit.summary[k] for k in keys], dtype=float)
        lo = np.array([audit.summary_ci[k][0] for k in keys], dtype=float)
        hi = np.array([audit.summary_ci[k][1] for k in keys], dtype=float)
        kind = "difference" if row == 1 else "ratio"
        fig.add_trace(go.Scatter(
            x=v, y=[_SHORT[k] for k in keys], mode="markers", marker=dict(size=12, color=NEUTRAL), showlegend=False,
            customdata=np.column_stack([lo, hi]),
            error_x=dict(type="data", symmetric=False, array=np.nan_to_num(hi - v), arrayminus=np.nan_to_num(v - lo)),
            hovertemplate=f"%{{y}} {kind}: %{{x:.3f}} (%{{customdata[0]:.3f}}–%{{customdata[1]:.3f}})<extra></extra>",
        ), row=row, col=1)
        fig.add_vline(x=0.0 if row == 1 else 1.0, line_dash="dot", line_color=PARITY, row=row, col=1)
        fig.update_xaxes(range=[-0.03, 1.05], row=row, col=1)
        fig.update_yaxes(autorange="reversed", row=row, col=1)
    conf = int(round(100 * audit.params.get("confidence", 0.95)))
    return layout(fig, f"Disparities ({conf}% bootstrap intervals)", height=380)


def group_sizes(sizes, title: str = "Group sizes") -> go.Figure:
    """Rows per group (a Series: group -> count), the count written on each bar."""
    groups = [str(i) for i in sizes.index]
    fig = go.Figure(go.Bar(x=groups, y=sizes.to_numpy(), marker_color=PALETTE[0], texttemplate="%{y:,}",
                           textposition="outside", cliponaxis=False, hovertemplate="%{x}: %{y:,} rows<extra></extra>"))
    return layout(fig, title, yaxis=dict(title="Rows"), xaxis=_ticks(groups), height=300)
