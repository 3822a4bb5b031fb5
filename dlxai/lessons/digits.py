"""The digits lesson's computations: two small image models, their heatmaps, and the two checks that decide.

The models are the Images page's (same epochs, seed 0), so a class that opens the Images page finds the models
of its lesson there.  Like all small networks in dlxai they run on one torch thread (a second one only adds
synchronisation; see :func:`dlxai.models.torch_mlp.threads_for`): the CNN trains in about 2.5 s, the ViT in about
6 s.  The randomisation check uses :data:`N_SANITY` test images, the deletion curves :data:`N_DELETION`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlxai.explain.attribution import attribute
from dlxai.explain.quality import SANITY_MAX_SPEARMAN, deletion_insertion, randomisation_check
from dlxai.models.nets import train_image_model
from dlxai.models.torch_mlp import torch_threads

EPOCHS = {"cnn": 8, "vit": 15}  # the Images page's defaults (ui.images.DEFAULT_EPOCHS)
SHORT = {"cnn": "CNN", "vit": "ViT"}
# (method key, label, params) per model kind, as the lesson shows them
METHODS = {
    "cnn": (("integrated_gradients", "Integrated gradients", (("n_steps", 32),)),
            ("lrp", "LRP-ε", (("composite", "epsilon"),)),
            ("lrp", "LRP-Flat", (("composite", "epsilon_plus_flat"),))),
    "vit": (("integrated_gradients", "Integrated gradients", (("n_steps", 32),)),
            ("attention", "Attention rollout", ())),
}
N_SANITY = 10
N_DELETION = 30
DELETION_STEPS = 12
SEED = 0


def train(dataset, kind: str, progress=None, epochs: int | None = None):
    """The lesson's ``kind`` model ("cnn" or "vit") trained on the digits (seed 0; :data:`EPOCHS` unless
    ``epochs``), and its test accuracy."""
    with torch_threads(1):
        est = train_image_model(dataset, kind, seed=SEED, progress=progress, max_epochs=epochs or EPOCHS[kind])
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
    with torch_threads(1):
        for i, (kind, (method, name, params)) in enumerate(jobs):
            out[label(kind, name)] = randomisation_check(models[kind].module_, x, method=method, seed=SEED,
                                                         baselines="zeros", kind="image", device="cpu",
                                                         **dict(params))
            if progress is not None:
                progress((i + 1) / len(jobs))
    return out


def _scrambled(module):
    """A copy of ``module`` with every layer re-initialised (seeded): the last stage of the randomisation check."""
    import copy

    import torch

    rnd = copy.deepcopy(module)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        for m in rnd.modules():
            if hasattr(m, "reset_parameters") and any(True for _ in m.parameters(recurse=False)):
                m.reset_parameters()
    return rnd


def ink_randomisation(models: dict, dataset, *, n: int | None = None, progress=None) -> dict:
    """The randomisation check's last stage compared on each digit's own (inked) pixels only: label -> mean ρ.

    Most of a digit is blank background.  Methods that give a blank pixel exactly 0 (integrated gradients from
    zeros, LRP-ε) give it 0 for the trained and the scrambled model alike, and those shared zeros raise the rank
    correlation over all pixels; on the inked pixels the check measures what the weights change.
    """
    from scipy.stats import spearmanr

    x = _inputs(dataset, N_SANITY if n is None else n)
    ink = x.reshape(len(x), -1).numpy() > 0
    jobs = [(kind, m) for kind in models for m in METHODS[kind]]
    out = {}
    with torch_threads(1):
        for i, (kind, (method, name, params)) in enumerate(jobs):
            module = models[kind].module_
            base = _attribute(models[kind], x, method, params)
            kw = {k: v for k, v in dict(params).items()}
            rnd = attribute(_scrambled(module), x, method=method, target=base.target, baselines="zeros",
                            kind="image", device="cpu", batch_size=64, **kw)
            a, b = np.abs(base.values.reshape(len(x), -1)), np.abs(rnd.values.reshape(len(x), -1))
            rows = [spearmanr(a[r, ink[r]], b[r, ink[r]]).statistic for r in range(len(x)) if ink[r].sum() > 2]
            out[label(kind, name)] = float(np.nanmean(rows)) if rows else float("nan")
            if progress is not None:
                progress((i + 1) / len(jobs))
    return out


def randomise_all(models: dict, dataset, progress=None) -> tuple[dict, dict]:
    """:func:`randomise` and :func:`ink_randomisation` in one go (one job on the dashboard)."""
    def part(lo, hi):
        return None if progress is None else (lambda f: progress(lo + (hi - lo) * f))

    return randomise(models, dataset, progress=part(0.0, 0.8)), ink_randomisation(models, dataset,
                                                                                    progress=part(0.8, 1.0))


def delete(models: dict, dataset, *, n: int | None = None, progress=None) -> dict:
    """Deletion (and insertion) curves of every method of every model (on ``n`` test images, default
    :data:`N_DELETION`): label -> Faithfulness."""
    x = _inputs(dataset, N_DELETION if n is None else n)
    jobs = [(kind, m) for kind in models for m in METHODS[kind]]
    out = {}
    with torch_threads(1):
        for i, (kind, (method, name, params)) in enumerate(jobs):
            res = _attribute(models[kind], x, method, params)
            out[label(kind, name)] = deletion_insertion(models[kind].module_, res, n_steps=DELETION_STEPS,
                                                        seed=SEED)
            if progress is not None:
                progress((i + 1) / len(jobs))
    return out


def checks_table(checks: dict, curves: dict, ink: dict | None = None) -> pd.DataFrame:
    """One row per model · method: the randomisation ρ and verdict (all pixels; ``rho_ink``: the digit's own
    pixels), and the deletion areas."""
    rows = {}
    ink = ink or {}
    for name in dict.fromkeys([*checks, *curves]):
        c, f = checks.get(name), curves.get(name)
        rows[name] = {
            "rho": np.nan if c is None else c.final,
            "randomisation check": "—" if c is None else ("passed" if c.final < SANITY_MAX_SPEARMAN else "failed"),
            "rho_ink": float(ink.get(name, np.nan)),
            "deletion_auc": np.nan if f is None else f.deletion_auc,
            "random_deletion_auc": np.nan if f is None else f.random_deletion_auc,
        }
    return pd.DataFrame.from_dict(rows, orient="index")
