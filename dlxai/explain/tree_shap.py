"""Exact interventional SHAP values of a scikit-learn tree ensemble behind a raw-columns pipeline, one per raw column.

For a row x and a background row b, the value of a coalition S of raw columns is the model's output on the hybrid
row that takes S's columns from x and the others from b (shap's ``Independent`` masker).  The ensemble's output is a
sum of leaf values, and a leaf is reached by the hybrid iff every raw column on its path sends the hybrid its way:
a column where only x goes that way must be in S (set A), one where only b does must be out (set B), one where
neither does makes the leaf unreachable.  That leaf is the game ``v · [A ⊆ S] · [B ∩ S = ∅]``, whose Shapley values
are ``v (|A|-1)! |B|! / (|A|+|B|)!`` for each column of A and ``-v |A|! (|B|-1)! / (|A|+|B|)!`` for each of B
(the interventional TreeSHAP of Lundberg et al., 2020, with a categorical column's one-hot outputs as one player).
Summed over leaves and averaged over the background rows this is exact, with a handful of matrix products per leaf.

The pipeline's preprocessing must act column by column (a ColumnTransformer of encoders and scalers), so that each
output column belongs to one raw column: checked on the rows themselves, hybrids included, before any value is
computed.  Outputs: the log-odds of gradient boosting (HistGradientBoosting, GradientBoosting), the probability of
forests and single trees; binary classifiers only.
"""

from __future__ import annotations

import weakref
from math import factorial

import numpy as np
import pandas as pd
import torch

from dlxai.errors import UnsupportedModelError

NOT_TREES = "it reads the trees of a scikit-learn tree ensemble in a skops pipeline on raw columns, and this model is {what}"
NOT_SEPARABLE = (
    "the pipeline's preprocessing mixes raw columns (its output column {col} depends on {columns}), so the trees' "
    "inputs cannot be split by raw column; use kernel_shap"
)
BOOSTING = ("HistGradientBoostingClassifier", "GradientBoostingClassifier")
FORESTS = ("RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier", "ExtraTreeClassifier")


_REASONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tree_reason(estimator) -> str | None:
    """Why :func:`tree_shap` cannot read ``estimator`` (an AuditModel's estimator); None when it can.  Worked out
    once per estimator: its final step, and whether its preprocessing keeps raw columns apart on rows made from
    the contract's levels and medians."""
    try:
        return _REASONS[estimator]
    except (KeyError, TypeError):
        pass
    why = _reason(estimator)
    try:
        _REASONS[estimator] = why
    except TypeError:
        pass
    return why


def _reason(estimator) -> str | None:
    inner = getattr(estimator, "inner", None)
    if inner is None or getattr(estimator, "contract", None) is None or not hasattr(inner, "predict_proba"):
        return NOT_TREES.format(what="not such a pipeline")
    from dlxai.models.adapters import UploadedClassifier

    if isinstance(inner, UploadedClassifier):
        return NOT_TREES.format(what="an ONNX graph, whose trees are operators rather than readable arrays")
    final = inner.steps[-1][1] if hasattr(inner, "steps") else inner
    name = type(final).__name__
    if name not in BOOSTING + FORESTS:
        return NOT_TREES.format(what=f"a {name}")
    if len(getattr(final, "classes_", ())) != 2:
        return NOT_TREES.format(what=f"a {name} with {len(getattr(final, 'classes_', ()))} classes")
    if name == "HistGradientBoostingClassifier" and getattr(final, "is_categorical_", None) is not None \
            and np.any(final.is_categorical_):
        return NOT_TREES.format(what=f"a {name} with native categorical splits")
    try:
        _groups(_transform(inner), _synthetic(estimator.contract), len(estimator.contract.columns_))
    except UnsupportedModelError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a pipeline that cannot transform made-up rows: not offered
        return NOT_TREES.format(what=f"a pipeline whose preprocessing fails on rows of known levels ({exc})")
    return None


def _synthetic(contract, n: int = 16, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of the contract's columns: numbers around the training medians, levels the model knows."""
    rng = np.random.default_rng(seed)
    num = np.asarray(contract.medians_, dtype=np.float64)[None, :] * rng.uniform(0.5, 1.5, (n, len(contract.numeric)))
    codes = np.stack([rng.integers(0, max(sum(v is not None for v in lv), 1), n) for lv in contract.level_values_],
                     axis=1) if contract.categorical else np.zeros((n, 0))
    return contract.decode(contract.matrix_from_parts(num + rng.normal(0, 1, num.shape), codes))


def _transform(inner):
    """The pipeline's steps before the model, as rows -> float matrix."""
    steps = inner.steps[:-1] if hasattr(inner, "steps") else []

    def transform(frame):
        out = frame
        for _, step in steps:
            out = step.transform(out)
        out = out.toarray() if hasattr(out, "toarray") else out
        return np.asarray(out, dtype=np.float64)

    return transform


# --- the trees as arrays ------------------------------------------------------------------------------------------
def _trees(final) -> tuple[list[dict], float, str]:
    """(each tree as node arrays, the constant added to their sum, "log-odds" or "probability") of class 1."""
    name = type(final).__name__
    out = []
    if name == "HistGradientBoostingClassifier":
        for (p,) in final._predictors:
            n = p.nodes
            out.append({"left": n["left"].astype(np.int64), "right": n["right"].astype(np.int64),
                        "leaf": n["is_leaf"].astype(bool), "feature": n["feature_idx"].astype(np.int64),
                        "threshold": n["num_threshold"].astype(np.float64),
                        "missing_left": n["missing_go_to_left"].astype(bool), "value": n["value"].astype(np.float64)})
        return out, float(np.ravel(final._baseline_prediction)[0]), "log-odds"
    if name == "GradientBoostingClassifier":
        raw0 = final._raw_predict_init(np.zeros((1, final.n_features_in_)))
        for est in final.estimators_[:, 0]:
            out.append(_sk_tree(est.tree_, est.tree_.value[:, 0, 0] * final.learning_rate))
        return out, float(raw0[0, 0]), "log-odds"
    ests = final.estimators_ if hasattr(final, "estimators_") else [final]
    for est in ests:
        v = est.tree_.value[:, 0, :]
        out.append(_sk_tree(est.tree_, v[:, 1] / np.maximum(v.sum(axis=1), 1e-300) / len(ests)))
    return out, 0.0, "probability"


def _sk_tree(t, value) -> dict:
    missing = getattr(t, "missing_go_to_left", None)
    return {"left": t.children_left.astype(np.int64), "right": t.children_right.astype(np.int64),
            "leaf": t.children_left == -1, "feature": t.feature.astype(np.int64),
            "threshold": t.threshold.astype(np.float64),
            "missing_left": np.zeros(len(value), bool) if missing is None else np.asarray(missing, bool),
            "value": np.asarray(value, dtype=np.float64)}


def _goes_left(tree: dict, X: np.ndarray) -> np.ndarray:
    """(rows, nodes): whether each row goes left at each inner node (missing values as the node says)."""
    inner = ~tree["leaf"]
    f = np.where(inner, tree["feature"], 0)
    x = X[:, f]
    return np.where(np.isnan(x), tree["missing_left"][None, :], x <= tree["threshold"][None, :])


def _leaves(tree: dict):
    """(leaf value, [(node, goes left)] on its path) for every leaf."""
    stack, out = [(0, [])], []
    while stack:
        node, path = stack.pop()
        if tree["leaf"][node]:
            out.append((tree["value"][node], path))
            continue
        stack.append((int(tree["left"][node]), path + [(node, True)]))
        stack.append((int(tree["right"][node]), path + [(node, False)]))
    return out


# --- the transform, split by raw column -----------------------------------------------------------------------------
def _groups(transform, frame, n_raw: int) -> np.ndarray:
    """The raw column each output column of ``transform`` belongs to (-1: constant on these rows); raises when an
    output column depends on two raw columns."""
    base = transform(frame)
    owner = np.full(base.shape[1], -1, dtype=np.int64)
    for j, c in enumerate(frame.columns):
        moved = frame.copy()
        moved[c] = np.roll(frame[c].to_numpy(), 1)
        changed = np.nonzero(np.any(transform(moved) != base, axis=0))[0]
        clash = changed[(owner[changed] >= 0) & (owner[changed] != j)]
        if len(clash):
            raise UnsupportedModelError(NOT_SEPARABLE.format(col=int(clash[0]), columns=[frame.columns[owner[clash[0]]], c]))
        owner[changed] = j
    return owner


def _check_hybrids(transform, frame, T: np.ndarray, owner: np.ndarray, seed: int = 0, n: int = 64) -> None:
    """Hybrid rows built from the transformed rows by raw column equal the transform of the hybrid raw rows."""
    rng = np.random.default_rng(seed)
    i, k = rng.integers(0, len(frame), n), rng.integers(0, len(frame), n)
    take = rng.random((n, frame.shape[1])) < 0.5
    raw = frame.iloc[i].to_numpy(dtype=object)
    raw[~take] = frame.iloc[k].to_numpy(dtype=object)[~take]
    mixed = transform(pd.DataFrame(raw, columns=frame.columns).astype(frame.dtypes.to_dict()))
    cols = np.where(owner >= 0, take[:, np.maximum(owner, 0)], True)
    built = np.where(cols, T[i], T[k])
    if not np.allclose(mixed, built, equal_nan=True):
        bad = int(np.nonzero(~np.isclose(mixed, built, equal_nan=True).all(axis=0))[0][0])
        raise UnsupportedModelError(NOT_SEPARABLE.format(col=bad, columns="several raw columns"))


def _weights(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Shapley weights of the leaf game by (|A|, |B|): for a column of A, and for a column of B."""
    wa, wb = np.zeros((d + 1, d + 1)), np.zeros((d + 1, d + 1))
    for a in range(d + 1):
        for b in range(d + 1 - a):
            if a:
                wa[a, b] = factorial(a - 1) * factorial(b) / factorial(a + b)
            if b:
                wb[a, b] = factorial(a) * factorial(b - 1) / factorial(a + b)
    return wa, wb


def interventional(trees, X: np.ndarray, B: np.ndarray, owner: np.ndarray, n_raw: int, progress=None) -> np.ndarray:
    """(rows, raw columns) exact interventional SHAP values of the sum of ``trees`` against background ``B``."""
    n, m = len(X), len(B)
    phi = np.zeros((n, n_raw))
    wa, wb = _weights(n_raw)
    for t, tree in enumerate(trees):
        gx, gb = _goes_left(tree, X), _goes_left(tree, B)
        for value, path in _leaves(tree):
            if not path or value == 0:
                continue
            cols = sorted({int(owner[tree["feature"][node]]) for node, _ in path} - {-1})
            if not cols:
                continue
            xo, bo = np.ones((n, len(cols)), bool), np.ones((m, len(cols)), bool)
            xc, bc = np.ones(n, bool), np.ones(m, bool)  # nodes on columns constant on these rows: no player's
            for node, left in path:
                j = int(owner[tree["feature"][node]])
                if j < 0:
                    xc &= gx[:, node] == left
                    bc &= gb[:, node] == left
                    continue
                xo[:, cols.index(j)] &= gx[:, node] == left
                bo[:, cols.index(j)] &= gb[:, node] == left
            xf, bf = xo.astype(np.float64), bo.astype(np.float64)
            dead = ((1 - xf) @ (1 - bf).T > 0) | ~xc[:, None] | ~bc[None, :]
            a = (xf @ (1 - bf).T).astype(np.int64)
            b = ((1 - xf) @ bf.T).astype(np.int64)
            WA = np.where(dead, 0.0, wa[a, b])
            WB = np.where(dead, 0.0, wb[a, b])
            phi[:, cols] += value / m * (xf * (WA @ (1 - bf)) - (1 - xf) * (WB @ bf))
        if progress is not None:
            progress((t + 1) / len(trees))
    return phi


def _output(trees, base: float, X: np.ndarray) -> np.ndarray:
    out = np.full(len(X), base)
    for tree in trees:
        node = np.zeros(len(X), dtype=np.int64)
        for _ in range(len(tree["leaf"])):
            inner = ~tree["leaf"][node]
            if not inner.any():
                break
            x = X[np.arange(len(X)), tree["feature"][node]]
            left = np.where(np.isnan(x), tree["missing_left"][node], x <= tree["threshold"][node])
            node = np.where(inner, np.where(left, tree["left"][node], tree["right"][node]), node)
        out += tree["value"][node]
    return out


def tree_shap(module, inputs, *, target, baselines=None, batch_size=4096, progress=None, info=None):
    """The registry's signature: ``module`` wraps the model (``module.est``, a raw-columns classifier), ``inputs``
    and ``baselines`` are rows of its contract's matrix.  Returns (values, delta) with delta the exact sum check
    ``sum(values) - (f(x) - mean f(background))`` on the output explained, which ``info["output"]`` records:
    "log-odds" (gradient boosting) or "probability" (forests, single trees)."""
    est = module.est
    why = tree_reason(est)
    if why is not None:
        raise UnsupportedModelError(f"SHAP for tree ensembles does not apply: {why}.")
    inner, contract = est.inner, est.contract
    final = inner.steps[-1][1] if hasattr(inner, "steps") else inner
    transform = _transform(inner)

    x = inputs.detach().cpu().numpy().reshape(inputs.shape[0], -1)
    bg = np.zeros((1, x.shape[1])) if baselines is None else baselines.detach().cpu().numpy().reshape(-1, x.shape[1])
    fx, fb = contract.decode(x), contract.decode(bg)
    both = pd.concat([fx, fb], ignore_index=True)
    T = transform(both)
    names = list(contract.feature_names_out_)
    owner = _groups(transform, both, len(names))
    _check_hybrids(transform, both, T, owner)
    # the matrix's columns are the contract's (numbers, then categories); the frames' are the model's order
    order = np.array([names.index(c) for c in both.columns])
    owner = np.where(owner >= 0, order[np.maximum(owner, 0)], -1)
    trees, base, output = _trees(final)
    if info is not None:
        info["output"] = output
    if type(final).__name__ != "HistGradientBoostingClassifier":  # scikit-learn's trees compare in float32
        T = T.astype(np.float32).astype(np.float64)
    TX, TB = T[:len(x)], T[len(x):]
    own = final.decision_function(T) if output == "log-odds" else final.predict_proba(T)[:, 1]
    if not np.allclose(_output(trees, base, T), np.ravel(own), atol=1e-6):  # the trees as read give the model's output
        raise UnsupportedModelError(f"SHAP for tree ensembles does not apply: the trees of {type(final).__name__} "
                                    "read here do not reproduce its output; use kernel_shap.")
    phi = interventional(trees, TX, TB, owner, len(names), progress)
    f_x, f_b = _output(trees, base, TX), _output(trees, base, TB).mean()
    sign = 1.0 if est.favourable == 1 else -1.0  # the favourable class is the model's class 0 or 1
    tgt = target.detach().cpu().numpy()
    s = np.where(tgt == 1, sign, -sign)[:, None]
    values, gap = phi * s, (f_x - f_b) * s[:, 0]
    delta = values.sum(axis=1) - gap
    return torch.as_tensor(values, dtype=inputs.dtype), torch.as_tensor(delta, dtype=inputs.dtype)
