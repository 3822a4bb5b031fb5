"""The grid of explained images: one row per image, the image in colour, one heatmap per method, square pixels."""

import numpy as np

from dlxai.plots.imagegrid import heatmap_grid


def test_one_row_per_image_with_colour_input_and_signed_heatmaps():
    px = (np.random.default_rng(0).random((2, 8, 8, 3)) * 255).astype(np.uint8)
    maps = [{"IG": np.full((3, 8, 8), -1.0), "LRP": np.arange(64.0).reshape(8, 8)} for _ in range(2)]
    fig = heatmap_grid(px, maps, ["a.png", "b.png"])
    kinds = [t.type for t in fig.data]
    assert kinds == ["image", "heatmap", "heatmap"] * 2
    ig = fig.data[1]
    assert ig.zmin == -3.0 and ig.zmax == 3.0 and np.allclose(ig.z, -3.0)  # channels summed, symmetric scale
    assert [a.text for a in fig.layout.annotations] == ["a.png", "IG", "LRP", "b.png", "IG", "LRP"]
    assert fig.layout.yaxis6.scaleanchor == "x6"


def test_grayscale_pixels_are_shown_as_grey():
    px = np.zeros((1, 4, 4, 1), np.uint8)
    fig = heatmap_grid(px, [{"IG": np.zeros((1, 4, 4))}], ["g.png"])
    assert np.asarray(fig.data[0].z).shape == (4, 4, 3)


def test_mean_map_panels_share_one_colour_scale_with_one_colour_bar():
    from dlxai.explain.imagemaps import MeanMaps
    from dlxai.plots.imagegrid import mean_map_panels

    maps = np.stack([np.full((4, 4), 0.2), np.full((4, 4), -0.8)])
    fig = mean_map_panels(MeanMaps((0, 1), maps, np.array([3, 5]), "class", "sum", True, "lrp"), ["cat", "dog"])
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert [(t.zmin, t.zmax) for t in heat] == [(-0.8, 0.8)] * 2  # one scale: panels compare
    assert [t.showscale for t in heat] == [False, True]
    assert [a.text for a in fig.layout.annotations] == ["cat (3 images)", "dog (5 images)"]
