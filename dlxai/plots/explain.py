"""Plotly figures for explanations and their quality checks (pages and the PDF report draw the same)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dlxai.plots import PALETTE, _layout


def local_bars(local: pd.DataFrame, title: str = "Why this prediction", top: int = 15) -> go.Figure:
    """Signed attribution per raw feature of one row (from :func:`~dlxai.explain.views.local_view`)."""
    d = local.head(top).iloc[::-1]
    labels = [f"{f} = {v}" for f, v in zip(d["feature"], d["value"])] if "value" in d else list(d["feature"])
    colors = [PALETTE[0] if a >= 0 else PALETTE[1] for a in d["attribution"]]
    fig = go.Figure(go.Bar(x=d["attribution"], y=labels, orientation="h", marker_color=colors,
                           hovertemplate="%{y}<br>attribution %{x:.4f}<extra></extra>"))
    return _layout(fig, title, height=max(300, 26 * len(d) + 100), xaxis=dict(title="attribution (toward the class)"))


def global_bars(importance: pd.Series, title: str = "Global importance: mean |attribution|", top: int = 20,
                highlight=()) -> go.Figure:
    s = importance.head(top).iloc[::-1]
    colors = [PALETTE[1] if f in set(highlight) else PALETTE[0] for f in s.index]
    fig = go.Figure(go.Bar(x=s.to_numpy(), y=[str(i) for i in s.index], orientation="h", marker_color=colors,
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    return _layout(fig, title, height=max(300, 24 * len(s) + 100), xaxis=dict(title="mean |attribution|"))


def group_share_bars(cmp, top: int = 12) -> go.Figure:
    """Share of each group's attribution per feature (from :func:`~dlxai.explain.views.group_comparison`)."""
    feats = list(cmp.share.mean(axis=1).sort_values(ascending=False).index[:top])
    fig = go.Figure()
    for i, g in enumerate(cmp.share.columns):
        fig.add_bar(name=f"{g} (n={int(cmp.group_sizes.get(g, 0))})", x=feats, y=cmp.share.loc[feats, g].to_numpy(),
                    marker_color=PALETTE[i % len(PALETTE)], hovertemplate="%{x}: %{y:.1%}<extra>" + str(g) + "</extra>")
    marked = [cmp.sensitive, *cmp.proxies]
    ticks = [f"<b>{f}</b>" if f in marked else f for f in feats]
    fig.update_xaxes(tickvals=feats, ticktext=ticks)
    return _layout(fig, f"Share of attribution per feature by {cmp.sensitive} (bold: sensitive and likely proxies)",
                   barmode="group", yaxis=dict(title="share of |attribution|", tickformat=".0%"))


def faithfulness_curves(f) -> go.Figure:
    """Deletion and insertion curves with the random-order reference (from :func:`deletion_insertion`)."""
    fig = go.Figure()
    x = f.fractions
    fig.add_scatter(x=x, y=f.deletion, name=f"deletion (AUC {f.deletion_auc:.3f})", line=dict(color=PALETTE[1]))
    fig.add_scatter(x=x, y=f.random_deletion, name=f"deletion, random order ({f.random_deletion_auc:.3f})",
                    line=dict(color=PALETTE[1], dash="dot"))
    fig.add_scatter(x=x, y=f.insertion, name=f"insertion (AUC {f.insertion_auc:.3f})", line=dict(color=PALETTE[0]))
    fig.add_scatter(x=x, y=f.random_insertion, name=f"insertion, random order ({f.random_insertion_auc:.3f})",
                    line=dict(color=PALETTE[0], dash="dot"))
    return _layout(fig, "Faithfulness: probability of the explained class as top features are removed / added",
                   xaxis=dict(title="share of features removed (deletion) / added (insertion)", tickformat=".0%"),
                   yaxis=dict(title="mean probability", range=[0, 1.02]), height=360,
                   legend=dict(orientation="h", y=-0.3))


def randomisation_bars(check, threshold: float = 0.5) -> go.Figure:
    """Spearman correlation after re-initialising layers top-down (Adebayo et al., 2018)."""
    v = np.asarray(check.spearman, dtype=float)
    colors = [PALETTE[1] if s >= threshold else PALETTE[2] for s in v]
    fig = go.Figure(go.Bar(x=list(check.stages), y=v, marker_color=colors,
                           hovertemplate="%{x}: ρ = %{y:.3f}<extra></extra>"))
    fig.add_hline(y=threshold, line_dash="dash", line_color="#dc2626", annotation_text=f"ρ = {threshold}")
    return _layout(fig, "Randomisation check: rank correlation with the trained model's attributions",
                   yaxis=dict(title="Spearman ρ (lower is better)", range=[min(-0.1, float(np.nanmin(v)) - 0.05), 1.05]),
                   xaxis=dict(title="layers re-initialised"), height=340)


def completeness_hist(c) -> go.Figure:
    fig = go.Figure(go.Histogram(x=100 * np.asarray(c.relative_error), nbinsx=30, marker_color=PALETTE[0],
                                 hovertemplate="%{x}%: %{y} rows<extra></extra>"))
    fig.add_vline(x=100 * c.tolerance, line_dash="dash", line_color="#dc2626",
                  annotation_text=f"{100 * c.tolerance:g}%")
    return _layout(fig, "Completeness error per row: |Σ attribution − (f(x) − f(baseline))| / |f(x) − f(baseline)|",
                   xaxis=dict(title="relative error (%)"), yaxis=dict(title="rows"), height=300)


def heatmap(values: np.ndarray, title: str = "Attribution", image: np.ndarray | None = None) -> go.Figure:
    """A 2-D attribution map (e.g. an 8×8 digit), symmetric colour scale around 0."""
    v = np.asarray(values, dtype=float)
    v = v.reshape(v.shape[-2], v.shape[-1]) if v.ndim > 2 else v
    lim = float(np.abs(v).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=v, colorscale="RdBu_r", zmin=-lim, zmax=lim, colorbar=dict(title="attr")))
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    return _layout(fig, title, height=320)


def importance_comparison_bars(table, top: int = 15, highlight=()) -> go.Figure:
    """Share of attribution per feature for several models side by side (from ``views.compare_importance``)."""
    feats = list(table.index[:top])[::-1]
    fig = go.Figure()
    for i, name in enumerate(table.columns):
        fig.add_bar(name=str(name), y=feats, x=table.loc[feats, name].to_numpy(), orientation="h",
                    marker_color=PALETTE[i % len(PALETTE)], hovertemplate="%{y}: %{x:.1%}<extra>" + str(name) + "</extra>")
    marked = set(highlight)
    fig.update_yaxes(tickvals=feats, ticktext=[f"<b>{f}</b>" if f in marked else f for f in feats])
    return _layout(fig, "Share of attribution per feature, model by model (bold: sensitive)", barmode="group",
                   height=max(320, 40 * len(feats) + 120), xaxis=dict(title="share of |attribution|", tickformat=".0%"))
