"""Widgets more than one page uses."""

from __future__ import annotations

import streamlit as st

from dlxai.glossary import TERMS
from ui import state


def sidebar_status(where=None) -> None:
    """The active data and model (drawn into ``where``, an ``st.sidebar.empty()``; each call replaces the last).

    app.py draws it before the page and again after it: ``st.stop()`` ends a run at the next element, so a
    page that stops early would otherwise leave the sidebar without it.
    """
    ds, m = state.dataset(), state.model()
    with where.container() if where is not None else st.sidebar:
        st.markdown("### Active audit")
        if ds is None:
            st.caption("No dataset yet: pick a demo on Home.")
            return
        st.markdown(f"**Data:** {ds.name} · {len(ds.train):,} train / {len(ds.test):,} test rows")
        st.markdown(f"**Model:** {m.name if m else '— none trained yet'}")
        if state.sensitive():
            st.markdown(f"**Sensitive:** {', '.join(state.sensitive())}")


def glossary_help(key: str) -> str | None:
    """A metric's tooltip: plain words, one formula, one example (None for a key without an entry)."""
    term = TERMS.get(key)
    return term.help() if term else None


def glossary_expander(keys, label: str = "What do these numbers mean?", expanded: bool = False) -> None:
    """Every term in ``keys`` in plain words, with its formula and an example, in one expander."""
    with st.expander(label, icon=":material/menu_book:", expanded=expanded):
        for k in keys:
            t = TERMS[k]
            parity = f" *Parity: {t.parity}.*" if t.parity else ""
            st.markdown(f"**{t.name}** — {t.meaning}{parity}  \n"
                        f"Formula: {t.formula}. Example: {t.example}")


def threshold_slider(where, key: str) -> float:
    """The decision threshold: the slider on every page shows and sets the same value (widget ``key``)."""
    return float(where.slider("Decision threshold", 0.05, 0.95, step=0.05,
                              help="A row is decided favourably when its score is at least this. The same "
                                   "threshold applies on every page.",
                              **state.bind(key, state.threshold(), state.set_threshold)))


def require_dataset():
    """The active dataset, or a pointer to Home and ``st.stop()``."""
    ds = state.dataset()
    if ds is None:
        st.info("No dataset is loaded yet. Pick a demo on **Home** first.")
        st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
        st.stop()
    return ds


def require_model():
    """The active model, or a pointer to Data & model and ``st.stop()``."""
    ds = require_dataset()
    m = state.model()
    if m is None:
        if state.predictions() is not None:
            st.info("A predictions-only audit is active: it has decisions, not a model, so there is no model to work "
                    "on here. Its fairness audit and PDF are on **Upload → Predictions only**; upload the model itself "
                    "for this page.")
        else:
            st.info("No model is trained yet. Train one on **Data & model** first.")
        st.page_link("pages/data_model.py", label="Go to Data & model", icon=":material/model_training:")
        st.stop()
    return ds, m
