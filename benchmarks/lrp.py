"""LRP on a VGG-style CNN: dlxai (Zennit rules on a private copy) against Captum's LRP, same model, same rows.

Both sides use LRP-ε on every convolution and dense layer (Captum's default rules, ε = 1e-9) and explain the
predicted class.  Captum fails on ``nn.Flatten`` and writes ``.rule`` attributes onto the model it gets, so it
receives a fresh copy of a model that flattens with ``torch.flatten`` in ``forward`` (not timed); dlxai gets the
same model and copies it itself (timed).  ``zennit_rules_s`` times dlxai's general path (Zennit's hooks, used
for every other composite) on the same call.  One JSON line per comparison:

    {"method": "lrp", "device": ..., "rows": 64, "input": "3x32x32", "ours_s": ..., "captum_s": ...,
     "speedup": ..., "max_rel_diff": ...}

Usage: ``python benchmarks/lrp.py [--rows 64] [--repeats 3] [--width 32] [--device auto]``
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlxai  # noqa: E402,F401  (before torch, as the app imports it: OpenMP's wait policy)

# isort: split
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from _common import add_load_option, start_load  # noqa: E402


class VGGStyle(nn.Module):
    """Three VGG stages (two 3×3 convolutions + ReLU, then max-pool), then a two-layer classifier."""

    def __init__(self, width: int = 32, n_classes: int = 10):
        super().__init__()
        w = width
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in (w, 2 * w, 4 * w):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1),
                       nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(4 * w * 4 * 4, 256), nn.ReLU(), nn.Linear(256, n_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def _time(fn, repeats: int, sync) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    from captum.attr import LRP

    from dlxai.explain.lrp import lrp

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--device", default="auto")
    add_load_option(ap)
    args = ap.parse_args()
    start_load(args.load)
    dev = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                       ("cpu" if args.device == "auto" else args.device))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    torch.manual_seed(0)
    model = VGGStyle(args.width).to(dev).eval()
    x = torch.randn(args.rows, 3, 32, 32, device=dev)
    with torch.no_grad():
        target = model(x).argmax(1)

    def ours():
        return lrp(model, x, target=target, composite="epsilon", epsilon=1e-9, batch_size=args.rows, canonize=False)[0]

    def captum():
        fresh = copy.deepcopy(model)  # Captum writes .rule attributes onto the model it explains (not timed)
        sync()
        t0 = time.perf_counter()
        out = LRP(fresh).attribute(x.clone(), target=target)
        sync()
        return time.perf_counter() - t0, out

    def zennit():
        return lrp(model, x, target=target, composite="epsilon", epsilon=1e-9, batch_size=args.rows,
                   canonize=False, engine="zennit")[0]

    ours(), zennit(), captum()  # warm-up (lazy imports, allocator)
    times = {"ours": [], "captum": [], "zennit": []}
    for _ in range(args.repeats):  # interleaved, so the three sides share the machine's load
        t, theirs = captum()
        times["captum"].append(t)
        t, mine = _time(ours, 1, sync)
        times["ours"].append(t)
        t, via_zennit = _time(zennit, 1, sync)
        times["zennit"].append(t)
    ours_s, captum_s, zennit_s = (min(times[k]) for k in ("ours", "captum", "zennit"))
    scale = theirs.abs().max().clamp_min(1e-30)
    print(json.dumps({
        "method": "lrp", "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "rows": args.rows, "input": "3x32x32", "model": f"VGG-style, width {args.width}",
        "rule": "epsilon (1e-9) on every conv/linear layer", "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats, "statistic": "min over interleaved repeats",
        "ours_s": round(ours_s, 4), "captum_s": round(captum_s, 4), "speedup": round(captum_s / ours_s, 2),
        "max_rel_diff": float(((mine - theirs).abs().max() / scale).item()),
        "zennit_rules_s": round(zennit_s, 4),
        "zennit_max_rel_diff": float(((via_zennit - theirs).abs().max() / scale).item()),
    }))


if __name__ == "__main__":
    main()
