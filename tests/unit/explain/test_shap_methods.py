"""SHAP: expected gradients against shap.GradientExplainer, KernelExplainer for models without gradients."""

from __future__ import annotations

import numpy as np
import torch

from dlxai.explain.attribution import attribute


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))


def test_expected_gradients_agree_with_shap_gradient_explainer():
    import shap

    m = _mlp(0)
    torch.manual_seed(1)
    x, bg = torch.randn(40, 8), torch.randn(30, 8)
    ours = attribute(m, x, method="expected_gradients", target=1, baselines=bg, n_samples=200, seed=0).values
    sv = np.asarray(shap.GradientExplainer(m, bg).shap_values(x, nsamples=200, rseed=0))[..., 1]
    assert np.corrcoef(ours.ravel(), sv.ravel())[0, 1] >= 0.95


def test_expected_gradients_of_a_linear_model_is_w_times_x_minus_background_mean():
    torch.manual_seed(2)
    lin = torch.nn.Linear(5, 2).double()
    x, bg = torch.randn(6, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    r = attribute(lin, x, method="expected_gradients", target=0, baselines=bg, n_samples=4000, seed=3)
    expected = (lin.weight[0].detach() * (x - bg.mean(0))).numpy()
    np.testing.assert_allclose(r.values, expected, atol=0.1 * np.abs(expected).max())
    # completeness holds on average over the background
    assert np.abs(r.delta).max() < 0.1 * np.abs(r.output_gap).max()


def test_expected_gradients_with_training_samples_on_a_tabular_model(german, german_mlp):
    r = attribute(german_mlp, german.X("test").head(10), method="expected_gradients", baselines="samples",
                  reference=german.X("train"), n_baseline_samples=50, n_samples=64)
    assert r.values.shape == (10, len(german_mlp.feature_names_out))
    assert r.params["n_samples"] == 64 and r.params["baselines"] == "samples"
    assert np.isfinite(r.values).all() and np.abs(r.values).sum() > 0


def test_kernel_shap_explains_a_model_without_gradients(german):
    from dlxai.models import train_model

    logreg = train_model(german, "logreg", seed=0)
    rows = german.X("test").head(3)
    r = attribute(logreg, rows, method="kernel_shap", baselines="samples", reference=german.X("train"),
                  n_baseline_samples=5, n_samples=400, target=1)
    # Kernel SHAP is efficient: the values add up to f(x) - E[f(background)] on the explained probability
    np.testing.assert_allclose(r.values.sum(1), r.output_gap, atol=1e-6)
    by = r.by_feature()
    assert list(by.columns) == list(german.schema.features)


def test_kernel_shap_on_a_linear_torch_model_recovers_the_weights():
    torch.manual_seed(4)
    lin = torch.nn.Linear(4, 2)
    x, bg = torch.randn(3, 4), torch.randn(1, 4)
    r = attribute(lin, x, method="kernel_shap", target=1, baselines=bg, n_samples=100)
    np.testing.assert_allclose(r.values, (lin.weight[1].detach() * (x - bg)).numpy(), atol=1e-4)


def test_expected_gradients_on_large_images_splits_one_images_samples_and_matches_one_pass():
    """224 × 224 images go a few points per pass (not n_samples × rows at once); the values equal one big pass."""
    from dlxai.explain import gradients
    from dlxai.explain.shap_methods import expected_gradients

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 5, stride=4), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(2 * 55 * 55, 3)).eval()
    x, bg = torch.randn(2, 3, 224, 224), torch.randn(4, 3, 224, 224)
    t = torch.tensor([0, 2])
    split, d_split = expected_gradients(net, x, target=t, baselines=bg, n_samples=40)  # passes of 32 + 8
    budget = gradients.CPU_CHUNK_VALUES
    try:
        gradients.CPU_CHUNK_VALUES = 10 ** 9
        whole, d_whole = expected_gradients(net, x, target=t, baselines=bg, n_samples=40)
    finally:
        gradients.CPU_CHUNK_VALUES = budget
    assert torch.allclose(split, whole, rtol=1e-5, atol=1e-7) and torch.allclose(d_split, d_whole, atol=1e-5)
