"""The gradient search (dlxai's torch models): a batched projected-gradient search in the model's *preprocessed*
space, run on a frozen deep copy of the network.

Numeric features move in MAD units around the query (``x = x0 + MAD * u``); each categorical feature is a vector
of logits over its levels fed to the network through a softmax, so a one-hot group stays a distribution over
levels and is projected to its argmax.  The loss per counterfactual is
``lambda * hinge(kappa - logit margin) + MAD-L1 proximity + sparsity - diversity``, for all ``k`` counterfactuals
of every query at once.  Every few steps the candidates are projected (integers rounded away from the query,
categories to their argmax, bounds clamped, dependents set from their drivers) and the cheapest *projected* one
that flips the model with plausible values (see :mod:`.world`) is kept.  In the loss a dependent of a categorical
driver follows the driver's level probabilities, so the gradient sees what changing education does to
education-num; levels a row may not take (tied to a fixed feature, or with no known dependent value) are masked.
"""

from __future__ import annotations

import copy

import numpy as np

from dlxai.explain.counterfactuals.space import MISSING_LEVEL, CFSpace, _bounds, _Resolved, _round_away

CHECK_EVERY = 10  # steps between projections of the candidates onto real rows


def _gradient_search(space: CFSpace, r: _Resolved, num0, codes0, target, k, *, steps, lr, kappa,
                     diversity_weight, sparsity_weight, seed, progress,
                     changed_penalty=0.0, sparsity_spread=1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k`` counterfactuals per query: (num, codes, found), the cheapest projected candidate that flipped the
    model (by cost + ``changed_penalty`` per changed feature); the query itself where none did."""
    import torch

    b = _Batch(space, r, num0, codes0, target, k, seed)
    # the j-th counterfactual of a query weighs sparsity sparsity_spread**j times more: one close, one sparse
    sp_w = torch.tensor(np.tile(sparsity_weight * sparsity_spread ** np.arange(k), len(num0)), dtype=torch.float32)
    m1 = [torch.zeros_like(q) for q in b.params]
    m2 = [torch.zeros_like(q) for q in b.params]
    best_num, best_codes = b.x0n.copy(), b.c0.copy()
    best_cost = np.full(b.B, np.inf)
    stalled = 0
    for step in range(1, steps + 1):
        loss = b.loss(kappa, diversity_weight, sp_w)
        grads = torch.autograd.grad(loss.sum(), b.params)
        _adam_step(b.params, grads, m1, m2, step, lr)
        b.clamp()
        if step % CHECK_EVERY == 0 or step == steps:
            xn, codes, ok, cost = b.projected(changed_penalty)
            better = ok & r.plausible(b.x0n, b.c0, xn, codes) & (cost < best_cost - 1e-9)
            best_num[better], best_codes[better], best_cost[better] = xn[better], codes[better], cost[better]
            stalled = 0 if better.mean() > 0.005 else stalled + 1
            if progress is not None:
                progress(0.8 * step / steps, f"Gradient search: step {step}/{steps}")
            if step >= 60 and np.isfinite(best_cost).mean() > 0.995 and stalled >= 2:
                break
    return best_num, best_codes, np.isfinite(best_cost)


def _adam_step(params, grads, m1, m2, step: int, lr: float) -> None:
    """Plain Adam written out: torch.optim imports torch._dynamo on first use (7 s on a shared CPU)."""
    import torch

    with torch.no_grad():
        b1, b2 = 1 - 0.9 ** step, 1 - 0.999 ** step
        for q, g_, a, b in zip(params, grads, m1, m2, strict=True):
            a.mul_(0.9).add_(g_, alpha=0.1)
            b.mul_(0.999).addcmul_(g_, g_, value=0.001)
            q.sub_(lr * (a / b1) / ((b / b2).sqrt() + 1e-8))


class _Batch:
    """The ``n * k`` candidates of one search as tensors, on a frozen copy of the network.

    ``u`` holds the numeric offsets in MAD units (the first counterfactual of each query starts at the query, the
    others nearby); ``thetas`` one vector of level logits per categorical feature; ``lam`` the per-candidate
    weight of the validity hinge, doubled at each check a candidate still fails.
    """

    def __init__(self, space: CFSpace, r: _Resolved, num0, codes0, target, k: int, seed: int):
        import torch

        self.space, self.r, self.k = space, r, k
        self.module = copy.deepcopy(space.model.torch_module()).cpu().float().eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        n = self.n = len(num0)
        B = self.B = n * k
        rep = np.repeat(np.arange(n), k)
        self.x0n, self.c0 = num0[rep], codes0[rep]
        self.L, self.U = _bounds(r, self.x0n)
        gen = torch.Generator().manual_seed(int(seed))
        self.mad = torch.tensor(space.mad, dtype=torch.float32)
        mean = torch.tensor(space.mean, dtype=torch.float32)
        scale = torch.tensor(space.scale, dtype=torch.float32)
        self.x0t = torch.tensor(self.x0n, dtype=torch.float32)
        self.Lt, self.Ut = torch.tensor(self.L, dtype=torch.float32), torch.tensor(self.U, dtype=torch.float32)
        self.mut_num = torch.tensor(r.moves_num, dtype=torch.float32)
        self.sign = torch.tensor(np.where(target[rep] == 1, 1.0, -1.0), dtype=torch.float32)
        first = torch.tensor(np.tile(np.arange(k) == 0, n))
        self.nnum = len(space.numeric)
        noise = torch.randn(B, self.nnum, generator=gen) * 0.5 * self.mut_num
        noise[first] = 0.0
        self.u = noise.clone().requires_grad_(True)
        self._init_categories(gen, first)
        self._init_follow()
        self.params = [self.u] + [th for g, th in enumerate(self.thetas) if r.moves_cat[g]]
        self.lam = torch.full((B,), 1.0)
        # one concatenation + one column gather builds the network's input in its own column order
        order = np.concatenate([space.num_idx] + list(space.cat_idx)) if space.cat_idx else space.num_idx
        self.perm = torch.tensor(np.argsort(order))
        self.mean_s, self.inv_scale = mean / scale, 1.0 / scale

    def _init_categories(self, gen, first) -> None:
        import torch

        self.thetas, self.cat_mask, self.c0_t = [], [], []
        allowed = self.r.level_masks(self.x0n, self.c0)
        world, nnum = self.r.world, len(self.space.numeric)
        for g, levels in enumerate(self.space.levels):
            oh = torch.zeros(self.B, len(levels))
            known = self.c0[:, g] >= 0
            oh[torch.tensor(np.nonzero(known)[0]), torch.tensor(self.c0[known, g])] = 1.0
            th = oh * 3.0
            if self.r.moves_cat[g]:
                th = th + torch.randn(self.B, len(levels), generator=gen) * 0.3 * (~first).float()[:, None]
            # never move *to* the 'missing' level, to a level barred for the row, or to one whose dependents the
            # training rows do not say
            barred = np.zeros((self.B, len(levels)), dtype=bool)
            if MISSING_LEVEL in levels:
                barred[:, levels.index(MISSING_LEVEL)] = True
            if allowed[g] is not None:
                barred |= ~allowed[g]
            for e, d in (world.driver_of.items() if world is not None else ()):
                if d == nnum + g:
                    fv = world.follow_value[e][:len(levels)]
                    barred[:, ~np.isfinite(fv) if e < nnum else fv < 0] = True
            self.cat_mask.append(torch.tensor(np.where(barred, -1e4, 0.0), dtype=torch.float32) * (1 - oh))
            self.thetas.append(th.requires_grad_(bool(self.r.moves_cat[g])))
            self.c0_t.append(oh)

    def _init_follow(self) -> None:
        """For each dependent of a moving categorical driver: its value (numeric) or level (categorical) for each
        of the driver's levels, as a tensor the loss mixes with the driver's level probabilities."""
        import torch

        self.follows = []
        world, nnum = self.r.world, self.nnum
        for e, d in (world.driver_of.items() if world is not None else ()):
            if d < nnum or not self.r.moves_cat[d - nnum]:
                continue  # a numeric driver's dependent is set when the candidates are projected
            fv = world.follow_value[e][:len(self.space.levels[d - nnum])]
            if e < nnum:
                table = torch.tensor(np.nan_to_num(fv), dtype=torch.float32)
            else:
                table = torch.zeros(len(fv), len(self.space.levels[e - nnum]))
                table[np.nonzero(fv >= 0)[0], fv[fv >= 0]] = 1.0
            self.follows.append((d - nnum, e, table))

    def _follow(self, xn, probs):
        """Dependents mixed from their drivers' level probabilities; a driver still at the query's level keeps
        the query's own dependent value.  Returns (numeric values, level probabilities); a dependent costs
        nothing of its own (see :meth:`CFSpace.count_once`)."""
        import torch

        if not self.follows:
            return xn, probs
        cols = list(xn.unbind(1)) if self.nnum else []
        probs = list(probs)
        for g, e, table in self.follows:
            p = probs[g]
            stay = (p * self.c0_t[g]).sum(1, keepdim=True)
            away = p * (1 - self.c0_t[g])
            if e < self.nnum:
                cols[e] = stay[:, 0] * self.x0t[:, e] + away @ table
            else:
                h = e - self.nnum
                probs[h] = stay * self.c0_t[h] + away @ table
        return (torch.stack(cols, dim=1) if cols else xn), probs

    def assemble(self, xn, cats):
        import torch

        parts = ([xn * self.inv_scale - self.mean_s] if self.nnum else []) + list(cats)
        return torch.cat(parts, dim=1).index_select(1, self.perm)

    def loss(self, kappa: float, diversity_weight: float, sp_w):
        """Per candidate: weighted validity hinge + proximity + changed categories + sparsity - diversity."""
        import torch

        u, r, k = self.u, self.r, self.k
        xn = self.x0t + u * self.mad
        probs = []
        for g, th in enumerate(self.thetas):
            if r.moves_cat[g]:
                probs.append(torch.softmax(th + self.cat_mask[g], dim=1))
            else:
                probs.append(self.c0_t[g])
        xn, probs = self._follow(xn, probs)
        logits = self.module(self.assemble(xn, probs))
        margin = (logits[:, 1] - logits[:, 0]) * self.sign
        valid_loss = torch.relu(kappa - margin)
        prox = (u.abs() * self.mut_num).sum(1)
        cat_change = torch.zeros(self.B)
        for g, p in enumerate(probs):
            if r.moves_cat[g]:
                cat_change = cat_change + (1 - (p * self.c0_t[g]).sum(1))
        sparsity = torch.tanh(u.abs() / 0.1).mul(self.mut_num).sum(1)
        loss = self.lam * valid_loss + prox + cat_change + sp_w * sparsity
        if k > 1 and diversity_weight > 0:
            emb = torch.cat([u * self.mut_num] + [0.5 * p for p in probs], dim=1).view(self.n, k, -1)
            d = (emb[:, :, None, :] - emb[:, None, :, :]).abs().sum(-1).clamp(max=2.0)  # cdist(p=1)'s backward is slow
            div = d.sum(dim=(1, 2)) / (k * (k - 1))
            loss = loss - diversity_weight * div.repeat_interleave(k) / k
        return loss

    def clamp(self) -> None:
        """Project the numeric values onto their bounds."""
        import torch

        with torch.no_grad():
            x = torch.minimum(torch.maximum(self.x0t + self.u * self.mad, self.Lt), self.Ut)
            self.u.copy_((x - self.x0t) / self.mad)

    def projected(self, changed_penalty: float):
        """The candidates as real rows (integers rounded away from the query, categories at their argmax): their
        (num, codes), whether each flips the network, and its cost + ``changed_penalty`` per changed feature.
        Candidates that still fail have their hinge weight doubled."""
        import torch

        space, r, x0n, c0 = self.space, self.r, self.x0n, self.c0
        with torch.no_grad():
            xn_np = (self.x0t + self.u * self.mad).numpy().astype(np.float64)
            xn_np = _round_away(xn_np, x0n, r.integer, self.L, self.U)
            codes = c0.copy()
            for g, th in enumerate(self.thetas):
                if r.moves_cat[g]:
                    codes[:, g] = (th + self.cat_mask[g]).argmax(1).numpy()
            xn_np, codes = r.follow(x0n, c0, xn_np, codes)
            lg = self.module(torch.tensor(space.to_matrix(xn_np, codes)))
            ok = (((lg[:, 1] - lg[:, 0]) * self.sign) > 0).numpy()
            cost = space.cost(x0n, c0, xn_np, codes) + changed_penalty * space.n_changed(x0n, c0, xn_np, codes)
            self.lam = torch.where(torch.tensor(ok), self.lam, (self.lam * 2.0).clamp(max=1e4))
        return xn_np, codes, ok, cost
