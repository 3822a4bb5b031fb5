"""Glue for the Upload page: parse once per file, and switch the active data/model only after validation.

The handlers take bytes (what ``st.file_uploader`` returns through ``getvalue()``), so tests drive
them without a browser; the page only draws widgets and calls them inside ``error_boundary``.
A failing handler raises before touching :mod:`ui.state`, so the previous data and model stay active.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from dlxai.data import mapping, tables
from dlxai.errors import UserInputError
from dlxai.models import io as mio
from ui import state

TABLE = "dlxai.upload.table"  # (key, ParsedTable) of the last parsed data file
TEST_TABLE = "dlxai.upload.test_table"
PRED_TABLE = "dlxai.upload.pred_table"
PREDICTIONS = "dlxai.predictions"  # PredictionsOnly of the last predictions upload
PREDICTIONS_TABLE = "dlxai.predictions.table"  # the ParsedTable those predictions came from
PREDICTIONS_REPORT = "dlxai.predictions.report"  # ReportResult of those predictions
EXPORTS = "dlxai.upload.exports"  # model fingerprint -> {filename: bytes}
DELIMITERS = {"auto": None, ", (comma)": ",", "; (semicolon)": ";", "tab": "\t", "| (pipe)": "|"}
ENCODINGS = {"auto (UTF-8, else Latin-1)": None, "UTF-8": "utf-8", "Latin-1": "latin-1"}
PICKLE_BANNER = (
    "DLXAI_ALLOW_PICKLE=1 is set: pickle/joblib model files are loaded, and loading one runs any code it "
    "contains. Use this only alone, on your own machine, with files you created yourself."
)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parsed(data: bytes, name: str, delimiter=None, encoding=None, *, slot: str = TABLE,
           max_bytes: int = tables.DEFAULT_MAX_BYTES, progress=None) -> tables.ParsedTable:
    """:func:`dlxai.data.tables.read_table`, remembered per file content and options in the session
    (never in a shared cache: an upload belongs to one visitor)."""
    key = (digest(data), name, delimiter, encoding)
    hit = st.session_state.get(slot)
    if hit is not None and hit[0] == key:
        return hit[1]
    st.session_state.pop(slot, None)
    table = tables.read_table(data, name, delimiter=delimiter, encoding=encoding, max_bytes=max_bytes,
                              progress=progress)
    st.session_state[slot] = (key, table)
    return table


def use_dataset(table: tables.ParsedTable, target: str, positive, sensitive, categorical=(), ignore=(),
                *, test: tables.ParsedTable | None = None, test_size: float = 0.3, seed: int = 0):
    """Validate the mapping, build the dataset, and only then make it active."""
    df = table.frame
    types = {c: ("categorical" if c in categorical else "numeric") for c in df.columns}
    for c in ignore:
        types[c] = mapping.IGNORE
    schema = mapping.build_schema(df, target, positive, sensitive, types, ignore)
    ds = mapping.dataset_from_upload(table, schema, test=test, test_size=test_size, seed=seed)
    key = f"upload:{ds.fingerprint[:16]}"
    state.set_dataset(ds, key)
    state.set_sensitive(list(schema.sensitive[:2]))
    return ds


def use_model(data: bytes, name: str, *, spec: bytes | None = None, input_columns=None, trusted=None,
              output: str = "auto", time_budget_s: float = mio.DEFAULT_TIME_BUDGET_S):
    """Load a model, check its input contract on the active test rows, and only then make it active."""
    ds = state.dataset()
    if ds is None:
        raise UserInputError("Load or upload a dataset before a model: the model is checked on its rows.")
    m = mio.load_model(data, name, spec=spec, input_columns=input_columns, trusted=trusted, output=output,
                       sample=ds.X("test"), time_budget_s=time_budget_s, dataset_name=ds.name)
    state.set_model(m)
    return m


def use_predictions(table: tables.ParsedTable, label: str, positive, sensitive, *, prediction=None,
                    positive_prediction=None, score=None, threshold: float = 0.5):
    p = mio.load_predictions(table.frame, label, positive, sensitive, prediction=prediction,
                             positive_prediction=positive_prediction, score=score, threshold=threshold)
    st.session_state[PREDICTIONS] = p
    st.session_state[PREDICTIONS_TABLE] = table
    st.session_state.pop(PREDICTIONS_REPORT, None)  # a report of earlier predictions no longer applies
    return p


def predictions_bundle(n_bootstrap: int = 1000, rules=()):
    """The audit of the last predictions upload, every sensitive column on its own, for the PDF (as the CLI's
    ``audit --prediction-column/--score-column`` builds it)."""
    from dlxai.report import audit_predictions

    p, table = st.session_state.get(PREDICTIONS), st.session_state.get(PREDICTIONS_TABLE)
    if p is None or table is None:
        raise UserInputError("Audit a predictions file first (Upload → Predictions only), then build its report.")
    k = p.params
    return audit_predictions(table.frame, target=k["label"], sensitive=list(k["sensitive"]),
                             prediction_column=k["prediction"], score_column=k["score"], threshold=k["threshold"],
                             positive_label=k["positive_label"], rules=rules, n_bootstrap=n_bootstrap,
                             name=table.name, source=f"uploaded file {table.name}")


def exports(m) -> dict[str, bytes]:
    """Download files of the active model (computed once per model)."""
    cache = st.session_state.setdefault(EXPORTS, {})
    if m.fingerprint not in cache:
        weights, spec = mio.export_safetensors(m)
        cache.clear()
        cache[m.fingerprint] = {"model.safetensors": weights, "model.json": spec, "model.onnx": mio.export_onnx(m)}
    return cache[m.fingerprint]
