"""What isolating a model costs: predict_proba on the Adult test split and integrated gradients on 1,000 rows of an
uploaded TorchScript network, in its sandboxed model worker (dlxai/models/worker.py) vs in this process.

The model is an MLP of the app's default shape (hidden 128, 64) with random weights, saved with torch.jit.script and
loaded twice through dlxai's own loader with its preprocessing spec: isolated (the default for an upload) and
``isolate=False`` (a trusted copy in this process).  predict_proba runs on the preprocessed test split (16,281 rows x
~107 float32 columns, what the estimator receives); IG runs through ``dlxai.explain.attribution.attribute`` on 1,000
raw rows (50 Gauss-Legendre steps, zero baseline), which for the upload happens inside its worker.  One torch
thread on both sides, best of 9 (IG: of 3) after a warm-up.  Prints one JSON line: {"predict_ratio", "ig_ratio",
"worker_start_s" (median of 5 forks, the zygote warm), "cold_start_s" (zygote with torch imported, then the first
worker), "zygote_start_s", "predict_in_process_s", "predict_worker_s", "ig_in_process_s", "ig_worker_s",
"same_result", "load", "targets_met"}.  Targets: both ratios <= 1.3, worker_start_s <= 2.
"""

import argparse
import io
import statistics
import time
import warnings

from _common import add_load_option, emit, start_load, timed

IG_ROWS = 1000


def main() -> None:
    a = add_load_option(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args()
    start_load(a.load)
    import numpy as np
    import torch

    from dlxai.data import Preprocessor, load_adult
    from dlxai.explain.attribution import attribute
    from dlxai.models import worker as wk
    from dlxai.models.contracts import preprocessing_spec
    from dlxai.models.formats import load_model
    from dlxai.models.torch_mlp import build_mlp

    t = time.perf_counter()
    wk._zygote()
    zygote_s = time.perf_counter() - t
    starts = []
    for _ in range(6):
        with wk.ModelWorker() as w:
            starts.append(w.start_seconds)
    cold_s = zygote_s + starts[0]

    ds = load_adult()
    prep = Preprocessor(ds.schema.numeric, ds.schema.categorical).fit(ds.X("train"))
    X = np.ascontiguousarray(prep.transform(ds.X("test")), dtype=np.float32)
    rows = ds.X("test").head(IG_ROWS)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = build_mlp(X.shape[1], (128, 64), 2, 0.0).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(net), buf)
        spec = {"preprocessing": preprocessing_spec(prep)}
        local = load_model(buf.getvalue(), "adult.pt", spec=spec, sample=ds.X("test"), isolate=False)
        isolated = load_model(buf.getvalue(), "adult.pt", spec=spec, sample=ds.X("test"))

    def ig(model):
        return attribute(model, rows, method="integrated_gradients", n_steps=50, device="cpu").values

    try:
        for model in (local, isolated):  # warm-up: imports, the worker's gradient check
            model.estimator.predict_proba(X[:8])
            attribute(model, rows.head(8), method="integrated_gradients", n_steps=50, device="cpu")
        local_s, local_p = timed(local.estimator.predict_proba, X, repeat=9)
        remote_s, remote_p = timed(isolated.estimator.predict_proba, X, repeat=9)
        local_ig_s, local_ig = timed(ig, local, repeat=3)
        remote_ig_s, remote_ig = timed(ig, isolated, repeat=3)
    finally:
        isolated.close()
    start_s = statistics.median(starts[1:])
    predict_ratio, ig_ratio = remote_s / local_s, remote_ig_s / local_ig_s
    emit({"predict_ratio": predict_ratio, "ig_ratio": ig_ratio, "worker_start_s": start_s, "cold_start_s": cold_s,
          "zygote_start_s": zygote_s, "rows": X.shape[0], "cols": X.shape[1], "ig_rows": IG_ROWS,
          "predict_in_process_s": local_s, "predict_worker_s": remote_s, "ig_in_process_s": local_ig_s,
          "ig_worker_s": remote_ig_s,
          "same_result": bool(np.array_equal(local_p, remote_p) and np.array_equal(local_ig, remote_ig)),
          "load": a.load, "targets_met": bool(predict_ratio <= 1.3 and ig_ratio <= 1.3 and start_s <= 2)})


if __name__ == "__main__":
    main()
