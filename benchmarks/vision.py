"""dlxai on torchvision architectures against the libraries it wraps: LRP vs Zennit, integrated gradients vs Captum.

Random weights (``weights=None``: nothing downloads), 224 × 224 inputs, the predicted class explained, the same
settings on both sides (inputs, targets, steps, rule, points per pass, torch threads, device), in the same process:
one untimed warm-up run of each side, then ``--repeats`` timed runs alternating which side goes first; the best of
each side is reported (the median beside it):

* LRP: ``dlxai.attribute(method="lrp", composite="epsilon_plus_flat")`` (the public call: private copy, target
  check on LRP's own forward pass, conservation delta) vs Zennit's ``EpsilonPlusFlat`` with its ``ResNetCanonizer`` / ``VGGCanonizer`` on
  the caller's model, relevance seeded with the target logit on both sides.  vit_b_16: LRP does not apply (no
  rule for LayerNorm/attention); its line says so with dlxai's reason.
* IG: ``dlxai.attribute(method="integrated_gradients", rule="gausslegendre")`` vs Captum's
  ``IntegratedGradients.attribute(method="gausslegendre", return_convergence_delta=True)`` (dlxai reports the
  delta too), with Captum's ``internal_batch_size`` set to the path points dlxai puts in one forward/backward pass
  (:func:`dlxai.explain.gradients.points_per_chunk`: 32 images of 224 × 224 on a CPU), so both batch alike.
* On a GPU (``--device auto`` picks CUDA when there is one) a further IG line runs dlxai in bfloat16 autocast on
  a channels-last copy, with its max_rel_diff against Captum's float32 result.

One JSON line per (architecture, method, device): ours_s, reference_s, speedup (reference_s / ours_s),
max_rel_diff (max |ours − reference| / max |reference|), the same timings in CPU seconds (``*_cpu_s``,
``cpu_speedup``: steadier on a shared machine), the settings, torch's thread count and the load average.

Usage: ``python benchmarks/vision.py [--arch resnet18 vgg11_bn vit_b_16] [--lrp-images 4] [--ig-images 2]
[--vit-images 1] [--steps 32] [--size 224] [--repeats 3] [--threads 2] [--device auto] [--load N]``
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlxai  # noqa: E402,F401  (before torch, as the app imports it: OpenMP's wait policy)

# isort: split
import torch  # noqa: E402
from _common import add_load_option, emit, start_load  # noqa: E402


def _interleaved(ours, reference, repeats: int, sync):
    """Wall and CPU seconds of each side over ``repeats`` timed runs alternating which side goes first, after one
    untimed warm-up run of each (lazy imports, allocator), and each side's last output.  CPU seconds (this process,
    all threads) are reported beside the wall time: on a shared machine they move less with the neighbours' load."""
    sides = {"ours": ours, "reference": reference}
    wall: dict = {k: [] for k in sides}
    cpu: dict = {k: [] for k in sides}
    out = {name: fn() for name, fn in sides.items()}
    for r in range(repeats):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            sync()
            t0, c0 = time.perf_counter(), time.process_time()
            out[name] = sides[name]()
            sync()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return wall, cpu, out["ours"], out["reference"]


def _figures(wall: dict, cpu: dict, mine, theirs) -> dict:
    """The best of each side (and the medians), their ratio, the largest difference, the load average."""
    rel = _rel(mine, theirs)  # emit() rounds floats to 6 decimals: the exact figure goes out as text too
    best = {k: min(v) for k, v in wall.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    med = {k: statistics.median(v) for k, v in wall.items()}
    return {"ours_s": best["ours"], "reference_s": best["reference"], "speedup": best["reference"] / best["ours"],
            "max_rel_diff": rel, "max_rel_diff_exact": f"{rel:.2e}", "ours_median_s": med["ours"],
            "reference_median_s": med["reference"], "median_speedup": med["reference"] / med["ours"],
            "ours_cpu_s": best_cpu["ours"], "reference_cpu_s": best_cpu["reference"],
            "cpu_speedup": best_cpu["reference"] / best_cpu["ours"], "load_avg_1m": os.getloadavg()[0]}


def _rel(mine, theirs) -> float:
    mine = torch.as_tensor(mine, dtype=torch.float64).cpu()
    theirs = torch.as_tensor(theirs).to(torch.float64).cpu()
    return float((mine - theirs).abs().max() / theirs.abs().max().clamp_min(1e-30))


def _zennit_lrp(model, arch: str, x, target, n_classes: int):
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonPlusFlat
    from zennit.torchvision import ResNetCanonizer, VGGCanonizer

    canonizer = ResNetCanonizer() if arch.startswith("resnet") else VGGCanonizer()
    seed = torch.eye(n_classes, device=x.device)[target]
    with Gradient(model, EpsilonPlusFlat(canonizers=[canonizer])) as attributor:
        _, relevance = attributor(x, lambda out: seed * out)
    return relevance


def bench_lrp(arch: str, model, x, target, args, common: dict, sync) -> None:
    from dlxai.errors import UnsupportedModelError
    from dlxai.explain.attribution import attribute
    from dlxai.explain.lrp import check_lrp_supported

    line = {**common, "method": "lrp", "composite": "epsilon_plus_flat", "images": int(x.shape[0]),
            "reference": "zennit"}
    try:
        check_lrp_supported(model)
    except UnsupportedModelError as exc:
        emit({**line, "available": False, "reason": str(exc)})
        return
    n_classes = 1000

    def ours():
        return attribute(model, x, method="lrp", target=target, composite="epsilon_plus_flat", device=args.dev).values

    def reference():
        return _zennit_lrp(model, arch, x, target, n_classes)

    emit({**line, **_figures(*_interleaved(ours, reference, args.repeats, sync))})


def bench_ig(arch: str, model, x, target, args, common: dict, sync) -> None:
    from captum.attr import IntegratedGradients

    from dlxai.explain.attribution import attribute
    from dlxai.explain.gradients import integrated_gradients, points_per_chunk

    per_pass = points_per_chunk(x, 4096)  # attribute()'s default batch_size, capped by the input's size
    line = {**common, "method": "integrated_gradients", "rule": "gausslegendre", "n_steps": args.steps,
            "images": int(x.shape[0]), "reference": "captum", "points_per_pass": per_pass}

    def ours():
        return attribute(model, x, method="integrated_gradients", target=target, n_steps=args.steps,
                         rule="gausslegendre", device=args.dev).values

    def reference():
        return IntegratedGradients(model).attribute(x, target=target, n_steps=args.steps, method="gausslegendre",
                                                    internal_batch_size=per_pass,
                                                    return_convergence_delta=True)[0].detach()

    emit({**line, "precision": "fp32", **_figures(*_interleaved(ours, reference, args.repeats, sync))})
    if x.device.type != "cuda":
        return
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)  # dlxai's own copy, set up untimed
    for p in fast.parameters():
        p.requires_grad_(False)
    xc = x.contiguous(memory_format=torch.channels_last)

    def ours_bf16():
        return integrated_gradients(fast, xc, target=target, n_steps=args.steps, low_precision=True)[0]

    emit({**line, "precision": "bf16 autocast, channels-last (dlxai.explain.gradients.integrated_gradients)",
          **_figures(*_interleaved(ours_bf16, reference, args.repeats, sync))})


def main() -> None:
    import torchvision

    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", nargs="+", default=["resnet18", "vgg11_bn", "vit_b_16"])
    ap.add_argument("--lrp-images", type=int, default=4)
    ap.add_argument("--ig-images", type=int, default=2)
    ap.add_argument("--vit-images", type=int, default=1, help="images for vit_b_16's integrated gradients")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    add_load_option(ap)
    args = ap.parse_args()
    start_load(args.load)
    torch.set_num_threads(args.threads)
    dev = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                       ("cpu" if args.device == "auto" else args.device))
    args.dev = str(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    device_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    for arch in args.arch:
        torch.manual_seed(0)
        extra = {"image_size": args.size} if arch.startswith("vit") else {}
        model = getattr(torchvision.models, arch)(weights=None, **extra).eval().to(dev)
        common = {"arch": arch, "device": device_name, "input": f"3x{args.size}x{args.size}",
                  "torch_threads": torch.get_num_threads(), "repeats": args.repeats, "load": args.load}
        n_lrp = args.lrp_images
        n_ig = args.vit_images if arch.startswith("vit") else args.ig_images
        x = torch.randn(max(n_lrp, n_ig), 3, args.size, args.size, device=dev)
        with torch.no_grad():
            target = model(x).argmax(1)
        bench_lrp(arch, model, x[:n_lrp], target[:n_lrp], args, common, sync)
        bench_ig(arch, model, x[:n_ig], target[:n_ig], args, common, sync)


if __name__ == "__main__":
    main()
