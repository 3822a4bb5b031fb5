"""The model-agnostic searches (any model with ``predict_proba``) and the step every search ends with.

- :func:`_random_pool`: candidates that change a random few allowed features to values drawn from the training
  rows, kept where they flip the model.
- :func:`_one_feature_moves` / :func:`_sparse_moves`: the sparsest counterfactuals there are, one feature (or a
  greedy pair) at a time.
- :func:`_sparsify`: changes that are not needed are reverted and the rest shrunk towards the query.
"""

from __future__ import annotations

import numpy as np

from dlxai.explain.counterfactuals.space import MISSING_LEVEL, CFSpace, _bounds, _Resolved, _round_away


def _random_pool(space: CFSpace, r: _Resolved, num0, codes0, target, *, n_candidates, seed, progress=None,
                 max_changes=(2, 4, None)):
    """Model-agnostic candidates: change a random 1..m allowed features to values seen in training rows, keep
    those that flip the model, make them sparse.  Rounds with a larger ``m`` run only for queries still without
    one.  Returns (num, codes, query index) of the valid candidates."""
    rng = np.random.default_rng(seed)
    n = len(num0)
    allowed = np.nonzero(np.concatenate([r.moves_num, r.moves_cat]))[0]
    masks = r.level_masks(num0, codes0)
    pools_num, pools_codes, pools_q = [], [], []
    P = int(n_candidates)
    have = np.zeros(n, dtype=bool)
    for rounds, max_change in enumerate(max_changes):
        todo = np.nonzero(~have)[0] if rounds else np.arange(n)
        if len(todo) == 0:
            break
        q = np.repeat(todo, P)
        cn, cc = _draw(space, r, rng, num0, codes0, q, allowed, max_change, masks)
        ok = (space.proba(cn, cc) > 0.5) == (target[q] == 1)
        pools_num.append(cn[ok])
        pools_codes.append(cc[ok])
        pools_q.append(q[ok])
        have[q[ok & r.plausible(num0[q], codes0[q], cn, cc)]] = True
        if progress is not None:
            progress(0.3 + 0.2 * rounds, f"Random search: round {rounds + 1}")
    pn, pc, pq = np.concatenate(pools_num), np.concatenate(pools_codes), np.concatenate(pools_q)
    if len(pq):
        pn, pc = _sparsify(space, r, num0[pq], codes0[pq], pn, pc, target[pq])
    return pn, pc, pq


def _draw(space: CFSpace, r: _Resolved, rng, num0, codes0, q, allowed, max_change, masks):
    """One candidate per entry of ``q`` (query index): a random 1..``max_change`` of the ``allowed`` features
    (``None``: all of them) set to new values, integers rounded away from the query; a level its query may not
    move to (``masks``, see :meth:`_Resolved.level_masks`) stays as it was, and dependents follow their drivers."""
    nnum = len(space.numeric)
    cn, cc = num0[q].copy(), codes0[q].copy()
    L, U = _bounds(r, cn)
    m = len(allowed) if max_change is None else min(max_change, len(allowed))
    n_change = rng.integers(1, m + 1, size=len(q))
    ranks = rng.random((len(q), len(allowed))).argsort(axis=1).argsort(axis=1)
    change = ranks < n_change[:, None]
    for a, f in enumerate(allowed):
        rows = np.nonzero(change[:, a])[0]
        if f < nnum:
            # half from training values, half uniform over the allowed range (reaches rare large values)
            vals = space.train_num[rng.integers(0, len(space.train_num), size=len(rows)), f]
            lo_, hi_ = L[rows, f], U[rows, f]
            uni = lo_ + rng.random(len(rows)) * np.where(np.isfinite(hi_ - lo_), hi_ - lo_, 0.0)
            vals = np.where(rng.random(len(rows)) < 0.5, vals, uni)
            cn[rows, f] = np.clip(vals, lo_, hi_)
        else:  # a level drawn with its training frequency, never 'missing'
            g = f - nnum
            freq = space.level_freq[g].copy()
            lv = space.levels[g]
            if MISSING_LEVEL in lv:
                freq[lv.index(MISSING_LEVEL)] = 0
            freq = freq / freq.sum() if freq.sum() > 0 else np.full(len(lv), 1 / len(lv))
            cc[rows, g] = rng.choice(len(lv), size=len(rows), p=freq)
            if masks[g] is not None:
                barred = ~masks[g][q[rows], cc[rows, g]]
                cc[rows[barred], g] = codes0[q[rows[barred]], g]
    return r.follow(num0[q], codes0[q], _round_away(cn, num0[q], r.integer, L, U), cc)


def _one_feature_moves(space: CFSpace, r: _Resolved, num0, codes0, target, *, skip=None, grid: int = 24,
                       refine: int = 8, keep_levels: int = 3, max_levels: int = 64):
    """The sparsest counterfactuals there are: for every query and every feature it may change, the
    change of that feature *alone* that flips the model, if one exists.

    Numeric features try training quantiles inside the allowed range on each side of the query; the
    nearest one that flips is bisected back towards the query (integers rounded away from it).
    Categorical features try every other level (the ``max_levels`` most frequent of a high-cardinality
    column; the ``keep_levels`` surest flips are kept).  ``skip`` (n, features) masks features a query must
    not touch.  A dependent moves with its driver; a level a row may not move to (see
    :meth:`_Resolved.level_masks`) is not tried.  Returns (num, codes, query index) of the flips, and per query
    and feature the best P(desired class) seen (what the greedy second step follows)."""
    nnum = len(space.numeric)
    moves = _Moves(space, r, num0, codes0, target)
    skip = np.zeros(moves.gain.shape, dtype=bool) if skip is None else skip
    for j in np.nonzero(r.moves_num)[0]:
        rows = np.nonzero(~skip[:, j])[0]
        if len(rows):
            moves.numeric(j, rows, grid, refine)
    for g in np.nonzero(r.moves_cat)[0]:
        moves.levels(g, np.nonzero(~skip[:, nnum + g])[0], keep_levels, max_levels)
    return moves.result()


class _Moves:
    """What :func:`_one_feature_moves` collects: the flips found, and per query and feature the best
    P(desired class) seen (``gain``) with the value that gave it (``best_val``)."""

    def __init__(self, space: CFSpace, r: _Resolved, num0, codes0, target):
        self.space, self.r, self.num0, self.codes0 = space, r, num0, codes0
        self.want = target == 1
        n, nf = len(num0), len(space.numeric) + len(space.categorical)
        self.gain = np.full((n, nf), -np.inf)
        self.best_val = np.zeros((n, nf))
        self.L, self.U = _bounds(r, num0)
        self.masks = r.level_masks(num0, codes0)
        self.out_n, self.out_c, self.out_q = [], [], []

    def follow(self, nn, cc, q):
        return self.r.follow(self.num0[q], self.codes0[q], nn, cc)

    def p_want(self, nn, cc, q):
        p = self.space.proba(nn, cc)
        return np.where(self.want[q], p, 1 - p)

    def add(self, nn, cc, q) -> None:
        self.out_n.append(nn)
        self.out_c.append(cc)
        self.out_q.append(q)

    def numeric(self, j: int, rows, grid: int, refine: int) -> None:
        """Feature ``j`` set to each training quantile; the nearest flip on either side, bisected."""
        space, r, num0, codes0, L, U = self.space, self.r, self.num0, self.codes0, self.L, self.U
        qs = np.unique(np.quantile(space.train_num[:, j], np.linspace(0, 1, grid + 1)))
        G = len(qs)
        vals = np.clip(np.broadcast_to(qs, (len(rows), G)), L[rows, j, None], U[rows, j, None])
        vals = _round_away(vals, num0[rows, j, None], np.full((len(rows), G), r.integer[j]), L[rows, j, None],
                           U[rows, j, None])
        cand_n = np.repeat(num0[rows], G, axis=0)
        cand_n[:, j] = vals.ravel()
        q = np.repeat(rows, G)
        cand_n, cand_c = self.follow(cand_n, np.repeat(codes0[rows], G, axis=0), q)
        vals = cand_n[:, j].reshape(len(rows), G)  # a driver whose dependent cannot follow stays put
        pw = self.p_want(cand_n, cand_c, q).reshape(len(rows), G)
        moved = ~np.isclose(vals, num0[rows, j, None], rtol=0, atol=1e-9)
        pw = np.where(moved, pw, -np.inf)
        top = pw.argmax(axis=1)
        self.gain[rows, j] = pw[np.arange(len(rows)), top]
        self.best_val[rows, j] = vals[np.arange(len(rows)), top]
        flips = pw > 0.5
        dist = np.where(flips, np.abs(vals - num0[rows, j, None]), np.inf)
        for side in (1, -1):  # the nearest flip above the query and the nearest below it
            d = np.where(np.sign(vals - num0[rows, j, None]) == side, dist, np.inf)
            pick = d.argmin(axis=1)
            has = np.isfinite(d[np.arange(len(rows)), pick])
            if has.any():
                self._bisect(j, rows[has], vals[has, pick[has]], refine)

    def _bisect(self, j: int, qq, good, refine: int) -> None:
        """Move the flips ``good`` of feature ``j`` of queries ``qq`` back towards the query while they flip."""
        num0, codes0, r = self.num0, self.codes0, self.r
        x0 = num0[qq, j]
        bad = x0.copy()  # the query itself does not flip
        # whole-number features bisect down to one unit: one unit less would not flip the decision
        iters = int(np.ceil(np.log2(max(np.abs(good - bad).max(), 1.0)))) + 1 if r.integer[j] else refine
        for _ in range(min(iters, 40)):
            mid = _round_away((good + bad) / 2, x0, np.full(len(qq), r.integer[j]), self.L[qq, j], self.U[qq, j])
            tn = num0[qq].copy()
            tn[:, j] = mid
            tn, tc = self.follow(tn, codes0[qq].copy(), qq)
            ok = (self.p_want(tn, tc, qq) > 0.5) & (tn[:, j] == mid)
            good, bad = np.where(ok, mid, good), np.where(ok, bad, mid)
        tn = num0[qq].copy()
        tn[:, j] = good
        self.add(*self.follow(tn, codes0[qq].copy(), qq), qq)

    def levels(self, g: int, rows, keep_levels: int, max_levels: int) -> None:
        """Categorical feature ``g`` set to every other level; the ``keep_levels`` surest flips are kept."""
        space, num0, codes0 = self.space, self.num0, self.codes0
        f = len(space.numeric) + g
        levels = [i for i, lv in enumerate(space.levels[g]) if lv != MISSING_LEVEL]
        if len(levels) > max_levels:  # a high-cardinality column: its most frequent training levels
            levels = sorted(sorted(levels, key=lambda i: -space.level_freq[g][i])[:max_levels])
        if len(rows) == 0 or not levels:
            return
        G = len(levels)
        cand_c = np.repeat(codes0[rows], G, axis=0)
        cand_c[:, g] = np.tile(levels, len(rows))
        q = np.repeat(rows, G)
        cand_n, cand_c = self.follow(np.repeat(num0[rows], G, axis=0), cand_c, q)
        pw = self.p_want(cand_n, cand_c, q).reshape(len(rows), G)
        stays = cand_c[:, g].reshape(len(rows), G) == codes0[rows, g, None]  # its own level, or held
        if self.masks[g] is not None:
            stays |= ~self.masks[g][rows][:, levels]
        pw = np.where(stays, -np.inf, pw)
        top = pw.argmax(axis=1)
        self.gain[rows, f] = pw[np.arange(len(rows)), top]
        self.best_val[rows, f] = np.asarray(levels)[top]
        # every flipping level costs the same; keep the `keep_levels` that flip most surely
        rank = (-pw).argsort(axis=1).argsort(axis=1)
        ok = ((pw > 0.5) & (rank < keep_levels)).ravel()
        self.add(cand_n[ok], cand_c[ok], q[ok])

    def result(self):
        if self.out_q:
            pn, pc, pq = np.concatenate(self.out_n), np.concatenate(self.out_c), np.concatenate(self.out_q)
        else:
            pn = np.zeros((0, len(self.space.numeric)))
            pc = np.zeros((0, len(self.space.categorical)), dtype=np.int64)
            pq = np.zeros(0, dtype=np.int64)
        self.gain[:, ~np.concatenate([self.r.moves_num, self.r.moves_cat])] = -np.inf
        return pn, pc, pq, self.gain, self.best_val


def _sparse_moves(space: CFSpace, r: _Resolved, num0, codes0, target, k: int, *, first_moves: int = 3):
    """Counterfactuals that change as few features as possible: every one-feature flip, and for queries with
    fewer than ``k`` plausible flips of different features, greedy two-feature ones (the ``first_moves`` single
    changes that raise P(desired class) most, each followed by every one-feature flip from there), made sparse.
    Returns (num, codes, query index) of valid counterfactuals."""
    nnum = len(space.numeric)
    pn, pc, pq, gain, best_val = _one_feature_moves(space, r, num0, codes0, target, keep_levels=k)
    pools = [(pn, pc, pq)]
    need = np.nonzero(_distinct_plausible(r, num0[pq], codes0[pq], pn, pc, pq, len(num0)) < k)[0]
    if len(need):
        top = np.argsort(-gain[need], axis=1)[:, :first_moves]
        for m in range(top.shape[1]):
            f = top[:, m]
            ok = np.isfinite(gain[need, f])
            qq, ff = need[ok], f[ok]
            if len(qq) == 0:
                continue
            sn, sc = num0[qq].copy(), codes0[qq].copy()
            isnum = ff < nnum
            sn[np.nonzero(isnum)[0], ff[isnum]] = best_val[qq[isnum], ff[isnum]]
            sc[np.nonzero(~isnum)[0], ff[~isnum] - nnum] = best_val[qq[~isnum], ff[~isnum]].astype(np.int64)
            sn, sc = r.follow(num0[qq], codes0[qq], sn, sc)
            skip = np.zeros((len(qq), gain.shape[1]), dtype=bool)
            skip[np.arange(len(qq)), ff] = True
            # the moved point's bounds equal the query's for every feature but the moved one, which is skipped
            n2, c2, q2, _, _ = _one_feature_moves(space, r, sn, sc, target[qq], skip=skip, keep_levels=k)
            if len(q2):
                pools.append((n2, c2, qq[q2]))
    if len(pools) > 1:  # a pair may shrink (the one-feature flips are already as small as the search makes them)
        tn, tc, tq = (np.concatenate([p[i] for p in pools[1:]]) for i in range(3))
        tn, tc = _sparsify(space, r, num0[tq], codes0[tq], tn, tc, target[tq])
        pools[1:] = [(tn, tc, tq)]
    return tuple(np.concatenate([p[i] for p in pools]) for i in range(3))


def _distinct_plausible(r: _Resolved, num0, codes0, pn, pc, pq, n: int) -> np.ndarray:
    """Per query: how many different features its plausible one-feature flips change."""
    plaus = r.plausible(num0, codes0, pn, pc)
    if not plaus.any():
        return np.zeros(n, dtype=np.int64)
    changed = np.concatenate([~np.isclose(pn, num0, rtol=0, atol=1e-9), pc != codes0], axis=1)
    first = changed.argmax(axis=1)  # names the flip; a driver and its dependent count once
    pairs = np.unique(np.stack([pq[plaus], first[plaus]], axis=1), axis=0)
    return np.bincount(pairs[:, 0], minlength=n)


def _sparsify(space: CFSpace, r: _Resolved, num0, codes0, num, codes, target, shrink_iters: int = 6):
    """Revert changes that are not needed (cheapest first; a dependent goes with its driver), then shrink numeric
    changes towards the query; every step is kept only where the model still gives the desired class and no
    implausible pair of values appears."""
    num, codes = num.copy(), codes.copy()
    nnum = num.shape[1]
    want = target == 1
    was_plausible = r.plausible(num0, codes0, num, codes)

    def ok(nn, cc, sel=slice(None)):
        return ((space.proba(nn, cc) > 0.5) == want[sel]) & (r.plausible(num0[sel], codes0[sel], nn, cc)
                                                             | ~was_plausible[sel])

    contrib = np.concatenate([np.abs(num - num0) / space.mad, (codes != codes0).astype(float)], axis=1)
    changed = np.concatenate([~np.isclose(num, num0, rtol=0, atol=1e-9), codes != codes0], axis=1)
    changed[:, ~np.concatenate([r.moves_num, r.moves_cat])] = False  # dependents are reverted with their drivers
    order = np.argsort(np.where(changed, contrib, np.inf), axis=1, kind="stable")
    rows = np.arange(len(num))
    for rnk in range(changed.shape[1]):
        f = order[:, rnk]
        todo = changed[rows, f]
        if not todo.any():
            break
        tn, tc = num.copy(), codes.copy()
        idx = rows[todo]
        fn = f[todo]
        isnum = fn < nnum
        tn[idx[isnum], fn[isnum]] = num0[idx[isnum], fn[isnum]]
        tc[idx[~isnum], fn[~isnum] - nnum] = codes0[idx[~isnum], fn[~isnum] - nnum]
        tn[idx], tc[idx] = r.follow(num0[idx], codes0[idx], tn[idx], tc[idx])
        keep = np.zeros(len(num), dtype=bool)
        keep[idx] = ok(tn[idx], tc[idx], idx)
        num[keep], codes[keep] = tn[keep], tc[keep]
    # shrink: bisection on one factor per row towards the query
    if nnum:
        L, U = _bounds(r, num0)
        lo_f, hi_f = np.zeros(len(num)), np.ones(len(num))
        delta = num - num0
        moving = np.abs(delta).sum(axis=1) > 0
        for _ in range(shrink_iters):
            mid = (lo_f + hi_f) / 2
            cand, cand_c = r.follow(num0, codes0, _round_away(num0 + delta * mid[:, None], num0, r.integer, L, U),
                                    codes)
            good = ok(cand, cand_c) & moving
            hi_f = np.where(good, mid, hi_f)
            lo_f = np.where(good, lo_f, mid)
        final, final_c = r.follow(num0, codes0, _round_away(num0 + delta * hi_f[:, None], num0, r.integer, L, U),
                                  codes)
        good = ok(final, final_c)
        num = np.where(good[:, None], final, num)
        codes = np.where(good[:, None], final_c, codes)
    return num, codes
