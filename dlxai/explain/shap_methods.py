"""SHAP: expected gradients for torch models (batched), shap's KernelExplainer for models without gradients.

Both take the registry signature; ``baselines`` is the background set (reference rows, k × features).
"""

from __future__ import annotations

import numpy as np
import torch

from dlxai.explain.gradients import points_per_chunk


def expected_gradients(module, inputs, *, target, baselines=None, batch_size=4096, n_samples=200, seed=0,
                       progress=None):
    """Expected gradients (Erion et al., 2021; shap's GradientExplainer without local smoothing).

    For every row, ``n_samples`` (reference row r, α ~ U(0, 1)) pairs are drawn; the attribution is
    the mean of ∇f(r + α(x − r)) ⊙ (x − r).  All rows × samples go through the network in chunks of
    ``batch_size`` points: one forward/backward per chunk.  The delta is
    ``sum(phi) − (f(x) − mean f(background))`` (a Monte-Carlo estimate; it shrinks with n_samples).
    """
    x = inputs
    bg = torch.zeros((1, *x.shape[1:]), dtype=x.dtype, device=x.device) if baselines is None else baselines.to(x)
    n, s = x.shape[0], int(n_samples)
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    ref_idx = torch.randint(0, bg.shape[0], (n, s), generator=g).to(x.device)
    alphas = torch.rand((n, s), generator=g, dtype=torch.float64).to(device=x.device, dtype=x.dtype)
    batch_size = points_per_chunk(x, batch_size)  # images: a few per pass, not thousands (see gradients.py)
    rows = max(1, batch_size // s)
    per = s if batch_size >= s else batch_size  # samples per pass: one row's samples split across passes
    phi = torch.empty_like(x)
    for i in range(0, n, rows):
        parts = [_eg_points(module, x[i:i + rows], bg[ref_idx[i:i + rows, j:j + per]],
                            alphas[i:i + rows, j:j + per], target[i:i + rows]) for j in range(0, s, per)]
        phi[i:i + rows] = parts[0].mean(1) if per == s else torch.cat(parts, 1).mean(1)
        if progress is not None:
            progress(min(i + rows, n) / n)
    with torch.no_grad():
        fx = torch.cat([module(x[i:i + batch_size]) for i in range(0, n, batch_size)]).gather(1, target[:, None])[:, 0]
        fb = torch.cat([module(bg[i:i + batch_size]) for i in range(0, bg.shape[0], batch_size)]).mean(0)[target]
    delta = phi.reshape(n, -1).sum(1) - (fx - fb)
    return phi, delta


def _eg_points(module, xi, r, alphas, target):
    """∇f(r + α(x − r)) ⊙ (x − r) for rows ``xi`` and their sampled references ``r`` (rows, k, *feat), as
    (rows, k, *feat): one forward/backward pass."""
    feat = xi.shape[1:]
    k = r.shape[1]
    a = alphas.reshape(-1, k, *((1,) * len(feat)))
    diff = xi.unsqueeze(1) - r
    pts = (r + a * diff).reshape(-1, *feat).requires_grad_(True)
    with torch.enable_grad():
        out = module(pts)
        y = out.gather(1, target.repeat_interleave(k)[:, None])[:, 0]
        (grad,) = torch.autograd.grad(y.sum(), pts)
    return grad.view(-1, k, *feat) * diff


def kernel_shap(module, inputs, *, target, baselines=None, batch_size=4096, n_samples=256, seed=0, progress=None):
    """shap's KernelExplainer on the module's outputs: needs predictions only (no gradients).

    ``baselines`` is the background (keep it small: cost is rows × n_samples × background rows).
    Rows are explained one chunk at a time so that ``progress`` advances; shap's global NumPy seed
    is set from ``seed`` and restored afterwards.
    """
    import shap

    x = inputs.detach()
    dev = x.device
    bg = (torch.zeros((1, *x.shape[1:]), dtype=x.dtype) if baselines is None else baselines).detach().cpu()
    flat_bg = bg.reshape(bg.shape[0], -1).numpy().astype(np.float64)
    feat = x.shape[1:]

    def f(z):
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(-1, *feat).to(dev)
        with torch.no_grad():
            return torch.cat([module(zt[i:i + batch_size]) for i in range(0, zt.shape[0], batch_size)]) \
                .double().cpu().numpy()

    explainer = shap.KernelExplainer(f, flat_bg)
    flat_x = x.reshape(x.shape[0], -1).cpu().numpy().astype(np.float64)
    state = np.random.get_state()
    np.random.seed(int(seed))
    out = np.zeros_like(flat_x)
    n = flat_x.shape[0]
    tgt = target.cpu().numpy()
    step = max(1, n // 20)
    try:
        for i in range(0, n, step):
            sv = np.asarray(explainer.shap_values(flat_x[i:i + step], nsamples=int(n_samples), silent=True))
            if sv.ndim == 3 and sv.shape[0] == min(step, n - i) and sv.shape[1] == flat_x.shape[1]:
                sv = sv[np.arange(sv.shape[0]), :, tgt[i:i + step]]  # (rows, features, classes)
            elif sv.ndim == 3:  # (classes, rows, features) in older shap
                sv = sv[tgt[i:i + step], np.arange(sv.shape[1]), :]
            out[i:i + step] = sv
            if progress is not None:
                progress(min(i + step, n) / n)
    finally:
        np.random.set_state(state)
    phi = torch.as_tensor(out, dtype=x.dtype).reshape(x.shape).to(dev)
    fx = torch.as_tensor(f(flat_x)[np.arange(n), tgt], dtype=x.dtype, device=dev)
    fb = torch.as_tensor(f(flat_bg).mean(0)[tgt], dtype=x.dtype, device=dev)
    delta = phi.reshape(n, -1).sum(1) - (fx - fb)
    return phi, delta
