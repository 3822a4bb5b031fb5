"""The job runner (ui/jobs.py): results and errors come back, progress arrives, a cancelled job's process is
gone within 2 s, and jobs beyond the bound wait for a slot."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from dlxai.errors import UserInputError
from ui import jobs


@pytest.fixture(autouse=True)
def _process_mode(monkeypatch):
    monkeypatch.setenv(jobs.MODE_ENV, "process")  # the default; these tests are about the process mode


def add(a, b, *, scale=1):
    return (a + b) * scale


def sleepy(progress=None):
    """Reports its pid, then sleeps in a loop until killed."""
    progress(os.getpid())
    while True:
        time.sleep(0.05)


def counts(n, progress=None):
    for i in range(n):
        progress(i, f"step {i}")
    return n


def fails():
    raise UserInputError("bad input in the job")


def torch_threads():
    import torch

    return torch.get_num_threads()


def test_result_and_keyword_arguments_come_back():
    assert jobs.run(add, 2, 3, scale=10, label="Adding") == 50


def test_progress_arrives_in_order_before_the_result():
    seen = []
    assert jobs.run(counts, 4, progress=lambda i, msg: seen.append((i, msg))) == 4
    assert seen == [(i, f"step {i}") for i in range(4)]


def test_the_jobs_own_error_is_raised_with_its_class_and_message():
    with pytest.raises(UserInputError, match="bad input in the job") as info:
        jobs.run(fails, label="Failing")
    assert any("In the job process (Failing)" in note for note in info.value.__notes__)


def test_threads_are_bounded_by_the_request():
    assert jobs.run(torch_threads, threads=1) == 1


def test_a_cancelled_job_ends_within_two_seconds_and_its_process_is_gone():
    cancel = threading.Event()
    pids, stopped = [], {}

    def on_progress(pid):
        pids.append(pid)
        threading.Timer(0.5, lambda: (stopped.setdefault("at", time.monotonic()), cancel.set())).start()

    with pytest.raises(jobs.Cancelled):
        jobs.run(sleepy, progress=on_progress, cancel=cancel, label="Sleeping")
    assert time.monotonic() - stopped["at"] < 2.0
    assert pids
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
    assert jobs.SLOTS.running == 0


def test_a_job_beyond_the_bound_waits_for_a_slot(monkeypatch):
    monkeypatch.setattr(jobs, "SLOTS", jobs._Slots(1))
    first_started, cancel_first = threading.Event(), threading.Event()
    worker = threading.Thread(target=lambda: pytest.raises(jobs.Cancelled, jobs.run, sleepy,
                                                           progress=lambda pid: first_started.set(),
                                                           cancel=cancel_first))
    worker.start()
    assert first_started.wait(60)
    cancel_second = threading.Event()
    threading.Timer(0.5, cancel_second.set).start()
    t = time.monotonic()
    with pytest.raises(jobs.Cancelled, match="waiting for a free slot"):
        jobs.run(add, 1, 2, cancel=cancel_second)
    assert time.monotonic() - t < 2.0
    cancel_first.set()
    worker.join(10)
    assert jobs.SLOTS.running == 0


def test_stopping_a_real_training_job_ends_its_process_within_two_seconds():
    """The engine's own long loop (an MLP on Adult, far more epochs than it gets): cancelled after its first epoch,
    the job's process is gone within 2 s and the slot is free again."""
    from dlxai.data import load_adult
    from dlxai.models.training import train_model

    cancel, seen, stopped = threading.Event(), [], {}

    def on_epoch(info):
        if not seen:  # the running job: alive, and not the spare waiting for the next job
            spare = {p.pid for p, _ in jobs._SPARE}
            seen.extend(p.pid for p in list(jobs._LIVE) if p.pid not in spare and p.poll() is None)
            stopped["at"] = time.monotonic()
            cancel.set()

    with pytest.raises(jobs.Cancelled):
        jobs.run(train_model, load_adult(), "mlp", seed=0, max_epochs=500, progress=on_epoch, cancel=cancel,
                 label="Training")
    assert time.monotonic() - stopped["at"] < 2.0
    assert len(seen) == 1
    for pid in seen:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert jobs.SLOTS.running == 0


def test_a_model_with_an_upload_worker_runs_in_process(german):
    from dlxai.models.formats import load_model
    from tests.unit.models import exporters

    raw, name, _ = exporters.torch_onnx_mlp(["duration", "age"])
    m = load_model(raw, name, input_columns=["duration", "age"], sample=german.X("test"))
    try:
        assert jobs.holds_worker(m)
        p = jobs.run(m.predict_proba, german.X("test").head(3), in_process=True)
        assert p.shape == (3,)
    finally:
        m.close()


def predict_many(model, X, times: int, progress=None):
    """A long job on an uploaded model: ``times`` predictions, with progress after each."""
    for i in range(times):
        model.predict_proba(X)
        if progress is not None:
            progress(i)
    return times


def _job_threads() -> list:
    return [t for t in threading.enumerate() if t.name.startswith("dlxai-job ")]


def _stop_after(cancel: threading.Event, seconds: float, stopped: dict) -> None:
    threading.Timer(seconds, lambda: (stopped.setdefault("at", time.monotonic()), cancel.set())).start()


@pytest.mark.parametrize("slow", [True, False], ids=["stopped-mid-call", "stopped-between-calls"])
def test_stopping_a_job_on_an_uploaded_model_ends_it_within_two_seconds_and_the_model_still_works(german, slow):
    """An uploaded model runs its jobs in a thread of this process.  Stopped mid-call (a TorchScript model that
    loops on more than 256 rows: each call would run to its 15 s time-out) or between calls (an ONNX MLP
    predicting in a loop), the job raises Cancelled within 2 s of the cancel, with no error of the killed
    worker; its thread is gone, the worker's child under the call is killed, and the model predicts as before
    on the next call, in a fresh child."""
    from dlxai.models.formats import load_model
    from tests.hostile import builders
    from tests.unit.models import exporters

    cols = ["duration", "age"]
    raw, name = ((builders.script_bytes(builders.FastOnTheCheckOnly()), "slow.pt") if slow
                 else exporters.torch_onnx_mlp(cols)[:2])
    m = load_model(raw, name, input_columns=cols, sample=german.X("test"))
    try:
        worker = m.estimator.remote.worker
        small = german.X("test").head(5)
        before, generation = m.predict_proba(small), worker.generation
        big = german.X("test").sample(n=2000, replace=True, random_state=0) if slow else small
        child, calls, cancel, stopped = worker.info["pid"], [], threading.Event(), {}
        _stop_after(cancel, 1.0, stopped)
        with pytest.raises(jobs.Cancelled):
            jobs.run(predict_many, m, big, 10**6, progress=calls.append, cancel=cancel, in_process=True,
                     label="Predicting")
        latency = time.monotonic() - stopped["at"]
        deadline = stopped["at"] + 2.0
        while _job_threads() and time.monotonic() < deadline:
            time.sleep(0.02)
        print(f"stop latency {latency:.3f} s; job thread gone after {time.monotonic() - stopped['at']:.3f} s")
        assert latency < 2.0
        assert not _job_threads()
        assert (not calls) if slow else len(calls) > 3
        if slow:
            with pytest.raises(ProcessLookupError):
                os.kill(child, 0)
        assert jobs.SLOTS.running == 0
        np.testing.assert_allclose(m.predict_proba(small), before)
        # between calls, the stop finds a call in flight (a fresh child) or not (the same one)
        assert worker.generation == generation + 1 if slow else worker.generation in (generation, generation + 1)
    finally:
        m.close()
