"""Hostile uploads through the Upload page in a real Chromium: a good dataset and model are made active, then a
Parquet bomb (120 M run-length-encoded rows in about 1.5 MB) and a TorchScript model that overwrites a host file
through torch.from_file(shared=True) are uploaded.  Each gets its clear message, the canary file keeps its
content, and the data and model that were active stay active."""

import re

import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from tests.e2e.browser import wait_idle
from tests.hostile import builders as b

pytestmark = pytest.mark.e2e
CANARY = "canary: the page must leave this file alone\n"


def _upload(page, index: int, path) -> None:
    page.locator('[data-testid="stFileUploader"] input[type="file"]').nth(index).set_input_files(str(path))


def test_hostile_uploads_show_their_message_and_keep_the_active_data_and_model(page, tmp_path):
    good = tmp_path / "good.csv"
    frame = b.data_frame()[["age", "income", "sex", "y"]]
    good.write_bytes(frame.to_csv(index=False).encode())
    model = tmp_path / "logreg.skops"  # fitted on a DataFrame: it names its columns, so it needs no spec
    model.write_bytes(skops.io.dumps(LogisticRegression().fit(frame[["age", "income"]], frame["y"])))
    bomb = tmp_path / "bomb.parquet"
    bomb.write_bytes(b.parquet_rle_bomb())
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY)
    evil = tmp_path / "evil.pt"
    evil.write_bytes(b.script_bytes(b.WritesThroughSharedMapping(str(canary))))

    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_text("Upload your data and model").first.wait_for()
    wait_idle(page)
    # a good dataset and model become active
    _upload(page, 0, good)
    page.get_by_text(re.compile(r"Read good\.csv: 300 rows × 4 columns")).wait_for()
    page.get_by_role("button", name="Use this dataset").click()
    page.get_by_text(re.compile(r"good\.csv is active")).wait_for()
    wait_idle(page)
    page.get_by_role("tab", name="Model").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').nth(2).set_input_files(str(model))
    wait_idle(page)
    page.get_by_role("button", name="Load and check the model").click()
    page.get_by_text(re.compile(r"logreg\.skops \(uploaded skops\) is active")).wait_for()
    wait_idle(page)

    # the Parquet bomb: refused from its metadata, the good data stays active
    page.get_by_role("tab", name="Data").click()
    _upload(page, 0, bomb)
    page.get_by_text(re.compile(r"has 120,000,000 rows, more than the 20,000,000 dlxai reads")).first.wait_for()
    wait_idle(page)
    page.screenshot(path=str(tmp_path / "parquet-bomb.png"), full_page=True)
    # the file-writing TorchScript: refused by the vetting, named, the good model stays active
    page.get_by_role("tab", name="Model").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').nth(2).set_input_files(str(evil))
    wait_idle(page)
    page.get_by_role("button", name="Load and check the model").click()
    page.get_by_text(re.compile(r"'evil\.pt' was not loaded: its TorchScript code calls torch\.from_file")).first \
        .wait_for()
    wait_idle(page)
    page.screenshot(path=str(tmp_path / "evil-torchscript.png"), full_page=True)
    assert canary.read_text() == CANARY

    page.get_by_role("link", name="Data & model", exact=True).click()
    page.get_by_text("Uploaded file good.csv").first.wait_for()
    page.get_by_text(re.compile(r"logreg\.skops \(uploaded skops\)")).first.wait_for()
    body = page.locator("body").inner_text()
    assert "bomb.parquet" not in body and "evil.pt" not in body
    page.screenshot(path=str(tmp_path / "hostile-upload.png"), full_page=True)
