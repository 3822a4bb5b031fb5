"""The preprocessing spec of image audits: one validator, defaults per channel count, its description."""

from __future__ import annotations

import re

import pytest

from dlxai.data.imageprep import parse_preprocess
from dlxai.errors import UserInputError


def test_sizes_read_as_shorter_side_or_height_width():
    assert parse_preprocess({"resize": 36}).resize == (36,)
    assert parse_preprocess({"resize": [20, 30]}).resize == (20, 30)
    assert parse_preprocess({"crop": 8}).crop == (8, 8)


@pytest.mark.parametrize("spec, fragment", [
    ({"channels": 2}, "'channels' must be 1"),
    ({"mean": [0.5]}, "'mean' must be a list of 3"),
    ({"std": [1, 0, 1]}, "'std' must be a list of 3 positive"),
    ({"resize": 0}, "'resize' must be a whole number"),
    ({"layout": "CHW"}, "'layout' must be"),
    ({"colour": "yes"}, "unknown key"),
    ("[1, 2]", "expected a JSON object"),
])
def test_preprocessing_spec_is_validated(spec, fragment):
    with pytest.raises(UserInputError, match=re.escape(fragment)):
        parse_preprocess(spec)


def test_grayscale_spec_defaults_and_description():
    p = parse_preprocess('{"channels": 1, "resize": 28}')
    assert p.mean == (0.0,) and p.std == (1.0,)
    assert "resize the shorter side to 28 px" in p.describe()[0]
    assert parse_preprocess(p.to_dict()) == p
