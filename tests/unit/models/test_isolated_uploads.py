"""Uploaded ONNX and TorchScript models run isolated: vetted before anything loads them, loaded and run in their
own sandboxed worker, every prediction bounded in time (scaled by rows), the engine's process unharmed."""

from __future__ import annotations

import copy
import io
import pickle
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dlxai.errors import ModelTimeoutError, UserInputError
from dlxai.models import remote
from dlxai.models.formats import load_model
from tests.unit.models import exporters

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the worker's sandbox is Linux-only")
ROOT = Path(__file__).resolve().parents[3]
COLUMNS = ["duration", "age"]


def scripted(module) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(module.eval()), buf)
    return buf.getvalue()


class ReadsAFile(nn.Module):
    def forward(self, x):
        leaked = torch.from_file("/etc/hostname", shared=False, size=4, dtype=torch.uint8)
        return x[:, :2] + leaked.sum().float()


class HangsOnBigBatches(nn.Module):
    """Answers the contract check's 256 rows at once and loops forever on any bigger batch."""

    def __init__(self, n_in: int, limit: int = 256):
        super().__init__()
        self.lin = nn.Linear(n_in, 2)
        self.limit = limit

    def forward(self, x):
        y = self.lin(x)
        if x.shape[0] > self.limit:
            while bool((y * 0.0).sum() > -1.0):
                y = y + 0.0
        return y


def test_a_torchscript_reading_files_is_refused_at_load_before_any_worker(german, monkeypatch):
    def no_worker(*a, **k):
        raise AssertionError("a refused file reached a worker")

    monkeypatch.setattr(remote.RemoteModel, "__init__", no_worker)
    with pytest.raises(UserInputError, match=r"'reader.pt' was not loaded: its TorchScript code calls "
                                             r"torch\.from_file .*ReadsAFile\.forward"):
        load_model(scripted(ReadsAFile()), "reader.pt", input_columns=COLUMNS, sample=german.X("test"))


def test_a_model_looping_on_big_batches_hits_the_time_limit_and_the_engine_lives_on(german):
    m = load_model(scripted(HangsOnBigBatches(2)), "loops.pt", input_columns=COLUMNS, sample=german.X("test"),
                   time_budget_s=1.0)
    try:
        assert m.contract.ok and m.params["isolated"]
        X = german.X("test")  # 300 rows: a limit of 1 s per 256 rows gives 1.17 s
        start = time.monotonic()
        with pytest.raises(ModelTimeoutError, match=r"did not finish within 1.17\d* s \(loops.pt on 300 rows; the "
                                                    r"limit is 1 s per 256 rows\)"):
            m.predict_proba(X)
        assert time.monotonic() - start < 10
        small = m.predict_proba(X.head(10))  # a fresh worker, the model loaded again
        assert small.shape == (10,) and np.isfinite(small).all()
    finally:
        m.close()


def test_an_uploaded_onnx_model_predicts_in_its_worker_as_in_process(german):
    raw, name, reference = exporters.torch_onnx_mlp(COLUMNS)
    isolated = load_model(raw, name, input_columns=COLUMNS, sample=german.X("test"))
    local = load_model(raw, name, input_columns=COLUMNS, sample=german.X("test"), isolate=False)
    try:
        assert isolated.estimator.remote is not None and local.estimator.remote is None
        X = german.X("all")
        np.testing.assert_array_equal(isolated.predict_proba(X), local.predict_proba(X))
        np.testing.assert_allclose(isolated.predict_proba(X), reference(X), atol=1e-6)
        child = isolated.estimator.remote.worker._pid
        assert child is not None
        twin = copy.deepcopy(isolated)  # copies (explanations work on copies) share the upload's one worker
        assert twin.estimator.remote is isolated.estimator.remote
        with pytest.raises(UserInputError, match="runs in a worker process that this copy of the model does not have"):
            pickle.loads(pickle.dumps(isolated.estimator)).predict_proba(np.zeros((2, 2), np.float32))
    finally:
        isolated.close()
        local.close()
    assert isolated.estimator.remote.worker._pid is None  # closed: stopped, not abandoned


def test_a_raw_columns_onnx_model_is_fed_by_name_in_its_worker(german):
    raw, name, reference = exporters.skl2onnx_pipeline(german)
    isolated = load_model(raw, name, sample=german.X("test"), reference=german.X("train"))
    local = load_model(raw, name, sample=german.X("test"), reference=german.X("train"), isolate=False)
    try:
        X = german.X("test")
        np.testing.assert_array_equal(isolated.predict_proba(X), local.predict_proba(X))
        np.testing.assert_allclose(isolated.predict_proba(X), reference(X), atol=1e-6)
    finally:
        isolated.close()


def test_the_cli_audit_of_a_hanging_model_exits_2_within_its_budget(tmp_path, german):
    model = tmp_path / "hang.pt"
    model.write_bytes(scripted(HangsOnBigBatches(2, limit=0)))  # loops on every batch
    data = tmp_path / "test.csv"
    german.test.to_csv(data, index=False)
    budget = 2.0
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "dlxai", "audit", "--data", str(data), "--target", "credit", "--sensitive", "sex",
         "--model", str(model), "--input-columns", ",".join(COLUMNS), "--model-time-budget", str(budget),
         "--n-bootstrap", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    assert "longer than the time budget of 2 s on 256 rows" in proc.stderr, proc.stderr
    # the start (python, torch, the worker's zygote) takes a few seconds on a busy machine; the model only `budget`
    loading = next(float(line.split("s]")[0].split()[-1]) for line in proc.stderr.splitlines() if "Loading model" in line)
    assert elapsed - loading < budget + 30, (elapsed, loading)

