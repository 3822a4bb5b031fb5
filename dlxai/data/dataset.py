"""The dataset object every engine call takes: raw train/test frames plus their schema."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.data.schema import Schema
from dlxai.errors import UserInputError
from dlxai.validation import check_positive_label


@dataclass(frozen=True, eq=False)
class TabularDataset:
    """Raw train and test rows (features, target, sensitive columns) and what they mean.

    Build one with :func:`make_dataset`, which validates; the bundled demos come from
    :mod:`dlxai.data.bundled`.
    """

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    schema: Schema
    description: str = ""
    provenance: str = ""
    extra: dict = field(default_factory=dict)

    # --- views -------------------------------------------------------------------------------
    def frame(self, split: str = "test") -> pd.DataFrame:
        if split == "train":
            return self.train
        if split == "test":
            return self.test
        if split == "all":
            return pd.concat([self.train, self.test], ignore_index=True)
        raise UserInputError(f"split must be 'train', 'test' or 'all'; received {split!r}.")

    def X(self, split: str = "test") -> pd.DataFrame:
        """The model's input columns, in schema order."""
        return self.frame(split)[list(self.schema.features)]

    def y(self, split: str = "test") -> np.ndarray:
        """The target as 0/1, 1 meaning the positive (favourable) label."""
        return (self.frame(split)[self.schema.target] == self.schema.positive_label).to_numpy(np.int64)

    def sensitive(self, split: str = "test", columns: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
        """Columns that define groups: the schema's sensitive attributes, or any other named columns."""
        cols = list(columns) if columns is not None else list(self.schema.sensitive)
        if not cols:
            raise UserInputError(errors.NO_SENSITIVE)
        frame = self.frame(split)
        for c in cols:
            if c not in frame.columns or c == self.schema.target:
                raise UserInputError(
                    f"{c!r} cannot define groups in {self.name}. Choose from {self.group_columns()}."
                )
        return frame[cols]

    def group_columns(self) -> list[str]:
        """Columns a user may audit by: the sensitive attributes first, then the categorical features."""
        return list(dict.fromkeys([*self.schema.sensitive, *self.schema.categorical]))

    def with_target(self, target: str, positive_label) -> TabularDataset:
        """The same rows with another binary target (it leaves the features); validated."""
        if target == self.schema.target and positive_label == self.schema.positive_label:
            return self
        s = self.schema
        schema = Schema(
            target=target, positive_label=positive_label,
            sensitive=tuple(c for c in s.sensitive if c != target),
            numeric=tuple(c for c in s.numeric if c != target),
            categorical=tuple(c for c in s.categorical if c != target) + ((s.target,) if s.target != target else ()),
            ignore=s.ignore,
        )
        return make_dataset(self.name, self.train, schema, test=self.test, description=self.description,
                            provenance=self.provenance)

    def group_sizes(self, column: str, split: str = "all") -> pd.Series:
        return self.frame(split)[column].value_counts(dropna=False).sort_index()

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over the rows and the schema: the cache key and the report's data hash."""
        h = hashlib.sha256()
        h.update(repr(self.schema.to_dict()).encode())
        for part in (self.train, self.test):
            h.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
            h.update(",".join(map(str, part.columns)).encode())
        return h.hexdigest()

    def summary(self) -> dict:
        return {
            "name": self.name,
            "train_rows": len(self.train),
            "test_rows": len(self.test),
            "features": len(self.schema.features),
            "numeric": len(self.schema.numeric),
            "categorical": len(self.schema.categorical),
            "target": self.schema.target,
            "positive_label": self.schema.positive_label,
            "positive_rate_train": float(self.y("train").mean()),
            "sensitive": list(self.schema.sensitive),
        }


def make_dataset(
    name: str,
    train: pd.DataFrame,
    schema: Schema,
    *,
    test: pd.DataFrame | None = None,
    test_size: float = 0.3,
    seed: int = 0,
    description: str = "",
    provenance: str = "",
) -> TabularDataset:
    """Validate ``train`` (and ``test``) against ``schema`` and return a dataset.

    Without ``test``, a seeded split stratified on the target is made.
    """
    if not isinstance(train, pd.DataFrame):
        raise UserInputError(f"Data must be a pandas DataFrame; received {type(train).__name__}.")
    if len(train) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the data"))
    validate_frame(train, schema)
    if test is None:
        if not 0.0 < test_size < 1.0:
            raise UserInputError(f"test_size must be between 0 and 1; received {test_size!r}. Use e.g. 0.3.")
        from sklearn.model_selection import train_test_split

        y = train[schema.target]
        # stratify on integer codes: sklearn's split on string labels takes seconds on a million rows
        strat = pd.factorize(y)[0] if y.value_counts().min() >= 2 else None
        train, test = train_test_split(train, test_size=test_size, random_state=seed, stratify=strat)
        train = train.reset_index(drop=True)
        test = test.reset_index(drop=True)
    else:
        if len(test) == 0:
            raise UserInputError(errors.EMPTY_INPUT.format(what="the test data"))
        validate_frame(test, schema, check_groups=False)
    return TabularDataset(name, train, test, schema, description=description, provenance=provenance)


def validate_frame(df: pd.DataFrame, schema: Schema, *, check_groups: bool = True) -> None:
    """Raise :class:`UserInputError` if ``df`` cannot be audited under ``schema``."""
    needed = [schema.target, *schema.sensitive, *schema.features]
    if df.columns.duplicated().any():
        dup = sorted(set(df.columns[df.columns.duplicated()]))
        raise UserInputError(f"Duplicate column names {dup}; every column needs a unique name. Rename them.")
    for c in needed:
        if c not in df.columns:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=list(df.columns)))
    target = df[schema.target]
    values = target.dropna().unique()
    if len(values) != 2:
        shown = sorted(map(str, values))[:10]
        raise UserInputError(errors.NON_BINARY_TARGET.format(column=schema.target, n=len(values), values=shown))
    check_positive_label(values, schema.positive_label, schema.target, exact=True)
    if target.isna().any():
        raise UserInputError(
            f"The target {schema.target!r} is missing in {int(target.isna().sum())} rows. Drop those rows or fill them."
        )
    for c in schema.features:
        if df[c].isna().all():
            raise UserInputError(errors.ALL_NAN_COLUMN.format(column=c))
    for c in schema.numeric:
        if not pd.api.types.is_numeric_dtype(df[c]):
            bad = df[c][pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna()].astype(str).unique()[:3]
            raise UserInputError(
                f"Column {c!r} is declared numeric but holds non-numbers such as {list(bad)}. "
                "Declare it categorical or clean those values."
            )
    if check_groups:
        for c in schema.sensitive:
            groups = df[c].dropna().unique()
            if len(groups) == 0:
                raise UserInputError(
                    f"The sensitive attribute {c!r} is missing in every row. Pick another attribute or fill it."
                )
            if len(groups) < 2:
                raise UserInputError(errors.SINGLE_GROUP.format(column=c, group=groups[0]))
