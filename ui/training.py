"""Training from a page: in the job runner (Stop ends it at once), a progress bar, demo models shared through the
cache, others per session."""

from __future__ import annotations

import streamlit as st

from dlxai.models import train_model
from ui import jobs, state
from ui.cache import demo_model


def train_with_progress(kind: str, params: dict, seed: int):
    ds, key = state.dataset(), state.dataset_key()
    bar = st.progress(0.0, text="Preparing data…")

    def progress(info):
        val = "" if info.val_loss is None else f", validation loss {info.val_loss:.4f}"
        bar.progress(min(info.fraction, 1.0), text=f"Epoch {info.epoch}/{info.max_epochs}: loss {info.train_loss:.4f}{val}")

    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
    if key in ("adult", "german") or (key or "").startswith("bias_lab:"):
        m = demo_model(ds, key, kind, frozen, seed, progress)
    else:
        m = jobs.run(train_model, ds, kind, seed=seed, progress=progress, label="Training", **params)
    bar.progress(1.0, text=f"Trained in {m.fit_seconds:.1f} s")
    state.set_model(m)
    return m
