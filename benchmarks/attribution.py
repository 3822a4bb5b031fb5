"""dlxai attribution vs the library a user would otherwise call, on the same model and rows, in one run.

One JSON line per comparison:
  IG:   {"method": "ig", "device", "rows", "ours_s", "captum_s", "speedup", "max_rel_diff", ...}
  SHAP: {"method": "shap", "device", "rows", "ours_s", "shap_s", "speedup", "pearson", ...}
The model is an MLP 100→256→256→2 (seeded random weights).  IG: 50 steps, Gauss–Legendre for both
sides (Captum's default rule); max_rel_diff = max|ours − captum| / max|captum|.  SHAP: expected
gradients vs shap.GradientExplainer, equal sample counts, same background, explaining each row's
top class (shap's ranked_outputs=1); shap's batch_size is set to nsamples (its fastest setting).
On a CUDA machine IG also runs on 100,000 rows.  (LRP is benchmarks/lrp.py.)

Captum runs IG twice: with ``internal_batch_size`` equal to our points per pass (its fair, batched setting: the
main line) and, on 1,000 rows, with its default ``None``.  The default is what a user gets without tuning, and it
grows quadratically: Captum takes ``torch.autograd.grad(torch.unbind(outputs), inputs)`` over rows × steps scalar
outputs at once (captum/_utils/gradient.py), and PyTorch's engine handles that one node's hundreds of thousands of
gradient edges far slower than one batched backward (10,000 rows did not finish in 480 s on 2 cores).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/attribution.py [--ig-rows N] [--shap-rows N] [--only ig|shap]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlxai  # noqa: E402,F401  (before torch, as the app imports it: OpenMP's wait policy)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import add_load_option, start_load  # noqa: E402

from dlxai.explain.attribution import attribute  # noqa: E402


def mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(100, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                               torch.nn.ReLU(), torch.nn.Linear(256, 2)).eval()


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def bench_ig(rows: int, dev: torch.device, batch_size: int, captum_internal_batch: int | None) -> dict:
    from captum.attr import IntegratedGradients

    m = mlp().to(dev)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(rows, 100, generator=g).to(dev)
    with torch.no_grad():
        t = m(x).argmax(1)
    attribute(m, x[:64], method="integrated_gradients", target=t[:64], device=str(dev))  # warm-up
    _sync(dev)
    s = time.perf_counter()
    ours = attribute(m, x, method="integrated_gradients", target=t, n_steps=50, rule="gausslegendre",
                     batch_size=batch_size, device=str(dev))
    _sync(dev)
    ours_s = time.perf_counter() - s
    print(f"ig ours {rows} rows on {dev}: {ours_s:.2f} s", file=sys.stderr, flush=True)
    ig = IntegratedGradients(m)
    s = time.perf_counter()
    theirs = ig.attribute(x, target=t, n_steps=50, method="gausslegendre", internal_batch_size=captum_internal_batch)
    _sync(dev)
    captum_s = time.perf_counter() - s
    theirs = theirs.detach().cpu().numpy()
    diff = float(np.abs(ours.values - theirs).max() / np.abs(theirs).max())
    return {"method": "ig", "device": str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev),
            "rows": rows, "ours_s": round(ours_s, 4), "captum_s": round(captum_s, 4),
            "speedup": round(captum_s / ours_s, 2), "max_rel_diff": diff, "steps": 50, "rule": "gausslegendre",
            "ours_batch_points": batch_size, "captum_internal_batch_size": captum_internal_batch,
            "torch_threads": torch.get_num_threads()}


def bench_shap(rows: int, dev: torch.device, n_samples: int, background: int) -> dict:
    import shap

    m = mlp().to(dev)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(rows, 100, generator=g).to(dev)
    bg = torch.randn(background, 100, generator=g).to(dev)
    with torch.no_grad():
        t = m(x).argmax(1)
    _sync(dev)
    s = time.perf_counter()
    ours = attribute(m, x, method="expected_gradients", target=t, baselines=bg, n_samples=n_samples, seed=0,
                     device=str(dev), batch_size=16384)
    _sync(dev)
    ours_s = time.perf_counter() - s
    explainer = shap.GradientExplainer(m, bg, batch_size=n_samples)
    s = time.perf_counter()
    sv, idx = explainer.shap_values(x, nsamples=n_samples, ranked_outputs=1, rseed=0)
    _sync(dev)
    shap_s = time.perf_counter() - s
    sv = np.asarray(sv)
    sv = sv[..., 0] if sv.ndim == 3 else sv[0]
    assert (np.asarray(idx)[:, 0] == t.cpu().numpy()).all()
    pearson = float(np.corrcoef(ours.values.ravel(), sv.ravel())[0, 1])
    return {"method": "shap", "device": str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev),
            "rows": rows, "ours_s": round(ours_s, 4), "shap_s": round(shap_s, 4),
            "speedup": round(shap_s / ours_s, 2), "pearson": round(pearson, 4), "n_samples": n_samples,
            "background": background, "torch_threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ig-rows", type=int, default=None, help="default 10,000 on a CPU; 100,000 too on a GPU")
    p.add_argument("--shap-rows", type=int, default=2000)
    p.add_argument("--n-samples", type=int, default=200)
    p.add_argument("--background", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=None, help="our points (rows × steps) per forward/backward")
    p.add_argument("--only", choices=["ig", "shap"], default=None)
    add_load_option(p)
    a = p.parse_args()
    start_load(a.load)
    cuda = torch.cuda.is_available()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if cuda else [])
    if a.only in (None, "ig"):
        for dev in devices:
            for rows in ([a.ig_rows] if a.ig_rows else ([10_000, 100_000] if dev.type == "cuda" else [10_000])):
                bs = a.batch_size or (262_144 if dev.type == "cuda" else 8192)
                print(json.dumps(bench_ig(rows, dev, bs, bs)), flush=True)
            print(json.dumps(bench_ig(1000, dev, a.batch_size or 8192, None)), flush=True)  # Captum's default
    if a.only in (None, "shap"):
        for dev in devices:
            print(json.dumps(bench_shap(a.shap_rows, dev, a.n_samples, a.background)), flush=True)


if __name__ == "__main__":
    main()
