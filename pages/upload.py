"""Upload: your own data (CSV/Parquet) with a schema mapping, your own model (safe formats), predictions-only
audits, and downloads of the active model.  A failed upload keeps the previous data and model active."""

import streamlit as st

from dlxai import errors
from dlxai.data import mapping
from dlxai.models.adapters import MODEL_AGNOSTIC, OUTPUT_KINDS
from dlxai.models.export import exportable
from dlxai.models.formats import detect_format, pickle_allowed, skops_untrusted_types
from dlxai.plots.fairness import group_sizes
from ui import state
from ui import upload as uu
from ui.errors import error_boundary

DATA_TYPES = ["csv", "tsv", "txt", "parquet", "gz", "zip", "bz2", "xz"]
MODEL_TYPES = ["onnx", "pt", "pth", "ts", "safetensors", "skops", "pkl", "pickle", "joblib", "bin"]

st.title("Upload your data and model")
if pickle_allowed():
    st.warning(uu.PICKLE_BANNER, icon=":material/dangerous:")
ds_now, m_now = state.dataset(), state.model()
st.caption(f"Active now: data **{ds_now.name if ds_now else '—'}**, model **{m_now.name if m_now else '—'}**. "
           "They stay active until an upload below passes every check.")
tab_data, tab_model, tab_pred, tab_export = st.tabs(["Data", "Model", "Predictions only", "Export"])

# --- data --------------------------------------------------------------------------------------
with tab_data:
    f = st.file_uploader("Data file (CSV or Parquet, optionally gzip/zip)", type=DATA_TYPES, key="up_data")
    ft = st.file_uploader("Separate test file (optional; else a seeded split)", type=DATA_TYPES, key="up_test")
    o1, o2 = st.columns(2)
    delim = uu.DELIMITERS[o1.selectbox("Delimiter", list(uu.DELIMITERS), key="up_delim")]
    enc = uu.ENCODINGS[o2.selectbox("Encoding", list(uu.ENCODINGS), key="up_enc")]
    table = test_table = None
    if f is not None:
        with error_boundary("Reading the data file"):
            bar = st.progress(0.0, text="Reading the file…")
            try:
                table = uu.parsed(f.getvalue(), f.name, delim, enc,
                                  progress=lambda x, what: bar.progress(x, text=what))
            finally:
                bar.empty()  # a refused file must not leave a bar stuck part-way
    if ft is not None and table is not None:
        with error_boundary("Reading the test file"):
            test_table = uu.parsed(ft.getvalue(), ft.name, delim, enc, slot="test")
    if table is not None:
        df = table.frame
        st.success(f"Read **{table.name}**: {len(df):,} rows × {df.shape[1]} columns ({table.format}"
                   + (f", delimiter {table.delimiter!r}, {table.encoding}" if table.format == "csv" else "")
                   + (f", {table.compression}-compressed" if table.compression else "") + ").")
        for note in table.notes:
            st.info(note)
        profiles = mapping.profile_columns(df)
        cols = list(df.columns)
        m1, m2 = st.columns(2)
        target = m1.selectbox("Target column", cols, index=cols.index(mapping.suggest_target(df)), key="up_target")
        labels = [str(v) for v in mapping.label_values(df, target)][:100] or ["—"]
        positive = m2.selectbox("Favourable (positive) label", labels, index=len(labels) - 1, key="up_positive")
        others = [c for c in cols if c != target]
        sensitive = st.multiselect("Sensitive columns", others, default=mapping.suggest_sensitive(df, target),
                                   key="up_sensitive")
        t1, t2 = st.columns(2)
        categorical = t1.multiselect("Categorical features (the rest are numeric)", others,
                                     default=[p.name for p in profiles if p.kind == "categorical" and p.name != target],
                                     key="up_categorical")
        ignore = t2.multiselect("Columns to ignore", others,
                                default=[p.name for p in profiles if p.kind == mapping.IGNORE and p.name != target],
                                key="up_ignore")
        s1, s2 = st.columns(2)
        test_size = s1.slider("Test share (without a test file)", 0.1, 0.5, 0.3, 0.05, key="up_test_size")
        seed = s2.number_input("Split seed", 0, 100_000, 0, key="up_seed")
        with st.expander("Preview: rows, detected types, group sizes", expanded=True):
            pv = mapping.preview(df, target=target, sensitive=sensitive, profiles=profiles)
            st.dataframe(pv.head, width="stretch")
            st.dataframe([{"column": p.name, "type": p.kind, "dtype": p.dtype, "missing": p.n_missing,
                           "distinct": p.n_unique, "note": p.note} for p in pv.profiles], width="stretch")
            for c, sizes in pv.group_sizes.items():
                st.plotly_chart(group_sizes(sizes, f"Group sizes: {c}"), key=f"up_sizes_{c}")
        if st.button("Use this dataset", type="primary", key="up_use_data"):
            with error_boundary("Using the uploaded data"):
                ds = uu.use_dataset(table, target, positive, sensitive, categorical, ignore, test=test_table,
                                    test_size=float(test_size), seed=int(seed))
                st.success(f"**{ds.name}** is active: {len(ds.train):,} training and {len(ds.test):,} test rows. "
                           "Train a model on Data & model, or upload one in the Model tab.")

# --- model -------------------------------------------------------------------------------------
with tab_model:
    st.markdown("ONNX, TorchScript, safetensors + dlxai spec, or scikit-learn via skops. A pipeline fitted on a "
                "DataFrame, or ONNX with one input per column, reads the raw columns itself. ONNX and TorchScript "
                "run in a sandboxed worker process. Pickle/joblib files are refused: they run code when loaded.")
    fm = st.file_uploader("Model file", type=MODEL_TYPES, key="up_model")
    fs = st.file_uploader("Model spec (JSON, from dlxai's export or `python -m dlxai spec`)", type=["json"],
                          key="up_spec")
    ds = state.dataset()
    trusted = facts = None
    with error_boundary("Reading the model file"):
        if fm is not None:
            facts = uu.model_inputs(fm.getvalue(), fm.name)
            if detect_format(fm.getvalue(), fm.name) == "skops":
                types = skops_untrusted_types(fm.getvalue(), fm.name)
                if types:
                    st.warning("This file needs these types that skops does not trust by default: " + ", ".join(types))
                    if st.checkbox("I know this model and trust these types", key="up_trust"):
                        trusted = types
    input_columns = None
    if facts is not None and facts.kind == "named":
        st.info(f"The file names the columns it reads ({facts.summary()}): they are matched to the data's columns "
                "by name, so it needs no spec.")
    elif fs is None:
        if facts is not None and facts.needs_contract:
            st.caption(f"Input contract needed: {facts.describe()}, which does not say which data columns it reads. "
                       "Upload its spec, or declare its columns.")
        elif facts is not None:
            st.caption(f"This is {facts.describe()}. Declare columns below only for a model fitted on a bare matrix.")
        input_columns = st.multiselect(
            "…or the numeric columns the model takes, in order (without a spec)",
            list(ds.schema.features) if ds is not None else [], default=list(ds.schema.numeric) if ds else [],
            key=f"up_cols_{state.dataset_key()}",  # a new active dataset starts from its own numeric columns
            help="Used only when the file does not name its inputs and no spec is given.")
    c1, c2 = st.columns(2)
    output = c1.radio("Model output", OUTPUT_KINDS, horizontal=True, key="up_output")
    budget = c2.number_input("Time budget (s per 256 rows)", 0.5, 120.0, 10.0, key="up_budget",
                             help="The check on 256 rows must finish within it, and every later prediction "
                                  "within it per 256 rows; an ONNX/TorchScript model that runs longer is stopped.")
    if st.button("Load and check the model", type="primary", key="up_load_model", disabled=fm is None):
        with error_boundary("Loading the model"), st.spinner("Loading, then running the model on sample rows…"):
            m = uu.use_model(fm.getvalue(), fm.name, spec=fs.getvalue() if fs is not None else None,
                             input_columns=input_columns, trusted=trusted, output=output, time_budget_s=float(budget))
            c = m.contract
            st.success(f"**{m.name}** is active. Contract: {c.contract}. Checked on {c.n_rows} rows: output "
                       f"{c.output_shape} read as {c.output_kind}, {c.seconds * 1000:.0f} ms.")
            st.caption("Available: " + ", ".join(m.available_methods) + "."
                       + (f" Gradient methods explain {m.explains}." if m.explains else ""))
            if m.conversion_error:
                st.warning(errors.MODEL_CONVERSION_FAILED.format(detail=m.conversion_error, available=MODEL_AGNOSTIC))
            elif m.contract_kind == "raw":
                st.info(f"{m.gradients_unavailable[0].upper()}{m.gradients_unavailable[1:]}.")
            for w in m.warnings:
                st.warning(w)

# --- predictions only ---------------------------------------------------------------------------
with tab_pred:
    uu.predictions_tab(DATA_TYPES)

# --- export ------------------------------------------------------------------------------------
with tab_export:
    m = state.model()
    if m is None:
        st.info("No active model: train one on Data & model first.")
    elif not exportable(m):
        st.info(f"{m.name} is not one of dlxai's own architectures; only models trained in the app export.")
    else:
        with error_boundary("Exporting the model"):
            files = uu.exports(m)
            st.markdown(f"**{m.name}**: weights + spec re-upload here to the same predictions; the ONNX file takes "
                        "the preprocessed matrix, so upload it with the spec.")
            d = st.columns(3)
            for i, (fname, blob) in enumerate(files.items()):
                d[i].download_button(f"Download {fname}", blob, file_name=fname, key=f"up_dl_{fname}")
