"""The raw-columns contract: models that take the table itself.

A scikit-learn pipeline saved with skops (a ColumnTransformer with imputers and encoders in front of the
classifier) and an ONNX graph with one named input per column (as skl2onnx writes such a pipeline) read the
data's own columns, text categories included, and do their preprocessing themselves.  Their contract,
:class:`RawColumnsContract`, names those columns and says how the model reads each one (a number or a
category), inferred from what the model exposes (``feature_names_in_``, the ColumnTransformer's column lists and
encoder categories, the ONNX inputs' names and types) and from the training rows of the active dataset
(levels, medians).

It satisfies :class:`~dlxai.data.preprocess.TabularPreprocessor` with one matrix column per raw column:
numbers as they are (missing -> the training median) and a category as its level's index.  So model-agnostic
methods work per raw column: SHAP's KernelExplainer treats a categorical column as one feature, the random
counterfactual search moves in the raw column space (:meth:`RawColumnsContract.matrix_from_parts`), and
surrogate trees split on raw columns.  :class:`RawColumnsClassifier` turns that matrix back into a DataFrame
for the model; predictions on data rows (:meth:`RawColumnsContract.frame`) hand the model the rows
themselves, so they equal the exporter's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.models.adapters import UploadedClassifier

MISSING_LEVEL = "missing"  # as in the in-app preprocessor and the counterfactual space
NUMERIC, CATEGORICAL = "numeric", "categorical"
SOURCES = {
    "sklearn": "the pipeline's own preprocessing",
    "onnx": "one ONNX input per column",
    "spec": "as the spec declares",
}
MAX_SHOWN = 12

# --- messages (tests match on these) ----------------------------------------------------------------------
RAW_MISSING_COLUMNS = (
    "The model {file!r} reads the columns {missing} (by name), which the data lacks; it has {available}. Upload "
    "the table the model was trained on, or rename those columns to the names the model was given."
)
RAW_TEXT_AS_NUMBER = (
    "The model {file!r} reads column {column!r} as a number ({how}), but the data holds text such as {examples}. "
    "Map the data so that {column!r} holds numbers, or use a model that encodes it as a category."
)
ONNX_INPUT_NO_COLUMN = (
    "The ONNX model {file!r} has an input {input!r} ({type}, shape {shape}) that matches no column of the data "
    "({available}). Its inputs are matched to columns by name: rename the column or the input, or export the "
    "model with one input per column named after it."
)
ONNX_INPUT_NOT_A_COLUMN = (
    "The ONNX model {file!r} has several inputs, and input {input!r} has shape {shape}, not one value per row "
    "([None, 1]). dlxai feeds several inputs one data column each (as skl2onnx writes a pipeline); export the "
    "model with one [None, 1] input per column, or with one input of all preprocessed columns and its spec."
)
NO_FAVOURABLE_CLASS = (
    "The model {file!r} predicts the classes {classes}, not 0/1, and {which}. Give the dataset's favourable "
    "(positive) label as the model names it, e.g. {example!r}."
)

_ENCODERS = ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder")
_NUMERIC_STEPS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer",
                  "PowerTransformer", "QuantileTransformer", "KBinsDiscretizer", "PolynomialFeatures",
                  "SplineTransformer", "Binarizer")


def _shown(names) -> str:
    names = list(names)
    more = f", … ({len(names) - MAX_SHOWN} more)" if len(names) > MAX_SHOWN else ""
    return ", ".join(map(str, names[:MAX_SHOWN])) + more


# --- what a scikit-learn pipeline tells about its columns -------------------------------------------------
def _steps(transformer) -> list:
    """The transformer and, for a Pipeline, its steps (what decides how a column is read)."""
    steps = getattr(transformer, "steps", None)
    return [s for _, s in steps] if steps else [transformer]


def _column_names(cols, names_in) -> list[str]:
    if isinstance(cols, str):
        return [cols]
    if isinstance(cols, slice):
        return [str(c) for c in list(names_in)[cols]]
    cols = list(np.asarray(cols).ravel()) if not isinstance(cols, list) else cols
    if cols and all(isinstance(c, (bool, np.bool_)) for c in cols):
        return [str(n) for n, keep in zip(names_in, cols) if keep]
    return [str(names_in[int(c)]) if isinstance(c, (int, np.integer)) else str(c) for c in cols]


def sklearn_columns(est) -> tuple[list[str], dict[str, str], dict[str, list]] | None:
    """``(columns, kinds, categories)`` a fitted scikit-learn model reads by name, or None when it was fitted on
    a matrix without column names.  ``kinds`` and ``categories`` hold what its ColumnTransformer says (a
    column through an encoder is categorical, with the encoder's categories; through a scaler numeric)."""
    names = getattr(est, "feature_names_in_", None)
    if names is None:
        return None
    names = [str(n) for n in names]
    kinds: dict[str, str] = {}
    categories: dict[str, list] = {}
    first = _steps(est)[0]
    for _, trans, cols in getattr(first, "transformers_", ()) or ():
        if isinstance(trans, str):  # "drop" / "passthrough": the data's type decides
            continue
        cols = _column_names(cols, names)
        steps = _steps(trans)
        encoder = next((s for s in steps if type(s).__name__ in _ENCODERS), None)
        if encoder is not None:
            cats = getattr(encoder, "categories_", None)
            for i, c in enumerate(cols):
                kinds[c] = CATEGORICAL
                if cats is not None and i < len(cats):
                    categories[c] = [v for v in list(cats[i]) if not (isinstance(v, float) and np.isnan(v))]
        elif any(type(s).__name__ in _NUMERIC_STEPS for s in steps):
            for c in cols:
                kinds[c] = NUMERIC
    return names, kinds, categories


def onnx_columns(inputs, file: str) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """``(columns, kinds, input types)`` of an ONNX graph with one input per column: strings are categories."""
    cols, kinds, types = [], {}, {}
    for name, kind, shape in inputs:
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise UserInputError(ONNX_INPUT_NOT_A_COLUMN.format(file=file, input=name, shape=list(shape)))
        cols.append(name)
        kinds[name] = CATEGORICAL if kind == "tensor(string)" else NUMERIC
        types[name] = kind
    return cols, kinds, types


# --- the contract ---------------------------------------------------------------------------------------
class RawColumnsContract(TransformerMixin, BaseEstimator):
    """The contract "the model takes these raw columns, by name", as a preprocessor (see the module docstring).

    ``kinds`` maps a column to ``numeric``/``categorical`` where the model says so (the rest follow the
    training data's types); ``categories`` holds levels the model knows (its encoders'); ``input_types``
    the ONNX input types; ``source`` is ``sklearn``, ``onnx`` or ``spec``; ``file`` names the model file in
    messages.  :meth:`fit` takes the training rows (or None: levels from ``categories`` only).
    """

    contract_kind = "raw"

    def __init__(self, columns=(), kinds=None, categories=None, input_types=None, source="sklearn", file="model"):
        self.columns = columns
        self.kinds = kinds
        self.categories = categories
        self.input_types = input_types
        self.source = source
        self.file = file

    def fit(self, X: pd.DataFrame | None = None, y=None):
        cols = [str(c) for c in self.columns]
        if not cols or len(set(cols)) != len(cols):
            raise UserInputError(f"The model {self.file!r} names the columns {cols}; a raw-columns contract needs "
                                 "distinct column names.")
        frames = [X] if isinstance(X, pd.DataFrame) else [x for x in (X or ()) if isinstance(x, pd.DataFrame)]
        if frames:
            self._check_present(frames[0])
        given = dict(self.kinds or {})
        kinds = {c: given.get(c) or self._kind_from_data(c, frames) for c in cols}
        self.columns_ = tuple(cols)
        self.numeric = tuple(c for c in cols if kinds[c] == NUMERIC)
        self.categorical = tuple(c for c in cols if kinds[c] == CATEGORICAL)
        for c in self.numeric:
            for f in frames:
                self._numbers(f[c], c)  # text in a column the model reads as a number: say so now
        self.medians_ = np.array([self._median(c, frames) for c in self.numeric], dtype=np.float64)
        self.means_ = np.zeros(len(self.numeric))
        self.scales_ = np.ones(len(self.numeric))
        self.integer_ = tuple(c for c in self.numeric if self._integer(c, frames))
        self.level_values_ = [self._levels(c, frames) for c in self.categorical]
        self.categories_ = [[MISSING_LEVEL if v is None else str(v) for v in lv] for lv in self.level_values_]
        self.feature_names_out_ = self.numeric + self.categorical
        self.feature_groups_ = {c: (i,) for i, c in enumerate(self.feature_names_out_)}
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    # inference helpers
    def _check_present(self, X: pd.DataFrame) -> None:
        missing = [c for c in self.columns if str(c) not in X.columns]
        if missing:
            raise UserInputError(RAW_MISSING_COLUMNS.format(file=self.file, missing=missing,
                                                            available=_shown(X.columns)))

    @staticmethod
    def _kind_from_data(c: str, frames) -> str:
        if not frames:
            return NUMERIC
        col = frames[0][c]
        numeric = pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
        return NUMERIC if numeric else CATEGORICAL

    def _how(self, c: str) -> str:
        if self.input_types and c in self.input_types:
            return f"its ONNX input {c!r} is a {self.input_types[c]}"
        if self.kinds and c in self.kinds:
            return "its pipeline scales or imputes it as a number"
        return "the training data holds numbers there"

    def _numbers(self, col: pd.Series, c: str) -> np.ndarray:
        if pd.api.types.is_bool_dtype(col):
            return col.to_numpy(dtype=np.float64)
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        text = np.isnan(values) & col.notna().to_numpy()
        if text.any():
            examples = list(col[text].astype(str).unique()[:3])
            raise UserInputError(RAW_TEXT_AS_NUMBER.format(file=self.file, column=c, how=self._how(c),
                                                           examples=examples))
        return values

    def _median(self, c: str, frames) -> float:
        values = np.concatenate([self._numbers(f[c], c) for f in frames[:1]]) if frames else np.zeros(0)
        values = values[np.isfinite(values)]
        return float(np.median(values)) if values.size else 0.0

    def _integer(self, c: str, frames) -> bool:
        if self.input_types and c in self.input_types:
            return "int" in self.input_types[c]
        return bool(frames) and pd.api.types.is_integer_dtype(frames[0][c])

    def _levels(self, c: str, frames) -> list:
        """The model's known levels (its encoder's) first, then the data's, in their original types; None (shown
        as "missing") when the data has missing values there."""
        seen, out = set(), []
        for v in list((self.categories or {}).get(c, ())) + [v for f in frames for v in f[c].dropna().unique()]:
            v = v.item() if isinstance(v, np.generic) else v
            if str(v) not in seen:
                seen.add(str(v))
                out.append(v)
        if any(f[c].isna().any() for f in frames):
            out.append(None)
        return out

    # rows -> the model's input
    def frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """The rows the model reads: the named columns, checked (present; numbers where it reads numbers)."""
        if not isinstance(X, pd.DataFrame):
            raise UserInputError(f"The model {self.file!r} takes a table with named columns; received "
                                 f"{type(X).__name__}.")
        self._check_present(X)
        for c in self.numeric:
            if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])):
                self._numbers(X[c], c)
        return X[list(self.columns_)]

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Raw rows -> one matrix column per raw column: numbers (missing -> median), level indices (-1: unseen)."""
        X = self.frame(X)
        out = np.empty((len(X), self.n_features_out_), dtype=np.float64)
        for j, c in enumerate(self.numeric):
            v = self._numbers(X[c], c)
            out[:, j] = np.where(np.isnan(v), self.medians_[j], v)
        for g, c in enumerate(self.categorical):
            s = X[c].astype(object).where(X[c].notna(), MISSING_LEVEL).astype(str)
            out[:, len(self.numeric) + g] = pd.Index(self.categories_[g]).get_indexer(s)
        return np.ascontiguousarray(out, dtype=np.float32)

    def decode(self, Z) -> pd.DataFrame:
        """The matrix back to a DataFrame in the model's column order: whole numbers where the model reads
        integers, each level index as its original value (None where missing or unknown)."""
        Z = np.asarray(Z, dtype=np.float64).reshape(-1, self.n_features_out_)
        data = {}
        for j, c in enumerate(self.numeric):
            v = Z[:, j]
            data[c] = np.rint(v).astype(np.int64) if c in self.integer_ and np.isfinite(v).all() else v
        for g, c in enumerate(self.categorical):
            levels = np.array(list(self.level_values_[g]) + [None], dtype=object)
            raw = Z[:, len(self.numeric) + g]
            code = np.where(np.isfinite(raw), np.rint(raw), -1).astype(np.int64)
            code = np.where((code >= 0) & (code < len(levels) - 1), code, len(levels) - 1)
            data[c] = levels[code]
        return pd.DataFrame(data)[list(self.columns_)]

    # the counterfactual space's internal rows (numbers, level codes) <-> the matrix
    def matrix_from_parts(self, num: np.ndarray, codes: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.hstack([num, codes]), dtype=np.float32)

    def parts_from_matrix(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = np.asarray(Z, dtype=np.float64)
        k = len(self.numeric)
        return Z[:, :k], np.rint(Z[:, k:]).astype(np.int64)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_out_, dtype=object)

    def describe(self) -> str:
        how = SOURCES.get(self.source, self.source)
        return f"raw columns ({how}) — {len(self.columns_)} columns: {_shown(self.columns_)}"

    def to_spec(self) -> dict:
        spec = {"kind": "raw", "columns": list(self.columns_), "numeric": list(self.numeric),
                "categorical": list(self.categorical), "categories": [list(c) for c in self.categories_],
                "medians": self.medians_.tolist()}
        if self.input_types:
            spec["input_types"] = dict(self.input_types)
        return spec


def raw_contract_from_spec(spec: dict, reference=None, file: str = "model") -> RawColumnsContract:
    """The contract a spec's ``preprocessing`` of kind ``raw`` declares (the schema checked its shape)."""
    kinds = {c: NUMERIC for c in spec.get("numeric", ())} | {c: CATEGORICAL for c in spec.get("categorical", ())}
    cats = dict(zip(spec.get("categorical", ()), spec.get("categories", ())))
    cats = {c: [v for v in levels if v != MISSING_LEVEL] for c, levels in cats.items()}
    return RawColumnsContract(spec["columns"], kinds, cats, spec.get("input_types"), "spec", file).fit(reference)


# --- the model on raw columns ---------------------------------------------------------------------------
def favourable_index(classes, positive_label=None, file: str = "model") -> int:
    """Which column of ``predict_proba`` is the favourable outcome: the class 1/True, else the dataset's label."""
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if len(classes) != 2:
        raise UnsupportedModelError(f"The model {file!r} has classes {classes}; dlxai audits binary classifiers.")
    if positive_label is not None:
        for i, c in enumerate(classes):
            if str(c) == str(positive_label):
                return i
    for i, c in enumerate(classes):
        if c is True or (isinstance(c, (int, np.integer)) and not isinstance(c, bool) and int(c) == 1):
            return i
    which = ("no favourable label was given" if positive_label is None
             else f"none of them is the favourable label {positive_label!r}")
    raise UserInputError(NO_FAVOURABLE_CLASS.format(file=file, classes=classes, which=which, example=classes[-1]))


class RawColumnsClassifier(UploadedClassifier):
    """A model that reads raw columns, as the engine's classifier on the contract's matrix.

    ``inner`` is a scikit-learn model (``predict_proba`` on a DataFrame; ``favourable`` its favourable column)
    or an :class:`~dlxai.models.adapters.OnnxClassifier` fed by input name.  A DataFrame goes to it as it is; a
    matrix (explanations, counterfactuals) is decoded to a DataFrame first.  No ``module_``: gradient methods do
    not apply to raw columns.
    """

    def __init__(self, inner=None, contract=None, favourable: int = 1, output: str = "auto"):
        self.inner = inner
        self.contract = contract
        self.favourable = favourable
        self.output = output

    explains = ""

    def raw_output(self, X, timeout_s: float | None = None) -> np.ndarray:
        frame = X if isinstance(X, pd.DataFrame) else self.contract.decode(X)
        if isinstance(self.inner, UploadedClassifier):
            return self.inner.raw_output(frame, timeout_s)
        if len(frame) <= SMALL_BATCH:  # searches and explanations call with small batches, many times
            with _openmp().limit(limits=1, user_api="openmp"):
                p = np.asarray(self.inner.predict_proba(frame), dtype=np.float64)
        else:
            p = np.asarray(self.inner.predict_proba(frame), dtype=np.float64)
        return p[:, [1 - self.favourable, self.favourable]]


SMALL_BATCH = 4096


@lru_cache(maxsize=1)
def _openmp():
    """OpenMP's thread pools (scikit-learn's tree ensembles): on a small batch, waking every thread costs more than
    it saves (4x on HistGradientBoosting predicting 100 rows), so small batches run on one thread."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
