"""attribute(): registry, validation messages, and the caller's model left untouched."""

from __future__ import annotations

import copy
import dataclasses
import importlib

import numpy as np
import pytest
import torch

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.explain.attribution import attribute
from dlxai.explain.registry import METHODS, applicable_methods

OWN = ["saliency", "input_x_gradient", "integrated_gradients", "deeplift", "expected_gradients", "kernel_shap"]


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 2))


def _tensor_ids(m):
    """Each parameter's and buffer's object, storage and version counter: an in-place write (also through a view
    sharing the storage) moves the counter."""
    return [(id(t), t.data_ptr(), t._version) for t in list(m.parameters()) + list(m.buffers())]


def _snapshot(m):
    return ({k: v.clone() for k, v in m.state_dict().items()}, m.training,
            [(n, dict(x._forward_hooks), dict(x._forward_pre_hooks), dict(x._backward_hooks), sorted(vars(x)))
             for n, x in m.named_modules()],
            [p.requires_grad for p in m.parameters()], _tensor_ids(m))


def _assert_same(m, snap):
    state, training, hooks, req, tensors = snap
    assert m.training == training
    assert _tensor_ids(m) == tensors
    for k, v in m.state_dict().items():
        assert torch.equal(v, state[k]), k
    now = [(n, dict(x._forward_hooks), dict(x._forward_pre_hooks), dict(x._backward_hooks), sorted(vars(x)))
           for n, x in m.named_modules()]
    assert now == hooks
    assert [p.requires_grad for p in m.parameters()] == req


def test_registry_has_every_method_with_a_label_and_lazy_path():
    for key in OWN + ["lrp", "attention"]:
        spec = METHODS[key]
        assert spec.key == key and spec.label and ":" in spec.path
    assert METHODS["lrp"].path == "dlxai.explain.lrp:lrp"
    assert METHODS["attention"].path == "dlxai.explain.attention:attention_attribution"
    assert METHODS["attention"].needs_attention
    assert set(METHODS["lrp"].choices["composite"]) == {"epsilon", "gamma", "alpha1beta0", "zplus",
                                                         "epsilon_plus_flat", "epsilon_alpha2beta1_flat"}
    for key in OWN:
        assert callable(METHODS[key].load())


def test_registry_import_does_not_import_the_method_modules():
    import subprocess
    import sys

    code = ("import sys, dlxai.explain.attribution as a; "
            "print([m for m in ('dlxai.explain.shap_methods', 'dlxai.explain.lrp', 'shap', 'captum') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(importlib.import_module("tests.conftest").ROOT)).stdout.strip()
    assert out == "[]"


def test_choosing_methods_does_not_import_zennit_or_torchvision():
    """Asking which methods apply (every attribute call does) must not pull torchvision and torch._dynamo in
    through zennit: that cost seconds on the first explanation of every session."""
    import subprocess
    import sys

    code = ("import sys, torch; from dlxai.explain.registry import applicable_methods; "
            "net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)); "
            "assert 'lrp' in applicable_methods(net); "
            "print([m for m in ('zennit', 'torchvision', 'torch._dynamo') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(importlib.import_module("tests.conftest").ROOT)).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize("method", OWN)
def test_model_is_unchanged_after_each_method(method):
    m = _mlp(1)
    m.train()  # a caller's model in training mode must stay in training mode
    handle = m[0].register_forward_hook(lambda *a: None)
    snap = _snapshot(m)
    x = torch.randn(4, 6)
    r = attribute(m, x, method=method, baselines=torch.zeros(1, 6), n_samples=8) if method in (
        "expected_gradients", "kernel_shap") else attribute(m, x, method=method)
    assert r.values.shape == (4, 6) and np.isfinite(r.values).all()
    _assert_same(m, snap)
    handle.remove()


class _Fails(torch.nn.Module):
    """A real network that breaks on its second forward pass (after the dispatcher's own forward)."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(6, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("boom")
        return self.lin(x)


def _bn_cnn(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))


@pytest.mark.parametrize("method", ["lrp", "integrated_gradients", "saliency"])
def test_an_image_model_in_training_mode_with_batchnorm_is_unchanged(method):
    """The private copy views the caller's weights: LRP's canonizer merges BatchNorm on the copy only, and nothing
    writes into the shared storage (the version counters would move)."""
    m = _bn_cnn().train()
    with torch.no_grad():  # BatchNorm statistics that differ from the defaults, so that merging them changes weights
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
    handle = m[0].register_forward_hook(lambda *a: None)
    snap = _snapshot(m)
    r = attribute(m, torch.randn(3, 3, 8, 8), method=method)
    assert r.values.shape == (3, 3, 8, 8) and np.isfinite(r.values).all()
    _assert_same(m, snap)
    handle.remove()


def test_lrp_takes_the_predicted_class_from_its_own_forward_pass():
    """No forward pass of the dispatcher's own before LRP: the network runs once per chunk, and the target, the
    logits its conservation is measured against and the class count come from that pass."""
    m = _bn_cnn(1).eval()
    calls = []
    m.register_forward_hook(lambda *a: calls.append(1))  # a deep copy keeps the hook: it counts the copy's passes
    x = torch.randn(6, 3, 8, 8)
    with torch.no_grad():
        logits = m(x)
    calls.clear()
    r = attribute(m, x, method="lrp", composite="epsilon_plus_flat", batch_size=4)
    assert len(calls) == 2  # two chunks of at most 4 images, one forward pass each
    np.testing.assert_array_equal(r.target, logits.argmax(1).numpy())
    np.testing.assert_allclose(r.output_gap, logits.gather(1, logits.argmax(1, keepdim=True))[:, 0].numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.delta, r.values.reshape(6, -1).sum(1) - r.output_gap, atol=1e-5)
    assert r.info["n_classes"] == 5
    calls.clear()
    r = attribute(m, x, method="lrp", target=[4, 3, 2, 1, 0, 4], batch_size=4)
    assert list(r.target) == [4, 3, 2, 1, 0, 4] and len(calls) == 2
    with pytest.raises(UserInputError, match=r"target class 5 is out of range: the model has 5 output classes"):
        attribute(m, x, method="lrp", target=5)
    with pytest.raises(UserInputError, match="one target for all rows or one per row"):
        attribute(m, x, method="lrp", target=[1, 2])


def test_integrated_gradients_runs_each_forward_pass_once():
    """f(x) for the target and the delta, f(baseline) on one row for a baseline shared by every row, then the path:
    no pass over the inputs or the baselines twice (Captum runs f(baseline) on every row)."""
    m = _mlp(2)
    rows = []
    m.register_forward_hook(lambda mod, args, out: rows.append(args[0].shape[0]))
    x = torch.randn(4, 6)
    r = attribute(m, x, method="integrated_gradients", n_steps=10)
    assert rows == [4, 1, 40]
    with torch.no_grad():
        gap = (m(x) - m(torch.zeros(1, 6))).gather(1, torch.as_tensor(r.target)[:, None])[:, 0]
    np.testing.assert_allclose(r.output_gap, gap.numpy(), rtol=1e-6)
    np.testing.assert_allclose(r.delta, r.values.sum(1) - r.output_gap, atol=1e-6)
    rows.clear()
    attribute(m, x, method="integrated_gradients", n_steps=10, baselines=torch.randn(4, 6))
    assert rows == [4, 4, 40]  # one baseline per row: every row's own


def test_model_is_unchanged_after_an_exception_inside_a_method():
    m = _Fails()
    snap = _snapshot(m)
    with pytest.raises(RuntimeError, match="boom"):
        attribute(m, torch.randn(3, 6), method="integrated_gradients")
    _assert_same(m, snap)
    assert m.calls == 0  # the copy ran, not the caller's module
    with pytest.raises(RuntimeError, match="boom"):
        attribute(m, torch.randn(3, 6), method="deeplift")
    _assert_same(m, snap)


def test_attention_on_a_model_without_attention_names_the_methods_that_apply():
    with pytest.raises(UnsupportedModelError) as exc:
        attribute(_mlp(), torch.randn(2, 6), method="attention")
    msg = str(exc.value)
    assert "no attention layers" in msg
    for key in ("integrated_gradients", "saliency", "expected_gradients"):
        assert key in msg
    assert "'attention'" in msg.split("Methods that do apply:")[0]
    assert "attention" not in msg.split("Methods that do apply:")[1]


def test_lrp_is_not_offered_for_a_transformer_and_says_which_layer_it_lacks_a_rule_for():
    from dlxai.models.nets import TabularTransformer

    net = TabularTransformer(6, [[0, 1], [2], [3, 4, 5]], dim=8, depth=1, heads=2, n_classes=2).eval()
    offered = applicable_methods(net)
    assert "attention" in offered and "integrated_gradients" in offered
    assert "lrp" not in offered
    with pytest.raises(UnsupportedModelError) as exc:
        attribute(net, torch.randn(3, 6), method="lrp")
    msg = str(exc.value)
    assert "LayerNorm" in msg or "MultiheadAttention" in msg
    assert "lrp" not in msg.split("Methods that do apply:")[1]


def test_gradients_through_a_model_without_them_names_kernel_shap(german, german_mlp):
    from dlxai.models import train_model

    logreg = train_model(german, "logreg", seed=0)
    with pytest.raises(UnsupportedModelError, match="is not a PyTorch network, so gradient methods do not apply") as exc:
        attribute(logreg, german.X("test").head(3), method="integrated_gradients")
    assert "kernel_shap" in str(exc.value)
    assert applicable_methods(logreg) == ["kernel_shap"]
    assert "integrated_gradients" in applicable_methods(german_mlp)
    assert "attention" not in applicable_methods(german_mlp)


def test_target_out_of_range_names_the_range_and_methods():
    with pytest.raises(UserInputError, match=r"target class 5 is out of range: the model has 2 output classes") as e:
        attribute(_mlp(), torch.randn(2, 6), method="saliency", target=5)
    assert "integrated_gradients" in str(e.value)
    with pytest.raises(UserInputError, match="out of range"):
        attribute(_mlp(), torch.randn(2, 6), method="saliency", target=[0, -1])


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "nope"}, "Unknown attribution method 'nope'"),
    ({"method": "integrated_gradients", "baselines": "median"}, "baselines must be 'zeros', 'mean' or 'samples'"),
    ({"method": "integrated_gradients", "baselines": "mean"}, "needs reference data"),
    ({"method": "integrated_gradients", "rule": "simpson"}, "must be one of"),
    ({"method": "integrated_gradients", "n_steps": 1}, "an integer of at least 2"),
    ({"method": "integrated_gradients", "stepz": 3}, r"Unknown parameter\(s\) \['stepz'\]"),
    ({"method": "saliency", "batch_size": 0}, "batch_size"),
    ({"method": "integrated_gradients", "baselines": torch.zeros(3, 5)}, "shape"),
])
def test_bad_input_messages(kwargs, match):
    with pytest.raises(UserInputError, match=match):
        attribute(_mlp(), torch.randn(2, 6), **kwargs)


def test_non_finite_and_shapeless_inputs_are_refused():
    x = torch.randn(2, 6)
    x[0, 0] = float("nan")
    with pytest.raises(UserInputError, match="NaN"):
        attribute(_mlp(), x, method="saliency")
    with pytest.raises(UserInputError, match="batch"):
        attribute(_mlp(), torch.randn(6), method="saliency")
    with pytest.raises(UserInputError, match="AuditModel"):
        attribute("a model", torch.randn(2, 6), method="saliency")


def test_audit_model_needs_a_dataframe_and_keeps_the_estimator(german, german_mlp):
    with pytest.raises(UserInputError, match="DataFrame of raw rows"):
        attribute(german_mlp, np.zeros((2, 3)), method="saliency")
    module = german_mlp.torch_module()
    snap = _snapshot(module)
    fp = german_mlp.fingerprint
    r = attribute(german_mlp, german.X("test").head(5), method="input_x_gradient")
    _assert_same(module, snap)
    assert german_mlp.fingerprint == fp
    assert r.feature_names == german_mlp.feature_names_out
    # default target: the predicted class
    pred = german_mlp.predict(german.X("test").head(5))
    np.testing.assert_array_equal(r.target, pred)
    assert list(r.row_index) == list(range(5))


def test_progress_reaches_one():
    seen = []
    attribute(_mlp(), torch.randn(50, 6), method="integrated_gradients", batch_size=100, progress=seen.append)
    assert seen[-1] == pytest.approx(1.0) and len(seen) > 2
    assert all(0 <= a <= b <= 1 + 1e-9 for a, b in zip(seen, seen[1:]))


def test_result_is_frozen_and_records_parameters():
    r = attribute(_mlp(), torch.randn(3, 6), method="integrated_gradients", n_steps=10, rule="riemann_middle")
    assert r.params["n_steps"] == 10 and r.params["rule"] == "riemann_middle" and r.params["baselines"] == "zeros"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.method = "x"
    assert copy.deepcopy(r).method == "integrated_gradients"


def test_image_tensors_keep_their_shape_and_tabular_only_methods_drop_out():
    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 8 * 8, 10)).double()
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    r = attribute(cnn, x, method="integrated_gradients", n_steps=200)
    assert r.values.shape == (3, 1, 8, 8) and r.kind == "image"
    assert r.completeness_error.max() < 0.01
    assert "kernel_shap" not in applicable_methods(cnn, "image")
    with pytest.raises(UnsupportedModelError, match="works on tabular data, not image data"):
        attribute(cnn, x, method="kernel_shap")


def test_every_method_and_parameter_value_has_a_human_label():
    from dlxai.explain.registry import IG_RULES, LRP_COMPOSITES, LRP_INPUT_RULES, label

    assert label("gausslegendre") == "Gauss–Legendre" and label("deeplift").startswith("DeepLIFT")
    for value in (*METHODS, *IG_RULES, *LRP_COMPOSITES, *LRP_INPUT_RULES):
        assert "_" not in label(value) and label(value) != value, value
