"""Fair sharing: how much slower a page loads for one visitor while another trains the Adult MLP on the same server.

One ``streamlit run app.py`` server and two sessions in Debian's headless Chromium.  Session B loads the Data &
model page (a fresh session each time: Home, then the Data & model link; the bundled Adult data comes from the shared
cache) alone, then again while session A trains the Adult MLP (30 epochs at most, the app's default settings);
each is the median of up to ``--repeats`` loads after a warm-up (while A trains: only loads that ended before A
did).  Prints one JSON line: {"slowdown" (B while A trains / B alone), "b_alone_s", "b_during_training_s",
"loads_alone", "loads_during_training", "a_training_s", "load", "cores", "target_met"}.  Target: slowdown <= 2.  Needs /usr/bin/chromium (apt-get install chromium).
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from _common import ROOT, add_load_option, emit, start_load

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _serve(port: int):
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _wait_healthy(url: str, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("streamlit did not become healthy")


def load_page(ctx, url: str) -> float:
    """Seconds for a fresh session to open the app and go to the Data & model page (its script has run to the
    end)."""
    pg = ctx.new_page()
    try:
        t = time.perf_counter()
        _open_data_model(pg, url)
        pg.get_by_text(re.compile("No model yet|Performance of")).first.wait_for(timeout=180_000)
        return time.perf_counter() - t
    finally:
        pg.close()


def _open_data_model(pg, url: str) -> None:
    pg.goto(url)
    pg.get_by_text("Active audit").first.wait_for(timeout=180_000)  # the sidebar: drawn after the page ran
    pg.get_by_role("link", name="Data & model").click()
    pg.get_by_text("Training rows").first.wait_for(timeout=180_000)


def main() -> None:
    ap = add_load_option(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        raise SystemExit("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = _serve(port)
    try:
        _wait_healthy(url)
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(profile, executable_path=chromium, args=CHROMIUM_ARGS,
                                                       headless=True, viewport={"width": 1280, "height": 900})
            load_page(ctx, url)  # warm-up: the bundled data into the shared cache, the job runner's spare process
            start_load(a.load)
            alone = [load_page(ctx, url) for _ in range(a.repeats)]

            pa = ctx.new_page()  # session A
            _open_data_model(pa, url)
            pa.get_by_role("button", name="Train").click()
            t_a = time.perf_counter()
            pa.get_by_text(re.compile(r"Epoch \d+/")).first.wait_for(timeout=180_000)  # A is training now
            done = pa.get_by_text(re.compile(r"Trained .*PyTorch MLP"))
            during = []
            while len(during) < a.repeats and done.count() == 0:
                seconds = load_page(ctx, url)
                if done.count() == 0:  # only loads that ran wholly while A trained
                    during.append(seconds)
            done.wait_for(timeout=600_000)
            a_s = time.perf_counter() - t_a
            ctx.close()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    if not during:
        raise SystemExit(f"session A finished training in {a_s:.1f} s, before one load of session B did")
    b_alone, b_during = statistics.median(alone), statistics.median(during)
    emit({"slowdown": b_during / b_alone, "b_alone_s": b_alone, "b_during_training_s": b_during,
          "loads_alone": [round(x, 3) for x in alone], "loads_during_training": [round(x, 3) for x in during],
          "a_training_s": a_s, "load": a.load, "cores": os.cpu_count(), "target_met": bool(b_during / b_alone <= 2)})


if __name__ == "__main__":
    main()
