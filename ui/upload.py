"""Glue for the Upload page: parse once per file, and switch the active data/model only after validation.

The handlers take bytes (what ``st.file_uploader`` returns through ``getvalue()``), so tests drive
them without a browser; the page only draws widgets and calls them inside ``error_boundary``.
A failing handler raises before touching :mod:`ui.state`, so the previous data and model stay active.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from dlxai.data import mapping, tables
from dlxai.data.predictions import load_predictions
from dlxai.errors import UserInputError
from dlxai.models.contracts import DEFAULT_TIME_BUDGET_S
from dlxai.models.export import export_onnx, export_safetensors
from dlxai.models.formats import input_facts, load_model
from ui import state

DELIMITERS = {"auto": None, ", (comma)": ",", "; (semicolon)": ";", "tab": "\t", "| (pipe)": "|"}
ENCODINGS = {"auto (UTF-8, else Latin-1)": None, "UTF-8": "utf-8", "Latin-1": "latin-1"}
PICKLE_BANNER = (
    "DLXAI_ALLOW_PICKLE=1 is set: pickle/joblib model files are loaded, and loading one runs any code it "
    "contains. Use this only alone, on your own machine, with files you created yourself."
)


@st.cache_resource(show_spinner=False)
def prestart_model_worker():
    """Start, once per server process, the zygote that uploaded models' sandboxed workers fork from (it imports
    torch, which takes seconds), so the first upload does not wait.  The workers themselves are per upload."""
    from dlxai.models.worker import prestart

    return prestart()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parsed(data: bytes, name: str, delimiter=None, encoding=None, *, slot: str = "data",
           max_bytes: int = tables.DEFAULT_MAX_BYTES, progress=None) -> tables.ParsedTable:
    """:func:`dlxai.data.tables.read_table`, remembered per file content and options in the session
    (never in a shared cache: an upload belongs to one visitor).  ``slot``: "data", "test" or "predictions"."""
    key = (digest(data), name, delimiter, encoding)
    hit = state.parsed_table(slot, key)
    if hit is not None:
        return hit
    state.drop_parsed_table(slot)
    table = tables.read_table(data, name, delimiter=delimiter, encoding=encoding, max_bytes=max_bytes,
                              progress=progress)
    state.set_parsed_table(slot, key, table)
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


def model_inputs(data: bytes, name: str):
    """What the model file says about its inputs (:func:`dlxai.models.formats.input_facts`), matched against the
    active dataset's columns; None without a dataset."""
    ds = state.dataset()
    return None if ds is None else input_facts(data, name, tuple(ds.X("train").columns))


def use_model(data: bytes, name: str, *, spec: bytes | None = None, input_columns=None, trusted=None,
              output: str = "auto", time_budget_s: float = DEFAULT_TIME_BUDGET_S):
    """Load a model, check its input contract on the active test rows, and only then make it active.

    An ONNX/TorchScript upload gets its own sandboxed worker process (never shared through a cache); the worker of
    the model it replaces is stopped (it starts again, loading its model, if that model is picked again)."""
    ds = state.dataset()
    if ds is None:
        raise UserInputError("Load or upload a dataset before a model: the model is checked on its rows.")
    m = load_model(data, name, spec=spec, input_columns=input_columns, trusted=trusted, output=output,
                   sample=ds.X("test"), reference=ds.X("train"), positive_label=ds.schema.positive_label,
                   time_budget_s=time_budget_s, dataset_name=ds.name)
    replaced = [state.model(), state.models().get(m.name)]
    state.set_model(m)
    for old in {id(o): o for o in replaced if o is not None and o is not m}.values():
        close = getattr(old, "close", None)
        if close is not None:
            close()
    return m


def use_predictions(table: tables.ParsedTable, label: str, positive, sensitive, *, prediction=None,
                    positive_prediction=None, score=None, threshold: float | None = None,
                    higher_is_favourable: bool = True):
    """Validate a predictions table (the CLI's rules: :func:`dlxai.data.predictions.decisions`), then keep it."""
    p = load_predictions(table.frame, label, positive, sensitive, prediction=prediction,
                         positive_prediction=positive_prediction, score=score, threshold=threshold,
                         higher_is_favourable=higher_is_favourable)
    state.set_predictions(p, table)
    return p


def predictions_bundle(n_bootstrap: int = 1000, rules=()):
    """The audit of the last predictions upload, every sensitive column on its own, for the PDF (as the CLI's
    ``audit --prediction-column/--score-column`` builds it)."""
    from dlxai.report import audit_predictions

    p, table = state.predictions(), state.predictions_table()
    if p is None or table is None:
        raise UserInputError("Audit a predictions file first (Upload → Predictions only), then build its report.")
    k = p.params
    return audit_predictions(table.frame, target=k["label"], sensitive=list(k["sensitive"]),
                             prediction_column=k["prediction"], score_column=k["score"], threshold=k["threshold"],
                             higher_is_favourable=k["higher_is_favourable"] is not False,
                             positive_label=k["positive_label"], rules=rules, n_bootstrap=n_bootstrap,
                             name=table.name, source=f"uploaded file {table.name}")


def exports(m) -> dict[str, bytes]:
    """Download files of the active model (computed once per model)."""
    files = state.exports(m.fingerprint)
    if files is None:
        weights, spec = export_safetensors(m)
        files = {"model.safetensors": weights, "model.json": spec, "model.onnx": export_onnx(m)}
        state.set_exports(m.fingerprint, files)
    return files
