"""A real Chromium uploads an ONNX resnet18, a zip of images and a labels CSV to the Image audit page: a grayscale
image is refused naming the file, then the audit and an explanation run (the model in its sandboxed worker)."""

import re

import numpy as np
import pytest
from PIL import Image

from tests.e2e.browser import at_least, wait_idle
from tests.image_makers import onnx_bytes, resnet, write_images, zip_folder

pytestmark = pytest.mark.e2e


def test_image_audit_in_a_real_browser(page, tmp_path):
    root, labels = write_images(tmp_path / "imgs", n=24)
    good = tmp_path / "images.zip"
    good.write_bytes(zip_folder(root))
    Image.fromarray(np.zeros((32, 32), np.uint8), "L").save(root / "im005.png")
    gray = tmp_path / "gray.zip"
    gray.write_bytes(zip_folder(root))
    model = tmp_path / "r18.onnx"
    model.write_bytes(onnx_bytes(resnet(3)))

    page.get_by_role("link", name="Image audit", exact=True).click()
    page.get_by_text("Nothing runs before the check passes").first.wait_for()
    wait_idle(page)
    inputs = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    inputs.nth(0).set_input_files(str(model))
    inputs.nth(2).set_input_files(str(gray))
    inputs.nth(3).set_input_files(str(labels))
    wait_idle(page)
    page.get_by_role("button", name="Load and check").click()
    page.get_by_text(re.compile(r"'im005\.png' is a grayscale image")).wait_for(timeout=240_000)

    inputs.nth(2).set_input_files(str(good))
    wait_idle(page)
    page.get_by_role("button", name="Load and check").click()
    page.get_by_text("Sample check passed").wait_for(timeout=240_000)
    wait_idle(page)
    page.get_by_role("button", name="Run the audit").click()
    page.get_by_text("Fairness by skin").wait_for(timeout=240_000)
    page.get_by_text(re.compile("Four-fifths rule")).first.wait_for()
    wait_idle(page)
    page.get_by_text("Attention rollout is unavailable for this model").wait_for()
    page.get_by_role("button", name="Explain this image").click()
    page.get_by_text("explaining class cat").first.wait_for(timeout=240_000)
    assert at_least(page.locator(".js-plotly-plot"), 3) >= 3
    page.screenshot(path=str(tmp_path / "image_audit.png"), full_page=True)
