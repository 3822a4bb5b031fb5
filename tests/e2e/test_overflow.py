"""Every page read at 1280 px and 1920 px in a real Chromium: no clipped label, title, tab, metric, axis or table header.

What the check sees (``CLIPPED_JS``): every visible element whose own text is cut by its box (``overflow`` hidden or
clipped, or ``text-overflow: ellipsis``, and ``scrollWidth > clientWidth + 1``) - widget labels, headings, captions,
metric labels and values, tab labels, sidebar links, buttons and ``st.table`` headers and cells; and every Plotly
title, axis title, tick label, legend entry and colour-bar label whose box leaves its chart's SVG.  It also flags
internal names on screen (``snake_case`` words outside code blocks and inputs).

What it cannot see: text ``st.dataframe`` draws on its canvas (the grid's cells and headers are pixels, not DOM), text
inside images, and labels that overlap each other while both stay inside their boxes.  So short tables a user must
read in full are ``st.table`` (DOM, checked) or ``st.dataframe`` with column widths set in ``column_config``; the
screenshots (``/tmp/shots_trust/``) are there to look at what the DOM cannot tell.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.browser import wait_idle

pytestmark = pytest.mark.e2e

SHOTS = Path("/tmp/shots_trust")
WIDTHS = (1280, 1920)
PAGES = ("Home", "Data & model", "Upload", "Fairness", "Mitigation", "Image audit", "Explanations", "Images",
         "Counterfactuals", "Surrogate tree", "Report", "All lessons", "Bias in, bias out", "Blindness is not fairness",
         "Which explanation can you trust?", "The price of fairness", "What would it take?",
         "Clever Hans: the shortcut")


def test_the_walk_covers_every_page_in_the_sidebar():
    """A page added to app.py's navigation is walked too (no browser needed for this check)."""
    app = (Path(__file__).resolve().parents[2] / "app.py").read_text()
    assert set(re.findall(r'st\.Page\("pages/[^"]+", title="([^"]+)"', app)) == set(PAGES)

CLIPPED_JS = r"""
() => {
  const out = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0;
  };
  const ownText = (el) => Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
  const describe = (el) => (el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 80);
  const skip = (el) => el.closest('pre, code, textarea, input, [data-testid="stDataFrame"], .js-plotly-plot, '
                                 + '[data-testid="stCodeBlock"], [data-baseweb="select"] [role="listbox"]');
  for (const el of document.querySelectorAll('section.main *, [data-testid="stMain"] *, [data-testid="stSidebar"] *')) {
    if (skip(el) || !visible(el)) continue;
    const s = getComputedStyle(el);
    const cuts = ['hidden', 'clip'].includes(s.overflowX) || s.textOverflow === 'ellipsis';
    if (!cuts || !describe(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1 && (ownText(el) || el.children.length <= 3)) {
      // a scroller the user can scroll (tabs list, wide table wrapper) is not a clipped label
      if (['auto', 'scroll'].includes(s.overflowX)) continue;
      out.push({kind: 'clipped text', text: describe(el), over: el.scrollWidth - el.clientWidth});
    }
  }
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (!visible(plot)) continue;
    const svg = plot.querySelector('svg.main-svg');
    if (!svg) continue;
    const box = svg.getBoundingClientRect();
    const sel = '.gtitle, .g-xtitle text, .g-ytitle text, .xtick text, .ytick text, .legendtext, .cbtitle text, '
              + '.cbaxis text, .annotation-text';
    for (const t of plot.querySelectorAll(sel)) {
      const r = t.getBoundingClientRect();
      if (r.width === 0 || !t.textContent.trim()) continue;
      if (r.left < box.left - 2 || r.right > box.right + 2 || r.top < box.top - 2 || r.bottom > box.bottom + 2) {
        out.push({kind: 'chart text outside its chart', text: t.textContent.trim().slice(0, 80),
                  over: Math.round(Math.max(box.left - r.left, r.right - box.right, box.top - r.top, r.bottom - box.bottom))});
      }
    }
  }
  const root = document.querySelector('[data-testid="stMain"]') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const snake = /\b[a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9]\b/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || skip(el) || el.closest('[data-testid="stFileUploaderFileName"], a') || !visible(el)) continue;
    if (/Material/.test(getComputedStyle(el).fontFamily)) continue;  // icon ligatures (keyboard_arrow_down) draw icons
    const m = n.textContent.match(snake);
    if (m) out.push({kind: 'internal name on screen', text: m[0] + '  in: ' + n.textContent.trim().slice(0, 80), over: 0});
  }
  for (const ex of document.querySelectorAll('[data-testid="stException"]')) {
    out.push({kind: 'exception on the page', text: describe(ex), over: 0});
  }
  return out;
}
"""

TALL_JS = """() => Math.max(...Array.from(document.querySelectorAll('[data-testid="stMain"], [data-testid="stMain"] *'))
  .filter(e => e.scrollHeight > e.clientHeight + 10).map(e => e.scrollHeight), document.body.scrollHeight)"""


def _problems(pg) -> list[str]:
    return [f"{p['kind']}: {p['text']!r} (+{p['over']} px)" for p in pg.evaluate(CLIPPED_JS)]


def test_the_check_sees_a_clipped_label(browser):
    """The checker is not blind: a clipped label, an off-chart tick and a snake_case name are each reported."""
    pg = browser.new_page()
    pg.set_content("""
      <div data-testid="stMain">
        <label style="display:block;width:60px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis">
          Demographic parity difference</label>
        <p>selection_rate by group</p>
        <div style="width:400px;white-space:nowrap;overflow:hidden">fits</div>
        <div class="js-plotly-plot"><svg class="main-svg" width="100" height="50" style="overflow:visible">
          <g class="xtick"><text x="80" y="20">a long tick label</text></g></svg></div>
      </div>""")
    found = " | ".join(_problems(pg))
    pg.close()
    assert "clipped text: 'Demographic parity difference'" in found
    assert "internal name on screen: 'selection_rate" in found
    assert "chart text outside its chart: 'a long tick label'" in found
    assert "fits" not in found


RUNNING = '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]'
READY = {"Fairness": "Rates by group", "Surrogate tree": "Local fidelity (held-out neighbours)",
         "Explanations": "Quality of this explanation"}  # the last thing the page draws


def _settle(pg, timeout_ms: int = 240_000) -> None:
    """Wait until the page's script has finished: Streamlit's running indicator absent three checks in a row (on a
    busy machine the script can start more than a second after the click that triggered it)."""
    quiet = 0
    for _ in range(int(timeout_ms / 700)):
        pg.wait_for_timeout(700)
        quiet = 0 if pg.locator(RUNNING).count() else quiet + 1
        if quiet == 3:
            return
    raise AssertionError(f"the page was still running after {timeout_ms / 1000:.0f} s")


def _goto(pg, name: str) -> None:
    pg.get_by_role("link", name=name, exact=True).click()
    if name in READY:
        pg.get_by_text(READY[name]).first.wait_for(timeout=240_000)
    _settle(pg)


def _main_action(pg, name: str) -> None:
    """What a user does on the page before reading its results (bounded: quick settings)."""
    if name == "Images":
        epochs = pg.get_by_label("Epochs").first
        epochs.fill("1")
        epochs.press("Enter")
        pg.get_by_role("button", name="Train CNN").click()
        pg.get_by_text("CNN test accuracy").wait_for(timeout=180_000)
        _settle(pg)
    elif name == "Mitigation":
        for label, value in (("Epochs per retraining (MLP)", "1"), ("Max iterations (ExpGrad)", "2"),
                             ("Training rows (0 = all)", "2000")):
            box = pg.get_by_role("spinbutton", name=label, exact=True)
            box.fill(value)
            box.press("Enter")
            _settle(pg)
        pg.get_by_role("button", name="Run mitigation").click()
        pg.get_by_text("Before and after").first.wait_for(timeout=240_000)
        _settle(pg)
    elif name == "Counterfactuals":
        pg.get_by_role("button", name="Find counterfactuals").click()
        _settle(pg)
    elif name == "Report":
        pg.get_by_role("button", name="Build report").click()
        pg.get_by_text(re.compile(r"Report ready: \d+ pages")).first.wait_for(timeout=240_000)
        _settle(pg)


def test_every_page_reads_at_1280_and_1920(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    _goto(page, "Data & model")
    epochs = page.get_by_label("Max epochs (MLP)")
    epochs.fill("3")
    epochs.press("Enter")
    page.get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"Trained .*PyTorch MLP on adult")).wait_for(timeout=180_000)
    wait_idle(page)
    problems = []
    for name in PAGES:
        page.set_viewport_size({"width": WIDTHS[0], "height": 1000})
        _goto(page, name)
        _main_action(page, name)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1000})
            # the page scrolls inside Streamlit's main block, not the window: make the window as tall as the page,
            # so the screenshot holds all of it and every chart has drawn
            tall = page.evaluate(TALL_JS)
            page.set_viewport_size({"width": width, "height": max(1000, min(int(tall) + 120, 9000))})
            page.wait_for_timeout(800)  # Streamlit and Plotly re-lay out on resize
            if width == 1280:
                slug = re.sub(r"\W+", "_", name.lower()).strip("_")
                page.screenshot(path=str(SHOTS / f"{slug}.png"), full_page=True)
            problems += [f"{name} at {width} px - {p}" for p in _problems(page)]
    assert not problems, "\n".join(sorted(set(problems)))
