"""Glue for the Image audit page: load an uploaded image classifier and images, audit them, explain images.

The upload is the user's own, so it lives in the session (``ui.state.image_audit``), never in a shared cache.  The
model file is loaded as the engine loads any upload (ONNX/TorchScript vetted and run in a sandboxed worker); the
explanations run :func:`dlxai.explain.attribution.attribute` on the network in this process, and are kept per
(model, images, image, method, class) so a rerun does not recompute them.
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from dlxai.data.imageprep import Preprocess
from dlxai.data.imagesets import read_images
from dlxai.explain.quality import SANITY_MAX_SPEARMAN, what_to_try
from dlxai.models.imagemodels import check_sample, load_image_model
from dlxai.plots.explain import faithfulness_curves
from dlxai.plots.imagegrid import mean_map_panels
from dlxai.report.imageaudit import audit_images
from ui import state
from ui.errors import error_boundary

MODEL_TYPES = ["onnx", "pt", "pth", "ts", "safetensors"]
DEFAULT_PREPROCESS = json.dumps(Preprocess().to_dict(), indent=1)
# method key -> (label on screen, parameters); what the page offers for one image, in this order
METHODS = {
    "integrated_gradients": ("Integrated gradients", {"n_steps": 32}),
    "lrp": ("LRP (ε-z⁺-Flat)", {"composite": "epsilon_plus_flat"}),
    "expected_gradients": ("Expected gradients", {"n_samples": 64}),
    "attention": ("Attention rollout", {}),
}
GRID_METHODS = ("integrated_gradients", "lrp", "expected_gradients")
GRID_SIZE = 4
BACKGROUND = 16  # images expected gradients draws its baselines from


def load(model_bytes: bytes, model_name: str, spec_bytes: bytes | None, images_bytes: bytes, images_name: str,
         labels_bytes: bytes | None, preprocess_text: str, budget_s: float) -> None:
    """Read the images, load the model and check it on a sample; the session's previous upload is replaced."""
    bar = st.progress(0.0, text="Reading the images…")
    try:
        images = read_images(images_bytes, labels_bytes, preprocess=preprocess_text or None, name=images_name,
                             progress=lambda f, m: bar.progress(0.5 * f, text=m))
        bar.progress(0.5, text=f"Loading {model_name} (ONNX and TorchScript start a sandboxed worker, up to a "
                               "minute on a busy machine)…")
        model = load_image_model(model_bytes, model_name, spec=spec_bytes, time_budget_s=budget_s)
        try:
            bar.progress(0.8, text="Checking the model on a sample of images…")
            check_sample(model, images)
        except BaseException:
            model.close()
            raise
    finally:
        bar.empty()
    old = state.image_audit().get("model")
    if old is not None:
        old.close()
    state.set_image_audit(images=images, model=model)


def run_audit(favourable, sensitive: list[str], n_bootstrap: int) -> None:
    s = state.image_audit()
    bar = st.progress(0.0, text="Predicting…")
    bundle = audit_images(s["model"], s["images"], favourable_class=favourable, sensitive=sensitive,
                          n_bootstrap=n_bootstrap, min_group_size=10,
                          progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
    bar.empty()
    s["bundle"] = bundle


def method_reasons(model) -> dict:
    """method -> None when it applies to the uploaded network, else why not (shown before anyone clicks)."""
    from dlxai.explain.registry import METHODS as REGISTRY
    from dlxai.explain.registry import model_info

    module, why = model.gradient_module()
    if module is None:
        return {k: why for k in METHODS}
    info = model_info(module)
    return {k: info.why_not(REGISTRY[k], "image") for k in METHODS}


def heatmap(index: int, method: str, target: int) -> np.ndarray:
    """Attribution ``[C, H, W]`` of image ``index`` for class ``target`` (kept for the session's upload)."""
    s = state.image_audit()
    model, images = s["model"], s["images"]
    key = (model.sha256, images.fingerprint, index, method, target)
    if key not in s["maps"]:
        from dlxai.explain.attribution import attribute

        module, _ = model.gradient_module()
        params = dict(METHODS[method][1])
        extra = {}
        if method == "expected_gradients":
            extra = {"baselines": "samples", "reference": images.inputs[:BACKGROUND], "n_baseline_samples": BACKGROUND}
        res = attribute(module, images.inputs[index:index + 1], method=method, target=int(target), kind="image",
                        batch_size=32, device="cpu", **extra, **params)
        s["maps"][key] = np.asarray(res.values[0])
    return s["maps"][key]


ACROSS_MAX = 200  # images explained at once for the mean maps: bounded time on a laptop CPU
RANDOMISATION_IMAGES = 4


def across_images(method: str, n_images: int, progress) -> dict:
    """Explain up to ``n_images`` images (spread over the classes), each for its own label, with ``method``; the
    mean heatmap per class and per group, and both quality checks on the same maps (patch deletion/insertion,
    the randomisation check on a few images).  Kept in the session per (model, images, method, count)."""
    from dlxai.explain import imagemaps
    from dlxai.explain.attribution import attribute

    s = state.image_audit()
    model, images = s["model"], s["images"]
    key = ("across", model.sha256, images.fingerprint, method, int(n_images))
    if key in s["maps"]:
        return s["maps"][key]
    module, _ = model.gradient_module()
    classes = list(model.classes)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))[:min(int(n_images), ACROSS_MAX, len(images))]
    idx = np.sort(order)
    targets = np.array([classes.index(images.labels[i]) for i in idx])
    params = dict(METHODS[method][1])
    extra = ({"baselines": "samples", "reference": images.inputs[:BACKGROUND], "n_baseline_samples": BACKGROUND}
             if method == "expected_gradients" else {})
    progress(0.05, f"{METHODS[method][0]} on {len(idx)} images…")
    res = attribute(module, images.inputs[idx], method=method, target=targets, kind="image", batch_size=32,
                    device="cpu", **extra, **params)
    out = {"result": res, "by_class": imagemaps.mean_by_class(res), "class_names": classes,
           "by_group": {c: imagemaps.mean_by_group(res, images.groups[c].astype(str).to_numpy()[idx])
                        for c in images.groups.columns}}
    progress(0.6, "Deleting and inserting patches…")
    side = int(min(images.inputs.shape[-2:]))
    out["faithfulness"] = imagemaps.patch_deletion_insertion(module, res, patch=max(1, side // 8), n_steps=16)
    progress(0.8, f"Randomisation check on {min(RANDOMISATION_IMAGES, len(idx))} images…")
    sample = idx[:RANDOMISATION_IMAGES]
    out["randomisation"] = imagemaps.randomisation_check(
        module, images.inputs[sample], method=method, target=targets[:RANDOMISATION_IMAGES], kind="image",
        batch_size=32, device="cpu", **extra, **params)
    s["maps"][key] = out
    return out


def display(images, index: int) -> np.ndarray:
    """The image as the model saw it after resize and crop, ``[C, H, W]`` in [0, 1] (for the heatmap panel)."""
    return images.pixels[index].transpose(2, 0, 1).astype(np.float64) / 255.0


def report_pdf(bundle) -> bytes:
    from dlxai.report.builder import build_report

    bar = st.progress(0.0, text="Writing the report…")
    res = build_report(bundle, title="Image model audit", progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
    bar.empty()
    return res.pdf


def across_section(methods: list[str]) -> None:
    """Section 4 of the page: many images explained at once, the mean heatmap per class and per group on one
    colour scale, and both quality checks on the same maps (a failed check is stated with what to try)."""
    s = state.image_audit()
    st.subheader("4 · Across images: mean heatmaps and quality checks")
    st.caption("Many images explained at once, each for its own label: the mean heatmap per class and per group shows "
               "where the model looks in general (a corner, a border, a watermark, a ruler on a skin lesion), and "
               "whether one group's images are read differently. Both quality checks run on the same maps.")
    a1, a2 = st.columns(2)
    across_method = a1.selectbox("Method", methods, format_func=lambda k: METHODS[k][0], key="ia_across_m")
    n_across = a2.number_input("Images", 8, ACROSS_MAX, min(48, ACROSS_MAX), step=8, key="ia_across_n",
                               help="Spread over the upload at random (seed 0); more images, steadier means, longer wait.")
    if st.button("Explain across images", key="ia_across"):
        with error_boundary("Explaining across images"):
            bar = st.progress(0.0, text="Starting…")
            s["across"] = (across_method, int(n_across))
            across_images(across_method, int(n_across), lambda f, m: bar.progress(min(f, 1.0), text=m))
            bar.empty()
    if s.get("across") == (across_method, int(n_across)):
        out = across_images(across_method, int(n_across), lambda f, m: None)
        by_class = out["by_class"]
        st.plotly_chart(mean_map_panels(by_class, [str(out["class_names"][k]) for k in by_class.keys],
                                        title=f"Mean {METHODS[across_method][0]} heatmap per class"),
                        key="ia_mean_class")
        for attr, mm in out["by_group"].items():
            st.plotly_chart(mean_map_panels(mm, [str(k) for k in mm.keys],
                                            title=f"Mean {METHODS[across_method][0]} heatmap per {attr}"),
                            key=f"ia_mean_{attr}")
        st.caption("How to read this: every image's map is scaled to its own largest magnitude before averaging, so "
                   "each image counts once. Red regions speak for the explained class, blue against it; a bright spot "
                   "that sits in the same place for every class is about the images, not about the classes.")
        f, r = out["faithfulness"], out["randomisation"]
        q1, q2 = st.columns(2)
        q1.metric("Patch deletion AUC (lower is better)", f"{f.deletion_auc:.3f}",
                  delta=f"random order {f.random_deletion_auc:.3f}", delta_color="off")
        q2.metric("Randomisation check: rank correlation", f"{r.final:.2f}",
                  delta=f"passes below {SANITY_MAX_SPEARMAN:.2f}", delta_color="off")
        failed = [name for name, ok in (("the deletion/insertion check", f.faithful),
                                        ("the randomisation check", r.passed)) if not ok]
        if failed:
            st.error(f"{METHODS[across_method][0]} failed {' and '.join(failed)} on these images: do not read these "
                     "maps as what the model learned. What to try:\n\n"
                     + "\n".join(f"- {t}" for t in what_to_try(across_method, out["result"].params, kind="image")))
        else:
            st.success("Both checks passed: deleting the most relevant patches first hurts the model more than a random "
                       "order, and the maps change when the model's weights are randomised.")
        st.plotly_chart(faithfulness_curves(f), key="ia_faith")
