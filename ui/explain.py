"""Glue for the Explanations page: parameter widgets from the registry, cached engine calls with progress.

Results are cached with ``st.cache_data`` keyed by the model's and the dataset's content hashes plus
every parameter (``_``-prefixed arguments are not hashed).
"""

from __future__ import annotations

import contextvars

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import in_cached_function

from dlxai.explain.attribution import attribute
from dlxai.explain.groups import scored_rows
from dlxai.explain.registry import IG_RULES, METHODS, TABULAR, applicable_methods, choices_for, label, model_info

TARGETS = {"predicted class": None, "favourable outcome (1)": 1, "unfavourable outcome (0)": 0}
BASELINES = {
    "zeros": "zeros",
    "mean": "training mean",
    "samples": "training samples (averaged)",
}
# the first screen: integrated gradients from zeros, the configuration that passes its checks on the Adult MLP
# (randomisation ρ 0.18, deletion AUC 0.53 vs 0.75 random); from the training mean ρ is 0.57, from samples 0.68
DEFAULT_METHOD = "integrated_gradients"
MAX_ROWS = {"kernel_shap": 40}


def tabular_methods(model) -> list[str]:
    return [k for k in applicable_methods(model, TABULAR) if TABULAR in METHODS[k].kinds]


def not_offered(model) -> dict[str, str]:
    """Methods left out of the picker for ``model``, with the reason."""
    info = model_info(model)
    out = {}
    for k, spec in METHODS.items():
        why = info.why_not(spec, TABULAR)
        if why is not None and TABULAR in spec.kinds:
            out[k] = why
    return out


def not_offered_text(model) -> str:
    """The methods left out for ``model``, grouped by reason, as Markdown lines (shown before any click)."""
    by_reason: dict[str, list[str]] = {}
    for k, reason in not_offered(model).items():
        by_reason.setdefault(reason.split(". Methods that")[0], []).append(label(k))
    return "\n".join(f"- **{', '.join(names)}**: {why}." for why, names in by_reason.items())


def method_picker(model) -> str:
    keys = tabular_methods(model)
    if not keys:
        st.info(f"No explanation method applies to **{model.name}**:\n" + not_offered_text(model))
        st.stop()
    default = keys.index(DEFAULT_METHOD) if DEFAULT_METHOD in keys else 0
    key = st.selectbox("Method", keys, index=default, format_func=label, key="ex_method",
                       help="Only the methods that apply to the active model are listed; the others are named "
                            "below the picker with the reason.")
    st.caption(METHODS[key].description)
    missing = not_offered_text(model)
    if missing:
        st.caption("Not offered for this model:\n" + missing)
    return key


def parameter_widgets(method: str, n_test: int) -> dict:
    """Widgets for one method's settings -> a plain dict (hashable once frozen)."""
    spec = METHODS[method]
    cols = st.columns(4)
    cap = min(MAX_ROWS.get(method, 2000), n_test)
    n_rows = cols[0].number_input("Rows to explain (test split)", 5, cap, min(200 if cap > 40 else 20, cap), step=5,
                                  key=f"ex_rows_{method}")
    target = cols[1].selectbox("Explain the score of", list(TARGETS), key="ex_target")
    out = {"n_rows": int(n_rows), "target": TARGETS[target], "params": {}}
    if spec.baseline != "none":
        options = list(BASELINES) if spec.baseline == "per_row" else ["samples", "mean", "zeros"]
        b = cols[2].selectbox("Baseline" if spec.baseline == "per_row" else "Background", options, index=0,
                              format_func=lambda k: BASELINES[k], key=f"ex_base_{method}",
                              help="What a feature's contribution is measured against. zeros: numeric features at "
                                   "their training mean, no category; on the Adult MLP it is the baseline that passes "
                                   "the randomisation check (ρ 0.18; training mean 0.57, samples 0.68).")
        out["baselines"] = b
        if b == "samples":
            out["n_baseline_samples"] = int(cols[3].number_input(
                "Reference rows", 2, 500, 10 if spec.baseline == "per_row" else (20 if method == "kernel_shap" else 100),
                key=f"ex_k_{method}"))
    p = out["params"]
    if method == "integrated_gradients":
        c = st.columns(4)
        p["n_steps"] = int(c[0].number_input("Steps", 2, 1024, 50, key="ex_steps"))
        p["rule"] = c[1].selectbox("Integration rule", IG_RULES, format_func=label, key="ex_rule")
        p["adaptive"] = bool(c[2].toggle("Adaptive steps", False, key="ex_adaptive",
                                         help="Double the steps for rows whose completeness error exceeds the "
                                              "tolerance, up to 1,024."))
        p["tolerance"] = float(c[3].number_input("Tolerance", 0.001, 0.5, 0.01, format="%.3f", key="ex_tol"))
    elif method == "lrp":
        composites = choices_for(spec, "composite", TABULAR)
        p["composite"] = cols[2].selectbox(
            "Composite (rules per layer)", composites, index=composites.index(spec.kind_defaults[TABULAR]["composite"]),
            format_func=label, key="ex_composite",
            help="Composites with a Flat, w² or zᴮ input rule are not offered on tabular data: they give relevance "
                 "to one-hot levels that are absent, so a feature ranks by its number of levels.")
    elif method in ("expected_gradients", "kernel_shap"):
        p["n_samples"] = int(st.number_input("Samples per row", 8, 4096, METHODS[method].defaults["n_samples"],
                                             key=f"ex_ns_{method}"))
    return out


def freeze(d: dict) -> tuple:
    return tuple(sorted((k, freeze(v) if isinstance(v, dict) else v) for k, v in d.items()))


def _rows(model, dataset, n_rows: int):
    X = scored_rows(model, dataset, "test")  # with the group columns a post-processed model reads from each row
    return X if n_rows >= len(X) else X.sample(n=n_rows, random_state=0).sort_index()


def _method_kwargs(dataset, s: dict) -> dict:
    """The page's settings as keyword arguments of a method: target, its parameters, and the baselines (a
    non-zero baseline draws on the training rows)."""
    kwargs = {"target": s["target"], **dict(s.get("params", ()))}
    if "baselines" in s:
        kwargs["baselines"] = s["baselines"]
        if s["baselines"] != "zeros":
            kwargs["reference"] = dataset.X("train")
        if "n_baseline_samples" in s:
            kwargs["n_baseline_samples"] = s["n_baseline_samples"]
    return kwargs


def _call(model, dataset, settings: tuple, progress=None, inputs=None):
    s = dict(settings)
    rows = _rows(model, dataset, s["n_rows"]) if inputs is None else inputs
    return attribute(model, rows, method=s["method"], progress=progress, **_method_kwargs(dataset, s))


@st.cache_data(show_spinner=False, max_entries=32)
def explanation(_model, model_key: str, _dataset, dataset_key: str, settings: tuple, _progress=None):
    return _call(_model, _dataset, settings, _progress)


@st.cache_data(show_spinner=False, max_entries=32)
def faithfulness(_model, model_key: str, _dataset, dataset_key: str, settings: tuple):
    from dlxai.explain.quality import deletion_insertion

    return deletion_insertion(_model, explanation(_model, model_key, _dataset, dataset_key, settings), n_steps=20)


@st.cache_data(show_spinner=False, max_entries=32)
def randomisation(_model, model_key: str, _dataset, dataset_key: str, settings: tuple, n_rows: int,
                  _progress=None):
    from dlxai.explain.quality import randomisation_check

    s = dict(settings)
    return randomisation_check(_model, _rows(_model, _dataset, n_rows), method=s["method"], progress=_progress,
                               **_method_kwargs(_dataset, s))


def progress_bar(text: str):
    """An ``st.progress`` bar and a callback that moves it (fraction in [0, 1]).

    The callback is called from inside ``st.cache_data`` functions; it updates the bar in a copied
    ``contextvars`` context marked as outside any cached function so that Streamlit does not record the update as part of the cached
    result (a recorded update to a bar made outside the function cannot be replayed on a cache hit).
    """
    bar = st.progress(0.0, text=text)

    def _draw(value: float) -> None:
        in_cached_function.set(False)  # only inside this copied context
        bar.progress(value, text=text)

    def update(f: float) -> None:
        contextvars.copy_context().run(_draw, min(max(float(f), 0.0), 1.0))

    return bar, update
