"""Image maps: mean heatmaps per class/group by hand, patch deletion/insertion, the randomisation check on images."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from dlxai.errors import UserInputError
from dlxai.explain.attribution import attribute
from dlxai.explain.imagemaps import (
    BAD_LABELS,
    BAD_PATCH,
    NOT_IMAGES,
    heatmaps,
    mean_by_class,
    mean_by_group,
    patch_deletion_insertion,
    patch_groups,
    randomisation_check,
)


def _result(values, target):
    from dlxai.explain.attribution import AttributionResult

    values = np.asarray(values, dtype=np.float64)
    return AttributionResult(values=values, method="saliency", params={}, target=np.asarray(target),
                             inputs=np.zeros_like(values), baselines=None, feature_names=(), kind="image")


def test_heatmaps_sum_channels_signed_or_absolute():
    v = np.zeros((1, 2, 2, 2))
    v[0, 0] = [[1, -2], [3, 0]]
    v[0, 1] = [[-1, -1], [1, 4]]
    assert np.array_equal(heatmaps(v), [[[0, -3], [4, 4]]])
    assert np.array_equal(heatmaps(v, reduce="abs"), [[[2, 3], [4, 4]]])
    with pytest.raises(UserInputError, match="reduce must be one of"):
        heatmaps(v, reduce="max")


def test_mean_maps_per_class_and_group_equal_a_hand_computation():
    v = np.zeros((3, 1, 1, 2))
    v[:, 0, 0] = [[2, 1], [0, -4], [1, 1]]
    res = _result(v, [1, 0, 1])
    by_class = mean_by_class(res)  # each image scaled to max |value| 1: [1, .5], [0, -1], [1, 1]
    assert by_class.keys == (0, 1) and list(by_class.counts) == [1, 2]
    assert np.allclose(by_class.map(1), [[1.0, 0.75]]) and np.allclose(by_class.map(0), [[0, -1]])
    raw = mean_by_group(res, ["a", "b", "a"], normalise=False)
    assert raw.keys == ("a", "b") and np.allclose(raw.map("a"), [[1.5, 1.0]])
    with pytest.raises(UserInputError, match=re.escape(BAD_LABELS.split("{")[0])):
        mean_by_group(res, ["a"])
    with pytest.raises(UserInputError, match="No images of class"):
        by_class.map(7)
    with pytest.raises(UserInputError, match=re.escape(NOT_IMAGES.split("}")[1].split("{")[0])):
        mean_by_class(_result(np.zeros((2, 3)), [0, 1]))


def test_patch_groups_cover_every_value_once_with_all_channels_together():
    groups = patch_groups((2, 5, 4), 2)
    assert len(groups) == 3 * 2
    assert np.array_equal(np.sort(np.concatenate(list(groups.values()))), np.arange(2 * 5 * 4))
    assert sorted(groups["r0c0"].tolist()) == [0, 1, 4, 5, 20, 21, 24, 25]
    with pytest.raises(UserInputError, match=re.escape(BAD_PATCH.split("{")[0])):
        patch_groups((3, 8, 8), 9)


def test_patch_deletion_on_a_model_that_reads_one_patch_is_faithful_for_the_right_map():
    """The logit is 10 × the mean of the top-left 4 × 4 patch: a map pointing there drops the class probability to
    0.5 (logits 0, 0) at the first step; a map pointing elsewhere does worse than a random order."""

    class TopLeft(nn.Module):
        def forward(self, x):
            s = 10 * x[:, :, :4, :4].mean((1, 2, 3))
            return torch.stack([-s, s], 1)

    x = torch.ones(2, 3, 16, 16)
    good = np.zeros((2, 3, 16, 16))
    good[:, :, :4, :4] = 1.0
    bad = np.zeros((2, 3, 16, 16))
    bad[:, :, :4, :4] = -1.0  # the patch that matters ranked last
    base = _result(good, [1, 1])
    base = type(base)(**{**base.__dict__, "inputs": x.numpy()})
    ok = patch_deletion_insertion(TopLeft(), base, patch=4, n_steps=16)
    assert ok.n_units == 16 and ok.params["patch"] == 4
    assert ok.deletion[0] > 0.999 and ok.deletion[1] == pytest.approx(0.5) and ok.faithful
    wrong = patch_deletion_insertion(TopLeft(), type(base)(**{**base.__dict__, "values": bad}), patch=4, n_steps=16)
    assert not wrong.faithful


def test_image_randomisation_check_on_a_torchvision_resnet_leaves_the_model_untouched():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 32, 32)
    check = randomisation_check(model, x, method="saliency", seed=1)
    assert check.stages == ("all layers",) and check.spearman_rows.shape == (1, 2)
    assert -1 <= check.final <= 1 and check.params["reduce"] == "abs"
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    same = attribute(model, x, method="saliency")
    assert np.isfinite(same.values).all()
