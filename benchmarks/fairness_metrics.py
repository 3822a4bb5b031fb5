"""dlxai's group metrics vs Fairlearn's MetricFrame on 1,000,000 rows and 4 groups, same process.

Prints one JSON line: {"rows", "ours_s", "ours_cpu_s" (CPU seconds of one run, all threads: about ours_s when
the work is single-threaded, so a slowdown under ``--load`` is the cores being shared, not threads fighting),
"fairlearn_s", "speedup", "max_abs_diff", "bootstrap_1000_s"}.
Both sides compute count, selection rate, accuracy, TPR, FPR, FNR and precision per group, plus the
demographic parity and equalized odds differences and ratios and the equal opportunity difference.
"""

import argparse
import threading
import time

import numpy as np
import pandas as pd
from _common import add_load_option, emit, start_load, timed

from dlxai.fairness import audit_fairness
from tests.fairlearn_reference import fairlearn_metrics

METRICS = ("count", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")


def fairlearn_side(yt, yp, sf):
    mf, summary = fairlearn_metrics(yt, yp, sf)
    return mf.by_group, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    add_load_option(ap)
    args = ap.parse_args()
    start_load(args.load)
    rng = np.random.default_rng(0)
    n = args.rows
    sf = pd.Series(rng.choice(["group_a", "group_b", "group_c", "group_d"], n, p=[0.4, 0.3, 0.2, 0.1]), name="g")
    yt = rng.integers(0, 2, n)
    yp = (rng.random(n) < 0.3 + 0.4 * yt).astype(np.int64)

    ours_s, ours = timed(audit_fairness, yt, yp, sf, n_bootstrap=0, repeat=args.repeat)
    cpu, threads = time.process_time(), threading.active_count()
    audit_fairness(yt, yp, sf, n_bootstrap=0)
    ours_cpu_s = time.process_time() - cpu  # CPU seconds of every thread: equal to ours_s when one thread works
    fl_s, (fl_by, fl_summary) = timed(fairlearn_side, yt, yp, sf, repeat=1)
    boot_s, _ = timed(audit_fairness, yt, yp, sf, n_bootstrap=1000, seed=0, repeat=args.repeat)

    diffs = [np.abs(ours.by_group[m].to_numpy(float) - fl_by.loc[ours.by_group.index, m].to_numpy(float)).max()
             for m in METRICS]
    diffs += [abs(ours.summary[k] - v) for k, v in fl_summary.items()]
    emit({"rows": n, "load": args.load, "ours_s": ours_s, "ours_cpu_s": ours_cpu_s, "python_threads": threads, "fairlearn_s": fl_s, "speedup": fl_s / ours_s,
          "max_abs_diff": float(max(diffs)), "bootstrap_1000_s": boot_s})


if __name__ == "__main__":
    main()
