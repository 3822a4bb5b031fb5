"""Glue for the Images page: the bundled digits, CNN/ViT trained once and shared, cached heatmaps.

The digits and the models trained on them are bundled demos (same data, same settings, same seed give
the same model), so they are shared by every visitor through a ``cache_resource`` registry, like
``ui.cache.demo_model``, and train in the job runner.  The session only remembers which settings it trained.  Heatmaps are cached with
``st.cache_data``, keyed by the model's content hash, the image and the method's parameters.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from dlxai.data.images import ImageDataset, load_digits
from dlxai.models.base import digest_module
from dlxai.models.nets import IMAGE_MODELS, train_image_model
from ui import jobs, state
from ui.cache import Registry, build_once

DEFAULT_EPOCHS = {"cnn": 8, "vit": 15}
SHORT = {"cnn": "CNN", "vit": "ViT"}
# benchmarks/digits_quality.py, seed 0, default epochs, one thread: CPU seconds to train (what an idle core takes in
# wall time; the same runs took 18 s and 51 s of wall time at load average 19 on 2 cores) and test accuracy
MEASURED = {"cnn": (2.4, 0.994), "vit": (6.1, 0.944)}
FUSIONS = {"mean": "mean of heads", "max": "max of heads", "min": "min of heads"}
# LRP-ε puts no relevance on the blank background (0% of |relevance|, 38% with ε-z⁺-Flat, whose Flat input rule
# spreads relevance over every pixel) and deletes best (AUC 0.08 vs 0.28 for ε-z⁺-Flat, 0.45 random; CNN, 100 test
# digits).  Its randomisation ρ over all pixels (0.89) is inflated by the background, which both maps leave at 0;
# over the digit's own pixels it is 0.35 (ε-z⁺-Flat 0.07, integrated gradients 0.36).
LRP_DEFAULT = "epsilon"
LRP_HELP = ("LRP-ε leaves the blank background at 0; composites with a Flat input rule (ε-z⁺-Flat, ε-α2β1-Flat) "
            "spread relevance over every pixel, background included (38% of it on the CNN).")
# under each panel: why the rollout map is coarser than the others
PANEL_NOTES = {"Attention rollout": "2×2 blocks: the ViT attends to 2×2-pixel patches"}
REGISTRY_MAX = 8
# (method key, label, params) per model kind: what the page shows beside the image
PANELS = {
    "cnn": [("integrated_gradients", "Integrated gradients", {"n_steps": 32}),
            ("lrp", "LRP", {})],  # the composite comes from the page
    "vit": [("integrated_gradients", "Integrated gradients", {"n_steps": 32}),
            ("attention", "Attention rollout", {})],
}


@st.cache_resource(show_spinner="Loading the bundled digits…")
def digits() -> ImageDataset:
    return load_digits(seed=0)


@st.cache_resource(show_spinner=False)
def _registry() -> Registry:
    return Registry(REGISTRY_MAX)


def model_hash(est) -> str:
    h = hashlib.sha256(type(est).__name__.encode())
    digest_module(est.module_, h)
    return h.hexdigest()


def train(kind: str, epochs: int, seed: int):
    """Train (or fetch) the ``kind`` model with a progress bar; remember it for this session."""
    ds = digits()
    key = (kind, int(epochs), int(seed))
    bar = st.progress(0.0, text=f"Training the {IMAGE_MODELS[kind][0]}…")

    def progress(info):
        bar.progress(min(info.fraction, 1.0), text=f"Epoch {info.epoch}/{info.max_epochs}: loss {info.train_loss:.4f}")

    def build():
        est = jobs.run(train_image_model, ds, kind, seed=int(seed), progress=progress, max_epochs=int(epochs),
                       label=f"Training the {SHORT[kind]}", threads=1)  # small nets: one thread
        acc = float((est.predict(ds.flat("test")) == ds.y("test")).mean())
        return {"estimator": est, "hash": model_hash(est), "accuracy": acc}

    entry = build_once(_registry(), key, build)
    bar.progress(1.0, text=f"Trained in {entry['estimator'].fit_seconds_:.1f} s · test accuracy {entry['accuracy']:.3f}")
    state.set_image_model(kind, key)
    return entry


def trained() -> dict:
    """kind -> registry entry (estimator, hash, accuracy) for the models this session trained."""
    registry = _registry()
    out = {}
    for kind, key in state.image_models().items():
        if (entry := registry.get(key)) is not None:
            out[kind] = entry
    return out


def predict_one(est, image: np.ndarray) -> tuple[int, np.ndarray]:
    proba = est.predict_proba(image.reshape(1, -1))[0]
    return int(est.classes_[int(np.argmax(proba))]), proba


@st.cache_data(show_spinner=False, max_entries=256)
def heatmap(_est, model_key: str, index: int, method: str, params: tuple, target: int) -> tuple[np.ndarray, float | None]:
    """Attribution of test image ``index`` for class ``target``: ``(values [C, H, W], relative delta or None)``."""
    import torch

    from dlxai.explain.attribution import attribute

    x = torch.from_numpy(digits().images("test")[index:index + 1].copy())
    res = attribute(_est.module_, x, method=method, target=int(target), baselines="zeros", batch_size=64,
                    kind="image", device="cpu", **dict(params))
    err = res.completeness_error
    return np.asarray(res.values[0]), (None if err is None else float(err[0]))


@st.cache_data(show_spinner=False, max_entries=64)
def attention(_est, model_key: str, index: int, head_fusion: str):
    import torch

    from dlxai.explain.attention import explain_attention

    x = torch.from_numpy(digits().images("test")[index:index + 1].copy())
    return explain_attention(_est.module_, x, head_fusion=head_fusion)


def measured_text() -> str:
    """The training times benchmarks/digits_quality.py measured, as the page states them."""
    return " and ".join(f"{SHORT[k]} {s:.1f} s ({DEFAULT_EPOCHS[k]} epochs, test accuracy {a:.3f})"
                        for k, (s, a) in MEASURED.items())
