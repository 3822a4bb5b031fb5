"""Frame -> schema: cells holding lists or dicts are refused naming the column (not 'unhashable type')."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from dlxai import errors
from dlxai.data import mapping
from dlxai.errors import UserInputError


def test_unhashable_cells_are_refused_naming_the_column():
    df = pd.DataFrame({"age": [30, 40, 50, 60], "tags": [["a"], ["b", "c"], [], None], "sex": list("FMFM"),
                       "y": [0, 1, 0, 1]})
    pattern = "(?s)" + ".*?".join(re.escape(p) for p in re.split(r"\{[^}]*\}", errors.UNHASHABLE_COLUMN))
    for call in (lambda: mapping.profile_columns(df),
                 lambda: mapping.build_schema(df, "y", 1, ["sex"], types={c: "numeric" for c in df.columns})):
        with pytest.raises(UserInputError, match=pattern) as info:
            call()
        assert "'tags' holds ['list']" in str(info.value)


def test_mixed_but_hashable_object_columns_still_profile():
    df = pd.DataFrame({"code": pd.Series(["a", 1, 2.5, None, "a"], dtype=object), "y": [0, 1, 0, 1, 0]})
    prof = {p.name: p for p in mapping.profile_columns(df)}
    assert prof["code"].n_unique == 3
