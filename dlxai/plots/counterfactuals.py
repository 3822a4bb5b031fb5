"""Recourse and surrogates -> figures: recourse burden by group, the surrogate tree (plotly, no graphviz), fidelity."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dlxai.explain.surrogate import split_conditions
from dlxai.plots.style import PALETTE, colour, layout


def burden_bars(burden) -> go.Figure:
    """Mean counterfactual cost of each group's rejected rows, with bootstrap intervals."""
    bg = burden.by_group
    v = bg["burden"].to_numpy(dtype=float)
    lo, hi = bg["ci_low"].to_numpy(dtype=float), bg["ci_high"].to_numpy(dtype=float)
    colors = [PALETTE[1] if str(g) == burden.highest else PALETTE[0] for g in bg.index]
    text = [f"{r:.0%} without recourse" for r in bg["no_recourse_rate"]]
    fig = go.Figure(go.Bar(
        x=[str(g) for g in bg.index], y=v, marker_color=colors, text=text, textposition="outside",
        error_y=dict(type="data", symmetric=False, array=np.nan_to_num(hi - v), arrayminus=np.nan_to_num(v - lo)),
        customdata=np.stack([bg["rejected"], bg["with_recourse"]], axis=1),
        hovertemplate="%{x}: burden %{y:.2f}<br>%{customdata[1]} of %{customdata[0]} rejected rows have a "
                      "counterfactual<extra></extra>",
    ))
    conf = int(round(100 * burden.params.get("confidence", 0.95)))
    lo_gap, hi_gap = burden.gap_ci
    return layout(fig, f"Recourse burden by {burden.attribute}: gap {burden.gap:.2f} ({conf}% CI "
                       f"{lo_gap:.2f} – {hi_gap:.2f})",
                  yaxis=dict(title="mean cost of the cheapest counterfactual"), xaxis=dict(title=burden.attribute))


def tree_figure(tree, feature_names, class_names=("0", "1"), title: str = "Surrogate tree") -> go.Figure:
    """A fitted sklearn tree drawn with plotly: leaves spread evenly, parents above their children's middle."""
    t = tree.tree_
    pos: dict[int, tuple[float, float]] = {}
    counter = [0]

    def place(node, depth):
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            x = counter[0]
            counter[0] += 1
        else:
            x = (place(left, depth + 1) + place(right, depth + 1)) / 2
        pos[node] = (x, -depth)
        return x

    place(0, 0)
    ex, ey = [], []
    for node in pos:
        for child in (t.children_left[node], t.children_right[node]):
            if child != -1:
                ex += [pos[node][0], pos[child][0], None]
                ey += [pos[node][1], pos[child][1], None]
    fig = go.Figure(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#94a3b8", width=1), hoverinfo="skip",
                               showlegend=False))
    nodes = sorted(pos)
    labels, hover, color = [], [], []
    for node in nodes:
        v = t.value[node][0]
        share = float(v[1] / v.sum()) if v.sum() else 0.0
        color.append(share)
        n = int(t.n_node_samples[node])
        if t.children_left[node] == -1:
            cls = class_names[int(np.argmax(v))]
            labels.append(f"{cls.replace('not ', 'not<br>', 1)}<br>{n:,}")  # narrow: 16 leaves fit side by side
        else:
            left = split_conditions(feature_names[t.feature[node]], float(t.threshold[node]))[0]
            name, op, value = left.partition(" ≠ ") if " ≠ " in left else left.rpartition(" ≤ ")
            labels.append(f"{name}<br>{op.strip()} {value}?")
        hover.append(f"{n:,} rows; {share:.0%} {class_names[1]}")
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text", text=labels,
        textposition="bottom center", textfont=dict(size=10), hovertext=hover, hoverinfo="text", showlegend=False,
        marker=dict(size=18, color=color, colorscale="RdBu", cmin=0, cmax=1, line=dict(color="#334155", width=1),
                    colorbar=dict(title=f"share {class_names[1]}")),
    ))
    depth = int(tree.get_depth())
    return layout(fig, title + " (left branch: condition true)", height=200 + 110 * (depth + 1),
                  xaxis=dict(visible=False), yaxis=dict(visible=False, range=[-depth - 0.8, 0.4]))


def fidelity_bars(surrogate) -> go.Figure:
    """Fidelity per group, with the overall fidelity as a line."""
    bg = surrogate.fidelity_by_group.reset_index()
    fig = go.Figure()
    for i, (attr, part) in enumerate(bg.groupby("attribute", sort=False)):
        fig.add_bar(name=str(attr), x=[f"{attr}: {g}" for g in part["group"]], y=part["fidelity"],
                    marker_color=colour(3 * i), customdata=part["count"],  # blue, purple, …: red means a failure
                    hovertemplate="%{x}: %{y:.3f} (%{customdata} rows)<extra></extra>")
    fig.add_hline(y=surrogate.fidelity, line_dash="dash", annotation_text=f"overall {surrogate.fidelity:.3f}")
    return layout(fig, "Fidelity (agreement with the model) on held-out rows, by group",
                  yaxis=dict(title="fidelity", range=[0, 1.05]))
