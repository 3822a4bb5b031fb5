"""The problem every counterfactual search shares: raw rows <-> the model's inputs, training statistics, costs,
and the user's constraints resolved into per-feature arrays and per-row bounds.

Costs are the same everywhere: ``sum over numeric |x - c| / MAD + number of changed categoricals`` (MAD from the
training split; a feature whose MAD is 0, e.g. capital-gain, uses its mean absolute deviation from the median
instead).  A column that only restates another (education-num, which follows education; see
:meth:`CFSpace.count_once`) is neither costed nor counted as a changed feature: the change is its driver's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.explain.counterfactuals.messages import (
    ALL_IMMUTABLE,
    BAD_DIRECTION,
    BAD_RANGE,
    NO_PREPROCESSOR,
    NOT_NUMERIC_CONSTRAINT,
)
from dlxai.explain.counterfactuals.world import World
from dlxai.explain.groups import repeat_groups
from dlxai.validation import as_levels

DIRECTIONS = ("increase", "decrease", "any")
MISSING_LEVEL = "missing"


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
        self.restated = np.zeros(len(self.features), dtype=bool)  # see count_once
        self.groups = None  # see holding

    @contextmanager
    def holding(self, groups: pd.DataFrame | None):
        """Within the block every row :meth:`proba` scores is scored with ``groups`` (one row: the groups of the
        query the candidates stand for), for a model that reads group columns at prediction (ThresholdOptimizer):
        a counterfactual does not change a person's group."""
        before, self.groups = self.groups, groups
        try:
            yield self
        finally:
            self.groups = before

    def count_once(self, dependents) -> None:
        """Leave the features at positions ``dependents`` (which follow a driver) out of costs and counts."""
        self.restated = np.zeros(len(self.features), dtype=bool)
        self.restated[list(dependents)] = True

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
            s = as_levels(X[c])
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
        # in the schema's order; a model that reads only some features (declared columns) gives only those
        return pd.DataFrame(out, index=index)[[c for c in self.dataset.schema.features if c in out]]

    def inverse_transform(self, Z: np.ndarray) -> pd.DataFrame:
        """Raw rows from preprocessed rows: ``z * scale + mean`` and the argmax of each one-hot group."""
        to_parts = getattr(self.prep, "parts_from_matrix", None)  # a contract whose matrix is not one-hot (raw columns)
        if to_parts is not None:
            return self.decode(*to_parts(Z))
        Z = np.asarray(Z, dtype=np.float64)
        num = Z[:, self.num_idx] * self.scale + self.mean if len(self.numeric) else np.zeros((len(Z), 0))
        codes = np.stack([Z[:, idx].argmax(axis=1) for idx in self.cat_idx], axis=1) if self.cat_idx else \
            np.zeros((len(Z), 0), dtype=np.int64)
        return self.decode(num, codes)

    def to_matrix(self, num: np.ndarray, codes: np.ndarray) -> np.ndarray:
        from_parts = getattr(self.prep, "matrix_from_parts", None)  # a contract whose matrix is not one-hot (raw columns)
        if from_parts is not None:
            return from_parts(num, codes)
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
            Z = self.to_matrix(num[i:i + 50_000], codes[i:i + 50_000])
            if self.groups is None:
                p = np.asarray(est.predict_proba(Z), dtype=np.float64)
            else:
                sf = repeat_groups(self.groups, np.zeros(len(Z), dtype=np.int64))
                p = np.asarray(est.predict_proba(Z, sensitive_features=sf), dtype=np.float64)
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
        changed = codes != codes0
        if self.restated.any():
            c, changed = self._counted(c, changed)
        return c.sum(axis=1) + changed.sum(axis=1)

    def n_changed(self, num0, codes0, num, codes) -> np.ndarray:
        moved, changed = ~np.isclose(num, num0, rtol=0, atol=1e-9), codes != codes0
        if self.restated.any():
            moved, changed = self._counted(moved, changed)
        return moved.sum(axis=1) + changed.sum(axis=1)

    def _counted(self, num_part, cat_part):
        nnum = len(self.numeric)
        return num_part * ~self.restated[:nnum], cat_part & ~self.restated[nnum:]


@dataclass
class _Resolved:
    mutable_num: np.ndarray  # bool per numeric feature: the user lets it change
    mutable_cat: np.ndarray  # bool per categorical feature
    lo: np.ndarray
    hi: np.ndarray
    direction: np.ndarray  # +1 increase only, -1 decrease only, 0 any
    integer: np.ndarray  # bool per numeric feature
    immutable: list
    vary: list
    world: World | None = None  # which values go together; None: features are searched as independent
    moves_num: np.ndarray = field(default=None)  # what searches change directly: mutable, not a dependent
    moves_cat: np.ndarray = field(default=None)

    def __post_init__(self):
        self.moves_num, self.moves_cat = self.mutable_num.copy(), self.mutable_cat.copy()
        if self.world is None:
            return
        mutable = np.concatenate([self.mutable_num, self.mutable_cat])
        moves = mutable.copy()
        for e, d in self.world.driver_of.items():
            moves[e] = False  # a dependent follows its driver
            moves[d] &= bool(mutable[e])  # a pair that may not change as a whole is held
        nnum = len(self.mutable_num)
        self.moves_num, self.moves_cat = moves[:nnum], moves[nnum:]

    @property
    def fixed(self) -> np.ndarray:
        """Per feature (numeric then categorical): it may not change."""
        return ~np.concatenate([self.mutable_num, self.mutable_cat])

    def follow(self, num0, codes0, num, codes):
        """Dependents set from their drivers (see :meth:`World.derive`); unchanged without a world."""
        if self.world is None or not self.world.driver_of:
            return num, codes
        L, U = _bounds(self, num0)
        return self.world.derive(num0, codes0, num, codes, L, U)

    def plausible(self, num0, codes0, num, codes) -> np.ndarray:
        """Per row: its strongly associated pairs of values occur in the training rows (all True without a
        world)."""
        return np.ones(len(num), dtype=bool) if self.world is None else self.world.plausible(num0, codes0, num, codes)

    def level_masks(self, num0, codes0) -> list:
        """Per categorical feature, ``None`` or the (rows, levels) each row may move to (see
        :meth:`World.level_masks`)."""
        if self.world is None:
            return [None] * len(self.mutable_cat)
        return self.world.level_masks(self.fixed, num0, codes0)


def resolve_constraints(space: CFSpace, c: Constraints | None, *, lift: tuple[str, ...] = (),
                        world: World | None = None) -> _Resolved:
    """Validate ``c`` against the dataset and turn it into per-feature arrays.

    ``lift`` names constraints to drop (``"ranges"``, ``"directions"``, ``"features"``): used
    to find which one binds when no counterfactual exists.  ``world`` (see :mod:`.world`) makes the searches
    keep strongly associated values together; ``None`` searches the features as independent.
    """
    c = c or Constraints()
    immutable, vary, mutable = _mutability(space, c, lift)
    lo, hi = _ranges(space, c, lift)
    direction = _directions(space, c, lift)
    return _Resolved(
        mutable_num=np.array([mutable[f] for f in space.numeric], dtype=bool),
        mutable_cat=np.array([mutable[f] for f in space.categorical], dtype=bool),
        lo=lo, hi=hi, direction=direction, integer=_integers(space, c), immutable=immutable, vary=vary,
        world=world,
    )


def _check_names(space: CFSpace, names, what: str) -> list:
    out = []
    for n in names:
        if n not in space.features:
            raise UserInputError(
                f"{what} names {n!r}, which is not a model feature. Features: {space.features}."
            )
        out.append(n)
    return out


def _mutability(space: CFSpace, c: Constraints, lift) -> tuple[list, list, dict]:
    feats = space.features
    if c.immutable is None:
        immutable = [s for s in space.dataset.schema.sensitive if s in feats]
    else:
        immutable = _check_names(space, c.immutable, "The immutable list")
    vary = list(feats) if c.vary is None else _check_names(space, c.vary, "The list of features allowed to vary")
    if "features" in lift:
        immutable, vary = [], list(feats)
    mutable = {f: (f in vary and f not in immutable) for f in feats}
    if not any(mutable.values()):
        suggest = [f for f in feats if f not in space.dataset.schema.sensitive][:3] or feats[:3]
        raise UserInputError(ALL_IMMUTABLE.format(immutable=immutable, vary=vary, suggest=suggest))
    return immutable, vary, mutable


def _ranges(space: CFSpace, c: Constraints, lift) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = space.lo.astype(np.float64).copy(), space.hi.astype(np.float64).copy()
    for f, r in dict(c.ranges).items():
        _check_names(space, [f], "A range")
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
    return lo, hi


def _directions(space: CFSpace, c: Constraints, lift) -> np.ndarray:
    dirs = c.directions if c.directions is not None else {f: "increase" for f in space.numeric if f.lower() == "age"}
    direction = np.zeros(len(space.numeric))
    for f, d in dict(dirs).items():
        _check_names(space, [f], "A direction")
        if f not in space.numeric:
            raise UserInputError(NOT_NUMERIC_CONSTRAINT.format(what="Directions", feature=f, numeric=space.numeric))
        if d not in DIRECTIONS:
            raise UserInputError(BAD_DIRECTION.format(feature=f, value=d))
        direction[space.numeric.index(f)] = {"increase": 1, "decrease": -1, "any": 0}[d]
    if "directions" in lift:
        direction[:] = 0
    return direction


def _integers(space: CFSpace, c: Constraints) -> np.ndarray:
    if c.integer is None:
        return space.whole.copy()
    integer = np.zeros(len(space.numeric), dtype=bool)
    for f in _check_names(space, c.integer, "The integer list"):
        if f in space.numeric:
            integer[space.numeric.index(f)] = True
    return integer


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

