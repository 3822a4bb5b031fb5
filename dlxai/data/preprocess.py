"""Preprocessing fitted on the training split only: impute, one-hot encode, scale.

Every preprocessor a model can carry (this one, and the input contracts of uploaded models in
:mod:`dlxai.models`) exposes the :class:`TabularPreprocessor` protocol; explanations,
counterfactuals and the surrogate use only that protocol, never one class's private attributes.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from dlxai import errors
from dlxai.errors import NotFittedError, UserInputError
from dlxai.validation import as_levels


@runtime_checkable
class TabularPreprocessor(Protocol):
    """What every fitted preprocessor of a tabular model exposes.

    Raw columns are ``numeric`` (imputed with ``medians_``, then ``(x - means_) / scales_``) and
    ``categorical`` (one-hot over ``categories_``, "missing" a level of its own); ``feature_groups_``
    maps each raw column to the output columns that encode it.
    """

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    feature_names_out_: tuple[str, ...]
    feature_groups_: dict[str, tuple[int, ...]]
    n_features_out_: int
    medians_: np.ndarray
    means_: np.ndarray
    scales_: np.ndarray
    categories_: list[list[str]]

    def transform(self, X: pd.DataFrame) -> np.ndarray: ...


class Preprocessor(TransformerMixin, BaseEstimator):
    """Median-impute and standardise numeric columns; one-hot categorical ones (missing is its own level).

    Output is a float32 matrix.  ``feature_groups_`` maps each raw feature to the output columns
    that encode it (one for a numeric feature, one per level for a categorical one), which lets
    explanations and counterfactuals work per raw feature.
    """

    def __init__(self, numeric=(), categorical=()):
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y=None):
        if not isinstance(X, pd.DataFrame):
            raise UserInputError(f"Preprocessor.fit needs a DataFrame with named columns; received {type(X).__name__}.")
        numeric, categorical = list(self.numeric), list(self.categorical)
        missing = [c for c in numeric + categorical if c not in X.columns]
        if missing:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=missing[0], available=list(X.columns)))
        for c in numeric + categorical:
            if X[c].isna().all():
                raise UserInputError(errors.ALL_NAN_COLUMN.format(column=c))
        self.columns_ = tuple(numeric + categorical)
        cat_pipe = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32)
        self.transformer_ = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                ("cat", cat_pipe, categorical),
            ],
            sparse_threshold=0.0,
            verbose_feature_names_out=False,
        )
        self.transformer_.fit(self._as_object(X))
        names = list(self.transformer_.get_feature_names_out())
        self.feature_names_out_ = tuple(names)
        groups: dict[str, list[int]] = {c: [] for c in self.columns_}
        i = 0
        for c in numeric:
            groups[c].append(i)
            i += 1
        if categorical:
            enc = self.transformer_.named_transformers_["cat"]
            for c, cats in zip(categorical, enc.categories_):
                groups[c].extend(range(i, i + len(cats)))
                i += len(cats)
        self.feature_groups_ = {k: tuple(v) for k, v in groups.items()}
        self.n_features_out_ = len(names)
        named = self.transformer_.named_transformers_
        if numeric:
            pipe = named["num"]
            self.medians_ = np.asarray(pipe[0].statistics_, dtype=np.float64)
            self.means_ = np.asarray(pipe[-1].mean_, dtype=np.float64)
            self.scales_ = np.asarray(pipe[-1].scale_, dtype=np.float64)
        else:
            self.medians_ = self.means_ = self.scales_ = np.zeros(0)
        self.categories_ = [list(map(str, c)) for c in named["cat"].categories_] if categorical else []
        return self

    def _as_object(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X[list(self.numeric) + list(self.categorical)].copy()
        for c in self.categorical:  # missing is a level of its own; every level is a string
            X[c] = as_levels(X[c])
        return X

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "transformer_"):
            raise NotFittedError(errors.NOT_FITTED.format(name="Preprocessor", method="transform"))
        if not isinstance(X, pd.DataFrame):
            raise UserInputError(f"transform needs a DataFrame with named columns; received {type(X).__name__}.")
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=missing[0], available=list(X.columns)))
        return np.ascontiguousarray(self.transformer_.transform(self._as_object(X)), dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_out_, dtype=object)
