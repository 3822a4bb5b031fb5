"""Waits for a Streamlit page in a real browser: its script has finished, its charts have drawn."""


def wait_idle(pg, timeout_ms: int = 180_000) -> None:
    """Wait until Streamlit's "Running…" indicator is gone: the page's script has finished."""
    pg.wait_for_timeout(700)  # Streamlit shows the indicator only after a short delay
    try:
        pg.locator('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]') \
            .first.wait_for(state="hidden", timeout=timeout_ms)
    except Exception as e:  # noqa: BLE001 - a page that never settles fails its own waits; say so here only
        print(f"(the page was still running after {timeout_ms / 1000:.0f} s: {e})")


def at_least(locator, n: int, timeout_ms: int = 120_000) -> int:
    """Wait until ``locator`` matches at least ``n`` elements (charts draw one by one); return the count."""
    locator.nth(n - 1).wait_for(state="attached", timeout=timeout_ms)
    return locator.count()
