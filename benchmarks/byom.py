"""Bring your own model: a skops HistGradientBoosting pipeline on Adult's raw columns, loaded by dlxai.load_model.

The pipeline is ColumnTransformer(OneHotEncoder on the categories, StandardScaler on the numbers) +
HistGradientBoostingClassifier, fitted here, dumped with skops and loaded through ``dlxai.load_model`` (raw-columns
contract).  One JSON line per capability, each with the load average:

1. shap: dlxai's ``tree_shap`` (exact interventional SHAP read from the trees, one value per raw column) on 200
   test rows against 100 training rows, vs the explainer ``shap.Explainer`` itself picks for the same model on the
   same rows and background: the model as a function of the 13 raw columns (its log-odds, the output tree_shap
   explains) with an ``Independent`` masker over the same 100 rows, for which shap picks its PermutationExplainer
   (more than 10 features; default max_evals).  Speedup per row (target >= 5; ``--shap-rows`` lets shap explain the
   first rows only on a busy machine) and the Pearson correlation of all values shap computed (target >= 0.95).
   Wall and CPU seconds: on a shared machine the CPU seconds say what the code costs.
2. counterfactuals: 200 rejected test rows x 3 (random search in raw column space): seconds (target <= 20) and
   validity (target >= 0.99).
3. surrogate: the depth-4 surrogate tree: fit seconds (target <= 5) and held-out fidelity.
4. cli_pdf: ``python -m dlxai audit --model adult_hgb.skops --explain tree_shap --out report.pdf`` on Adult's 16,281
   test rows as a subprocess with OMP_NUM_THREADS=2 (target <= 60 s on 2 cores).

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/byom.py [--rows 200] [--shap-rows 200] [--load N] [--skip-cli]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, add_load_option, emit, start_load  # noqa: E402


def pipeline_file(ds) -> bytes:
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                               list(ds.schema.categorical)),
                              ("num", StandardScaler(), list(ds.schema.numeric))])
    pipe = Pipeline([("prep", prep), ("clf", HistGradientBoostingClassifier(random_state=0))])
    return sio.dumps(pipe.fit(ds.X("train"), ds.y("train")))


def _load() -> dict:
    return {"loadavg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}


def _timed(fn):
    """(result, wall seconds, CPU seconds of this process: every thread's)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def bench_shap(m, ds, rows: int, shap_rows: int, seed: int) -> dict:
    import shap

    import dlxai

    X = ds.X("test").sample(n=rows, random_state=seed).sort_index()
    ours, ours_s, ours_cpu = _timed(lambda: dlxai.attribute(
        m, X, method="tree_shap", baselines="samples", reference=ds.X("train"), n_baseline_samples=100, seed=seed,
        target=1))
    contract, pipe = m.estimator.contract, m.estimator.inner
    names = list(contract.feature_names_out_)
    background = ours.baselines  # the same 100 training rows, in the contract's matrix (a category: its level)

    def log_odds(Z):  # the model on raw columns: the matrix decoded to the table the pipeline reads
        return pipe.decision_function(contract.decode(Z))

    explainer = shap.Explainer(log_odds, shap.maskers.Independent(background, max_samples=len(background)),
                               seed=seed)
    k = min(shap_rows, rows)
    out, shap_s, shap_cpu = _timed(lambda: explainer(ours.inputs[:k]))
    a = ours.by_feature()[names].to_numpy()[:k].ravel()
    return {"capability": "shap", "rows": rows, "shap_rows": k, "background": len(background),
            "features": len(names), "ours": "tree_shap (exact, log-odds)", "shap_explainer": type(explainer).__name__,
            "ours_s": ours_s, "ours_cpu_s": ours_cpu, "shap_s": shap_s, "shap_cpu_s": shap_cpu,
            "speedup_per_row": (shap_s / k) / (ours_s / rows), "cpu_speedup_per_row": (shap_cpu / k) / (ours_cpu / rows),
            "pearson": float(np.corrcoef(a, out.values.ravel())[0, 1]),
            "max_completeness_error": float(np.max(ours.completeness_error)),
            "target": "speedup >= 5 at pearson >= 0.95", **_load()}


def bench_counterfactuals(m, ds, rows: int, seed: int) -> dict:
    from dlxai.explain.counterfactuals import SearchOptions, find_counterfactuals
    from dlxai.fairness.recourse import rejected_sample

    X = ds.X("test")
    idx = rejected_sample(m, X, rows, seed)
    res, s, cpu = _timed(lambda: find_counterfactuals(m, ds, X.iloc[idx], k=3, seed=seed,
                                                      options=SearchOptions(on_failure="keep")))
    return {"capability": "counterfactuals", "rows": len(idx), "k": 3, "method": res.method, "s": s, "cpu_s": cpu,
            "validity": float(res.valid.mean()), "rows_with_cf": float(res.valid.any(axis=1).mean()),
            "target": "<= 20 s, validity >= 0.99", **_load()}


def bench_surrogate(m, ds, seed: int) -> dict:
    from dlxai.explain.surrogate import fit_surrogate

    tree, s, cpu = _timed(lambda: fit_surrogate(m, ds, max_depth=4, seed=seed))
    return {"capability": "surrogate", "s": s, "cpu_s": cpu, "fidelity": tree.fidelity,
            "train_rows": tree.params["train_rows"], "test_rows": tree.params["test_rows"], "target": "<= 5 s",
            **_load()}


def bench_cli(ds, raw: bytes, trusted: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data, model = Path(tmp) / "adult_test.csv", Path(tmp) / "adult_hgb.skops"
        ds.test.to_csv(data, index=False)
        model.write_bytes(raw)
        cmd = [sys.executable, "-m", "dlxai", "audit", "--data", str(data), "--target", "income", "--sensitive",
               "sex", "--sensitive", "race", "--model", str(model), *[a for t in trusted for a in ("--trust", t)],
               "--explain", "tree_shap", "--out", str(Path(tmp) / "report.pdf"), "--json",
               str(Path(tmp) / "report.json"), "--quiet"]
        env = {**os.environ, "OMP_NUM_THREADS": "2"}
        import resource

        t, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        s, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        pages = None
        if proc.returncode == 0:
            import json

            pages = json.loads((Path(tmp) / "report.json").read_text())["report"]["pages"]
    return {"capability": "cli_pdf", "rows": len(ds.test), "s": s, "cpu_s": cpu, "exit": proc.returncode, "pages": pages,
            "stderr_tail": proc.stderr[-300:] if proc.returncode else "", "target": "<= 60 s on 2 cores",
            **_load()}


def main() -> None:
    ap = add_load_option(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    ap.add_argument("--rows", type=int, default=200, help="rows explained and rejected rows searched (default 200)")
    ap.add_argument("--shap-rows", type=int, default=200,
                    help="rows shap's own explainer explains (the first of the same rows; it costs about 100x ours, so "
                         "on a busy machine give fewer: the speedup is per row)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-cli", action="store_true", help="leave out the CLI PDF timing")
    args = ap.parse_args()
    start_load(args.load)
    import skops.io as sio

    import dlxai

    ds = dlxai.load_demo("adult")
    raw = pipeline_file(ds)
    trusted = sio.get_untrusted_types(data=raw)
    m = dlxai.load_model(raw, "adult_hgb.skops", trusted=trusted, sample=ds.X("test"), reference=ds.X("train"),
                         positive_label=1)
    common = {"load": args.load}
    emit({**bench_shap(m, ds, args.rows, args.shap_rows, args.seed), **common})
    emit({**bench_counterfactuals(m, ds, args.rows, args.seed), **common})
    emit({**bench_surrogate(m, ds, args.seed), **common})
    if not args.skip_cli:
        emit({**bench_cli(ds, raw, trusted), **common})
    m.close()


if __name__ == "__main__":
    main()
