"""Model worker costs: zygote start, worker start, and predict_proba on the Adult test split in the sandboxed
worker vs in process.

The model is a TorchScript MLP of the app's default shape (hidden 128, 64) with random weights; the input is the
Adult test split through dlxai's preprocessing (16,281 rows x ~100 float32 columns).  One torch thread on both
sides.  Prints one JSON line: {"zygote_start_s", "worker_start_s" (median of 5 forks), "noop_call_ms",
"rows", "cols", "in_process_s", "worker_s", "overhead_s", "ratio", "same_result", "targets_met"}.
Targets: worker_start_s <= 2 (with the zygote warm) and overhead_s <= 0.25 s for the whole split.
"""

import io
import statistics
import time
import warnings

from _common import emit, load_from_args, timed


def main() -> None:
    load_from_args()
    import _worker_tasks as tasks
    import numpy as np
    import torch

    from dlxai.data import Preprocessor, load_adult
    from dlxai.models import worker as wk
    from dlxai.models.torch_mlp import build_mlp

    t = time.perf_counter()
    wk._zygote()
    zygote_s = time.perf_counter() - t
    starts = []
    for _ in range(5):
        with wk.ModelWorker() as w:
            starts.append(w.start_seconds)

    ds = load_adult()
    prep = Preprocessor(ds.schema.numeric, ds.schema.categorical).fit(ds.X("train"))
    X = np.ascontiguousarray(prep.transform(ds.X("test")), dtype=np.float32)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = build_mlp(X.shape[1], (128, 64), 2, 0.0).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(net), buf)
    raw = buf.getvalue()

    tasks.load("adult", raw)
    local_s, local = timed(tasks.predict_proba, "adult", X, repeat=5)
    with wk.ModelWorker(wk.WorkerLimits(threads=1)) as w:
        w.install(tasks.load, "adult", raw)
        noop_s, _ = timed(w.call, tasks.noop, repeat=20)
        remote_s, remote = timed(w.call, tasks.predict_proba, "adult", X, repeat=5)
    start_s = statistics.median(starts)
    overhead = remote_s - local_s
    emit({"zygote_start_s": zygote_s, "worker_start_s": start_s, "noop_call_ms": noop_s * 1000,
          "rows": X.shape[0], "cols": X.shape[1], "in_process_s": local_s, "worker_s": remote_s,
          "overhead_s": overhead, "ratio": remote_s / local_s, "same_result": bool(np.array_equal(local, remote)),
          "targets_met": bool(start_s <= 2 and overhead <= 0.25)})


if __name__ == "__main__":
    main()
