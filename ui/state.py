"""Session-state accessors: the active dataset, the active model, the audit settings.

Pages read and write state only through these functions, so the keys live in one place.
"""

from __future__ import annotations

import streamlit as st

from dlxai.data.dataset import TabularDataset
from dlxai.models.base import AuditModel

DATASET = "dlxai.dataset"
DATASET_KEY = "dlxai.dataset_key"
MODEL = "dlxai.model"
MODELS = "dlxai.models"  # name -> AuditModel, every model of this session (trained, mitigated, uploaded)
SENSITIVE = "dlxai.sensitive"


def dataset() -> TabularDataset | None:
    return st.session_state.get(DATASET)


def dataset_key() -> str | None:
    return st.session_state.get(DATASET_KEY)


def set_dataset(ds: TabularDataset, key: str) -> None:
    """Make ``ds`` active.  A different dataset drops the models trained on the old one."""
    if st.session_state.get(DATASET_KEY) != key:
        st.session_state[MODEL] = None
        st.session_state[MODELS] = {}
        st.session_state[SENSITIVE] = [ds.schema.sensitive[0]] if ds.schema.sensitive else []
    st.session_state[DATASET] = ds
    st.session_state[DATASET_KEY] = key


def model() -> AuditModel | None:
    m = st.session_state.get(MODEL)
    ds = dataset()
    if m is not None and ds is not None and m.dataset and m.dataset != ds.name:
        return None
    return m


def models() -> dict[str, AuditModel]:
    return st.session_state.setdefault(MODELS, {})


def set_model(m: AuditModel) -> None:
    """Make ``m`` the active model for every page, and remember it for the model switcher."""
    models()[m.name] = m
    st.session_state[MODEL] = m


def sensitive() -> list[str]:
    return list(st.session_state.get(SENSITIVE, []))


def set_sensitive(cols: list[str]) -> None:
    st.session_state[SENSITIVE] = list(cols)
