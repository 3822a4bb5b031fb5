"""One error boundary for every engine call a page makes."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager

import streamlit as st

from dlxai.errors import DlxaiError

log = logging.getLogger("dlxai.ui")

# Markdown's active characters: a message quotes file and column names the user chose (``[x](url)``, ``![](url)``,
# ``__torch__``), which st.error would otherwise render as links, images or bold text.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|<>~$])")


def plain(text: str) -> str:
    """``text`` escaped so that Streamlit shows it verbatim instead of rendering it as Markdown."""
    return _MARKDOWN.sub(r"\\\1", str(text))


class Outcome:
    """Set by :func:`error_boundary`: ``ok`` is False when the block raised."""

    ok = True


@contextmanager
def error_boundary(what: str = "This step"):
    """Show a user error as ``st.error`` (the page and the session keep their state); show anything
    else with its traceback in an expander and log it.  Streamlit's own rerun/stop signals pass
    through (they are BaseExceptions)."""
    outcome = Outcome()
    try:
        yield outcome
    except DlxaiError as exc:
        outcome.ok = False
        st.error(plain(str(exc)), icon=":material/warning:")
    except Exception as exc:  # noqa: BLE001 - the boundary is the last line
        outcome.ok = False
        log.exception("%s failed", what)
        st.error(f"{what} failed unexpectedly: {type(exc).__name__}: {plain(str(exc))}", icon=":material/block:")
        with st.expander("Technical details"):
            st.exception(exc)
