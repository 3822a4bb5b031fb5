"""Glue for the Upload page: parse once per file, and switch the active data/model only after validation.

The handlers take bytes (what ``st.file_uploader`` returns through ``getvalue()``), so tests drive
them without a browser; the page only draws widgets and calls them inside ``error_boundary``.
A failing handler raises before touching :mod:`ui.state`, so the previous data and model stay active.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from dlxai.data import mapping, tables
from dlxai.data.predictions import SCORE_DIRECTIONS, decisions, load_predictions
from dlxai.errors import UserInputError
from dlxai.models.contracts import DEFAULT_TIME_BUDGET_S
from dlxai.models.export import export_onnx, export_safetensors
from dlxai.models.formats import input_facts, load_model
from ui import report as ur
from ui import state
from ui.errors import error_boundary

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


PREDICTION_MODES = ("a prediction column", "a score and a threshold")


def _score_preview(frame, col: str, threshold: float, higher: bool) -> str:
    """The score column's scale and what the rule decides, through the one rule the CLI uses too
    (:func:`dlxai.data.predictions.decisions`): a threshold off the scale shows here, before the audit."""
    made = decisions(frame, score=col, threshold=float(threshold), higher_is_favourable=higher)
    return (f"Scores in {col!r} range from {made.scores.min():g} to {made.scores.max():g}; the rule score "
            f"{'≥' if higher else '≤'} {threshold:g} decides {int(made.y_pred.sum()):,} of {len(made.y_pred):,} rows "
            f"({made.y_pred.mean():.0%}) favourably.")


def _decision_column(df, columns: list, sensitive: list, by_score: bool) -> str:
    """The column the decisions most likely come from: not a sensitive one, and numeric for a score."""
    import pandas as pd

    fits = [c for c in columns if c not in sensitive and (not by_score or pd.api.types.is_numeric_dtype(df[c]))]
    return (fits or columns)[-1 if not by_score else 0]


def predictions_tab(types) -> None:
    """The Upload page's Predictions-only tab: the file, its mapping (the Data tab's target suggestion), the
    decision rule, and the audit of every selected sensitive column."""
    st.markdown("A CSV with the true label, the sensitive columns, and a prediction or a score column (any scale: "
                "probabilities, a 1-10 decile, a credit score): a fairness audit without a model.")
    fp = st.file_uploader("Predictions file", type=types, key="up_pred")
    pt = kw = None
    if fp is not None:
        with error_boundary("Reading the predictions file"):
            pt = parsed(fp.getvalue(), fp.name, slot="predictions")
            df = pt.frame
            pcols = list(df.columns)
            p1, p2 = st.columns(2)
            label = p1.selectbox("True label column", pcols, index=pcols.index(mapping.suggest_target(df)),
                                 key="up_p_label")
            plabels = [str(v) for v in mapping.label_values(df, label)][:100] or ["—"]
            ppos = p2.selectbox("Favourable label", plabels, index=len(plabels) - 1, key="up_p_pos")
            others = [c for c in pcols if c != label]
            psens = st.multiselect("Sensitive columns", others, default=mapping.suggest_sensitive(df, label),
                                   key="up_p_sens")
            mode = st.radio("Decisions from", PREDICTION_MODES, key="up_p_mode")
            q1, q2, q3 = st.columns(3)
            by_score = mode == PREDICTION_MODES[1]
            col = q1.selectbox("Column", others, index=others.index(_decision_column(df, others, psens, by_score)),
                               key="up_p_col")
            thr = q2.number_input("Threshold (on the score's scale)", value=0.5, key="up_p_thr", disabled=not by_score)
            direction = q3.radio("Favourable when the score is", list(SCORE_DIRECTIONS), key="up_p_dir",
                                 format_func=lambda d: f"{d} (score {'≥' if SCORE_DIRECTIONS[d] else '≤'} threshold)",
                                 disabled=not by_score)
            kw = {"prediction": col} if not by_score else {
                "score": col, "threshold": float(thr), "higher_is_favourable": SCORE_DIRECTIONS[direction]}
            if by_score:
                with error_boundary("The score column"):
                    st.caption(_score_preview(df, col, float(thr), SCORE_DIRECTIONS[direction]))
    if kw is not None and st.button("Audit the predictions", type="primary", key="up_p_go"):
        with error_boundary("Auditing the predictions"):
            use_predictions(pt, label, ppos, psens, **kw)
    pred = state.predictions()
    if pred is None:
        return
    with error_boundary("The predictions audit"):
        show_predictions_audit(pred)
    if st.button("Build the audit PDF of these predictions", key="up_p_pdf",
                 help="Every sensitive column on its own, with intervals, charts, limitations and a manifest."):
        with error_boundary("Building the predictions report"):
            state.set_predictions_report(ur.build_with_progress(predictions_bundle(),
                                                                title="Audit of the uploaded decisions"))
    res = state.predictions_report()
    if res is not None:
        st.download_button(f"Download the PDF ({res.pages} pages)", res.pdf, file_name="dlxai-audit.pdf",
                           mime="application/pdf", key="up_p_dl")


def show_predictions_audit(pred) -> None:
    """The fairness audit of the uploaded decisions by every selected sensitive column, each on its own."""
    from dlxai.fairness import audit_fairness
    from dlxai.plots.fairness import group_metric_bars

    k = pred.params
    rule = (f"the prediction column {k['prediction']!r}" if k.get("prediction") else
            f"the score column {k['score']!r} {'≥' if k['higher_is_favourable'] else '≤'} {k['threshold']:g}")
    st.caption(f"Decisions from {rule}; audited by each sensitive column on its own: "
               f"{', '.join(map(str, pred.sensitive.columns))}.")
    for c in pred.sensitive.columns:
        audit = audit_fairness(pred.y_true, pred.y_pred, pred.sensitive[[c]], n_bootstrap=200)
        st.subheader(f"Fairness of the uploaded predictions by {audit.attribute_label}")
        st.metric("Demographic parity difference", f"{audit.summary['demographic_parity_difference']:.3f}",
                  help=f"Largest gap in the share of favourable decisions between the groups of {c}.")
        st.dataframe(audit.by_group, width="stretch")
        st.plotly_chart(group_metric_bars(audit), key=f"up_p_bars_{c}")
