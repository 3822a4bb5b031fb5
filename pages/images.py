"""Images: train a small CNN and a small ViT on the bundled 8×8 digits, then compare heatmaps side by side."""

import numpy as np
import streamlit as st

from dlxai.explain.registry import LRP_COMPOSITES, label
from dlxai.models.nets import IMAGE_MODELS
from dlxai.plots.images import attention_heatmap, image_heatmaps, token_labels
from ui import images
from ui.errors import error_boundary

st.title("Images")
st.caption(
    "Integrated gradients, LRP and attention rollout on scikit-learn's bundled 8×8 digits. Red pixels speak for the "
    f"class, blue against it. Measured training time (CPU seconds on one thread, what an idle core takes): "
    f"{images.measured_text()}. A busy machine takes longer; the page shows the time each model really took."
)
ds = images.digits()
s = ds.summary()
st.markdown(f"**{s['name']}** · {s['train_images']:,} training / {s['test_images']:,} test images · "
            f"{s['classes']} classes  \n{ds.provenance}")

# --- training --------------------------------------------------------------------------------
st.subheader("1 · Train the models")
cols = st.columns(2)
for col, kind in zip(cols, IMAGE_MODELS, strict=True):
    with col, st.form(f"img_train_{kind}"):
        st.markdown(f"**{IMAGE_MODELS[kind][0]}**")
        a, b = st.columns(2)
        epochs = a.number_input("Epochs", 1, 100, images.DEFAULT_EPOCHS[kind], key=f"img_epochs_{kind}")
        seed = b.number_input("Seed", 0, 100_000, 0, key=f"img_seed_{kind}")
        go = st.form_submit_button(f"Train {images.SHORT[kind]}", type="primary")
    if go:
        with col, error_boundary(f"Training the {images.SHORT[kind]}"):
            images.train(kind, int(epochs), int(seed))

models = images.trained()
for col, kind in zip(cols, IMAGE_MODELS, strict=True):
    if kind in models:
        e = models[kind]
        col.metric(f"{images.SHORT[kind]} test accuracy", f"{e['accuracy']:.3f}",
                   help=f"{sum(p.numel() for p in e['estimator'].module_.parameters()):,} parameters, trained in "
                        f"{e['estimator'].fit_seconds_:.1f} s")
if not models:
    st.info("Train the CNN, the ViT or both to see their explanations.")
    st.stop()

# --- one digit -------------------------------------------------------------------------------
st.subheader("2 · Pick a digit")
y_test = ds.y("test")
p1, p2, p3, p4 = st.columns(4)
digit = int(p1.selectbox("Digit", [int(c) for c in np.unique(y_test)], key="img_class"))
of_class = np.flatnonzero(y_test == digit)
example = int(p2.number_input(f"Example (1–{len(of_class)} of the {digit}s)", 1, len(of_class), 1,
                              key=f"img_example_{digit}"))
index = int(of_class[example - 1])
target_mode = p3.selectbox("Explain the score of", ["predicted class", "true class"], key="img_target")
composite = p4.selectbox("LRP composite", LRP_COMPOSITES, index=LRP_COMPOSITES.index(images.LRP_DEFAULT),
                         format_func=label, key="img_composite", help=images.LRP_HELP)
image = ds.images("test")[index]
st.caption(f"Test image {index}: a **{int(y_test[index])}**.")

# --- heatmaps --------------------------------------------------------------------------------
st.subheader("3 · Heatmaps side by side")
for kind, entry in models.items():
    est = entry["estimator"]
    pred, proba = images.predict_one(est, image)
    target = pred if target_mode == "predicted class" else int(ds.y("test")[index])
    maps, notes = {}, []
    with error_boundary(f"Explaining the {images.SHORT[kind]}"):
        panels = images.PANELS[kind]
        bar = st.progress(0.0, text=f"{images.SHORT[kind]}: computing {len(panels)} explanations…")
        for i, (method, label, params) in enumerate(panels):
            if method == "lrp":
                params = {**params, "composite": composite}
            values, err = images.heatmap(est, entry["hash"], index, method, tuple(sorted(params.items())), target)
            maps[label] = values
            if err is not None:
                notes.append(f"{label}: {'conservation' if method == 'lrp' else 'completeness'} error {err:.2%}")
            bar.progress((i + 1) / len(panels), text=f"{images.SHORT[kind]}: {label} done")
        bar.empty()
        fig = image_heatmaps(image, maps, notes=images.PANEL_NOTES,
                             title=f"{images.SHORT[kind]}: predicts {pred} (p = {proba.max():.2f}); "
                                   f"explaining class {target}")
        st.plotly_chart(fig, key=f"img_heat_{kind}")
        if notes:
            st.caption(" · ".join(notes) + " (relative to the explained output)")

# --- raw attention for the ViT ---------------------------------------------------------------
if "vit" in models:
    st.subheader("4 · ViT attention per layer and head")
    est = models["vit"]["estimator"]
    a1, a2, a3 = st.columns(3)
    with error_boundary("Reading the ViT's attention"):
        fusion = a3.selectbox("Head fusion (rollout)", list(images.FUSIONS), format_func=images.FUSIONS.get,
                              key="img_fusion")
        res = images.attention(est, models["vit"]["hash"], index, fusion)
        n_layers, n_heads, T = res.maps.shape[:3]
        layer = int(a1.selectbox("Layer", list(range(n_layers)), key="img_layer"))
        head = int(a2.selectbox("Head", list(range(n_heads)), key="img_head"))
        side = int(round((T - res.prefix_tokens) ** 0.5))
        labels = token_labels(T, res.prefix_tokens, (side, side))
        c1, c2 = st.columns(2)
        c1.plotly_chart(attention_heatmap(res.maps[layer, head], labels=labels,
                                          title=f"Raw attention, layer {layer}, head {head}"), key="img_att_raw")
        c2.plotly_chart(attention_heatmap(res.rollout, labels=labels, title=f"Attention rollout ({fusion} of heads)"),
                        key="img_att_roll")
