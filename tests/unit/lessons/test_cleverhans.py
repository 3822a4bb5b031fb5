"""The Clever Hans lesson's engine: with the watermark on every training 8 the CNN loses the clean 8s and IG and
LRP-ε put far more relevance on the watermark than its share of the image; at correlation 0 neither happens.

The CNNs train for 3 epochs here (the lesson trains 8; its own numbers are checked by the lesson's AppTest)."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.errors import UserInputError
from dlxai.lessons import cleverhans as C

EPOCHS = 3


@pytest.fixture(scope="module")
def trained():
    """settings -> (dataset, estimator), for correlation 1 and 0 (shortcut class 8)."""
    out = {}
    for corr in (1.0, 0.0):
        which = C.ShortcutSettings(corr, 8)
        ds = C.make_data(which)
        out[corr] = ds, C.train(ds, epochs=EPOCHS)
    return out


def test_at_correlation_one_the_model_takes_the_shortcut_and_the_explanations_show_it(trained):
    ds, est = trained[1.0]
    g = C.grade(est, ds)
    assert g.class_clean < 0.3 and g.class_watermarked > 0.95  # the clean 8s are lost, the stamped ones found
    assert g.hijacked > 0.1  # the watermark alone turns other digits into 8s
    assert g.accuracy_watermarked < g.accuracy_clean - 0.05
    rel = C.explain(est, ds)
    assert rel.area_share == pytest.approx(4 / 64) and rel.n_images == int((ds.y("test") == 8).sum())
    assert set(rel.shares) == {"Integrated gradients", "LRP-ε"}
    for share in rel.shares.values():
        assert share > 4 * rel.area_share, rel.shares
    first, fooled = rel.examples
    assert first.truth == 8 and first.predicted == 8
    assert fooled.truth != 8 and fooled.predicted == 8  # another digit the watermark made an 8
    assert set(first.maps) == set(rel.shares) and first.maps["LRP-ε"].shape == (1, 8, 8)


def test_at_correlation_zero_the_shortcut_is_gone(trained):
    ds, est = trained[0.0]
    g = C.grade(est, ds)
    assert g.class_clean > 0.85 and g.hijacked < 0.02
    assert abs(g.accuracy_watermarked - g.accuracy_clean) < 0.02
    rel = C.explain(est, ds)
    for share in rel.shares.values():
        assert share < 1.5 * rel.area_share, rel.shares
    assert rel.examples[1].predicted != 8


def test_explaining_leaves_the_model_as_it_was(trained):
    import torch

    ds, est = trained[1.0]
    before = {k: v.clone() for k, v in est.module_.state_dict().items()}
    C.explain(est, ds)
    after = est.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(m._forward_hooks or m._backward_hooks or m._forward_pre_hooks for m in est.module_.modules())


def test_a_run_records_grades_and_shares_under_the_history_keys():
    from dlxai.lessons.catalogue import LESSONS
    from dlxai.lessons.history import METRICS

    g = C.Grades(0.9, 0.8, 0.1, 1.0, 0.3)
    rel = C.Relevance({"Integrated gradients": 0.4, "LRP-ε": 0.5}, 0.0625, 50)
    record = C.ShortcutRun(C.ShortcutSettings(), g, rel).record()
    assert set(LESSONS["clever_hans"].history) <= set(record) <= set(METRICS)
    assert record["share_lrp"] == 0.5 and record["hijacked"] == 0.3
    assert "share_ig" not in C.ShortcutRun(C.ShortcutSettings(), g).record()


def test_watermark_share_is_the_share_of_absolute_relevance_in_the_mask():
    mask = np.zeros((2, 2), bool)
    mask[0, 0] = True
    values = np.array([[[[3.0, -1.0], [0.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]], [[[-1.0, 1.0], [1.0, 1.0]]]])
    share = C.watermark_share(values, mask)
    assert share[0] == pytest.approx(0.75) and np.isnan(share[1]) and share[2] == pytest.approx(0.25)


def test_settings_round_the_dial_say_what_they_are_and_refuse_bad_values():
    s = C.ShortcutSettings(0.504, 3)
    assert s.correlation == 0.5 and s.label == "watermark on 50% of the 3s"
    assert C.ShortcutSettings(1, 8) == C.ShortcutSettings(1.0, 8)
    for bad in ({"correlation": -0.1}, {"shortcut_class": 11}, {"seed": -1}, {"correlation": True}):
        with pytest.raises(UserInputError):
            C.ShortcutSettings(**bad)
