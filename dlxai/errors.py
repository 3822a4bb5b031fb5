"""One exception family for the whole engine.

Every message says what was wrong, what was received, and how to fix it.  Messages that tests
match on live here as module constants (Fairlearn's habit), formatted with ``.format(...)``.
"""

from __future__ import annotations


class DlxaiError(Exception):
    """Base class of every error dlxai raises on purpose."""


class UserInputError(DlxaiError, ValueError):
    """The user gave data, a parameter or a file that cannot be used as it is."""


class UnsupportedModelError(DlxaiError, TypeError):
    """The model cannot do what was asked (no gradients, no attention, wrong output shape...)."""


class NotFittedError(DlxaiError, AttributeError):
    """A result was asked of an estimator before ``fit`` was called."""


# --- messages (tests match on these) -------------------------------------------------------
NON_BINARY_TARGET = (
    "The target column {column!r} must have exactly two classes; it has {n} ({values}). "
    "Pick a binary target, or map it to two classes (e.g. income >50K vs <=50K) before loading."
)
SINGLE_GROUP = (
    "The sensitive attribute {column!r} has a single group ({group!r}) in the rows used, so there is "
    "nothing to compare. Pick an attribute with at least two groups."
)
NO_SENSITIVE = (
    "No sensitive attribute was selected. Choose at least one (e.g. sex or race) to audit how the "
    "model treats groups."
)
TOO_MANY_SENSITIVE = (
    "At most two sensitive attributes can be intersected; received {n} ({columns}). Pick one or two."
)
BAD_EPOCHS = "max_epochs must be a whole number of at least 1; received {value!r}. Use e.g. 30."
ALL_NAN_COLUMN = (
    "Column {column!r} has no values at all (every row is missing). Drop it or mark it as ignored."
)
UNKNOWN_COLUMN = "Column {column!r} is not in the data. Available columns: {available}."
LENGTH_MISMATCH = (
    "Found inputs with inconsistent numbers of rows: {lengths}. Pass y_true, y_pred and the "
    "sensitive features for the same rows."
)
EMPTY_INPUT = "No rows to work with ({what} is empty). Load data with at least one row."
NOT_BINARY_PREDICTIONS = (
    "{what} must hold only 0 and 1 (the positive label as 1); received values {values}. "
    "Threshold scores first, or map labels to 0/1."
)
NOT_FITTED = "{name} is not fitted yet. Call fit(X, y) before {method}()."
UNKNOWN_DATASET = "Unknown bundled dataset {name!r}. Choose one of: {choices}."
UNKNOWN_GROUP = "Reference group {group!r} is not among the groups {groups}."
