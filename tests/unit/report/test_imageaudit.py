"""Image audits: the favourable class as the decision, fairness equal to Fairlearn's, per-class metrics equal to
scikit-learn's, and the same PDF and JSON as a table audit."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.data.imagesets import read_images
from dlxai.errors import UserInputError
from dlxai.models.imagemodels import check_sample, load_image_model
from dlxai.report.builder import build_report
from dlxai.report.imageaudit import ClassMetrics, audit_images
from tests.fairlearn_reference import fairlearn_metrics
from tests.image_makers import SPEC, resnet, safetensors_bytes, write_images


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root, labels = write_images(tmp_path_factory.mktemp("au") / "imgs", n=30)
    return read_images(root, labels)


@pytest.fixture(scope="module")
def model(images):
    m = load_image_model(safetensors_bytes(resnet(3, seed=1)), "r18.safetensors", spec=SPEC, time_budget_s=120)
    check_sample(m, images)
    return m


@pytest.fixture(scope="module")
def bundle(model, images):
    return audit_images(model, images, favourable_class="dog", n_bootstrap=50, min_group_size=5)


def test_fairness_equals_fairlearn_on_the_favourable_class_decision(bundle, model, images):
    proba = model.predict_proba(images.inputs)
    predicted = np.array(model.classes)[proba.argmax(1)]
    y, pred = (images.labels == "dog").astype(int), (predicted == "dog").astype(int)
    assert set(bundle.fairness) == {"site", "skin"}
    for attr in ("site", "skin"):
        mf, summary = fairlearn_metrics(y, pred, images.groups[attr])
        got = bundle.fairness[attr]
        for k in ("demographic_parity_difference", "equalized_odds_difference"):
            assert got.summary[k] == pytest.approx(summary[k], abs=1e-12)
        for g in mf.by_group.index:
            assert got.by_group.at[str(g), "selection_rate"] == pytest.approx(mf.by_group.at[g, "selection_rate"])
        assert (got.ci_low["selection_rate"] <= got.by_group["selection_rate"] + 1e-12).all()
    assert bundle.performance.accuracy == pytest.approx((y == pred).mean())
    assert bundle.data.positive_label == "dog" and bundle.data.rows == 30


def test_per_class_metrics_equal_scikit_learn(bundle, model, images):
    from sklearn.metrics import classification_report

    metrics = bundle.extras["performance_details"][0]
    assert isinstance(metrics, ClassMetrics)
    predicted = bundle.extras["predictions"].predicted
    ref = classification_report(images.labels, predicted, labels=list(model.classes), output_dict=True,
                                zero_division=0)
    for c in model.classes:
        assert metrics.per_class.at[c, "precision"] == pytest.approx(ref[c]["precision"])
        assert metrics.per_class.at[c, "recall"] == pytest.approx(ref[c]["recall"])
    assert metrics.accuracy == pytest.approx((predicted == images.labels).mean())
    assert int(metrics.confusion.to_numpy().sum()) == 30


def test_json_and_pdf_carry_the_image_audit(bundle):
    d = bundle.to_dict()
    assert d["parameters"]["mode"] == "images" and d["parameters"]["favourable_class"] == "dog"
    assert d["performance_details"][0]["per_class"]["dog"]["support"] == 10
    assert d["performance"]["threshold"] is None
    from dlxai.report import renderers
    from dlxai.report.imageaudit import render_class_metrics

    renderers._register_result_types()
    assert renderers._render.dispatch(ClassMetrics) is render_class_metrics  # its own page, not the generic one
    report = build_report(bundle, chart_engine="matplotlib")
    assert report.pdf.startswith(b"%PDF") and report.pages >= 5
    assert "performance" in report.sections and "fairness" in report.sections


def test_unknown_favourable_class_and_sensitive_column(model, images):
    with pytest.raises(UserInputError, match="does not occur in 'class'"):
        audit_images(model, images, favourable_class="wolf", n_bootstrap=0)
    with pytest.raises(UserInputError, match="is not in the data"):
        audit_images(model, images, sensitive=["age"], n_bootstrap=0)


def test_images_without_groups_still_get_accuracy(model, tmp_path):
    for c in ("cat", "dog", "fox"):
        write_images(tmp_path / "tree" / c, n=2, csv=False)
    b = audit_images(model, read_images(tmp_path / "tree"), n_bootstrap=0)
    assert b.fairness == {} and "no group columns" in b.data.description
    assert b.extras["performance_details"][0].images == 6


def test_no_group_chosen_audits_accuracy_only(model, images):
    b = audit_images(model, images, sensitive=[], n_bootstrap=0)
    assert b.fairness == {} and "No group column was chosen" in b.data.description
