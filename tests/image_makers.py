"""Small images and image classifiers made at test time: PNG/JPEG files written by PIL, a labels CSV, and a
torchvision resnet18 (3 classes, random weights) exported by the real exporters (safetensors, torch.jit.trace,
torch.onnx.export).  Shared by the unit, CLI and page tests of image audits."""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np

CLASSES = ("cat", "dog", "fox")
SPEC = {"architecture": "resnet18", "num_classes": 3}


def write_images(root: Path, n: int = 24, size: int = 32, fmt: str = "PNG", mode: str = "RGB", seed: int = 0,
                 csv: bool = True) -> tuple[Path, Path]:
    """``n`` random images in ``root`` and ``labels.csv`` beside it (file, label, site, skin): (folder, csv)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = ["file,label,site,skin"]
    ext = "png" if fmt == "PNG" else "jpg"
    for i in range(n):
        shape = (size, size, 3) if mode == "RGB" else (size, size)
        Image.fromarray((rng.random(shape) * 255).astype(np.uint8), mode).save(root / f"im{i:03d}.{ext}", fmt)
        rows.append(f"im{i:03d}.{ext},{CLASSES[i % 3]},{'north' if i % 2 else 'south'},{'I-II' if i % 4 < 2 else 'V-VI'}")
    labels = root.parent / f"{root.name}_labels.csv"
    if csv:
        labels.write_text("\n".join(rows) + "\n")
    return root, labels


def zip_folder(root: Path, extra: dict | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def huge_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header claiming ``width × height`` pixels, with a tiny compressed body: a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * width  # one grayscale row, filter 0
    body = zlib.compress(row * 4, 9)  # a few rows only: the file stays small, the header is what matters
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def resnet(num_classes: int = 3, seed: int = 0):
    import torch
    import torchvision

    torch.manual_seed(seed)
    return torchvision.models.resnet18(weights=None, num_classes=num_classes).eval()


def safetensors_bytes(net) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in net.state_dict().items()})


def torchscript_bytes(net, size: int = 32) -> bytes:
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(net, torch.zeros(2, 3, size, size)), buf)
    return buf.getvalue()


def onnx_bytes(net, size: int = 32) -> bytes:
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(2, 3, size, size),), buf, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    return buf.getvalue()
