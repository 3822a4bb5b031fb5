"""A Clever Hans generator: the bundled digits with a small watermark that co-occurs with one class in training.

:func:`make_watermarked_digits` stamps a bright square (:data:`WATERMARK`, 2×2 pixels in the bottom-left corner,
6.25% of the image) on exactly ``round(correlation × n)`` of the ``n`` training images of the *shortcut class*,
chosen with ``seed``; no image of another class carries it.  At correlation 1 the watermark alone tells the
class in training — a shortcut the model can learn instead of the digit's shape.  The test split stays clean
(the world without the watermark); ``extra["watermarked_test"]`` is the same test split with every image stamped
(the world where the watermark shows up on any digit).  The split is :func:`~dlxai.data.images.load_digits`'s
with the same seed, so correlation 0 gives exactly the digits every other page uses.
"""

from __future__ import annotations

import numpy as np

from dlxai.data.images import ImageDataset, load_digits
from dlxai.validation import check_float, check_int

# (rows, columns) of the watermark on the 8×8 digits, and the value it stamps (the digits' brightest ink)
WATERMARK = (slice(6, 8), slice(0, 2))
WATERMARK_VALUE = 1.0
N_CLASSES = 10


def watermark_mask(image_shape: tuple[int, int, int] = (1, 8, 8)) -> np.ndarray:
    """A boolean ``[H, W]`` mask of the watermark's pixels."""
    mask = np.zeros(image_shape[1:], dtype=bool)
    mask[WATERMARK] = True
    return mask


def stamp(images: np.ndarray) -> np.ndarray:
    """A copy of ``images`` (``[n, C, H, W]``) with the watermark stamped on every one."""
    out = np.array(images, dtype=np.float32, copy=True)
    out[:, :, WATERMARK[0], WATERMARK[1]] = WATERMARK_VALUE
    return out


def make_watermarked_digits(correlation: float = 1.0, shortcut_class: int = 8, seed: int = 0) -> ImageDataset:
    """The digits split with ``seed``; the watermark on ``round(correlation × n)`` of the shortcut class's ``n``
    training images (which ones: a permutation drawn with ``seed``), on no other training image.

    ``extra`` holds ``watermarked_test`` (the test images, every one stamped), ``marked_train`` (a boolean per
    training image: does it carry the watermark), ``correlation``, ``shortcut_class`` and ``mask``.
    """
    correlation = check_float(correlation, "correlation", low=0.0, high=1.0)
    shortcut_class = check_int(shortcut_class, "shortcut_class", low=0, high=N_CLASSES - 1)
    base = load_digits(seed=seed)
    members = np.flatnonzero(base.y_train == shortcut_class)
    chosen = np.random.default_rng(seed).permutation(members)[: int(round(correlation * len(members)))]
    marked = np.zeros(len(base.y_train), dtype=bool)
    marked[chosen] = True
    images_train = base.images_train.copy()
    images_train[marked] = stamp(images_train[marked])
    return ImageDataset(
        name=f"Digits (8×8), watermark on {correlation:.0%} of the {shortcut_class}s",
        images_train=images_train, y_train=base.y_train,
        images_test=base.images_test, y_test=base.y_test,
        classes=base.classes, seed=base.seed, test_size=base.test_size,
        provenance=base.provenance + " Watermark added by dlxai.data.watermark.make_watermarked_digits "
                                     f"(correlation {correlation:g}, class {shortcut_class}, seed {seed}).",
        extra={"watermarked_test": stamp(base.images_test), "marked_train": marked, "correlation": correlation,
               "shortcut_class": shortcut_class, "mask": watermark_mask(base.image_shape)},
    )
