"""Upload speed: a generated 1,000,000-row x 20-column CSV parsed, validated and profiled by dlxai.

Each side runs in its own subprocess so peak RSS is its own:
* dlxai: bytes -> ``read_table`` (encoding/delimiter detection, checks) -> ``profile_columns`` ->
  ``build_schema`` -> ``dataset_from_upload`` (validation + stratified split) -> ``preview`` (group sizes);
* baseline: a bare ``pandas.read_csv`` of the same file (what a notebook would do, with no checks).

Prints one JSON line: {"rows", "cols", "load_s", "peak_rss_mb", "pandas_read_csv_s", "pandas_peak_rss_mb",
"ratio", "file_mb", "targets_met"}.  Targets: load_s <= 15 and peak_rss_mb <= 2048 on 2 CPU cores.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, add_load_option, emit, start_load


def generate(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(10):
        cols[f"num{i}"] = np.round(rng.normal(50, 15, rows), 3)
    for i in range(4):
        cols[f"int{i}"] = rng.integers(0, 1000, rows)
    for i, k in enumerate((5, 12, 40, 200)):
        cols[f"cat{i}"] = rng.choice(np.array([f"level_{j}" for j in range(k)]), rows)
    cols["sex"] = rng.choice(np.array(["Female", "Male"]), rows)
    cols["outcome"] = rng.choice(np.array(["good", "bad"]), rows, p=[0.3, 0.7])
    pd.DataFrame(cols).to_csv(path, index=False)


def run_dlxai(path: Path) -> dict:
    from dlxai.data import mapping, tables

    start = time.perf_counter()
    raw = path.read_bytes()
    table = tables.read_table(raw, path.name)
    del raw
    profiles = mapping.profile_columns(table.frame)
    schema = mapping.build_schema(table.frame, "outcome", "good", ["sex"], profiles=profiles)
    ds = mapping.dataset_from_upload(table, schema, seed=0)
    pv = mapping.preview(table.frame, target="outcome", sensitive=["sex"], profiles=profiles)
    seconds = time.perf_counter() - start
    assert table.shape == (len(ds.train) + len(ds.test), 20) and len(profiles) == 20
    assert int(pv.group_sizes["sex"].sum()) == table.shape[0]
    return {"rows": table.shape[0], "cols": table.shape[1], "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_pandas(path: Path) -> dict:
    import pandas as pd

    start = time.perf_counter()
    df = pd.read_csv(path, low_memory=False)
    seconds = time.perf_counter() - start
    return {"rows": len(df), "cols": df.shape[1], "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(side: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", side, "--path", path], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--child", choices=["dlxai", "pandas"])
    ap.add_argument("--path")
    add_load_option(ap)
    args = ap.parse_args()
    if not args.child:
        start_load(args.load)
    if args.child:
        print(json.dumps(run_dlxai(Path(args.path)) if args.child == "dlxai" else run_pandas(Path(args.path))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload_bench.csv"
        generate(path, args.rows)
        ours, base = child("dlxai", str(path)), child("pandas", str(path))
        emit({"rows": ours["rows"], "cols": ours["cols"], "load_s": ours["seconds"], "peak_rss_mb": ours["peak_rss_mb"],
              "pandas_read_csv_s": base["seconds"], "pandas_peak_rss_mb": base["peak_rss_mb"],
              "ratio": ours["seconds"] / base["seconds"], "file_mb": path.stat().st_size / 2**20,
              "targets_met": ours["seconds"] <= 15 and ours["peak_rss_mb"] <= 2048})


if __name__ == "__main__":
    main()
