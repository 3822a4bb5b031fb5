"""``audit --model FILE --explain METHOD``: explanations with their quality checks, counterfactuals with the
recourse burden and the surrogate in the JSON and the PDF, on model files made by the real exporters."""

from __future__ import annotations

import json

import pytest

from dlxai.cli import EXIT_BAD_INPUT, EXIT_OK, NUMBERS, run
from dlxai.report import messages
from dlxai.report.model_results import EXPLAIN_NOT_OFFERED, EXPLAIN_UNKNOWN, TEST_SHARE
from tests.unit.models.exporters import skops_pipeline, torch_onnx_mlp

COMMON = ["--target", "credit", "--positive-label", "good", "--sensitive", "sex", "--sensitive", "age_band",
          "--n-bootstrap", "50", "--quiet"]


@pytest.fixture(scope="module")
def files(german, tmp_path_factory):
    import skops.io as sio

    root = tmp_path_factory.mktemp("explain")
    data = root / "test.csv"
    german.test.to_csv(data, index=False)
    raw, _, _ = skops_pipeline(german, "logreg")
    (root / "logreg.skops").write_bytes(raw)
    onnx, _, _ = torch_onnx_mlp(german.schema.numeric)
    (root / "mlp.onnx").write_bytes(onnx)
    return {"data": str(data), "skops": str(root / "logreg.skops"), "onnx": str(root / "mlp.onnx"),
            "trust": [t for u in sio.get_untrusted_types(data=raw) for t in ("--trust", u)], "root": root}


def _skops(files, *extra) -> list[str]:
    return ["audit", "--data", files["data"], "--model", files["skops"], *files["trust"], *COMMON, *extra]


def _pdf_text(path) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(path)).pages)


def test_a_skops_pipeline_on_raw_columns_gets_every_section_in_json_and_pdf(files, german):
    js, pdf = files["root"] / "skops.json", files["root"] / "skops.pdf"
    rc = run(_skops(files, "--explain", "kernel_shap", "--explain-rows", "4", "--counterfactual-rows", "8",
                    "--seed", "7", "--json", str(js), "--out", str(pdf), "--chart-engine", "matplotlib"))
    assert rc == EXIT_OK
    res = json.loads(js.read_text())
    (shap,) = res["explanations"]
    assert shap["method"] == "kernel_shap" and shap["rows"] == 4
    assert set(shap["global_importance"]) == set(german.schema.features)  # a category is one feature
    assert {c["check"] for c in shap["quality_checks"]} == {"completeness", "faithfulness"}
    assert ("FAILED" in shap["status"]) == (shap["checks_passed"] is False)
    assert set(shap["by_group"]) == {"sex", "age_band"}
    cf = res["counterfactuals"]
    assert cf["summary"]["queries"] <= 8 and cf["summary"]["k"] == 3 and cf["examples"]
    assert set(cf["recourse_burden"]) | {n["section"].rsplit(" ", 1)[-1] for n in cf["not_run"]} >= {"sex"}
    assert 0 <= res["surrogate"]["fidelity"] <= 1 and res["surrogate"]["rules"]
    manifest = res["parameters"]["explain"]  # sample sizes and the seed, to reproduce the numbers
    assert manifest["seed"] == 7 and manifest["held_out_share"] == TEST_SHARE
    assert manifest["explained"]["kernel_shap"] == {"rows": 4, "seed": 7, "background_rows": 100,
                                                    "quality_checks": ["completeness", "faithfulness"]}
    assert manifest["counterfactuals"]["rejected_rows_searched"] == cf["summary"]["queries"]
    assert manifest["reference_rows"] + manifest["held_out_rows"] == res["data"]["rows"]
    text = _pdf_text(pdf)
    for heading in ("Global importance (SHAP: kernel (model-agnostic), 4 rows)", "Importance by sex",
                    "Quality check: completeness", "Quality check: faithfulness", "Counterfactual examples",
                    "Surrogate decision tree", "parameters.explain.seed 7"):
        assert heading in text, heading
    assert "Recourse burden by sex" in text or "burden by sex not run" in text


def test_an_onnx_network_is_explained_with_gradients_and_the_randomisation_check(files):
    js = files["root"] / "onnx.json"
    rc = run(["audit", "--data", files["data"], "--model", files["onnx"], "--input-columns",
              ",".join(_numeric(files)), *COMMON, "--explain", "integrated_gradients,saliency", "--explain-rows", "20",
              "--counterfactual-rows", "6", "--no-surrogate", "--json", str(js)])
    assert rc == EXIT_OK
    res = json.loads(js.read_text())
    ig, sal = [e for e in res["explanations"] if "method" in e]
    assert (ig["method"], sal["method"]) == ("integrated_gradients", "saliency")
    # the upload's network runs only in its sandboxed worker, and the randomisation check runs there too
    assert {c["check"] for c in ig["quality_checks"]} == {"completeness", "faithfulness", "randomisation"}
    assert {c["check"] for c in sal["quality_checks"]} == {"faithfulness", "randomisation"}
    assert not [e for e in res["explanations"] if "not_run" in e]
    assert res["parameters"]["explain"]["explained"]["integrated_gradients"]["randomisation_rows"] == 20
    for e in (ig, sal):  # a failed check is stated beside the numbers
        failed = [c["check"] for c in e["quality_checks"] if c["passed"] is False]
        assert ("FAILED" in e["status"]) == bool(failed) and e["checks_passed"] is (not failed)
    assert res["counterfactuals"]["summary"]["method"] == "random"  # gradient search would need the network here
    assert "surrogate" not in res and "surrogate" not in res["parameters"]["explain"]


def _numeric(files) -> list[str]:
    import pandas as pd

    return [c for c in ("duration", "credit_amount", "installment_rate", "residence_since", "age",
                        "existing_credits", "people_liable") if c in pd.read_csv(files["data"], nrows=1).columns]


def test_an_unknown_method_exits_2_naming_the_offered_ones(files, capsys):
    assert run(_skops(files, "--explain", "shapley")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert EXPLAIN_UNKNOWN.format(method="shapley", model="logreg.skops", offered="kernel_shap") in err


def test_a_method_not_offered_exits_2_with_the_reason(files, capsys):
    assert run(_skops(files, "--explain", "kernel_shap,integrated_gradients")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    head, tail = EXPLAIN_NOT_OFFERED.split("{why}")
    assert head.format(method="integrated_gradients", label="Integrated gradients", model="logreg.skops") in err
    assert tail.format(offered="kernel_shap") in err
    assert "takes the raw columns and encodes them itself" in err  # the model's own reason, as the page shows it


@pytest.mark.parametrize("extra, message", [
    (["--prediction-column", "credit", "--explain", "kernel_shap"],
     messages.EXPLAIN_NEEDS_MODEL_FILE.format(methods="kernel_shap")),
    (["--prediction-column", "credit", "--no-surrogate"],
     messages.EXPLAIN_OPTION_NEEDS_EXPLAIN.format(option="--no-surrogate")),
    (["--prediction-column", "credit", "--explain-rows", "10"],
     messages.EXPLAIN_OPTION_NEEDS_EXPLAIN.format(option="--explain-rows")),
])
def test_explain_options_without_a_model_or_a_method_exit_2(files, capsys, extra, message):
    assert run(["audit", "--data", files["data"], *COMMON, *extra]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--explain", "kernel_shap,saliency"], messages.DASK_ONE_METHOD.format(methods="kernel_shap,saliency")),
    (["--explain", "kernel_shap", "--no-surrogate"], messages.PANDAS_ONLY_OPTION.format(option="--no-surrogate")),
])
def test_the_dask_engine_explains_with_one_method_and_no_more(files, capsys, extra, message):
    assert run(_skops(files, "--engine", "dask", *extra)) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("dest, value", [("explain_rows", "0"), ("explain_rows", "1e6"),
                                         ("counterfactual_rows", "1"), ("counterfactual_rows", "abc")])
def test_bad_sample_sizes_exit_2_naming_the_option_and_range(files, capsys, dest, value):
    option, allowed = NUMBERS[dest][:2]
    assert run(_skops(files, "--explain", "kernel_shap", option, value)) == EXIT_BAD_INPUT
    assert f"{option} must be {allowed}; received {value!r}." in capsys.readouterr().err
