"""LRP: hand-computed LRP-ε, conservation, BatchNorm canonizing, the caller's model untouched, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.explain.lrp import COMPOSITES, NO_RULE, UNKNOWN_COMPOSITE, lrp
from dlxai.models.nets import PatchViT, Residual, digit_cnn


def snapshot(model: nn.Module) -> dict:
    """Everything a caller would notice: parameters, buffers (BatchNorm statistics), hooks, attributes, mode."""
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks),
                   len(getattr(m, "_backward_pre_hooks", {}))) for m in model.modules()],
        "attrs": [sorted(vars(m)) for m in model.modules()],
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
    }


def assert_unchanged(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    assert after["hooks"] == before["hooks"]
    assert after["attrs"] == before["attrs"]
    assert after["training"] == before["training"]
    assert after["requires_grad"] == before["requires_grad"]
    assert after["state"].keys() == before["state"].keys()
    for k, v in before["state"].items():
        assert torch.equal(after["state"][k], v), k


def _zero_biases(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)) and m.bias is not None:
            nn.init.zeros_(m.bias)
    return model


def _stabilise(z: torch.Tensor, eps: float) -> torch.Tensor:
    return z + eps * torch.where(z >= 0, 1.0, -1.0).to(z)


def test_lrp_epsilon_equals_hand_computation_on_two_layer_relu_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    x = torch.randn(6, 5, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    eps = 1e-2
    R, delta = lrp(net, x, target=target, composite="epsilon", epsilon=eps)

    W1, b1, W2, b2 = (p.detach() for p in (net[0].weight, net[0].bias, net[2].weight, net[2].bias))
    z1 = x @ W1.T + b1
    a1 = z1.clamp_min(0)
    z2 = a1 @ W2.T + b2
    R2 = torch.zeros_like(z2)
    R2[torch.arange(6), target] = z2[torch.arange(6), target]
    R1 = a1 * ((R2 / _stabilise(z2, eps)) @ W2)
    R0 = x * ((R1 / _stabilise(z1, eps)) @ W1)

    assert R.shape == x.shape
    torch.testing.assert_close(R, R0, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(delta, R0.sum(1) - z2[torch.arange(6), target])


def test_lrp_epsilon_matches_captum_on_an_mlp():
    from captum.attr import LRP

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)).double().eval()
    x = torch.randn(10, 8, dtype=torch.float64)
    target = torch.randint(0, 2, (10,))
    ours, _ = lrp(net, x, target=target, composite="epsilon", epsilon=1e-9)
    theirs = LRP(_copy(net)).attribute(x, target=target)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-9)


def _copy(model):
    import copy

    return copy.deepcopy(model)


def test_conservation_under_epsilon_plus_flat_for_bias_free_mlp_and_residual_cnn():
    torch.manual_seed(2)
    mlp = _zero_biases(nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 2)))
    x = torch.randn(16, 6)
    t = torch.randint(0, 2, (16,))
    R, delta = lrp(mlp, x, target=t, composite="epsilon_plus_flat")
    logit = mlp(x).detach()[torch.arange(16), t]
    torch.testing.assert_close(R.sum(1), logit, rtol=1e-3, atol=1e-5)
    assert delta.abs().max() <= 1e-3 * logit.abs().max() + 1e-5

    # conv + BatchNorm (default statistics, no shift) + residual block + max-pool + Flatten
    cnn = _zero_biases(digit_cnn((1, 8, 8), 10, width=8)).eval()
    imgs = torch.rand(8, 1, 8, 8)
    t = cnn(imgs).argmax(1).detach()
    R, delta = lrp(cnn, imgs, target=t, composite="epsilon_plus_flat", batch_size=3)
    logit = cnn(imgs).detach()[torch.arange(8), t]
    assert R.shape == imgs.shape
    torch.testing.assert_close(R.flatten(1).sum(1), logit, rtol=1e-3, atol=1e-5)


def test_residual_addition_conserves_relevance_between_skip_and_body():
    torch.manual_seed(3)
    block = nn.Sequential(nn.Linear(4, 4, bias=False), nn.ReLU(),
                          Residual(nn.Sequential(nn.Linear(4, 4, bias=False), nn.ReLU())),
                          nn.Linear(4, 2, bias=False))
    x = torch.rand(5, 4)
    R, delta = lrp(block, x, target=torch.zeros(5, dtype=torch.long), composite="epsilon", epsilon=1e-9)
    logit = block(x).detach()[:, 0]
    torch.testing.assert_close(R.sum(1), logit, rtol=1e-4, atol=1e-6)


def test_batchnorm_is_canonized_and_the_callers_model_is_unchanged():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2))
    bn = net[1]
    with torch.no_grad():  # non-trivial statistics and affine parameters
        bn.running_mean.copy_(torch.randn(3))
        bn.running_var.copy_(torch.rand(3) + 0.5)
        bn.weight.copy_(torch.rand(3) + 0.5)
        bn.bias.copy_(torch.randn(3) * 0.1)
    net.eval()
    before = snapshot(net)
    x = torch.rand(4, 1, 4, 4)
    t = torch.tensor([0, 1, 0, 1])
    R, _ = lrp(net, x, target=t, composite="epsilon", epsilon=1e-6)
    assert_unchanged(net, before)

    # the same network with BatchNorm merged by hand into the convolution
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv = nn.Conv2d(1, 3, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(net[0].weight * scale[:, None, None, None])
        conv.bias.copy_((net[0].bias - bn.running_mean) * scale + bn.bias)
    merged = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), _copy(net[4])).eval()
    torch.testing.assert_close(merged(x), net(x))
    R_merged, _ = lrp(merged, x, target=t, composite="epsilon", epsilon=1e-6)
    torch.testing.assert_close(R, R_merged, rtol=1e-4, atol=1e-6)


def test_callers_model_unchanged_after_an_exception_inside_the_rules():
    cnn = digit_cnn((1, 8, 8), 10, width=4)
    cnn.train()  # a caller's model in training mode stays in training mode, BN statistics untouched
    before = snapshot(cnn)
    with pytest.raises(UserInputError, match="could not run on inputs"):
        lrp(cnn, torch.rand(2, 1, 6, 6), target=torch.zeros(2, dtype=torch.long))
    assert_unchanged(cnn, before)
    # and it still works afterwards (a failed call leaves no rules behind)
    R, _ = lrp(cnn, torch.rand(2, 1, 8, 8), target=torch.zeros(2, dtype=torch.long))
    assert torch.isfinite(R).all()
    assert_unchanged(cnn, before)


@pytest.mark.parametrize("composite", COMPOSITES)
def test_every_composite_gives_finite_relevance_of_the_input_shape(composite):
    torch.manual_seed(5)
    cnn = digit_cnn((1, 8, 8), 10, width=4).eval()
    x = torch.rand(3, 1, 8, 8)
    R, delta = lrp(cnn, x, target=torch.tensor([1, 2, 3]), composite=composite)
    assert R.shape == x.shape and torch.isfinite(R).all() and R.abs().sum() > 0
    assert delta.shape == (3,)


def test_zbox_input_rule_bounds_from_the_data():
    torch.manual_seed(6)
    cnn = digit_cnn((1, 8, 8), 10, width=4).eval()
    x = torch.rand(2, 1, 8, 8)
    R, _ = lrp(cnn, x, target=torch.tensor([0, 1]), composite="epsilon", input_rule="zbox", low=0.0, high=1.0)
    R_flat, _ = lrp(cnn, x, target=torch.tensor([0, 1]), composite="epsilon", input_rule="flat")
    assert torch.isfinite(R).all() and not torch.allclose(R, R_flat)


def test_lrp_refuses_attention_models_and_names_what_applies():
    vit = PatchViT((1, 8, 8), 2, 8, 1, 2, 10)
    with pytest.raises(UnsupportedModelError, match="attention rollout") as info:
        lrp(vit, torch.rand(2, 1, 8, 8), target=torch.zeros(2, dtype=torch.long))
    assert "MultiheadAttention" in str(info.value) and "integrated gradients" in str(info.value)
    assert NO_RULE.split("{")[0] in str(info.value)


def test_bad_parameters_get_clear_messages():
    net = nn.Sequential(nn.Linear(3, 2))
    x = torch.rand(2, 3)
    with pytest.raises(UserInputError, match="Unknown LRP composite"):
        lrp(net, x, target=torch.tensor([0, 1]), composite="magic")
    assert "magic" in UNKNOWN_COMPOSITE.format(name="magic", choices=[])
    with pytest.raises(UserInputError, match=r"class index in \[0, 1\]"):
        lrp(net, x, target=torch.tensor([0, 5]))
    with pytest.raises(UserInputError, match="floating-point"):
        lrp(net, torch.ones(2, 3, dtype=torch.long), target=torch.tensor([0, 1]))
    with pytest.raises(UnsupportedModelError, match="torch.nn.Module"):
        lrp("not a model", x, target=torch.tensor([0, 1]))


def test_fast_epsilon_path_equals_zennit_rules_on_a_batchnorm_residual_cnn():
    torch.manual_seed(7)
    cnn = digit_cnn((1, 8, 8), 10, width=6)
    with torch.no_grad():  # trained-looking BatchNorm statistics, so the merge matters
        for m in cnn.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
                m.weight.copy_(torch.rand_like(m.weight) + 0.5)
                m.bias.copy_(torch.randn_like(m.bias) * 0.1)
    cnn.eval()
    before = snapshot(cnn)
    x = torch.rand(5, 1, 8, 8)
    t = torch.tensor([0, 3, 5, 7, 9])
    fast, d_fast = lrp(cnn, x, target=t, composite="epsilon", epsilon=1e-4, engine="fast")
    slow, d_slow = lrp(cnn, x, target=t, composite="epsilon", epsilon=1e-4, engine="zennit")
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(d_fast, d_slow, rtol=1e-4, atol=1e-5)
    assert_unchanged(cnn, before)
    with pytest.raises(UserInputError, match="engine='fast' covers composite='epsilon'"):
        lrp(cnn, x, target=t, composite="zplus", engine="fast")


def test_torchvision_resnet_blocks_conserve_relevance_through_the_skip_connection():
    from torchvision.models.resnet import BasicBlock

    torch.manual_seed(8)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU(), BasicBlock(4, 4), BasicBlock(4, 4),
                        nn.Flatten(), nn.Linear(4 * 6 * 6, 3, bias=False)).eval()
    before = snapshot(net)
    x = torch.rand(4, 1, 6, 6)
    t = torch.tensor([0, 1, 2, 0])
    logit = net(x).detach()[torch.arange(4), t]
    R, delta = lrp(net, x, target=t, composite="epsilon", epsilon=1e-9)
    torch.testing.assert_close(R.flatten(1).sum(1), logit, rtol=1e-3, atol=1e-5)
    assert_unchanged(net, before)  # the canonizer's Sum modules and merged BatchNorm lived only on the copy
    assert not any(type(m).__name__ == "Sum" for m in net.modules())
    # without canonizing, the bare `+` copies relevance into both branches: no longer conserved
    R_raw, _ = lrp(net, x, target=t, composite="epsilon", epsilon=1e-9, canonize=False)
    assert (R_raw.flatten(1).sum(1) - logit).abs().max() > 10 * (R.flatten(1).sum(1) - logit).abs().max()


def test_lrp_and_attention_through_the_attribute_dispatcher():
    from dlxai.explain.attribution import attribute

    torch.manual_seed(9)
    cnn = digit_cnn((1, 8, 8), 10, width=4).eval()
    x = torch.rand(3, 1, 8, 8)
    res = attribute(cnn, x, method="lrp", composite="epsilon", kind="image", device="cpu")
    assert res.values.shape == (3, 1, 8, 8) and res.delta is not None and res.method == "lrp"
    direct, _ = lrp(cnn, x, target=torch.as_tensor(res.target), composite="epsilon")
    np.testing.assert_allclose(res.values, direct.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(UnsupportedModelError, match="attention"):
        attribute(cnn, x, method="attention", kind="image", device="cpu")
    vit = PatchViT((1, 8, 8), 2, 8, 1, 2, 10).eval()
    with pytest.raises(UnsupportedModelError, match="integrated gradients"):
        attribute(vit, x, method="lrp", kind="image", device="cpu")
    rollout = attribute(vit, x, method="attention", kind="image", device="cpu")
    assert rollout.values.shape == (3, 1, 8, 8) and (rollout.values >= 0).all()


def test_epsilon_plus_flat_on_torchvision_resnet18_and_vgg_equals_zennit_and_leaves_the_model_untouched():
    """The z⁺ shortcut (no pass over a non-negative input's zero negative part) gives Zennit's numbers to the bit,
    through dlxai.attribute (one private copy) with the ResNet canonizer and on a BatchNorm VGG."""
    import torchvision
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonPlusFlat
    from zennit.torchvision import ResNetCanonizer, VGGCanonizer

    from dlxai.explain.attribution import attribute

    torch.manual_seed(0)
    cases = [(torchvision.models.resnet18(weights=None, num_classes=10), ResNetCanonizer()),
             (torchvision.models.vgg11_bn(weights=None, num_classes=10), VGGCanonizer())]
    for model, canonizer in cases:
        model.eval()
        x = torch.randn(3, 3, 32, 32)
        before = snapshot(model)
        res = attribute(model, x, method="lrp", composite="epsilon_plus_flat")
        assert_unchanged(model, before)
        t = torch.as_tensor(res.target)
        with Gradient(model, EpsilonPlusFlat(canonizers=[canonizer])) as attributor:
            logits = model(x).detach()
            _, ref = attributor(x, torch.eye(10)[t] * logits)
        assert np.array_equal(res.values, ref.double().numpy())


def test_zplus_shortcut_falls_back_to_zennit_when_an_input_is_negative():
    from zennit.attribution import Gradient
    from zennit.composites import NameMapComposite
    from zennit.rules import ZPlus

    from dlxai.explain.lrp import _zplus_rule

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)).eval()
    x = torch.randn(6, 5)  # the first layer sees negative inputs, the second only ReLU outputs
    outs = []
    for rule in (_zplus_rule(), ZPlus()):
        with Gradient(net, NameMapComposite([(["0", "2"], rule)])) as attributor:
            outs.append(attributor(x, torch.eye(3)[[0, 1, 2, 0, 1, 2]])[1])
    assert torch.equal(outs[0], outs[1])


def test_large_batches_are_split_by_input_size_without_changing_relevance(monkeypatch):
    from dlxai.explain import gradients
    from dlxai.explain.gradients import CPU_CHUNK_VALUES, points_per_chunk

    assert points_per_chunk(torch.zeros(1, 3, 224, 224), 4096) == CPU_CHUNK_VALUES // (3 * 224 * 224) == 32
    assert points_per_chunk(torch.zeros(5, 100), 4096) == 4096  # tabular rows keep the caller's batch size
    monkeypatch.setattr(gradients, "CPU_CHUNK_VALUES", 3 * 3 * 32 * 32)  # 3 images per pass: 3 + 3 + 2
    torch.manual_seed(2)
    x = torch.randn(8, 3, 32, 32)
    assert points_per_chunk(x, 64) == 3
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 30 * 30, 2)).eval()
    split, _ = lrp(net, x, target=0, batch_size=64)
    one_by_one, _ = lrp(net, x, target=0, batch_size=1)
    assert torch.allclose(split, one_by_one, rtol=1e-5, atol=1e-7)
