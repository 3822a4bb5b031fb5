"""Cached engine calls.

``cache_resource`` holds only shared, read-only things (bundled demo datasets and demo models, keyed by name and
settings; demo models train in the job runner under one lock per model, so sessions training different models never
wait on each other).  ``cache_data`` holds engine results keyed by content hashes of the model and the data
(``_``-prefixed arguments are not hashed; their fingerprint is passed instead).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import streamlit as st

from dlxai.data.bundled import load_demo
from dlxai.fairness import audit_fairness
from dlxai.models import train_model
from dlxai.performance import evaluate
from ui import jobs


@st.cache_resource(show_spinner="Loading the bundled dataset…", max_entries=16)
def demo_dataset(name: str, params: tuple = ()):
    return load_demo(name, **dict(params))


class Registry:
    """Shared models by key, with one lock per key (see :func:`build_once`); ``guard`` is held only to look up
    and store, never while building.  Keeps the ``size`` newest entries."""

    def __init__(self, size: int):
        self.size = size
        self.entries: dict = {}
        self.locks: dict = {}
        self.guard = threading.Lock()

    def lock(self, key) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(key, threading.Lock())

    def get(self, key):
        with self.guard:
            return self.entries.get(key)

    def put(self, key, value) -> None:
        with self.guard:
            self.entries[key] = value
            while len(self.entries) > self.size:
                old = next(iter(self.entries))
                self.entries.pop(old)
                if old in self.locks and not self.locks[old].locked():
                    del self.locks[old]


@contextmanager
def _holding(lock: threading.Lock):
    """Hold ``lock``; while another session holds it, check every 0.1 s whether this run was stopped."""
    if not lock.acquire(blocking=False):
        check = jobs.page_check()
        while not lock.acquire(timeout=jobs.POLL_S):
            if check is not None:
                check()
    try:
        yield
    finally:
        lock.release()


def build_once(registry: Registry, key, build):
    """``registry[key]``, built by ``build()`` if missing.  A session building one key never waits for a session
    building another; two sessions asking for the same key build it once (the second waits, and can be stopped
    while it waits)."""
    if (value := registry.get(key)) is not None:
        return value
    with _holding(registry.lock(key)):
        if (value := registry.get(key)) is None:
            value = build()
            registry.put(key, value)
        return value


DEMO_MODELS_MAX = 16


@st.cache_resource(show_spinner=False)
def _demo_models() -> Registry:
    return Registry(DEMO_MODELS_MAX)


def _train(dataset, kind: str, params: tuple, seed: int, progress, label: str):
    return jobs.run(train_model, dataset, kind, seed=seed, progress=progress, label=label, **dict(params))


def demo_model(dataset, dataset_key: str, kind: str, params: tuple, seed: int, progress=None):
    """A model trained on a bundled demo dataset: shared by every visitor, trained once, in the job runner.

    A registry rather than a cached function, because training draws a progress bar, which
    ``st.cache_resource`` would try to replay on every later hit.
    """
    return build_once(_demo_models(), (dataset_key, kind, params, seed),
                      lambda: _train(dataset, kind, params, seed, progress, f"Training on {dataset_key}"))


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
