"""Choosing k counterfactuals per query from a pool of valid ones, and measuring the quality of the choice."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlxai.explain.counterfactuals.space import CFSpace, _Resolved


def _select(space: CFSpace, r: _Resolved, num0, codes0, pn, pc, pq, k: int, changed_penalty: float,
            plausibility: str = "prefer"):
    """Pick k distinct counterfactuals per query from a pool of valid ones: the best by
    ``cost + changed_penalty * features changed`` first, then trading that score against distance to the picks.

    Each later pick changes a set of features no earlier pick changed whenever the pool has such a candidate:
    capital-gain 16,342 after capital-gain 16,650 is the same answer, not a second one.  A candidate whose
    strongly associated values do not occur together in the training rows (see :meth:`_Resolved.plausible`) is
    picked only for a query without a plausible one (``plausibility="prefer"``), never (``"require"``), or like
    any other (``"off"``, where ``r`` has no world)."""
    n = len(num0)
    best_num = np.repeat(num0, k, axis=0).astype(np.float64)
    best_codes = np.repeat(codes0, k, axis=0)
    found = np.zeros(n * k, dtype=bool)
    if len(pq) == 0:
        return best_num, best_codes, found
    emb = space.embed(pn, pc)
    # one copy of each distinct counterfactual per query
    _, uniq = np.unique(np.concatenate([pq[:, None].astype(np.float64), np.round(emb, 9)], axis=1), axis=0,
                        return_index=True)
    uniq = np.sort(uniq)
    pn, pc, pq, emb = pn[uniq], pc[uniq], pq[uniq], emb[uniq]
    plaus = r.plausible(num0[pq], codes0[pq], pn, pc)
    score0 = space.cost(num0[pq], codes0[pq], pn, pc) + changed_penalty * space.n_changed(num0[pq], codes0[pq], pn, pc)
    changed = np.concatenate([~np.isclose(pn, num0[pq], rtol=0, atol=1e-9), pc != codes0[pq]], axis=1)
    order = np.argsort(pq, kind="stable")
    starts = np.searchsorted(pq[order], np.arange(n + 1))
    for i in range(n):
        idx = order[starts[i]:starts[i + 1]]
        if plausibility != "off" and (plaus[idx].any() or plausibility == "require"):
            idx = idx[plaus[idx]]
        if len(idx) == 0:
            continue
        chosen = [idx[np.argmin(score0[idx])]]
        while len(chosen) < min(k, len(idx)):
            d = np.abs(emb[idx][:, None, :] - emb[chosen][None, :, :]).sum(-1).min(axis=1)
            same_set = (changed[idx][:, None, :] == changed[chosen][None, :, :]).all(-1).any(axis=1)
            score = score0[idx] - 0.5 * np.minimum(d, 4.0)
            score[np.isin(idx, chosen)] = np.inf
            if (~same_set & np.isfinite(score)).any():
                score[same_set] = np.inf
            chosen.append(idx[np.argmin(score)])
        for j, c in enumerate(chosen):
            best_num[i * k + j], best_codes[i * k + j] = pn[c], pc[c]
            found[i * k + j] = True
    return best_num, best_codes, found


def _pairwise_mean(emb: np.ndarray) -> float:
    m = len(emb)
    if m < 2:
        return float("nan")
    d = np.abs(emb[:, None, :] - emb[None, :, :]).sum(-1)
    return float(d.sum() / (m * (m - 1)))


def _nearest_cost(space: CFSpace, emb: np.ndarray, ref: np.ndarray, chunk: int = 512) -> np.ndarray:
    import torch

    if len(emb) == 0 or len(ref) == 0:
        return np.full(len(emb), np.nan)
    R = torch.tensor(ref, dtype=torch.float32)
    out = []
    for i in range(0, len(emb), chunk):
        E = torch.tensor(emb[i:i + chunk], dtype=torch.float32)
        out.append(torch.cdist(E, R, p=1).min(dim=1).values.double().numpy())
    return np.concatenate(out)


def counterfactual_metrics(space: CFSpace, num0, codes0, num, codes, valid, target, k: int,
                           plausibility_rows: int = 2000, seed: int = 0, plausible=None) -> pd.DataFrame:
    """Validity, proximity, sparsity, diversity, plausibility and (with ``plausible``, per counterfactual) the
    share of plausible pairs per query (see :class:`CounterfactualResult`)."""
    n = len(num0)
    rep = np.repeat(np.arange(n), k)
    cost = space.cost(num0[rep], codes0[rep], num, codes)
    nch = space.n_changed(num0[rep], codes0[rep], num, codes)
    emb = space.embed(num, codes)
    plaus = np.full(n * k, np.nan)
    rng = np.random.default_rng(seed)
    for cls in (0, 1):
        sel = valid & (target[rep] == cls)
        if not sel.any():
            continue
        pool = np.nonzero(space.train_y == cls)[0]
        if len(pool) > plausibility_rows:
            pool = rng.choice(pool, plausibility_rows, replace=False)
        ref = space.embed(space.train_num[pool], space.train_codes[pool])
        plaus[sel] = _nearest_cost(space, emb[sel], ref)
    V = valid.reshape(n, k)
    rows = []
    for i in range(n):
        v = V[i]
        s = slice(i * k, (i + 1) * k)
        rows.append({
            "validity": float(v.mean()),
            "proximity": float(cost[s][v].mean()) if v.any() else np.nan,
            "sparsity": float(nch[s][v].mean()) if v.any() else np.nan,
            "diversity": _pairwise_mean(emb[s][v]) if v.sum() > 1 else np.nan,
            "plausibility": float(plaus[s][v].mean()) if v.any() else np.nan,
            **({} if plausible is None else
               {"plausible_pairs": float(plausible[s][v].mean()) if v.any() else np.nan}),
        })
    return pd.DataFrame(rows)
