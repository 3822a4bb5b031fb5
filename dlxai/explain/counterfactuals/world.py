"""What the training rows say about which values go together, so that a counterfactual does not ask for a
combination nobody has: a woman who is a 'Husband', education '5th-6th' with education-num 12.

- **Strongly associated pairs.**  Two features are strongly associated when, on the training rows, Cramér's V
  (two categorical features) or the correlation ratio η (a categorical and a numeric one) - the measures
  :mod:`dlxai.explain.views` uses for proxies - or |Spearman| (two numeric ones) is at least ``threshold``.  A
  counterfactual's values of such a pair must occur together in at least ``min_support`` training rows: a
  categorical feature by its level, a numeric one by its value when it has few distinct values (education-num)
  and by its quantile bin otherwise (age).  A pair the counterfactual leaves as the row has it is never blamed.
- **Pairs that encode the same thing** (a functional dependency on the training rows: each value of the *driver*
  goes with one value of the *dependent* in at least 99% of the rows, e.g. education -> education-num) move
  together: searches change the driver and the dependent follows (:meth:`World.derive`), or the pair is held.
- **Features tied to a feature that may not change** keep to the levels seen with the row's value of it
  (:meth:`World.level_masks`): with sex fixed, relationship never becomes 'Husband' for a woman.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ASSOCIATION_THRESHOLD = 0.5
FD_PURITY = 0.99  # share of training rows a functional dependency must explain
N_BINS = 10  # quantile bins of a numeric feature with many distinct values
MAX_DISCRETE = 32  # a numeric feature with at most this many distinct training values is compared by value
_STRENGTHS: dict = {}  # (data fingerprint, features) -> association of every pair: seconds to compute on Adult
_STRENGTHS_KEEP = 8


def default_min_support(n_train: int) -> int:
    """Training rows a pair of values needs to count as seen: 5, or 1 (seen at all) below 5,000 rows, where a
    rarer but real combination would otherwise be refused."""
    return max(1, min(5, n_train // 1000))


def pair_strengths(space) -> dict[tuple[int, int], tuple[float, str]]:
    """Association of every pair of model features on the training rows, by feature position in
    ``space.features``: ``(value, measure)``, measure ``"cramers_v"``, ``"eta"`` or ``"spearman"``.  Cached per
    data and features."""
    from scipy.stats import spearmanr

    from dlxai.explain.views import correlation_ratio, cramers_v

    key = (space.dataset.fingerprint, tuple(space.numeric), tuple(space.categorical))
    if key in _STRENGTHS:
        return _STRENGTHS[key]
    train = space.dataset.X("train")
    nnum, feats = len(space.numeric), space.features
    out = {}
    for a in range(len(feats)):
        for b in range(a + 1, len(feats)):
            x, y = train[feats[a]], train[feats[b]]
            if a < nnum and b < nnum:
                rho = spearmanr(pd.to_numeric(x, errors="coerce"), pd.to_numeric(y, errors="coerce"),
                                nan_policy="omit").statistic
                out[a, b] = (0.0 if not np.isfinite(rho) else abs(float(rho)), "spearman")
            elif a < nnum or b < nnum:
                cat, num = (y, x) if a < nnum else (x, y)
                out[a, b] = (correlation_ratio(cat, num), "eta")
            else:
                out[a, b] = (cramers_v(x, y), "cramers_v")
    _STRENGTHS[key] = out
    while len(_STRENGTHS) > _STRENGTHS_KEEP:
        _STRENGTHS.pop(next(iter(_STRENGTHS)))
    return out


class World:
    """The strongly associated pairs, which pairs of their values the training rows have, and the functional
    dependencies, for one model's features (``space``: a :class:`~dlxai.explain.counterfactuals.CFSpace`).

    Features are numbered as in ``space.features`` (numeric first, then categorical); every value maps to a
    *cell*: a categorical level's code (unknown: one extra cell), a numeric feature's nearest distinct training
    value or its quantile bin.
    """

    def __init__(self, space, threshold: float = ASSOCIATION_THRESHOLD, min_support: int | None = None):
        self.space = space
        self.nnum = len(space.numeric)
        self.names = list(space.features)
        n_train = len(space.train_num)
        self.min_support = default_min_support(n_train) if min_support is None else int(min_support)
        self.threshold = float(threshold)
        self._cuts, self.values, self.n_cells = [], [], []
        for j in range(self.nnum):
            col = space.train_num[:, j]
            distinct = np.unique(col)
            if len(distinct) <= MAX_DISCRETE:  # by value: the cut points lie halfway between distinct values
                self.values.append(distinct)
                self._cuts.append((distinct[1:] + distinct[:-1]) / 2)
                self.n_cells.append(len(distinct))
            else:
                edges = np.unique(np.quantile(col, np.linspace(0, 1, N_BINS + 1)))
                self.values.append(None)
                self._cuts.append(edges[1:-1])
                self.n_cells.append(max(len(edges) - 1, 1))
        self.n_cells += [len(lv) + 1 for lv in space.levels]
        cells = self.cells(space.train_num, space.train_codes)
        strengths = pair_strengths(space) if n_train else {}
        self.pairs, self.support, self.measures = [], [], []
        for (a, b), (v, measure) in strengths.items():
            if v >= self.threshold:
                counts = np.bincount(cells[:, a] * self.n_cells[b] + cells[:, b],
                                     minlength=self.n_cells[a] * self.n_cells[b]).reshape(self.n_cells[a], -1)
                self.pairs.append((a, b))
                self.support.append(counts >= self.min_support)
                self.measures.append((measure, v))
        self.driver_of, self.follow_value = self._dependencies(cells, strengths)

    # values -> cells
    def cell(self, f: int, num: np.ndarray, codes: np.ndarray) -> np.ndarray:
        if f < self.nnum:
            return np.searchsorted(self._cuts[f], num[:, f], side="right")
        g = f - self.nnum
        return np.where(codes[:, g] >= 0, codes[:, g], self.n_cells[f] - 1)

    def cells(self, num: np.ndarray, codes: np.ndarray) -> np.ndarray:
        return np.stack([self.cell(f, num, codes) for f in range(len(self.names))], axis=1) if self.names else \
            np.zeros((len(num), 0), dtype=np.int64)

    def discrete(self, f: int) -> bool:
        return f >= self.nnum or self.values[f] is not None

    def _dependencies(self, cells: np.ndarray, strengths) -> tuple[dict, dict]:
        """Functional dependencies between strongly associated discrete features: ``driver_of`` (dependent ->
        driver) and ``follow_value`` (dependent -> the dependent's value for each driver cell; NaN / -1 where the
        training rows do not say).  A feature is the dependent of at most one driver, and a driver depends on
        none; of two features that determine each other the categorical one drives (the gradient search moves
        categorical levels smoothly)."""
        found = []
        for a, b in self.pairs:
            if not (self.discrete(a) and self.discrete(b)):
                continue
            for d, e in ((a, b), (b, a)):
                table = np.bincount(cells[:, d] * self.n_cells[e] + cells[:, e],
                                    minlength=self.n_cells[d] * self.n_cells[e]).reshape(self.n_cells[d], -1)
                used_d, used_e = (table.sum(axis=1) > 0).sum(), (table.sum(axis=0) > 0).sum()
                purity = table.max(axis=1).sum() / max(table.sum(), 1)
                if used_d >= 2 and used_e >= 2 and purity >= FD_PURITY:
                    found.append((-purity, d < self.nnum, d, e, table))
        driver_of, follow = {}, {}
        for _, _, d, e, table in sorted(found, key=lambda t: t[:4]):
            if e in driver_of or e in driver_of.values() or d in driver_of:
                continue
            top = table.argmax(axis=1)
            seen = table.sum(axis=1) > 0
            if e < self.nnum:
                follow[e] = np.where(seen, self.values[e][np.minimum(top, len(self.values[e]) - 1)], np.nan)
            else:
                known = top < self.n_cells[e] - 1  # the extra cell is the unknown level
                follow[e] = np.where(seen & known, top, -1).astype(np.int64)
            driver_of[e] = d
        return driver_of, follow

    # what a counterfactual may do
    def derive(self, num0, codes0, num, codes, L=None, U=None):
        """Every dependent set from its driver where the driver moved (to the query's own value where it did
        not); a driver moved to a value the training rows do not map, or whose dependent would leave its bounds
        ``L``/``U`` (numeric, per row), goes back to the query with its dependent: the pair is held."""
        if not self.driver_of:
            return num, codes
        num, codes = num.copy(), codes.copy()
        nnum = self.nnum
        for e, d in self.driver_of.items():
            cd = self.cell(d, num, codes)
            moved = cd != self.cell(d, num0, codes0)
            val = self.follow_value[e][cd]
            if e < nnum:
                ok = np.isfinite(val)
                if L is not None:
                    ok &= (val >= L[:, e] - 1e-9) & (val <= U[:, e] + 1e-9)
            else:
                ok = val >= 0
            back = moved & ~ok
            if d < nnum:
                num[back, d] = num0[back, d]
            else:
                codes[back, d - nnum] = codes0[back, d - nnum]
            follow = moved & ok
            if e < nnum:
                num[:, e] = np.where(follow, val, num0[:, e])
            else:
                codes[:, e - nnum] = np.where(follow, val, codes0[:, e - nnum])
        return num, codes

    def plausible(self, num0, codes0, num, codes) -> np.ndarray:
        """Per row: every strongly associated pair of its values occurs in the training rows (or is the query's
        own pair, which the counterfactual does not introduce)."""
        ok = np.ones(len(num), dtype=bool)
        for (a, b), sup in zip(self.pairs, self.support, strict=True):
            ca, cb = self.cell(a, num, codes), self.cell(b, num, codes)
            same = (ca == self.cell(a, num0, codes0)) & (cb == self.cell(b, num0, codes0))
            ok &= sup[ca, cb] | same
        return ok

    def level_masks(self, fixed: np.ndarray, num0, codes0) -> list:
        """Per categorical feature, ``None`` or the levels (n, levels) each row may move to: those that occur
        with the row's value of every strongly associated feature that is ``fixed`` (per feature, in
        ``space.features`` order), and the row's own level."""
        nnum = self.nnum
        masks: list = [None] * len(self.space.categorical)
        for (a, b), sup in zip(self.pairs, self.support, strict=True):
            for g_f, h_f, table in ((a, b, sup), (b, a, sup.T)):
                if g_f < nnum or not fixed[h_f] or fixed[g_f]:
                    continue
                g = g_f - nnum
                n_lv = len(self.space.levels[g])
                allowed = table[:n_lv, self.cell(h_f, num0, codes0)].T.copy()
                own = codes0[:, g] >= 0
                allowed[np.nonzero(own)[0], codes0[own, g]] = True
                masks[g] = allowed if masks[g] is None else masks[g] & allowed
        return masks

    def describe(self) -> dict:
        """The pairs held together, in the user's column names (for the result's params and the page)."""
        n = self.names
        return {
            "threshold": self.threshold, "min_support": self.min_support,
            "pairs": [{"features": [n[a], n[b]], "measure": m, "strength": round(float(v), 3)}
                      for (a, b), (m, v) in zip(self.pairs, self.measures, strict=True)],
            "dependencies": [{"driver": n[d], "dependent": n[e]} for e, d in self.driver_of.items()],
        }
