"""One palette and one layout; only the plots layer draws (the engine imports neither plotly nor matplotlib)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go

from dlxai.plots.style import MARGIN, PALETTE, colour, layout

ROOT = Path(__file__).resolve().parents[3]

ENGINE = """
import importlib, pkgutil, sys
import dlxai.data, dlxai.explain, dlxai.fairness, dlxai.models, dlxai.plots
for pkg in (dlxai.data, dlxai.explain, dlxai.fairness, dlxai.models):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(m.name)
print(sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("plotly", "matplotlib")}))
"""


def test_layout_sets_title_template_margins_and_height():
    fig = layout(go.Figure(), "T", height=200, barmode="group")
    assert fig.layout.title.text == "T" and fig.layout.height == 200 and fig.layout.barmode == "group"
    assert fig.layout.margin.l == MARGIN["l"]
    assert layout(go.Figure(), "T", margin=dict(l=1, r=1, t=1, b=1)).layout.margin.l == 1
    assert colour(len(PALETTE) + 1) == PALETTE[1]


def test_the_engine_imports_no_plotting_library():
    r = subprocess.run([sys.executable, "-c", ENGINE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "[]"
