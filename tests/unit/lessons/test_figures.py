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
