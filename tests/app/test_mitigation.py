"""AppTest of the Mitigation page: run a mitigation, see the before/after table, make the result active."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors_of


@pytest.fixture(scope="module")
def small_model():
    from dlxai.data import load_adult
    from dlxai.models import train_model

    return train_model(load_adult(), "mlp", seed=0, hidden_layer_sizes=(16,), max_epochs=2, batch_size=2048,
                       validation_fraction=0.0)


def test_mitigation_page_runs_and_switches_the_active_model(app, small_model):
    from ui import state

    app.session_state[state.MODEL] = small_model
    app.session_state[state.MODELS] = {small_model.name: small_model}
    at = app.switch_page("pages/mitigation.py").run()
    assert not at.exception
    assert any("Press **Run mitigation**" in i.value or "Run mitigation" in i.value for i in at.info)
    at.selectbox(key="mit_method").set_value("penalised").run()
    at.number_input(key="mit_strength").set_value(1.0)
    at.number_input(key="mit_epochs").set_value(2)
    at.button(key="mit_run").click().run()
    assert not at.exception, at.exception
    assert not errors_of(at), errors_of(at)
    tables = [d.value for d in at.dataframe if len(d.value) and list(d.value.index)[0] == "Original"]
    assert tables, "the before/after table is shown"
    table = tables[0]
    assert list(table.index)[0] == "Original" and len(table) == 2
    assert table["dp"].iloc[1] < table["dp"].iloc[0]  # the mitigated model narrows the gap
    # make the mitigated model active: every page now sees it
    names = at.selectbox(key="mit_switch").options
    mitigated = next(n for n in names if "Penalised" in n)
    at.selectbox(key="mit_switch").set_value(mitigated)
    at.button(key="mit_switch_go").click().run()
    assert not at.exception
    assert at.session_state[state.MODEL].name == mitigated
    at = at.switch_page("pages/fairness.py").run()
    assert not at.exception


def test_threshold_optimizer_states_the_attribute_is_needed(app, small_model):
    from ui import state

    app.session_state[state.MODEL] = small_model
    at = app.switch_page("pages/mitigation.py").run()
    at.selectbox(key="mit_method").set_value("threshold_optimizer").run()
    assert any("needs the sensitive attribute" in i.value for i in at.info)
    at.button(key="mit_run").click().run()
    assert not at.exception and not errors_of(at)
    assert any("at prediction time" in i.value for i in at.info)
