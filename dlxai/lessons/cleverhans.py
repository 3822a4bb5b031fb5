"""The Clever Hans lesson's computations: a CNN trained on watermarked digits, graded twice and explained.

A setting is the correlation dial and the shortcut class (:class:`ShortcutSettings`); the data is
:func:`~dlxai.data.watermark.make_watermarked_digits`'s, the model the digits lesson's CNN
(:func:`dlxai.lessons.digits.train`: the Images page's net and epochs, seed 0, one thread).  :func:`grade` scores
it on the clean test split and on its watermarked copy; :func:`explain` measures, with integrated gradients and
LRP-ε, how much of the model's case for the shortcut class rests on the watermark's few pixels, against the
watermark's share of the image area.  At correlation 1 that share is several times the area's and the shortcut
class is lost on clean images; at correlation 0 both go back to normal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlxai.data.images import ImageDataset
from dlxai.data.watermark import make_watermarked_digits
from dlxai.explain.attribution import attribute
from dlxai.lessons import digits as D
from dlxai.models.torch_mlp import torch_threads
from dlxai.validation import check_float, check_int

KIND = "cnn"
METHODS = D.METHODS[KIND][:2]  # integrated gradients and LRP-ε, as the digits lesson runs them
SHORT = {"Integrated gradients": "ig", "LRP-ε": "lrp"}  # method label -> key in a run's record ("share_ig", …)


@dataclass(frozen=True)
class ShortcutSettings:
    """The lesson's dials: how often the shortcut class's training images carry the watermark, and which class."""

    correlation: float = 1.0
    shortcut_class: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "correlation", round(check_float(self.correlation, "correlation", low=0.0,
                                                                  high=1.0), 2))
        object.__setattr__(self, "shortcut_class", check_int(self.shortcut_class, "shortcut_class", low=0, high=9))
        object.__setattr__(self, "seed", check_int(self.seed, "seed", low=0))

    @property
    def label(self) -> str:
        """The setting in a few words, for tables and chart axes."""
        return f"watermark on {self.correlation:.0%} of the {self.shortcut_class}s"


@dataclass(frozen=True)
class Grades:
    """The model graded on the clean test split and on its watermarked copy."""

    accuracy_clean: float  # all test images, no watermark
    accuracy_watermarked: float  # all test images, each with the watermark
    class_clean: float  # share of the shortcut class's clean test images read as that class
    class_watermarked: float  # the same, watermarked
    hijacked: float  # share of the other digits' watermarked test images read as the shortcut class

    def record(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class Example:
    """One watermarked test image, the model's answer, and each method's map for that answer (``[C, H, W]``)."""

    index: int  # in the test split
    truth: int
    predicted: int
    probability: float
    image: np.ndarray
    maps: dict


@dataclass(frozen=True)
class Relevance:
    """Where the model's case for the shortcut class rests, on its watermarked test images."""

    shares: dict  # method label -> mean share of |relevance| on the watermark's pixels
    area_share: float  # the watermark's share of the image area
    n_images: int
    examples: tuple[Example, ...] = field(default_factory=tuple)

    def record(self) -> dict:
        return {f"share_{SHORT[name]}": v for name, v in self.shares.items()} | {"area_share": self.area_share}


def make_data(settings: ShortcutSettings) -> ImageDataset:
    return make_watermarked_digits(settings.correlation, settings.shortcut_class, settings.seed)


def train(dataset: ImageDataset, progress=None, epochs: int | None = None):
    """The digits lesson's CNN trained on ``dataset`` (seed 0, one thread; the Images page's epochs unless
    ``epochs``)."""
    est, _ = D.train(dataset, KIND, progress, epochs)
    return est


def grade(est, dataset: ImageDataset) -> Grades:
    c = dataset.extra["shortcut_class"]
    y = dataset.y("test")
    clean = est.predict(dataset.flat("test"))
    marked = dataset.extra["watermarked_test"]
    stamped = est.predict(marked.reshape(len(marked), -1))
    own = y == c
    return Grades(accuracy_clean=float((clean == y).mean()), accuracy_watermarked=float((stamped == y).mean()),
                  class_clean=float((clean[own] == c).mean()), class_watermarked=float((stamped[own] == c).mean()),
                  hijacked=float((stamped[~own] == c).mean()))


def _maps(est, x: np.ndarray, target) -> dict:
    import torch

    inputs = torch.from_numpy(np.ascontiguousarray(x))
    out = {}
    with torch_threads(1):
        for method, name, params in METHODS:
            res = attribute(est.module_, inputs, method=method, target=target, baselines="zeros", kind="image",
                            device="cpu", batch_size=64, **dict(params))
            out[name] = np.asarray(res.values)
    return out


def watermark_share(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per image, the share of |relevance| (``values``: ``[n, C, H, W]``) on the pixels of ``mask`` (``[H, W]``);
    NaN for an image whose map is all zero."""
    a = np.abs(np.asarray(values, dtype=np.float64)).sum(axis=1)
    total = a.reshape(len(a), -1).sum(axis=1)
    on = a[:, mask].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, on / total, np.nan)


def _example(est, dataset: ImageDataset, index: int) -> Example:
    image = dataset.extra["watermarked_test"][index]
    proba = est.predict_proba(image.reshape(1, -1))[0]
    predicted = int(est.classes_[int(np.argmax(proba))])
    maps = {name: m[0] for name, m in _maps(est, image[None], predicted).items()}
    return Example(index, int(dataset.y("test")[index]), predicted, float(proba.max()), image, maps)


def explain(est, dataset: ImageDataset) -> Relevance:
    """IG and LRP-ε for the shortcut class on every watermarked test image of that class: the mean share of
    |relevance| on the watermark; and two examples: the first such image, and the first watermarked image of
    another digit the model reads as the shortcut class (else the first of another digit)."""
    c, mask = dataset.extra["shortcut_class"], dataset.extra["mask"]
    y = dataset.y("test")
    marked = dataset.extra["watermarked_test"]
    own = np.flatnonzero(y == c)
    shares = {name: float(np.nanmean(watermark_share(v, mask))) for name, v in _maps(est, marked[own], c).items()}
    others = np.flatnonzero(y != c)
    stamped = est.predict(marked[others].reshape(len(others), -1))
    fooled = others[stamped == c]
    second = int(fooled[0] if len(fooled) else others[0])
    return Relevance(shares, float(mask.mean()), len(own),
                     (_example(est, dataset, int(own[0])), _example(est, dataset, second)))


@dataclass(frozen=True)
class ShortcutRun:
    """One setting trained, graded and (optionally) explained."""

    settings: ShortcutSettings
    grades: Grades
    relevance: Relevance | None = None

    def record(self) -> dict:
        return self.grades.record() | ({} if self.relevance is None else self.relevance.record())


def run(settings: ShortcutSettings, *, explained: bool = True, progress=None, epochs: int | None = None
        ) -> ShortcutRun:
    """Generate the data for ``settings``, train the CNN, grade it and (with ``explained``) explain it."""
    dataset = make_data(settings)
    est = train(dataset, progress, epochs)
    return ShortcutRun(settings, grade(est, dataset), explain(est, dataset) if explained else None)
