"""Every session key of the app, and small accessors to read and write each piece of state.

Pages and the other ``ui`` modules reach ``st.session_state`` only through this module (a test in
``tests/app/test_state.py`` checks it), so what a session remembers can be read in one place.

Streamlit deletes a widget's state when the page that draws it is not shown, so a value that must outlive
its page (the decision threshold, the sensitive attributes) lives under a key of its own here; its widgets
show it and write it back through :func:`bind`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import streamlit as st

from dlxai.data.dataset import TabularDataset
from dlxai.models.base import AuditModel
from dlxai.report import OPTIONAL

if TYPE_CHECKING:
    import pandas as pd

    from dlxai.data.predictions import PredictionsOnly
    from dlxai.data.tables import ParsedTable
    from dlxai.fairness.mitigation import Front, MitigationResult
    from dlxai.report import ReportResult

# --- the active audit --------------------------------------------------------------------------
DATASET = "dlxai.dataset"
DATASET_KEY = "dlxai.dataset_key"
MODEL = "dlxai.model"
MODELS = "dlxai.models"  # name -> AuditModel, every model of this session (trained, mitigated, uploaded)
SENSITIVE = "dlxai.sensitive"  # the sensitive attributes chosen on Data & model or Fairness
THRESHOLD = "dlxai.threshold"  # the one decision threshold of every page that turns scores into decisions
DEFAULT_THRESHOLD = 0.5

# --- results ---------------------------------------------------------------------------------
RESULTS = "dlxai.results"  # kind (one of RESULT_KINDS) -> (result, fingerprint of the model it describes | None)
RESULT_KINDS = OPTIONAL
EXPLANATION_RUNS = "dlxai.results.explanations"  # (model fingerprint, method) -> [attribution, its quality checks]
REPORT = "dlxai.report"  # BuiltReport of the last report built on the Report page
MITIGATION_RUNS = "dlxai.mitigation.runs"  # [(dataset fingerprint, MitigationResult | Front)], every run, in order
MITIGATION_LEFT_OUT = "dlxai.mitigation.left_out"  # dataset fingerprint -> run numbers the user left out of the report
BURDEN_COSTS = "dlxai.cf.burden_costs"  # (model, data, constraints, rows) -> counterfactual costs of rejected rows
BURDEN_KEEP = 8
CF_RESULTS = "dlxai.cf.results"  # (model, data, row, search settings) -> CounterfactualResult searched on the page
CF_KEEP = 16
IMAGE_MODELS = "dlxai.images.trained"  # kind -> key of the shared image-model registry entry this session trained
IMAGE_AUDIT = "dlxai.imageaudit"  # the Image audit page's upload: images, model, audit bundle, heatmaps computed

# --- the bias lab's dials and the lessons --------------------------------------------------------
LAB_DIALS = "dlxai.lab.dials"  # dial -> value: label_bias, proxy_strength, include_group, seed (Home and lessons)
LAB_DEFAULTS = {"label_bias": 0.3, "proxy_strength": 0.5, "include_group": False, "seed": 0}
LESSON_STEPS = "dlxai.lessons.step"  # lesson -> index of the step on screen
LESSON_VALUES = "dlxai.lessons.values"  # (lesson, dial) -> value of a lesson's own dial (image, λ, axis, …)
LESSON_RUNS = "dlxai.lessons.runs"  # lesson -> list of dlxai.lessons.history.Run, the class's run history
LESSON_RESULTS = "dlxai.lessons.results"  # (lesson, name) -> the last result a step of the lesson shows
LESSON_HANDOUTS = "dlxai.lessons.handouts"  # lesson -> (what it was made from, PDF bytes)

# --- uploads ---------------------------------------------------------------------------------
PARSED = "dlxai.upload.parsed"  # slot ("data", "test", "predictions") -> (file key, ParsedTable) of its last file
PREDICTIONS = "dlxai.predictions"  # PredictionsOnly of the last predictions upload
PREDICTIONS_TABLE = "dlxai.predictions.table"  # the ParsedTable those predictions came from
PREDICTIONS_REPORT = "dlxai.predictions.report"  # ReportResult of those predictions
EXPORTS = "dlxai.upload.exports"  # (model fingerprint, {filename: bytes}) of the last model exported


def bind(widget_key: str, value, setter: Callable[[Any], None]) -> dict:
    """Keyword arguments for a widget that shows ``value`` and hands each change to ``setter``.

    The widget's own key is refilled from ``value`` on every run, so it never relies on widget state that
    Streamlit dropped while another page was shown.  Pass no ``value``/``default`` to the widget itself.
    """
    st.session_state[widget_key] = value
    return {"key": widget_key, "on_change": _changed, "args": (widget_key, setter)}


def _changed(widget_key: str, setter: Callable[[Any], None]) -> None:
    setter(st.session_state[widget_key])


# --- the active audit --------------------------------------------------------------------------
def dataset() -> TabularDataset | None:
    return st.session_state.get(DATASET)


def dataset_key() -> str | None:
    return st.session_state.get(DATASET_KEY)


def set_dataset(ds: TabularDataset, key: str) -> None:
    """Make ``ds`` active.  A different dataset drops the models trained on the old one, and the results
    and the report that describe them."""
    if st.session_state.get(DATASET_KEY) != key:
        st.session_state[MODEL] = None
        st.session_state[MODELS] = {}
        st.session_state[SENSITIVE] = [ds.schema.sensitive[0]] if ds.schema.sensitive else []
        st.session_state.pop(RESULTS, None)
        st.session_state.pop(EXPLANATION_RUNS, None)
        st.session_state.pop(REPORT, None)
    st.session_state[DATASET] = ds
    st.session_state[DATASET_KEY] = key


def model() -> AuditModel | None:
    m = st.session_state.get(MODEL)
    ds = dataset()
    if m is not None and ds is not None and m.dataset and m.dataset != ds.name:
        return None
    return m


def models() -> dict[str, AuditModel]:
    return st.session_state.setdefault(MODELS, {})


def set_model(m: AuditModel) -> None:
    """Make ``m`` the active model for every page, and remember it for the model switcher."""
    models()[m.name] = m
    st.session_state[MODEL] = m


def sensitive() -> list[str]:
    return list(st.session_state.get(SENSITIVE, []))


def set_sensitive(cols: list[str]) -> None:
    st.session_state[SENSITIVE] = list(cols)


def threshold() -> float:
    """The decision threshold: a row is decided favourably when its score is at least this."""
    return float(st.session_state.get(THRESHOLD, DEFAULT_THRESHOLD))


def set_threshold(value: float) -> None:
    st.session_state[THRESHOLD] = float(value)


# --- results ---------------------------------------------------------------------------------
def set_result(kind: str, result, about: str | None = None) -> None:
    """Make ``result`` the one the report shows in section ``kind`` (one of :data:`RESULT_KINDS`).

    ``about`` is the fingerprint of the model the result describes; the report leaves the result out once
    another model is active, so it never presents one model's explanations as another's.
    Explanations are kept per method: the report has a section for every method run on the model in this session
    (the last run of each), so ``result`` there is the list of one method's attribution and its quality checks.
    """
    if kind not in RESULT_KINDS:
        raise KeyError(f"Unknown result kind {kind!r}; use one of {list(RESULT_KINDS)}.")
    if kind == "explanations" and result is not None:
        items = list(result) if isinstance(result, (list, tuple)) else [result]
        method = next((getattr(i, "method", None) for i in items if getattr(i, "method", None)), None)
        st.session_state.setdefault(EXPLANATION_RUNS, {})[(about, method)] = items
        return
    st.session_state.setdefault(RESULTS, {})[kind] = (result, about)


def results(model_key: str | None = None) -> dict:
    """Results other pages left (kind -> result) that describe the model ``model_key`` (or no one model).

    ``"explanations"`` is every method's results run on that model, in the order the methods were first run."""
    found = {kind: result for kind, (result, about) in st.session_state.get(RESULTS, {}).items()
             if result is not None and (about is None or model_key is None or about == model_key)}
    explained = [item for (about, _), items in st.session_state.get(EXPLANATION_RUNS, {}).items()
                 if about is None or model_key is None or about == model_key for item in items]
    if explained:
        found["explanations"] = explained
    return found


class BuiltReport(NamedTuple):
    result: ReportResult
    checks: list  # (rule, attribute, value, PASS/FAIL/UNDEFINED) rows of its executive summary
    passed: bool
    about: str  # fingerprint of the model it audits


def set_report(report: BuiltReport) -> None:
    st.session_state[REPORT] = report


def report(model_key: str) -> BuiltReport | None:
    """The last report built for the model ``model_key``."""
    r = st.session_state.get(REPORT)
    return r if r is not None and r.about == model_key else None


def add_mitigation_run(dataset_fingerprint: str, out: MitigationResult | Front) -> int:
    """Remember a mitigation run (every run of the session is kept); returns its number on this data (1-based)."""
    st.session_state.setdefault(MITIGATION_RUNS, []).append((dataset_fingerprint, out))
    return len(mitigation_runs(dataset_fingerprint))


def mitigation_runs(dataset_fingerprint: str) -> list[MitigationResult | Front]:
    """Every mitigation run on the data ``dataset_fingerprint``, oldest first (run k is item k - 1)."""
    return [out for fp, out in st.session_state.get(MITIGATION_RUNS, []) if fp == dataset_fingerprint]


def mitigation_left_out(dataset_fingerprint: str) -> set[int]:
    """Run numbers (1-based) the user left out of the report; every other run, new ones too, goes in."""
    return set(st.session_state.get(MITIGATION_LEFT_OUT, {}).get(dataset_fingerprint, ()))


def set_mitigation_left_out(dataset_fingerprint: str, runs) -> None:
    st.session_state.setdefault(MITIGATION_LEFT_OUT, {})[dataset_fingerprint] = sorted(int(k) for k in runs)


def burden_costs(key: tuple) -> pd.DataFrame | None:
    return st.session_state.get(BURDEN_COSTS, {}).get(key)


def set_burden_costs(key: tuple, costs: pd.DataFrame) -> None:
    """Keep ``costs`` under ``key``, with the :data:`BURDEN_KEEP` most recent others."""
    store = st.session_state.setdefault(BURDEN_COSTS, {})
    store[key] = costs
    while len(store) > BURDEN_KEEP:
        store.pop(next(iter(store)))


def counterfactuals(key: tuple):
    """The counterfactuals searched on the page under ``key`` (model, data, row, settings), or None."""
    return st.session_state.get(CF_RESULTS, {}).get(key)


def set_counterfactuals(key: tuple, result) -> None:
    """Keep ``result`` under ``key``, with the :data:`CF_KEEP` most recent others."""
    store = st.session_state.setdefault(CF_RESULTS, {})
    store.pop(key, None)
    store[key] = result
    while len(store) > CF_KEEP:
        store.pop(next(iter(store)))


def last_counterfactuals(model_fingerprint: str):
    """The most recent page search on the model ``model_fingerprint`` (its time estimates the next one)."""
    mine = [r for key, r in st.session_state.get(CF_RESULTS, {}).items() if key[0] == model_fingerprint]
    return mine[-1] if mine else None


def image_models() -> dict:
    """kind -> registry key of each image model this session trained."""
    return dict(st.session_state.get(IMAGE_MODELS, {}))


def set_image_model(kind: str, registry_key: tuple) -> None:
    st.session_state.setdefault(IMAGE_MODELS, {})[kind] = registry_key


def image_audit() -> dict:
    """The Image audit page's state: ``images`` (ImageSet), ``model`` (ImageModel), ``bundle`` (AuditBundle) and
    ``maps`` ((model, data, image, method, target) -> heatmap), each present once made."""
    return st.session_state.setdefault(IMAGE_AUDIT, {})


def set_image_audit(**values) -> None:
    """Replace the page's upload (new images/model drop the audit and heatmaps made from the old ones)."""
    st.session_state[IMAGE_AUDIT] = {**values, "maps": {}}


# --- the bias lab's dials and the lessons --------------------------------------------------------
def lab_dials() -> dict:
    """The bias lab's dials as the student last set them (on Home or in a lesson)."""
    return {**LAB_DEFAULTS, **st.session_state.get(LAB_DIALS, {})}


def set_lab_dial(name: str, value) -> None:
    if name not in LAB_DEFAULTS:
        raise KeyError(f"Unknown bias lab dial {name!r}; use one of {list(LAB_DEFAULTS)}.")
    st.session_state[LAB_DIALS] = {**lab_dials(), name: value}


def lesson_step(lesson: str) -> int:
    return int(st.session_state.get(LESSON_STEPS, {}).get(lesson, 0))


def set_lesson_step(lesson: str, index: int) -> None:
    st.session_state.setdefault(LESSON_STEPS, {})[lesson] = int(index)


def lesson_value(lesson: str, name: str, default=None):
    return st.session_state.get(LESSON_VALUES, {}).get((lesson, name), default)


def set_lesson_value(lesson: str, name: str, value) -> None:
    st.session_state.setdefault(LESSON_VALUES, {})[(lesson, name)] = value


def lesson_runs(lesson: str) -> list:
    return list(st.session_state.get(LESSON_RUNS, {}).get(lesson, []))


def set_lesson_runs(lesson: str, runs: list) -> None:
    st.session_state.setdefault(LESSON_RUNS, {})[lesson] = list(runs)


def lesson_result(lesson: str, name: str):
    return st.session_state.get(LESSON_RESULTS, {}).get((lesson, name))


def set_lesson_result(lesson: str, name: str, result) -> None:
    st.session_state.setdefault(LESSON_RESULTS, {})[(lesson, name)] = result


def lesson_handout(lesson: str, made_from) -> bytes | None:
    """The handout last made for ``lesson``, if it was made from the same runs and options (``made_from``)."""
    saved = st.session_state.get(LESSON_HANDOUTS, {}).get(lesson)
    return saved[1] if saved is not None and saved[0] == made_from else None


def set_lesson_handout(lesson: str, made_from, pdf: bytes) -> None:
    st.session_state.setdefault(LESSON_HANDOUTS, {})[lesson] = (made_from, pdf)


# --- uploads ---------------------------------------------------------------------------------
def parsed_table(slot: str, file_key: tuple) -> ParsedTable | None:
    """The table last parsed into ``slot``, if it came from the same file and options (``file_key``)."""
    hit = st.session_state.get(PARSED, {}).get(slot)
    return hit[1] if hit is not None and hit[0] == file_key else None


def set_parsed_table(slot: str, file_key: tuple, table: ParsedTable) -> None:
    """Keep ``table`` as ``slot``'s one parsed file."""
    st.session_state.setdefault(PARSED, {})[slot] = (file_key, table)


def drop_parsed_table(slot: str) -> None:
    """Forget ``slot``'s last table (before parsing the next, so two never sit in memory together)."""
    st.session_state.get(PARSED, {}).pop(slot, None)


def predictions() -> PredictionsOnly | None:
    return st.session_state.get(PREDICTIONS)


def predictions_table() -> ParsedTable | None:
    return st.session_state.get(PREDICTIONS_TABLE)


def set_predictions(p: PredictionsOnly, table: ParsedTable) -> None:
    """Keep the predictions just audited; a report of earlier predictions no longer applies."""
    st.session_state[PREDICTIONS] = p
    st.session_state[PREDICTIONS_TABLE] = table
    st.session_state.pop(PREDICTIONS_REPORT, None)


def predictions_report() -> ReportResult | None:
    return st.session_state.get(PREDICTIONS_REPORT)


def set_predictions_report(result: ReportResult) -> None:
    st.session_state[PREDICTIONS_REPORT] = result


def exports(model_fingerprint: str) -> dict[str, bytes] | None:
    saved = st.session_state.get(EXPORTS)
    return saved[1] if saved is not None and saved[0] == model_fingerprint else None


def set_exports(model_fingerprint: str, files: dict[str, bytes]) -> None:
    st.session_state[EXPORTS] = (model_fingerprint, files)
