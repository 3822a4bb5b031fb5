"""AppTest of the Image audit page: an uploaded resnet18 (safetensors + spec) and labelled images, audited and
explained; the upload handler is driven with bytes, as the file uploader would hand them over."""

from __future__ import annotations

import json

from tests.app.conftest import errors_of
from tests.image_makers import SPEC, resnet, safetensors_bytes, write_images, zip_folder


def test_image_audit_page_loads_audits_and_explains(app, tmp_path):
    at = app.switch_page("pages/image_audit.py").run()
    assert not at.exception
    assert any("Load and check" in i.value for i in at.info)
    assert '"channel_order": "RGB"' in at.text_area(key="ia_prep").value  # the defaults are shown

    root, labels = write_images(tmp_path / "imgs", n=24)
    from dlxai.data.imagesets import read_images
    from dlxai.models.imagemodels import check_sample, load_image_model
    from ui import state

    images = read_images(zip_folder(root), labels.read_bytes(), name="imgs.zip")
    model = load_image_model(safetensors_bytes(resnet(3)), "r18.safetensors", spec=json.dumps(SPEC),
                             time_budget_s=120)
    check_sample(model, images)
    at.session_state[state.IMAGE_AUDIT] = {"images": images, "model": model, "maps": {}}
    at = at.run()
    assert not at.exception and not errors_of(at)
    assert any("Sample check passed" in s.value for s in at.success)
    assert any("centre crop" not in m.value and "mean [0.485" in m.value for m in at.markdown)

    at.selectbox(key="ia_fav").set_value("dog")
    at.number_input(key="ia_boot").set_value(100)
    next(b for b in at.button if b.label == "Run the audit").click()
    at = at.run()
    assert not at.exception and not errors_of(at), errors_of(at)
    labels_shown = {m.label for m in at.metric}
    assert {"Accuracy", "Balanced accuracy", "Demographic parity difference"} <= labels_shown
    assert any("four-fifths" in (s.value or "").lower() for s in list(at.success) + list(at.warning))
    assert at.get("arrow_data_frame") or at.dataframe

    captions = " ".join(c.value for c in at.caption)
    assert "Attention rollout is unavailable for this model" in captions  # a CNN: shown unavailable, with why
    next(b for b in at.button if b.label == "Explain this image").click()
    at = at.run()
    assert not at.exception and not errors_of(at), errors_of(at)
    heat = [c for c in at.get("plotly_chart") if "explaining class" in c.proto.spec]
    assert len(heat) == 1
    assert all(k in heat[0].proto.spec for k in ("Integrated gradients", "LRP", "Expected gradients"))

    next(b for b in at.button if b.label == "Explain the grid").click()
    at = at.run()
    assert not at.exception and not errors_of(at), errors_of(at)
    grid = [c for c in at.get("plotly_chart") if '"type":"image"' in c.proto.spec.replace(" ", "")]
    assert len(grid) == 1 and grid[0].proto.spec.count("im0") >= 4  # four images labelled dog, one row each

    at.selectbox(key="ia_across_m").set_value("lrp")
    at.number_input(key="ia_across_n").set_value(16)
    next(b for b in at.button if b.label == "Explain across images").click()
    at = at.run()
    assert not at.exception and not [e for e in errors_of(at) if "What to try" not in e], errors_of(at)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Mean LRP" in s and "heatmap per class" in s for s in specs)
    assert any("heatmap per " in s and "per class" not in s for s in specs)  # one per group column too
    labels_shown = {m.label for m in at.metric}
    assert {"Patch deletion AUC (lower is better)", "Randomisation check: rank correlation"} <= labels_shown
    verdicts = [e.value for e in at.error if "What to try" in e.value] + [
        s.value for s in at.success if "Both checks passed" in s.value]
    assert len(verdicts) == 1  # one verdict, with advice when a check failed
