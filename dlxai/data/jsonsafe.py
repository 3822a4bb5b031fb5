"""JSON from a user's file, bounded: a size cap before parsing and a nesting cap before the parser recurses.

``json.loads`` recurses once per nesting level, so ``[[[[...]]]]`` a few thousand deep raises
``RecursionError`` (or worse, exhausts the stack in code that walks the result).  The depth is counted first,
in one pass over the brackets outside strings, and the parse only runs on text within both caps.
"""

from __future__ import annotations

import json
import os
import re

from dlxai import errors
from dlxai.errors import UserInputError

MAX_DEPTH = 64
MAX_JSON_BYTES = 32 << 20  # a dlxai model spec is kilobytes; category lists of wide data stay far below this
# a string, skipped whole (an unclosed one runs to the end, so the scan stays linear), or a bracket
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*+"?|[\[\]{}]', re.DOTALL)


def _depth_exceeds(text: str, limit: int) -> bool:
    depth = 0
    for m in _TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return True
        elif c in "]}":
            depth -= 1
    return False


def load_json(data, *, what: str, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_JSON_BYTES):
    """Parse JSON given as text, bytes or a path (read at most ``max_bytes`` + 1 bytes of it).

    ``what`` names the file in messages ("The model spec 'm.json'").  Raises :class:`UserInputError` for
    text too large, nested deeper than ``max_depth``, or not JSON.
    """
    if isinstance(data, os.PathLike):
        try:
            with open(data, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise UserInputError(errors.UPLOAD_NO_FILE.format(path=os.fspath(data), detail=exc.strerror or exc)) from exc
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) > max_bytes:
            raise UserInputError(errors.JSON_TOO_LARGE.format(what=what, size=len(data), limit=max_bytes))
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UserInputError(errors.JSON_INVALID.format(what=what, detail=f"not UTF-8 text: {exc}")) from exc
    if not isinstance(data, str):
        raise UserInputError(errors.JSON_INVALID.format(what=what, detail=f"received {type(data).__name__}"))
    if len(data) > max_bytes:
        raise UserInputError(errors.JSON_TOO_LARGE.format(what=what, size=len(data), limit=max_bytes))
    if _depth_exceeds(data, max_depth):
        raise UserInputError(errors.JSON_TOO_DEEP.format(what=what, limit=max_depth))
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise UserInputError(errors.JSON_INVALID.format(what=what, detail=exc)) from exc
