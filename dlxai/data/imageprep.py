"""The preprocessing of uploaded images, declared in JSON: resize, centre crop, pixels / 255, ``(x − mean) / std``
per channel, channel order (RGB or BGR) and layout (NCHW or NHWC).  :func:`parse_preprocess` is its one validator;
:func:`to_inputs` applies the arithmetic to decoded pixels (:mod:`dlxai.data.imagesets` decodes, resizes and crops).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dlxai.data.jsonsafe import load_json
from dlxai.errors import UserInputError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PREPROCESS_KEYS = ("resize", "crop", "mean", "std", "channels", "channel_order", "layout", "convert_channels")

PREPROCESS_INVALID = (
    "The preprocessing JSON is invalid: {detail}. Example: {{\"resize\": 32, \"crop\": 32, \"mean\": [0.485, "
    "0.456, 0.406], \"std\": [0.229, 0.224, 0.225], \"channels\": 3, \"channel_order\": \"RGB\", \"layout\": "
    "\"NCHW\"}}."
)


# --- the preprocessing spec --------------------------------------------------------------------------
@dataclass(frozen=True)
class Preprocess:
    """How files become the model's input: resize (shorter side, or exact ``[h, w]``), centre crop, pixels / 255,
    ``(x − mean) / std`` per channel, channel order (RGB or BGR) and layout (NCHW or NHWC)."""

    resize: tuple | None = None  # (side,) shorter side, or (h, w)
    crop: tuple | None = None  # (h, w)
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    channels: int = 3
    channel_order: str = "RGB"
    layout: str = "NCHW"
    convert_channels: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("resize", "crop", "mean", "std"):
            d[k] = None if d[k] is None else list(d[k])
        return d

    def describe(self) -> list[str]:
        """The steps in words, as the page and the report show them."""
        steps = []
        if self.resize is not None:
            steps.append(f"resize the shorter side to {self.resize[0]} px" if len(self.resize) == 1
                         else f"resize to {self.resize[0]} × {self.resize[1]} px (height × width)")
        if self.crop is not None:
            steps.append(f"centre crop {self.crop[0]} × {self.crop[1]} px")
        steps.append(f"{'RGB' if self.channels == 3 else 'grayscale'} pixels / 255, then (x − mean) / std with mean "
                     f"{list(self.mean)} and std {list(self.std)}")
        steps.append(f"channel order {self.channel_order}, layout {self.layout}")
        return steps


def _bad(detail: str) -> UserInputError:
    return UserInputError(PREPROCESS_INVALID.format(detail=detail))


def _side_pair(value, key: str, square: bool) -> tuple | None:
    """``(side,)`` (``square``: ``(side, side)``) from a number or ``[side]``, ``(h, w)`` from ``[h, w]``."""
    if value is None:
        return None
    vals = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    ok = isinstance(vals, list) and len(vals) in (1, 2) and all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in vals)
    if not ok:
        raise _bad(f"{key!r} must be a whole number of pixels from 1 to 4096 or [height, width]; received {value!r}")
    return (vals[0], vals[0]) if square and len(vals) == 1 else tuple(vals)


def _stats(value, key: str, channels: int, positive: bool) -> tuple:
    ok = isinstance(value, (list, tuple)) and len(value) == channels and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and (v > 0 or not positive)
        for v in value)
    if not ok:
        rule = "positive numbers" if positive else "finite numbers"
        raise _bad(f"{key!r} must be a list of {channels} {rule} (one per channel); received {value!r}")
    return tuple(float(v) for v in value)


def parse_preprocess(spec=None) -> Preprocess:
    """The one validator of a preprocessing spec (dict, JSON text or bytes; None: the defaults)."""
    if spec is None:
        return Preprocess()
    if isinstance(spec, Preprocess):
        return spec
    if isinstance(spec, (bytes, bytearray, str)):
        spec = load_json(spec, what="The preprocessing JSON")
    if not isinstance(spec, dict):
        raise _bad(f"expected a JSON object, received {type(spec).__name__}")
    unknown = sorted(set(spec) - set(PREPROCESS_KEYS))
    if unknown:
        raise _bad(f"unknown key(s) {unknown}; the keys are {list(PREPROCESS_KEYS)}")
    channels = spec.get("channels", 3)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise _bad(f"'channels' must be 1 (grayscale) or 3 (RGB); received {channels!r}")
    order = spec.get("channel_order", "RGB")
    layout = spec.get("layout", "NCHW")
    if order not in ("RGB", "BGR"):
        raise _bad(f"'channel_order' must be 'RGB' or 'BGR'; received {order!r}")
    if layout not in ("NCHW", "NHWC"):
        raise _bad(f"'layout' must be 'NCHW' or 'NHWC'; received {layout!r}")
    convert = spec.get("convert_channels", False)
    if not isinstance(convert, bool):
        raise _bad(f"'convert_channels' must be true or false; received {convert!r}")
    mean_default, std_default = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.0,), (1.0,))
    return Preprocess(
        resize=_side_pair(spec.get("resize"), "resize", False), crop=_side_pair(spec.get("crop"), "crop", True),
        mean=_stats(spec.get("mean", mean_default), "mean", channels, False),
        std=_stats(spec.get("std", std_default), "std", channels, True),
        channels=int(channels), channel_order=order, layout=layout, convert_channels=convert)


def to_inputs(pixels: np.ndarray, prep: Preprocess) -> np.ndarray:
    """uint8 ``[n, H, W, C]`` -> the model's float32 input (scaled, normalised, channel order, layout)."""
    x = pixels.astype(np.float32) / 255.0
    x = (x - np.asarray(prep.mean, np.float32)) / np.asarray(prep.std, np.float32)
    if prep.channel_order == "BGR":
        x = x[..., ::-1]
    if prep.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, dtype=np.float32)
