"""Quality of the image explanations on the digits CNN (and the ViT): one JSON line per method.

Trains the built-in CNN and ViT on the bundled 8×8 digits (seed 0), explains the predicted class of test
images with integrated gradients, LRP and attention rollout, and reports the quality checks of
:mod:`dlxai.explain.quality`: completeness/conservation error, deletion and insertion areas against a
random pixel order (faithfulness), and the cascading parameter-randomisation rank correlation
(Adebayo et al., 2018), plus each map's share of |attribution| on the blank background (pixels that are 0).  First,
one line per model with its training time (wall and CPU seconds, the load average it ran under) and test accuracy,
with the epochs the Images page uses (``ui.images.DEFAULT_EPOCHS``).
Usage: ``python benchmarks/digits_quality.py [--rows 100] [--threads 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlxai  # noqa: E402,F401  (before torch, as the app imports it: OpenMP's wait policy)

# isort: split
import torch  # noqa: E402
from _common import add_load_option, start_load  # noqa: E402

EPOCHS = {"cnn": 8, "vit": 15}  # as ui.images.DEFAULT_EPOCHS


def main() -> None:
    from dlxai.data.images import load_digits
    from dlxai.explain.attribution import attribute
    from dlxai.explain.quality import completeness, deletion_insertion, randomisation_check
    from dlxai.models.nets import train_image_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100)
    ap.add_argument("--sanity-rows", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the Images page trains on one)")
    add_load_option(ap)
    args = ap.parse_args()
    start_load(args.load)
    torch.set_num_threads(args.threads)
    ds = load_digits(seed=0)
    x = torch.from_numpy(ds.images("test")[: args.rows].copy())
    background = (x == 0).numpy()
    runs = {"cnn": [("integrated_gradients", {"n_steps": 64}), ("lrp", {"composite": "epsilon"}),
                    ("lrp", {"composite": "epsilon_plus_flat"})],
            "vit": [("integrated_gradients", {"n_steps": 64}), ("attention", {})]}
    for kind, methods in runs.items():
        wall, cpu = time.perf_counter(), time.process_time()
        est = train_image_model(ds, kind, seed=0, max_epochs=EPOCHS[kind])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        acc = float((est.predict(ds.flat("test")) == ds.y("test")).mean())
        print(json.dumps({"model": kind, "epochs": EPOCHS[kind], "threads": args.threads,
                          "train_seconds": round(wall, 2), "train_cpu_seconds": round(cpu, 2),
                          "load_average": round(os.getloadavg()[0], 2), "test_accuracy": round(acc, 4)}), flush=True)
        for method, params in methods:
            t0 = time.perf_counter()
            res = attribute(est.module_, x, method=method, baselines="zeros", kind="image", device="cpu", **params)
            seconds = time.perf_counter() - t0
            comp = completeness(res) if res.delta is not None else None
            mag = abs(res.values)
            faith = deletion_insertion(est.module_, res, n_steps=16)
            sanity = randomisation_check(est.module_, x[: args.sanity_rows], method=method, baselines="zeros",
                                         kind="image", device="cpu", **params)
            print(json.dumps({
                "model": kind, "test_accuracy": round(acc, 4), "method": method, "params": params,
                "rows": args.rows, "seconds": round(seconds, 3),
                "background_share": round(float((mag * background).sum() / max(mag.sum(), 1e-12)), 4),
                "completeness_error_median": None if comp is None else round(comp.median, 6),
                "completeness_share_within_1pct": None if comp is None else round(comp.share_within, 4),
                "deletion_auc": round(faith.deletion_auc, 4), "random_deletion_auc": round(faith.random_deletion_auc, 4),
                "insertion_auc": round(faith.insertion_auc, 4),
                "random_insertion_auc": round(faith.random_insertion_auc, 4),
                "randomisation_spearman_final": round(sanity.final, 4), "randomisation_passed": bool(sanity.passed),
            }), flush=True)


if __name__ == "__main__":
    main()
