"""The optional sections of an audit of a model file: the held-out split, the method check, a failed quality check
stated beside the numbers in the JSON and the PDF."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from dlxai.errors import UserInputError
from dlxai.explain.attribution import attribute
from dlxai.explain.quality import completeness
from dlxai.report import audit_model, build_report
from dlxai.report.model_results import (
    EXPLAIN_UNKNOWN,
    TEST_SHARE,
    audit_dataset,
    check_methods,
    offered_methods,
    results_json,
)


def test_offered_methods_are_the_registrys_tabular_keys_for_the_model(german_mlp):
    offered = offered_methods(german_mlp)
    assert "integrated_gradients" in offered and "kernel_shap" in offered and "attention" not in offered
    assert check_methods(["saliency", "kernel_shap", "saliency"], german_mlp) == ("saliency", "kernel_shap")
    with pytest.raises(UserInputError, match="not an explanation method") as err:
        check_methods(["gradcam"], german_mlp, "net.pt")
    assert str(err.value) == EXPLAIN_UNKNOWN.format(method="gradcam", model="net.pt", offered=", ".join(offered))


def test_the_audited_rows_split_seeded_into_reference_and_held_out_rows(german, german_mlp):
    frame = german.test
    a = audit_dataset(frame, german_mlp, target="credit", positive_label="good", sensitive=["sex"], seed=4, name="t")
    b = audit_dataset(frame, german_mlp, target="credit", positive_label="good", sensitive=["sex"], seed=4, name="t")
    assert len(a.train) + len(a.test) == len(frame) and abs(len(a.test) - TEST_SHARE * len(frame)) <= 2
    assert a.fingerprint == b.fingerprint  # the seed decides the split
    assert set(a.schema.features) == set(german_mlp.feature_columns)
    assert set(a.schema.categorical) == set(german_mlp.preprocessor.categorical)


def test_a_failed_check_is_stated_beside_the_explanation_in_json_and_pdf(german, german_mlp):
    result = attribute(german_mlp, german.X("test").head(12), method="integrated_gradients", n_steps=2)
    strict = completeness(result, tolerance=0.0)  # two steps never add up exactly: a real, failing check
    assert not strict.passed
    bundle = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=0, explanations=[result, strict])
    (shown,) = results_json(bundle)["explanations"]
    assert shown["checks_passed"] is False and shown["status"].startswith("FAILED its quality checks (completeness)")
    assert bundle.to_dict()["explanations"] == [shown]
    pdf = build_report(bundle, sections=["explanations"], chart_engine="matplotlib")
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf.pdf)).pages)
    assert "This explanation FAILED its quality checks (completeness)" in text
    assert text.index("FAILED its quality checks") < text.index("Mean |attribution|")  # before the numbers


def test_a_bundle_without_optional_results_keeps_its_json_layout(german, german_mlp):
    d = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=0).to_dict()
    assert not {"explanations", "counterfactuals", "surrogate"} & set(d)
