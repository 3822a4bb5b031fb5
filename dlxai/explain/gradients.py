"""Gradient attribution methods: saliency, input × gradient, batched integrated gradients, DeepLIFT (Captum).

All share the registry signature (see :mod:`dlxai.explain.registry`) and run on the private copy
the dispatcher hands them.  Integrated gradients is one batched forward/backward over
(rows × steps) chunks instead of Captum's per-sample path.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch

from dlxai.errors import UserInputError

RULES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")


def _target_output(module, x, target):
    out = module(x)
    return out.gather(1, target[:, None])[:, 0]


def _gradients(module, x, target, batch_size: int, progress: Callable | None = None):
    """d output[target] / d x, in chunks of ``batch_size`` rows."""
    grads = torch.empty_like(x)
    n = x.shape[0]
    for i in range(0, n, batch_size):
        xb = x[i:i + batch_size].detach().requires_grad_(True)
        with torch.enable_grad():
            y = _target_output(module, xb, target[i:i + batch_size])
            (g,) = torch.autograd.grad(y.sum(), xb)
        grads[i:i + batch_size] = g
        if progress is not None:
            progress(min(i + batch_size, n) / n)
    return grads


def saliency(module, inputs, *, target, baselines=None, batch_size=4096, abs=True, progress=None):
    """Gradient of the target output (its absolute value by default, as Captum's Saliency)."""
    g = _gradients(module, inputs, target, batch_size, progress)
    return (g.abs() if abs else g), None


def input_x_gradient(module, inputs, *, target, baselines=None, batch_size=4096, progress=None):
    """Input times gradient."""
    return inputs * _gradients(module, inputs, target, batch_size, progress), None


def rule_parameters(rule: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, step sizes) of an integration rule, in float64, as Captum defines them.

    One deliberate difference: Captum's ``riemann_trapezoid`` uses steps of 1/n with halved ends on
    ``n`` nodes spanning [0, 1], whose weights sum to 1 − 1/n, so the IG of a linear model comes out
    (n − 1)/n too small.  Here the trapezoid steps are 1/(n − 1) (weights sum to 1): our values equal
    Captum's × n/(n − 1).
    """
    if rule not in RULES:
        raise UserInputError(f"Unknown integration rule {rule!r}. Choose one of: {list(RULES)}.")
    n = int(n_steps)
    if n < 2:
        raise UserInputError(f"n_steps must be at least 2; received {n_steps!r}. Use e.g. 50.")
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return 0.5 * (nodes + 1.0), 0.5 * weights
    steps = np.full(n, 1.0 / n)
    kind = rule.split("_")[1]
    if kind == "trapezoid":
        steps = np.full(n, 1.0 / (n - 1))
        steps[0] /= 2
        steps[-1] /= 2
        alphas = np.linspace(0.0, 1.0, n)
    elif kind == "left":
        alphas = np.linspace(0.0, 1.0 - 1.0 / n, n)
    elif kind == "middle":
        alphas = np.linspace(1.0 / (2 * n), 1.0 - 1.0 / (2 * n), n)
    else:
        alphas = np.linspace(1.0 / n, 1.0, n)
    return alphas, steps


def _ig_rows(module, x, b, target, alphas, steps, batch_size: int, progress=None, done=0.0, span=1.0):
    """IG for rows ``x`` against baselines ``b``: one forward/backward per chunk of (rows × steps)."""
    n, s = x.shape[0], len(alphas)
    feat = x.shape[1:]
    a = torch.as_tensor(alphas, dtype=x.dtype, device=x.device).view(s, 1, *([1] * len(feat)))
    w = torch.as_tensor(steps, dtype=x.dtype, device=x.device).view(s, 1, *([1] * len(feat)))
    rows = max(1, int(batch_size) // s)
    total = torch.empty_like(x)
    for i in range(0, n, rows):
        xi, bi, ti = x[i:i + rows], b[i:i + rows], target[i:i + rows]
        diff = xi - bi
        path = (bi.unsqueeze(0) + a * diff.unsqueeze(0)).reshape(-1, *feat).requires_grad_(True)
        with torch.enable_grad():
            y = _target_output(module, path, ti.repeat(s))
            (g,) = torch.autograd.grad(y.sum(), path)
        total[i:i + rows] = (g.view(s, -1, *feat) * w).sum(0) * diff
        if progress is not None:
            progress(done + span * min(i + rows, n) / n)
    return total


def integrated_gradients(module, inputs, *, target, baselines=None, batch_size=4096, n_steps=50,
                         rule="gausslegendre", adaptive=False, tolerance=0.01, max_steps=1024, progress=None,
                         info=None):
    """Integrated gradients, batched over rows × steps.

    ``rule``: ``"gausslegendre"`` or ``"riemann_{left,right,middle,trapezoid}"`` (Captum's rules).
    ``adaptive``: rows whose completeness error exceeds ``tolerance`` × |f(x) − f(b)| are recomputed
    with twice the steps until they meet it or ``max_steps`` is reached; ``info["steps"]`` records
    the steps each row used.
    """
    x = inputs
    b = torch.zeros_like(x) if baselines is None else baselines.expand_as(x).to(x.dtype)
    with torch.no_grad():
        gap = (torch.cat([_target_output(module, x[i:i + batch_size], target[i:i + batch_size])
                          for i in range(0, x.shape[0], batch_size)])
               - torch.cat([_target_output(module, b[i:i + batch_size], target[i:i + batch_size])
                            for i in range(0, x.shape[0], batch_size)]))
    alphas, steps = rule_parameters(rule, n_steps)
    attr = _ig_rows(module, x, b, target, alphas, steps, batch_size, progress, 0.0, 0.5 if adaptive else 1.0)
    dims = tuple(range(1, x.ndim))
    delta = attr.sum(dims) - gap
    used = np.full(x.shape[0], int(n_steps))
    if adaptive:
        cap = int(max_steps)
        n = int(n_steps)
        todo = (delta.abs() > tolerance * gap.abs()).nonzero()[:, 0]
        while todo.numel() and n * 2 <= cap:
            n *= 2
            al, st = rule_parameters(rule, n)
            sub = _ig_rows(module, x[todo], b[todo], target[todo], al, st, batch_size)
            attr[todo] = sub
            delta[todo] = sub.sum(dims) - gap[todo]
            used[todo.cpu().numpy()] = n
            todo = todo[(delta[todo].abs() > tolerance * gap[todo].abs())]
            if progress is not None:
                progress(min(1.0, 0.5 + 0.5 * np.log2(n / n_steps) / max(np.log2(cap / n_steps), 1)))
        if info is not None:
            info["steps"] = used
            info["converged"] = float((delta.abs() <= tolerance * gap.abs()).float().mean())
    elif info is not None:
        info["steps"] = used
    return attr, delta


def deeplift(module, inputs, *, target, baselines=None, batch_size=4096, progress=None):
    """Captum's DeepLIFT (rescale rule) with its convergence delta, in chunks of ``batch_size`` rows."""
    from captum.attr import DeepLift

    x = inputs
    b = torch.zeros_like(x) if baselines is None else baselines.expand_as(x).to(x.dtype)
    dl = DeepLift(module)
    vals, deltas = [], []
    n = x.shape[0]
    for i in range(0, n, batch_size):
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Captum's notes on its temporary hooks (on our copy)
            v, d = dl.attribute(x[i:i + batch_size].clone(), baselines=b[i:i + batch_size].clone(),
                                target=target[i:i + batch_size], return_convergence_delta=True)
        vals.append(v.detach())
        deltas.append(d.detach())
        if progress is not None:
            progress(min(i + batch_size, n) / n)
    return torch.cat(vals), torch.cat(deltas)
