"""Explanations -> figures: local and global importance, per-group and per-model comparisons, quality checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dlxai.plots.style import PALETTE, REFERENCE, colour, layout


def local_bars(local: pd.DataFrame, title: str = "Why this prediction", top: int = 15) -> go.Figure:
    """Signed attribution per raw feature of one row (from :func:`~dlxai.explain.views.local_view`)."""
    d = local.head(top).iloc[::-1]
    labels = [f"{f} = {v}" for f, v in zip(d["feature"], d["value"])] if "value" in d else list(d["feature"])
    colors = [PALETTE[0] if a >= 0 else PALETTE[1] for a in d["attribution"]]
    fig = go.Figure(go.Bar(x=d["attribution"], y=labels, orientation="h", marker_color=colors,
                           hovertemplate="%{y}<br>attribution %{x:.4f}<extra></extra>"))
    return layout(fig, title, height=max(300, 26 * len(d) + 100), xaxis=dict(title="attribution (toward the class)"))


def global_bars(importance: pd.Series, title: str = "Global importance: mean |attribution|", top: int = 20,
                highlight=()) -> go.Figure:
    """The ``top`` features of ``importance`` (sorted largest first), largest on top; ``highlight`` in red."""
    s = importance.head(top).iloc[::-1]
    colors = [PALETTE[1] if f in set(highlight) else PALETTE[0] for f in s.index]
    fig = go.Figure(go.Bar(x=s.to_numpy(), y=[str(i) for i in s.index], orientation="h", marker_color=colors,
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    return layout(fig, title, height=max(300, 24 * len(s) + 100), xaxis=dict(title="mean |attribution|"))


def group_importance_bars(table: pd.DataFrame, by: str, *, share: bool = False, sizes=None, marked=(),
                          top: int = 12) -> go.Figure:
    """Attribution per feature (rows of ``table``) for each group (columns), one bar group per feature.

    ``share``: the values are shares of each group's total, else mean |attribution|; ``sizes`` (group -> rows)
    goes into the legend; ``marked`` features (the sensitive attribute and its likely proxies) are set in bold.
    """
    feats = list(table.mean(axis=1).sort_values(ascending=False).index[:top])
    number = ".1%" if share else ".4f"
    fig = go.Figure()
    for i, g in enumerate(table.columns):
        fig.add_bar(name=str(g) if sizes is None else f"{g} (n={int(sizes.get(g, 0))})", x=feats,
                    y=table.loc[feats, g].to_numpy(), marker_color=colour(i),
                    hovertemplate="%{x}: %{y:" + number + "}<extra>" + str(g) + "</extra>")
    fig.update_xaxes(tickvals=feats, ticktext=[f"<b>{f}</b>" if f in set(marked) else f for f in feats])
    title = f"{'Share of attribution' if share else 'Mean |attribution|'} per feature by {by}"
    yaxis = dict(title="share of |attribution|", tickformat=".0%") if share else dict(title="mean |attribution|")
    return layout(fig, title + (" (bold: sensitive and likely proxies)" if len(marked) else ""), barmode="group",
                  yaxis=yaxis)


def group_share_bars(cmp, top: int = 12) -> go.Figure:
    """Share of each group's attribution per feature (from :func:`~dlxai.explain.views.group_comparison`)."""
    return group_importance_bars(cmp.share, cmp.sensitive, share=True, sizes=cmp.group_sizes,
                                 marked=(cmp.sensitive, *cmp.proxies), top=top)


def faithfulness_curves(f) -> go.Figure:
    """Deletion and insertion curves with the random-order reference (from :func:`deletion_insertion`)."""
    fig = go.Figure()
    x = f.fractions
    fig.add_scatter(x=x, y=f.deletion, name=f"deletion (AUC {f.deletion_auc:.3f})", line=dict(color=PALETTE[3]))
    fig.add_scatter(x=x, y=f.random_deletion, name=f"deletion, random order ({f.random_deletion_auc:.3f})",
                    line=dict(color=PALETTE[3], dash="dot"))
    fig.add_scatter(x=x, y=f.insertion, name=f"insertion (AUC {f.insertion_auc:.3f})", line=dict(color=PALETTE[5]))
    fig.add_scatter(x=x, y=f.random_insertion, name=f"insertion, random order ({f.random_insertion_auc:.3f})",
                    line=dict(color=PALETTE[5], dash="dot"))
    return layout(fig, "Deletion and insertion",
                  xaxis=dict(title="share of top features removed / added", tickformat=".0%"),
                  yaxis=dict(title="P(explained class)", range=[0, 1.02]), height=400,
                  legend=dict(orientation="h", y=-0.3))


def randomisation_bars(check, threshold: float = 0.5) -> go.Figure:
    """Spearman correlation after re-initialising layers top-down (Adebayo et al., 2018)."""
    v = np.asarray(check.spearman, dtype=float)
    colors = [PALETTE[1] if s >= threshold else PALETTE[2] for s in v]
    fig = go.Figure(go.Bar(x=list(check.stages), y=v, marker_color=colors,
                           hovertemplate="%{x}: ρ = %{y:.3f}<extra></extra>"))
    fig.add_hline(y=threshold, line_dash="dash", line_color=REFERENCE, annotation_text=f"ρ = {threshold}")
    return layout(fig, "Rank correlation after randomising",
                  yaxis=dict(title="Spearman ρ (lower is better)", range=[min(-0.1, float(np.nanmin(v)) - 0.05), 1.05]),
                  xaxis=dict(title="layers re-initialised"), height=340)


def completeness_hist(c) -> go.Figure:
    """Per-row completeness error (from :func:`~dlxai.explain.quality.completeness`) against its tolerance."""
    fig = go.Figure(go.Histogram(x=100 * np.asarray(c.relative_error), nbinsx=30, marker_color=PALETTE[0],
                                 hovertemplate="%{x}%: %{y} rows<extra></extra>"))
    fig.add_vline(x=100 * c.tolerance, line_dash="dash", line_color=REFERENCE,
                  annotation_text=f"{100 * c.tolerance:g}%")
    return layout(fig, "Completeness error per row",
                  xaxis=dict(title="|Σ attr − (f(x) − f(b))| / |f(x) − f(b)| (%)"), yaxis=dict(title="rows"), height=300)


def importance_comparison_bars(table, top: int = 15, highlight=()) -> go.Figure:
    """Share of attribution per feature for several models side by side (from ``views.compare_importance``)."""
    feats = list(table.index[:top])[::-1]
    fig = go.Figure()
    for i, name in enumerate(table.columns):
        fig.add_bar(name=str(name), y=feats, x=table.loc[feats, name].to_numpy(), orientation="h",
                    marker_color=colour(i), hovertemplate="%{y}: %{x:.1%}<extra>" + str(name) + "</extra>")
    marked = set(highlight)
    fig.update_yaxes(tickvals=feats, ticktext=[f"<b>{f}</b>" if f in marked else f for f in feats])
    return layout(fig, "Share of attribution per feature, model by model (bold: sensitive)", barmode="group",
                  height=max(320, 40 * len(feats) + 120), xaxis=dict(title="share of |attribution|", tickformat=".0%"))
