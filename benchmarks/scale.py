"""The audit of a partitioned decision log on Dask vs the single-process pandas path, at scale.

Writes a partitioned Parquet dataset of decisions to a temporary folder (deleted afterwards): ``--rows`` rows
(default 100 M) in files of ``--rows-per-file`` rows, each row a label, a prediction, a score (rounded to
``--score-decimals`` decimals, so ROC AUC stays exact; -1 keeps full precision and bins it), two sensitive columns
and five features.  Then, each in its own process so peak memory is its own:

- ``python -m dlxai audit --engine dask`` semantics (:func:`dlxai.report.distributed.audit_partitions` on a local
  cluster of ``--workers`` processes, default one per core) over every file;
- the existing single-process path (``python -m dlxai audit --data one.parquet``) on the first files, concatenated
  into one file of at most ``--single-max-rows`` rows (the largest it handles comfortably); when that is fewer
  rows than the dataset, the Dask audit runs again on exactly those files for the comparison.

Prints one JSON line: {"rows", "partitions", "workers", "cores", "load", "cluster_start_s", "dask_s", "rows_per_s",
"client_peak_rss_mb", "workers_peak_rss_mb", "single_process_rows", "single_process_s",
"single_process_peak_rss_mb", "max_abs_diff", "roc_auc_method", "roc_auc_max_error", "roc_auc_abs_diff"}.
``max_abs_diff`` is the largest difference over every number of the two JSON reports, except ROC AUC when the Dask
engine binned the scores (more distinct scores than it merges exactly, as a model's float scores are): that one is
``roc_auc_abs_diff``, against the bound the engine states (``roc_auc_max_error``).  ``--load N`` runs N busy processes beside it (a shared machine).

``--model`` scores every row with a torch MLP instead of reading the prediction column: a dlxai MLP is trained on
50,000 rows of the first file (features f0…f4 and the sensitive columns), exported with dlxai's own safetensors
export, and each Dask worker loads that file once through the safe loader and scores its partitions (the issue's
"torch MLP model scoring 10 M rows").  The single-process figures are then ``python -m dlxai audit --model`` on
the first ``--single-max-rows`` rows.
"""

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import ROOT

SENSITIVE = ["sex", "region"]
REGIONS = np.array(["north", "south", "east", "west", "centre"])


def generate(folder: Path, rows: int, per_file: int, decimals: int, seed: int = 0) -> list[Path]:
    files = []
    for i, start in enumerate(range(0, rows, per_file)):
        n = min(per_file, rows - start)
        rng = np.random.default_rng([seed, i])
        sex = np.where(rng.random(n) < 0.48, "F", "M")
        region = REGIONS[rng.integers(0, len(REGIONS), n)]
        label = (rng.random(n) < 0.35).astype(np.int64)
        score = np.clip(rng.normal(0.35 + 0.3 * label + 0.05 * (sex == "M"), 0.18), 0, 1)
        score = score.round(decimals) if decimals >= 0 else score
        frame = pd.DataFrame({"label": label, "prediction": (score >= 0.5).astype(np.int64), "score": score,
                              "sex": sex, "region": region,
                              **{f"f{j}": rng.normal(size=n) for j in range(5)}})
        path = folder / f"part-{i:05d}.parquet"
        frame.to_parquet(path, index=False, row_group_size=500_000)
        files.append(path)
    return files


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_peak() -> float:
    import resource as r

    return r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024


def train_model_file(first: Path, folder: Path) -> tuple[Path, Path]:
    """A dlxai MLP on 50,000 rows of the first partition, written as safetensors + spec (dlxai's own export)."""
    from dlxai import dataset_from_table, train_model
    from dlxai.data.schema import Schema
    from dlxai.models.export import export_safetensors

    rows = pd.read_parquet(first).head(50_000).drop(columns=["prediction", "score"])
    schema = Schema(target="label", positive_label=1, sensitive=tuple(SENSITIVE),
                    numeric=tuple(f"f{j}" for j in range(5)), categorical=tuple(SENSITIVE))
    weights, spec = export_safetensors(train_model(dataset_from_table(rows, schema, seed=0), "mlp", seed=0,
                                                   max_epochs=3))
    (folder / "mlp.safetensors").write_bytes(weights)
    (folder / "mlp.json").write_bytes(spec)
    return folder / "mlp.safetensors", folder / "mlp.json"


def _model_kwargs(model: str | None) -> dict:
    if not model:
        return {"score_column": "score", "threshold": 0.5}
    spec = json.loads(Path(model).with_suffix(".json").read_text())
    return {"model": model, "model_spec": spec, "threshold": 0.5}


def phase_dask(files: list[str], workers: int, out: str, n_bootstrap: int, model: str | None = None) -> dict:
    """The distributed audit, on a local cluster started here (so the workers' peak memory can be asked)."""
    from distributed import Client, LocalCluster

    from dlxai.report.distributed import audit_partitions

    t = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit="auto",
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        start_s = time.perf_counter() - t
        t = time.perf_counter()
        bundle = audit_partitions(files, target="label", positive_label=1, sensitive=SENSITIVE,
                                  n_bootstrap=n_bootstrap, scheduler=client, **_model_kwargs(model))
        seconds = time.perf_counter() - t
        workers_peak = client.run(_worker_peak)
    Path(out).write_text(json.dumps(bundle.to_dict()))
    return {"cluster_start_s": start_s, "dask_s": seconds, "client_peak_rss_mb": peak_rss_mb(),
            "workers_peak_rss_mb": max(workers_peak.values()), "roc_auc_method": bundle.params["roc_auc"]["method"],
            "roc_auc_max_error": bundle.params["roc_auc"]["max_error"]}


def phase_single(path: str, out: str, n_bootstrap: int, model: str | None = None) -> dict:
    """The existing path: ``python -m dlxai audit`` on one file, in this process."""
    from dlxai.cli import run

    scored = (["--model", model, "--model-spec", str(Path(model).with_suffix(".json"))] if model
              else ["--score-column", "score"])
    t = time.perf_counter()
    rc = run(["audit", "--data", path, "--target", "label", "--positive-label", "1", "--sensitive", SENSITIVE[0],
              "--sensitive", SENSITIVE[1], *scored, "--threshold", "0.5", "--n-bootstrap", str(n_bootstrap),
              "--json", out, "--quiet"])
    return {"rc": rc, "single_process_s": time.perf_counter() - t, "single_process_peak_rss_mb": peak_rss_mb()}


def _phase(*args, options=()) -> dict:
    """Run a phase in a fresh process and read its JSON line.  Every phase is a child of this small process:
    Linux carries a process's peak RSS across exec, so a child of a big process would report the parent's peak."""
    res = subprocess.run([sys.executable, __file__, *map(str, options), "--phase", *map(str, args)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        raise SystemExit(f"phase {args[0]} failed")
    return json.loads(res.stdout.strip().splitlines()[-1])


def max_abs_diff(a, b) -> float:
    if isinstance(a, dict):
        return max([max_abs_diff(a[k], b[k]) for k in a.keys() & b.keys()], default=0.0)
    if isinstance(a, list):
        return max([max_abs_diff(x, y) for x, y in zip(a, b)], default=0.0)
    if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, (int, float)):
        return abs(float(a) - float(b))
    return 0.0


def _busy() -> None:
    while True:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--rows-per-file", type=int, default=2_000_000)
    ap.add_argument("--score-decimals", type=int, default=4)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--single-max-rows", type=int, default=10_000_000,
                    help="rows of the single-process comparison: the pandas path refuses a table it plans to need "
                         "more than 2 GB for (20 M rows of this table)")
    ap.add_argument("--n-bootstrap", type=int, default=1000)
    ap.add_argument("--load", type=int, default=0, help="busy processes to run beside the benchmark")
    ap.add_argument("--model", action="store_true", help="score every row with a torch MLP file on the workers")
    ap.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        name, *rest = args.phase
        if name == "gen":
            files = generate(Path(rest[0]), args.rows, args.rows_per_file, args.score_decimals)
            print(json.dumps([str(f) for f in files]))
        elif name == "train":
            print(json.dumps([str(p) for p in train_model_file(Path(rest[0]), Path(rest[1]))]))
        elif name == "dask":
            *files, workers, out, boot, model = rest
            print(json.dumps(phase_dask(files, int(workers), out, int(boot), model or None)))
        else:
            print(json.dumps(phase_single(rest[0], rest[1], int(rest[2]), rest[3] or None)))
        return

    tmp = Path(tempfile.mkdtemp(prefix="dlxai_scale_"))
    busy = [mp.Process(target=_busy, daemon=True) for _ in range(args.load)]
    try:
        files = _phase("gen", tmp, options=("--rows", args.rows, "--rows-per-file", args.rows_per_file,
                                            "--score-decimals", args.score_decimals))
        model = _phase("train", files[0], tmp)[0] if args.model else ""
        for p in busy:
            p.start()
        dask = _phase("dask", *files, args.workers, tmp / "dask.json", args.n_bootstrap, model)
        take = max(1, min(len(files), args.single_max_rows // args.rows_per_file))
        single_rows = min(args.rows, take * args.rows_per_file)
        one = tmp / "one.parquet"
        pd.concat([pd.read_parquet(f) for f in files[:take]], ignore_index=True).to_parquet(one, index=False)
        single = _phase("single", one, tmp / "single.json", args.n_bootstrap, model)
        if single["rc"] != 0:
            raise SystemExit(f"the single-process audit of {single_rows:,} rows exited {single['rc']}; lower "
                             "--single-max-rows")
        compare = tmp / "dask.json"
        if take < len(files):
            _phase("dask", *files[:take], args.workers, tmp / "dask_same.json", args.n_bootstrap, model)
            compare = tmp / "dask_same.json"
        single_json, dask_json = json.loads((tmp / "single.json").read_text()), json.loads(compare.read_text())
        aucs = [(r.get("performance") or {}).get("roc_auc") for r in (single_json, dask_json)]
        auc_diff = abs(aucs[0] - aucs[1]) if None not in aucs else None
        if dask["roc_auc_method"] == "binned":  # the documented approximation, compared with its own bound below
            for report in (single_json, dask_json):
                report["performance"].pop("roc_auc")
        diff = max_abs_diff(single_json, dask_json)
    finally:
        for p in busy:
            p.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    record = {
        "rows": args.rows, "mode": "torch MLP file scored on the workers" if args.model else "prediction column",
        "partitions": len(files), "workers": args.workers, "cores": os.cpu_count(),
        "load": args.load, "cluster_start_s": dask["cluster_start_s"], "dask_s": dask["dask_s"],
        "rows_per_s": args.rows / dask["dask_s"], "client_peak_rss_mb": dask["client_peak_rss_mb"],
        "workers_peak_rss_mb": dask["workers_peak_rss_mb"], "single_process_rows": single_rows,
        "single_process_s": single["single_process_s"],
        "single_process_peak_rss_mb": single["single_process_peak_rss_mb"], "max_abs_diff": diff,
        "roc_auc_method": dask["roc_auc_method"], "roc_auc_max_error": dask["roc_auc_max_error"],
        "roc_auc_abs_diff": auc_diff,
    }
    # six significant digits (not _common.emit's six decimals: a difference of 1e-15 must not print as 0)
    print(json.dumps({k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in record.items()}), flush=True)


if __name__ == "__main__":
    main()
