"""dlxai is a plain library: importing every module of it must not import streamlit."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, pkgutil, sys
import dlxai
names = [m.name for m in pkgutil.walk_packages(dlxai.__path__, "dlxai.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m == "streamlit" or m.startswith("streamlit."))
print(len(names), "modules;", "streamlit loaded:" if bad else "streamlit not loaded", bad[:3])
sys.exit(1 if bad else 0)
"""


def test_importing_every_dlxai_module_does_not_import_streamlit():
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "streamlit not loaded" in r.stdout


def test_importing_dlxai_is_cheap():
    """`import dlxai` must not pull in torch, captum, shap or fairlearn (the UI's first page stays fast)."""
    code = "import sys, dlxai; print(sorted(m for m in ('torch','captum','shap','fairlearn','streamlit') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
