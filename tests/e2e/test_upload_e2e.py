"""A real Chromium uploads a real CSV file through the Upload page's file input."""

import re

import numpy as np
import pandas as pd
import pytest

from tests.e2e.browser import at_least, wait_idle

pytestmark = pytest.mark.e2e


def test_upload_a_csv_in_a_real_browser(page, tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "savings": np.round(rng.normal(1000, 300, n), 2),
        "sex": rng.choice(["Female", "Male"], n),
        "city": rng.choice(["Köln", "Málaga"], n),
        "granted": rng.choice(["yes", "no"], n),
    })
    path = tmp_path / "loans.csv"
    path.write_bytes(df.to_csv(index=False, sep=";").encode("latin-1"))  # not UTF-8, not commas

    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_text("Upload your data and model").first.wait_for()
    wait_idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(path))
    page.get_by_text(re.compile(r"Read loans\.csv: 400 rows × 5 columns")).wait_for()
    page.get_by_text("read as Windows-1252").first.wait_for()
    page.get_by_text("Group sizes: sex").first.wait_for()
    assert at_least(page.locator(".js-plotly-plot"), 1) >= 1

    page.get_by_role("button", name="Use this dataset").click()
    page.get_by_text(re.compile(r"loans\.csv is active: 280 training and 120 test rows")).wait_for()
    # every other page now works on the uploaded data (the sidebar is drawn before the page, so look after a move)
    wait_idle(page)
    page.get_by_role("link", name="Data & model", exact=True).click()
    page.get_by_text("Uploaded file loans.csv").first.wait_for()
    page.get_by_text(re.compile(r"loans\.csv · 280 train / 120 test rows")).first.wait_for()
    page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)
