"""The ``dlxai-model-spec`` format: its JSON Schema (``spec.schema.json`` beside this file), validation, and
writing one for a scikit-learn pipeline, so nobody has to read the source to write a spec.

``python -m dlxai spec --model pipeline.skops --out spec.json`` (see :mod:`dlxai.cli`) and
:func:`spec_for_estimator` write a ``raw`` spec: the columns a fitted pipeline (or ColumnTransformer) reads,
which it reads as numbers and which as categories, with the encoders' categories.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from dlxai import errors
from dlxai.errors import UserInputError

SPEC_FORMAT = "dlxai-model-spec"
SPEC_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("spec.schema.json")
NOT_A_PIPELINE = (
    "{what} does not say which columns it reads: it was fitted on a matrix without column names (no "
    "feature_names_in_). Fit the pipeline on a pandas DataFrame (a ColumnTransformer selecting columns by name), "
    "or write a spec with the preprocessing that produced its matrix."
)


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of ``dlxai-model-spec``."""
    return json.loads(SCHEMA_PATH.read_text())


def _where(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "the top level"


def validate_spec(spec: dict) -> None:
    """:class:`UserInputError` naming the first place where ``spec`` breaks the schema, and what the schema says
    that place should hold."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(spec))
    if error is None:
        return
    said = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
    detail = f"at {_where(error.absolute_path)}: {error.message}" + (f" ({said.rstrip('.')})" if said else "")
    raise UserInputError(errors.MODEL_SPEC_INVALID.format(detail=detail))


def spec_document(preprocessing: dict, *, name: str = "", output: str = "probabilities", **extra) -> dict:
    """A complete, valid spec around a ``preprocessing`` part."""
    doc = {"format": SPEC_FORMAT, "version": SPEC_VERSION, **({"name": name} if name else {}), "output": output,
           **extra, "preprocessing": preprocessing}
    validate_spec(doc)
    return doc


def spec_for_estimator(est, data=None, *, name: str = "") -> dict:
    """The spec of a fitted scikit-learn pipeline or ColumnTransformer that reads columns by name.

    ``data`` (training rows, optional) adds the levels the encoders do not list and the numeric medians.
    """
    from dlxai.models.rawcolumns import RawColumnsContract, sklearn_columns

    found = sklearn_columns(est)
    if found is None:
        raise UserInputError(NOT_A_PIPELINE.format(what=name or type(est).__name__))
    cols, kinds, cats = found
    contract = RawColumnsContract(cols, kinds, cats, None, "sklearn", name or type(est).__name__).fit(data)
    prep = contract.to_spec()
    if data is None:
        prep.pop("medians", None)  # not known without training rows
    output = "probabilities" if hasattr(est, "predict_proba") else "auto"
    return spec_document(prep, name=name, output=output, feature_columns=list(cols))


def spec_for_model(model) -> dict:
    """The spec of a loaded model's contract (any kind), e.g. to save what dlxai inferred for a file."""
    from dlxai.models.contracts import preprocessing_spec

    output = getattr(model.estimator, "output_", None) or model.params.get("output", "auto")
    return spec_document(preprocessing_spec(model.preprocessor), name=model.name, output=output,
                         feature_columns=list(model.feature_columns))
