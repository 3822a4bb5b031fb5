"""The lessons' figures: built from their results, drawable by the handout's browser-free renderer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlxai.lessons.history import Run
from dlxai.plots.lessons import association_bars, front_scatter, history_bars, judged_bars, share_bars
from dlxai.report.charts import matplotlib_png


@pytest.fixture(scope="module")
def judged():
    from dlxai.data import make_bias_lab
    from dlxai.lessons.deserved import judge

    ds = make_bias_lab(800, label_bias=0.5, seed=0)
    return judge((np.arange(len(ds.test)) % 2).astype(int), ds, "group", n_bootstrap=20)


def test_figures_build_and_render_without_a_browser(judged):
    frame = pd.DataFrame({"dp": [0.02, 0.3], "eo_recorded": [0.01, 0.45]}, index=["bias 0.00", "bias 0.50"])
    runs = [Run("a", {"accuracy": 0.85, "dp": 0.17, "dp_lo": 0.15, "dp_hi": 0.19}), Run("b", {"accuracy": 0.83})]
    figs = [history_bars(frame), judged_bars(judged), share_bars(pd.Series({"group": 0.2, "income": 0.8})),
            association_bars(pd.Series({"neighbourhood": 0.9, "income": 0.02})), front_scatter(runs, "DP")]
    for fig in figs:
        assert fig.data and matplotlib_png(fig, 600, 300)[:4] == b"\x89PNG"
    assert len(figs[0].data) == 2 and list(figs[0].data[0].x) == ["1", "2"]  # run numbers; settings as tick text
    assert len(figs[1].data) == 6  # three measures, each against both labels
    assert len(figs[4].data) == 1  # a run without the gap is left out


def test_the_watermark_is_outlined_on_every_panel_of_the_strip_and_the_heatmaps():
    from dlxai.data.watermark import watermark_mask
    from dlxai.plots.images import image_heatmaps
    from dlxai.plots.lessons import image_strip, outline_mask

    images = np.zeros((9, 1, 8, 8), dtype=np.float32)
    strip = image_strip(images, [f"{i}" for i in range(9)], mask=watermark_mask(), per_row=7)
    assert len(strip.data) == 9 and len(strip.layout.shapes) == 9
    last = strip.layout.shapes[-1]
    assert (last.xref, last.yref) == ("x9", "y9")  # the second row's panels get theirs too
    assert (last.x0, last.x1, last.y0, last.y1) == (-0.5, 1.5, 5.5, 7.5)  # rows 6-7, columns 0-1
    maps = image_heatmaps(images[0], {"IG": np.ones((1, 8, 8)), "LRP": -np.ones((1, 8, 8))})
    assert len(outline_mask(maps, watermark_mask(), 3).layout.shapes) == 3
    assert not outline_mask(image_heatmaps(images[0], {}), np.zeros((8, 8), bool), 1).layout.shapes
