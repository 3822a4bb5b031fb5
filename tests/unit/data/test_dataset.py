"""make_dataset: its checks on the frame and the schema, and target changes."""

import numpy as np
import pandas as pd
import pytest

from dlxai import errors
from dlxai.data import Schema, make_dataset
from dlxai.errors import UserInputError


def _frame(**over):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "x": rng.normal(size=40), "c": rng.choice(["u", "v"], 40), "s": rng.choice(["f", "m"], 40),
        "y": rng.choice(["yes", "no"], 40),
    })
    for k, v in over.items():
        df[k] = v
    return df


SCHEMA = Schema(target="y", positive_label="yes", sensitive=("s",), numeric=("x",), categorical=("c", "s"))


def test_non_binary_target_is_refused():
    df = _frame(y=np.resize(["a", "b", "c"], 40))
    with pytest.raises(UserInputError, match="exactly two classes; it has 3"):
        make_dataset("t", df, SCHEMA)


def test_single_group_sensitive_attribute_is_refused():
    with pytest.raises(UserInputError, match=r"single group \('f'\)"):
        make_dataset("t", _frame(s="f"), SCHEMA)


def test_all_nan_column_is_refused():
    with pytest.raises(UserInputError, match=r"Column 'x' has no values at all"):
        make_dataset("t", _frame(x=np.nan), SCHEMA)


def test_missing_column_names_the_available_ones():
    with pytest.raises(UserInputError, match="Available columns"):
        make_dataset("t", _frame().drop(columns="c"), SCHEMA)


def test_text_in_a_numeric_column_is_named():
    with pytest.raises(UserInputError, match="declared numeric but holds non-numbers"):
        make_dataset("t", _frame(x=np.resize(["1.5", "abc"], 40)), SCHEMA)


def test_with_target_moves_the_old_target_into_the_features(adult):
    ds = adult.with_target("sex", "Male")
    assert ds.schema.target == "sex" and "sex" not in ds.schema.features and "income" in ds.schema.categorical
    with pytest.raises(UserInputError, match=errors.NON_BINARY_TARGET.split("{")[0]):
        adult.with_target("race", "White")
