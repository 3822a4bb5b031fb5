"""Mitigation page glue: runs with a progress bar, results kept per session, the model switcher."""

from __future__ import annotations

import streamlit as st

from dlxai.fairness.mitigation import Front, MitigationResult, mitigate, sweep
from ui import state


def run(m, ds, method: str, constraint: str, sensitive: list[str], *, strength=None, sweep_values=None,
        estimator_params: dict | None = None, max_iter: int = 20, seed: int = 0, n_bootstrap: int = 200):
    """One mitigation (or a sweep) with a progress bar; every new model is remembered for the switcher."""
    bar = st.progress(0.0, text="Starting…")

    def progress(frac: float, text: str) -> None:
        bar.progress(min(max(frac, 0.0), 1.0), text=text)

    opts = dict(sensitive=sensitive, seed=seed, progress=progress, n_bootstrap=n_bootstrap,
                estimator_params=estimator_params, max_iter=max_iter)
    if sweep_values is not None:
        out = sweep(m, ds, method, constraint, strengths=sweep_values, **opts)
        models = out.models()
    else:
        out = mitigate(m, ds, method, constraint, strength=strength, **opts)
        models = {out.model.name: out.model}
        if out.deterministic is not None:
            models[out.deterministic.name] = out.deterministic
    bar.progress(1.0, text="Done")
    state.models().update(models)
    state.set_mitigation(ds.fingerprint, out)
    return out


def results_of(out) -> list[MitigationResult]:
    return list(out.results) if isinstance(out, Front) else [out]


def model_switcher(candidates: dict, key: str = "mit_switch") -> None:
    """Pick one of ``candidates`` (name -> AuditModel) and make it the active model on every page."""
    if not candidates:
        return
    names = list(candidates)
    active = state.model()
    index = names.index(active.name) if active is not None and active.name in names else 0
    choice = st.selectbox("Model to make active", names, index=index, key=key)
    c1, c2 = st.columns([1, 3])
    if c1.button("Make active", key=f"{key}_go", type="primary"):
        state.set_model(candidates[choice])
        st.rerun()
    now = state.model()
    c2.caption(f"Active model now: **{now.name if now else '—'}**. Fairness, explanations and the report use it.")
