"""Images: scikit-learn's bundled 8×8 digits (offline), split with a seed.

``load_digits`` ships inside scikit-learn, so nothing is downloaded.  Pixels are scaled from 0..16 to
[0, 1] and kept as ``float32`` images of shape ``[n, 1, 8, 8]`` (channels first, as torch expects).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from dlxai.errors import UserInputError

DIGITS_PROVENANCE = (
    "scikit-learn's bundled copy of the UCI 'Optical Recognition of Handwritten Digits' test set "
    "(1,797 images, 8×8, 16 grey levels; Alpaydin & Kaynak, 1998; CC BY 4.0)."
)


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Train/test images (``float32 [n, C, H, W]`` in [0, 1]) with integer labels and the split's parameters."""

    name: str
    images_train: np.ndarray
    y_train: np.ndarray
    images_test: np.ndarray
    y_test: np.ndarray
    classes: tuple
    seed: int
    test_size: float
    provenance: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def images(self, split: str = "test") -> np.ndarray:
        if split == "train":
            return self.images_train
        if split == "test":
            return self.images_test
        raise UserInputError(f"split must be 'train' or 'test'; received {split!r}.")

    def y(self, split: str = "test") -> np.ndarray:
        if split == "train":
            return self.y_train
        if split == "test":
            return self.y_test
        raise UserInputError(f"split must be 'train' or 'test'; received {split!r}.")

    def flat(self, split: str = "test") -> np.ndarray:
        """The images as a 2-D ``[n, C*H*W]`` matrix: what the scikit-learn style estimators take."""
        x = self.images(split)
        return x.reshape(len(x), -1)

    @cached_property
    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.name}|{self.seed}|{self.test_size}".encode())
        for a in (self.images_train, self.y_train, self.images_test, self.y_test):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def summary(self) -> dict:
        return {
            "name": self.name,
            "train_images": len(self.y_train),
            "test_images": len(self.y_test),
            "image_shape": list(self.image_shape),
            "classes": len(self.classes),
        }


def load_digits(seed: int = 0, test_size: float = 0.3) -> ImageDataset:
    """The 1,797 bundled 8×8 digits, stratified into train and test with ``seed``."""
    if not (isinstance(test_size, (int, float)) and 0.0 < float(test_size) < 1.0):
        raise UserInputError(f"test_size must lie strictly between 0 and 1; received {test_size!r}. Use e.g. 0.3.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserInputError(f"seed must be a non-negative whole number; received {seed!r}.")
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = _sk_load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(images, y, test_size=float(test_size), random_state=int(seed), stratify=y)
    return ImageDataset(
        name="Digits (8×8)",
        images_train=np.ascontiguousarray(xtr),
        y_train=ytr,
        images_test=np.ascontiguousarray(xte),
        y_test=yte,
        classes=tuple(int(c) for c in np.unique(y)),
        seed=int(seed),
        test_size=float(test_size),
        provenance=DIGITS_PROVENANCE,
    )
