"""Counterfactual explanations: what would have to change for the model to decide otherwise.

Two searches share one problem set-up (:class:`CFSpace`) and one result object
(:class:`CounterfactualResult`):

- ``"gradient"`` (dlxai's torch models): a batched projected-gradient search in the model's
  *preprocessed* space, run on a frozen deep copy of the network.  Numeric features move in
  MAD units around the query (``x = x0 + MAD * u``); each categorical feature is a vector of
  logits over its levels fed to the network through a softmax, so a one-hot group stays a
  distribution over levels and is projected to its argmax.  The loss per counterfactual is
  ``lambda * hinge(kappa - logit margin) + MAD-L1 proximity + sparsity - diversity``, for all
  ``k`` counterfactuals of every query at once.  Every few steps the candidates are projected
  (integers rounded away from the query, categories to their argmax, bounds clamped) and the
  cheapest *projected* one that flips the model is kept; at the end changes that are not needed
  are reverted and the rest shrunk, then everything is re-checked through ``predict_proba``.
- ``"random"`` (any model with ``predict_proba``): candidates that change a random few
  allowed features to values drawn from the training rows, the same sparsify / shrink step,
  then ``k`` diverse picks.

Costs are the same everywhere: ``sum over numeric |x - c| / MAD + number of changed
categoricals`` (MAD from the training split; a feature whose MAD is 0, e.g. capital-gain, uses
its mean absolute deviation from the median instead).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import UnsupportedModelError, UserInputError

# --- messages (tests match on these) -------------------------------------------------------
ALREADY_DESIRED = (
    "The model already gives row(s) {rows} the desired outcome (class {desired}; P(favourable) = {proba}), so "
    "there is no decision to flip. Pick a row the model rejects, or ask for the other class."
)
ALL_IMMUTABLE = (
    "Every feature is fixed: immutable {immutable}, allowed to vary {vary}. A counterfactual needs at least one "
    "feature it may change; allow e.g. {suggest} to vary."
)
NO_COUNTERFACTUAL = (
    "No counterfactual within the constraints was found for row(s) {rows}. {binding}"
)
BINDING_ONE = (
    "The binding constraint is the {name}: with it lifted a counterfactual exists ({detail}). Relax it, or allow "
    "more features to vary."
)
BINDING_ALL = (
    "No single constraint is to blame, but lifting all of them (ranges, directions, immutable features) gives "
    "one: allow more features to vary and widen the ranges."
)
BINDING_NONE = (
    "Even with every constraint lifted the search found none: the model may not give this outcome to any row "
    "near this one. Try more steps or another row."
)
BAD_K = "k (counterfactuals per row) must be a whole number from 1 to 20; received {value!r}. Use e.g. 3."
BAD_DIRECTION = (
    "Direction for {feature!r} must be 'increase', 'decrease' or 'any'; received {value!r}."
)
BAD_RANGE = (
    "Range for {feature!r} must be (low, high) with low <= high in the feature's own units; received {value!r}."
)
NOT_NUMERIC_CONSTRAINT = (
    "{what} only apply to numeric features; {feature!r} is categorical. Numeric features: {numeric}."
)
BAD_DESIRED = "desired_class must be 'opposite', 0 or 1; received {value!r}."
BAD_PENALTY = (
    "changed_penalty (the cost of each changed feature, in MADs) must be a number >= 0; received {value!r}. "
    "Use e.g. 6 for few changed features, 1 for the smallest changes."
)
BAD_METHOD = "method must be 'auto', 'gradient' or 'random'; received {value!r}."
NO_PREPROCESSOR = (
    "{name} has no dlxai preprocessor, so raw rows cannot be mapped to its inputs. Counterfactuals need a model "
    "trained or wrapped in dlxai with its preprocessing."
)

DIRECTIONS = ("increase", "decrease", "any")
METHODS = ("auto", "gradient", "random")
MISSING_LEVEL = "missing"


# --- constraints ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Constraints:
    """What a counterfactual may change.

    ``immutable`` ``None`` means the schema's sensitive attributes that are model features;
    ``vary`` ``None`` means every other feature.  ``ranges`` are (low, high) in raw units for
    numeric features (default: the training minimum..maximum).  ``directions`` maps a numeric
    feature to ``"increase"``/``"decrease"``/``"any"``; ``None`` means age only increases.
    ``integer`` ``None`` means numeric features whose training values are all whole numbers.
    """

    immutable: tuple[str, ...] | None = None
    vary: tuple[str, ...] | None = None
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    directions: Mapping[str, str] | None = None
    integer: tuple[str, ...] | None = None

    def describe(self) -> dict:
        return {
            "immutable": None if self.immutable is None else list(self.immutable),
            "vary": None if self.vary is None else list(self.vary),
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "directions": None if self.directions is None else dict(self.directions),
            "integer": None if self.integer is None else list(self.integer),
        }


def _mad(col: np.ndarray) -> float:
    col = col[np.isfinite(col)]
    if col.size == 0:
        return 1.0
    med = np.median(col)
    mad = float(np.median(np.abs(col - med)))
    if mad > 0:
        return mad
    mean_ad = float(np.mean(np.abs(col - med)))
    return mean_ad if mean_ad > 0 else 1.0


class CFSpace:
    """The raw <-> preprocessed mapping and the training statistics of one model on one dataset.

    Raw rows are held as ``num`` (float64, numeric features in schema order, missing values
    median-imputed) and ``codes`` (int, the level index of each categorical feature).
    """

    def __init__(self, model, dataset):
        prep = getattr(model, "preprocessor", None)
        if prep is None or not hasattr(prep, "feature_groups_"):
            raise UnsupportedModelError(NO_PREPROCESSOR.format(name=getattr(model, "name", type(model).__name__)))
        self.model = model
        self.dataset = dataset
        self.prep = prep
        self.numeric = list(prep.numeric)
        self.categorical = list(prep.categorical)
        self.features = self.numeric + self.categorical
        self.n_out = int(prep.n_features_out_)
        # the preprocessor protocol (dlxai.data.preprocess.TabularPreprocessor): every contract has these
        self.medians = np.asarray(prep.medians_, dtype=np.float64)
        self.mean = np.asarray(prep.means_, dtype=np.float64)
        self.scale = np.asarray(prep.scales_, dtype=np.float64)
        self.levels = [list(map(str, c)) for c in prep.categories_]
        self.num_idx = np.array([prep.feature_groups_[c][0] for c in self.numeric], dtype=np.int64)
        self.cat_idx = [np.array(prep.feature_groups_[c], dtype=np.int64) for c in self.categorical]
        train = dataset.X("train")
        self.train_num, self.train_codes = self.encode_raw(train)
        self.train_y = dataset.y("train")
        self.mad = np.array([_mad(self.train_num[:, j]) for j in range(len(self.numeric))])
        self.lo = self.train_num.min(axis=0) if len(train) else np.zeros(0)
        self.hi = self.train_num.max(axis=0) if len(train) else np.zeros(0)
        self.whole = np.array([bool(np.all(np.mod(self.train_num[:, j], 1) == 0)) for j in range(len(self.numeric))],
                              dtype=bool)
        self.std = self.train_num.std(axis=0) if len(train) else np.zeros(0)
        # level frequencies in training rows (the random search draws from them)
        self.level_freq = [np.bincount(self.train_codes[:, g][self.train_codes[:, g] >= 0],
                                       minlength=len(self.levels[g])) / max(len(train), 1)
                           for g in range(len(self.categorical))]

    # raw DataFrame <-> (num, codes)
    def encode_raw(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=missing[0], available=list(X.columns)))
        num = np.empty((len(X), len(self.numeric)), dtype=np.float64)
        for j, c in enumerate(self.numeric):
            col = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=np.float64)
            num[:, j] = np.where(np.isnan(col), self.medians[j], col)
        codes = np.empty((len(X), len(self.categorical)), dtype=np.int64)
        for g, c in enumerate(self.categorical):
            s = X[c].astype(object).where(X[c].notna(), MISSING_LEVEL).astype(str)
            codes[:, g] = pd.Categorical(s, categories=self.levels[g]).codes.astype(np.int64)
        return num, codes

    def decode(self, num: np.ndarray, codes: np.ndarray, index=None) -> pd.DataFrame:
        """Raw rows from the internal arrays (the inverse of the preprocessor, written from its parts)."""
        out = {}
        for j, c in enumerate(self.numeric):
            col = num[:, j]
            out[c] = np.round(col).astype(np.int64) if self.whole[j] and np.all(np.isfinite(col)) else col
        for g, c in enumerate(self.categorical):
            lv = np.array(self.levels[g] + [None], dtype=object)
            vals = lv[np.where(codes[:, g] >= 0, codes[:, g], len(self.levels[g]))]
            out[c] = pd.Series(vals, dtype=object).where(vals != MISSING_LEVEL, None).to_numpy()
        return pd.DataFrame(out, index=index)[list(self.dataset.schema.features)]

    def inverse_transform(self, Z: np.ndarray) -> pd.DataFrame:
        """Raw rows from preprocessed rows: ``z * scale + mean`` and the argmax of each one-hot group."""
        Z = np.asarray(Z, dtype=np.float64)
        num = Z[:, self.num_idx] * self.scale + self.mean if len(self.numeric) else np.zeros((len(Z), 0))
        codes = np.stack([Z[:, idx].argmax(axis=1) for idx in self.cat_idx], axis=1) if self.cat_idx else \
            np.zeros((len(Z), 0), dtype=np.int64)
        return self.decode(num, codes)

    def to_matrix(self, num: np.ndarray, codes: np.ndarray) -> np.ndarray:
        Z = np.zeros((len(num), self.n_out), dtype=np.float32)
        if len(self.numeric):
            Z[:, self.num_idx] = (num - self.mean) / self.scale
        rows = np.arange(len(num))
        for g, idx in enumerate(self.cat_idx):
            ok = codes[:, g] >= 0
            Z[rows[ok], idx[codes[ok, g]]] = 1.0
        return Z

    def proba(self, num: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """P(favourable) through the model's own ``predict_proba`` on the preprocessed rows."""
        est = self.model.estimator
        out = []
        for i in range(0, len(num), 50_000):
            p = np.asarray(est.predict_proba(self.to_matrix(num[i:i + 50_000], codes[i:i + 50_000])), dtype=np.float64)
            out.append(p[:, 1])
        return np.concatenate(out) if out else np.zeros(0)

    # distances: MAD-L1 over numeric + count of changed categoricals
    def embed(self, num: np.ndarray, codes: np.ndarray) -> np.ndarray:
        parts = [num / self.mad]
        for g in range(len(self.categorical)):
            oh = np.zeros((len(codes), len(self.levels[g]) + 1), dtype=np.float64)
            oh[np.arange(len(codes)), np.where(codes[:, g] >= 0, codes[:, g], len(self.levels[g]))] = 0.5
            parts.append(oh)
        return np.concatenate(parts, axis=1)

    def cost(self, num0, codes0, num, codes) -> np.ndarray:
        c = np.abs(num - num0) / self.mad
        return c.sum(axis=1) + (codes != codes0).sum(axis=1)

    def n_changed(self, num0, codes0, num, codes) -> np.ndarray:
        return (~np.isclose(num, num0, rtol=0, atol=1e-9)).sum(axis=1) + (codes != codes0).sum(axis=1)


@dataclass
class _Resolved:
    mutable_num: np.ndarray  # bool per numeric feature
    mutable_cat: np.ndarray  # bool per categorical feature
    lo: np.ndarray
    hi: np.ndarray
    direction: np.ndarray  # +1 increase only, -1 decrease only, 0 any
    integer: np.ndarray  # bool per numeric feature
    immutable: list
    vary: list


def resolve_constraints(space: CFSpace, c: Constraints | None, *, lift: tuple[str, ...] = ()) -> _Resolved:
    """Validate ``c`` against the dataset and turn it into per-feature arrays.

    ``lift`` names constraints to drop (``"ranges"``, ``"directions"``, ``"features"``): used
    to find which one binds when no counterfactual exists.
    """
    c = c or Constraints()
    feats = space.features

    def check(names, what):
        out = []
        for n in names:
            if n not in feats:
                raise UserInputError(
                    f"{what} names {n!r}, which is not a model feature. Features: {feats}."
                )
            out.append(n)
        return out

    if c.immutable is None:
        immutable = [s for s in space.dataset.schema.sensitive if s in feats]
    else:
        immutable = check(c.immutable, "The immutable list")
    vary = list(feats) if c.vary is None else check(c.vary, "The list of features allowed to vary")
    if "features" in lift:
        immutable, vary = [], list(feats)
    mutable = {f: (f in vary and f not in immutable) for f in feats}
    if not any(mutable.values()):
        suggest = [f for f in feats if f not in space.dataset.schema.sensitive][:3] or feats[:3]
        raise UserInputError(ALL_IMMUTABLE.format(immutable=immutable, vary=vary, suggest=suggest))

    n = len(space.numeric)
    lo, hi = space.lo.astype(np.float64).copy(), space.hi.astype(np.float64).copy()
    for f, r in dict(c.ranges).items():
        check([f], "A range")
        if f not in space.numeric:
            raise UserInputError(NOT_NUMERIC_CONSTRAINT.format(what="Ranges", feature=f, numeric=space.numeric))
        try:
            a, b = float(r[0]), float(r[1])
        except (TypeError, ValueError, IndexError) as exc:
            raise UserInputError(BAD_RANGE.format(feature=f, value=r)) from exc
        if not (a <= b) or math.isnan(a) or math.isnan(b):
            raise UserInputError(BAD_RANGE.format(feature=f, value=r))
        j = space.numeric.index(f)
        lo[j], hi[j] = a, b
    if "ranges" in lift:
        width = space.hi - space.lo
        lo, hi = space.lo - width, space.hi + width  # generous but finite
    dirs = c.directions if c.directions is not None else {f: "increase" for f in space.numeric if f.lower() == "age"}
    direction = np.zeros(n)
    for f, d in dict(dirs).items():
        check([f], "A direction")
        if f not in space.numeric:
            raise UserInputError(NOT_NUMERIC_CONSTRAINT.format(what="Directions", feature=f, numeric=space.numeric))
        if d not in DIRECTIONS:
            raise UserInputError(BAD_DIRECTION.format(feature=f, value=d))
        direction[space.numeric.index(f)] = {"increase": 1, "decrease": -1, "any": 0}[d]
    if "directions" in lift:
        direction[:] = 0
    if c.integer is None:
        integer = space.whole.copy()
    else:
        integer = np.zeros(n, dtype=bool)
        for f in check(c.integer, "The integer list"):
            if f in space.numeric:
                integer[space.numeric.index(f)] = True
    return _Resolved(
        mutable_num=np.array([mutable[f] for f in space.numeric], dtype=bool),
        mutable_cat=np.array([mutable[f] for f in space.categorical], dtype=bool),
        lo=lo, hi=hi, direction=direction, integer=integer, immutable=immutable, vary=vary,
    )


def _bounds(r: _Resolved, num0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row lower/upper bounds for numeric values: range, direction, immutability."""
    L = np.broadcast_to(r.lo, num0.shape).copy()
    U = np.broadcast_to(r.hi, num0.shape).copy()
    L = np.where(r.direction > 0, np.maximum(L, num0), L)
    U = np.where(r.direction < 0, np.minimum(U, num0), U)
    fixed = ~r.mutable_num
    L = np.where(fixed, num0, L)
    U = np.where(fixed, num0, U)
    # the query's own value is always allowed (a range that excludes it still lets the feature stay put)
    L = np.minimum(L, num0)
    U = np.maximum(U, num0)
    Li = np.where(r.integer, np.ceil(L - 1e-9), L)
    Ui = np.where(r.integer, np.floor(U + 1e-9), U)
    Ui = np.maximum(Ui, Li)
    return Li, Ui


def _round_away(x: np.ndarray, x0: np.ndarray, integer: np.ndarray, L: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Integers rounded away from the query (a change keeps its sign), then clamped."""
    away = np.where(x > x0, np.ceil(x - 1e-9), np.floor(x + 1e-9))
    out = np.where(integer, np.where(np.isclose(x, x0), x0, away), x)
    return np.clip(out, L, U)


# --- result --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CounterfactualResult:
    """``k`` counterfactuals for each of ``n`` query rows, with their quality.

    ``counterfactuals`` has ``n * k`` raw rows (index: (query, cf)) plus columns ``valid``,
    ``proba`` (P(favourable)), ``cost`` and ``n_changed``.  ``metrics`` has one row per query:
    ``validity`` (share of its k that flip the model), and over the valid ones ``proximity``
    (mean cost), ``sparsity`` (mean number of features changed), ``diversity`` (mean pairwise
    cost between them) and ``plausibility`` (mean cost to the nearest training row of the
    desired class).
    """

    queries: pd.DataFrame
    counterfactuals: pd.DataFrame
    valid: np.ndarray
    proba: np.ndarray
    cost: np.ndarray
    n_changed: np.ndarray
    desired_class: np.ndarray
    query_proba: np.ndarray
    metrics: pd.DataFrame
    method: str
    seconds: float
    params: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.valid.shape[1])

    def for_query(self, i: int, only_valid: bool = True) -> pd.DataFrame:
        """The counterfactuals of query ``i`` (position), cheapest first."""
        cf = self.counterfactuals.xs(i, level="query")
        if only_valid:
            cf = cf[cf["valid"]]
        return cf.sort_values("cost")

    def summary(self) -> dict:
        m = self.metrics
        return {
            "queries": int(len(m)),
            "k": self.k,
            "validity": float(self.valid.mean()) if self.valid.size else float("nan"),
            "queries_with_cf": float(self.valid.any(axis=1).mean()) if self.valid.size else float("nan"),
            "proximity": float(np.nanmean(m["proximity"])) if m["proximity"].notna().any() else float("nan"),
            "sparsity": float(np.nanmean(m["sparsity"])) if m["sparsity"].notna().any() else float("nan"),
            "diversity": float(np.nanmean(m["diversity"])) if m["diversity"].notna().any() else float("nan"),
            "plausibility": float(np.nanmean(m["plausibility"])) if m["plausibility"].notna().any() else float("nan"),
            "seconds": self.seconds,
            "method": self.method,
        }


# --- the searches ---------------------------------------------------------------------------
def _gradient_search(space: CFSpace, r: _Resolved, num0, codes0, target, k, *, steps, lr, kappa,
                     diversity_weight, sparsity_weight, seed, progress,
                     changed_penalty=0.0, sparsity_spread=1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import torch

    module = copy.deepcopy(space.model.torch_module()).cpu().float().eval()
    for p in module.parameters():
        p.requires_grad_(False)
    n = len(num0)
    B = n * k
    rep = np.repeat(np.arange(n), k)
    x0n, c0 = num0[rep], codes0[rep]
    t = target[rep]
    L, U = _bounds(r, x0n)
    gen = torch.Generator().manual_seed(int(seed))
    mad = torch.tensor(space.mad, dtype=torch.float32)
    mean = torch.tensor(space.mean, dtype=torch.float32)
    scale = torch.tensor(space.scale, dtype=torch.float32)
    x0t = torch.tensor(x0n, dtype=torch.float32)
    Lt, Ut = torch.tensor(L, dtype=torch.float32), torch.tensor(U, dtype=torch.float32)
    mut_num = torch.tensor(r.mutable_num, dtype=torch.float32)
    sign = torch.tensor(np.where(t == 1, 1.0, -1.0), dtype=torch.float32)
    first = torch.tensor(np.tile(np.arange(k) == 0, n))
    nnum = len(space.numeric)
    # numeric offsets in MAD units; the first CF of each query starts at the query, the others nearby
    noise = torch.randn(B, nnum, generator=gen) * 0.5 * mut_num
    noise[first] = 0.0
    u = noise.clone().requires_grad_(True)
    thetas, cat_mask, c0_t = [], [], []
    for g, levels in enumerate(space.levels):
        oh = torch.zeros(B, len(levels))
        known = c0[:, g] >= 0
        oh[torch.tensor(np.nonzero(known)[0]), torch.tensor(c0[known, g])] = 1.0
        th = oh * 3.0
        if r.mutable_cat[g]:
            th = th + torch.randn(B, len(levels), generator=gen) * 0.3 * (~first).float()[:, None]
        # never move *to* the 'missing' level
        mask = torch.zeros(len(levels))
        if MISSING_LEVEL in levels:
            mask[levels.index(MISSING_LEVEL)] = -1e4
        cat_mask.append(mask[None, :] * (1 - oh))
        thetas.append(th.requires_grad_(bool(r.mutable_cat[g])))
        c0_t.append(oh)
    params = [u] + [th for g, th in enumerate(thetas) if r.mutable_cat[g]]
    # plain Adam written out: torch.optim imports torch._dynamo on first use (7 s on a shared CPU)
    m1 = [torch.zeros_like(q) for q in params]
    m2 = [torch.zeros_like(q) for q in params]
    lam = torch.full((B,), 1.0)
    # the j-th counterfactual of a query weighs sparsity sparsity_spread**j times more: one close, one sparse
    sp_w = torch.tensor(np.tile(sparsity_weight * sparsity_spread ** np.arange(k), n), dtype=torch.float32)
    # one concatenation + one column gather builds the network's input in its own column order
    order = np.concatenate([space.num_idx] + list(space.cat_idx)) if space.cat_idx else space.num_idx
    perm = torch.tensor(np.argsort(order))
    mean_s, inv_scale = mean / scale, 1.0 / scale

    def assemble(xn, cats):
        parts = ([xn * inv_scale - mean_s] if nnum else []) + list(cats)
        return torch.cat(parts, dim=1).index_select(1, perm)

    best_num, best_codes = x0n.copy(), c0.copy()
    best_cost = np.full(B, np.inf)
    check_every = 10
    stalled = 0
    for step in range(1, steps + 1):
        xn = x0t + u * mad
        probs = []
        for g, th in enumerate(thetas):
            if r.mutable_cat[g]:
                probs.append(torch.softmax(th + cat_mask[g], dim=1))
            else:
                probs.append(c0_t[g])
        logits = module(assemble(xn, probs))
        margin = (logits[:, 1] - logits[:, 0]) * sign
        valid_loss = torch.relu(kappa - margin)
        prox = (u.abs() * mut_num).sum(1)
        cat_change = torch.zeros(B)
        for g, p in enumerate(probs):
            if r.mutable_cat[g]:
                cat_change = cat_change + (1 - (p * c0_t[g]).sum(1))
        sparsity = torch.tanh(u.abs() / 0.1).mul(mut_num).sum(1)
        loss = lam * valid_loss + prox + cat_change + sp_w * sparsity
        if k > 1 and diversity_weight > 0:
            emb = torch.cat([u] + [0.5 * p for p in probs], dim=1).view(n, k, -1)
            d = (emb[:, :, None, :] - emb[:, None, :, :]).abs().sum(-1).clamp(max=2.0)  # cdist(p=1)'s backward is slow
            div = d.sum(dim=(1, 2)) / (k * (k - 1))
            loss = loss - diversity_weight * div.repeat_interleave(k) / k
        grads = torch.autograd.grad(loss.sum(), params)
        with torch.no_grad():
            b1, b2 = 1 - 0.9 ** step, 1 - 0.999 ** step
            for q, g_, a, b in zip(params, grads, m1, m2, strict=True):
                a.mul_(0.9).add_(g_, alpha=0.1)
                b.mul_(0.999).addcmul_(g_, g_, value=0.001)
                q.sub_(lr * (a / b1) / ((b / b2).sqrt() + 1e-8))
        with torch.no_grad():  # project numeric values onto their bounds
            x = torch.minimum(torch.maximum(x0t + u * mad, Lt), Ut)
            u.copy_((x - x0t) / mad)
        if step % check_every == 0 or step == steps:
            with torch.no_grad():
                xn_np = (x0t + u * mad).numpy().astype(np.float64)
                xn_np = _round_away(xn_np, x0n, r.integer, L, U)
                codes = c0.copy()
                for g, th in enumerate(thetas):
                    if r.mutable_cat[g]:
                        codes[:, g] = (th + cat_mask[g]).argmax(1).numpy()
                Zd = torch.tensor(space.to_matrix(xn_np, codes))
                lg = module(Zd)
                ok = (((lg[:, 1] - lg[:, 0]) * sign) > 0).numpy()
                cost = space.cost(x0n, c0, xn_np, codes) + changed_penalty * space.n_changed(x0n, c0, xn_np, codes)
                better = ok & (cost < best_cost - 1e-9)
                best_num[better], best_codes[better], best_cost[better] = xn_np[better], codes[better], cost[better]
                stalled = 0 if better.mean() > 0.005 else stalled + 1
                lam = torch.where(torch.tensor(ok), lam, (lam * 2.0).clamp(max=1e4))
            if progress is not None:
                progress(0.8 * step / steps, f"Gradient search: step {step}/{steps}")
            if step >= 60 and np.isfinite(best_cost).mean() > 0.995 and stalled >= 2:
                break
    found = np.isfinite(best_cost)
    return best_num, best_codes, found


def _random_pool(space: CFSpace, r: _Resolved, num0, codes0, target, *, n_candidates, seed, progress=None,
                 max_changes=(2, 4, None)):
    """Model-agnostic candidates: change a random 1..m allowed features to values seen in training rows, keep
    those that flip the model, make them sparse.  Rounds with a larger ``m`` run only for queries still without
    one.  Returns (num, codes, query index) of the valid candidates."""
    rng = np.random.default_rng(seed)
    n = len(num0)
    nnum = len(space.numeric)
    mutable = np.concatenate([r.mutable_num, r.mutable_cat])
    allowed = np.nonzero(mutable)[0]
    pools_num, pools_codes, pools_q = [], [], []
    P = int(n_candidates)
    have = np.zeros(n, dtype=bool)
    for rounds, max_change in enumerate(max_changes):
        todo = np.nonzero(~have)[0] if rounds else np.arange(n)
        if len(todo) == 0:
            break
        q = np.repeat(todo, P)
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
            else:
                g = f - nnum
                freq = space.level_freq[g].copy()
                lv = space.levels[g]
                if MISSING_LEVEL in lv:
                    freq[lv.index(MISSING_LEVEL)] = 0
                freq = freq / freq.sum() if freq.sum() > 0 else np.full(len(lv), 1 / len(lv))
                cc[rows, g] = rng.choice(len(lv), size=len(rows), p=freq)
        cn = _round_away(cn, num0[q], r.integer, L, U)
        ok = (space.proba(cn, cc) > 0.5) == (target[q] == 1)
        pools_num.append(cn[ok])
        pools_codes.append(cc[ok])
        pools_q.append(q[ok])
        have[q[ok]] = True
        if progress is not None:
            progress(0.3 + 0.2 * rounds, f"Random search: round {rounds + 1}")
    pn, pc, pq = np.concatenate(pools_num), np.concatenate(pools_codes), np.concatenate(pools_q)
    if len(pq):
        pn, pc = _sparsify(space, r, num0[pq], codes0[pq], pn, pc, target[pq])
    return pn, pc, pq


def _one_feature_moves(space: CFSpace, r: _Resolved, num0, codes0, target, *, skip=None, grid: int = 24,
                       refine: int = 8, keep_levels: int = 3, max_levels: int = 64):
    """The sparsest counterfactuals there are: for every query and every feature it may change, the
    change of that feature *alone* that flips the model, if one exists.

    Numeric features try training quantiles inside the allowed range on each side of the query; the
    nearest one that flips is bisected back towards the query (integers rounded away from it).
    Categorical features try every other level (the ``max_levels`` most frequent of a high-cardinality
    column; the ``keep_levels`` surest flips are kept).  ``skip`` (n, features) masks features a query must
    not touch.  Returns (num, codes, query index) of the flips, and per query and feature the best
    P(desired class) seen (what the greedy second step follows)."""
    n, nnum, ncat = len(num0), len(space.numeric), len(space.categorical)
    want = (target == 1)
    out_n, out_c, out_q = [], [], []
    gain = np.full((n, nnum + ncat), -np.inf)
    best_val = np.zeros((n, nnum + ncat))
    L, U = _bounds(r, num0)
    allowed = np.concatenate([r.mutable_num, r.mutable_cat])
    skip = np.zeros((n, nnum + ncat), dtype=bool) if skip is None else skip

    def p_want(nn, cc, q):
        p = space.proba(nn, cc)
        return np.where(want[q], p, 1 - p)

    for j in np.nonzero(r.mutable_num)[0]:
        rows = np.nonzero(~skip[:, j])[0]
        if len(rows) == 0:
            continue
        qs = np.unique(np.quantile(space.train_num[:, j], np.linspace(0, 1, grid + 1)))
        G = len(qs)
        vals = np.clip(np.broadcast_to(qs, (len(rows), G)), L[rows, j, None], U[rows, j, None])
        vals = _round_away(vals, num0[rows, j, None], np.full((len(rows), G), r.integer[j]), L[rows, j, None],
                           U[rows, j, None])
        cand_n = np.repeat(num0[rows], G, axis=0)
        cand_n[:, j] = vals.ravel()
        q = np.repeat(rows, G)
        pw = p_want(cand_n, np.repeat(codes0[rows], G, axis=0), q).reshape(len(rows), G)
        moved = ~np.isclose(vals, num0[rows, j, None], rtol=0, atol=1e-9)
        pw = np.where(moved, pw, -np.inf)
        top = pw.argmax(axis=1)
        gain[rows, j] = pw[np.arange(len(rows)), top]
        best_val[rows, j] = vals[np.arange(len(rows)), top]
        flips = pw > 0.5
        dist = np.where(flips, np.abs(vals - num0[rows, j, None]), np.inf)
        for side in (1, -1):  # the nearest flip above the query and the nearest below it
            d = np.where(np.sign(vals - num0[rows, j, None]) == side, dist, np.inf)
            pick = d.argmin(axis=1)
            has = np.isfinite(d[np.arange(len(rows)), pick])
            if not has.any():
                continue
            qq = rows[has]
            x0 = num0[qq, j]
            good = vals[has, pick[has]]  # flips
            bad = x0.copy()  # the query itself does not
            # whole-number features bisect down to one unit: one unit less would not flip the decision
            iters = int(np.ceil(np.log2(max(np.abs(good - bad).max(), 1.0)))) + 1 if r.integer[j] else refine
            for _ in range(min(iters, 40)):
                mid = _round_away((good + bad) / 2, x0, np.full(len(qq), r.integer[j]), L[qq, j], U[qq, j])
                tn = num0[qq].copy()
                tn[:, j] = mid
                ok = p_want(tn, codes0[qq], qq) > 0.5
                good, bad = np.where(ok, mid, good), np.where(ok, bad, mid)
            tn = num0[qq].copy()
            tn[:, j] = good
            out_n.append(tn)
            out_c.append(codes0[qq].copy())
            out_q.append(qq)
    for g in np.nonzero(r.mutable_cat)[0]:
        f = nnum + g
        rows = np.nonzero(~skip[:, f])[0]
        levels = [i for i, lv in enumerate(space.levels[g]) if lv != MISSING_LEVEL]
        if len(levels) > max_levels:  # a high-cardinality column: its most frequent training levels
            levels = sorted(sorted(levels, key=lambda i: -space.level_freq[g][i])[:max_levels])
        if len(rows) == 0 or not levels:
            continue
        G = len(levels)
        cand_c = np.repeat(codes0[rows], G, axis=0)
        cand_c[:, g] = np.tile(levels, len(rows))
        q = np.repeat(rows, G)
        pw = p_want(np.repeat(num0[rows], G, axis=0), cand_c, q).reshape(len(rows), G)
        pw = np.where(np.asarray(levels)[None, :] == codes0[rows, g, None], -np.inf, pw)
        top = pw.argmax(axis=1)
        gain[rows, f] = pw[np.arange(len(rows)), top]
        best_val[rows, f] = np.asarray(levels)[top]
        # every flipping level costs the same; keep the `keep_levels` that flip most surely
        rank = (-pw).argsort(axis=1).argsort(axis=1)
        ok = ((pw > 0.5) & (rank < keep_levels)).ravel()
        out_n.append(np.repeat(num0[rows], G, axis=0)[ok])
        out_c.append(cand_c[ok])
        out_q.append(q[ok])
    if out_q:
        pn, pc, pq = np.concatenate(out_n), np.concatenate(out_c), np.concatenate(out_q)
    else:
        pn, pc, pq = np.zeros((0, nnum)), np.zeros((0, ncat), dtype=np.int64), np.zeros(0, dtype=np.int64)
    gain[:, ~allowed] = -np.inf
    return pn, pc, pq, gain, best_val


def _sparse_moves(space: CFSpace, r: _Resolved, num0, codes0, target, k: int, *, first_moves: int = 3):
    """Counterfactuals that change as few features as possible: every one-feature flip, and for queries with
    fewer than ``k`` of those, greedy two-feature ones (the ``first_moves`` single changes that raise
    P(desired class) most, each followed by every one-feature flip from there), made sparse.
    Returns (num, codes, query index) of valid counterfactuals."""
    nnum = len(space.numeric)
    pn, pc, pq, gain, best_val = _one_feature_moves(space, r, num0, codes0, target, keep_levels=k)
    pools = [(pn, pc, pq)]
    need = np.nonzero(np.bincount(pq, minlength=len(num0)) < k)[0]
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


def _select(space: CFSpace, num0, codes0, pn, pc, pq, k: int, changed_penalty: float, repeat_penalty=None):
    """Pick k distinct counterfactuals per query from a pool of valid ones: the best by
    ``cost + changed_penalty * features changed`` first, then trading that score against distance to the picks.
    A candidate that changes the same set of features as a pick (capital-gain 16,342 after capital-gain 16,650)
    also pays ``repeat_penalty`` (default: half of ``changed_penalty``), so a different way to the same decision
    wins unless it costs more than about half a changed feature extra."""
    repeat_penalty = changed_penalty / 2 if repeat_penalty is None else repeat_penalty
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
    score0 = space.cost(num0[pq], codes0[pq], pn, pc) + changed_penalty * space.n_changed(num0[pq], codes0[pq], pn, pc)
    changed = np.concatenate([~np.isclose(pn, num0[pq], rtol=0, atol=1e-9), pc != codes0[pq]], axis=1)
    order = np.argsort(pq, kind="stable")
    starts = np.searchsorted(pq[order], np.arange(n + 1))
    for i in range(n):
        idx = order[starts[i]:starts[i + 1]]
        if len(idx) == 0:
            continue
        chosen = [idx[np.argmin(score0[idx])]]
        while len(chosen) < min(k, len(idx)):
            d = np.abs(emb[idx][:, None, :] - emb[chosen][None, :, :]).sum(-1).min(axis=1)
            same_set = (changed[idx][:, None, :] == changed[chosen][None, :, :]).all(-1).any(axis=1)
            score = score0[idx] - 0.5 * np.minimum(d, 4.0) + repeat_penalty * same_set
            score[np.isin(idx, chosen)] = np.inf
            chosen.append(idx[np.argmin(score)])
        for j, c in enumerate(chosen):
            best_num[i * k + j], best_codes[i * k + j] = pn[c], pc[c]
            found[i * k + j] = True
    return best_num, best_codes, found


def _sparsify(space: CFSpace, r: _Resolved, num0, codes0, num, codes, target, shrink_iters: int = 6):
    """Revert changes that are not needed (cheapest first), then shrink numeric changes towards the query;
    every step is kept only where the model still gives the desired class."""
    num, codes = num.copy(), codes.copy()
    nnum = num.shape[1]
    want = target == 1

    def ok(nn, cc, sel=slice(None)):
        return (space.proba(nn, cc) > 0.5) == want[sel]

    contrib = np.concatenate([np.abs(num - num0) / space.mad, (codes != codes0).astype(float)], axis=1)
    changed = np.concatenate([~np.isclose(num, num0, rtol=0, atol=1e-9), codes != codes0], axis=1)
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
            cand = _round_away(num0 + delta * mid[:, None], num0, r.integer, L, U)
            good = ok(cand, codes) & moving
            hi_f = np.where(good, mid, hi_f)
            lo_f = np.where(good, lo_f, mid)
        final = _round_away(num0 + delta * hi_f[:, None], num0, r.integer, L, U)
        good = ok(final, codes)
        num = np.where(good[:, None], final, num)
    return num, codes


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
                           plausibility_rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Validity, proximity, sparsity, diversity and plausibility per query (see :class:`CounterfactualResult`)."""
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
        })
    return pd.DataFrame(rows)


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= 20:
        raise UserInputError(BAD_K.format(value=k))
    return int(k)


def find_counterfactuals(
    model,
    dataset,
    rows: pd.DataFrame,
    *,
    k: int = 3,
    constraints: Constraints | None = None,
    desired_class="opposite",
    method: str = "auto",
    steps: int = 150,
    learning_rate: float = 0.15,
    kappa: float = 0.3,
    diversity_weight: float = 0.5,
    sparsity_weight: float = 0.1,
    changed_penalty: float = 6.0,
    sparsity_spread: float = 1.0,
    n_candidates: int = 300,
    n_sparse_candidates: int = 30,
    seed: int = 0,
    on_failure: str = "raise",
    num_threads: int | None = None,
    progress: Callable[[float, str], None] | None = None,
    _lift: tuple[str, ...] = (),
) -> CounterfactualResult:
    """``k`` diverse counterfactuals for every row of ``rows`` (raw feature rows of ``dataset``).

    ``desired_class`` ``"opposite"`` flips each row's decision; 0 or 1 asks for that class and
    refuses rows that already have it.  ``method`` ``"auto"`` uses the gradient search for torch
    models and the random search otherwise.  ``on_failure="raise"`` raises
    :data:`NO_COUNTERFACTUAL` (naming the binding constraint) when a row gets none;
    ``"keep"`` returns such rows with ``valid`` all False.  ``progress(fraction, text)`` is
    called as the search goes.  ``num_threads`` ``None`` leaves torch's thread count alone (the count is
    process-wide: changing it would slow other users of a shared dashboard); a number sets it for the search
    and restores it afterwards.
    """
    import torch

    if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer))
                                    or num_threads < 1):
        raise UserInputError(f"num_threads must be None or a positive whole number; received {num_threads!r}.")
    prev = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    try:
        return _find(model, dataset, rows, k=k, constraints=constraints, desired_class=desired_class, method=method,
                     steps=steps, learning_rate=learning_rate, kappa=kappa, diversity_weight=diversity_weight,
                     sparsity_weight=sparsity_weight, changed_penalty=changed_penalty,
                     sparsity_spread=sparsity_spread, n_candidates=n_candidates,
                     n_sparse_candidates=n_sparse_candidates,
                     seed=seed, on_failure=on_failure,
                     progress=progress, _lift=_lift)
    finally:
        if num_threads is not None:
            torch.set_num_threads(prev)


def _find(model, dataset, rows, *, k, constraints, desired_class, method, steps, learning_rate, kappa,
          diversity_weight, sparsity_weight, changed_penalty, sparsity_spread, n_candidates,
          n_sparse_candidates, seed, on_failure, progress,
          _lift) -> CounterfactualResult:
    import time

    start = time.perf_counter()
    k = _check_k(k)
    if method not in METHODS:
        raise UserInputError(BAD_METHOD.format(value=method))
    if isinstance(changed_penalty, bool) or not isinstance(changed_penalty, (int, float, np.integer, np.floating)) \
            or not 0 <= float(changed_penalty) < math.inf:
        raise UserInputError(BAD_PENALTY.format(value=changed_penalty))
    if on_failure not in ("raise", "keep"):
        raise UserInputError(f"on_failure must be 'raise' or 'keep'; received {on_failure!r}.")
    if not isinstance(rows, pd.DataFrame):
        if isinstance(rows, pd.Series):
            rows = rows.to_frame().T
        else:
            raise UserInputError(f"rows must be a DataFrame of raw feature rows; received {type(rows).__name__}.")
    if len(rows) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="rows"))
    space = CFSpace(model, dataset)
    r = resolve_constraints(space, constraints, lift=_lift)
    if method == "auto":
        method = "gradient" if getattr(model.estimator, "module_", None) is not None else "random"
    if method == "gradient":
        model.torch_module()  # raises UnsupportedModelError for models without gradients
    num0, codes0 = space.encode_raw(rows)
    p0 = space.proba(num0, codes0)
    current = (p0 > 0.5).astype(np.int64)
    if isinstance(desired_class, str):
        if desired_class != "opposite":
            raise UserInputError(BAD_DESIRED.format(value=desired_class))
        target = 1 - current
    elif desired_class in (0, 1) and not isinstance(desired_class, bool):
        target = np.full(len(rows), int(desired_class))
        already = np.nonzero(current == target)[0]
        if len(already):
            shown = [str(rows.index[i]) for i in already[:5]] + (["…"] if len(already) > 5 else [])
            raise UserInputError(ALREADY_DESIRED.format(
                rows=", ".join(shown), desired=int(desired_class),
                proba=", ".join(f"{p0[i]:.2f}" for i in already[:5])))
    else:
        raise UserInputError(BAD_DESIRED.format(value=desired_class))
    if progress is not None:
        progress(0.0, f"Searching {len(rows)} row(s) × {k} counterfactuals ({method})")
    if method == "gradient":
        num, codes, found = _gradient_search(
            space, r, num0, codes0, target, k, steps=int(steps), lr=float(learning_rate), kappa=float(kappa),
            diversity_weight=float(diversity_weight), sparsity_weight=float(sparsity_weight), seed=seed,
            progress=progress, changed_penalty=float(changed_penalty), sparsity_spread=float(sparsity_spread))
        rep = np.repeat(np.arange(len(rows)), k)
        f = np.nonzero(found)[0]
        pool_num, pool_codes, pool_q = [num[f]], [codes[f]], [rep[f]]
        if len(f):  # the search's own result and its sparse version both enter the pool
            sn, sc = _sparsify(space, r, num0[rep[f]], codes0[rep[f]], num[f], codes[f], target[rep[f]])
            pool_num.append(sn)
            pool_codes.append(sc)
            pool_q.append(rep[f])
        sn, sc, sq = _sparse_moves(space, r, num0, codes0, target, k)  # one-feature flips, then greedy pairs
        pool_num.append(sn)
        pool_codes.append(sc)
        pool_q.append(sq)
        if n_sparse_candidates:  # sparse proposals: one or two features set to values seen in training rows
            rn, rc, rq = _random_pool(space, r, num0, codes0, target, n_candidates=n_sparse_candidates, seed=seed,
                                      max_changes=(2,))
            pool_num.append(rn)
            pool_codes.append(rc)
            pool_q.append(rq)
        num, codes, found = _select(space, num0, codes0, np.concatenate(pool_num), np.concatenate(pool_codes),
                                    np.concatenate(pool_q), k, changed_penalty)
    else:
        pn, pc, pq = _random_pool(space, r, num0, codes0, target, n_candidates=n_candidates, seed=seed,
                                  progress=progress)
        sn, sc, sq = _sparse_moves(space, r, num0, codes0, target, k)
        num, codes, found = _select(space, num0, codes0, np.concatenate([pn, sn]), np.concatenate([pc, sc]),
                                    np.concatenate([pq, sq]), k, changed_penalty)
    if progress is not None:
        progress(0.9, "Checking validity and measuring quality")
    rep = np.repeat(np.arange(len(rows)), k)
    p = space.proba(num, codes)
    valid = found & ((p > 0.5) == (target[rep] == 1))
    # bounds re-check: a returned counterfactual never breaks a constraint
    L, U = _bounds(r, num0[rep])
    inside = np.all((num >= L - 1e-9) & (num <= U + 1e-9), axis=1)
    inside &= np.all(np.where(r.mutable_cat[None, :], True, codes == codes0[rep]), axis=1) if len(space.categorical) \
        else True
    valid &= inside
    no_cf = np.nonzero(~valid.reshape(len(rows), k).any(axis=1))[0]
    if len(no_cf) and on_failure == "raise":
        shown = ", ".join(str(rows.index[i]) for i in no_cf[:5]) + (" …" if len(no_cf) > 5 else "")
        binding = _diagnose(model, dataset, rows.iloc[[no_cf[0]]], constraints, desired_class, method, seed) \
            if not _lift else ""
        raise UserInputError(NO_COUNTERFACTUAL.format(rows=shown, binding=binding))
    metrics = counterfactual_metrics(space, num0, codes0, num, codes, valid, target, k, seed=seed)
    cf = space.decode(num, codes, index=pd.MultiIndex.from_arrays([rep, np.tile(np.arange(k), len(rows))],
                                                                  names=["query", "cf"]))
    cost = space.cost(num0[rep], codes0[rep], num, codes)
    nch = space.n_changed(num0[rep], codes0[rep], num, codes)
    cf["valid"] = valid
    cf["proba"] = p
    cf["cost"] = np.where(valid, cost, np.nan)
    cf["n_changed"] = nch
    if progress is not None:
        progress(1.0, "Done")
    return CounterfactualResult(
        queries=rows.copy(), counterfactuals=cf, valid=valid.reshape(len(rows), k),
        proba=p.reshape(len(rows), k), cost=np.where(valid, cost, np.nan).reshape(len(rows), k),
        n_changed=nch.reshape(len(rows), k), desired_class=target, query_proba=p0, metrics=metrics,
        method=method, seconds=time.perf_counter() - start,
        params={"k": k, "constraints": (constraints or Constraints()).describe(), "desired_class": desired_class,
                "steps": steps, "learning_rate": learning_rate, "kappa": kappa, "diversity_weight": diversity_weight,
                "sparsity_weight": sparsity_weight, "n_candidates": n_candidates,
                "n_sparse_candidates": n_sparse_candidates, "changed_penalty": changed_penalty, "seed": seed,
                "immutable": r.immutable, "mad": dict(zip(space.numeric, space.mad.tolist(), strict=True))},
    )


_LIFT_NAMES = {
    "ranges": "per-feature ranges",
    "directions": "per-feature directions (e.g. age only increases)",
    "features": "set of immutable / allowed-to-vary features",
}


def _diagnose(model, dataset, row, constraints, desired_class, method, seed) -> str:
    """Which constraint binds: lift each alone, then all, and see whether a counterfactual appears."""
    for lift in ("ranges", "directions", "features"):
        try:
            res = find_counterfactuals(model, dataset, row, k=1, constraints=constraints, desired_class=desired_class,
                                       method=method, seed=seed, on_failure="keep", _lift=(lift,))
        except UserInputError:
            continue
        if res.valid.any():
            cf = res.for_query(0)
            changed = [c for c in dataset.schema.features
                       if str(cf.iloc[0][c]) != str(row.iloc[0][c])]
            return BINDING_ONE.format(name=_LIFT_NAMES[lift], detail="it would change " + ", ".join(changed))
    try:
        res = find_counterfactuals(model, dataset, row, k=1, constraints=constraints, desired_class=desired_class,
                                   method=method, seed=seed, on_failure="keep",
                                   _lift=("ranges", "directions", "features"))
        if res.valid.any():
            return BINDING_ALL
    except UserInputError:
        pass
    return BINDING_NONE
