"""The accuracy-fairness front and the before/after table show the front's numbers."""

from __future__ import annotations

import numpy as np

from dlxai.plots.mitigation import before_after_table, front_figure


def test_front_has_one_marker_per_model_with_intervals_both_ways(front):
    pts = front.points
    for gap in ("dp", "eo"):
        fig = front_figure(front, gap)
        assert sorted(x for tr in fig.data for x in tr.x) == sorted(pts[gap].tolist())
        assert sorted(y for tr in fig.data for y in tr.y) == sorted(pts["accuracy"].tolist())
        assert all(tr.error_x.array is not None and tr.error_y.array is not None for tr in fig.data)
    original = next(tr for tr in fig.data if tr.name == "Original")
    assert np.allclose(original.error_x.arrayminus, pts["eo"].iloc[0] - pts["eo_lo"].iloc[0])
    assert "equalized odds difference" in fig.layout.title.text and "(sex;" in fig.layout.title.text


def test_unknown_gap_falls_back_to_demographic_parity(front):
    assert "demographic parity" in front_figure(front, "nonsense").layout.title.text


def test_before_after_table_lists_the_original_and_the_mitigated_model(front):
    r = front.results[1]
    table = before_after_table(r)
    cells = table.data[0].cells.values
    assert cells[0] == ["Original", r.label]
    assert cells[1][1] == f"{r.after.accuracy:.3f} [{r.after.accuracy_ci[0]:.3f}, {r.after.accuracy_ci[1]:.3f}]"
    assert table.layout.title.text == f"Before and after: {r.label}"
