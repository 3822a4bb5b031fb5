"""AppTest of the Surrogate tree page."""

from __future__ import annotations

from tests.app.conftest import errors_of


def test_surrogate_page_shows_fidelity_rules_and_tree(app, german, german_mlp):
    app.session_state["dlxai.dataset"] = german
    app.session_state["dlxai.dataset_key"] = "german"
    app.session_state["dlxai.model"] = german_mlp
    at = app
    at.switch_page("pages/surrogate.py").run()
    assert not at.exception, at.exception
    assert not errors_of(at)
    fid = [m for m in at.metric if m.label == "Fidelity (held-out)"]
    assert fid and 0.5 <= float(fid[0].value) <= 1.0
    assert at.code[0].value.startswith("IF ")
    assert len(at.get("plotly_chart")) >= 2
    at.slider(key="sur_depth").set_value(2).run()
    assert not at.exception
    assert int([m for m in at.metric if m.label == "Leaves"][0].value) <= 4
    assert any(m.label.startswith("Local fidelity") for m in at.metric)
