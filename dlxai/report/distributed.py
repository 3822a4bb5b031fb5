"""The audit of a partitioned table on a Dask cluster: exactly the single-table audit, in bounded memory.

Every number of an audit is a function of counts that add up across partitions: per-group 2x2 confusion
counts for fairness (the bootstrap is a multinomial draw over them, see
:func:`dlxai.fairness.metrics.audit_from_counts`) and per-class score summaries for performance
(:class:`dlxai.performance.ClassScores`).  So each Dask task reads one file's needed columns and returns
counts keyed by group label (:mod:`dlxai.report.partitions`); the client adds them as they arrive and holds
nothing else.  The result is the :class:`~dlxai.report.audit.AuditBundle` that
:func:`~dlxai.report.audit.audit_predictions` returns for the same rows, number for number: fairness,
counts and rates bit for bit, the Brier score to float rounding of sums (~1e-16), and ROC AUC bit for bit
while the scores take at most :data:`~dlxai.performance.AUC_EXACT_MAX_VALUES` distinct values.  Past that, ROC
AUC comes from :data:`~dlxai.performance.AUC_BINS` equal bins of [0, 1], and the JSON's
``parameters.roc_auc.max_error`` states how far it can be from the exact value (at most half the share of
positive-negative pairs that share a bin; about 1e-5 or less for scores spread over [0, 1]).

The data's fingerprint (``data.sha256``) is the sha256 of each file's bytes, combined in path order, not
the single-file audit's hash of the parsed frame.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import PartitionFailedError, UserInputError
from dlxai.fairness.metrics import INTERSECTION_SEP, audit_from_counts
from dlxai.models.formats import read_model_file
from dlxai.performance import decision_scores, evaluate_classes, roc_auc_bound, roc_auc_classes
from dlxai.report import messages, sample
from dlxai.report.audit import (
    AuditBundle,
    DataSummary,
    Progress,
    _check_common,
    _jsonable,
    _noop,
    _rules,
    default_positive_label,
    evaluate_rules,
)
from dlxai.report.partitions import (
    BATCH_ROWS,
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    Job,
    ModelRef,
    Summary,
    _index,
    load_model,
    merge_cubes,
    read_head,
    summarize,
)
from dlxai.validation import check_target_not_sensitive

RETRIES = 2  # a task that raises (not a data error) runs up to 1 + RETRIES times before the audit stops
CONTRACT_ROWS = 256


# --- which files ---------------------------------------------------------------------------------------------
def list_partitions(data) -> list[str]:
    """The files of ``data``: a folder (every Parquet/CSV file under it), a glob, a file, or a list of these.

    Local paths are checked here; a URL (``s3://...``) is expanded by fsspec, which the workers read through.
    """
    items = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not items:
        raise UserInputError(messages.NO_PARTITIONS.format(data=data))
    files: list[str] = []
    for item in map(str, items):
        if "://" in item:
            import fsspec

            fs, _, paths = fsspec.get_fs_token_paths(item)
            found = [p for p in paths if fs.isfile(p)] + [
                f for p in paths if fs.isdir(p) for f in fs.find(p) if f.lower().endswith(_SUFFIXES)]
            files += [fs.unstrip_protocol(f) for f in sorted(found)]
        elif os.path.isdir(item):
            files += sorted(str(p) for p in Path(item).rglob("*") if p.is_file() and p.name.lower().endswith(_SUFFIXES)
                            and not p.name.startswith((".", "_")))
        elif glob.has_magic(item):
            files += sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
        elif os.path.isfile(item):
            files.append(item)
        else:
            raise UserInputError(messages.MISSING_FILE.format(path=item))
    if not files:
        raise UserInputError(messages.NO_PARTITIONS.format(data=data))
    return list(dict.fromkeys(files))


_SUFFIXES = PARQUET_SUFFIXES + CSV_SUFFIXES


# --- the cluster ------------------------------------------------------------------------------------------
@contextmanager
def cluster_client(scheduler=None, *, n_workers: int | None = None, memory_limit="auto", progress: Progress = _noop):
    """A Dask client: ``scheduler`` a ``distributed.Client`` (used as is), an address (``tcp://host:8786``, a
    Gateway or Kubernetes scheduler's address), or None for a LocalCluster of one single-threaded worker process
    per core, each with an equal share of the machine's memory (``memory_limit="auto"``)."""
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler
        return
    if scheduler is not None:
        progress(0.02, f"Connecting to the Dask scheduler at {scheduler}")
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UserInputError(messages.SCHEDULER_UNREACHABLE.format(address=scheduler, detail=exc)) from exc
        try:
            yield client
        finally:
            client.close()
        return
    n = int(n_workers) if n_workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise UserInputError(f"The number of workers must be at least 1; received {n_workers!r}.")
    progress(0.02, f"Starting a local Dask cluster of {n} worker process(es)")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


# --- merging on the client --------------------------------------------------------------------------------
class Merged:
    """The partitions' summaries added up: everything the client holds."""

    def __init__(self, job: Job):
        self.job = job
        self.rows = 0
        self.columns: dict[str, None] = {}
        self.files: list[tuple[str, str]] = []
        self.target_values: list = []
        self.prediction_values: list = []
        self.prediction_kinds: set = set()
        self.categories: dict = {}
        self.cube: pd.DataFrame | None = None
        self.scores: dict = {}
        self.sample: pd.DataFrame | None = None
        self._lookup: dict = {"t": {}, "p": {}}

    def add(self, s: Summary) -> None:
        self.rows += s.rows
        self.columns.update(dict.fromkeys(s.columns))
        self.files.append((s.path, s.sha256))
        t_map = np.asarray(_index(self.target_values, self._lookup["t"], s.target_values), dtype=np.int64)
        if len(self.target_values) > 2:
            values = self.target_values
            raise UserInputError(f"{s.path}: " + errors.NON_BINARY_TARGET.format(
                column=self.job.target, n=len(values), values=sorted(map(str, values))[:10]))
        p_map = np.asarray(_index(self.prediction_values, self._lookup["p"], s.prediction_values), dtype=np.int64)
        self.prediction_kinds |= s.prediction_kinds
        if s.cube is None:
            return
        for attr, cats in s.categories.items():
            seen = self.categories.get(attr, cats)
            self.categories[attr] = cats if seen == cats else None
        cube = s.cube.assign(t=t_map[s.cube["t"].to_numpy()])
        if self.job.mode == "prediction":
            cube["d"] = p_map[s.cube["d"].to_numpy()]
        self.cube = cube if self.cube is None else merge_cubes([self.cube, cube])
        for code, part in s.scores.items():
            g = int(t_map[code])
            self.scores[g] = self.scores[g] + part if g in self.scores else part
        if s.sample is not None:
            part = s.sample.assign(**{sample.STRATUM_T: t_map[s.sample[sample.STRATUM_T].to_numpy()]})
            both = part if self.sample is None else pd.concat([self.sample, part], ignore_index=True)
            self.sample = sample.smallest(both, sample.strata_columns(self.job.sensitive), self.job.sample_rows)

    def fingerprint(self) -> str:
        """sha256 over each file's sha256, in path order, paths relative to the files' common folder."""
        paths = [p for p, _ in self.files]
        root = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0])
        h = hashlib.sha256()
        for path, sha in sorted(self.files):
            h.update(f"{os.path.relpath(path, root) if root else path}\t{sha}\n".encode())
        return h.hexdigest()


def _gather(client, futures, paths: list[str], merged: Merged, progress: Progress) -> None:
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    start, done = time.perf_counter(), 0
    path_of = {f.key: p for f, p in zip(futures, paths)}
    try:
        for fut in as_completed(futures):
            path = path_of[fut.key]
            try:
                s = fut.result()
            except KilledWorker as exc:
                raise PartitionFailedError(messages.PARTITION_FAILED.format(
                    path=path, tries=RETRIES + 1, detail=f"the worker died ({exc})")) from exc
            except Exception as exc:
                exc.add_note(f"dlxai: while auditing the partition {path} (tried {RETRIES + 1} times)")
                raise
            fut.release()
            if s.error:
                raise UserInputError(messages.BAD_PARTITION.format(path=path, detail=s.error))
            merged.add(s)
            done += 1
            rate = merged.rows / max(time.perf_counter() - start, 1e-9)
            progress(0.05 + 0.8 * done / len(futures),
                     f"Partitions {done}/{len(futures)} done: {merged.rows:,} rows, {rate:,.0f} rows/s")
    finally:
        client.cancel([f for f in futures if not f.done()])


def prediction_decisions(values: pd.Series, name: str, target_values, positive) -> np.ndarray:
    """0/1 decision of each distinct value of a prediction column, by the rule every path uses
    (:func:`dlxai.data.predictions.prediction_decisions`: the target's labels, 0/1 or booleans)."""
    from dlxai.data import predictions

    return predictions.prediction_decisions(values, name, target_values, positive, None)


def _distinct_column(values: list, kinds: set) -> pd.Series:
    """The distinct values with the dtype pandas gives the partitions' columns concatenated."""
    if kinds == {"bool"}:
        return pd.Series(values, dtype=bool)
    if kinds == {"numeric"}:
        return pd.Series(values)
    return pd.Series(values, dtype=object)


# --- from merged counts to the bundle -------------------------------------------------------------------------
def _positive(values: list, target: str, positive_label):
    if len(values) != 2:
        raise UserInputError(errors.NON_BINARY_TARGET.format(column=target, n=len(values),
                                                             values=sorted(map(str, values))[:10]))
    if positive_label is None:
        return default_positive_label(values)
    match = [v for v in values if str(v) == str(positive_label)]
    if not match:
        raise UserInputError(f"The positive label {positive_label!r} does not occur in {target!r}, whose values "
                             f"are {sorted(map(str, values))}. Choose one of them.")
    return match[0]


def _order(labels, categories: list | None) -> list[str]:
    """Group labels in group_codes' order: category order (missing last) if every partition had the same
    categories, else sorted as text."""
    if categories is None:
        return sorted(labels)
    rank = {c: i for i, c in enumerate(categories)}
    return sorted(labels, key=lambda g: rank.get(g, len(categories)))


def _counts(cube: pd.DataFrame, attrs: list[str], orders: dict) -> tuple[np.ndarray, list[str]]:
    """(groups, 2, 2) confusion counts of one attribute or of the intersection of two, in group_codes' order."""
    per = cube.groupby([*attrs, "y", "p"], sort=False)["n"].sum()
    ranks = [{g: i for i, g in enumerate(orders[a])} for a in attrs]
    groups = sorted({k[:len(attrs)] for k in per.index}, key=lambda g: tuple(r[x] for r, x in zip(ranks, g)))
    where = {g: i for i, g in enumerate(groups)}
    counts = np.zeros((len(groups), 2, 2), dtype=np.int64)
    for key, n in per.items():
        counts[where[key[:len(attrs)]], key[-2], key[-1]] += n
    return counts, [INTERSECTION_SEP.join(g) for g in groups]


def _performance(merged: Merged, y_of: np.ndarray, cube: pd.DataFrame, job: Job) -> tuple:
    """The PerformanceReport audit_predictions computes, and how ROC AUC was obtained."""
    decided = cube.groupby(["y", "p"])["n"].sum()
    by_class = [np.array([decided.get((y, d), 0) for d in (0, 1)]) for y in (0, 1)]
    if job.mode == "prediction":
        return evaluate_classes(*(decision_scores(c) for c in by_class), threshold=0.5), {"method": "exact",
                                                                                         "max_error": 0.0}
    neg, pos = (merged.scores[int(np.flatnonzero(y_of == y)[0])] for y in (0, 1))
    exact = neg.values is not None and pos.values is not None
    auc = {"method": "exact" if exact else "binned", "max_error": roc_auc_bound(neg, pos)}
    if job.higher_is_favourable:
        return evaluate_classes(neg, pos, threshold=float(job.threshold)), auc
    report = evaluate_classes(*(decision_scores(c) for c in by_class), threshold=0.5)
    return replace(report, threshold=float(job.threshold), roc_auc=roc_auc_classes(neg, pos, higher=False)), auc


def _bundle(merged: Merged, job: Job, opts: dict, progress: Progress) -> AuditBundle:
    if merged.rows == 0 or merged.cube is None:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the data"))
    positive = _positive(merged.target_values, job.target, opts["positive_label"])
    y_of = np.array([int(bool(v == positive)) for v in merged.target_values], dtype=np.int64)
    if job.mode == "prediction":
        column = _distinct_column(merged.prediction_values, merged.prediction_kinds)
        p_of = prediction_decisions(column, job.column, merged.target_values, positive)
    else:
        p_of = np.array([0, 1], dtype=np.int64)
    cube = merged.cube.assign(y=y_of[merged.cube["t"].to_numpy()], p=p_of[merged.cube["d"].to_numpy()])
    attrs = list(job.sensitive)
    orders = {a: _order(cube[a].unique(), merged.categories.get(a)) for a in attrs}
    performance, auc = _performance(merged, y_of, cube, job)
    fairness = {}
    for i, group in enumerate([[a] for a in attrs] + [list(p) for p in opts["intersections"]]):
        label = INTERSECTION_SEP.join(group)
        progress(0.85 + 0.15 * i / (len(attrs) + len(opts["intersections"])),
                 f"Fairness by {label} ({opts['n_bootstrap']:,} bootstrap resamples)")
        counts, labels = _counts(cube, group, orders)
        fairness[label] = audit_from_counts(counts, labels, group, n_bootstrap=opts["n_bootstrap"], seed=opts["seed"],
                                            min_group_size=opts["min_group_size"], confidence=opts["confidence"])
    sizes = {a: {g: int(n) for g, n in cube.groupby(a)["n"].sum().sort_index().items()} for a in attrs}
    n_pos = int(cube.loc[cube["y"] == 1, "n"].sum())
    sha = merged.fingerprint()
    model_columns = 1 if job.mode == "model" else 0  # the single-file path audits the data plus the model's scores
    data = DataSummary(name=opts["name"], rows=merged.rows, columns=len(merged.columns) + model_columns,
                       target=job.target, positive_label=positive, positive_rate=n_pos / merged.rows, sha256=sha,
                       split="file", group_sizes=sizes, source=opts["source"])
    parsed, user_rules = opts["rules"]
    threshold = job.threshold
    card = {"name": "predictions-only audit", "kind": "predictions", "source": opts["source"] or opts["name"],
            "decisions_from": (f"score column {job.column!r} {'>=' if job.higher_is_favourable else '<='} "
                               f"{threshold:g}" if job.mode == "score" else f"prediction column {job.column!r}"),
            "parameters": None, "sha256": None}
    params = {
        "mode": "predictions", "target": job.target, "positive_label": _jsonable(positive), "sensitive": attrs,
        "prediction_column": job.column if job.mode == "prediction" else None,
        "score_column": job.column if job.mode == "score" else None, "threshold": threshold,
        "n_bootstrap": int(opts["n_bootstrap"]), "confidence": opts["confidence"], "bootstrap_seed": opts["seed"],
        "min_group_size": int(opts["min_group_size"]), "rules": [r.text for r in parsed], "data_sha256": sha,
        "engine": "dask", "partitions": len(merged.files), "scheduler": opts["scheduler"], "roc_auc": auc,
    }
    if job.mode == "model":
        card = {**opts["model_card"], "decisions_from": f"model probabilities >= {threshold:g}"}
        params = {**params, "mode": "model file", "model_file": opts["model_file"], "score_column": None}
    # as audit_predictions writes it: the score's direction, None for a prediction column
    params["higher_is_favourable"] = None if job.mode == "prediction" else bool(job.higher_is_favourable)
    results = {}
    if job.sample_rows:
        progress(0.97, f"Explaining a stratified sample of {job.sample_rows:,} rows ({opts['explain_method']})")
        results, params["explanations"] = _explanations(merged, cube, job, opts)
    progress(1.0, "Audit done")
    return AuditBundle(data, card, performance, fairness, threshold, parsed,
                       evaluate_rules(parsed, fairness, performance), user_rules, params, **results)


def _explanations(merged: Merged, cube: pd.DataFrame, job: Job, opts: dict) -> tuple[dict, dict]:
    """Global and per-group importance on a stratified sample (see dlxai.report.sample), and its manifest."""
    attrs = list(job.sensitive)
    sizes = cube.groupby([*attrs, "t"])["n"].sum().rename_axis(sample.strata_columns(attrs))
    rows = sample.draw(merged.sample, sizes, attrs, job.sample_rows)
    explained, groups = sample.explain_sample(opts["model"], rows, attrs, method=opts["explain_method"])
    per_group = {a: {str(g): int(n) for g, n in rows.groupby(f"__group_{a}").size().items()} for a in attrs}
    manifest = {"method": explained[0].method, "sample_rows": len(rows), "requested_rows": job.sample_rows,
                "seed": job.sample_seed, "rows_per_group": per_group,
                "design": "stratified by group of each sensitive attribute x true label, proportional allocation "
                          "(at least one row per stratum), uniform within strata"}
    return {"explanations": explained, "extras": {"explanation_groups": groups}}, manifest


# --- the entry point -----------------------------------------------------------------------------------------
def _job(target, attrs, prediction_column, score_column, threshold, higher_is_favourable, model, batch_rows) -> Job:
    if model is not None:
        if prediction_column is not None or score_column is not None:
            raise UserInputError(messages.PREDICTION_SOURCE.format(pred=prediction_column, score=score_column))
        return Job(target, tuple(attrs), "model", None, 0.5 if threshold is None else float(threshold),
                   batch_rows=batch_rows)
    if (prediction_column is None) == (score_column is None):
        raise UserInputError(messages.PREDICTION_SOURCE.format(pred=prediction_column, score=score_column))
    if score_column is not None and threshold is None:
        raise UserInputError(messages.SCORE_NEEDS_THRESHOLD.format(column=score_column))
    if prediction_column is not None and threshold is not None:
        raise UserInputError(f"--threshold applies to a score column only; received it with the prediction column "
                             f"{prediction_column!r}. Drop --threshold or pass --score-column instead.")
    if prediction_column is not None:
        return Job(target, tuple(attrs), "prediction", prediction_column, batch_rows=batch_rows)
    return Job(target, tuple(attrs), "score", score_column, float(threshold), bool(higher_is_favourable),
               batch_rows=batch_rows)


def _client_model(files: list[str], model, spec, input_columns, trusted, job: Job, progress: Progress):
    """Load the model once on the client and check its input contract on the first rows; what workers need."""
    path = Path(model)
    if not path.is_file():
        raise UserInputError(messages.MISSING_FILE.format(path=str(model)))
    progress(0.0, f"Loading model {path.name}")
    raw = read_model_file(path)
    cols = tuple(input_columns) if input_columns else None
    trusted = tuple(trusted) if trusted else None
    sample = read_head(files[0], CONTRACT_ROWS)
    loaded = load_model(raw, path.name, spec=spec, input_columns=cols, trusted=trusted, sample=sample)
    ref = ModelRef(hashlib.sha256(raw).hexdigest(), path.name, spec, cols, trusted)
    return raw, replace(job, model=ref, features=tuple(loaded.feature_columns)), loaded


def audit_partitions(
    data,
    *,
    target: str,
    sensitive,
    positive_label=None,
    prediction_column: str | None = None,
    score_column: str | None = None,
    threshold: float | None = None,
    higher_is_favourable: bool = True,
    model=None,
    model_spec=None,
    input_columns=None,
    trusted=None,
    scheduler=None,
    n_workers: int | None = None,
    memory_limit="auto",
    rules=(),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    intersections=(),
    explain_rows: int = 0,
    explain_method: str = "auto",
    explain_seed: int = 0,
    batch_rows: int = BATCH_ROWS,
    name: str | None = None,
    source: str | None = None,
    progress: Progress | None = None,
) -> AuditBundle:
    """:func:`~dlxai.report.audit.audit_predictions` (or, with ``model``, the CLI's model-file audit) of a table
    split into files, on a Dask cluster.

    ``data``: a folder of Parquet/CSV files, a glob, a file, or a list of these.  Decisions come from a
    ``prediction_column``, a ``score_column`` cut at ``threshold`` (``score <= threshold`` is favourable when
    ``higher_is_favourable`` is False), or a ``model`` file (path; loaded on each worker once, through dlxai's safe
    loader, with ``model_spec``/``input_columns``/``trusted`` as :func:`dlxai.models.formats.load_model` takes them;
    decisions are probabilities >= ``threshold``, default 0.5).  ``scheduler``: None (a LocalCluster sized to the
    machine: ``n_workers`` processes, default one per core), a scheduler address, or a ``distributed.Client``.
    ``intersections``: pairs of sensitive attributes also audited together (keyed ``"a & b"``).
    ``explain_rows`` (with a model): global and per-group importance by ``explain_method`` (default: integrated
    gradients for a PyTorch network, else kernel SHAP) on a stratified sample
    of that many rows drawn across partitions with ``explain_seed`` (:mod:`dlxai.report.sample`; the design and
    sizes go to ``parameters.explanations``).

    A file with a missing column or an unusable value stops the audit with a :class:`UserInputError` naming
    it; a task that raises anything else is retried by Dask, then reported with the file's name.
    """
    progress = progress or _noop
    attrs = [sensitive] if isinstance(sensitive, str) else list(sensitive or [])
    _check_common(attrs, n_bootstrap, min_group_size, threshold)
    check_target_not_sensitive(target, attrs)
    pairs = [tuple(p) for p in intersections]
    for p in pairs:
        if len(p) != 2 or any(a not in attrs for a in p):
            raise UserInputError(f"An intersection is a pair of the audited sensitive attributes {attrs}; received "
                                 f"{list(p)}.")
    if int(batch_rows) < 1:
        raise UserInputError(f"batch_rows must be at least 1; received {batch_rows!r}.")
    job = _job(target, attrs, prediction_column, score_column, threshold, higher_is_favourable, model, int(batch_rows))
    if int(explain_rows) < 0 or (explain_rows and model is None):
        raise UserInputError(messages.EXPLAIN_NEEDS_MODEL.format(rows=explain_rows))
    job = replace(job, sample_rows=int(explain_rows), sample_seed=int(explain_seed))
    opts = {"rules": _rules(rules), "positive_label": positive_label, "n_bootstrap": int(n_bootstrap),
            "explain_method": explain_method,
            "confidence": confidence, "seed": seed, "min_group_size": min_group_size, "intersections": pairs}
    files = list_partitions(data)
    first = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    whole = len(first) == 1 and not glob.has_magic(str(first[0]))  # one file or folder: its name; else the files'
    opts["name"] = name or Path(str(first[0]) if whole else os.path.commonpath(files)).name
    opts["source"] = source if source is not None else ", ".join(map(str, first))
    raw = None
    if model is not None:
        raw, job, opts["model"] = _client_model(files, model, model_spec, input_columns, trusted, job, progress)
        loaded = opts["model"]
        opts["model_card"] = {**loaded.card(), "contract": loaded.contract.contract}  # as the pandas engine's card
        opts["model_file"] = str(model)
    try:
        with cluster_client(scheduler, n_workers=n_workers, memory_limit=memory_limit, progress=progress) as client:
            opts["scheduler"] = "local" if scheduler is None else client.scheduler.address
            model_bytes = client.scatter(raw, broadcast=True, hash=False) if raw is not None else None
            progress(0.05, f"Auditing {len(files):,} partition(s) on {len(client.scheduler_info()['workers'])} "
                           "worker(s)")
            futures = client.map(summarize, files, job=job, model_bytes=model_bytes, retries=RETRIES, pure=False,
                                 key=[f"dlxai-partition-{i}-{Path(f).name}-{os.urandom(4).hex()}" for i, f in
                                      enumerate(files)])
            merged = Merged(job)
            _gather(client, futures, files, merged, progress)
        return _bundle(merged, job, opts, progress)
    finally:
        if opts.get("model") is not None and hasattr(opts["model"], "close"):
            opts["model"].close()  # its sandboxed worker process, if it has one


__all__ = ["audit_partitions", "cluster_client", "list_partitions", "prediction_decisions"]
