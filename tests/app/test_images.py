"""AppTest of the Images page: train both image models in-app, see heatmaps and attention maps."""

from __future__ import annotations

from tests.app.conftest import errors_of


def _train(at, kind: str, epochs: int):
    at.number_input(key=f"img_epochs_{kind}").set_value(epochs)
    label = {"cnn": "Train CNN", "vit": "Train ViT"}[kind]
    next(b for b in at.button if b.label == label).click()
    return at.run()


def test_images_page_trains_cnn_and_vit_and_shows_heatmaps(app):
    at = app.switch_page("pages/images.py").run()
    assert not at.exception
    assert any("Train the CNN" in i.value for i in at.info)

    at = _train(at, "cnn", 3)
    assert not at.exception, at.exception
    assert not errors_of(at)
    acc = {m.label: float(m.value) for m in at.metric}
    assert acc["CNN test accuracy"] >= 0.8
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) == 1  # CNN heatmaps: input, integrated gradients, LRP

    at = _train(at, "vit", 3)
    assert not at.exception, at.exception
    assert not errors_of(at)
    assert {"CNN test accuracy", "ViT test accuracy"} <= {m.label for m in at.metric}
    # CNN row + ViT row + raw attention + rollout
    assert len(at.get("plotly_chart")) == 4
    captions = " ".join(c.value for c in at.caption)
    assert "completeness error" in captions and "conservation error" in captions

    assert at.selectbox(key="img_composite").value == "epsilon"  # the default that leaves the background at 0
    assert "LRP-ε (all layers)" in at.selectbox(key="img_composite").options
    assert any("the ViT attends to" in c.proto.spec for c in at.get("plotly_chart"))  # why rollout is coarser

    # a digit picked by its class, then an example of that class; another composite: still every figure
    at.selectbox(key="img_class").set_value(7)
    at = at.run()
    at.number_input(key="img_example_7").set_value(3)
    at.selectbox(key="img_composite").set_value("epsilon_plus_flat")
    at.selectbox(key="img_layer").set_value(1)
    at = at.run()
    assert not at.exception and not errors_of(at)
    assert len(at.get("plotly_chart")) == 4
    captions = " ".join(c.value for c in at.caption)
    assert "a **7**" in captions  # the example shown is a 7
    assert "measured" in " ".join(c.value for c in at.caption).lower()
