"""private_copy: the copy's modules, flags, hooks and tensor objects are its own; the caller's never move."""

from __future__ import annotations

import torch
import torch.nn as nn

from dlxai.explain.private import private_copy


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def _tensors(m: nn.Module) -> list:
    return list(m.parameters()) + list(m.buffers())


def _state(m: nn.Module) -> list:
    return [(t.data_ptr(), t._version, t.detach().clone(), t.requires_grad) for t in _tensors(m)]


def _same(m: nn.Module, before: list) -> None:
    for (ptr, version, value, req), t in zip(before, _tensors(m), strict=True):
        assert (t.data_ptr(), t._version, t.requires_grad) == (ptr, version, req)
        assert torch.equal(t.detach(), value)


def test_the_copy_views_the_weights_but_owns_its_modules_tensors_and_flags():
    net = _bn_net().train()
    calls = []
    net[0].register_forward_hook(lambda *a: calls.append(1))
    before = _state(net)
    work = private_copy(net)
    assert net.training and all(m.training for m in net.modules())
    assert not any(m.training for m in work.modules())
    assert [p.requires_grad for p in work.parameters()] == [p.requires_grad for p in net.parameters()]
    work[0].weight.requires_grad_(False)
    assert net[0].weight.requires_grad
    for mine, theirs in zip(_tensors(work), _tensors(net), strict=True):
        assert mine is not theirs and mine.data_ptr() == theirs.data_ptr()  # no copy of the weights
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(work(x), net.eval()(x))  # the same function as the caller's model in eval mode
    net.train()
    assert len(calls) == 2  # the caller's hooks run on the copy too, as with a deep copy
    work[0].register_forward_hook(lambda *a: None)
    assert len(net[0]._forward_hooks) == 1
    _same(net, before)


def test_a_canonizer_rebinding_the_copys_weights_leaves_the_callers_untouched():
    from zennit.canonizers import SequentialMergeBatchNorm

    net = _bn_net().train()
    before = _state(net)
    work = private_copy(net)
    handles = SequentialMergeBatchNorm().apply(work)
    assert not torch.equal(work[0].weight, net[0].weight)  # merged on the copy only
    assert torch.equal(work[1].running_var, torch.ones(4))
    _same(net, before)
    for h in handles:
        h.remove()
    _same(net, before)


def test_tied_weights_stay_tied_and_torchscript_is_copied_whole():
    lin = nn.Linear(4, 4)
    tied = nn.Sequential(lin, nn.ReLU(), lin)
    work = private_copy(tied)
    assert work[0] is work[2] and work[0].weight is not lin.weight
    scripted = torch.jit.script(nn.Sequential(nn.Linear(4, 2)))
    copied = private_copy(scripted)
    assert next(copied.parameters()).data_ptr() != next(scripted.parameters()).data_ptr()


def test_a_move_to_another_dtype_rebinds_the_copy_only():
    net = _bn_net()
    before = _state(net)
    work = private_copy(net, torch.device("cpu")).double()
    assert work[0].weight.dtype == torch.float64 and net[0].weight.dtype == torch.float32
    _same(net, before)
