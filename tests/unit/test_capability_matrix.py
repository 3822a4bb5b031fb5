"""The offer is the truth: every capability the app offers for a model runs on it, and every one it does not offer
carries the reason the user reads.

One row per kind of model the app loads or makes (:data:`tests.unit.models.exporters.KINDS`, built at test time by
the real exporters on German credit); for each, :func:`dlxai.fairness.offers.offers` is what the pages show, and
every offered capability runs here at small settings on a few rows, as the page calls it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from dlxai.fairness.offers import labels, offers
from tests.unit.models.exporters import KINDS, Zoo

ROWS = 3  # rows explained per method
SMALL = {  # each method's parameters, small: the point is that it runs on this model, not its accuracy
    "integrated_gradients": {"n_steps": 8},
    "expected_gradients": {"n_samples": 8},
    "kernel_shap": {"n_samples": 32},
}


@pytest.fixture(scope="module")
def zoo(german):
    z = Zoo(german)
    yield z
    z.close()


def predictions_table(ds) -> pd.DataFrame:
    """What a predictions-only upload holds: the label, the sensitive columns, a score on a 1-10 scale."""
    from dlxai.models import train_model

    m = train_model(ds, "logreg", seed=0)
    frame = ds.frame("test")
    return pd.DataFrame({"label": frame[ds.schema.target].to_numpy(),
                         "decile": np.ceil(m.predict_proba(frame) * 10).clip(1, 10),
                         **{c: frame[c].to_numpy() for c in ds.schema.sensitive}})


def run_explanation(m, ds, method: str) -> None:
    from dlxai.explain.attribution import attribute
    from dlxai.explain.groups import scored_rows
    from dlxai.explain.quality import completeness, deletion_insertion, randomisation_check, randomisation_unavailable
    from dlxai.explain.registry import METHODS

    rows = scored_rows(m, ds, "test").iloc[:ROWS]  # with the group columns a post-processed model reads
    kw = dict(SMALL.get(method, {}))
    if METHODS[method].baseline == "background":
        kw.update(baselines="samples", reference=ds.X("train"), n_baseline_samples=5)
    res = attribute(m, rows, method=method, **kw)
    assert np.isfinite(res.values).all() and res.values.shape[0] == ROWS
    if res.delta is not None:
        completeness(res)
    deletion_insertion(m, res, n_steps=4)
    if not randomisation_unavailable(m):  # the page runs it exactly then, and otherwise shows this reason
        randomisation_check(m, rows.iloc[:2], method=method, cascading=False, **kw)


def run_capability(key: str, m, ds, table: pd.DataFrame) -> None:
    """Run the capability ``key`` as its page does, at small settings."""
    from dlxai.explain.counterfactuals import SearchOptions, find_counterfactuals
    from dlxai.explain.groups import scored_rows
    from dlxai.explain.surrogate import fit_surrogate, local_surrogate
    from dlxai.fairness import audit_fairness
    from dlxai.fairness.mitigation import mitigate
    from dlxai.fairness.recourse import recourse_burden
    from dlxai.performance import evaluate
    from dlxai.report import audit_model, audit_predictions

    if m is None:  # predictions only: fairness, performance and the report of the uploaded decisions
        bundle = audit_predictions(table, target="label", sensitive=list(ds.schema.sensitive), score_column="decile",
                                   threshold=6, higher_is_favourable=True, positive_label=ds.schema.positive_label,
                                   n_bootstrap=10, name="predictions")
        assert bundle.performance is not None and bundle.fairness
        return
    frame = ds.frame("test")
    if key == "performance":
        assert 0 <= evaluate(ds.y("test"), m.predict_proba(frame)).accuracy <= 1
    elif key == "fairness":
        audit_fairness(ds.y("test"), m.predict(frame), ds.sensitive("test", ["sex"]), n_bootstrap=10)
    elif key.startswith("explain:"):
        run_explanation(m, ds, key.split(":")[1])
    elif key == "counterfactuals":
        p = m.predict_proba(frame)
        row = int(np.argmin(p))
        res = find_counterfactuals(m, ds, scored_rows(m, ds, "test").iloc[[row]], k=1, seed=0,
                                   options=SearchOptions(steps=20, n_candidates=100, on_failure="keep"))
        assert len(res.metrics) == 1
    elif key == "recourse":
        if not (m.predict(frame) == 0).any():  # the page says so instead of offering the search (no one to help)
            return
        burden = recourse_burden(m, ds, "sex", max_rows=12, n_bootstrap=10,
                                 options=SearchOptions(steps=20, n_candidates=100))
        assert len(burden.by_group)
    elif key == "surrogate":
        assert 0 <= fit_surrogate(m, ds, max_depth=2).fidelity <= 1
        local_surrogate(m, ds, ds.frame("test").iloc[[0]], max_depth=2, n_samples=200)  # with its groups
    elif key.startswith("mitigate:"):
        method = key.split(":")[1]
        strength = {"grid_search": 2}.get(method)
        params = {"max_epochs": 1} if hasattr(m.estimator, "max_epochs") else None
        r = mitigate(m, ds, method, "demographic_parity", sensitive=["sex"], strength=strength, max_iter=1,
                     max_rows=200, n_bootstrap=10, estimator_params=params)
        assert 0 <= r.model.predict_proba(frame).min() <= 1
    elif key == "report":
        bundle = audit_model(m, ds, n_bootstrap=10)
        assert bundle.performance is not None and bundle.fairness
    else:
        raise AssertionError(f"no runner for {key}")


@pytest.mark.parametrize("kind", KINDS)
def test_every_offer_runs_and_every_refusal_says_why(zoo, german, kind):
    m = zoo[kind]
    offered = offers(m, ["sex"])
    assert list(offered) == list(labels())
    table = predictions_table(german) if m is None else None
    for key, why in offered.items():
        if why:
            words = why.replace(m.name, "the model") if m is not None else why
            words = re.sub(r"'[^' ]*'", "", re.sub(r"\[[^\]]*\]", "", words))  # the user's column names may have _
            assert len(why) > 40 and "_" not in words.split(":")[0], (key, why)  # sentences, not internal names
            continue
        try:
            run_capability(key, m, german, table)
        except Exception as exc:  # noqa: BLE001  (name the capability that broke)
            raise AssertionError(f"{kind}: offered {key!r} failed: {type(exc).__name__}: {exc}") from exc
