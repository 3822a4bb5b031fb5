"""Gradient methods: analytic cases and cross-checks against Captum on the same modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlxai.explain.attribution import attribute
from dlxai.explain.gradients import RULES, integrated_gradients, rule_parameters


def _mlp(seed=0, d=8, h=16, dtype=torch.float32):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, h), torch.nn.ReLU(),
                               torch.nn.Linear(h, 2)).to(dtype)


@pytest.mark.parametrize("rule", RULES)
def test_ig_of_linear_model_is_w_times_x_minus_b(rule):
    torch.manual_seed(1)
    lin = torch.nn.Linear(5, 2).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    b = torch.randn(1, 5, dtype=torch.float64)
    r = attribute(lin, x, method="integrated_gradients", target=1, baselines=b, rule=rule, n_steps=7)
    expected = (lin.weight[1].detach() * (x - b)).numpy()
    np.testing.assert_allclose(r.values, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.delta, 0.0, atol=1e-12)


def test_ig_mean_baseline_uses_the_reference_mean():
    torch.manual_seed(2)
    lin = torch.nn.Linear(4, 2).double()
    x, ref = torch.randn(3, 4, dtype=torch.float64), torch.randn(50, 4, dtype=torch.float64)
    r = attribute(lin, x, method="integrated_gradients", target=0, baselines="mean", reference=ref)
    np.testing.assert_allclose(r.values, (lin.weight[0].detach() * (x - ref.mean(0))).numpy(), atol=1e-12)


@pytest.mark.parametrize("rule", RULES)
def test_ig_equals_captum_with_the_same_rule(rule):
    from captum.attr import IntegratedGradients

    m = _mlp(3)
    x = torch.randn(40, 8)
    ours = attribute(m, x, method="integrated_gradients", target=1, rule=rule, n_steps=25, batch_size=256).values
    theirs = IntegratedGradients(m).attribute(x, target=1, n_steps=25, method=rule).detach().numpy()
    if rule == "riemann_trapezoid":  # Captum's trapezoid weights sum to 1 - 1/n; ours to 1 (see rule_parameters)
        theirs = theirs * 25 / 24
    assert np.abs(ours - theirs).max() / np.abs(theirs).max() <= 1e-4


def test_rule_parameters_match_captum():
    from captum.attr._utils.approximation_methods import approximation_parameters

    for rule in RULES:
        steps_fn, alphas_fn = approximation_parameters(rule)
        a, s = rule_parameters(rule, 9)
        np.testing.assert_allclose(a, alphas_fn(9), atol=1e-6)
        np.testing.assert_allclose(s * (8 / 9 if rule == "riemann_trapezoid" else 1), steps_fn(9), atol=1e-6)
        assert s.sum() == pytest.approx(1.0)


def test_ig_completeness_on_an_mlp():
    m = _mlp(4, dtype=torch.float64)
    x = torch.randn(30, 8, dtype=torch.float64)
    r = attribute(m, x, method="integrated_gradients", n_steps=300, rule="gausslegendre")
    out = m(x).detach()
    gap = out[torch.arange(30), torch.as_tensor(r.target)] - m(torch.zeros(1, 8, dtype=torch.float64)).detach()[
        0, torch.as_tensor(r.target)]
    np.testing.assert_allclose(r.output_gap, gap.numpy(), atol=1e-10)
    np.testing.assert_allclose(r.values.sum(1), gap.numpy(), atol=1e-2 * np.abs(gap.numpy()).max())


def test_adaptive_ig_adds_steps_until_completeness_is_within_tolerance():
    m = _mlp(5, dtype=torch.float64)
    x = 3 * torch.randn(25, 8, dtype=torch.float64)
    fixed = attribute(m, x, method="integrated_gradients", n_steps=4, rule="riemann_left")
    r = attribute(m, x, method="integrated_gradients", n_steps=4, rule="riemann_left", adaptive=True, tolerance=0.01,
                  max_steps=4096)
    steps = r.info["steps"]
    assert steps.max() > 4  # some rows needed more steps
    ok = steps < 4096
    assert (r.completeness_error[ok] <= 0.01 + 1e-12).all()
    assert r.completeness_error.mean() < fixed.completeness_error.mean()
    assert r.info["converged"] == pytest.approx(float((r.completeness_error <= 0.01).mean()))


def test_samples_baseline_is_the_average_over_reference_rows():
    m = _mlp(6, dtype=torch.float64)
    x, ref = torch.randn(5, 8, dtype=torch.float64), torch.randn(20, 8, dtype=torch.float64)
    r = attribute(m, x, method="integrated_gradients", baselines="samples", reference=ref, n_baseline_samples=3,
                  seed=7)
    idx = np.random.default_rng(7).choice(20, size=3, replace=False)
    each = [attribute(m, x, method="integrated_gradients", baselines=ref[i:i + 1]).values for i in idx]
    np.testing.assert_allclose(r.values, np.mean(each, axis=0), atol=1e-12)
    assert r.params["n_baseline_samples"] == 3


def test_saliency_and_input_x_gradient_equal_captum():
    from captum.attr import InputXGradient, Saliency

    m = _mlp(7)
    x = torch.randn(20, 8)
    np.testing.assert_allclose(attribute(m, x, method="saliency", target=0, batch_size=7).values,
                               Saliency(m).attribute(x, target=0).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(attribute(m, x, method="input_x_gradient", target=0).values,
                               InputXGradient(m).attribute(x, target=0).detach().numpy(), rtol=1e-5, atol=1e-7)


def test_deeplift_equals_captum_and_is_complete():
    from captum.attr import DeepLift

    m = _mlp(8, dtype=torch.float64)
    x = torch.randn(20, 8, dtype=torch.float64)
    r = attribute(m, x, method="deeplift", target=1, batch_size=6)
    ref = DeepLift(m).attribute(x, target=1).detach().numpy()
    np.testing.assert_allclose(r.values, ref, atol=1e-10)
    assert np.abs(r.delta).max() < 1e-8


def test_ig_direct_call_with_predicted_class_and_info():
    m = _mlp(9)
    x = torch.randn(10, 8)
    t = m(x).argmax(1)
    info = {}
    attr, delta = integrated_gradients(m, x, target=t, baselines=None, batch_size=64, info=info)
    assert attr.shape == x.shape and delta.shape == (10,)
    assert (info["steps"] == 50).all()


def test_tabular_ig_sums_one_hot_columns_back_to_raw_features(german, german_mlp):
    rows = german.X("test").head(12)
    r = attribute(german_mlp, rows, method="integrated_gradients", baselines="mean", reference=german.X("train"),
                  n_steps=32)
    by = r.by_feature()
    assert list(by.columns) == list(german.schema.features)
    np.testing.assert_allclose(by.sum(axis=1).to_numpy(), r.values.sum(1), atol=1e-9)
    assert r.completeness_error.mean() < 0.05
    assert r.values.shape == (12, len(german_mlp.feature_names_out))


def test_integrated_gradients_on_a_torchvision_resnet_equals_captum_when_steps_are_split_into_chunks():
    """A 1-image chunk budget forces the steps of one image across several passes; the sum is Captum's."""
    import torchvision
    from captum.attr import IntegratedGradients

    from dlxai.explain import gradients

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ref = IntegratedGradients(model).attribute(x, target=3, n_steps=8, method="gausslegendre").double().numpy()
    whole = attribute(model, x, method="integrated_gradients", target=3, n_steps=8)
    budget = gradients.CPU_CHUNK_VALUES
    try:
        gradients.CPU_CHUNK_VALUES = 3 * 32 * 32 * 4  # 4 path points per pass: 2 images × 2 of the 8 steps
        split = attribute(model, x, method="integrated_gradients", target=3, n_steps=8)
    finally:
        gradients.CPU_CHUNK_VALUES = budget
    scale = np.abs(ref).max()
    assert np.abs(whole.values - ref).max() / scale < 1e-5
    assert np.abs(split.values - ref).max() / scale < 1e-5
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_bfloat16_integrated_gradients_stays_close_to_float32():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 14 * 14, 4)).eval()
    x = torch.randn(2, 3, 16, 16)
    t = torch.tensor([1, 2])
    full, _ = integrated_gradients(net, x, target=t, n_steps=16)
    low, delta = integrated_gradients(net, x, target=t, n_steps=16, low_precision=True)
    assert low.dtype == torch.float32
    assert 0 < float((low - full).abs().max() / full.abs().max()) < 0.05  # bf16 differs, but only a little
