"""The dlxai-model-spec is a documented format: a JSON Schema checked on every upload, and written for a fitted
pipeline (``python -m dlxai spec``), so nobody has to read the source to write one."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from dlxai.cli import EXIT_BAD_INPUT, EXIT_OK, run
from dlxai.errors import UserInputError
from dlxai.models.export import export_safetensors
from dlxai.models.formats import load_model, parse_spec, skops_untrusted_types
from dlxai.models.spec import SCHEMA_PATH, schema, spec_for_estimator
from tests.unit.models import exporters


def test_the_schema_is_a_valid_json_schema_and_dlxai_exports_follow_it(german):
    from dlxai.models import train_model

    jsonschema.Draft202012Validator.check_schema(schema())
    assert json.loads(SCHEMA_PATH.read_text())["title"] == "dlxai-model-spec"
    for kind in ("logreg", "mlp"):
        model = train_model(german, kind, seed=0, **({"max_epochs": 1, "hidden_layer_sizes": (4,)}
                                                      if kind == "mlp" else {}))
        spec = parse_spec(export_safetensors(model)[1])
        assert spec["preprocessing"]["kind"] == "standard"


@pytest.mark.parametrize("spec,where", [
    ({"preprocessing": {"kind": "raw"}}, r"at preprocessing: 'columns' is a required property"),
    ({"preprocessing": {"kind": "columns", "columns": []}}, r"at preprocessing.columns: \[\] should be non-empty"),
    ({"output": "scores"}, r"at output: 'scores' is not one of"),
    ({"architecture": {"kind": "mlp", "n_inputs": "61"}}, r"at architecture.n_inputs: '61' is not of type 'integer'"),
    ({"preprocessing": {"kind": "raw", "columns": ["a"], "input_types": {"a": "float"}}},
     r"at preprocessing.input_types.a: 'float' does not match"),
])
def test_a_spec_that_breaks_the_schema_says_where(spec, where):
    with pytest.raises(UserInputError, match=r"The model spec is invalid: " + where):
        parse_spec(spec)


@pytest.fixture(scope="module")
def pipeline(german):
    return exporters.sklearn_pipeline(german, "logreg")


def test_spec_for_a_fitted_pipeline_and_its_column_transformer(german, pipeline):
    spec = spec_for_estimator(pipeline, name="credit pipeline")
    prep = spec["preprocessing"]
    assert spec["format"] == "dlxai-model-spec" and spec["output"] == "probabilities"
    assert prep["kind"] == "raw" and prep["columns"] == list(pipeline.feature_names_in_)
    assert prep["numeric"] == list(german.schema.numeric) and prep["categorical"] == list(german.schema.categorical)
    encoder = pipeline[0].named_transformers_["cat"][-1]
    assert prep["categories"][0] == [str(v) for v in encoder.categories_[0]]
    assert "medians" not in prep  # not known without training rows
    with_data = spec_for_estimator(pipeline[0], german.X("train"))  # the ColumnTransformer alone, with data
    assert with_data["preprocessing"]["medians"][0] == float(german.X("train")["duration"].median())
    with pytest.raises(UserInputError, match="fitted on a matrix without column names"):
        from sklearn.linear_model import LogisticRegression

        spec_for_estimator(LogisticRegression().fit(np.eye(4), [0, 1, 0, 1]))


def test_the_written_spec_is_the_contract_of_the_onnx_conversion(german, pipeline):
    """A raw spec from the pipeline, given with skl2onnx's file of the same pipeline: the contract comes from the spec."""
    raw, name, reference = exporters.skl2onnx_pipeline(german)
    spec = spec_for_estimator(pipeline, german.X("train"))
    m = load_model(raw, name, spec=spec, sample=german.X("test"))
    try:
        assert m.contract_kind == "raw" and m.contract.contract.startswith("raw columns (as the spec declares)")
        np.testing.assert_allclose(m.predict_proba(german.X("test")), reference(german.X("test")), atol=1e-6)
    finally:
        m.close()


def test_python_m_dlxai_spec_writes_one(tmp_path, german):
    raw, name, _ = exporters.skops_pipeline(german, "hgb")
    path = tmp_path / name
    path.write_bytes(raw)
    out = tmp_path / "spec.json"
    trust = [a for t in skops_untrusted_types(raw) for a in ("--trust", t)]
    assert run(["spec", "--model", str(path), "--out", str(out), "--quiet", *trust]) == EXIT_OK
    spec = parse_spec(out.read_text())
    assert spec["preprocessing"]["columns"] == list(german.schema.features) and spec["name"] == name
    assert run(["spec", "--model", str(path), "--out", str(tmp_path / "no.json"), "--quiet"]) == EXIT_BAD_INPUT


def test_python_m_dlxai_spec_of_an_onnx_file_with_data(tmp_path, german, capsys):
    raw, name, _ = exporters.skl2onnx_pipeline(german)
    (tmp_path / name).write_bytes(raw)
    data = tmp_path / "train.csv"
    german.train.to_csv(data, index=False)
    assert run(["spec", "--model", str(tmp_path / name), "--quiet"]) == EXIT_BAD_INPUT
    assert "pass --data" in capsys.readouterr().err
    assert run(["spec", "--model", str(tmp_path / name), "--data", str(data), "--quiet"]) == EXIT_OK
    spec = json.loads(capsys.readouterr().out)
    assert spec["preprocessing"]["input_types"]["status"] == "tensor(string)"
    assert spec["preprocessing"]["input_types"]["duration"] == "tensor(float)"
