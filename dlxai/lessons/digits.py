"""The digits lesson's computations: two small image models, their heatmaps, and the two checks that decide.

The models are smaller and shorter-trained than the Images page's defaults, so each lesson step answers in
seconds on two cores: the CNN trains for 4 epochs, the ViT is 32 wide and trains 12 epochs in batches of 128.
The randomisation check uses :data:`N_SANITY` test images, the deletion curves :data:`N_DELETION`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlxai.explain.attribution import attribute
from dlxai.explain.quality import SANITY_MAX_SPEARMAN, deletion_insertion, randomisation_check
from dlxai.models.nets import train_image_model

MODEL_PARAMS = {
    "cnn": (("max_epochs", 4),),
    "vit": (("batch_size", 128), ("dim", 32), ("learning_rate", 6e-3), ("max_epochs", 12)),
}
SHORT = {"cnn": "CNN", "vit": "ViT"}
# (method key, label, params) per model kind, as the lesson shows them
METHODS = {
    "cnn": (("integrated_gradients", "Integrated gradients", (("n_steps", 32),)),
            ("lrp", "LRP", (("composite", "epsilon_plus_flat"),))),
    "vit": (("integrated_gradients", "Integrated gradients", (("n_steps", 32),)),
            ("attention", "Attention rollout", ())),
}
N_SANITY = 8
N_DELETION = 24
DELETION_STEPS = 12
SEED = 0


def train(dataset, kind: str, progress=None):
    """The lesson's ``kind`` model ("cnn" or "vit") trained on the digits (seed 0), and its test accuracy."""
    est = train_image_model(dataset, kind, seed=SEED, progress=progress, **dict(MODEL_PARAMS[kind]))
    accuracy = float((est.predict(dataset.flat("test")) == dataset.y("test")).mean())
    return est, accuracy


def _inputs(dataset, n: int):
    import torch

    return torch.from_numpy(np.ascontiguousarray(dataset.images("test")[:n]))


def _attribute(est, x, method: str, params: tuple, target=None):
    return attribute(est.module_, x, method=method, target=target, baselines="zeros", kind="image", device="cpu",
                     batch_size=64, **dict(params))


def label(kind: str, method_label: str) -> str:
    return f"{SHORT[kind]} · {method_label}"


def randomise(models: dict, dataset, *, n: int | None = None, progress=None) -> dict:
    """Cascading randomisation check of every method of every model (on ``n`` test images, default
    :data:`N_SANITY`): label -> RandomisationCheck."""
    x = _inputs(dataset, N_SANITY if n is None else n)
    jobs = [(kind, m) for kind in models for m in METHODS[kind]]
    out = {}
    for i, (kind, (method, name, params)) in enumerate(jobs):
        out[label(kind, name)] = randomisation_check(models[kind].module_, x, method=method, seed=SEED,
                                                     baselines="zeros", kind="image", device="cpu",
                                                     **dict(params))
        if progress is not None:
            progress((i + 1) / len(jobs))
    return out


def delete(models: dict, dataset, *, n: int | None = None, progress=None) -> dict:
    """Deletion (and insertion) curves of every method of every model (on ``n`` test images, default
    :data:`N_DELETION`): label -> Faithfulness."""
    x = _inputs(dataset, N_DELETION if n is None else n)
    jobs = [(kind, m) for kind in models for m in METHODS[kind]]
    out = {}
    for i, (kind, (method, name, params)) in enumerate(jobs):
        res = _attribute(models[kind], x, method, params)
        out[label(kind, name)] = deletion_insertion(models[kind].module_, res, n_steps=DELETION_STEPS, seed=SEED)
        if progress is not None:
            progress((i + 1) / len(jobs))
    return out


def checks_table(checks: dict, curves: dict) -> pd.DataFrame:
    """One row per model · method: the randomisation ρ and verdict, and the deletion areas."""
    rows = {}
    for name in dict.fromkeys([*checks, *curves]):
        c, f = checks.get(name), curves.get(name)
        rows[name] = {
            "rho": np.nan if c is None else c.final,
            "randomisation check": "—" if c is None else ("passed" if c.final < SANITY_MAX_SPEARMAN else "failed"),
            "deletion_auc": np.nan if f is None else f.deletion_auc,
            "random_deletion_auc": np.nan if f is None else f.random_deletion_auc,
        }
    return pd.DataFrame.from_dict(rows, orient="index")
