"""The headless audit: exit codes 0/1/2, the JSON layout, a predictions-only audit from a CSV."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlxai.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATED, run
from dlxai.fairness import audit_fairness
from dlxai.report import default_positive_label, messages

ROOT = Path(__file__).resolve().parents[2]
SUMMARY_KEYS = ("demographic_parity_difference", "equalized_odds_difference", "demographic_parity_ratio",
                "equalized_odds_ratio")
GROUP_KEYS = ("count", "selection_rate", "tpr", "fpr")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame({
        "sex": rng.choice(["F", "M"], n),
        "race": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
        "y": rng.choice(["no", "yes"], n),
    })
    df["score"] = np.clip(rng.random(n) * 0.6 + (df["sex"] == "M") * 0.3, 0, 1).round(4)
    df["pred"] = (df["score"] >= 0.5).astype(int)
    df["label_pred"] = np.where(df["pred"] == 1, "yes", "no")
    return df


@pytest.fixture()
def csv(tmp_path, table) -> str:
    path = tmp_path / "preds.csv"
    table.to_csv(path, index=False)
    return str(path)


def _audit(csv, tmp_path, *extra) -> tuple[int, dict]:
    out = tmp_path / "r.json"
    rc = run(["audit", "--data", csv, "--target", "y", "--sensitive", "sex", "--sensitive", "race", "--json",
              str(out), "--quiet", "--n-bootstrap", "200", *extra])
    return rc, (json.loads(out.read_text()) if out.exists() else {})


def test_predictions_only_audit_from_csv_equals_the_engine(csv, tmp_path, table):
    rc, res = _audit(csv, tmp_path, "--prediction-column", "pred")
    assert rc == EXIT_OK
    y = (table["y"] == "yes").astype(int).to_numpy()
    for attr in ("sex", "race"):
        ref = audit_fairness(y, table["pred"].to_numpy(), table[attr], n_bootstrap=200, seed=0)
        got = res["fairness"][attr]
        for k in SUMMARY_KEYS:
            assert got[k] == pytest.approx(ref.summary[k], abs=1e-12)
        for g, row in ref.by_group.iterrows():
            assert got["by_group"][g]["count"] == int((table[attr] == g).sum()) == row["count"]
            for k in GROUP_KEYS[1:]:
                assert got["by_group"][g][k] == pytest.approx(row[k], abs=1e-12)
    # hand count: selection rate of women = mean decision among women
    assert res["fairness"]["sex"]["by_group"]["F"]["selection_rate"] == pytest.approx(
        table.loc[table.sex == "F", "pred"].mean())
    assert res["data"]["positive_label"] == "yes" and res["data"]["rows"] == len(table)
    assert res["passed"] is True and res["checks"] == []


def test_json_layout_is_stable(csv, tmp_path):
    rc, res = _audit(csv, tmp_path, "--prediction-column", "pred", "--fail-on", "demographic_parity_ratio<0.01")
    assert rc == EXIT_OK
    assert list(res) == ["dlxai_version", "passed", "threshold", "data", "model", "performance", "fairness", "checks",
                         "parameters"]
    assert list(res["fairness"]) == ["sex", "race"]
    for attr, block in res["fairness"].items():
        for k in SUMMARY_KEYS:
            assert isinstance(block[k], float), (attr, k)
        assert set(block["by_group"]) == set(res["data"]["group_sizes"][attr])
        for _g, row in block["by_group"].items():
            assert set(GROUP_KEYS) <= set(row)
            assert isinstance(row["count"], int)
    assert res["checks"][0] == {"rule": "demographic_parity_ratio<0.01", "metric": "demographic_parity_ratio",
                                "attribute": "sex", "value": res["fairness"]["sex"]["demographic_parity_ratio"],
                                "violated": False}


def test_fail_on_violated_exits_1_and_says_which(csv, tmp_path, capsys):
    rc, res = _audit(csv, tmp_path, "--prediction-column", "pred", "--fail-on", "demographic_parity_difference>0.1",
                     "--fail-on", "accuracy<0.01")
    assert rc == EXIT_VIOLATED
    assert res["passed"] is False
    failed = {(c["rule"], c["attribute"]) for c in res["checks"] if c["violated"]}
    assert ("demographic_parity_difference>0.1", "sex") in failed
    assert not any(c["violated"] for c in res["checks"] if c["metric"] == "accuracy")
    assert "FAIL demographic_parity_difference>0.1 by sex" in capsys.readouterr().err


def test_score_column_with_threshold(csv, tmp_path, table):
    rc, res = _audit(csv, tmp_path, "--score-column", "score", "--threshold", "0.7")
    assert rc == EXIT_OK
    sel = (table.loc[table.sex == "M", "score"] >= 0.7).mean()
    assert res["fairness"]["sex"]["by_group"]["M"]["selection_rate"] == pytest.approx(sel)
    assert res["threshold"] == 0.7 and res["performance"]["roc_auc"] is not None


def test_label_valued_predictions_and_explicit_positive_label(csv, tmp_path, table):
    rc, res = _audit(csv, tmp_path, "--prediction-column", "label_pred")
    rc2, res2 = _audit(csv, tmp_path, "--prediction-column", "pred", "--positive-label", "yes")
    assert rc == rc2 == EXIT_OK
    assert res["fairness"]["race"]["by_group"] == res2["fairness"]["race"]["by_group"]


@pytest.mark.parametrize("extra, message", [
    (["--prediction-column", "pred", "--fail-on", "demographic_parity_difference>>0.1"], "Cannot read the threshold rule"),
    (["--prediction-column", "pred", "--fail-on", "dp_diff>0.1"], "Unknown metric 'dp_diff'"),
    (["--prediction-column", "pred", "--fail-on", "demographic_parity_difference>abc"], "Cannot read the threshold rule"),
    (["--prediction-column", "nope"], "Column 'nope' is not in the data"),
    (["--score-column", "score"], "needs a decision threshold"),
    (["--score-column", "score", "--threshold", "nan"], "--threshold must be a finite number; received 'nan'"),
    (["--score-column", "label_pred", "--threshold", "0.5"], "The score column 'label_pred' must hold numbers"),
    (["--prediction-column", "pred", "--threshold", "0.5"], "applies to a score column only"),
    (["--prediction-column", "pred", "--score-direction", "lower"], "--score-direction applies to --score-column only"),
    ([], "Give exactly one source of decisions"),
    (["--prediction-column", "score"], "must hold only 0 and 1"),
    (["--prediction-column", "pred", "--positive-label", "maybe"], "does not occur in 'y'"),
])
def test_bad_input_exits_2_with_the_message_on_stderr(csv, tmp_path, capsys, extra, message):
    rc, res = _audit(csv, tmp_path, *extra)
    assert rc == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert res == {}  # nothing written on bad input


def test_bad_files_exit_2(tmp_path, capsys, table):
    assert run(["audit", "--data", str(tmp_path / "missing.csv"), "--target", "y", "--sensitive", "sex",
                "--prediction-column", "pred", "--quiet"]) == EXIT_BAD_INPUT
    assert messages.MISSING_FILE.format(path=str(tmp_path / "missing.csv")) in capsys.readouterr().err
    three = table.assign(y=np.resize(["a", "b", "c"], len(table)))
    p = tmp_path / "three.csv"
    three.to_csv(p, index=False)
    assert run(["audit", "--data", str(p), "--target", "y", "--sensitive", "sex", "--prediction-column", "pred",
                "--quiet"]) == EXIT_BAD_INPUT
    assert "must have exactly two classes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: a missing required option
        run(["audit", "--target", "y"])
    assert exc.value.code == EXIT_BAD_INPUT


def test_parquet_input(tmp_path, table):
    p = tmp_path / "preds.parquet"
    table.to_parquet(p)
    rc = run(["audit", "--data", str(p), "--target", "y", "--sensitive", "sex", "--prediction-column", "pred",
              "--quiet", "--n-bootstrap", "0"])
    assert rc == EXIT_OK


@pytest.mark.parametrize("values, expected", [
    ([0, 1], 1), (["no", "yes"], "yes"), (["<=50K", ">50K"], ">50K"), (["good", "bad"], "good"),
    ([False, True], True), (["approved", "rejected"], "approved"), (["b", "a"], "b"), ([2, 5], 5),
])
def test_default_positive_label(values, expected):
    assert default_positive_label(values) == expected


def test_python_dash_m_dlxai_runs_and_writes_json_to_stdout(csv):
    proc = subprocess.run(
        [sys.executable, "-m", "dlxai", "audit", "--data", csv, "--target", "y", "--sensitive", "sex",
         "--prediction-column", "pred", "--json", "-", "--n-bootstrap", "100",
         "--fail-on", "demographic_parity_difference>0.1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == EXIT_VIOLATED, proc.stderr
    res = json.loads(proc.stdout)  # stdout holds only the JSON; progress went to stderr
    assert res["fairness"]["sex"]["demographic_parity_difference"] > 0.1
    assert "Fairness by sex" in proc.stderr


def test_demo_writes_a_full_report_and_json_offline(tmp_path):
    from pypdf import PdfReader

    pdf, js = tmp_path / "demo.pdf", tmp_path / "demo.json"
    rc = run(["demo", "--dataset", "german", "--epochs", "2", "--out", str(pdf), "--json", str(js), "--quiet",
              "--n-bootstrap", "100", "--chart-engine", "matplotlib", "--fail-on", "demographic_parity_ratio<0",
              "--explain", "20"])
    assert rc == EXIT_OK
    res = json.loads(js.read_text())
    assert list(res["fairness"]) == ["sex", "age_band"]
    assert res["model"]["kind"] == "mlp" and res["model"]["sha256"] == res["parameters"]["model_sha256"]
    reader = PdfReader(str(pdf))
    assert res["report"]["pages"] == len(reader.pages) >= 8
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Reproducibility manifest" in text and res["data"]["sha256"] in text.replace("\n", "")
    assert "Global importance (Integrated gradients, 20 rows)" in text and "Quality check: completeness" in text


def test_audit_of_a_safetensors_model_file_equals_the_models_own_decisions(tmp_path, german, german_mlp):
    from dlxai.models.export import export_safetensors

    weights, spec = export_safetensors(german_mlp)
    (tmp_path / "m.safetensors").write_bytes(weights)
    (tmp_path / "m.json").write_bytes(spec)
    data = tmp_path / "test.csv"
    german.test.to_csv(data, index=False)
    out = tmp_path / "r.json"
    rc = run(["audit", "--data", str(data), "--target", "credit", "--positive-label", "good", "--sensitive", "sex",
              "--model", str(tmp_path / "m.safetensors"), "--model-spec", str(tmp_path / "m.json"),
              "--threshold", "0.5", "--json", str(out), "--quiet", "--n-bootstrap", "0"])
    assert rc == EXIT_OK
    res = json.loads(out.read_text())
    pred = german_mlp.predict(german.X("test"))
    ref = audit_fairness(german.y("test"), pred, german.test["sex"], n_bootstrap=0)
    assert res["fairness"]["sex"]["demographic_parity_difference"] == pytest.approx(
        ref.summary["demographic_parity_difference"], abs=1e-9)
    assert res["model"]["decisions_from"] == "model probabilities >= 0.5"


def test_a_pickle_model_file_is_refused_with_exit_2(tmp_path, csv, capsys):
    import pickle

    bad = tmp_path / "m.pkl"
    bad.write_bytes(pickle.dumps({"not": "a model"}))
    rc = run(["audit", "--data", csv, "--target", "y", "--sensitive", "sex", "--model", str(bad),
              "--input-columns", "score", "--quiet"])
    assert rc == EXIT_BAD_INPUT
    assert "pickle" in capsys.readouterr().err.lower()
