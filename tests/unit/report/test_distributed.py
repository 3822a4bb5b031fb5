"""The audit on Dask over partitioned files equals the single-process audit of the same rows, number for number."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster  # noqa: E402

from dlxai.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATED, run  # noqa: E402
from dlxai.errors import UserInputError  # noqa: E402
from dlxai.fairness import audit_fairness  # noqa: E402
from dlxai.report import audit_predictions, messages  # noqa: E402
from dlxai.report import partitions as parts  # noqa: E402
from dlxai.report.distributed import audit_partitions, list_partitions  # noqa: E402

TOL = 1e-12
# what may differ: the engine's own parameters, and the data's name, source and fingerprint (a hash of the files'
# bytes, not of the parsed frame)
ENGINE_ONLY = {"parameters/engine", "parameters/partitions", "parameters/scheduler", "parameters/roc_auc"}
TEXT_MAY_DIFFER = {"data/sha256", "parameters/data_sha256", "data/name", "data/source", "model/source"}


def numbers_diff(single: dict, dask: dict, path: str = "") -> float:
    """Largest |difference| over every number of two JSON trees; any other difference fails the test."""
    if isinstance(single, dict):
        keys = set(single) | set(dask)
        extra = {f"{path}{k}" for k in keys - (set(single) & set(dask))}
        assert extra <= ENGINE_ONLY, f"keys in one JSON only: {sorted(extra - ENGINE_ONLY)}"
        return max([numbers_diff(single[k], dask[k], f"{path}{k}/") for k in set(single) & set(dask)], default=0.0)
    if isinstance(single, list):
        assert isinstance(dask, list) and len(single) == len(dask), path
        return max([numbers_diff(a, b, path) for a, b in zip(single, dask)], default=0.0)
    if isinstance(single, (int, float)) and not isinstance(single, bool) and single is not None:
        assert isinstance(dask, (int, float)) and not isinstance(dask, bool), (path, single, dask)
        return abs(float(single) - float(dask))
    if path.rstrip("/") not in TEXT_MAY_DIFFER:
        assert single == dask, (path, single, dask)
    return 0.0


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as c:
        yield c


def _table(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "sex": rng.choice(["F", "M"], n),
        "race": rng.choice(["a", "b", "c", None], n, p=[0.55, 0.3, 0.1, 0.05]),
        "band": pd.Categorical(rng.choice(["young", "mid", "old"], n), categories=["young", "mid", "old"]),
        "y": rng.choice(["no", "yes"], n),
    })
    df["score"] = np.clip(rng.random(n) * 0.6 + (df["sex"] == "M") * 0.3, 0, 1).round(3)
    df["fine"] = rng.random(n)  # a distinct value per row
    df["pred"] = (df["score"] >= 0.5).astype(int)
    df["label_pred"] = np.where(df["pred"] == 1, "yes", "no")
    return df


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("decisions")
    frames = [_table(i, n) for i, n in enumerate((900, 1300, 700, 1100))]
    for i, f in enumerate(frames):
        f.to_parquet(root / f"part-{i}.parquet", index=False)
    return root, pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("source", [
    {"prediction_column": "pred"},
    {"prediction_column": "label_pred"},
    {"score_column": "score", "threshold": 0.5},
    {"score_column": "fine", "threshold": 0.3},
])
def test_equals_the_single_process_audit(client, dataset, source):
    root, full = dataset
    kw = dict(target="y", sensitive=["sex", "race", "band"], n_bootstrap=300, seed=3,
              rules=["demographic_parity_difference>0.05", "roc_auc<0.9"], **source)
    single = audit_predictions(full, **kw).to_dict()
    dask = audit_partitions(str(root), scheduler=client, batch_rows=500, **kw).to_dict()
    assert numbers_diff(single, dask) <= TOL
    assert dask["parameters"]["partitions"] == 4 and dask["parameters"]["roc_auc"]["method"] == "exact"
    assert list(dask["fairness"]["band"]["by_group"]) == ["young", "mid", "old"]  # category order, as group_codes


def test_an_intersection_equals_audit_fairness_on_the_pair(client, dataset):
    root, full = dataset
    bundle = audit_partitions(str(root), target="y", sensitive=["sex", "race"], prediction_column="pred",
                              intersections=[("sex", "race")], n_bootstrap=100, scheduler=client)
    y = (full["y"] == "yes").astype(int)
    ref = audit_fairness(y, full["pred"], full[["sex", "race"]], n_bootstrap=100)
    assert numbers_diff(ref.to_dict(), bundle.fairness["sex & race"].to_dict()) == 0.0


def test_globs_lists_and_hive_folders_name_the_same_rows(client, dataset, tmp_path):
    root, full = dataset
    files = sorted(str(p) for p in root.glob("*.parquet"))
    assert list_partitions(str(root / "*.parquet")) == files == list_partitions(files)
    for sex, rows in full.groupby("sex"):  # region=EU/part.parquet layouts: the column lives in the folder name
        (tmp_path / f"sex={sex}").mkdir()
        rows.drop(columns="sex").to_parquet(tmp_path / f"sex={sex}" / "part.parquet", index=False)
    kw = dict(target="y", sensitive=["sex"], prediction_column="pred", n_bootstrap=50)
    hive = audit_partitions(str(tmp_path), scheduler=client, **kw).to_dict()
    assert hive["fairness"] == audit_predictions(full, **kw).to_dict()["fairness"]


def test_binned_roc_auc_stays_within_its_stated_bound(client, dataset, monkeypatch):
    from dlxai import performance

    monkeypatch.setattr(performance, "AUC_EXACT_MAX_VALUES", 50)  # workers are threads here: they see it too
    root, full = dataset
    kw = dict(target="y", sensitive=["sex"], score_column="fine", threshold=0.5, n_bootstrap=0)
    dask = audit_partitions(str(root), scheduler=client, **kw)
    exact = audit_predictions(full, **kw).performance.roc_auc
    assert dask.params["roc_auc"]["method"] == "binned"
    assert abs(dask.performance.roc_auc - exact) <= dask.params["roc_auc"]["max_error"] < 1e-3


@pytest.fixture(scope="module")
def model_files(german, tmp_path_factory):
    """A small MLP trained in-app, exported with dlxai's own export, and German credit's test rows."""
    from dlxai.models import train_model
    from dlxai.models.export import export_safetensors

    tmp_path = tmp_path_factory.mktemp("model")
    weights, spec = export_safetensors(train_model(german, "mlp", seed=0, max_epochs=5))
    (tmp_path / "m.safetensors").write_bytes(weights)
    (tmp_path / "m.json").write_bytes(spec)
    test = german.test.reset_index(drop=True)
    test.to_parquet(tmp_path / "all.parquet", index=False)
    (tmp_path / "parts").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(test)), 3)):
        test.iloc[rows].to_parquet(tmp_path / "parts" / f"p{i}.parquet", index=False)
    return tmp_path, weights, spec


def test_a_model_file_on_the_workers_equals_the_single_process_model_audit(client, model_files):
    tmp_path, weights, spec = model_files
    out = tmp_path / "single.json"
    rc = run(["audit", "--data", str(tmp_path / "all.parquet"), "--target", "credit", "--positive-label", "good",
              "--sensitive", "sex", "--sensitive", "age_band", "--model", str(tmp_path / "m.safetensors"),
              "--model-spec", str(tmp_path / "m.json"), "--threshold", "0.4", "--json", str(out), "--quiet",
              "--n-bootstrap", "200"])
    assert rc == EXIT_OK
    parts._MODELS.clear()
    dask = audit_partitions(str(tmp_path / "parts"), target="credit", positive_label="good",
                            sensitive=["sex", "age_band"], model=str(tmp_path / "m.safetensors"),
                            model_spec=json.loads(spec), threshold=0.4, n_bootstrap=200, scheduler=client)
    single = json.loads(out.read_text())
    assert numbers_diff(single, dask.to_dict()) <= TOL
    assert list(parts._MODELS) == [hashlib.sha256(weights).hexdigest()]  # loaded once per worker process


def test_explanations_of_a_stratified_sample_across_partitions(client, model_files, german):
    from dlxai.explain.attribution import AttributionResult

    tmp_path, _, spec = model_files
    kw = dict(target="credit", positive_label="good", sensitive=["sex", "age_band"],
              model=str(tmp_path / "m.safetensors"), model_spec=json.loads(spec), n_bootstrap=0, scheduler=client,
              explain_rows=120, explain_seed=5)
    one = audit_partitions(str(tmp_path / "parts"), **kw)
    again = audit_partitions(str(tmp_path / "parts"), batch_rows=37, **kw)  # other batches, same sample
    result = one.explanations[0]
    assert isinstance(result, AttributionResult) and result.n == 120
    np.testing.assert_array_equal(result.values, again.explanations[0].values)
    manifest = one.params["explanations"]
    assert manifest["sample_rows"] == 120 and manifest["seed"] == 5
    sizes = german.test["sex"].value_counts()
    for group, n in manifest["rows_per_group"]["sex"].items():  # proportional allocation, up to rounding
        assert abs(n - 120 * sizes[group] / len(german.test)) <= 4
    assert set(one.extras["explanation_groups"]["age_band"].index) == set(german.test["age_band"].astype(str))


def _broken(root, tmp_path, change) -> str:
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in sorted(root.glob("*.parquet")):
        df = pd.read_parquet(p)
        (change(df) if p.name == "part-2.parquet" else df).to_parquet(bad / p.name, index=False)
    return str(bad)


@pytest.mark.parametrize("change, says", [
    (lambda df: df.drop(columns="score"), "'score' is not in the data"),
    (lambda df: df.assign(score="high"), "must hold numbers"),
])
def test_a_bad_partition_stops_the_cli_with_exit_2_naming_the_file(client, dataset, tmp_path, capsys, change, says):
    bad = _broken(dataset[0], tmp_path, change)
    rc = run(["audit", "--engine", "dask", "--scheduler", client.scheduler.address, "--data", bad, "--target", "y",
              "--sensitive", "sex", "--score-column", "score", "--threshold", "0.5", "--quiet"])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT
    assert "part-2.parquet" in err and says in err


def test_a_failing_task_is_retried_then_reported_by_name(client, dataset, monkeypatch):
    calls = []
    real = parts.file_sha256

    def flaky(path):
        if path.endswith("part-1.parquet"):
            calls.append(path)
            raise OSError("disk went away")
        return real(path)

    monkeypatch.setattr(parts, "file_sha256", flaky)
    with pytest.raises(OSError) as info:
        audit_partitions(str(dataset[0]), target="y", sensitive=["sex"], prediction_column="pred", n_bootstrap=0,
                         scheduler=client)
    assert len(calls) == 3  # the first try and Dask's two retries
    assert any("part-1.parquet" in note for note in getattr(info.value, "__notes__", []))


def test_input_errors_before_any_work(client, dataset, tmp_path, capsys):
    root, _ = dataset
    with pytest.raises(UserInputError, match="No Parquet or CSV files"):
        audit_partitions(str(tmp_path), target="y", sensitive=["sex"], prediction_column="pred", scheduler=client)
    with pytest.raises(UserInputError, match="exactly one source"):
        audit_partitions(str(root), target="y", sensitive=["sex"], scheduler=client)
    with pytest.raises(UserInputError, match="need a model"):
        audit_partitions(str(root), target="y", sensitive=["sex"], prediction_column="pred", explain_rows=10,
                         scheduler=client)
    rc = run(["audit", "--data", str(root), "--target", "y", "--sensitive", "sex", "--prediction-column", "pred",
              "--quiet"])
    assert rc == EXIT_BAD_INPUT  # a folder needs --engine dask
    assert messages.ONE_FILE_ENGINE.format(data=str(root)) in capsys.readouterr().err


def test_cli_engine_dask_on_its_own_local_cluster_equals_the_pandas_engine(dataset, tmp_path, capsys):
    root, full = dataset
    one = tmp_path / "all.csv"
    full.to_csv(one, index=False)
    (tmp_path / "csv").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(full)), 2)):
        full.iloc[rows].to_csv(tmp_path / "csv" / f"p{i}.csv", index=False)
    args = ["--target", "y", "--sensitive", "sex", "--sensitive", "race", "--score-column", "score", "--threshold",
            "0.5", "--n-bootstrap", "200", "--fail-on", "demographic_parity_difference>0.5"]
    assert run(["audit", "--data", str(one), "--json", str(tmp_path / "p.json"), "--quiet", *args]) == EXIT_VIOLATED
    rc = run(["audit", "--engine", "dask", "--workers", "1", "--data", *sorted(map(str, (tmp_path / "csv").iterdir())),
              "--json", str(tmp_path / "d.json"), *args])
    assert rc == EXIT_VIOLATED  # the same checks fail the same way
    err = capsys.readouterr().err
    assert "Partitions 2/2 done" in err and "rows/s" in err
    single, dask = (json.loads((tmp_path / f).read_text()) for f in ("p.json", "d.json"))
    assert numbers_diff(single, dask) <= TOL


def test_the_target_as_a_sensitive_attribute_is_one_rule_with_one_message(client, dataset):
    """The single-process and the distributed audit refuse it through the same validator, word for word."""
    from dlxai import errors

    root, frame = dataset
    with pytest.raises(UserInputError) as distributed:
        audit_partitions(str(root), target="y", sensitive=["sex", "y"], prediction_column="pred", scheduler=client)
    with pytest.raises(UserInputError) as single:
        audit_predictions(frame, target="y", sensitive=["sex", "y"], prediction_column="pred")
    assert str(distributed.value) == str(single.value) == errors.TARGET_IS_SENSITIVE.format(target="y")
