"""One validator per rule: thresholds, labels, sensitive columns, numbers, group levels.

Every entry point (library verbs, CLI, pages) calls these instead of writing its own check, so a
rule has one message and one behaviour everywhere.  Each raises :class:`~dlxai.errors.UserInputError`
saying what was wrong, what was received and how to fix it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.errors import UserInputError

MISSING_LEVEL = "missing"

BAD_THRESHOLD = "The decision threshold must lie strictly between 0 and 1; received {value!r}. Use e.g. 0.5."
BAD_NUMBER = "{name} must be {rule}; received {value!r}."
BAD_LABEL = "The positive label {label!r} does not occur in {column!r}, whose values are {values}. Choose one of them."


def check_threshold(value) -> float:
    """A decision threshold on probabilities: a real number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < float(value) < 1.0:
        raise UserInputError(BAD_THRESHOLD.format(value=value))
    return float(value)


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """A whole number in ``[low, high]`` (either end open when None); the message states the range."""
    ok = isinstance(value, Integral) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and value.is_integer():
        ok, value = True, int(value)
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    raise UserInputError(BAD_NUMBER.format(name=name, rule=_range_text("a whole number", low, high), value=value))


def check_float(value, name: str, *, low: float | None = None, high: float | None = None,
                open_low: bool = False, open_high: bool = False) -> float:
    """A finite real number in the given range (ends closed unless ``open_*``); the message states the range."""
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value)):
        v = float(value)
        lo_ok = low is None or (v > low if open_low else v >= low)
        hi_ok = high is None or (v < high if open_high else v <= high)
        if lo_ok and hi_ok:
            return v
    rule = _range_text("a finite number", low, high, open_low, open_high)
    raise UserInputError(BAD_NUMBER.format(name=name, rule=rule, value=value))


def _range_text(kind: str, low, high, open_low: bool = False, open_high: bool = False) -> str:
    if low is not None and high is not None:
        left, right = ("(" if open_low else "["), (")" if open_high else "]")
        return f"{kind} in {left}{low}, {high}{right}"
    if low is not None:
        return f"{kind} {'>' if open_low else '≥'} {low}"
    if high is not None:
        return f"{kind} {'<' if open_high else '≤'} {high}"
    return kind


def is_label(value, label) -> bool:
    """Whether a cell holds ``label``: equal as values (1 == 1.0 == True) or as text ("1" and 1)."""
    try:
        if bool(value == label):
            return True
    except (TypeError, ValueError):
        pass
    return str(value) == str(label)


def check_positive_label(values, label, column: str, *, exact: bool = False):
    """The raw value among ``values`` that is the favourable ``label`` (matched as by :func:`is_label`, or
    by equality alone when ``exact``); else a clear error listing the values to choose from."""
    uniq = list(pd.unique(pd.Series(list(values), dtype=object).dropna()))
    for v in uniq:
        if (v == label) if exact else is_label(v, label):
            return v
    raise UserInputError(BAD_LABEL.format(label=label, column=column, values=sorted(map(str, uniq))[:20]))


def check_target_not_sensitive(target, sensitive) -> None:
    """The target (or label) column is not among the sensitive attributes."""
    if target in list(sensitive):
        raise UserInputError(errors.TARGET_IS_SENSITIVE.format(target=target))


def check_sensitive(columns, available, *, at_least: int = 1) -> list[str]:
    """Sensitive column names, each present in ``available``; at least ``at_least`` of them."""
    if columns is None or isinstance(columns, str):
        columns = [] if columns is None else [columns]
    cols = [str(c) for c in columns]
    if len(cols) < at_least:
        raise UserInputError(errors.NO_SENSITIVE)
    avail = list(available)
    for c in cols:
        if c not in avail:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=avail))
    return cols


def as_levels(values) -> pd.Series | pd.DataFrame:
    """Group levels as text, a missing value a level of its own (``"missing"``): one rule for every grouping."""
    if isinstance(values, pd.DataFrame):
        return values.astype(object).where(values.notna(), MISSING_LEVEL).astype(str)
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    return s.astype(object).where(s.notna(), MISSING_LEVEL).astype(str)
