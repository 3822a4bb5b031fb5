"""Input contracts: how a loaded model's raw rows become its input, and the check that they fit.

Every uploaded model carries a contract, a preprocessor rebuilt without fitting: a dlxai preprocessing
spec (:class:`SpecPreprocessor`), named numeric columns in order (:class:`ColumnsPreprocessor`), or the raw
columns a model reads by name (:class:`~dlxai.models.rawcolumns.RawColumnsContract`: pipelines and
one-input-per-column ONNX graphs).  All expose :class:`~dlxai.data.preprocess.TabularPreprocessor`, like the
in-app preprocessor, so explanations and counterfactuals treat uploaded and trained models alike.
:func:`check_contract` runs the model on sample rows (shapes, NaN, time budget; in the model's sandboxed
worker for ONNX and TorchScript) before anything else does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from dlxai import errors
from dlxai.errors import DlxaiError, ModelResourceError, ModelTimeoutError, UnsupportedModelError, UserInputError
from dlxai.models.adapters import OUTPUT_KINDS, OnnxClassifier, UploadedClassifier, resolve_output
from dlxai.models.base import AuditModel
from dlxai.models.rawcolumns import raw_contract_from_spec
from dlxai.models.remote import SAMPLE_ROWS
from dlxai.validation import as_levels

DEFAULT_TIME_BUDGET_S = 10.0
CONTRACT_SAMPLE_ROWS = SAMPLE_ROWS  # later predictions get the time budget per this many rows
BUDGET_FIX = ("raise the time budget ('Time budget (s per 256 rows)' on the Upload page, time_budget_s in Python, "
              "--model-time-budget on the command line)")
RAW_FIX = ("Check that the data is the table the model was trained on (same columns and types), and that the model "
           "returns binary scores.")


def _check_columns(X, columns) -> None:
    """A DataFrame holding every column the model's contract names, or a UserInputError naming the first missing."""
    if not isinstance(X, pd.DataFrame):
        raise UserInputError(f"transform needs a DataFrame with named columns; received {type(X).__name__}.")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise UserInputError(errors.UNKNOWN_COLUMN.format(column=missing[0], available=list(X.columns)))


TEXT_IN_NUMERIC_COLUMN = (
    "The model takes column {column!r} as a number, but it holds text such as {examples}. Upload the model's "
    "preprocessing spec, declare only numeric columns, or export a model that reads the raw columns by name (a "
    "scikit-learn pipeline via skops, or ONNX with one input per column)"
)


class ColumnsPreprocessor(TransformerMixin, BaseEstimator):
    """The contract "the model takes these numeric columns, in this order", as a preprocessor."""

    contract_kind = "columns"

    def __init__(self, columns=()):
        self.columns = columns

    def fit(self, X=None, y=None):
        cols = [str(c) for c in self.columns]
        if not cols:
            raise UserInputError(errors.MODEL_NO_INPUT_CONTRACT.format(found="the list of declared columns is empty"))
        if len(set(cols)) != len(cols):
            raise UserInputError(f"The input columns repeat a name: {cols}. List each column once, in the model's order.")
        self.columns_ = tuple(cols)
        self.numeric, self.categorical = tuple(cols), ()
        self.feature_names_out_ = tuple(cols)
        self.feature_groups_ = {c: (i,) for i, c in enumerate(cols)}
        self.n_features_out_ = len(cols)
        # the preprocessor protocol: raw numbers pass through unchanged (no imputation: missing values are refused)
        self.medians_ = np.zeros(len(cols))
        self.means_ = np.zeros(len(cols))
        self.scales_ = np.ones(len(cols))
        self.categories_ = []
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        _check_columns(X, self.columns_)
        out = np.empty((len(X), len(self.columns_)), dtype=np.float32)
        for i, c in enumerate(self.columns_):
            col = X[c]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                raise UserInputError(TEXT_IN_NUMERIC_COLUMN.format(
                    column=c, examples=list(col.dropna().astype(str).unique()[:3])))
            v = col.to_numpy(np.float32, na_value=np.nan)
            if np.isnan(v).any():
                raise UserInputError(
                    f"Column {c!r} has {int(np.isnan(v).sum())} missing values, and the model takes raw numbers. "
                    "Fill them, or upload a preprocessing spec that imputes them."
                )
            out[:, i] = v
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_out_, dtype=object)

    def to_spec(self) -> dict:
        return {"kind": "columns", "columns": list(self.columns_)}

    def describe(self) -> str:
        return f"declared numeric columns, in order — {len(self.columns_)}: {', '.join(self.columns_)}"


class SpecPreprocessor(TransformerMixin, BaseEstimator):
    """dlxai's :class:`~dlxai.data.preprocess.Preprocessor` rebuilt from its exported numbers
    (medians, means, scales, categories): the same float32 matrix without refitting."""

    contract_kind = "standard"

    def __init__(self, spec=None):
        self.spec = spec

    def fit(self, X=None, y=None):
        s = self.spec or {}
        try:
            self.numeric = tuple(map(str, s["numeric"]))
            self.categorical = tuple(map(str, s["categorical"]))
            self.medians_ = np.asarray(s["medians"], dtype=np.float64)
            self.means_ = np.asarray(s["means"], dtype=np.float64)
            self.scales_ = np.asarray(s["scales"], dtype=np.float64)
            self.categories_ = [list(map(str, c)) for c in s["categories"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"preprocessing: {exc!r}")) from exc
        n = len(self.numeric)
        if not (len(self.medians_) == len(self.means_) == len(self.scales_) == n) or len(self.categories_) != len(self.categorical):
            raise UserInputError(errors.MODEL_SPEC_INVALID.format(
                detail=f"preprocessing lists {n} numeric columns but {len(self.medians_)} medians, {len(self.means_)} "
                       f"means, {len(self.scales_)} scales; {len(self.categorical)} categorical columns but "
                       f"{len(self.categories_)} category lists"))
        if not (np.isfinite(self.medians_).all() and np.isfinite(self.means_).all() and (self.scales_ > 0).all()):
            raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail="medians/means must be finite and scales > 0"))
        self.columns_ = self.numeric + self.categorical
        names = list(self.numeric) + [f"{c}_{v}" for c, cats in zip(self.categorical, self.categories_) for v in cats]
        self.feature_names_out_ = tuple(s.get("feature_names_out") or names)
        groups, i = {}, 0
        for c in self.numeric:
            groups[c] = (i,)
            i += 1
        for c, cats in zip(self.categorical, self.categories_):
            groups[c] = tuple(range(i, i + len(cats)))
            i += len(cats)
        self.feature_groups_ = groups
        self.n_features_out_ = i
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        _check_columns(X, self.columns_)
        parts = []
        if self.numeric:
            num = np.empty((len(X), len(self.numeric)), dtype=np.float64)
            for i, c in enumerate(self.numeric):
                col = X[c]
                if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                    raise UserInputError(f"Column {c!r} must be numeric for this model; it holds text such as "
                                         f"{list(col.dropna().astype(str).unique()[:3])}.")
                num[:, i] = col.to_numpy(np.float64, na_value=np.nan)
            num = np.where(np.isnan(num), self.medians_, num)
            num -= self.means_
            num /= self.scales_
            parts.append(num)
        for c, cats in zip(self.categorical, self.categories_):
            values = as_levels(X[c])
            codes = pd.Index(cats).get_indexer(values)  # -1 for a level unseen in training
            oh = np.zeros((len(X), len(cats)), dtype=np.float64)
            known = codes >= 0
            oh[np.nonzero(known)[0], codes[known]] = 1.0
            parts.append(oh)
        out = np.hstack(parts) if parts else np.zeros((len(X), 0))
        return np.ascontiguousarray(out, dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_out_, dtype=object)

    def to_spec(self) -> dict:
        return {"kind": "standard", **{k: v for k, v in (self.spec or {}).items() if k != "kind"}}

    def describe(self) -> str:
        return (f"preprocessing spec — {len(self.numeric)} numeric and {len(self.categorical)} categorical columns, "
                f"{self.n_features_out_} model inputs")


def preprocessing_spec(prep) -> dict:
    """The JSON-able numbers behind a fitted preprocessor (dlxai's own, or a contract from this module)."""
    if hasattr(prep, "to_spec"):
        return prep.to_spec()
    if not hasattr(prep, "medians_"):
        raise UnsupportedModelError("The model's preprocessing is not fitted, so it cannot be exported.")
    return {"kind": "standard", "numeric": list(prep.numeric), "categorical": list(prep.categorical),
            "medians": prep.medians_.tolist(), "means": prep.means_.tolist(), "scales": prep.scales_.tolist(),
            "categories": [list(c) for c in prep.categories_], "feature_names_out": list(prep.feature_names_out_)}


def preprocessor_from_spec(spec: dict, reference=None, file: str = "model"):
    """The fitted contract a spec's ``preprocessing`` describes: ``standard`` (dlxai's numbers), ``columns`` or
    ``raw`` (fitted on the ``reference`` training rows, when given)."""
    if not isinstance(spec, dict):
        raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=f"preprocessing must be an object, got {type(spec).__name__}"))
    kind = spec.get("kind")
    if kind == "columns":
        return ColumnsPreprocessor(list(spec.get("columns") or [])).fit()
    if kind == "standard":
        return SpecPreprocessor(spec).fit()
    if kind == "raw":
        return raw_contract_from_spec(spec, reference, file)
    raise UserInputError(errors.MODEL_SPEC_INVALID.format(
        detail=f"preprocessing kind {kind!r} (use 'standard', 'columns' or 'raw')"))


# --- the check on sample rows ----------------------------------------------------------------------
@dataclass(frozen=True)
class ContractReport:
    """What the input-contract check saw on a sample of rows."""

    ok: bool
    n_rows: int
    n_inputs: int | None
    output_shape: tuple
    output_kind: str
    seconds: float
    time_budget_s: float
    problems: tuple[str, ...] = ()
    contract: str = ""  # which contract was used and why, e.g. "raw columns (the pipeline's own preprocessing) — …"


def _short(exc: BaseException, limit: int = 300) -> str:
    """One readable line for a user's model error (TorchScript prepends its interpreter traceback)."""
    text = str(exc)
    if "Traceback of TorchScript" in text or "The following operation failed" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        text = lines[-1] if lines else text
    return f"{type(exc).__name__}: {text[:limit]}"


def _input_matrix(model: AuditModel, rows: pd.DataFrame, problems: list[str]):
    """The model's input matrix for ``rows``, or None with the reason appended to ``problems``."""
    missing = [c for c in model.feature_columns if c not in rows.columns]
    if missing:
        problems.append(f"the data lacks the input columns {missing[:10]} (it has {list(rows.columns)[:15]})")
        return None
    try:
        frame = getattr(model.preprocessor, "frame", None)  # a raw-columns model reads the rows themselves
        return frame(rows) if frame is not None else model.transform(rows)
    except DlxaiError as exc:
        problems.append(f"preparing the input failed: {exc}")
        return None


def _run(est, X, time_budget_s: float, problems: list[str]):
    """``(raw output or None, seconds, over the budget)``: the estimator on ``X`` after a width check.  An uploaded
    network runs in its worker, stopped at the budget; a model in this process is timed, and too slow is a problem
    too."""
    expected = None
    if isinstance(X, np.ndarray):
        if isinstance(est, OnnxClassifier):
            expected = est.input_width
        elif getattr(est, "n_features_in_", None) is not None:
            expected = int(est.n_features_in_)
    if expected is not None and expected != X.shape[1]:
        problems.append(f"the model expects {expected} input columns, but the input contract gives {X.shape[1]}")
        return None, 0.0, False
    start = time.perf_counter()
    try:
        if isinstance(est, UploadedClassifier):
            out = np.asarray(est.raw_output(X, timeout_s=float(time_budget_s)))
        else:
            out = np.asarray(est.predict_proba(X))
    except ModelTimeoutError:
        return None, float(time_budget_s), True
    except ModelResourceError as exc:
        problems.append(f"the model's worker stopped on {len(X)} sample rows: {exc}")
        return None, time.perf_counter() - start, False
    except Exception as exc:  # noqa: BLE001 - the user's model may raise anything
        problems.append(f"the model raised on {len(X)} sample rows: {_short(exc)}")
        return None, 0.0, False
    seconds = time.perf_counter() - start
    return (None, seconds, True) if seconds > time_budget_s else (out, seconds, False)


def _read_output(est, out: np.ndarray, n_rows: int, problems: list[str]) -> str:
    """How the output is read ("probabilities"/"logits"; "" when unusable), its problems appended."""
    shape = tuple(out.shape)
    if out.dtype.kind not in "fiub":
        problems.append(f"the model returned {out.dtype} values, not numbers")
    elif out.ndim == 0 or out.shape[0] != n_rows:
        problems.append(f"the model returned {shape[0] if shape else 'a scalar'} outputs for {n_rows} rows")
    elif not (out.ndim == 1 or (out.ndim == 2 and out.shape[1] in (1, 2))):
        problems.append(f"the output shape is {shape}; expected (n, 2), (n, 1) or (n,) logits/probabilities")
    elif not np.isfinite(out.astype(np.float64)).all():
        bad = ~np.isfinite(out.astype(np.float64))
        n_bad = int(bad.any(axis=-1).sum()) if out.ndim == 2 else int(bad.sum())
        problems.append(f"the model returned NaN or infinite values for {n_bad} of {n_rows} sample rows")
    else:
        flat = out.astype(np.float64)
        flat = flat[:, 0] if flat.ndim == 2 and flat.shape[1] == 1 else flat
        requested = getattr(est, "output", "probabilities")
        kind = resolve_output(flat, requested if requested in OUTPUT_KINDS else "probabilities")
        if isinstance(est, UploadedClassifier):
            est.output_ = kind  # our own wrapper, never the user's module
        elif len(getattr(est, "classes_", [0, 1])) != 2:
            problems.append(f"the classifier has classes {list(est.classes_)}; dlxai needs two")
        if requested == "probabilities" and not np.all((flat >= 0) & (flat <= 1)):
            problems.append("the output was declared as probabilities but lies outside [0, 1]")
        return kind
    return ""


def check_contract(model: AuditModel, sample: pd.DataFrame, *, time_budget_s: float = DEFAULT_TIME_BUDGET_S,
                   raise_on_problem: bool = True) -> ContractReport:
    """Run ``model`` on up to 256 ``sample`` rows and check input width, output shape, NaN and speed.

    Every mismatch is collected and (by default) raised together as one
    :class:`UnsupportedModelError` before any other engine call sees the model.
    """
    if not isinstance(sample, pd.DataFrame) or len(sample) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the sample for the model check"))
    if not (isinstance(time_budget_s, (int, float)) and time_budget_s > 0):
        raise UserInputError(f"time_budget_s must be a positive number of seconds; received {time_budget_s!r}.")
    rows = sample.head(CONTRACT_SAMPLE_ROWS)
    problems: list[str] = []
    n_inputs, shape, kind, seconds, over = None, (), "", 0.0, False
    X = _input_matrix(model, rows, problems)
    if X is not None:
        n_inputs = int(X.shape[1])
        out, seconds, over = _run(model.estimator, X, time_budget_s, problems)
        if over:  # the model may fit the contract: it did not answer in time, which is a different fix
            measured = f" ({seconds:.2f} s)" if seconds > time_budget_s else ""
            problems.append(f"the model took longer than the time budget of {time_budget_s:g} s on {len(X)} "
                            f"rows{measured}")
            if raise_on_problem:
                raise UnsupportedModelError(errors.MODEL_CHECK_TIMEOUT.format(
                    seconds=time_budget_s, rows=len(X), measured=measured, fix=BUDGET_FIX))
        if out is not None:
            shape = tuple(out.shape)
            kind = _read_output(model.estimator, out, len(X), problems)
    problems = [p.rstrip(". ") for p in problems]  # joined below: no ".." or ".;" where a reason ends a sentence
    describe = getattr(model.preprocessor, "describe", None)
    report = ContractReport(not problems, len(rows), n_inputs, shape, kind, float(seconds), float(time_budget_s),
                            tuple(problems), describe() if describe is not None else "")
    if problems and raise_on_problem:
        fix = (RAW_FIX if getattr(model.preprocessor, "contract_kind", "") == "raw" else
               "Check that the preprocessing spec or the declared columns match what the model was trained on, "
               "and that the model returns binary scores.")
        raise UnsupportedModelError(errors.MODEL_CONTRACT.format(problems="; ".join(problems), fix=fix))
    return report
