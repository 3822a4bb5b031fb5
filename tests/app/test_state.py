"""AppTest of the session state: values set on one page hold on every page and survive navigation."""

from __future__ import annotations

import re
from pathlib import Path

from tests.app.conftest import with_model

ROOT = Path(__file__).resolve().parents[2]


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_the_decision_threshold_is_one_value_across_pages(app, german_tiny):
    from dlxai.performance import evaluate

    ds, m = german_tiny
    at = with_model(app, german_tiny).switch_page("pages/fairness.py").run()
    assert at.slider(key="fair_threshold").value == 0.5
    at.slider(key="fair_threshold").set_value(0.3).run()
    assert not at.exception, at.exception

    at.switch_page("pages/data_model.py").run()
    assert not at.exception, at.exception
    assert at.slider(key="dm_threshold").value == 0.3
    at_03 = evaluate(ds.y("test"), m.predict_proba(ds.frame("test")), threshold=0.3)
    assert _metrics(at)["Accuracy"] == f"{at_03.accuracy:.3f}"

    at.switch_page("pages/fairness.py").run()
    assert at.slider(key="fair_threshold").value == 0.3  # the widget's own state was dropped on the way

    at.switch_page("pages/report.py").run()
    assert at.slider(key="rep_threshold").value == 0.3
    at.slider(key="rep_threshold").set_value(0.6).run()
    at.switch_page("pages/fairness.py").run()
    assert at.slider(key="fair_threshold").value == 0.6


def test_the_sensitive_attributes_chosen_on_fairness_hold_on_other_pages(app, german_tiny):
    from ui import state

    at = with_model(app, german_tiny).switch_page("pages/fairness.py").run()
    at.number_input(key="fair_boot").set_value(0)
    at.multiselect(key="fair_attrs").set_value(["sex", "age_band"]).run()
    assert not at.exception, at.exception
    assert all(" & " in g for g in at.dataframe[0].value["sex & age_band"])  # the two are intersected

    at.switch_page("pages/data_model.py").run()
    assert at.multiselect(key="dm_sensitive").value == ["sex", "age_band"]
    at.switch_page("pages/report.py").run()
    assert at.multiselect(key="rep_attrs").value == ["sex", "age_band"]
    assert at.session_state[state.SENSITIVE] == ["sex", "age_band"]

    at.switch_page("pages/fairness.py").run()
    assert at.multiselect(key="fair_attrs").value == ["sex", "age_band"]


def test_only_ui_state_touches_the_session_state():
    """Pages and the other ui modules read and write state through ui/state.py only."""
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]
    offenders = [f"{f.relative_to(ROOT)}:{i}" for f in files if f != ROOT / "ui" / "state.py"
                 for i, line in enumerate(f.read_text().splitlines(), 1) if re.search(r"\bsession_state\b", line)]
    assert not offenders, f"st.session_state outside ui/state.py: {offenders}"
