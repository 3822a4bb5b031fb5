"""Attention maps and rollout: rows sum to 1, rollout equals a hand computation, the model stays untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.explain.attention import (
    NO_ATTENTION,
    attention_attribution,
    attention_maps,
    attention_rollout,
    explain_attention,
)
from dlxai.models.nets import PatchViT, TabularTransformer


def snapshot(model: nn.Module) -> dict:
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)) for m in model.modules()],
        "attrs": [sorted(vars(m)) for m in model.modules()],
        "training": [m.training for m in model.modules()],
    }


def assert_unchanged(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    assert after["hooks"] == before["hooks"] and after["attrs"] == before["attrs"]
    assert after["training"] == before["training"]
    for k, v in before["state"].items():
        assert torch.equal(after["state"][k], v), k


def test_attention_rows_sum_to_one_per_layer_and_head_in_torch_transformer_encoder():
    torch.manual_seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 3).eval()
    x = torch.randn(5, 7, 16)
    maps = attention_maps(enc, x, batch_size=2)
    assert len(maps) == 3
    for m in maps:
        assert m.shape == (5, 4, 7, 7)
        torch.testing.assert_close(m.sum(-1), torch.ones(5, 4, 7))
        assert (m >= 0).all()
    # the weights are the ones the layer really uses: recompute layer 0 by hand
    layer = enc.layers[0]
    q, k, _ = nn.functional.linear(x, layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias).chunk(3, -1)
    q = q.reshape(5, 7, 4, 4).transpose(1, 2)
    k = k.reshape(5, 7, 4, 4).transpose(1, 2)
    by_hand = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)
    torch.testing.assert_close(maps[0], by_hand.detach(), rtol=1e-4, atol=1e-5)


def test_vit_maps_cover_cls_plus_patches_and_rows_sum_to_one():
    torch.manual_seed(1)
    vit = PatchViT((1, 8, 8), 2, 16, 2, 4, 10).eval()
    maps = attention_maps(vit, torch.rand(3, 1, 8, 8))
    assert [tuple(m.shape) for m in maps] == [(3, 4, 17, 17)] * 2
    for m in maps:
        torch.testing.assert_close(m.sum(-1), torch.ones(3, 4, 17))


def test_rollout_equals_hand_computation_on_a_two_layer_toy():
    A1 = np.array([[[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]],
                   [[0.2, 0.2, 0.6], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4]]])  # [heads=2, 3, 3]
    A2 = np.array([[[0.1, 0.8, 0.1], [0.5, 0.25, 0.25], [0.3, 0.3, 0.4]],
                   [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]]])
    maps = [torch.tensor(A1[None]), torch.tensor(A2[None])]

    def layer(a):
        m = 0.5 * a.mean(0) + 0.5 * np.eye(3)
        return m / m.sum(-1, keepdims=True)

    expected = layer(A2) @ layer(A1)
    got = attention_rollout(maps)
    assert got.shape == (1, 3, 3)
    np.testing.assert_allclose(got[0].numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(got[0].numpy().sum(-1), np.ones(3))
    # max fusion, without the residual identity
    m1, m2 = A1.max(0), A2.max(0)
    m1, m2 = m1 / m1.sum(-1, keepdims=True), m2 / m2.sum(-1, keepdims=True)
    np.testing.assert_allclose(attention_rollout(maps, head_fusion="max", residual=False)[0].numpy(), m2 @ m1)


def test_attention_attribution_places_the_cls_rollout_on_pixels():
    torch.manual_seed(2)
    vit = PatchViT((1, 8, 8), 2, 16, 2, 4, 10).eval()
    x = torch.rand(4, 1, 8, 8)
    values, delta = attention_attribution(vit, x, target=torch.arange(4), batch_size=3)
    assert values.shape == x.shape and delta is None
    roll = attention_rollout(attention_maps(vit, x))
    # every 2×2 patch shares its token's score equally; the pixels carry all but the CLS token's own share
    torch.testing.assert_close(values.sum((1, 2, 3)).double(), 1 - roll[:, 0, 0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(values[:, 0, 0, 0], values[:, 0, 1, 1])
    torch.testing.assert_close(values[:, 0, 0, 0].double() * 4, roll[:, 0, 1], rtol=1e-5, atol=1e-6)


def test_tabular_transformer_attribution_shares_a_token_over_its_one_hot_block():
    torch.manual_seed(3)
    groups = [[0], [1], [2, 3, 4], [5, 6]]
    model = TabularTransformer(7, groups, 8, 2, 2, 2).eval()
    x = torch.randn(3, 7)
    values, _ = attention_attribution(model, x)
    roll = attention_rollout(attention_maps(model, x))
    for g, cols in enumerate(groups):
        torch.testing.assert_close(values[:, cols].sum(1).double(), roll[:, 0, 1 + g], rtol=1e-5, atol=1e-6)


def test_model_unchanged_after_maps_and_after_an_exception():
    torch.manual_seed(4)
    vit = PatchViT((1, 8, 8), 2, 16, 2, 4, 10)
    vit.train()
    before = snapshot(vit)
    attention_maps(vit, torch.rand(2, 1, 8, 8))
    attention_attribution(vit, torch.rand(2, 1, 8, 8))
    assert_unchanged(vit, before)
    with pytest.raises(UserInputError, match="could not run on inputs"):
        attention_maps(vit, torch.rand(2, 1, 6, 7))
    assert_unchanged(vit, before)


def test_explain_attention_result_object():
    vit = PatchViT((1, 8, 8), 2, 16, 3, 2, 10).eval()
    res = explain_attention(vit, torch.rand(1, 1, 8, 8))
    assert res.maps.shape == (3, 2, 17, 17) and res.rollout.shape == (17, 17)
    np.testing.assert_allclose(res.rollout.sum(-1), np.ones(17), rtol=1e-6)
    assert res.prefix_tokens == 1 and res.head_fusion == "mean"


def test_attention_on_a_model_without_attention_names_the_methods_that_apply():
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    for fn in (attention_maps, attention_attribution):
        with pytest.raises(UnsupportedModelError, match="integrated gradients") as info:
            fn(mlp, torch.rand(2, 4))
        assert "LRP" in str(info.value)
        assert str(info.value) == NO_ATTENTION.format(model="Sequential")


def test_bad_target_and_parameters():
    vit = PatchViT((1, 8, 8), 2, 8, 1, 2, 10).eval()
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(UserInputError, match=r"class index in \[0, 9\]"):
        attention_attribution(vit, x, target=torch.tensor([0, 10]))
    with pytest.raises(UserInputError, match="head_fusion"):
        attention_attribution(vit, x, head_fusion="median")
    with pytest.raises(UserInputError, match="Unknown parameters"):
        attention_attribution(vit, x, steps=50)
    with pytest.raises(UserInputError, match="at least one attention map"):
        attention_rollout([])


def test_torchvision_vit_rollout_reads_weights_it_asks_not_to_return_and_leaves_the_model_untouched():
    """torchvision's ViT calls its attention with need_weights=False; rollout still gets every layer's weights (on a
    private copy), uses the class token's row and spreads each patch's score over its pixels."""
    from torchvision.models.vision_transformer import VisionTransformer

    from dlxai.explain.attribution import attribute

    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
                            num_classes=10).eval()
    state = {k: v.clone() for k, v in vit.state_dict().items()}
    hooks = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in vit.modules()]
    x = torch.randn(2, 3, 32, 32)
    maps = attention_maps(vit, x)
    assert len(maps) == 2 and maps[0].shape == (2, 2, 17, 17)  # class token + 4 × 4 patches, per head
    res = attribute(vit, x, method="attention")
    roll = attention_rollout(maps)[:, 0, 1:].reshape(2, 4, 4).numpy()
    expected = np.repeat(np.repeat(roll, 8, axis=1), 8, axis=2)
    for c in range(3):
        assert np.allclose(res.values[:, c], expected, rtol=1e-6)
    assert all(torch.equal(state[k], v) for k, v in vit.state_dict().items())
    assert hooks == [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in vit.modules()]


def test_lrp_is_shown_unavailable_on_a_torchvision_vit_with_the_reason():
    from torchvision.models.vision_transformer import VisionTransformer

    from dlxai.explain.registry import METHODS, applicable_methods, model_info

    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32,
                            num_classes=3)
    assert "lrp" not in applicable_methods(vit, "image") and "attention" in applicable_methods(vit, "image")
    why = model_info(vit).why_not(METHODS["lrp"], "image")
    assert "LayerNorm" in why and "MultiheadAttention" in why and "attention rollout" in why
