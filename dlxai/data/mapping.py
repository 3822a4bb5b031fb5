"""A parsed table -> column profiles -> a validated schema -> a dataset, and what the page previews first.

* :func:`profile_columns` -> one :class:`ColumnProfile` per column: the inferred type
  (numeric / categorical / ignore), missing values, distinct values, mixed-type and ID-like notes.
* :func:`suggest_target`, :func:`suggest_sensitive`, :func:`label_values`, :func:`match_label`: the
  defaults and choices the mapping widgets offer.
* :func:`build_schema` turns the user's mapping (target, positive label, sensitive, types,
  ignored) into a validated :class:`~dlxai.data.schema.Schema`; :func:`dataset_from_upload`
  makes the :class:`~dlxai.data.dataset.TabularDataset` (seeded split, or a separate test file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.data.dataset import TabularDataset, make_dataset, validate_frame
from dlxai.data.schema import CATEGORICAL, NUMERIC, Schema
from dlxai.data.tables import ParsedTable
from dlxai.errors import UserInputError
from dlxai.validation import check_positive_label, check_target_not_sensitive

IGNORE = "ignore"
DEFAULT_MAX_CATEGORIES = 1000  # more levels than this: an ID, free text, or a number stored as text
MIXED_FRACTION = 0.9  # a text column whose values are >= 90 % numbers is flagged as mixed
SENSITIVE_HINTS = ("sex", "gender", "race", "ethnic", "age", "religion", "nationality", "disab", "marital")


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: str
    kind: str  # numeric | categorical | ignore (the inferred default; the user may change it)
    n_missing: int
    n_unique: int
    examples: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class UploadPreview:
    """What the page shows before the user commits: rows, types and group sizes."""

    head: pd.DataFrame
    profiles: tuple[ColumnProfile, ...]
    group_sizes: dict = field(default_factory=dict)  # sensitive column -> Series of counts
    target_counts: pd.Series | None = None

def _is_mixed(col: pd.Series) -> tuple[bool, list[str]]:
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return False, []
    values = col.dropna()
    if values.empty:
        return False, []
    head = values.iloc[:200]
    if pd.to_numeric(head.astype(str), errors="coerce").notna().mean() < 0.5:  # plainly text: skip the full check
        return False, []
    sample = values.iloc[:20000]
    num = pd.to_numeric(sample.astype(str), errors="coerce")
    frac = float(num.notna().mean())
    if MIXED_FRACTION <= frac < 1.0:
        return True, list(sample[num.isna()].astype(str).unique()[:3])
    return False, []


def _check_hashable(df: pd.DataFrame) -> None:
    """Lists, dicts or arrays in cells (a nested Parquet column, a frame built in a notebook) cannot be grouped or
    one-hot encoded; say which column, before ``unique`` fails with 'unhashable type'."""
    for c in df.columns:
        if df[c].dtype == object:
            _distinct(df[c])


def _distinct(col: pd.Series) -> int:
    """The number of distinct non-missing values; nested cells are a :class:`UserInputError` naming the column."""
    try:
        return int(col.nunique(dropna=True))
    except TypeError:
        kinds = sorted({type(v).__name__ for v in col.dropna().iloc[:1000]} - {"str", "int", "float", "bool"})
        raise UserInputError(errors.UNHASHABLE_COLUMN.format(column=col.name, kinds=kinds)) from None


def profile_columns(df: pd.DataFrame, *, max_categories: int = DEFAULT_MAX_CATEGORIES) -> tuple[ColumnProfile, ...]:
    """Infer each column's type: numbers -> numeric (two-valued integers -> categorical),
    text -> categorical, text with more than ``max_categories`` levels or empty -> ignore.
    One hashing pass per column (``unique``), so a million rows profile in about a second."""
    _check_hashable(df)
    out = []
    n = len(df)
    for c in df.columns:
        col = df[c]
        n_missing = int(col.isna().sum())
        uniq = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else col.unique()
        uniq = uniq[~pd.isna(uniq)] if n_missing else uniq
        n_unique = len(uniq)
        examples = tuple(map(str, uniq[:5]))
        note = ""
        if n_missing == n:
            kind, note = IGNORE, "every value is missing"
        elif pd.api.types.is_bool_dtype(col):
            kind = CATEGORICAL
        elif pd.api.types.is_numeric_dtype(col):
            kind = CATEGORICAL if (n_unique <= 2 and pd.api.types.is_integer_dtype(col)) else NUMERIC
        else:
            mixed, bad = _is_mixed(col)
            if mixed:
                kind, note = CATEGORICAL, f"mixed types: mostly numbers, but also {bad}"
            elif n_unique > max_categories:
                kind, note = IGNORE, f"{n_unique:,} distinct values (an ID or free text?)"
            else:
                kind = CATEGORICAL
        out.append(ColumnProfile(str(c), str(col.dtype), kind, n_missing, n_unique, examples, note))
    return tuple(out)


def suggest_target(df: pd.DataFrame) -> str:
    """The last two-valued column (datasets usually end with the label), else the last column."""
    for c in reversed(df.columns):
        if _distinct(df[c]) == 2:
            return str(c)
    return str(df.columns[-1])


def suggest_sensitive(df: pd.DataFrame, target: str | None = None) -> list[str]:
    return [str(c) for c in df.columns if c != target and any(h in str(c).lower() for h in SENSITIVE_HINTS)
            and 2 <= _distinct(df[c]) <= 50]


def label_values(df: pd.DataFrame, column: str) -> list:
    """The distinct values of ``column`` (raw, sorted by their text) — the choices for the positive label."""
    if column not in df.columns:
        raise UserInputError(errors.UNKNOWN_COLUMN.format(column=column, available=list(df.columns)))
    _distinct(df[column])
    return sorted(df[column].dropna().unique().tolist(), key=str)


def match_label(df: pd.DataFrame, column: str, label):
    """The raw value of ``column`` whose text equals ``label`` (widgets hand labels back as text)."""
    return check_positive_label(label_values(df, column), label, column)


def build_schema(
    df: pd.DataFrame,
    target: str,
    positive_label,
    sensitive=(),
    types: dict[str, str] | None = None,
    ignore=(),
    *,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    profiles: tuple[ColumnProfile, ...] | None = None,
) -> Schema:
    """The user's mapping as a validated :class:`Schema`.

    ``types`` maps column -> ``"numeric" | "categorical" | "ignore"`` and defaults to
    :func:`profile_columns`; columns in ``ignore`` (and typed ``"ignore"``) are not features.
    Sensitive columns are features unless ignored (then they are kept for the audit only).
    """
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the uploaded table"))
    if target not in df.columns:
        raise UserInputError(errors.UNKNOWN_COLUMN.format(column=target, available=list(df.columns)))
    _check_hashable(df)
    types = dict(types or {})
    if any(c not in types for c in df.columns):  # infer only what the user left open
        profiles = profiles if profiles is not None else profile_columns(df, max_categories=max_categories)
        types = {**{p.name: p.kind for p in profiles}, **types}
    for c, k in types.items():
        if c not in df.columns:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=list(df.columns)))
        if k not in (NUMERIC, CATEGORICAL, IGNORE):
            raise UserInputError(f"Column {c!r} has type {k!r}; use 'numeric', 'categorical' or 'ignore'.")
    sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    if not sensitive:
        raise UserInputError(errors.NO_SENSITIVE)
    for c in [*sensitive, *ignore]:
        if c not in df.columns:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=list(df.columns)))
    check_target_not_sensitive(target, sensitive)
    ignored = set(ignore) | {c for c, k in types.items() if k == IGNORE}
    positive = match_label(df, target, positive_label)
    numeric, categorical = [], []
    for c in df.columns:
        if c == target or c in ignored:
            continue
        col = df[c]
        if types[c] == NUMERIC:
            if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                parsed = pd.to_numeric(col.dropna().astype(str), errors="coerce")
                bad = list(col.dropna()[parsed.isna().to_numpy()].astype(str).unique()[:3])
                raise UserInputError(errors.UPLOAD_MIXED_TYPES.format(column=c, bad=bad, share=float(parsed.notna().mean())))
            numeric.append(c)
        else:
            n_levels = int(col.nunique(dropna=True))
            if n_levels > max_categories:
                raise UserInputError(errors.UPLOAD_TOO_MANY_CATEGORIES.format(column=c, n=n_levels, limit=max_categories))
            categorical.append(c)
    for c in sensitive:
        groups = df[c].nunique(dropna=True)
        if groups > max_categories:
            raise UserInputError(errors.UPLOAD_TOO_MANY_CATEGORIES.format(column=c, n=groups, limit=max_categories))
    return Schema(target=target, positive_label=positive, sensitive=tuple(sensitive), numeric=tuple(numeric),
                  categorical=tuple(categorical), ignore=tuple(sorted(ignored - {target})))


def _numeric_cast(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    bools = [c for c in schema.numeric if pd.api.types.is_bool_dtype(df[c])]
    if not bools:
        return df
    df = df.copy()
    for c in bools:
        df[c] = df[c].astype(np.float64)
    return df


def dataset_from_upload(
    table: ParsedTable | pd.DataFrame,
    schema: Schema,
    *,
    test: ParsedTable | pd.DataFrame | None = None,
    test_size: float = 0.3,
    seed: int = 0,
    name: str | None = None,
) -> TabularDataset:
    """A validated dataset from an uploaded table: a seeded stratified split, or ``test`` as the test split."""
    train_df = table.frame if isinstance(table, ParsedTable) else table
    source = table.name if isinstance(table, ParsedTable) else "uploaded table"
    keep = [c for c in train_df.columns if c not in schema.ignore or c in schema.sensitive or c == schema.target]
    train_df = _numeric_cast(train_df[keep], schema)
    test_df = None
    if test is not None:
        test_df = test.frame if isinstance(test, ParsedTable) else test
        missing = [c for c in keep if c not in test_df.columns]
        if missing:
            raise UserInputError(errors.UPLOAD_TEST_COLUMNS.format(missing=missing[:10], columns=list(test_df.columns)[:20]))
        test_df = _numeric_cast(test_df[keep], schema)
        for c in schema.numeric:
            if not pd.api.types.is_numeric_dtype(test_df[c]):
                bad = list(test_df[c].dropna()[pd.to_numeric(test_df[c].dropna().astype(str), errors="coerce").isna().to_numpy()]
                           .astype(str).unique()[:3])
                raise UserInputError(errors.UPLOAD_MIXED_TYPES.format(column=c, bad=bad, share=0.0))
    if test_df is None:
        if not (isinstance(test_size, (int, float)) and 0.0 < test_size < 1.0):
            raise UserInputError(f"test_size must be between 0 and 1; received {test_size!r}. Use e.g. 0.3.")
        validate_frame(train_df, schema)  # before splitting: messages speak of the whole file
        train_df, test_df = stratified_split(train_df, schema.target, test_size, seed)
    return make_dataset(
        name or source.rsplit("/", 1)[-1], train_df, schema, test=test_df, test_size=test_size, seed=seed,
        description=f"Uploaded file {source}", provenance="uploaded by the user",
    )


def stratified_split(df: pd.DataFrame, target: str, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split keeping each target class's share (classes with one row go to training)."""
    codes, _ = pd.factorize(df[target])
    rng = np.random.default_rng(seed)
    test_idx = []
    for k in range(codes.max() + 1):
        idx = np.flatnonzero(codes == k)
        if len(idx) < 2:
            continue
        n_test = min(max(int(round(test_size * len(idx))), 1), len(idx) - 1)
        test_idx.append(rng.choice(idx, size=n_test, replace=False))
    mask = np.zeros(len(df), dtype=bool)
    if test_idx:
        mask[np.concatenate(test_idx)] = True
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def preview(df: pd.DataFrame, *, target: str | None = None, sensitive=(), rows: int = 20,
            max_categories: int = DEFAULT_MAX_CATEGORIES, profiles: tuple[ColumnProfile, ...] | None = None
            ) -> UploadPreview:
    """First rows, column profiles and the size of every group of each sensitive column."""
    sizes = {}
    for c in sensitive:
        if c in df.columns:
            sizes[c] = df[c].value_counts(dropna=False).sort_values(ascending=False).head(50)
    tc = df[target].value_counts(dropna=False) if target in df.columns else None
    if profiles is None:
        profiles = profile_columns(df, max_categories=max_categories)
    return UploadPreview(df.head(rows), profiles, sizes, tc)
