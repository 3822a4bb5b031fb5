"""The main journey in a real Chromium: Adult is ready, train the MLP, read the fairness numbers."""

import re

import pytest

from tests.e2e.browser import at_least, wait_idle

pytestmark = pytest.mark.e2e


def test_train_then_fairness_in_a_real_browser(page, tmp_path):
    page.get_by_role("link", name="Data & model", exact=True).click()
    page.get_by_text("Training rows").first.wait_for()
    epochs = page.get_by_label("Max epochs (MLP)")
    epochs.fill("3")
    epochs.press("Enter")
    page.get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"Trained .*PyTorch MLP on adult")).wait_for(timeout=180_000)
    page.get_by_text("ROC AUC").first.wait_for()

    page.get_by_role("link", name="Fairness", exact=True).click()
    label = page.get_by_text("Demographic parity difference").first
    label.wait_for(timeout=120_000)
    page.get_by_text("Four-fifths rule violated").wait_for()
    # the metric's value is a number between 0 and 1 next to its label
    wait_idle(page)  # the previous page's elements stay on screen until this one has drawn
    body = page.locator('[data-testid="stMetric"]', has_text="Demographic parity difference").first.inner_text()
    value = float(re.search(r"\d\.\d{3}", body).group())
    assert 0.05 < value < 0.4
    assert at_least(page.locator(".js-plotly-plot"), 3) >= 3  # charts drew in the browser
    page.screenshot(path=str(tmp_path / "fairness.png"), full_page=True)


def test_explanations_reach_a_heatmap_in_a_real_browser(page):
    """Images page: train the small CNN on the bundled digits, then IG and LRP heatmaps draw side by side."""
    page.get_by_role("link", name="Images", exact=True).click()
    page.get_by_text("1 · Train the models").wait_for()
    epochs = page.get_by_label("Epochs").first
    epochs.fill("3")
    epochs.press("Enter")
    page.get_by_role("button", name="Train CNN").click()
    page.get_by_text("CNN test accuracy").wait_for(timeout=180_000)
    page.get_by_text("2 · Pick a digit").wait_for()
    heatmaps = page.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot image, .js-plotly-plot .hm")
    heatmaps.first.wait_for(state="attached", timeout=120_000)
    assert page.locator(".js-plotly-plot").count() >= 1
