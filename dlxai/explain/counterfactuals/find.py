"""The entry point: validate the request, run a search, pick ``k`` per row, re-check them, measure them, and say
which constraint binds when a row gets none."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import UserInputError
from dlxai.explain.counterfactuals.gradient import _gradient_search
from dlxai.explain.counterfactuals.messages import (
    ALREADY_DESIRED,
    BAD_ASSOCIATION,
    BAD_DESIRED,
    BAD_K,
    BAD_METHOD,
    BAD_ON_FAILURE,
    BAD_OPTIONS,
    BAD_PENALTY,
    BAD_PLAUSIBILITY,
    BAD_SUPPORT,
    BAD_THREADS,
    BINDING_ALL,
    BINDING_NONE,
    BINDING_ONE,
    NO_COUNTERFACTUAL,
)
from dlxai.explain.counterfactuals.result import CounterfactualResult
from dlxai.explain.counterfactuals.searches import _random_pool, _sparse_moves, _sparsify
from dlxai.explain.counterfactuals.select import _select, counterfactual_metrics
from dlxai.explain.counterfactuals.space import CFSpace, Constraints, _bounds, _Resolved, resolve_constraints
from dlxai.explain.counterfactuals.world import ASSOCIATION_THRESHOLD, World
from dlxai.explain.groups import group_columns, group_parts, held_groups, repeat_groups

METHODS = ("auto", "gradient", "random")
PLAUSIBILITY = ("prefer", "require", "off")


@dataclass(frozen=True)
class SearchOptions:
    """How the search runs; every field is checked when the options are made.

    ``desired_class`` ``"opposite"`` flips each row's decision; 0 or 1 asks for that class and refuses rows that
    already have it.  ``method`` ``"auto"`` uses the gradient search for torch models and the random search
    otherwise.  ``steps``, ``learning_rate``, ``kappa`` (the logit margin the hinge asks for),
    ``diversity_weight``, ``sparsity_weight`` and ``sparsity_spread`` (the j-th counterfactual of a row weighs
    sparsity ``sparsity_spread ** j`` times more) tune the gradient search, whose pool also gets
    ``n_sparse_candidates`` random one- or two-feature proposals per row (0: none); ``n_candidates`` is the
    random search's proposals per row and round.  ``changed_penalty`` is the cost, in MADs, of each changed
    feature when picking among valid counterfactuals: higher gives fewer changed features, lower smaller changes.
    ``on_failure="raise"`` raises :data:`NO_COUNTERFACTUAL` (naming the binding constraint) when a row gets none;
    ``"keep"`` returns such rows with ``valid`` all False.  ``num_threads`` ``None`` leaves torch's thread count
    alone (the count is process-wide: changing it would slow other users of a shared dashboard); a number sets it
    for the search and restores it afterwards.

    ``plausibility`` keeps counterfactuals inside what the training rows show (see
    :mod:`~dlxai.explain.counterfactuals.world`): features whose association on the training rows is at least
    ``association_threshold`` must take values seen together in at least ``min_support`` training rows (``None``:
    5, fewer for small data), a feature that encodes another (education-num for education) moves with it, and a
    feature tied to an immutable one keeps to the levels seen with the row's value.  ``"prefer"`` returns an
    implausible counterfactual (flagged in the ``plausible`` column) only for a row without a plausible one;
    ``"require"`` never; ``"off"`` searches the features as independent and only flags.
    """

    desired_class: str | int = "opposite"
    method: str = "auto"
    steps: int = 150
    learning_rate: float = 0.15
    kappa: float = 0.3
    diversity_weight: float = 0.5
    sparsity_weight: float = 0.1
    changed_penalty: float = 6.0
    sparsity_spread: float = 1.0
    n_candidates: int = 300
    n_sparse_candidates: int = 30
    on_failure: str = "raise"
    num_threads: int | None = None
    plausibility: str = "prefer"
    association_threshold: float = ASSOCIATION_THRESHOLD
    min_support: int | None = None

    def __post_init__(self):
        t = self.num_threads
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1):
            raise UserInputError(BAD_THREADS.format(value=t))
        if self.method not in METHODS:
            raise UserInputError(BAD_METHOD.format(value=self.method))
        p = self.changed_penalty
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= float(p) < math.inf:
            raise UserInputError(BAD_PENALTY.format(value=p))
        if self.on_failure not in ("raise", "keep"):
            raise UserInputError(BAD_ON_FAILURE.format(value=self.on_failure))
        if self.plausibility not in PLAUSIBILITY:
            raise UserInputError(BAD_PLAUSIBILITY.format(value=self.plausibility))
        a = self.association_threshold
        if isinstance(a, bool) or not isinstance(a, (int, float, np.integer, np.floating)) or not 0 < float(a) <= 1:
            raise UserInputError(BAD_ASSOCIATION.format(value=a))
        s = self.min_support
        if s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1):
            raise UserInputError(BAD_SUPPORT.format(value=s))
        d = self.desired_class
        known = d == "opposite" if isinstance(d, str) else (not isinstance(d, bool) and d in (0, 1))
        if not known:
            raise UserInputError(BAD_DESIRED.format(value=d))


def find_counterfactuals(
    model,
    dataset,
    rows: pd.DataFrame,
    *,
    k: int = 3,
    constraints: Constraints | None = None,
    options: SearchOptions | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> CounterfactualResult:
    """``k`` diverse counterfactuals for every row of ``rows`` (raw feature rows of ``dataset``).

    ``constraints`` say what may change (default: everything but the sensitive attributes, age only upwards);
    ``options`` how the search runs (:class:`SearchOptions`; default: its defaults).  ``progress(fraction, text)``
    is called as the search goes.
    """
    import torch

    options = SearchOptions() if options is None else options
    if not isinstance(options, SearchOptions):
        raise UserInputError(BAD_OPTIONS.format(kind=type(options).__name__))
    prev = torch.get_num_threads()
    if options.num_threads is not None:
        torch.set_num_threads(int(options.num_threads))
    try:
        return _find(model, dataset, rows, k=k, constraints=constraints, options=options, seed=seed,
                     progress=progress)
    finally:
        if options.num_threads is not None:
            torch.set_num_threads(prev)


def _find(model, dataset, rows, *, k, constraints, options: SearchOptions, seed, progress,
          lift: tuple[str, ...] = ()) -> CounterfactualResult:
    """The search itself; ``lift`` names constraints to drop (see :func:`resolve_constraints`)."""
    start = time.perf_counter()
    k = _check_k(k)
    rows = _check_rows(rows)
    space = CFSpace(model, dataset)
    world = World(space, options.association_threshold, options.min_support)
    r = resolve_constraints(space, constraints, lift=lift, world=None if options.plausibility == "off" else world)
    if r.world is not None:
        space.count_once(world.driver_of)
    method = options.method
    if method == "auto":
        method = "gradient" if getattr(model.estimator, "module_", None) is not None else "random"
    if method == "gradient":
        model.torch_module()  # raises UnsupportedModelError for models without gradients
    num0, codes0 = space.encode_raw(rows)
    parts = _group_parts(model, rows)
    p0 = _proba(space, parts, num0, codes0, 1)
    target = _target(rows, p0, options.desired_class)
    if progress is not None:
        progress(0.0, f"Searching {len(rows)} row(s) × {k} counterfactuals ({method})")
    search = _gradient_candidates if method == "gradient" else _random_candidates
    if len(parts) == 1:
        with space.holding(parts[0][1]):
            num, codes, found = search(space, r, num0, codes0, target, k, options, seed, progress)
    else:
        num, codes, found = _search_by_group(search, space, r, parts, num0, codes0, target, k, options, seed,
                                             progress)
    if progress is not None:
        progress(0.9, "Checking validity and measuring quality")
    p, valid = _recheck(space, r, parts, num0, codes0, num, codes, found, target, k)
    no_cf = np.nonzero(~valid.reshape(len(rows), k).any(axis=1))[0]
    if len(no_cf) and options.on_failure == "raise":
        shown = ", ".join(str(rows.index[i]) for i in no_cf[:5]) + (" …" if len(no_cf) > 5 else "")
        binding = _diagnose(model, dataset, rows.iloc[[no_cf[0]]], constraints, options.desired_class, method,
                            seed) if not lift else ""
        raise UserInputError(NO_COUNTERFACTUAL.format(rows=shown, binding=binding))
    rep = np.repeat(np.arange(len(rows)), k)
    plausible = valid & world.plausible(num0[rep], codes0[rep], num, codes)
    metrics = counterfactual_metrics(space, num0, codes0, num, codes, valid, target, k, seed=seed,
                                     plausible=plausible)
    cf = space.decode(num, codes, index=pd.MultiIndex.from_arrays([rep, np.tile(np.arange(k), len(rows))],
                                                                  names=["query", "cf"]))
    cost = space.cost(num0[rep], codes0[rep], num, codes)
    nch = space.n_changed(num0[rep], codes0[rep], num, codes)
    cf["valid"] = valid
    cf["proba"] = p
    cf["cost"] = np.where(valid, cost, np.nan)
    cf["n_changed"] = nch
    cf["plausible"] = plausible
    if progress is not None:
        progress(1.0, "Done")
    return CounterfactualResult(
        queries=rows.copy(), counterfactuals=cf, valid=valid.reshape(len(rows), k),
        proba=p.reshape(len(rows), k), cost=np.where(valid, cost, np.nan).reshape(len(rows), k),
        n_changed=nch.reshape(len(rows), k), desired_class=target, query_proba=p0, metrics=metrics,
        method=method, seconds=time.perf_counter() - start,
        params={**_params(space, r, k, constraints, options, seed), "world": world.describe(),
                **({"groups_held": group_columns(model)} if len(parts) > 1 or parts[0][1] is not None else {})},
    )


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= 20:
        raise UserInputError(BAD_K.format(value=k))
    return int(k)


def _check_rows(rows) -> pd.DataFrame:
    if not isinstance(rows, pd.DataFrame):
        if isinstance(rows, pd.Series):
            rows = rows.to_frame().T
        else:
            raise UserInputError(f"rows must be a DataFrame of raw feature rows; received {type(rows).__name__}.")
    if len(rows) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="rows"))
    return rows


def _target(rows: pd.DataFrame, p0: np.ndarray, desired_class) -> np.ndarray:
    """The class each row should get; asking for the class a row already has is refused."""
    current = (p0 > 0.5).astype(np.int64)
    if isinstance(desired_class, str):  # "opposite"
        return 1 - current
    target = np.full(len(rows), int(desired_class))
    already = np.nonzero(current == target)[0]
    if len(already):
        shown = [str(rows.index[i]) for i in already[:5]] + (["…"] if len(already) > 5 else [])
        raise UserInputError(ALREADY_DESIRED.format(
            rows=", ".join(shown), desired=int(desired_class),
            proba=", ".join(f"{p0[i]:.2f}" for i in already[:5])))
    return target


def _gradient_candidates(space: CFSpace, r: _Resolved, num0, codes0, target, k: int, o: SearchOptions, seed,
                         progress):
    """The gradient search's own results and their sparse versions, the one- and two-feature flips, and sparse
    random proposals, pooled; ``k`` picked per row."""
    num, codes, found = _gradient_search(
        space, r, num0, codes0, target, k, steps=int(o.steps), lr=float(o.learning_rate), kappa=float(o.kappa),
        diversity_weight=float(o.diversity_weight), sparsity_weight=float(o.sparsity_weight), seed=seed,
        progress=progress, changed_penalty=float(o.changed_penalty), sparsity_spread=float(o.sparsity_spread))
    rep = np.repeat(np.arange(len(num0)), k)
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
    if o.n_sparse_candidates:  # sparse proposals: one or two features set to values seen in training rows
        rn, rc, rq = _random_pool(space, r, num0, codes0, target, n_candidates=o.n_sparse_candidates, seed=seed,
                                  max_changes=(2,))
        pool_num.append(rn)
        pool_codes.append(rc)
        pool_q.append(rq)
    return _select(space, r, num0, codes0, np.concatenate(pool_num), np.concatenate(pool_codes),
                   np.concatenate(pool_q), k, o.changed_penalty, o.plausibility)


def _random_candidates(space: CFSpace, r: _Resolved, num0, codes0, target, k: int, o: SearchOptions, seed,
                       progress):
    """Random proposals and the one- and two-feature flips, pooled; ``k`` picked per row."""
    pn, pc, pq = _random_pool(space, r, num0, codes0, target, n_candidates=o.n_candidates, seed=seed,
                              progress=progress)
    sn, sc, sq = _sparse_moves(space, r, num0, codes0, target, k)
    return _select(space, r, num0, codes0, np.concatenate([pn, sn]), np.concatenate([pc, sc]),
                   np.concatenate([pq, sq]), k, o.changed_penalty, o.plausibility)


def _group_parts(model, rows: pd.DataFrame) -> list[tuple]:
    """(positions of queries, the groups their candidates are scored with): every query at once (None) for a model
    that reads no group columns; else one part per combination of groups, held for every candidate of those
    queries (a counterfactual does not change a person's group)."""
    held = held_groups(model, rows)
    if held is None:
        return [(slice(None), None)]
    return [(pos, repeat_groups(held, pos[:1])) for pos in group_parts(held)]


def _picks(pos, k: int):
    """The positions of the ``k`` picks of each query at ``pos`` among all queries' picks."""
    return pos if isinstance(pos, slice) else (np.asarray(pos)[:, None] * k + np.arange(k)[None, :]).ravel()


def _proba(space: CFSpace, parts, num, codes, k: int) -> np.ndarray:
    """P(favourable) of rows held ``k`` per query (the queries themselves: ``k`` = 1), each part with its groups."""
    p = np.empty(len(num), dtype=np.float64)
    for pos, groups in parts:
        at = _picks(pos, k)
        with space.holding(groups):
            p[at] = space.proba(num[at], codes[at])
    return p


def _search_by_group(search, space: CFSpace, r: _Resolved, parts, num0, codes0, target, k: int, o: SearchOptions,
                     seed, progress):
    """``search`` run part by part (queries sharing their groups, held while it scores their candidates), its
    picks put back in query order."""
    n = len(num0)
    num = np.empty((n * k, num0.shape[1]), dtype=num0.dtype)
    codes = np.empty((n * k, codes0.shape[1]), dtype=codes0.dtype)
    found = np.zeros(n * k, dtype=bool)
    for j, (pos, groups) in enumerate(parts):
        step = None if progress is None else (
            lambda f, text, j=j: progress(0.9 * (j + min(float(f), 0.9) / 0.9) / len(parts), text))
        with space.holding(groups):
            pn, pc, pf = search(space, r, num0[pos], codes0[pos], target[pos], k, o, seed, step)
        at = _picks(pos, k)
        num[at], codes[at], found[at] = pn, pc, pf
    return num, codes, found


def _recheck(space: CFSpace, r: _Resolved, parts, num0, codes0, num, codes, found, target, k: int):
    """P(favourable) of every pick through the model's own ``predict_proba`` (with its query's groups), and whether
    it is valid: it flips the decision and breaks no constraint."""
    rep = np.repeat(np.arange(len(num0)), k)
    p = _proba(space, parts, num, codes, k)
    valid = found & ((p > 0.5) == (target[rep] == 1))
    L, U = _bounds(r, num0[rep])
    inside = np.all((num >= L - 1e-9) & (num <= U + 1e-9), axis=1)
    inside &= np.all(np.where(r.mutable_cat[None, :], True, codes == codes0[rep]), axis=1) if len(space.categorical) \
        else True
    return p, valid & inside


def _params(space: CFSpace, r: _Resolved, k: int, constraints, o: SearchOptions, seed) -> dict:
    return {"k": k, "constraints": (constraints or Constraints()).describe(), "desired_class": o.desired_class,
            "steps": o.steps, "learning_rate": o.learning_rate, "kappa": o.kappa,
            "diversity_weight": o.diversity_weight, "sparsity_weight": o.sparsity_weight,
            "n_candidates": o.n_candidates, "n_sparse_candidates": o.n_sparse_candidates,
            "changed_penalty": o.changed_penalty, "seed": seed, "immutable": r.immutable,
            "plausibility": o.plausibility, "association_threshold": o.association_threshold,
            "mad": dict(zip(space.numeric, space.mad.tolist(), strict=True))}


_LIFT_NAMES = {
    "ranges": "per-feature ranges",
    "directions": "per-feature directions (e.g. age only increases)",
    "features": "set of immutable / allowed-to-vary features",
}


def _diagnose(model, dataset, row, constraints, desired_class, method, seed) -> str:
    """Which constraint binds: lift each alone, then all, and see whether a counterfactual appears (one
    counterfactual, the default tuning knobs)."""
    options = SearchOptions(desired_class=desired_class, method=method, on_failure="keep")

    def search(lift):
        return _find(model, dataset, row, k=1, constraints=constraints, options=options, seed=seed, progress=None,
                     lift=lift)

    for lift in ("ranges", "directions", "features"):
        try:
            res = search((lift,))
        except UserInputError:
            continue
        if res.valid.any():
            cf = res.for_query(0)
            changed = [c for c in dataset.schema.features
                       if str(cf.iloc[0][c]) != str(row.iloc[0][c])]
            return BINDING_ONE.format(name=_LIFT_NAMES[lift], detail="it would change " + ", ".join(changed))
    try:
        if search(("ranges", "directions", "features")).valid.any():
            return BINDING_ALL
    except UserInputError:
        pass
    return BINDING_NONE
