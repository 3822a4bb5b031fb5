"""Page glue for the Counterfactuals and Surrogate tree pages: cached engine calls, constraint widgets, styling."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import streamlit as st

from dlxai.explain.counterfactuals import Constraints, SearchOptions, find_counterfactuals
from dlxai.explain.groups import scored_rows
from dlxai.explain.surrogate import fit_surrogate, local_surrogate
from dlxai.fairness.recourse import recourse_costs
from ui import jobs, state


def constraints_key(c: Constraints) -> str:
    """A stable string for caching (the dataclass holds dicts)."""
    return json.dumps(c.describe(), sort_keys=True, default=str)


def constraints_from_key(key: str) -> Constraints:
    d = json.loads(key)
    return Constraints(
        immutable=None if d["immutable"] is None else tuple(d["immutable"]),
        vary=None if d["vary"] is None else tuple(d["vary"]),
        ranges={k: tuple(v) for k, v in d["ranges"].items()},
        directions=d["directions"],
        integer=None if d["integer"] is None else tuple(d["integer"]),
    )


def search_key(model, dataset, row: int, k: int, c: Constraints, seed: int, changed_penalty: float) -> tuple:
    """What a page search depends on; its result is kept in the session under this key."""
    return (model.fingerprint, dataset.fingerprint, int(row), int(k), constraints_key(c), int(seed),
            float(changed_penalty))


def searched(key: tuple):
    """The result of the page search ``key`` if it has run in this session, else None."""
    return state.counterfactuals(key)


def search_row(model, dataset, key: tuple):
    """Run the page search ``key`` (see :func:`search_key`) with a progress bar that says how long is left, and
    keep the result in the session."""
    _, _, row, k, ckey, seed, penalty = key
    bar = st.progress(0.0, text="Starting the search…")
    start = time.perf_counter()

    def progress(frac: float, text: str) -> None:
        frac = min(max(float(frac), 0.0), 1.0)
        elapsed = time.perf_counter() - start
        left = f" · about {elapsed / frac * (1 - frac):.0f} s left" if 0.05 <= frac < 1 else ""
        bar.progress(frac, text=f"{text}{left}")

    res = jobs.run(find_counterfactuals, model, dataset, scored_rows(model, dataset, "test").iloc[[row]], k=k, seed=seed,
                   constraints=constraints_from_key(ckey), options=SearchOptions(changed_penalty=penalty),
                   progress=progress, label="The counterfactual search", in_process=jobs.holds_worker(model))
    bar.empty()
    state.set_counterfactuals(key, res)
    return res


def time_estimate(model) -> str:
    """What the search button promises: the last search on this model, or a rough range."""
    last = state.last_counterfactuals(model.fingerprint)
    if last is not None:
        return f"about {max(last.seconds, 1):.0f} s, like the last search on this model"
    return ("a few seconds to a minute, depending on the model and the machine; the first search on a dataset also "
            "measures which features go together")


@st.cache_data(show_spinner="Fitting the surrogate tree…", max_entries=32)
def surrogate(_model, model_key: str, _dataset, dataset_key: str, depth: int, space: str, sensitive: tuple,
              threshold: float):
    return fit_surrogate(_model, _dataset, max_depth=depth, space=space, sensitive=list(sensitive),
                         threshold=threshold)


@st.cache_data(show_spinner="Fitting a tree around the row…", max_entries=32)
def local_tree(_model, model_key: str, _dataset, dataset_key: str, row: int, depth: int, n_samples: int,
               threshold: float):
    return local_surrogate(_model, _dataset, _dataset.frame("test").iloc[[row]], max_depth=depth,
                           n_samples=n_samples, threshold=threshold)


def burden_costs(model, dataset, c: Constraints, max_rows: int, *, compute: bool):
    """Counterfactual costs of the rejected rows, kept in the session; computed (with a progress bar) on request."""
    key = (model.fingerprint, dataset.fingerprint, constraints_key(c), int(max_rows))
    costs = state.burden_costs(key)
    if costs is None and compute:
        bar = st.progress(0.0, text="Finding counterfactuals for rejected rows…")
        costs = jobs.run(recourse_costs, model, dataset, max_rows=int(max_rows), k=1, constraints=c,
                         progress=lambda f, text: bar.progress(min(max(f, 0.0), 1.0), text=text),
                         label="The recourse burden", in_process=jobs.holds_worker(model))
        bar.progress(1.0, text=f"{len(costs)} rejected rows searched")
        state.set_burden_costs(key, costs)
    return costs


def rejected_rows(model, model_key: str, dataset, dataset_key: str, limit: int = 300) -> pd.Series:
    """P(favourable) of the first ``limit`` test rows the model rejects, indexed by row position."""
    from ui.cache import predictions

    p = predictions(model, model_key, dataset, dataset_key)
    idx = np.nonzero(p < 0.5)[0][:limit]
    return pd.Series(p[idx], index=idx)


def constraint_editor(ds, key: str = "cf", model=None) -> Constraints:
    """Widgets for the features allowed to vary, the immutable ones, and numeric ranges and directions; only the
    ``model``'s features are offered (an upload may read a few of the data's columns)."""
    feats = [f for f in ds.schema.features if model is None or f in model.feature_columns]
    default_imm = [s for s in ds.schema.sensitive if s in feats]
    c1, c2 = st.columns(2)
    immutable = c1.multiselect("Immutable features (never change)", feats, default=default_imm, key=f"{key}_imm")
    vary = c2.multiselect("Features allowed to vary", feats, default=[f for f in feats if f not in default_imm],
                          key=f"{key}_vary")
    ranges, directions = {}, {}
    train = ds.X("train")
    with st.expander("Ranges and directions of numeric features"):
        for f in [f for f in ds.schema.numeric if f in feats]:
            col = pd.to_numeric(train[f], errors="coerce")
            lo, hi = float(col.min()), float(col.max())
            a, b, d = st.columns([2, 2, 1])
            r_lo = a.number_input(f"{f}: lowest", value=lo, key=f"{key}_lo_{f}")
            r_hi = b.number_input(f"{f}: highest", value=hi, key=f"{key}_hi_{f}")
            default_dir = "increase" if f.lower() == "age" else "any"
            directions[f] = d.selectbox(f"{f}: direction", ["any", "increase", "decrease"],
                                        index=["any", "increase", "decrease"].index(default_dir), key=f"{key}_dir_{f}")
            if (r_lo, r_hi) != (lo, hi):
                ranges[f] = (r_lo, r_hi)
    return Constraints(immutable=tuple(immutable), vary=tuple(vary), ranges=ranges, directions=directions)


def groups_caption(res) -> str:
    """For a model whose thresholds read group columns (ThresholdOptimizer): that every candidate was scored with
    the row's own groups ('' otherwise)."""
    cols = res.params.get("groups_held")
    if not cols:
        return ""
    return (f" Every candidate was scored with this row's own {', '.join(cols)}: the model's thresholds differ by "
            f"group, and a counterfactual does not change a person's group.")


def world_caption(res) -> str:
    """What the search kept consistent, in words (from ``res.params["world"]``)."""
    w = res.params.get("world", {})
    deps = [f"{d['dependent']} moves with {d['driver']}" for d in w.get("dependencies", [])]
    pairs = [" & ".join(p["features"]) for p in w.get("pairs", [])]
    if not (deps or pairs):
        return ""
    held = f"Kept consistent with the training rows: {', '.join(pairs)}" if pairs else ""
    text = "; ".join(t for t in (held, ", ".join(deps)) if t)
    share = res.plausible_share
    flagged = "" if share != share or share == 1 else f" {1 - share:.0%} of them are not (see 'plausible')."
    return text + "." + flagged


def highlight_changes(query: pd.Series, cfs: pd.DataFrame, features: list[str]):
    """A Styler of the counterfactuals with every cell that differs from the query highlighted."""
    extra = [c for c in ("proba", "cost", "n_changed", "plausible") if c in cfs]
    table = cfs[features + extra].reset_index(drop=True)
    table.index = [f"counterfactual {i + 1}" for i in range(len(table))]
    original = pd.DataFrame([query[features].to_dict()], index=["original"])
    shown = pd.concat([original, table])

    def style(frame: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for f in features:
            if pd.api.types.is_number(query[f]) and pd.api.types.is_numeric_dtype(frame[f]):
                changed = ~np.isclose(frame[f].to_numpy(dtype=float), float(query[f]))
            else:
                changed = frame[f].astype(str) != str(query[f])
            css.loc[changed & (frame.index != "original"), f] = "background-color: #fde68a; font-weight: 600"
        return css

    return shown.style.apply(style, axis=None).format(precision=3, na_rep="")
