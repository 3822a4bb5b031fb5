"""Image attributions summed up and checked: heatmaps, mean maps per group and per class, the quality checks.

* :func:`heatmaps` — ``[n, C, H, W]`` attributions -> ``[n, H, W]`` maps (channels summed, signed or absolute).
* :func:`mean_maps` / :func:`mean_by_class` / :func:`mean_by_group` — the mean heatmap of the images of each class
  (the explained target) or each group (any label per image), each image scaled to max |value| 1 first so that
  no single image dominates: a :class:`MeanMaps`.
* :func:`patch_deletion_insertion` — deletion/insertion by square pixel patches (all channels of a patch move
  together), with the random-order reference: :func:`dlxai.explain.quality.deletion_insertion` on patch units,
  returning its :class:`~dlxai.explain.quality.Faithfulness` (AUCs, ``faithful``).
* :func:`randomisation_check` — Adebayo et al.'s model-randomisation check comparing per-pixel heatmaps:
  :func:`dlxai.explain.quality.randomisation_check` (private copies, the caller's model untouched) with a heatmap
  summary, re-initialising every layer at once by default (a cascade over a ResNet's 60 layers costs 60 runs).

Inputs are :class:`~dlxai.explain.attribution.AttributionResult` objects of image models (values ``[n, C, H, W]``),
as :func:`dlxai.attribute` returns them for any image method (IG, LRP, expected gradients, attention rollout...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlxai.errors import UserInputError
from dlxai.explain.attribution import AttributionResult
from dlxai.explain.gradients import CPU_CHUNK_VALUES
from dlxai.explain.quality import Faithfulness, RandomisationCheck
from dlxai.explain.quality import deletion_insertion as _deletion_insertion
from dlxai.explain.quality import randomisation_check as _randomisation_check

REDUCTIONS = ("sum", "abs")
GROUPINGS = ("class", "group")
NOT_IMAGES = (
    "{what} needs image attributions shaped [images, channels, height, width]; received values of shape {shape}. "
    "Explain an image model (inputs [n, C, H, W]) with dlxai.attribute first."
)
BAD_REDUCE = "reduce must be one of {choices}; received {got!r}. 'sum' keeps the sign, 'abs' adds magnitudes."
BAD_LABELS = (
    "labels must hold one group per image ({n} images); received {got}. Pass e.g. the group column of the images' "
    "table, in the order the images were explained."
)
BAD_PATCH = "patch must be a whole number of pixels between 1 and {top} (the image's shorter side); received {got!r}."


def _image_values(result, what: str) -> np.ndarray:
    if not isinstance(result, AttributionResult):
        raise UserInputError(f"{what} needs an AttributionResult from dlxai.attribute; received "
                             f"{type(result).__name__}.")
    if result.values.ndim != 4:
        raise UserInputError(NOT_IMAGES.format(what=what, shape=tuple(result.values.shape)))
    return result.values


def heatmaps(values, *, reduce: str = "sum") -> np.ndarray:
    """``[n, C, H, W]`` (or already ``[n, H, W]``) attributions -> ``[n, H, W]``: the channels' sum (``"sum"``,
    signed) or the sum of their absolute values (``"abs"``)."""
    if reduce not in REDUCTIONS:
        raise UserInputError(BAD_REDUCE.format(choices=list(REDUCTIONS), got=reduce))
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 3:
        return np.abs(v) if reduce == "abs" else v
    if v.ndim != 4:
        raise UserInputError(NOT_IMAGES.format(what="heatmaps", shape=tuple(v.shape)))
    return (np.abs(v) if reduce == "abs" else v).sum(axis=1)


@dataclass(frozen=True)
class MeanMaps:
    """The mean heatmap of each class or group: ``maps[i]`` (``[H, W]``) averages ``counts[i]`` images of
    ``keys[i]``.  With ``normalised`` every image's map was divided by its max |value| before averaging."""

    keys: tuple
    maps: np.ndarray
    counts: np.ndarray
    by: str
    reduce: str
    normalised: bool
    method: str

    def map(self, key) -> np.ndarray:
        """The mean map of ``key`` (a class index or a group level)."""
        if key not in self.keys:
            raise UserInputError(f"No images of {self.by} {key!r}; the {self.by}es here are {list(self.keys)}.")
        return self.maps[self.keys.index(key)]


def mean_maps(result: AttributionResult, labels=None, *, by: str = "class", reduce: str = "sum",
              normalise: bool = True) -> MeanMaps:
    """Mean heatmap per class (``by="class"``: the explained target of each image) or per group (``by="group"``:
    ``labels`` holds one group per image).  Keys come out sorted."""
    values = _image_values(result, "mean_maps")
    if by not in GROUPINGS:
        raise UserInputError(f"by must be one of {list(GROUPINGS)}; received {by!r}.")
    maps = heatmaps(values, reduce=reduce)
    if by == "class":
        labels = result.target
    elif labels is None or len(labels) != len(maps):
        got = "None" if labels is None else f"{len(labels)} labels"
        raise UserInputError(BAD_LABELS.format(n=len(maps), got=got))
    labels = np.asarray(labels)
    if normalise:
        scale = np.abs(maps).reshape(len(maps), -1).max(axis=1)
        maps = maps / np.where(scale > 0, scale, 1.0)[:, None, None]
    keys = tuple(v.item() if hasattr(v, "item") else v for v in np.unique(labels))
    means = np.stack([maps[labels == k].mean(axis=0) for k in keys])
    counts = np.array([int((labels == k).sum()) for k in keys])
    return MeanMaps(keys, means, counts, by, reduce, bool(normalise), result.method)


def mean_by_class(result: AttributionResult, **kwargs) -> MeanMaps:
    """:func:`mean_maps` per explained class."""
    return mean_maps(result, by="class", **kwargs)


def mean_by_group(result: AttributionResult, labels, **kwargs) -> MeanMaps:
    """:func:`mean_maps` per group, ``labels`` one group per image."""
    return mean_maps(result, labels, by="group", **kwargs)


def patch_groups(shape, patch: int) -> dict[str, np.ndarray]:
    """Square patches of an image shaped ``(C, H, W)``: ``{"r{row}c{col}": flat indices of its values, every
    channel}``, row by row; the last row/column of patches is narrower where ``patch`` does not divide the side."""
    c, h, w = (int(s) for s in shape)
    if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or not 1 <= patch <= min(h, w):
        raise UserInputError(BAD_PATCH.format(top=min(h, w), got=patch))
    idx = np.arange(c * h * w).reshape(c, h, w)
    return {f"r{r}c{q}": idx[:, r * patch:(r + 1) * patch, q * patch:(q + 1) * patch].ravel()
            for r in range(-(-h // patch)) for q in range(-(-w // patch))}


def patch_deletion_insertion(model, result: AttributionResult, *, patch: int = 16, n_steps: int = 20,
                             seed: int = 0, progress: Callable[[float], None] | None = None) -> Faithfulness:
    """Deletion/insertion curves removing (or inserting) whole ``patch`` × ``patch`` squares, most relevant first
    (a patch's relevance: the sum of its values over the channels), against a random order of patches.

    Removed pixels take the result's baseline (zeros for methods without one).  ``faithful`` on the returned
    :class:`~dlxai.explain.quality.Faithfulness`: deleting by relevance hurts more, and inserting helps more, than
    the random order; its ``params`` record the patch size."""
    values = _image_values(result, "patch_deletion_insertion")
    groups = patch_groups(values.shape[1:], patch)
    per_row = int(np.prod(values.shape[1:]))
    on_patches = dataclasses.replace(result, feature_groups=groups)
    out = _deletion_insertion(model, on_patches, n_steps=n_steps, batch_size=max(1, CPU_CHUNK_VALUES // per_row),
                              seed=seed, progress=progress)
    return dataclasses.replace(out, params={**out.params, "patch": int(patch)})


def randomisation_check(model, inputs, *, method: str, seed: int = 0, cascading: bool = False,
                        reduce: str = "abs", progress: Callable[[float], None] | None = None,
                        **attribute_kwargs) -> RandomisationCheck:
    """Model-randomisation check on images: Spearman correlation of each image's per-pixel heatmap (``reduce``:
    channels' absolute values summed by default) before and after re-initialising the layers, on private copies.

    ``passed`` on the result: the correlation after randomisation is below
    :data:`~dlxai.explain.quality.SANITY_MAX_SPEARMAN`, so the maps depend on what the model learned."""
    if reduce not in REDUCTIONS:
        raise UserInputError(BAD_REDUCE.format(choices=list(REDUCTIONS), got=reduce))

    def pixels(res: AttributionResult) -> np.ndarray:
        values = _image_values(res, "randomisation_check")
        return heatmaps(values, reduce=reduce).reshape(res.n, -1)

    out = _randomisation_check(model, inputs, method=method, seed=seed, cascading=cascading, progress=progress,
                               summary=pixels, **attribute_kwargs)
    return dataclasses.replace(out, params={**out.params, "reduce": reduce})
