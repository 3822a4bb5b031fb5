"""``python -m dlxai audit --images``: exit codes, the JSON, the PDF, and bad input named on stderr."""

from __future__ import annotations

import json

import pytest

from dlxai.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATED, run
from dlxai.data.imagesets import IMAGES_MISSING_FILES
from tests.image_makers import SPEC, onnx_bytes, resnet, safetensors_bytes, write_images


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    root, labels = write_images(base / "imgs", n=18)
    net = resnet(3)
    (base / "r18.safetensors").write_bytes(safetensors_bytes(net))
    (base / "spec.json").write_text(json.dumps(SPEC))
    (base / "prep.json").write_text(json.dumps({"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}))
    return base, root, labels


def _run(files, *extra):
    base, root, labels = files
    return run(["audit", "--images", str(root), "--labels", str(labels), "--model", str(base / "r18.safetensors"),
                "--model-spec", str(base / "spec.json"), "--preprocess", str(base / "prep.json"), "--sensitive", "site",
                "--n-bootstrap", "50", "--min-group-size", "5", "--quiet", "--model-time-budget", "120", *extra])


def test_end_to_end_writes_json_and_pdf(files, tmp_path):
    out, pdf = tmp_path / "r.json", tmp_path / "r.pdf"
    rc = _run(files, "--favourable-class", "fox", "--json", str(out), "--out", str(pdf), "--chart-engine",
              "matplotlib")
    assert rc == EXIT_OK
    res = json.loads(out.read_text())
    assert res["parameters"]["mode"] == "images" and res["data"]["positive_label"] == "fox"
    assert set(res["fairness"]) == {"site"} and res["data"]["rows"] == 18
    assert res["parameters"]["preprocess"]["mean"] == [0.5, 0.5, 0.5]
    assert set(res["performance_details"][0]["per_class"]) == {"cat", "dog", "fox"}
    assert pdf.read_bytes().startswith(b"%PDF") and res["report"]["pages"] >= 5


def test_fail_on_rule_exits_1(files, tmp_path):
    assert _run(files, "--fail-on", "demographic_parity_difference>=0", "--json", str(tmp_path / "j.json")) \
        == EXIT_VIOLATED


def test_labels_naming_missing_files_exit_2_with_the_name(files, tmp_path, capsys):
    base, root, labels = files
    bad = tmp_path / "bad.csv"
    bad.write_text(labels.read_text() + "nowhere.png,cat,north,I-II\n")
    rc = run(["audit", "--images", str(root), "--labels", str(bad), "--model", str(base / "r18.safetensors"),
              "--model-spec", str(base / "spec.json"), "--sensitive", "site", "--quiet"])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT and "nowhere.png" in err and IMAGES_MISSING_FILES.split("{")[0] in err


def test_model_with_the_wrong_output_width_exit_2(files, tmp_path, capsys):
    base, root, labels = files
    (tmp_path / "four.onnx").write_bytes(onnx_bytes(resnet(4)))
    rc = run(["audit", "--images", str(root), "--labels", str(labels), "--model", str(tmp_path / "four.onnx"),
              "--sensitive", "site", "--quiet", "--model-time-budget", "60"])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT and "'four.onnx' returns 4 score(s) per image, but the labels have 3 classes" in err


def test_images_with_data_or_without_model_exit_2(files, capsys):
    base, root, labels = files
    assert run(["audit", "--images", str(root), "--data", "x.csv", "--sensitive", "site", "--quiet"]) == EXIT_BAD_INPUT
    assert run(["audit", "--images", str(root), "--sensitive", "site", "--quiet"]) == EXIT_BAD_INPUT
    assert "needs the image classifier" in capsys.readouterr().err
    assert run(["audit", "--sensitive", "site", "--quiet"]) == EXIT_BAD_INPUT
    assert "--images DIR|ZIP" in capsys.readouterr().err
