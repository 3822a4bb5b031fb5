"""Surrogate decision trees: rules a reviewer can read, with how often they agree with the model.

:func:`fit_surrogate` fits a scikit-learn ``DecisionTreeClassifier`` to the *model's* decisions
on training rows and measures its fidelity (agreement with the model) on held-out test rows,
overall and per group.  :func:`local_surrogate` does the same around one row, from perturbed
neighbours of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlxai.errors import UserInputError
from dlxai.explain.groups import group_columns, scored_rows
from dlxai.validation import as_levels, check_threshold

BAD_DEPTH = "max_depth must be a whole number from 1 to 12; received {value!r}. Use e.g. 4."
BAD_SPACE = "space must be 'raw' or 'preprocessed'; received {value!r}."
BAD_SAMPLES = "n_samples must be a whole number from 100 to 100,000; received {value!r}."
SPACES = ("raw", "preprocessed")


def check_depth(max_depth) -> int:
    if isinstance(max_depth, bool) or not isinstance(max_depth, (int, np.integer)) or not 1 <= int(max_depth) <= 12:
        raise UserInputError(BAD_DEPTH.format(value=max_depth))
    return int(max_depth)


class _Encoder:
    """Raw rows -> tree inputs with readable column names.

    ``raw``: numeric features as they are (missing -> training median), categoricals one-hot as
    ``"sex = Female"``.  ``preprocessed``: the model's own input matrix, named ``"age (standardised)"``
    and ``"sex = Female"``.
    """

    def __init__(self, model, train: pd.DataFrame, space: str):
        if space not in SPACES:
            raise UserInputError(BAD_SPACE.format(value=space))
        self.space = space
        self.model = model
        prep = model.preprocessor
        self.numeric = list(prep.numeric) if prep is not None else list(model.feature_columns)
        self.categorical = list(prep.categorical) if prep is not None else []
        self.medians = {c: float(pd.to_numeric(train[c], errors="coerce").median()) for c in self.numeric}
        self.levels = {c: sorted(as_levels(train[c]).unique())
                       for c in self.categorical}
        if space == "raw":
            self.names = self.numeric + [f"{c} = {lv}" for c in self.categorical for lv in self.levels[c]]
        else:
            names = []
            for n in model.feature_names_out:
                base = next((c for c in self.categorical if n.startswith(f"{c}_")), None)
                names.append(f"{base} = {n[len(base) + 1:]}" if base else f"{n} (standardised)")
            self.names = names

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        if self.space == "preprocessed":
            return np.asarray(self.model.transform(X), dtype=np.float64)
        parts = [pd.to_numeric(X[c], errors="coerce").fillna(self.medians[c]).to_numpy(np.float64)[:, None]
                 for c in self.numeric]
        for c in self.categorical:
            s = as_levels(X[c]).to_numpy()
            parts.append((s[:, None] == np.array(self.levels[c])[None, :]).astype(np.float64))
        return np.concatenate(parts, axis=1)


def split_conditions(name: str, threshold: float) -> tuple[str, str]:
    """The conditions of a split's (left, right) branches as a reader writes them.

    A one-hot input (``"marital-status = Married-civ-spouse"``, split at 0.5) reads
    ``marital-status ≠ Married-civ-spouse`` on the left and ``marital-status = Married-civ-spouse`` on the right;
    a number reads ``age ≤ 37.5`` / ``age > 37.5``.
    """
    if " = " in name and not name.endswith("(standardised)"):
        return name.replace(" = ", " ≠ ", 1), name
    # 12,940.5 and 1,234,567, never 1.294e+04
    value = f"{threshold:,.2f}".rstrip("0").rstrip(".") if abs(threshold) >= 1000 else f"{threshold:.4g}"
    return f"{name} ≤ {value}", f"{name} > {value}"


def tree_rules(tree, names: list[str], class_names=("0", "1")) -> list[dict]:
    """One rule per leaf: the conditions on its path, the predicted class, its rows and purity."""
    t = tree.tree_
    out = []

    def walk(node, conds):
        if t.children_left[node] == -1:
            v = t.value[node][0]
            share = v / v.sum() if v.sum() else v
            cls = int(np.argmax(share))
            out.append({"conditions": list(conds), "prediction": class_names[cls], "rows": int(t.n_node_samples[node]),
                        "purity": float(share[cls]), "leaf": int(node)})
            return
        left, right = split_conditions(names[t.feature[node]], float(t.threshold[node]))
        walk(t.children_left[node], conds + [left])
        walk(t.children_right[node], conds + [right])

    walk(0, [])
    return out


def rules_text(rules: list[dict], outcome: str = "model decides") -> str:
    lines = []
    for r in sorted(rules, key=lambda r: -r["rows"]):
        cond = " AND ".join(r["conditions"]) or "always"
        lines.append(f"IF {cond} THEN {outcome} {r['prediction']}  ({r['rows']:,} rows, {r['purity']:.0%} agree)")
    return "\n".join(lines)


@dataclass(frozen=True)
class SurrogateTree:
    """A decision tree imitating the model, with its fidelity.

    ``fidelity`` is the share of held-out rows where the tree's decision equals the model's;
    ``fidelity_by_group`` has one row per group (``count``, ``fidelity``) for each attribute in
    ``params['sensitive']``.  ``rules`` has one dict per leaf; ``text`` is them as IF/THEN lines.
    """

    tree: object
    feature_names: tuple[str, ...]
    fidelity: float
    train_fidelity: float
    fidelity_by_group: pd.DataFrame
    rules: tuple[dict, ...]
    text: str
    class_names: tuple[str, str]
    params: dict = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return int(self.tree.get_depth())

    @property
    def n_leaves(self) -> int:
        return int(self.tree.get_n_leaves())


def _class_names(dataset) -> tuple[str, str]:
    pos = str(dataset.schema.positive_label)
    return (f"not {pos}", pos)


def fit_surrogate(
    model,
    dataset,
    *,
    max_depth: int = 4,
    space: str = "raw",
    sensitive: list[str] | tuple[str, ...] | None = None,
    max_train_rows: int = 20_000,
    min_samples_leaf: int = 20,
    threshold: float = 0.5,
    seed: int = 0,
) -> SurrogateTree:
    """Fit a depth-limited tree to the model's decisions on training rows; fidelity on test rows."""
    from sklearn.tree import DecisionTreeClassifier

    depth = check_depth(max_depth)
    threshold = check_threshold(threshold)
    train = scored_rows(model, dataset, "train")
    if len(train) > max_train_rows:
        train = train.sample(n=int(max_train_rows), random_state=seed)
    test = scored_rows(model, dataset, "test")
    enc = _Encoder(model, dataset.X("train"), space)
    y_tr = model.predict(train, threshold=threshold)
    y_te = model.predict(test, threshold=threshold)
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=int(min_samples_leaf), random_state=seed)
    tree.fit(enc(train), y_tr)
    agree = tree.predict(enc(test)) == y_te
    cols = list(sensitive) if sensitive is not None else list(dataset.schema.sensitive)
    frames = []
    if cols:
        sens = dataset.sensitive("test", cols)
        for c in cols:
            g = as_levels(sens[c]).to_numpy()
            df = pd.DataFrame({"attribute": c, "group": g, "agree": agree})
            frames.append(df.groupby(["attribute", "group"])["agree"].agg(count="size", fidelity="mean"))
    by_group = pd.concat(frames) if frames else pd.DataFrame(columns=["count", "fidelity"])
    names = _class_names(dataset)
    rules = tree_rules(tree, enc.names, names)
    return SurrogateTree(
        tree=tree, feature_names=tuple(enc.names), fidelity=float(agree.mean()),
        train_fidelity=float((tree.predict(enc(train)) == y_tr).mean()), fidelity_by_group=by_group,
        rules=tuple(rules), text=rules_text(rules), class_names=names,
        params={"max_depth": depth, "space": space, "sensitive": cols, "train_rows": len(train),
                "test_rows": len(test), "min_samples_leaf": int(min_samples_leaf), "threshold": threshold,
                "seed": seed, "model_positive_rate_test": float(y_te.mean())},
    )


@dataclass(frozen=True)
class LocalSurrogate:
    """A small tree fitted to the model's decisions on perturbed neighbours of one row.

    ``fidelity`` is measured on a second, held-out set of neighbours; ``path`` is the rule the
    row itself falls under; ``positive_share`` tells how mixed the neighbourhood is (a
    neighbourhood the model decides all one way gives a trivial tree).
    """

    tree: object
    feature_names: tuple[str, ...]
    fidelity: float
    path: tuple[str, ...]
    row_prediction: str
    positive_share: float
    rules: tuple[dict, ...]
    text: str
    params: dict = field(default_factory=dict)


def perturb(dataset, row: pd.DataFrame, n: int, *, scale: float = 0.5, p_categorical: float = 0.3,
            seed: int = 0) -> pd.DataFrame:
    """``n`` neighbours of ``row``: numeric + N(0, scale * training std), clipped to the training range,
    whole-number features rounded; each categorical redrawn from its training frequencies with
    probability ``p_categorical``."""
    rng = np.random.default_rng(seed)
    train = dataset.X("train")
    out = pd.concat([row] * n, ignore_index=True)
    for c in dataset.schema.numeric:
        col = pd.to_numeric(train[c], errors="coerce").dropna().to_numpy(np.float64)
        x0 = pd.to_numeric(row[c], errors="coerce").fillna(np.median(col)).iloc[0]
        v = np.clip(x0 + rng.normal(0, scale * col.std(), size=n), col.min(), col.max())
        if np.all(np.mod(col, 1) == 0):
            v = np.round(v)
        out[c] = v
    for c in dataset.schema.categorical:
        vals = train[c].dropna().to_numpy()
        redraw = rng.random(n) < p_categorical
        out.loc[redraw, c] = vals[rng.integers(0, len(vals), size=int(redraw.sum()))]
    return out


def local_surrogate(
    model,
    dataset,
    row: pd.DataFrame,
    *,
    max_depth: int = 3,
    n_samples: int = 2000,
    scale: float = 0.5,
    p_categorical: float = 0.3,
    threshold: float = 0.5,
    seed: int = 0,
) -> LocalSurrogate:
    """A tree around one row (a one-row DataFrame of raw features), fidelity on held-out neighbours."""
    from sklearn.tree import DecisionTreeClassifier

    depth = check_depth(max_depth)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or not 100 <= n_samples <= 100_000:
        raise UserInputError(BAD_SAMPLES.format(value=n_samples))
    if isinstance(row, pd.Series):
        row = row.to_frame().T
    if not isinstance(row, pd.DataFrame) or len(row) != 1:
        raise UserInputError(
            f"row must be one raw feature row (a one-row DataFrame); received {type(row).__name__} "
            f"with {len(row) if hasattr(row, '__len__') else '?'} rows."
        )
    groups = group_columns(model, dataset)
    missing = [c for c in groups if c not in row.columns]
    if missing:
        raise UserInputError(f"{model.name} reads the group columns {groups} from each row it scores, but the row "
                             f"lacks {missing}; pass the row from dataset.frame(split).")
    held_groups = row[groups].reset_index(drop=True)
    row = row[list(dataset.schema.features)].reset_index(drop=True)
    neigh = perturb(dataset, row, 2 * int(n_samples), scale=scale, p_categorical=p_categorical, seed=seed)
    for c in groups:  # the neighbours of a person keep that person's groups (the features may still vary)
        neigh[c] = held_groups[c].iloc[0]
    row = pd.concat([row, held_groups], axis=1)
    fit_rows, held = neigh.iloc[: int(n_samples)], neigh.iloc[int(n_samples):]
    enc = _Encoder(model, dataset.X("train"), "raw")
    y_fit = model.predict(fit_rows, threshold=threshold)
    y_held = model.predict(held, threshold=threshold)
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=10, random_state=seed).fit(enc(fit_rows), y_fit)
    fidelity = float((tree.predict(enc(held)) == y_held).mean())
    names = _class_names(dataset)
    rules = tree_rules(tree, enc.names, names)
    leaf = int(tree.apply(enc(row))[0])
    rule = next((r for r in rules if r["leaf"] == leaf), rules[0])
    return LocalSurrogate(
        tree=tree, feature_names=tuple(enc.names), fidelity=fidelity, path=tuple(rule["conditions"]),
        row_prediction=names[int(model.predict(row, threshold=threshold)[0])],
        positive_share=float(y_fit.mean()), rules=tuple(rules), text=rules_text(rules),
        params={"max_depth": depth, "n_samples": int(n_samples), "scale": scale, "p_categorical": p_categorical,
                "threshold": threshold, "seed": seed},
    )
