"""Run the hostile catalogue (tests/hostile/cases.py): each case in its own forked process, measured.

Per case it asserts: the expected outcome (error class and message, CLI exit code and message, or the correct
answer on a valid file); nothing ran or was written (the marker never appears, the canary keeps its content, no
file appears in the case's folder besides the child's own stdout/stderr/result); nothing of a host file or the
canary reached the output; and the engine's process stayed within the case's bounds of peak RSS (above the
forked child's start), wall time and, where given, CPU time.  The control tests prove that each kind of payload
does what it says when loaded the unsafe way, and that the measurement sees an allocation, so none of these
checks can pass by accident.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.hostile import builders as b
from tests.hostile.cases import CANARY_TEXT, CASES, Box

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="fork, /proc and the worker's sandbox are Linux's"),
              pytest.mark.slow]  # about 4 minutes on 2 cores, most of it building the bombs
ROOT = Path(__file__).resolve().parents[2]
OWN_FILES = {"stdout.txt", "stderr.txt", "result.json"}
HOST_SECRETS = ("root:x:0:0", CANARY_TEXT.strip())


class Server:
    """The fork server (tests/hostile/runner.py) and the peak RSS of a child that does nothing."""

    def __init__(self, root: Path):
        self.root = root
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.hostile.runner"], cwd=ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}
        self.data = str(root / "data.csv")
        b.data_frame().to_csv(self.data, index=False)
        empty = root / "_baseline"
        empty.mkdir()
        self.baseline_mb = self.run("noop", {}, empty, 60, 10_000)["maxrss_mb"]

    def run(self, entry: str, args: dict, folder: Path, limit_s: float, limit_mb: float) -> dict:
        req = {"entry": entry, "args": args, "dir": str(folder), "limit_s": limit_s, "limit_mb": limit_mb}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        result = folder / "result.json"
        reply["result"] = json.loads(result.read_text()) if result.exists() else None
        reply["stderr"] = (folder / "stderr.txt").read_text(errors="replace") if (folder / "stderr.txt").exists() else ""
        reply["stdout"] = (folder / "stdout.txt").read_text(errors="replace") if (folder / "stdout.txt").exists() else ""
        return reply

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = Path(tmp_path_factory.mktemp(f"hostile-{uuid.uuid4().hex[:8]}"))
    s = Server(root)
    yield s
    s.close()


def _box(server: Server, name: str) -> Box:
    box = Box(server.root / name, server.data)
    box.dir.mkdir()
    Path(box.canary).write_text(CANARY_TEXT)
    return box


def _outcome(case, reply: dict) -> None:
    res = reply["result"]
    assert res is not None, f"the child wrote no result (exit {reply['exit']}); stderr:\n{reply['stderr'][-3000:]}"
    text = res.get("message", "") if res["status"] == "raised" else repr(res.get("value"))
    if res["status"] == "raised":
        assert "DlxaiError" in res["mro"], f"an error outside dlxai's family escaped: {res['mro'][0]}: {text[:2000]}"
        assert len(text) > 40 and "Traceback" not in text, text  # a sentence for a person, not a stack
    if case.expect == "ok":
        assert res["status"] == "ok", f"{res.get('mro', [''])[0]}: {text}"
    elif case.expect == "any":
        pass  # returned, or raised one of dlxai's errors (checked above)
    elif case.expect.startswith("exit:"):
        assert res["status"] == "ok", text
        code = int(case.expect.split(":")[1])
        assert res["value"]["exit"] == code, f"exit {res['value']['exit']}, stderr:\n{reply['stderr'][-3000:]}"
        text = reply["stderr"]
        if code == 2:
            assert "Traceback" not in text and "internal error" not in text, text
    else:
        assert res["status"] == "raised", f"expected {case.expect}, but it returned {text[:500]}"
        assert case.expect in res["mro"], f"expected {case.expect}, got {res['mro'][0]}: {text}"
    for pattern in (case.match,) if isinstance(case.match, str) else case.match:
        assert re.search(pattern, text), f"no match for {pattern[:200]!r} in: {text[:3000]}"


def _record(case, reply: dict, baseline_mb: float) -> None:
    """One line per case in $DLXAI_HOSTILE_LOG (when set): the measurements behind the report's table."""
    log = os.environ.get("DLXAI_HOSTILE_LOG")
    if log:
        row = {"id": case.id, "kind": case.kind, "entry": case.entry, "expect": case.expect, "plants": case.plants,
               "killed": reply["killed"], "wall_s": round(reply["wall_s"], 2), "cpu_s": round(reply["cpu_s"], 2),
               "rss_growth_mb": round(reply["maxrss_mb"] - baseline_mb), "bounds": case.bounds,
               "outcome": (reply["result"] or {}).get("mro", ["returned"])[0],
               "message": str((reply["result"] or {}).get("message") or (reply["result"] or {}).get("value"))[:300]}
        with open(log, "a") as fh:
            fh.write(json.dumps(row) + "\n")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case(case, server):
    box = _box(server, case.id)
    args = case.build(box)
    before = {p.name for p in box.dir.iterdir()}
    canary_file = Path(box.canary)
    mem_mb, wall_s = case.bounds
    reply = server.run(case.entry, args, box.dir, limit_s=wall_s + 30, limit_mb=server.baseline_mb + mem_mb + 1500)
    _record(case, reply, server.baseline_mb)
    assert reply["killed"] is None, f"stopped for {reply['killed']}: {reply['wall_s']:.1f} s, {reply['maxrss_mb']:.0f} MB"
    _outcome(case, reply)
    # nothing ran, nothing was written, nothing leaked
    assert not Path(box.marker).exists(), "the payload ran: the marker file exists"
    assert canary_file.read_text() == CANARY_TEXT, "the canary file was changed"
    assert {p.name for p in box.dir.iterdir()} - before - OWN_FILES == set(), "files appeared in the case's folder"
    seen = json.dumps(reply["result"]) + reply["stdout"] + reply["stderr"]
    assert not any(s in seen for s in HOST_SECRETS), "a host file's content reached the output"
    # bounded: the engine's process (peak RSS above its start, wall clock, CPU)
    grew = reply["maxrss_mb"] - server.baseline_mb
    assert grew <= mem_mb, f"peak RSS grew by {grew:.0f} MB (bound {mem_mb} MB)"
    assert reply["wall_s"] <= wall_s, f"took {reply['wall_s']:.1f} s (bound {wall_s} s)"
    if case.cpu_s is not None:
        assert reply["cpu_s"] <= case.cpu_s, f"used {reply['cpu_s']:.1f} s of CPU (bound {case.cpu_s} s)"


ISSUE_FINDINGS = [
    "read and wrote host files", "/etc/passwd into its scores", "ONNX Loop", "TorchScript forward that never ends",
    "fast on the 256 check rows", "120 M rows", "1.6 GB file", "685 KB skops", "allocating 1 GB",
    "list or struct columns", "profiling functions", "--seed -1", "--n-bootstrap 1e20", "--n-bootstrap 1e8",
    "nested --model-spec", "header checked on a 64 KiB cut", "silently renamed", "defeat the dialect sniffer",
]


def test_the_catalogue_covers_every_finding_of_the_issue_and_has_120_cases():
    assert len(CASES) >= 120 and len({c.id for c in CASES}) == len(CASES)
    issues = " | ".join(c.issue for c in CASES)
    missing = [f for f in ISSUE_FINDINGS if f not in issues]
    assert not missing, missing
    assert sum(c.plants for c in CASES) >= 30
    assert {c.kind for c in CASES} >= {"csv", "parquet", "compressed", "pickle", "torchscript", "onnx", "skops",
                                       "safetensors", "spec-json", "predictions", "cli-args", "cli-file", "profile"}


# --- controls: the payloads are real, the measurement sees memory ----------------------------------------------
def test_control_a_pickle_payload_creates_the_marker_when_unpickled(server):
    box = _box(server, "_control-pickle")
    path = box.write("m.pkl", b.pickle_payload(box.marker))
    reply = server.run("unsafe_unpickle", {"path": path}, box.dir, 60, 10_000)
    assert reply["result"]["status"] == "ok" and Path(box.marker).exists()


def test_control_a_torchscript_shared_mapping_overwrites_the_canary_when_loaded_unvetted(server):
    box = _box(server, "_control-ts-write")
    path = box.write("m.pt", b.script_bytes(b.WritesThroughSharedMapping(box.canary)))
    reply = server.run("unsafe_torchscript", {"path": path}, box.dir, 60, 10_000)
    assert reply["result"]["status"] == "ok", reply
    assert Path(box.canary).read_text() != CANARY_TEXT


def test_control_a_torchscript_setstate_creates_the_marker_at_load(server):
    box = _box(server, "_control-ts-setstate")
    path = box.write("m.pt", b.script_bytes(b.SetstateCreates(box.marker)))
    reply = server.run("unsafe_torchscript", {"path": path}, box.dir, 60, 10_000)
    assert reply["result"]["status"] == "ok", reply
    assert Path(box.marker).exists()


def test_control_the_measurement_sees_an_allocation(server):
    box = _box(server, "_control-alloc")
    reply = server.run("allocate", {"mb": 400}, box.dir, 60, 10_000)
    assert reply["result"]["status"] == "ok"
    assert reply["maxrss_mb"] - server.baseline_mb >= 350, reply


def test_control_the_server_kills_a_runaway_child(server):
    box = _box(server, "_control-kill")
    reply = server.run("allocate", {"mb": 400, "hold_s": 30}, box.dir, 3, server.baseline_mb + 200)
    assert reply["killed"] == "memory", reply
