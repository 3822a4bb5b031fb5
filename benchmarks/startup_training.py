"""Adult MLP training time on this machine, and time from `streamlit run` to the first rendered page.

Prints one JSON line: {"adult_mlp_train_s", "adult_mlp_test_accuracy", "server_start_to_health_s",
"server_start_to_first_page_s"}. The page time is measured in Debian's Chromium (skipped without it).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from _common import ROOT, emit, load_from_args

from dlxai.data import load_adult
from dlxai.models import train_model
from dlxai.performance import evaluate


def _serve(port: int):
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ})


def _wait_healthy(port: int) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return
        except OSError:
            time.sleep(0.05)


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def first_page_seconds() -> tuple[float, float | None]:
    """Seconds from starting the server to health, and to the first page drawn in an open browser.

    The browser is started first, as a user's already is: its own start-up is not the dashboard's.
    """
    chromium = shutil.which("chromium")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if not chromium:
        t0 = time.perf_counter()
        proc = _serve(port)
        try:
            _wait_healthy(port)
            return time.perf_counter() - t0, None
        finally:
            _stop(proc)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = ctx.new_page()
        page.goto("about:blank")
        t0 = time.perf_counter()
        proc = _serve(port)
        try:
            _wait_healthy(port)
            health = time.perf_counter() - t0
            page.goto(f"http://127.0.0.1:{port}")
            page.get_by_text("Active audit").wait_for(timeout=60_000)  # sidebar: drawn after the page ran
            first = time.perf_counter() - t0
        finally:
            _stop(proc)
            ctx.close()
    return health, first


def main() -> None:
    load = load_from_args()
    ds = load_adult()
    t = time.perf_counter()
    m = train_model(ds, "mlp", seed=0)
    train_s = time.perf_counter() - t
    acc = evaluate(ds.y("test"), m.predict_proba(ds.X("test"))).accuracy
    health, first = first_page_seconds()
    emit({"load": load, "adult_mlp_train_s": train_s, "adult_mlp_test_accuracy": acc, "server_start_to_health_s": health,
          "server_start_to_first_page_s": first})


if __name__ == "__main__":
    main()
