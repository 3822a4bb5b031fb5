"""Mitigation page glue: runs with a progress bar, every run kept for the session and the report, the trade-off
tables, the model switcher."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dlxai.fairness.mitigation import METHODS, METRICS, Front, MitigationResult, mitigate, sweep
from dlxai.fairness.mitigation.registry import why_not
from dlxai.fairness.mitigation.tradeoff import WORSE
from dlxai.fairness.offers import mitigation_offers
from ui import jobs, state

VERDICT_RULE = (
    "**Verdict**: both models decide the same test rows; each of {n} bootstrap resamples scores both, and a metric "
    "is *worse* (or *better*) when the 95% interval of the change lies wholly on the bad (good) side of zero and "
    "the change is at least 0.005. "
    "Differences: lower is fairer; ratios: higher is fairer. A small max − min gap is inflated by resampling, so "
    "its interval can sit above the point value."
)


def method_picker(m, where) -> str:
    """The methods offered for ``m`` in a picker; the others named below it with the reason (before any click)."""
    offered = mitigation_offers(m)
    keys = [k for k, why in offered.items() if not why]
    if not keys:  # nothing to run; the page still shows earlier runs and the model switcher
        st.info("No mitigation method applies to this model:\n" + _grouped(offered))
        return where.selectbox("Method", list(offered), format_func=lambda k: METHODS[k].label, disabled=True,
                               key="mit_method_none")
    method = where.selectbox("Method", keys, format_func=lambda k: METHODS[k].label, key="mit_method")
    if len(keys) < len(offered):
        st.caption("Not offered for this model:\n" + _grouped(offered))
    return method


def _grouped(offered: dict) -> str:
    by_reason: dict[str, list[str]] = {}
    for k, why in offered.items():
        if why:
            by_reason.setdefault(why, []).append(METHODS[k].label)
    return "\n".join(f"- **{', '.join(names)}**: {why}." for why, names in by_reason.items())


def refusal(m, method: str, sensitive) -> str:
    """Why ``method`` cannot run on ``m`` with these sensitive columns ('' when it can), shown above the Run button,
    which it disables."""
    why = why_not(m, method, tuple(sensitive)) or ""
    if why:
        st.warning(f"Not available: {why}.", icon=":material/warning:")
    return why


def run(m, ds, method: str, constraint: str, sensitive: list[str], *, strength=None, sweep_values=None,
        estimator_params: dict | None = None, max_iter: int = 20, max_rows: int | None = None, seed: int = 0,
        n_bootstrap: int = 200):
    """One mitigation (or a sweep) with a progress bar; the run and its models are remembered for the session.

    It runs in the job runner, so Streamlit's Stop (or any rerun) ends it at once; an uploaded model's run stays
    in this process, and Stop ends its model call in flight.
    """
    bar = st.progress(0.0, text="Starting…")

    def progress(frac: float, text: str) -> None:
        bar.progress(min(max(frac, 0.0), 1.0), text=text)

    opts = dict(sensitive=sensitive, seed=seed, progress=progress, n_bootstrap=n_bootstrap,
                estimator_params=estimator_params, max_iter=max_iter, max_rows=max_rows)
    where = {"label": "The mitigation", "in_process": jobs.holds_worker(m)}
    if sweep_values is not None:
        out = jobs.run(sweep, m, ds, method, constraint, strengths=sweep_values, **where, **opts)
        models = out.models()
    else:
        out = jobs.run(mitigate, m, ds, method, constraint, strength=strength, **where, **opts)
        models = {out.model.name: out.model}
        if out.deterministic is not None:
            models[out.deterministic.name] = out.deterministic
    bar.progress(1.0, text="Done")
    state.models().update(models)
    state.add_mitigation_run(ds.fingerprint, out)
    return out


def results_of(out) -> list[MitigationResult]:
    return list(out.results) if isinstance(out, Front) else [out]


def run_name(k: int, out) -> str:
    """``Run 2: ExpGrad, Demographic parity, Allowed violation (ε) 0.01`` or ``Run 3: front of Penalised ... (4 points)``."""
    if isinstance(out, Front):
        first = out.results[0].label.rsplit(" ", 1)[0] if out.results else out.method
        return f"Run {k}: front of {first} ({len(out.results)} points)"
    return f"Run {k}: {out.label}"


def runs_table(runs: list) -> pd.DataFrame:
    """One row per model of every run: what it was, how long it took, what changed, what got worse."""
    rows = []
    for k, out in enumerate(runs, 1):
        for r in results_of(out):
            t = r.tradeoff
            change = {} if t is None else {f"{name} change": t.metrics.at[c, "change"] for c, name in (
                ("accuracy", "Accuracy"), ("demographic_parity_difference", "Demographic parity"),
                ("equalized_odds_difference", "Equalized odds"))}
            rows.append({"Run": k, "Model": r.label, "Got worse": ", ".join(METRICS[c][0] for c in r.worse()) or "—",
                         **change, "Fit time (s)": r.fit_seconds})
    return pd.DataFrame(rows)


def report_picker(ds, runs: list, key: str = "mit_report_runs") -> list:
    """Tick the runs the report prints (every run unless left out); hands them to the Report page."""
    numbers = list(range(1, len(runs) + 1))
    left_out = state.mitigation_left_out(ds.fingerprint)

    def keep(picked) -> None:
        state.set_mitigation_left_out(ds.fingerprint, set(numbers) - set(picked))

    picked = st.multiselect("Runs in the report", numbers, format_func=lambda k: run_name(k, runs[k - 1]),
                            **state.bind(key, [k for k in numbers if k not in left_out], keep))
    chosen = [runs[k - 1] for k in numbers if k in picked]
    state.set_result("mitigation", chosen or None)  # about the data, not one model: it holds before and after
    return chosen


def show_result(r: MitigationResult, key: str) -> None:
    """Warnings first, then every metric before and after with intervals, per-group rates, and the notes."""
    for w in r.warnings:
        st.warning(w, icon=":material/warning:")
    if r.tradeoff is None:
        st.dataframe(r.table().style.format(precision=3), width="stretch", key=f"{key}_table")
        return
    st.dataframe(_styled(r.tradeoff.display()), width="stretch", hide_index=True, key=f"{key}_table")
    st.caption(VERDICT_RULE.format(n=r.tradeoff.n_bootstrap))
    with st.expander("Per group: selection rate, true and false positive rates"):
        st.dataframe(r.tradeoff.display_groups(), width="stretch", hide_index=True, key=f"{key}_groups")
    if r.deterministic_tradeoff is not None:
        with st.expander("Best deterministic member: every metric"):
            st.dataframe(_styled(r.deterministic_tradeoff.display()), width="stretch", hide_index=True,
                         key=f"{key}_det")
    for note in r.notes:
        if note not in r.warnings:
            st.info(note)
    fits = r.params.get("fits") or 0
    st.caption(f"Test split, {r.params['n_bootstrap']} bootstrap resamples; fitting took {r.fit_seconds:.1f} s over "
               f"{fits} training run(s).")


def _styled(table: pd.DataFrame):
    def colour(v):
        return "color: #b91c1c; font-weight: 600" if v == WORSE else ""

    return table.style.map(colour, subset=["Verdict"])


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
