"""Predictions only: a table that already holds a model's decisions (or scores), audited without the model.

:func:`decisions` is the one rule that turns a prediction column, or a score column cut at a threshold, into
0/1 decisions.  The Upload page (through :func:`load_predictions`), the CLI and the report
(:func:`dlxai.report.audit_predictions`) all call it, so one file with one set of settings gives the same
decisions everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import UserInputError
from dlxai.validation import as_levels, check_positive_label, check_target_not_sensitive, is_label

# the CLI's --score-direction and the Upload page's radio: is a score at or above the threshold favourable?
SCORE_DIRECTIONS = {"higher": True, "lower": False}


@dataclass(frozen=True)
class Decisions:
    """0/1 decisions (1 = favourable), the scores they were cut from (None for a prediction column), and how."""

    y_pred: np.ndarray
    scores: np.ndarray | None
    described: str  # e.g. "score column 'risk' <= 5", for the model card


@dataclass(frozen=True)
class PredictionsOnly:
    """Labels, decisions and groups from a predictions file: what a fairness audit without a model needs."""

    y_true: np.ndarray
    y_pred: np.ndarray
    sensitive: pd.DataFrame
    scores: np.ndarray | None = None
    params: dict = field(default_factory=dict)


def _marked(col: pd.Series, values: list, label) -> np.ndarray:
    return col.isin([v for v in values if is_label(v, label)]).to_numpy().astype(np.int64)


def prediction_decisions(col: pd.Series, name: str, target_values, positive, positive_prediction) -> np.ndarray:
    """A prediction column holding the target's labels, 0/1 or booleans (or two values, one named favourable)."""
    if col.isna().any():
        raise UserInputError(f"The prediction column {name!r} is missing in {int(col.isna().sum())} rows. "
                             "Every row needs a decision.")
    values = list(pd.unique(col))
    if positive_prediction is not None:
        if len(values) > 2:
            raise UserInputError(errors.NOT_BINARY_PREDICTIONS.format(
                what=f"The prediction column {name!r}", values=sorted(map(str, values))[:10]))
        if not any(is_label(v, positive_prediction) for v in values):
            raise UserInputError(f"The positive prediction {positive_prediction!r} does not occur in {name!r} (values "
                                 f"{sorted(map(str, values))}). Choose the value that means the favourable decision.")
        return _marked(col, values, positive_prediction)
    target_values = list(target_values)
    if target_values and all(any(is_label(v, t) for t in target_values) for v in values):
        return _marked(col, values, positive)  # the target's own labels: favourable is the positive label
    if pd.api.types.is_bool_dtype(col) or (
            pd.api.types.is_numeric_dtype(col) and set(np.asarray(values, dtype=float)) <= {0.0, 1.0}):
        return col.to_numpy().astype(np.int64)
    raise UserInputError(errors.NOT_BINARY_PREDICTIONS.format(what=f"The prediction column {name!r}",
                                                             values=sorted(map(str, values))[:5])
                         + f" Labels of the target ({sorted(map(str, target_values))}) are accepted too.")


def _finite_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_)) and bool(
        np.isfinite(x))


def score_decisions(col: pd.Series, name: str, threshold, higher_is_favourable: bool) -> tuple[np.ndarray, np.ndarray]:
    """A numeric score on any finite scale, favourable at or above (or at or below) a finite threshold."""
    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        raise UserInputError(errors.SCORE_NOT_NUMERIC.format(
            column=name, examples=list(col.dropna().astype(str).unique()[:3])))
    scores = col.to_numpy(np.float64, na_value=np.nan)
    if not np.isfinite(scores).all():
        raise UserInputError(errors.SCORE_NOT_FINITE.format(column=name, n=int((~np.isfinite(scores)).sum())))
    if threshold is None:
        raise UserInputError(errors.SCORE_NEEDS_THRESHOLD.format(column=name))
    if not _finite_number(threshold):
        raise UserInputError(errors.BAD_SCORE_THRESHOLD.format(value=threshold))
    if not isinstance(higher_is_favourable, (bool, np.bool_)):
        raise UserInputError(f"higher_is_favourable must be True or False; received {higher_is_favourable!r}.")
    fav = scores >= float(threshold) if higher_is_favourable else scores <= float(threshold)
    return fav.astype(np.int64), scores


def decisions(frame: pd.DataFrame, *, prediction: str | None = None, score: str | None = None, threshold=None,
              higher_is_favourable: bool = True, target_values=(), positive=None,
              positive_prediction=None) -> Decisions:
    """0/1 decisions from exactly one of a ``prediction`` column or a ``score`` column with a ``threshold``.

    A prediction column may hold the target's labels (``target_values``; favourable is ``positive``), 0/1 or
    booleans, or two values of which ``positive_prediction`` is the favourable one.  A score column holds
    finite numbers on any scale (probabilities, a 1-10 decile, a credit score); the decision is
    ``score >= threshold``, or ``score <= threshold`` when ``higher_is_favourable`` is False.
    """
    if (prediction is None) == (score is None):
        raise UserInputError(errors.PREDICTIONS_BOTH.format(prediction=prediction, score=score))
    column = prediction if prediction is not None else score
    if column not in frame.columns:
        raise UserInputError(errors.UNKNOWN_COLUMN.format(column=column, available=list(frame.columns)))
    if prediction is not None:
        if threshold is not None:
            raise UserInputError(errors.THRESHOLD_WITHOUT_SCORE.format(threshold=threshold, column=prediction))
        y_pred = prediction_decisions(frame[prediction], prediction, target_values, positive, positive_prediction)
        return Decisions(y_pred, None, f"prediction column {prediction!r}")
    y_pred, scores = score_decisions(frame[score], score, threshold, higher_is_favourable)
    return Decisions(y_pred, scores, f"score column {score!r} {'>=' if higher_is_favourable else '<='} {threshold:g}")


def _groups(frame: pd.DataFrame, sensitive: list[str]) -> pd.DataFrame:
    """The sensitive columns as text, missing a group of its own; each must split the rows into two groups."""
    groups = frame[sensitive].copy()
    for c in sensitive:
        g = groups[c].dropna().unique()
        if len(g) == 0:
            raise UserInputError(f"The sensitive attribute {c!r} is missing in every row. Pick another attribute or fill it.")
        if len(g) < 2:
            raise UserInputError(errors.SINGLE_GROUP.format(column=c, group=g[0]))
        groups[c] = as_levels(groups[c])
    return groups


def load_predictions(
    frame: pd.DataFrame,
    label: str,
    positive_label,
    sensitive,
    *,
    prediction: str | None = None,
    positive_prediction=None,
    score: str | None = None,
    threshold: float | None = None,
    higher_is_favourable: bool = True,
) -> PredictionsOnly:
    """Validate a predictions table: the true label, sensitive columns, and the decisions (see :func:`decisions`)."""
    if hasattr(frame, "frame"):  # a ParsedTable from dlxai.data.tables
        frame = frame.frame
    if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the predictions file"))
    sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive or [])
    if not sensitive:
        raise UserInputError(errors.NO_SENSITIVE)
    for c in [label, *sensitive]:
        if c not in frame.columns:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=list(frame.columns)))
    check_target_not_sensitive(label, sensitive)
    y = frame[label]
    if y.isna().any():
        raise UserInputError(f"The label {label!r} is missing in {int(y.isna().sum())} rows. Drop or fill those rows.")
    values = list(y.unique())
    if len(values) != 2:
        raise UserInputError(errors.NON_BINARY_TARGET.format(column=label, n=len(values), values=sorted(map(str, values))[:10]))
    pos = check_positive_label(values, positive_label, label)
    d = decisions(frame, prediction=prediction, score=score, threshold=threshold,
                  higher_is_favourable=higher_is_favourable, target_values=values, positive=pos,
                  positive_prediction=positive_prediction)
    return PredictionsOnly((y == pos).to_numpy(np.int64), d.y_pred, _groups(frame, sensitive), d.scores, {
        "label": label, "positive_label": pos, "sensitive": sensitive, "prediction": prediction, "score": score,
        "threshold": float(threshold) if score is not None else None,
        "higher_is_favourable": bool(higher_is_favourable) if score is not None else None})
