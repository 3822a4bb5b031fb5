"""Cached engine calls.

``cache_resource`` holds only shared, read-only things (bundled demo datasets and demo models,
keyed by name and settings).  ``cache_data`` holds engine results keyed by content hashes of the
model and the data (``_``-prefixed arguments are not hashed; their fingerprint is passed instead).
"""

from __future__ import annotations

import threading

import numpy as np
import streamlit as st

from dlxai.data.bundled import load_demo
from dlxai.fairness import audit_fairness
from dlxai.models import train_model
from dlxai.performance import evaluate


@st.cache_resource(show_spinner="Loading the bundled dataset…", max_entries=16)
def demo_dataset(name: str, params: tuple = ()):
    return load_demo(name, **dict(params))


@st.cache_resource(show_spinner=False)
def _demo_models() -> tuple[dict, threading.Lock]:
    return {}, threading.Lock()


DEMO_MODELS_MAX = 16


def demo_model(dataset, dataset_key: str, kind: str, params: tuple, seed: int, progress=None):
    """A model trained on a bundled demo dataset: shared by every visitor, trained once.

    A registry rather than a cached function, because training draws a progress bar, which
    ``st.cache_resource`` would try to replay on every later hit.
    """
    registry, lock = _demo_models()
    key = (dataset_key, kind, params, seed)
    with lock:
        if key not in registry:
            registry[key] = train_model(dataset, kind, seed=seed, progress=progress, **dict(params))
            while len(registry) > DEMO_MODELS_MAX:
                registry.pop(next(iter(registry)))
        return registry[key]


@st.cache_data(show_spinner=False, max_entries=64)
def predictions(_model, model_key: str, _dataset, dataset_key: str, split: str = "test"):
    """P(favourable) per row.  Whole rows go in: post-processed models read the sensitive columns."""
    return _model.predict_proba(_dataset.frame(split))


def decisions(_model, model_key: str, _dataset, dataset_key: str, threshold: float, split: str = "test"):
    """0/1 decisions.  A randomized classifier (ExponentiatedGradient) decides with its own seeded draws,
    which thresholding its mixture probability would not reproduce."""
    if getattr(_model, "randomized", False):
        return np.asarray(_model.predict(_dataset.frame(split)), dtype=int)
    return (predictions(_model, model_key, _dataset, dataset_key, split) >= threshold).astype(int)


@st.cache_data(show_spinner=False, max_entries=64)
def performance(_model, model_key: str, _dataset, dataset_key: str, threshold: float):
    proba = predictions(_model, model_key, _dataset, dataset_key)
    return evaluate(_dataset.y("test"), proba, threshold=threshold)


@st.cache_data(show_spinner="Computing group metrics and 1,000 bootstrap resamples…", max_entries=64)
def fairness(_model, model_key: str, _dataset, dataset_key: str, attrs: tuple, threshold: float,
             reference: str | None, n_bootstrap: int, min_group_size: int, seed: int):
    y_pred = decisions(_model, model_key, _dataset, dataset_key, threshold)
    return audit_fairness(
        _dataset.y("test"), y_pred, _dataset.sensitive("test", list(attrs)), reference_group=reference,
        n_bootstrap=n_bootstrap, min_group_size=min_group_size, seed=seed,
    )
