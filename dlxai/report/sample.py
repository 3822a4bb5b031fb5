"""Explanations at scale: a stratified sample drawn across partitions, and its global and per-group importance.

Attributions cost a model call (integrated gradients: dozens) per row, so a distributed audit explains a sample.
Every row gets a uniform random key (from the seed, its file's path and its row number), and each partition keeps,
per stratum (group of every sensitive attribute x true label), the ``rows`` rows with the smallest keys; the
client keeps the smallest keys of all partitions.  That is an exact uniform sample without replacement within each
stratum, the same whatever order partitions finish in, in memory bounded by ``rows`` per stratum.  Strata are then
given rows in proportion to their size (largest remainders; a stratum with rows gets at least one), so the sample
is self-weighting: plain means over it estimate the table's means, and per-group means use each group's rows.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

KEY = "__dlxai_key__"
STRATUM_T = "__dlxai_t__"


def key_stream(path: str, seed: int) -> np.random.Generator:
    """One generator per file: its rows' keys in file order, whatever the batch size."""
    where = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "little")
    return np.random.default_rng([int(seed), where])


def smallest(sample: pd.DataFrame, strata: list[str], rows: int) -> pd.DataFrame:
    """The ``rows`` rows with the smallest keys in each stratum."""
    return sample.sort_values(KEY, kind="stable").groupby(strata, sort=False).head(rows)


def batch_sample(frame: pd.DataFrame, labels: dict, t: np.ndarray, *, keys: np.random.Generator,
                 rows: int) -> pd.DataFrame:
    """A batch's candidates: its raw rows with their group labels (``labels``: attribute -> text per row),
    target index and key, at most ``rows`` per stratum."""
    out = frame.reset_index(drop=True).assign(**{f"__group_{a}": v for a, v in labels.items()})
    out[STRATUM_T] = t
    out[KEY] = keys.random(len(frame))
    return smallest(out, [*(f"__group_{a}" for a in labels), STRATUM_T], rows)


def strata_columns(attrs) -> list[str]:
    return [*(f"__group_{a}" for a in attrs), STRATUM_T]


def allocate(sizes: pd.Series, total: int) -> pd.Series:
    """Rows per stratum, in proportion to ``sizes`` (largest remainders), at least one where a stratum has rows."""
    sizes = sizes[sizes > 0]
    if sizes.sum() <= total:
        return sizes.copy()
    share = sizes / sizes.sum() * total
    alloc = np.floor(share).astype(np.int64)
    left = int(total - alloc.sum())
    if left > 0:
        alloc.iloc[np.argsort(-(share - alloc).to_numpy(), kind="stable")[:left]] += 1
    return np.minimum(np.maximum(alloc, 1), sizes)


def draw(candidates: pd.DataFrame, sizes: pd.Series, attrs, total: int) -> pd.DataFrame:
    """The final sample from the merged candidates; ``sizes`` is rows per stratum over the whole table."""
    strata = strata_columns(attrs)
    alloc = allocate(sizes, total)
    ranked = candidates.sort_values(KEY, kind="stable")
    rank = ranked.groupby(strata, sort=False).cumcount()
    want = ranked[strata].merge(alloc.rename("__want").reset_index(), on=strata, how="left")["__want"].to_numpy()
    return ranked[rank.to_numpy() < want].sort_values(KEY, kind="stable").reset_index(drop=True)


def explain_sample(model, sample: pd.DataFrame, attrs, *, method: str = "auto", top: int = 8):
    """Attributions of the sample (with their completeness check where the method has one) and mean |attribution|
    per group.  ``method="auto"``: integrated gradients where the model is a PyTorch network, else kernel SHAP."""
    from dlxai.errors import UnsupportedModelError
    from dlxai.explain.attribution import attribute
    from dlxai.explain.quality import completeness

    X = sample[list(model.feature_columns)]
    try:
        use = "integrated_gradients" if method == "auto" else method
        result = attribute(model, X, method=use, **({"n_steps": 32} if use == "integrated_gradients" else {}))
    except UnsupportedModelError:
        if method != "auto":
            raise
        result = attribute(model, X, method="kernel_shap")
    by = result.by_feature().abs()
    cols = by.mean(axis=0).sort_values(ascending=False).head(top).index
    groups = {a: by[cols].groupby(sample[f"__group_{a}"].to_numpy()).mean() for a in attrs}
    checks = [completeness(result)] if result.completeness_error is not None else []
    return [result, *checks], groups
