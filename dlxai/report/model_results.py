"""The optional sections of an audit of a model file: explanations with their quality checks, counterfactuals
with the recourse burden by group, and the surrogate tree, computed with the engine calls the pages use, on
bounded samples drawn with one seed that the manifest records.

``python -m dlxai audit --model FILE --explain METHOD`` calls :func:`model_results` with the audited rows; they
are split (seeded, stratified on the target, 70/30) into reference rows (the counterfactual space's statistics,
the surrogate's training rows, the background of SHAP) and held-out rows (the rows explained, the rejected rows
searched for counterfactuals, the surrogate's fidelity).  :func:`results_json` writes the sections into the
audit's JSON; the PDF draws them with :mod:`dlxai.report.renderers`.  A section that cannot run on the model
carries a :class:`NotRun` note with the reason instead of a result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlxai.errors import UnsupportedModelError, UserInputError

# --- messages (tests match on these) ----------------------------------------------------------------------
EXPLAIN_UNKNOWN = "--explain {method!r} is not an explanation method. Methods offered for the model {model!r}: {offered}."
EXPLAIN_NOT_OFFERED = (
    "--explain {method!r} ({label}) is not offered for the model {model!r}: {why}. Methods offered for it: {offered}."
)
FAILED_STATUS = ("FAILED its quality checks ({failed}): its ranking is not a trustworthy account of the model. "
                 "What to try: {fixes}")
PASSED_STATUS = "passed its quality checks ({checks})"
UNCHECKED_STATUS = "no quality check applies to this method on this model"

TEST_SHARE = 0.3  # held-out share of the audited rows
BACKGROUND_ROWS = 100  # reference rows of a background method (SHAP)
IG_STEPS = 32  # as the demo command's integrated gradients
RANDOMISATION_ROWS = 100
FAITHFULNESS_STEPS = 20
SURROGATE_DEPTH = 4

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ExplainPlan:
    """What to compute: attribution ``methods`` (registry keys) on ``rows`` held-out rows; ``k`` counterfactuals
    for each of at most ``counterfactual_rows`` rejected rows (0: none); the surrogate tree or not; one ``seed``
    for the split and every sample."""

    methods: tuple[str, ...]
    rows: int = 200
    counterfactual_rows: int = 200
    k: int = 3
    surrogate: bool = True
    seed: int = 0


@dataclass(frozen=True)
class NotRun:
    """A section (or part of one) that could not run on this model, and why."""

    section: str
    reason: str


def offered_methods(model) -> list[str]:
    """The attribution methods offered for ``model`` on tabular rows (the Explanations page's picker)."""
    from dlxai.explain.registry import METHODS, TABULAR, applicable_methods

    return [k for k in applicable_methods(model, TABULAR) if TABULAR in METHODS[k].kinds]


def check_methods(methods, model, name: str | None = None) -> tuple[str, ...]:
    """``methods`` as registry keys, each offered for ``model`` (from the file ``name``); else
    :class:`UserInputError` naming the offered ones (and, for a known method, why it does not apply)."""
    from dlxai.explain.registry import METHODS, TABULAR, label, model_info

    offered = offered_methods(model)
    shown = ", ".join(offered) or "none"
    info = model_info(model)
    out = []
    for m in methods:
        if m not in METHODS:
            raise UserInputError(EXPLAIN_UNKNOWN.format(method=m, model=name or model.name, offered=shown))
        if m not in offered:
            why = info.why_not(METHODS[m], TABULAR) or f"it works on {', '.join(METHODS[m].kinds)} data"
            raise UserInputError(EXPLAIN_NOT_OFFERED.format(method=m, label=label(m), model=name or model.name, why=why,
                                                            offered=shown))
        if m not in out:
            out.append(m)
    return tuple(out)


def audit_dataset(frame: pd.DataFrame, model, *, target: str, positive_label, sensitive, seed: int, name: str):
    """The audited rows as a dataset: the model's input columns as features (typed as its contract reads them),
    ``sensitive`` for groups, split into reference and held-out rows (seeded, stratified on the target)."""
    from dlxai.data.dataset import make_dataset
    from dlxai.data.mapping import stratified_split
    from dlxai.data.schema import Schema

    features = list(model.feature_columns)
    prep = model.preprocessor
    categorical = [c for c in getattr(prep, "categorical", ()) if c in features]
    numeric = [c for c in features if c not in categorical]
    keep = list(dict.fromkeys([*features, *sensitive, target]))
    schema = Schema(target=target, positive_label=positive_label, sensitive=tuple(sensitive), numeric=tuple(numeric),
                    categorical=tuple(categorical))
    train, test = stratified_split(frame[keep], target, TEST_SHARE, seed)
    return make_dataset(name, train, schema, test=test, description=f"Audited rows of {name}",
                        provenance=f"the rows of {name}, split {1 - TEST_SHARE:.0%}/{TEST_SHARE:.0%} with seed {seed}")


def model_results(bundle, model, frame: pd.DataFrame, plan: ExplainPlan, *, progress: Progress | None = None):
    """``bundle`` with explanations, counterfactuals and the surrogate of ``model`` on the audited ``frame``
    attached, and what produced them under ``params["explain"]`` (the manifest's sample sizes and seed)."""
    say = progress or (lambda f, m: None)
    attrs = list(bundle.params.get("sensitive") or bundle.fairness)
    ds = audit_dataset(frame, model, target=bundle.data.target, positive_label=bundle.data.positive_label,
                       sensitive=attrs, seed=plan.seed, name=bundle.data.name)
    manifest = {"methods": list(plan.methods), "seed": plan.seed, "held_out_share": TEST_SHARE,
                "reference_rows": len(ds.train), "held_out_rows": len(ds.test)}
    explained, groups = [], {}
    span = 0.6 / max(len(plan.methods), 1)
    for i, method in enumerate(plan.methods):
        items, groups[method], used = _explain(model, ds, method, plan, attrs,
                                               lambda f, m, i=i: say(span * (i + f), m))
        explained += items
        manifest.setdefault("explained", {})[method] = used
    results = {"explanations": explained or None}
    if plan.counterfactual_rows:
        results["counterfactuals"], manifest["counterfactuals"] = _counterfactuals(
            model, ds, plan, attrs, bundle.params.get("n_bootstrap", 1000), lambda f, m: say(0.6 + 0.3 * f, m))
    if plan.surrogate:
        say(0.9, f"Fitting a depth-{SURROGATE_DEPTH} surrogate tree")
        results["surrogate"], manifest["surrogate"] = _surrogate(model, ds, plan, attrs, bundle.threshold)
    say(1.0, "Explanations done")
    extras = dict(bundle.extras)
    if groups:
        extras["explanation_groups"] = groups[plan.methods[0]]
        extras["explanation_groups_by_method"] = groups
    return bundle.with_results(**results, extras=extras, params={**bundle.params, "explain": manifest})


def _explain(model, ds, method: str, plan: ExplainPlan, attrs, say: Progress):
    """(the attribution and its quality checks, mean |attribution| per group, what was used) of one method."""
    from dlxai.explain.attribution import attribute
    from dlxai.explain.quality import completeness, deletion_insertion, randomisation_check, randomisation_unavailable
    from dlxai.explain.registry import METHODS, label, model_info
    from dlxai.report.audit import explanation_groups

    X = ds.X("test")
    rows = X if plan.rows >= len(X) else X.sample(n=plan.rows, random_state=plan.seed).sort_index()
    kwargs: dict = {"seed": plan.seed}
    if METHODS[method].baseline == "background":
        kwargs.update(baselines="samples", reference=ds.X("train"), n_baseline_samples=BACKGROUND_ROWS)
    if method == "integrated_gradients":
        kwargs["n_steps"] = IG_STEPS
    say(0.0, f"Explaining {len(rows):,} rows with {label(method)}")
    result = attribute(model, rows, method=method, progress=lambda f: say(0.6 * f, f"{label(method)}: {f:.0%}"),
                       **kwargs)
    items = [result]
    if result.delta is not None:
        items.append(completeness(result))
    say(0.6, f"{label(method)}: faithfulness check (deletion / insertion)")
    items.append(deletion_insertion(model, result, n_steps=FAITHFULNESS_STEPS))
    used = {"rows": len(rows), "seed": plan.seed, "quality_checks": ["faithfulness"]}
    if result.delta is not None:
        used["quality_checks"].insert(0, "completeness")
    if "n_baseline_samples" in kwargs:
        used["background_rows"] = min(BACKGROUND_ROWS, len(ds.train))
    why_not = randomisation_unavailable(model)
    if why_not and model_info(model).remote is not None:  # a network that could not be checked: say so
        items.append(NotRun(f"randomisation check of {label(method)}", why_not))
        used["randomisation_not_run"] = why_not
    elif not why_not:  # (a model that is no network has no layers to randomise: the check does not apply)
        n = min(RANDOMISATION_ROWS, len(rows))
        say(0.75, f"{label(method)}: randomisation check on {n} rows")
        items.append(randomisation_check(model, rows.head(n), method=method, **kwargs))
        used["quality_checks"].append("randomisation")
        used["randomisation_rows"] = n
    return items, explanation_groups(result, ds, attrs), used


def _counterfactuals(model, ds, plan: ExplainPlan, attrs, n_bootstrap: int, say: Progress):
    """([the search's result, the burden by each attribute (or notes)], what was used); a note if the model
    cannot be searched."""
    from dataclasses import replace

    from dlxai.explain.counterfactuals import SearchOptions, find_counterfactuals
    from dlxai.fairness.recourse import burden_from_costs, costs_from_result, rejected_sample

    X = ds.X("test")
    try:
        rejected = rejected_sample(model, X, plan.counterfactual_rows, plan.seed)
        say(0.0, f"Counterfactuals: {len(rejected):,} rejected rows × {plan.k}")
        options = replace(SearchOptions(), desired_class=1, on_failure="keep")
        res = find_counterfactuals(model, ds, X.iloc[rejected], k=plan.k, options=options, seed=plan.seed,
                                   progress=lambda f, m: say(0.95 * f, f"Counterfactuals: {m}"))
    except (UnsupportedModelError, UserInputError) as exc:
        return [NotRun("counterfactuals", str(exc))], {"not_run": str(exc)}
    costs = costs_from_result(res, rejected)
    out: list = [res]
    for a in attrs:
        groups = ds.sensitive("test", [a])[a].iloc[rejected].to_numpy()
        try:
            out.append(burden_from_costs(costs["cost"].to_numpy(), groups, n_bootstrap=n_bootstrap, seed=plan.seed,
                                         attribute=a, params={"split": "held-out", "rows_used": len(costs),
                                                              "k": plan.k}))
        except UserInputError as exc:
            out.append(NotRun(f"recourse burden by {a}", str(exc)))
    used = {"rejected_rows_searched": len(rejected), "rejected_rows_held_out": int((model.predict(X) == 0).sum()),
            "k": plan.k, "seed": plan.seed, "method": res.method, "decision_threshold": 0.5}
    return out, used


def _surrogate(model, ds, plan: ExplainPlan, attrs, threshold):
    from dlxai.explain.surrogate import fit_surrogate

    try:
        tree = fit_surrogate(model, ds, max_depth=SURROGATE_DEPTH, sensitive=attrs, seed=plan.seed,
                             threshold=0.5 if threshold is None else threshold)
    except (UnsupportedModelError, UserInputError) as exc:
        return NotRun("surrogate", str(exc)), {"not_run": str(exc)}
    return tree, {k: tree.params[k] for k in ("max_depth", "train_rows", "test_rows", "seed", "threshold")}


# --- quality verdicts ----------------------------------------------------------------------------------------
def _items(obj) -> list:
    if obj is None:
        return []
    if isinstance(obj, dict):
        return list(obj.values())
    return list(obj) if isinstance(obj, (list, tuple)) else [obj]


def _check_of(q) -> tuple[str, str, bool | None]:
    """(check name, method, passed) of a quality result; passed is None where the check only informs."""
    from dlxai.explain.quality import Completeness, Faithfulness, RandomisationCheck

    if isinstance(q, Completeness):
        return "completeness", q.method, None if q.method == "lrp" else q.passed
    if isinstance(q, Faithfulness):
        return "faithfulness", q.params.get("method", ""), q.faithful
    if isinstance(q, RandomisationCheck):
        return "randomisation", q.method, q.passed
    return "", "", None


def quality_of(explanations, method: str) -> dict[str, bool | None]:
    """Check name -> passed for the quality checks of ``method`` among ``explanations``."""
    out = {}
    for q in _items(explanations):
        name, m, passed = _check_of(q)
        if name and m == method:
            out[name] = passed
    return out


def status(explanations, result) -> str:
    """What an explanation's quality checks say about it, in one sentence (a failed check always shows)."""
    from dlxai.explain.quality import what_to_try

    checks = quality_of(explanations, result.method)
    failed = [n for n, p in checks.items() if p is False]
    if failed:
        return FAILED_STATUS.format(failed=", ".join(failed), fixes=" ".join(what_to_try(result.method, result.params)))
    judged = [n for n, p in checks.items() if p is not None]
    return PASSED_STATUS.format(checks=", ".join(judged)) if judged else UNCHECKED_STATUS


# --- JSON ------------------------------------------------------------------------------------------------------
def results_json(bundle) -> dict:
    """The explanations, counterfactuals and surrogate of ``bundle`` as plain JSON values (only those present)."""
    from dlxai.report.audit import _jsonable

    out = {}
    if bundle.explanations is not None:
        out["explanations"] = [_attribution_json(r, bundle) for r in _items(bundle.explanations)
                               if hasattr(r, "by_feature")] + _notes(bundle.explanations)
    if bundle.counterfactuals is not None:
        out["counterfactuals"] = _counterfactuals_json(_items(bundle.counterfactuals))
    if bundle.surrogate is not None:
        out["surrogate"] = _surrogate_json(bundle.surrogate)
    return _jsonable(out)


def _notes(obj) -> list[dict]:
    return [{"not_run": n.section, "reason": n.reason} for n in _items(obj) if isinstance(n, NotRun)]


def _attribution_json(r, bundle) -> dict:
    from dlxai.explain.registry import label

    imp = r.by_feature().abs().mean(axis=0).sort_values(ascending=False)
    by_method = (bundle.extras or {}).get("explanation_groups_by_method") or {}
    groups = by_method.get(r.method) or (bundle.extras or {}).get("explanation_groups") or {}
    checks = [_check_json(q) for q in _items(bundle.explanations) if _check_of(q)[0] and _check_of(q)[1] == r.method]
    verdicts = [c["passed"] for c in checks if c["passed"] is not None]
    return {
        "method": r.method, "label": label(r.method), "rows": r.n,
        "params": {k: v for k, v in r.params.items() if np.isscalar(v) or v is None},
        "status": status(bundle.explanations, r), "checks_passed": all(verdicts) if verdicts else None,
        "quality_checks": checks,
        "global_importance": {str(k): float(v) for k, v in imp.items()},
        "by_group": {attr: {str(g): {str(c): float(v) for c, v in row.items()} for g, row in t.iterrows()}
                     for attr, t in groups.items()},
    }


def _check_json(q) -> dict:
    from dlxai.explain.quality import SANITY_MAX_SPEARMAN

    name, method, passed = _check_of(q)
    out = {"check": name, "method": method, "passed": passed}
    if name == "completeness":
        out.update(median_error=q.median, mean_error=q.mean, share_within=q.share_within, tolerance=q.tolerance)
    elif name == "faithfulness":
        out.update(deletion_auc=q.deletion_auc, random_deletion_auc=q.random_deletion_auc,
                   insertion_auc=q.insertion_auc, random_insertion_auc=q.random_insertion_auc, rows=q.n_rows)
    else:
        out.update(spearman_after_randomising=q.final, passes_below=SANITY_MAX_SPEARMAN)
    return out


def _counterfactuals_json(items) -> dict:
    from dlxai.explain.counterfactuals import CounterfactualResult
    from dlxai.fairness.recourse import RecourseBurden

    out: dict = {"recourse_burden": {}, "not_run": [n.__dict__ for n in items if isinstance(n, NotRun)]}
    for r in items:
        if isinstance(r, CounterfactualResult):
            out["summary"] = r.summary()
            out["examples"] = [_example(r, i) for i in range(min(3, len(r.queries)))]
        elif isinstance(r, RecourseBurden):
            out["recourse_burden"][r.attribute] = {
                "by_group": {str(g): dict(row) for g, row in r.by_group.iterrows()}, "gap": r.gap,
                "gap_ci": list(r.gap_ci), "highest": r.highest, "lowest": r.lowest, "params": r.params}
    return out


def _example(r, i: int) -> dict:
    """The cheapest valid counterfactual of query ``i``: what would need to change."""
    q = r.queries.iloc[i]
    cf = r.for_query(i)
    out = {"row": r.queries.index[i], "p_favourable": float(r.query_proba[i]), "found": not cf.empty}
    if not cf.empty:
        best = cf.iloc[0]
        out.update(cost=float(best["cost"]), p_favourable_after=float(best["proba"]),
                   changes={c: {"now": q[c], "would_need": best[c]} for c in r.queries.columns
                            if c in cf.columns and str(q[c]) != str(best[c])})
    return out


def _surrogate_json(t) -> dict:
    if isinstance(t, NotRun):
        return {"not_run": t.reason}
    fb = t.fidelity_by_group.reset_index()
    return {"fidelity": t.fidelity, "train_fidelity": t.train_fidelity, "depth": t.depth, "leaves": t.n_leaves,
            "rules": [{k: v for k, v in r.items() if k != "leaf"} for r in t.rules],
            "fidelity_by_group": fb.to_dict(orient="records"), "params": t.params}
