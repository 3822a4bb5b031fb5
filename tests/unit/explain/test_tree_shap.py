"""tree_shap: exact interventional SHAP of a scikit-learn tree ensemble behind a raw-columns skops pipeline, equal to
the Shapley values enumerated over every coalition of raw columns; offered only where the trees can be read."""

from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest

from dlxai.errors import UnsupportedModelError
from dlxai.explain.attribution import attribute
from dlxai.explain.registry import applicable_methods

NUM, CAT = ["duration", "credit_amount", "age"], ["status", "purpose"]


def _model(german, clf, prep=None):
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from dlxai.models.formats import load_model

    prep = prep or ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CAT), ("n", StandardScaler(), NUM)])
    pipe = Pipeline([("prep", prep), ("clf", clf)]).fit(german.X("train")[NUM + CAT], german.y("train"))
    raw = sio.dumps(pipe)
    m = load_model(raw, "trees.skops", trusted=sio.get_untrusted_types(data=raw), sample=german.X("test"),
                   reference=german.X("train"), positive_label=1)
    return m, pipe


def _enumerated(f, x, background, columns) -> np.ndarray:
    """Shapley values of v(S) = mean over background rows of f(x on S, background elsewhere), every S."""
    d = len(columns)
    out = np.zeros(d)
    for S in itertools.product((False, True), repeat=d):
        hybrid = background.copy()
        for j, c in enumerate(columns):
            if S[j]:
                hybrid[c] = x[c]
        v, k = f(hybrid).mean(), sum(S)
        for j in range(d):
            out[j] += (factorial(k - 1) * factorial(d - k) / factorial(d) * v if S[j]
                       else -factorial(k) * factorial(d - k - 1) / factorial(d) * v)
    return out


@pytest.mark.parametrize("kind", ["hgb", "forest"])
def test_tree_shap_equals_the_enumerated_shapley_values_per_raw_column(german, kind):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    clf = (HistGradientBoostingClassifier(max_iter=15, random_state=0) if kind == "hgb"
           else RandomForestClassifier(n_estimators=4, max_depth=4, random_state=0))
    m, pipe = _model(german, clf)
    rows = german.X("test").iloc[:3]
    r = attribute(m, rows, method="tree_shap", baselines="samples", reference=german.X("train"), n_baseline_samples=6,
                  target=1)
    contract = m.estimator.contract
    background = contract.decode(r.baselines)
    f = pipe.decision_function if kind == "hgb" else (lambda X: pipe.predict_proba(X)[:, 1])
    cols = list(contract.columns_)
    for i in range(len(rows)):
        expected = _enumerated(f, rows.iloc[i], background, cols)
        assert np.allclose(r.by_feature()[cols].to_numpy()[i], expected, atol=1e-7)
    assert np.max(r.completeness_error) < 1e-9  # exact: the values add up to the change in the output
    unfavourable = attribute(m, rows, method="tree_shap", baselines=r.baselines, target=0)
    assert np.allclose(unfavourable.values, -r.values)
    # the page and the PDF name the output explained: boosting's log-odds, a forest's probability
    from dlxai.explain.views import explained_output

    scale = "log-odds" if kind == "hgb" else "probability"
    assert r.info["output"] == scale and explained_output(m, r).startswith(f"the {scale} of the favourable class")


def test_offered_only_where_the_trees_can_be_read(german, german_mlp):
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    from dlxai.explain.registry import METHODS, model_info

    hgb, _ = _model(german, HistGradientBoostingClassifier(max_iter=5))
    assert applicable_methods(hgb)[:2] == ["tree_shap", "kernel_shap"]
    logreg, _ = _model(german, LogisticRegression(max_iter=500))
    assert "tree_shap" not in applicable_methods(logreg)
    assert "this model is a LogisticRegression" in model_info(logreg).why_not(METHODS["tree_shap"], "tabular")
    assert "tree_shap" not in applicable_methods(german_mlp)
    mixed = ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CAT), ("n", PCA(2), NUM)])
    pca, _ = _model(german, HistGradientBoostingClassifier(max_iter=5), mixed)  # PCA mixes the numbers
    why = model_info(pca).why_not(METHODS["tree_shap"], "tabular")
    assert "mixes raw columns" in why and "tree_shap" not in applicable_methods(pca)
    with pytest.raises(UnsupportedModelError, match="does not apply"):
        attribute(pca, german.X("test").head(2), method="tree_shap")
