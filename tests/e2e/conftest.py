"""A real Chromium (Debian's, via Playwright) against `streamlit run app.py` on a free port.

Skipped when /usr/bin/chromium is absent; `.ci/run` installs it.  Never `playwright install`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.browser import wait_idle

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium); the browser test needs it.")
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # the server's output goes to a file: a pipe nobody reads fills up (64 KB) over a session of tests, and the
    # server then blocks on its next log line and stops answering
    log = tempfile.NamedTemporaryFile(prefix="dlxai-e2e-server-", suffix=".log", delete=False)
    os.environ["DLXAI_E2E_SERVER_LOG"] = log.name  # the page fixture prints its tail when a test fails
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not become healthy: {Path(log.name).read_text(errors='replace')[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium); the browser test needs it.")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport={"width": 1400, "height": 1000},
        )
        yield ctx
        ctx.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep


@pytest.fixture()
def page(browser, app_url, request):
    pg = browser.new_page()
    pg.set_default_timeout(120_000)
    pg.goto(app_url)
    pg.get_by_text("dlxai — explainability & fairness audits").first.wait_for()
    yield pg
    wait_idle(pg)  # a script still running here (a heatmap after the one a test waited for) would slow the next test
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:  # say what the browser showed: CI keeps only the log
        try:
            shot = Path(tempfile.gettempdir()) / f"dlxai-e2e-{request.node.name}.png"
            pg.screenshot(path=str(shot), full_page=True)
            text = pg.locator("body").inner_text(timeout=5_000)
            print(f"\n--- what the browser showed at {pg.url} (screenshot {shot}) ---\n{text[-4000:]}")
            server = Path(os.environ.get("DLXAI_E2E_SERVER_LOG", "/nonexistent"))
            if server.exists():
                print(f"--- the server's log (tail) ---\n{server.read_text(errors='replace')[-3000:]}")
        except Exception as e:  # diagnostics must not hide the real failure
            print(f"(no browser diagnostics: {e})")
    pg.close()
