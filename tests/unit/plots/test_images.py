"""Image heatmaps: one panel per method, symmetric scales for signed maps; attention maps and token labels."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dlxai.plots.images import attention_heatmap, image_heatmaps, token_labels


def test_heatmap_figure_has_one_panel_per_method():
    img = np.random.default_rng(0).random((1, 8, 8))
    fig = image_heatmaps(img, {"IG": img - 0.5, "LRP": img})
    assert isinstance(fig, go.Figure)
    assert [t.type for t in fig.data] == ["heatmap"] * 3
    assert fig.data[1].zmin == -fig.data[1].zmax  # signed maps get a symmetric scale
    assert fig.data[2].zmin == 0.0  # an all-positive map starts at 0
    bars = [t.colorbar.x for t in fig.data]
    assert all(t.showscale is not False for t in fig.data) and bars == sorted(bars)  # a colour bar beside each panel


def test_attention_heatmap_labels_queries_and_keys():
    m = np.eye(5) * 0.5 + 0.1
    labels = token_labels(5, 1, (2, 2))
    assert labels == ["CLS", "r0c0", "r0c1", "r1c0", "r1c1"]
    fig = attention_heatmap(m, labels=labels, title="layer 0")
    assert list(fig.data[0].x) == labels and fig.layout.title.text == "layer 0"
    assert np.array_equal(np.asarray(fig.data[0].z), m)
