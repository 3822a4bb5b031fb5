"""The optional sections' results on the page: one renderer per result type, chosen by the result's class.

:func:`render` dispatches with :func:`functools.singledispatch` on the real result classes (attributions and their
quality checks, counterfactuals, recourse burden, surrogate trees, mitigation results and fronts).  The classes are
registered on the first call, importing their modules then, so ``import dlxai.report`` stays as light as it was.
Any other object falls back to :func:`generic`: its scalars as a key-value table, its frames as tables and its
``figure()`` as a chart, so a new result type prints something sensible before it has a renderer of its own.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from dlxai.report import messages
from dlxai.report import sections as S
from dlxai.report.pdf import FAIL_RGB, Document


def render(result, doc: Document, bundle) -> None:
    """Draw ``result`` (one item of an optional section of ``bundle``) on ``doc``."""
    _register_result_types()
    _render(result, doc, bundle)


@functools.singledispatch
def _render(result, doc: Document, bundle) -> None:
    generic(result, doc)


@functools.cache
def _register_result_types() -> None:
    from dlxai.explain.attribution import AttributionResult
    from dlxai.explain.counterfactuals import CounterfactualResult
    from dlxai.explain.quality import Completeness, Faithfulness, RandomisationCheck
    from dlxai.explain.surrogate import SurrogateTree
    from dlxai.fairness.mitigation import Front, MitigationResult
    from dlxai.fairness.recourse import RecourseBurden
    from dlxai.report.imageaudit import ClassMetrics, render_class_metrics
    from dlxai.report.model_results import NotRun

    for cls, renderer in ((AttributionResult, attribution), (CounterfactualResult, counterfactuals),
                          (RecourseBurden, burden), (SurrogateTree, surrogate), (Completeness, completeness),
                          (Faithfulness, faithfulness), (RandomisationCheck, randomisation),
                          (MitigationResult, mitigation), (Front, front), (ClassMetrics, render_class_metrics),
                          (NotRun, not_run)):
        _render.register(cls, renderer)


def _cell(v) -> str:
    return S.fmt(v) if isinstance(v, (float, np.floating)) else str(v)


def _figure_failed(doc: Document, what: str, exc: Exception) -> None:
    doc.para(messages.FIGURE_NOT_DRAWN.format(what=what, error=f"{type(exc).__name__}: {exc}"), 8, "I")


# --- explanations --------------------------------------------------------------------------------
def attribution(r, doc: Document, bundle) -> None:
    """Global importance, importance per group (from ``bundle.extras``), three local explanations, completeness."""
    from dlxai.explain.views import held_groups_note
    from dlxai.plots.explain import global_bars, group_importance_bars
    from dlxai.report.model_results import quality_of, status

    by = r.by_feature()
    imp = by.abs().mean(axis=0).sort_values(ascending=False)
    doc.h2(f"Global importance ({_label(r.method)}, {r.n:,} rows)")
    failed = [n for n, p in quality_of(bundle.explanations, r.method).items() if p is False]
    if failed:  # stated before the numbers: they are not a plain result
        doc.para(f"This explanation {status(bundle.explanations, r)}", 9, "B", FAIL_RGB)
    held = held_groups_note(r)
    if held:  # a post-processed model: say how its group thresholds were fed
        doc.para(" ".join(f"{c[:1].upper()}{c[1:]}." for c in held), 9)
    doc.table(("Feature", "Mean |attribution|"), [(str(k), S.fmt(v, 4)) for k, v in imp.head(15).items()],
              widths=(2, 1))
    title = "Global importance: mean |attribution|" + (" (FAILED its quality checks)" if failed else "")
    doc.chart(global_bars(imp, title=title, top=12, highlight=bundle.params.get("sensitive", ())), "global importance",
              360)
    extras = bundle.extras or {}
    groups = (extras.get("explanation_groups_by_method") or {}).get(r.method) or (
        extras.get("explanation_groups") or {} if r is _first_attribution(bundle) else {})  # the session's first one
    for attr, table in groups.items():
        doc.h2(f"Importance by {attr} ({_label(r.method)})")
        doc.table([attr, *map(str, table.columns)],
                  [[str(g), *(S.fmt(v, 4) for v in row)] for g, row in zip(table.index, table.to_numpy())], size=7.5)
        doc.chart(group_importance_bars(table.T, attr), f"importance by {attr}", 340)
    doc.h2(f"Example local explanations ({_label(r.method)})")
    err = r.completeness_error
    for i in range(min(3, len(by))):
        row = by.iloc[i]
        top = row.reindex(row.abs().sort_values(ascending=False).index).head(5)
        label = f"Row {by.index[i]}" + ("" if err is None else f" (completeness error {err[i]:.2%})")
        doc.para(label, 9, "B")
        doc.table(("Feature", "Attribution"), [(str(k), S.fmt(v, 4)) for k, v in top.items()], widths=(2, 1), size=8)
    if err is not None:
        f = "log-odds(x) - mean log-odds(background)" if (r.info or {}).get("output") == "log-odds" else \
            "f(x) - f(baseline)"
        doc.para(f"Completeness: attributions sum to {f} within {np.median(err):.2%} (median "
                 f"relative error over {len(err):,} rows; largest {np.max(err):.2%}).", 9)


def _first_attribution(bundle):
    """The attribution the per-group importance tables were computed from: the first in the section."""
    ex = bundle.explanations
    items = list(ex.values()) if isinstance(ex, dict) else list(ex) if isinstance(ex, (list, tuple)) else [ex]
    return next((i for i in items if hasattr(i, "by_feature")), None)


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def _quality(doc: Document, title: str, rows, passed: bool, method: str, params: dict) -> None:
    """One quality check under the explanation it qualifies: its numbers, PASS/FAIL, and what to try on a FAIL."""
    from dlxai.explain.quality import what_to_try

    doc.h2(f"Quality check: {title} - {_verdict(passed)}")
    doc.kv(rows, size=8.5)
    if not passed:
        doc.para("This explanation failed this check; its ranking is not a trustworthy account of the model. "
                 "What to try:", 8.5, "B")
        doc.bullets(what_to_try(method, params), 8)


def completeness(q, doc: Document, bundle) -> None:
    rows = [("Method", _label(q.method)), ("Median relative error", f"{q.median:.2%}"),
            ("Mean relative error", f"{q.mean:.2%}"), (f"Rows within {q.tolerance:.0%}", f"{q.share_within:.1%}")]
    if q.method == "lrp":  # the layers' biases absorb relevance by design: reported, not judged
        doc.h2("Quality check: conservation (LRP)")
        doc.kv(rows + [("Result", "information: the share of the output the layers' biases absorb")], size=8.5)
        return
    _quality(doc, "completeness", rows + [("Passes when", f"the median error is at most {q.tolerance:.0%}"),
                                          ("Result", _verdict(q.passed))], q.passed, q.method, {})


def faithfulness(q, doc: Document, bundle) -> None:
    method = q.params.get("method", "")
    _quality(doc, "faithfulness (deletion / insertion)", [
        ("Method", _label(method)),
        ("Deletion AUC (lower is better)", f"{S.fmt(q.deletion_auc)} vs {S.fmt(q.random_deletion_auc)} random"),
        ("Insertion AUC (higher is better)", f"{S.fmt(q.insertion_auc)} vs {S.fmt(q.random_insertion_auc)} random"),
        ("Passes when", "deletion and insertion both beat a random feature order"),
        ("Rows / units", f"{q.n_rows:,} / {q.n_units:,}"), ("Result", _verdict(q.faithful))],
        q.faithful, method, q.params)


def randomisation(q, doc: Document, bundle) -> None:
    from dlxai.explain.quality import SANITY_MAX_SPEARMAN

    stages = "; ".join(f"{name}: {S.fmt(v)}" for name, v in zip(q.stages, q.spearman, strict=True))
    _quality(doc, "randomisation (Adebayo et al., 2018)", [
        ("Method", _label(q.method)),
        ("Spearman ρ after re-initialising all layers", S.fmt(q.final)),
        ("Per stage (top-down)", stages),
        ("Passes when", f"ρ < {SANITY_MAX_SPEARMAN} (the ranking depends on the learned weights)"),
        ("Result", _verdict(q.passed))], q.passed, q.method, q.params)


def _label(key: str) -> str:
    from dlxai.explain.registry import label

    return label(key)


# --- counterfactuals and recourse ----------------------------------------------------------------
def counterfactuals(r, doc: Document, bundle) -> None:
    """The search's quality, then the cheapest counterfactual of the first three rows: what would need to change."""
    sm = r.summary()
    doc.h2(f"Counterfactual examples ({sm['method']}, {sm['queries']} rows, k = {sm['k']})")
    doc.kv([("Validity (share that flips the decision)", S.fmt(sm["validity"])),
            ("Rows with at least one counterfactual", S.fmt(sm["queries_with_cf"])),
            ("Proximity (mean cost)", S.fmt(sm["proximity"])), ("Sparsity (features changed)", S.fmt(sm["sparsity"])),
            ("Diversity", S.fmt(sm["diversity"])), ("Plausibility (cost to nearest real row)", S.fmt(sm["plausibility"]))],
           size=8.5)
    for i in range(min(3, len(r.queries))):
        try:
            cf = r.for_query(i)
        except KeyError:
            continue
        if cf.empty:
            doc.para(messages.NO_COUNTERFACTUAL.format(row=r.queries.index[i]), 8.5, "I")
            continue
        best, q = cf.iloc[0], r.queries.iloc[i]
        changed = [c for c in r.queries.columns if c in cf.columns and str(q[c]) != str(best[c])]
        doc.para(f"Row {r.queries.index[i]}: cheapest counterfactual (cost {S.fmt(best['cost'])}, P(favourable) "
                 f"{S.fmt(best['proba'])})", 8.5, "B")
        doc.table(("Feature", "Now", "Would need"), [(c, S._short(q[c]), S._short(best[c])) for c in changed],
                  widths=(1.4, 1, 1), size=8)


def burden(b, doc: Document, bundle) -> None:
    from dlxai.plots.counterfactuals import burden_bars

    doc.h2(f"Recourse burden by {b.attribute}")
    bg = b.by_group
    cols = [c for c in ("rejected", "with_recourse", "no_recourse_rate", "burden", "ci_low", "ci_high", "ratio")
            if c in bg.columns]

    def cell(c, v):
        return f"{int(v):,}" if c in ("rejected", "with_recourse") and np.isfinite(v) else S.fmt(v)

    doc.table([b.attribute, *(c.replace("_", " ") for c in cols)],
              [[str(g), *(cell(c, bg.at[g, c]) for c in cols)] for g in bg.index], size=7.5)
    doc.para(f"Gap between the highest ({b.highest}) and the lowest ({b.lowest}) burden: {S.fmt(b.gap)} "
             f"(interval {S.fmt(b.gap_ci[0])} - {S.fmt(b.gap_ci[1])}).", 9)
    try:
        doc.chart(burden_bars(b), f"recourse burden by {b.attribute}", 340)
    except Exception as exc:  # noqa: BLE001 - the table holds the numbers
        _figure_failed(doc, "Burden chart", exc)


def surrogate(t, doc: Document, bundle) -> None:
    """Fidelity, the tree as the Surrogate page draws it, the rules of the largest leaves, and fidelity per group."""
    from dlxai.plots.counterfactuals import fidelity_bars, tree_figure

    doc.h2("Surrogate decision tree")
    doc.kv([("Fidelity on test rows (agreement with the model)", S.fmt(t.fidelity)),
            ("Fidelity on training rows", S.fmt(t.train_fidelity)),
            ("Depth / leaves", f"{t.depth} / {t.n_leaves}")], size=8.5)
    try:
        fig = tree_figure(t.tree, t.feature_names, t.class_names)
        doc.chart(fig, "surrogate tree", int(fig.layout.height))
    except Exception as exc:  # noqa: BLE001 - the rules below hold the tree
        _figure_failed(doc, "Surrogate tree", exc)
    doc.para("Rules (largest leaves first)", 9, "B")
    rules = sorted(t.rules, key=lambda r: -r["rows"])[:12]
    doc.bullets([f"IF {' AND '.join(r['conditions']) or 'always'} THEN {r['prediction']} ({r['rows']:,} rows, "
                 f"{r['purity']:.0%} agree)" for r in rules], 8)
    fb = t.fidelity_by_group
    if len(fb):
        shown = fb.reset_index()
        doc.table(["Attribute", "Group", "Rows", "Fidelity"],
                  [[str(a), str(g), f"{int(n):,}", S.fmt(f)] for a, g, n, f in
                   shown[["attribute", "group", "count", "fidelity"]].itertuples(index=False)], size=7.5)
        try:
            doc.chart(fidelity_bars(t), "surrogate fidelity by group", 320)
        except Exception as exc:  # noqa: BLE001 - the table holds the numbers
            _figure_failed(doc, "Fidelity chart", exc)


# --- mitigation ------------------------------------------------------------------------------------
def mitigation(r, doc: Document, bundle) -> None:
    """One mitigation run: settings, what got worse (in red), every metric before and after, per-group rates."""
    from dlxai.report.pdf import GREY

    doc.h2(r.label)
    p = r.params
    settings = [("Method", _method_label(r.method)), ("Constraint", _constraint_label(r.constraint)),
                ("Strength", S._short(r.strength)),
                ("Sensitive", ", ".join(r.sensitive)), ("Fit time (s)", S.fmt(r.fit_seconds, 1)),
                ("Fits (planned)", f"{p.get('fits', 0)} ({p.get('planned_fits', '—')})")]
    if p.get("max_rows"):
        settings.append(("Training rows (stratified sample)", f"{p['max_rows']:,}"))
    if (p.get("estimator_params") or {}).get("max_epochs"):
        settings.append(("Epochs per retraining", str(p["estimator_params"]["max_epochs"])))
    settings += [("Randomized decisions", "yes" if getattr(r.model, "randomized", False) else "no"),
                 ("Model SHA-256", r.model.fingerprint)]
    doc.kv(settings, size=8.5)
    for w in getattr(r, "warnings", ()):
        doc.para(w, 8.5, "B", (185, 28, 28))
    tradeoff = getattr(r, "tradeoff", None)
    if tradeoff is None:  # a result built without the comparison: the short table
        t = r.table()
        cols = [c for c in ("accuracy", "dp", "eo", "tpr_gap", "selection_rate") if c in t.columns]
        doc.table(["Model", *cols], [[str(i), *(S.fmt(t.at[i, c]) for c in cols)] for i in t.index], size=8,
                  widths=(2.6, *([1] * len(cols))))
    else:
        _tradeoff(doc, "Before / after on the test split", tradeoff)
        doc.para(f"Verdict: paired bootstrap ({tradeoff.n_bootstrap} resamples of the test rows, both models scored "
                 "on each); worse or better when the 95% interval of the change lies wholly on one side of zero and "
                 "the change is at least 0.005.",
                 7.5, "I", GREY)
        g = tradeoff.display_groups()
        doc.table(list(g.columns), g.astype(str).to_numpy().tolist(), size=7, widths=(1.2, 1.4, 1.5, 1.5, 1.5))
        if r.deterministic_tradeoff is not None:
            _tradeoff(doc, "Best deterministic member vs the original", r.deterministic_tradeoff)
    others = [n for n in r.notes if n not in getattr(r, "warnings", ())]
    if others:
        doc.bullets(others, 8.5)


def _method_label(key: str) -> str:
    from dlxai.fairness.mitigation.registry import METHODS

    return METHODS[key].label if key in METHODS else key


def _constraint_label(key: str) -> str:
    from dlxai.fairness.mitigation.registry import CONSTRAINTS

    return CONSTRAINTS.get(key, "none (pre-processing)" if key == "none" else key)


def _tradeoff(doc: Document, title: str, tradeoff) -> None:
    t = tradeoff.display()
    doc.para(title, 9, "B")
    doc.table(list(t.columns), t.astype(str).to_numpy().tolist(), size=7.5, widths=(2.1, 1.5, 1.5, 1.6, 1.1))


def front(f, doc: Document, bundle) -> None:
    """The front's points and chart, then every model on it as a mitigation result."""
    from dlxai.fairness.mitigation.results import COLUMN_LABELS
    from dlxai.plots.mitigation import front_figure

    doc.h2(f"Front: {_method_label(f.method)} under {_constraint_label(f.constraint)}")
    pts = f.points
    cols = [c for c in ("label", "strength", "accuracy", "dp", "eo") if c in pts.columns]
    doc.table([COLUMN_LABELS.get(c, c) for c in cols],  # a strength of 7 prints 7, not 7.000
              [[S._short(v) if c == "strength" and np.isfinite(v) else _cell(v) for c, v in zip(cols, row, strict=True)]
               for row in pts[cols].to_numpy()], size=8)
    if {"dp", "accuracy"} <= set(pts.columns):
        doc.chart(front_figure(f), "mitigation front", 340)
    for r in f.results:
        mitigation(r, doc, bundle)


def not_run(note, doc: Document, bundle) -> None:
    """A part of a section that could not run on this model, with the reason."""
    from dlxai.report.pdf import GREY

    doc.para(f"{note.section[:1].upper()}{note.section[1:]} not run: {note.reason}", 9, "I", GREY)


# --- anything else ---------------------------------------------------------------------------------
def _fields(obj) -> list[tuple[str, object]]:
    if dataclasses.is_dataclass(obj):
        return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    to_dict = getattr(obj, "to_dict", None)
    return list(to_dict().items()) if callable(to_dict) else [("result", obj)]


def _split(items) -> tuple[list, list]:
    """(name, printed value) scalars and (name, frame) tables of an object's fields; other fields are left out."""
    scalars, frames = [], []
    for name, v in items:
        if isinstance(v, (pd.DataFrame, pd.Series)):
            frames.append((name, v.to_frame() if isinstance(v, pd.Series) else v))
        elif isinstance(v, np.ndarray) and v.ndim <= 2 and v.size <= 400:
            frames.append((name, pd.DataFrame(np.atleast_2d(v))))
        elif isinstance(v, (int, float, str, bool, np.number)) or v is None:
            scalars.append((name, S._short(v)))
        elif isinstance(v, dict):
            scalars.extend(S.flatten(v, name)[:30])
    return scalars, frames


def generic(obj, doc: Document) -> None:
    """Any result object: its scalars as a table, its frames as tables, its figures as charts."""
    if isinstance(obj, (list, tuple)):
        for item in obj[:5]:
            generic(item, doc)
        return
    if isinstance(obj, dict):
        doc.kv(S.flatten(obj)[:60], size=8)
        return
    scalars, frames = _split(_fields(obj))
    if scalars:
        doc.kv(scalars, size=8)
    for name, df in frames:
        doc.para(name.replace("_", " ").capitalize(), 9, "B")
        shown = df.head(15)
        header = [str(shown.index.name or "")] + [str(c) for c in shown.columns[:6]]
        rows = [[str(i)] + [_cell(v) for v in r[:6]] for i, r in zip(shown.index, shown.to_numpy().tolist(), strict=False)]
        doc.table(header, rows, size=7)
    figure = getattr(obj, "figure", None)
    if callable(figure):
        try:
            doc.chart(figure(), type(obj).__name__)
        except Exception as exc:  # noqa: BLE001 - a figure is a bonus; the tables are there
            _figure_failed(doc, f"Figure of {type(obj).__name__}", exc)
