"""Data & model: the data and its groups, the target and sensitive attributes, training, performance."""

import streamlit as st

from dlxai.fairness import METRIC_LABELS
from dlxai.models import MODEL_KINDS
from dlxai.plots.fairness import group_sizes
from dlxai.plots.performance import calibration_curve, confusion_matrix, training_curve
from ui import state
from ui.cache import performance
from ui.errors import error_boundary
from ui.training import train_with_progress
from ui.widgets import glossary_expander, glossary_help, require_dataset, threshold_slider


def _classes(dataset) -> tuple[str, str]:
    """The unfavourable and the favourable class as the data spells them (for the confusion matrix)."""
    pos = str(dataset.schema.positive_label)
    others = sorted({str(v) for v in dataset.test[dataset.schema.target].dropna().unique()} - {pos})
    return (others[0] if len(others) == 1 else f"not {pos}"), pos


st.title("Data & model")
ds = require_dataset()

# --- data -----------------------------------------------------------------------------------
s = ds.summary()
c = st.columns(4)
c[0].metric("Training rows", f"{s['train_rows']:,}")  # no help icon: its "Help for Training rows" button
# would also answer to the name "Train" that tests/e2e click
c[1].metric("Test rows", f"{s['test_rows']:,}", help="Held-out rows every metric and fairness audit is computed on.")
c[2].metric("Features", f"{s['features']:,}", help=f"{s['numeric']} numeric and {s['categorical']} categorical columns "
            "the model reads.")
c[3].metric("Favourable outcome rate", f"{s['positive_rate_train']:.1%}",
            help=f"Share of training rows whose {s['target']} is {s['positive_label']}, the favourable outcome.")
st.caption(f"{ds.description}  \nSource: {ds.provenance}")
with st.expander("Preview (first 20 training rows)"):
    st.dataframe(ds.train.head(20), width="stretch")

st.subheader("Target and sensitive attributes")
cols = [c for c in ds.train.columns]
t1, t2 = st.columns(2)
target = t1.selectbox("Target column", cols, index=cols.index(ds.schema.target), key="dm_target")
values = sorted(map(str, ds.train[target].dropna().unique()))[:50]
default_pos = str(ds.schema.positive_label) if str(ds.schema.positive_label) in values else values[0]
positive = t2.selectbox("Favourable (positive) label", values, index=values.index(default_pos), key="dm_positive")
if target != ds.schema.target or positive != str(ds.schema.positive_label):
    with error_boundary("Changing the target"):
        raw = next(v for v in ds.train[target].dropna().unique() if str(v) == positive)
        new = ds.with_target(target, raw)
        state.set_dataset(new, f"{state.dataset_key()}|target={target}:{positive}")
        st.rerun()

options = ds.group_columns()
chosen = st.multiselect(
    "Sensitive attributes (one, or two to audit their intersection)", options, max_selections=2,
    **state.bind("dm_sensitive", [c for c in state.sensitive() if c in options][:2], state.set_sensitive),
)
if chosen:
    for col, attr in zip(st.columns(len(chosen)), chosen):
        col.plotly_chart(group_sizes(ds.group_sizes(attr), f"Rows per group: {attr}"), key=f"dm_sizes_{attr}")
else:
    st.warning("No sensitive attribute selected: the Fairness page needs at least one.")

# --- model ----------------------------------------------------------------------------------
st.subheader("Train a model")
with st.form("train_form"):
    kind = st.selectbox("Model", list(MODEL_KINDS), format_func=lambda k: MODEL_KINDS[k][0], key="dm_kind")
    f1, f2, f3, f4 = st.columns(4)
    epochs = f1.number_input("Max epochs (MLP)", min_value=0, max_value=500, value=30, key="dm_epochs")
    hidden = f2.text_input("Hidden layers (MLP)", "128,64", key="dm_hidden")
    lr = f3.number_input("Learning rate (MLP)", min_value=1e-5, max_value=1.0, value=2e-3, format="%.4f", key="dm_lr")
    seed = f4.number_input("Seed", min_value=0, max_value=100_000, value=0, key="dm_seed")
    submitted = st.form_submit_button("Train", type="primary")

if submitted:
    with error_boundary("Training"):
        if kind == "mlp":
            try:
                sizes = tuple(int(x) for x in hidden.replace(" ", "").split(",") if x)
            except ValueError:
                sizes = (-1,)
            params = {"max_epochs": int(epochs), "hidden_layer_sizes": sizes, "learning_rate": float(lr)}
        else:
            params = {}
        m = train_with_progress(kind, params, int(seed))
        st.success(f"Trained **{m.name}** in {m.fit_seconds:.1f} s. It is now the active model on every page.")

m = state.model()
if m is None:
    st.info("No model yet: train one above.")
    st.stop()

st.subheader(f"Performance of {m.name} on the test split")
threshold = threshold_slider(st, "dm_threshold")
with error_boundary("Evaluating the model"):
    rep = performance(m, m.fingerprint, ds, ds.fingerprint, threshold)
    keys = ("accuracy", "balanced_accuracy", "roc_auc", "brier")
    for col, k, v in zip(st.columns(4), keys, (rep.accuracy, rep.balanced_accuracy, rep.roc_auc, rep.brier)):
        col.metric(METRIC_LABELS[k], f"{v:.3f}", help=glossary_help(k))
    glossary_expander(keys)
    a, b = st.columns(2)
    a.plotly_chart(confusion_matrix(rep, _classes(ds)), key="dm_cm")
    b.plotly_chart(calibration_curve(rep), key="dm_cal")
    history = getattr(m.estimator, "history_", None)
    if history:
        st.plotly_chart(training_curve(history), key="dm_hist")
