"""Performance figures show the report's confusion counts, calibration bins and training losses."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from dlxai.performance import evaluate
from dlxai.plots.performance import calibration_curve, confusion_matrix, training_curve


def test_confusion_and_calibration_come_from_the_report():
    rng = np.random.default_rng(0)
    p = rng.random(300)
    y = (rng.random(300) < p).astype(int)
    rep = evaluate(y, p)
    cm = confusion_matrix(rep)
    assert np.array_equal(np.asarray(cm.data[0].z), rep.confusion)
    named = confusion_matrix(rep, ("<=50K", ">50K"))
    assert list(named.data[0].x) == ["<=50K", ">50K"] and list(named.data[0].y) == ["<=50K", ">50K"]
    assert named.layout.xaxis.title.text == "Predicted" and named.layout.yaxis.title.text == "Actual"
    cal = calibration_curve(rep)
    assert np.allclose(cal.data[1].x, rep.calibration_pred) and np.allclose(cal.data[1].y, rep.calibration_true)
    assert f"{rep.brier:.3f}" in cal.layout.title.text


def test_training_curve_marks_the_kept_epoch_when_validated():
    hist = [SimpleNamespace(epoch=e, train_loss=1 / e, val_loss=1 / e + 0.1, best_epoch=2) for e in (1, 2, 3)]
    fig = training_curve(hist)
    assert [tr.name for tr in fig.data] == ["train loss", "validation loss"]
    assert fig.layout.shapes[0].x0 == 2
    no_val = [SimpleNamespace(epoch=1, train_loss=0.5, val_loss=None, best_epoch=1)]
    assert len(training_curve(no_val).data) == 1
    assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tickformat == "d"  # epochs 1, 2, 3 - never 1.5
    assert training_curve(hist * 10).layout.xaxis.dtick == 3  # 30 epochs: a tick every 3rd


def test_every_heatmap_has_a_colour_bar():
    """A colour without its scale cannot be read: the confusion matrix and the attention map show theirs."""
    from dlxai.plots.images import attention_heatmap

    rep = evaluate(np.array([0, 1, 1, 0]), np.array([0.2, 0.8, 0.4, 0.1]))
    for fig in (confusion_matrix(rep), attention_heatmap(np.eye(3))):
        heat = [t for t in fig.data if t.type == "heatmap"]
        assert heat and all(t.showscale is not False for t in heat)
    assert confusion_matrix(rep).data[0].colorbar.title.text == "rows"
