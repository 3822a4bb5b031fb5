"""The offer table: what it refuses, it refuses in the words the engine raises (one rule), and what it offers for
an uploaded scikit-learn pipeline (reductions that refit it) really refits it, the caller's model untouched."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.errors import UnsupportedModelError
from dlxai.explain.attribution import attribute
from dlxai.fairness.mitigation import mitigate
from dlxai.fairness.offers import labels, offers
from tests.unit.models.exporters import Zoo


@pytest.fixture(scope="module")
def zoo(german):
    z = Zoo(german)
    yield z
    z.close()


def test_predictions_only_offers_the_audit_and_says_why_not_the_rest():
    got = offers(None)
    assert [k for k, why in got.items() if not why] == ["performance", "fairness", "report"]
    assert all("predictions-only audit has decisions, not a model" in why for why in got.values() if why)
    assert list(got) == list(labels())


def test_an_uploaded_network_is_refused_retraining_in_the_words_mitigate_raises(zoo, german):
    m = zoo["ONNX from torch.onnx (converts to torch)"]
    got = offers(m, ["sex"])
    assert got["mitigate:threshold_optimizer"] == ""
    why = got["mitigate:reweighing"]
    assert why.startswith("An uploaded network (ONNX) cannot be trained again")
    with pytest.raises(UnsupportedModelError) as exc:
        mitigate(m, german, "reweighing", "demographic_parity", sensitive=["sex"], n_bootstrap=0)
    assert str(exc.value) == f"{why}."
    assert "an uploaded ONNX network" in got["mitigate:penalised"] and "OnnxClassifier" not in got["mitigate:penalised"]


def test_a_skops_pipeline_is_refitted_by_reweighing_with_its_weights_on_the_last_step(zoo, german):
    from dlxai.fairness.preprocessing import reweighing_weights
    from dlxai.models.rawcolumns import RawColumnsClassifier

    m = zoo["skops pipeline (raw columns)"]
    assert offers(m, ["sex"])["mitigate:reweighing"] == ""
    coef = m.estimator.inner[-1].coef_.copy()
    r = mitigate(m, german, "reweighing", "demographic_parity", sensitive=["sex"], n_bootstrap=0)
    np.testing.assert_array_equal(m.estimator.inner[-1].coef_, coef)  # the caller's pipeline is untouched
    new = r.model.estimator
    assert isinstance(new, RawColumnsClassifier) and new.inner is not m.estimator.inner
    # the same refit by hand: the pipeline's own fit on the raw training rows, weights routed to its classifier
    from sklearn.base import clone

    X, y = german.X("train"), german.y("train")
    w = reweighing_weights(y, german.sensitive("train", ["sex"]))
    by_hand = clone(m.estimator.inner).fit(X, y, clf__sample_weight=w)
    np.testing.assert_allclose(r.model.predict_proba(german.frame("test")),
                               by_hand.predict_proba(german.X("test"))[:, 1], atol=1e-6)
    assert not np.allclose(by_hand[-1].coef_, coef)  # the weights changed the fit


def test_a_post_processed_model_is_offered_row_scoring_methods_and_refused_gradients_in_the_engine_words(zoo,
                                                                                                       german):
    """Its thresholds read sex and age_band from each row: the methods that score rows they build hold each row's
    groups (tests/unit/explain/test_groups.py), so they are offered; gradients are refused as attribute refuses."""
    from dlxai.explain.groups import scored_rows

    m = zoo["ThresholdOptimizer of a skops pipeline"]
    got = offers(m, ["sex"])
    for key in ("explain:kernel_shap", "counterfactuals", "recourse", "surrogate", "performance", "fairness",
                "report"):
        assert got[key] == "", (key, got[key])
    why = got["explain:integrated_gradients"]
    assert "Fairlearn's ThresholdOptimizer" in why and "not a PyTorch network either" in why  # a skops pipeline
    with pytest.raises(UnsupportedModelError) as exc:
        attribute(m, scored_rows(m, german, "test").head(2), method="integrated_gradients")
    assert why in str(exc.value)
    res = attribute(m, scored_rows(m, german, "test").head(2), method="kernel_shap", n_samples=16)
    assert list(res.groups.columns) == ["sex", "age_band"]


def test_the_correlation_remover_needs_the_attribute_among_the_features(zoo):
    assert "not features of this model" in offers(zoo["app MLP"], ["sex"])["mitigate:correlation_remover"]
    raw = offers(zoo["skops pipeline (raw columns)"], ["sex"])["mitigate:correlation_remover"]
    assert "reads the raw columns and encodes them itself" in raw
