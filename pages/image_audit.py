"""Image audit: upload an image classifier and labelled images, audit accuracy and fairness by group, explain images."""

import numpy as np
import pandas as pd
import streamlit as st

from dlxai.fairness.metrics import METRIC_LABELS
from dlxai.plots.fairness import group_metric_bars
from dlxai.plots.imagegrid import heatmap_grid
from dlxai.plots.images import image_heatmaps
from ui import image_audit as glue
from ui import state
from ui.errors import error_boundary

st.title("Image audit")
st.caption(
    "Audit your own image classifier on your own labelled images: accuracy and per-class metrics, then fairness "
    "by group (e.g. skin tone or site) for a favourable class, with intervals, and heatmaps of what the model looks "
    "at. ONNX and TorchScript models are vetted and run in an isolated worker process; pickle files are refused.")

# --- 1 · upload ------------------------------------------------------------------------------------
st.subheader("1 · Model and images")
fm = st.file_uploader("Image classifier (ONNX, TorchScript, or safetensors)", type=glue.MODEL_TYPES, key="ia_model")
fs = st.file_uploader("Model spec (JSON; needed for safetensors: torchvision architecture and class count)",
                      type=["json"], key="ia_spec",
                      help='e.g. {"architecture": "resnet18", "num_classes": 3, "classes": ["a", "b", "c"]}; '
                           '"classes" gives the order of the outputs (default: the labels sorted).')
fi = st.file_uploader("Images (a zip of PNG/JPEG files)", type=["zip"], key="ia_images",
                      help="With a labels CSV (columns file, label and group columns), or a CSV inside the zip, "
                           "or one folder per class (ImageFolder).")
fl = st.file_uploader("Labels CSV (file, label, group columns…)", type=["csv"], key="ia_labels")
budget = st.number_input("Time budget (seconds per 256 images)", 1.0, 600.0, 30.0, key="ia_budget",
                         help="A model that takes longer is stopped; its worker process is replaced.")
prep_text = st.text_area(
    "Preprocessing (JSON)", glue.DEFAULT_PREPROCESS, height=200, key="ia_prep",
    help="resize: shorter side in pixels or [height, width]; crop: centre crop; mean/std per channel (after "
         "scaling pixels to [0, 1]); channels 3 (RGB) or 1; channel_order RGB or BGR; layout NCHW or NHWC; "
         "convert_channels: convert grayscale to RGB (or back) instead of refusing.")
ready = fm is not None and fi is not None
if st.button("Load and check", type="primary", disabled=not ready, key="ia_load",
             help=None if ready else "Upload a model and a zip of images first."):
    with error_boundary("Loading the images and the model"):
        glue.load(fm.getvalue(), fm.name, fs.getvalue() if fs else None, fi.getvalue(), fi.name,
                  fl.getvalue() if fl else None, prep_text, float(budget))

s = state.image_audit()
images, model = s.get("images"), s.get("model")
if images is None or model is None:
    st.info("Upload a model and images, then press **Load and check**. Nothing runs before the check passes.")
    st.stop()

# --- what was loaded ---------------------------------------------------------------------------------
summary = images.summary()
st.markdown(f"**{images.name}** · {summary['images']:,} images · {summary['classes']} classes · input "
            f"{' × '.join(map(str, images.image_shape))} · group columns: {', '.join(summary['groups']) or 'none'}")
a, b = st.columns(2)
a.markdown("**Preprocessing**\n" + "\n".join(f"1. {step}" for step in images.preprocess.describe()))
b.success("**Sample check passed** — " + model.name + "\n" + "\n".join(f"- {line}" for line in model.check.lines()))
st.image([images.pixels[i] for i in range(min(8, len(images)))], width=72,
         caption=[f"{images.files[i]} ({images.labels[i]})" for i in range(min(8, len(images)))])

# --- 2 · audit ---------------------------------------------------------------------------------------
st.subheader("2 · Audit")
c1, c2, c3 = st.columns([1, 2, 1])
favourable = c1.selectbox("Favourable class", list(model.classes), key="ia_fav",
                          help="A prediction of this class is the favourable decision fairness is audited on.")
sensitive = c2.multiselect("Groups to compare", list(images.groups.columns), default=list(images.groups.columns),
                           key="ia_groups")
n_boot = c3.number_input("Bootstrap resamples", 0, 20_000, 500, step=100, key="ia_boot")
if st.button("Run the audit", type="primary", key="ia_run"):
    with error_boundary("The image audit"):
        glue.run_audit(favourable, sensitive, int(n_boot))

bundle = s.get("bundle")
if bundle is not None:
    metrics = bundle.extras["performance_details"][0]
    m1, m2, m3 = st.columns(3)
    m1.metric("Accuracy", f"{metrics.accuracy:.3f}")
    m2.metric("Balanced accuracy", f"{metrics.balanced_accuracy:.3f}")
    m3.metric(f"ROC AUC ({metrics.favourable_class} vs rest)", f"{bundle.performance.roc_auc:.3f}")
    st.markdown("**Per class**")
    st.dataframe(metrics.per_class.rename(columns=str.capitalize).style.format(
        {"Precision": "{:.3f}", "Recall": "{:.3f}", "F1": "{:.3f}"}), key="ia_per_class")
    for attr, audit in bundle.fairness.items():
        st.markdown(f"**Fairness by {attr}** — favourable: predicted *{metrics.favourable_class}*")
        (st.warning if audit.four_fifths_violated else st.success)(audit.four_fifths_verdict)
        cols = [*st.columns(2), *st.columns(2)]
        for col, k in zip(cols, ("demographic_parity_difference", "equalized_odds_difference",
                                 "demographic_parity_ratio", "equalized_odds_ratio"), strict=True):
            lo, hi = audit.summary_ci[k]
            col.metric(METRIC_LABELS[k], f"{audit.summary[k]:.3f}",
                       help=f"{audit.params['confidence']:.0%} interval {lo:.3f} – {hi:.3f}" if np.isfinite(lo)
                       else "No interval (0 bootstrap resamples)")
        bg = audit.by_group
        st.dataframe(pd.DataFrame({
            "Images": bg["count"].astype(int),
            "Selection rate [95% CI]": [f"{bg.at[g, 'selection_rate']:.3f} [{audit.ci_low.at[g, 'selection_rate']:.3f}, "
                                        f"{audit.ci_high.at[g, 'selection_rate']:.3f}]" for g in bg.index],
            "True positive rate [95% CI]": [f"{bg.at[g, 'tpr']:.3f} [{audit.ci_low.at[g, 'tpr']:.3f}, "
                                            f"{audit.ci_high.at[g, 'tpr']:.3f}]" for g in bg.index],
            "Impact ratio": [f"{v:.3f}" for v in bg["impact_ratio"]]}, index=bg.index.rename(attr)),
            key=f"ia_groups_{attr}")
        for w in audit.warnings:
            st.caption(w)
        st.plotly_chart(group_metric_bars(audit), key=f"ia_bars_{attr}")
    if not bundle.fairness:
        st.info("No group columns were chosen, so fairness was not audited.")
    if st.button("Build the PDF report", key="ia_pdf"):
        with error_boundary("The report"):
            s["pdf"] = glue.report_pdf(bundle)
    if s.get("pdf"):
        st.download_button("Download the PDF", s["pdf"], "image_audit.pdf", "application/pdf", key="ia_pdf_dl")

# --- 3 · explain -------------------------------------------------------------------------------------
st.subheader("3 · Explain")
reasons = glue.method_reasons(model)
usable = [k for k, why in reasons.items() if why is None]
for k, why in reasons.items():
    if why is not None:
        st.caption(f"{glue.METHODS[k][0]} is unavailable for this model: {why.rstrip('.')}.")
if not usable:
    st.stop()
e1, e2 = st.columns([3, 1])
index = e1.selectbox("Image", range(len(images)), format_func=lambda i: f"{images.files[i]} ({images.labels[i]})",
                     key="ia_image")
target_class = e2.selectbox("Explain the score of", list(model.classes), key="ia_target",
                            index=list(model.classes).index(images.labels[index]))
target = list(model.classes).index(target_class)
if st.button("Explain this image", key="ia_explain"):
    with error_boundary("The explanation"):
        bar = st.progress(0.0, text="Computing…")
        for i, k in enumerate(usable):
            bar.progress(i / len(usable), text=f"{glue.METHODS[k][0]} ({i + 1} of {len(usable)})…")
            glue.heatmap(int(index), k, target)
        bar.empty()
        s["shown"] = (int(index), target)
if s.get("shown") == (int(index), target):
    maps = {glue.METHODS[k][0]: glue.heatmap(int(index), k, target) for k in usable}
    st.plotly_chart(image_heatmaps(glue.display(images, int(index)), maps,
                                   title=f"{images.files[int(index)]}: explaining class {target_class}"),
                    key="ia_heat")

grid = [k for k in glue.GRID_METHODS if k in usable]
if grid:
    st.markdown(f"**A grid**: the first {glue.GRID_SIZE} images labelled *{target_class}*, each explained for "
                f"that class")
    if st.button("Explain the grid", key="ia_grid"):
        with error_boundary("The grid"):
            picks = [i for i in range(len(images)) if images.labels[i] == target_class][:glue.GRID_SIZE]
            bar = st.progress(0.0, text="Computing…")
            for n, i in enumerate(picks):
                for k in grid:
                    glue.heatmap(i, k, target)
                bar.progress((n + 1) / len(picks), text=f"{n + 1} of {len(picks)} images")
            bar.empty()
            s["grid"] = (tuple(picks), target)
    if s.get("grid") and s["grid"][1] == target:
        picks = s["grid"][0]
        st.plotly_chart(heatmap_grid(images.pixels[list(picks)],
                                     [{glue.METHODS[k][0]: glue.heatmap(i, k, target) for k in grid} for i in picks],
                                     [images.files[i] for i in picks]), key="ia_grid_fig")
        st.caption("Each heatmap is scaled to its own largest magnitude: red speaks for the class, blue against it.")

# --- 4 · across images ---------------------------------------------------------------------------------
glue.across_section(grid or usable)
