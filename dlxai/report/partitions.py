"""What one Dask task computes from one file of a partitioned table: small summaries that add up exactly.

A task reads only the columns the audit needs, Parquet in batches of ``batch_rows`` rows (so its memory is
bounded whatever the file's size; CSV files are read whole, with the single-file reader's rules), and returns a
:class:`Summary`: rows per (group label of each sensitive attribute, target value, decision), plus the per-class
score summaries of :mod:`dlxai.performance`.  Target and prediction values are kept as the values themselves,
because which target value is the positive label (and so what a prediction column's labels mean) is known only
once every partition has been seen; :mod:`dlxai.report.distributed` merges the summaries and decides.

Group labels are the text :func:`dlxai.fairness.metrics.group_codes` gives: ``str(value)``, missing values
``"missing"``.  Data errors (a missing column, a non-numeric score...) come back as ``Summary.error`` naming the
file, so Dask does not retry them; anything else raises and Dask retries the task.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import DlxaiError, UserInputError
from dlxai.performance import class_scores
from dlxai.report import sample

BATCH_ROWS = 1_000_000
MAX_VALUES = 64  # distinct target / prediction values a partition keeps; more cannot be a binary column
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
MODEL_SCORES = "model probabilities"


@dataclass(frozen=True)
class ModelRef:
    """How a worker loads the audited model (the file's bytes travel separately, once per worker)."""

    sha256: str
    name: str
    spec: dict | None = None
    input_columns: tuple[str, ...] | None = None
    trusted: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Job:
    """What every partition computes: the same for all of them."""

    target: str
    sensitive: tuple[str, ...]
    mode: str  # "prediction" | "score" | "model"
    column: str | None  # the prediction or score column (None for a model)
    threshold: float | None = None
    higher_is_favourable: bool = True
    model: ModelRef | None = None
    features: tuple[str, ...] = ()  # the model's input columns
    batch_rows: int = BATCH_ROWS
    n_bins: int = 10
    sample_rows: int = 0  # explanations: candidate rows kept per stratum (dlxai.report.sample)
    sample_seed: int = 0

    @property
    def columns(self) -> list[str]:
        cols = [self.target, *self.sensitive, *([self.column] if self.column else []), *self.features]
        return list(dict.fromkeys(cols))


@dataclass
class Summary:
    """One partition's contribution: counts keyed by values, never rows."""

    path: str
    rows: int = 0
    columns: tuple[str, ...] = ()
    sha256: str = ""
    error: str | None = None
    target_values: list = field(default_factory=list)
    prediction_values: list = field(default_factory=list)
    prediction_kinds: set = field(default_factory=set)  # "bool" | "numeric" | "other", one per batch dtype
    categories: dict = field(default_factory=dict)  # attribute -> category labels in order, None if not categorical
    cube: pd.DataFrame | None = None  # sensitive labels..., "t" (target value index), "d" (decision or value index), "n"
    scores: dict = field(default_factory=dict)  # target value index -> ClassScores
    sample: pd.DataFrame | None = None  # explanation candidates (dlxai.report.sample), when asked for
    seconds: float = 0.0


# --- reading ------------------------------------------------------------------------------------------
def file_kind(path: str) -> str:
    low = path.lower()
    if low.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if low.endswith(CSV_SUFFIXES):
        return "csv"
    raise UserInputError(f"Cannot tell the format of {path!r} from its name. Use .parquet or .csv (.csv.gz, .tsv).")


def hive_values(path: str) -> dict[str, str]:
    """``key=value`` folders of a hive-partitioned layout (``region=EU/part-0.parquet``): columns not in the file."""
    return dict(p.split("=", 1) for p in PurePosixPath(path.replace("\\", "/")).parent.parts if "=" in p)


def _open(path: str):
    """A binary file object: local paths directly, URLs (s3://...) through fsspec."""
    if "://" not in path:
        return open(path, "rb")
    import fsspec

    return fsspec.open(path, "rb").open()


def _parquet(path: str):
    """A ParquetFile and what to close after it; a local path is read by Arrow itself (faster than a Python file)."""
    import pyarrow.parquet as pq

    fh = _open(path) if "://" in path else None
    return pq.ParquetFile(fh if fh is not None else path), fh


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with _open(path) as fh:
        for block in iter(lambda: fh.read(1 << 23), b""):
            h.update(block)
    return h.hexdigest()


def _present(path: str, names: list[str], needed: list[str]) -> tuple[list[str], dict]:
    hive = hive_values(path)
    missing = [c for c in needed if c not in names and c not in hive]
    if missing:
        raise UserInputError(errors.UNKNOWN_COLUMN.format(column=missing[0], available=names))
    return [c for c in needed if c in names], {c: hive[c] for c in needed if c not in names}


def parquet_columns(pf) -> list[str]:
    """The columns a pandas reader shows (the stored pandas index is not one)."""
    meta = pf.schema_arrow.pandas_metadata or {}
    index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    return [c for c in pf.schema_arrow.names if c not in index]


def _read_csv(path: str) -> pd.DataFrame:
    from dlxai.data.tables import read_table  # the single-file reader

    with _open(path) as fh:
        return read_table(fh.read(), PurePosixPath(path).name).frame


def read_batches(path: str, needed: list[str], batch_rows: int, names_out: list):
    """Frames of the ``needed`` columns of one file, ``batch_rows`` rows at a time (CSV: all at once)."""
    if file_kind(path) == "csv":
        frame = _read_csv(path)
        names_out.extend(frame.columns)
        present, fixed = _present(path, list(frame.columns), needed)
        yield frame[present].assign(**fixed)
        return
    pf, fh = _parquet(path)
    try:
        names = parquet_columns(pf)
        names_out.extend(names)
        present, fixed = _present(path, names, needed)
        for batch in pf.iter_batches(batch_size=batch_rows, columns=present):
            yield batch.to_pandas().assign(**fixed)
    finally:
        pf.close()
        if fh is not None:
            fh.close()


def read_head(path: str, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows of one file, every column (the sample a model's input contract is checked on)."""
    if file_kind(path) == "csv":
        return _read_csv(path).head(rows)
    pf, fh = _parquet(path)
    try:
        batch = next(pf.iter_batches(batch_size=rows, columns=parquet_columns(pf)), None)
    finally:
        pf.close()
        if fh is not None:
            fh.close()
    frame = pd.DataFrame() if batch is None else batch.to_pandas()
    return frame.assign(**{k: v for k, v in hive_values(path).items() if k not in frame.columns})


# --- labels and keys ---------------------------------------------------------------------------------
def group_labels(s: pd.Series) -> tuple[np.ndarray, list[str], list[str] | None]:
    """Codes, their text labels (as group_codes labels them) and the category order if categorical."""
    cats = None
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in s.cat.categories]
        codes, labels = s.cat.codes.to_numpy().astype(np.int64), list(cats)
    elif s.dtype.kind in "iub" or isinstance(s.dtype, pd.StringDtype):  # one text per value: label the uniques
        codes, uniques = pd.factorize(s)
        labels = [str(v) for v in uniques.tolist()]
    else:  # floats (0.0 and -0.0), objects (1 and 1.0): the text decides, as in group_codes
        codes, uniques = pd.factorize(s.astype(object).where(s.notna(), "missing").astype(str))
        labels = list(uniques)
    codes = np.where(codes < 0, len(labels), codes)
    labels = labels + ["missing"]
    merged, remap = np.unique(np.asarray(labels, dtype=object), return_inverse=True)  # "missing" text and NA: one group
    return remap[codes], [str(x) for x in merged], cats


def _index(values: list, lookup: dict, new) -> list[int]:
    out = []
    for v in new:
        if v not in lookup:
            lookup[v] = len(values)
            values.append(v)
        out.append(lookup[v])
    return out


def _kind(col: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(col):
        return "bool"
    return "numeric" if pd.api.types.is_numeric_dtype(col) else "other"


# --- decisions: the one rule of dlxai.data.predictions ---------------------------------------------------------
def score_decisions(col: pd.Series, name: str, threshold: float, higher_is_favourable: bool = True):
    """(0/1 decisions, scores) of a score column, by the rule every path uses (numeric, finite, a finite threshold).

    The distributed engine merges score summaries binned on [0, 1] (see :class:`dlxai.performance.ClassScores`), so
    it takes probabilities only; a score on another scale is audited by the pandas engine (one file).
    """
    from dlxai.data import predictions

    decided, scores = predictions.score_decisions(col, name, threshold, higher_is_favourable)
    if (scores < 0).any() or (scores > 1).any():
        raise UserInputError(f"The score column {name!r} holds values outside [0, 1] (min {scores.min():g}, max "
                             f"{scores.max():g}); the Dask engine audits probabilities only. Audit this score with "
                             "--engine pandas (one file), or rescale it to [0, 1].")
    return decided, scores


def prediction_keys(col: pd.Series, name: str) -> tuple[np.ndarray, list]:
    """Codes of a prediction column's values and the values (checked: none missing, few distinct)."""
    if col.isna().any():
        raise UserInputError(f"The prediction column {name!r} is missing in {int(col.isna().sum())} rows. "
                             "Every row needs a decision.")
    codes, uniques = pd.factorize(col)
    values = uniques.tolist()
    if len(values) > MAX_VALUES:
        raise UserInputError(errors.NOT_BINARY_PREDICTIONS.format(what=f"The prediction column {name!r}",
                                                                 values=sorted(map(str, values))[:5]))
    return codes, values


# --- the model on the worker ---------------------------------------------------------------------------------
_MODELS: dict[str, object] = {}  # per worker process, keyed by the model file's sha256
_MODELS_LOCK = threading.Lock()


def load_model(data, name: str, **kwargs):
    """The one place the distributed audit loads a model file: dlxai's safe loader (no pickle)."""
    from dlxai.models.formats import load_model as safe_load

    return safe_load(data, name, **kwargs)


def worker_model(ref: ModelRef, raw: bytes):
    """The model, loaded once per worker process through the safe loader (the contract was checked on the client)."""
    with _MODELS_LOCK:
        model = _MODELS.get(ref.sha256)
        if model is None:
            model = load_model(raw, ref.name, spec=ref.spec, input_columns=ref.input_columns, trusted=ref.trusted)
            _MODELS[ref.sha256] = model
    return model


# --- one partition -----------------------------------------------------------------------------------------
def summarize(path: str, job: Job, model_bytes: bytes | None = None) -> Summary:
    """The :class:`Summary` of one file; a data error is returned (``error``), anything else raises."""
    import pyarrow as pa

    start = time.perf_counter()
    partial = _Partial(path)
    try:
        names: list = []
        model = worker_model(job.model, model_bytes) if job.mode == "model" else None
        for frame in read_batches(path, job.columns, job.batch_rows, names):
            partial.add(frame, job, model)
        partial.out.columns = tuple(str(c) for c in names)
        partial.out.sha256 = file_sha256(path)
    except DlxaiError as exc:
        partial.out.error = str(exc)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        partial.out.error = errors.UPLOAD_BAD_PARQUET.format(name=PurePosixPath(path).name, detail=exc)
    partial.out.seconds = time.perf_counter() - start
    return partial.out


class _Partial:
    """A partition's summary while its batches are added."""

    def __init__(self, path: str):
        self.out = Summary(path)
        self.target_lookup: dict = {}
        self.prediction_lookup: dict = {}
        self.keys = None  # explanation sample keys, one stream per file

    def add(self, frame: pd.DataFrame, job: Job, model) -> None:
        if len(frame) == 0:
            return
        t = self._target(frame[job.target], job.target)
        keys, labels = [], []
        for attr in job.sensitive:
            codes, names, cats = group_labels(frame[attr])
            keys.append(codes)
            labels.append(names)
            seen = self.out.categories.get(attr, cats)
            self.out.categories[attr] = None if seen is None or cats is None else seen + [
                c for c in cats if c not in seen]
        d = self._decide(frame, job, model, t)
        self.out.rows += len(frame)
        cube = _cube(job.sensitive, keys, labels, t, d)
        self.out.cube = cube if self.out.cube is None else merge_cubes([self.out.cube, cube])
        if job.sample_rows:
            texts = {a: np.asarray(names, dtype=object)[codes] for a, names, codes in zip(job.sensitive, labels, keys)}
            if self.keys is None:
                self.keys = sample.key_stream(self.out.path, job.sample_seed)
            part = sample.batch_sample(frame[list(job.features)], texts, t, keys=self.keys, rows=job.sample_rows)
            both = part if self.out.sample is None else pd.concat([self.out.sample, part], ignore_index=True)
            self.out.sample = sample.smallest(both, sample.strata_columns(job.sensitive), job.sample_rows)

    def _target(self, t: pd.Series, name: str) -> np.ndarray:
        if t.isna().any():
            raise UserInputError(f"The target {name!r} is missing in {int(t.isna().sum())} rows. Drop those rows "
                                 "or fill them.")
        codes, uniques = pd.factorize(t)
        idx = _index(self.out.target_values, self.target_lookup, uniques.tolist())
        values = self.out.target_values
        if len(values) > 2:
            raise UserInputError(errors.NON_BINARY_TARGET.format(column=name, n=len(values),
                                                                 values=sorted(map(str, values))[:10]))
        return np.asarray(idx, dtype=np.int64)[codes]

    def _decide(self, frame: pd.DataFrame, job: Job, model, t: np.ndarray) -> np.ndarray:
        """Per row: the decision (score, model) or the index of the prediction value (prediction column)."""
        if job.mode == "prediction":
            col = frame[job.column]
            codes, values = prediction_keys(col, job.column)
            self.out.prediction_kinds.add(_kind(col))
            idx = _index(self.out.prediction_values, self.prediction_lookup, values)
            if len(self.out.prediction_values) > MAX_VALUES:
                raise UserInputError(errors.NOT_BINARY_PREDICTIONS.format(
                    what=f"The prediction column {job.column!r}",
                    values=sorted(map(str, self.out.prediction_values))[:5]))
            return np.asarray(idx, dtype=np.int64)[codes]
        if job.mode == "model":
            proba = np.asarray(model.predict_proba(frame), dtype=float).reshape(-1)
            d, scores = score_decisions(pd.Series(proba), MODEL_SCORES, job.threshold)
        else:
            d, scores = score_decisions(frame[job.column], job.column, job.threshold, job.higher_is_favourable)
        for code in np.unique(t).tolist():
            part = class_scores(scores[t == code], threshold=job.threshold, n_bins=job.n_bins)
            self.out.scores[code] = self.out.scores[code] + part if code in self.out.scores else part
        return d


def _cube(attrs, keys: list[np.ndarray], labels: list[list[str]], t: np.ndarray, d: np.ndarray) -> pd.DataFrame:
    """Rows per (group label of each attribute, target value index, decision key) of one batch."""
    dims = [len(x) for x in labels] + [2, max(int(d.max()) + 1, 2)]
    cell = np.ravel_multi_index([*keys, t, d], dims)
    if np.prod(dims) <= max(len(cell), 1 << 16):  # few cells: count them in one pass instead of sorting
        counts = np.bincount(cell, minlength=int(np.prod(dims)))
        used = np.flatnonzero(counts)
        counts = counts[used]
    else:
        used, counts = np.unique(cell, return_counts=True)
    parts = np.unravel_index(used, dims)
    cube = pd.DataFrame({a: np.asarray(labels[i], dtype=object)[parts[i]] for i, a in enumerate(attrs)})
    cube["t"], cube["d"], cube["n"] = parts[-2], parts[-1], counts.astype(np.int64)
    return cube


def merge_cubes(cubes: list[pd.DataFrame]) -> pd.DataFrame:
    """Cubes added cell by cell."""
    both = pd.concat(cubes, ignore_index=True)
    keys = [c for c in both.columns if c != "n"]
    return both.groupby(keys, sort=False)["n"].sum().reset_index()
