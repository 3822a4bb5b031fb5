"""User JSON (a model spec) is parsed within a size and a nesting cap: deep nesting is a clear error, not
RecursionError."""

from __future__ import annotations

import re
import time

import pytest

from dlxai import errors
from dlxai.data.jsonsafe import MAX_DEPTH, load_json
from dlxai.errors import UserInputError


def msg(template: str) -> str:
    return "(?s)" + ".*?".join(re.escape(p) for p in re.split(r"\{[^}]*\}", template))


@pytest.mark.parametrize("deep", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
                                  "[" * 1_000_000])
def test_deep_nesting_is_refused_before_parsing(deep):
    start = time.perf_counter()
    with pytest.raises(UserInputError, match=msg(errors.JSON_TOO_DEEP)) as info:
        load_json(deep, what="The model spec 'deep.json'")
    assert time.perf_counter() - start < 1.0
    assert str(info.value).startswith("The model spec 'deep.json' nests") and "64 levels" in str(info.value)


def test_the_depth_limit_is_exact_and_brackets_in_strings_do_not_count():
    assert load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, what="x") is not None
    with pytest.raises(UserInputError, match=msg(errors.JSON_TOO_DEEP)):
        load_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), what="x")
    assert load_json('{"a": "[[[[{{{{\\"]]", "b": [1, 2]}', what="x", max_depth=2) == {"a": '[[[[{{{{"]]', "b": [1, 2]}


def test_size_encoding_and_syntax_are_clear_errors(tmp_path):
    with pytest.raises(UserInputError, match=msg(errors.JSON_TOO_LARGE)):
        load_json(b"[" + b"1," * 600 + b"1]", what="x", max_bytes=1000)
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 5000)
    with pytest.raises(UserInputError, match=msg(errors.JSON_TOO_LARGE)):
        load_json(path, what="x", max_bytes=1000)  # a path is read only up to the cap
    with pytest.raises(UserInputError, match=msg(errors.JSON_INVALID)):
        load_json(b"{not json", what="x")
    with pytest.raises(UserInputError, match=msg(errors.JSON_INVALID)):
        load_json(b"\xff\xfe{", what="x")
    with pytest.raises(UserInputError, match=msg(errors.JSON_INVALID)):
        load_json('"unclosed ' + '\\"' * 100_000, what="x")
    (tmp_path / "ok.json").write_bytes(b'\xef\xbb\xbf{"format": "x"}')
    assert load_json(tmp_path / "ok.json", what="x") == {"format": "x"}


def test_a_deep_model_spec_is_refused_by_parse_spec():
    from dlxai.models.formats import parse_spec

    with pytest.raises(UserInputError, match="nests arrays/objects more than 64 levels"):
        parse_spec(b'{"preprocessing": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")
