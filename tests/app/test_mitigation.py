"""AppTest of the Mitigation page: run mitigations, see every metric before and after with what got worse, keep
every run for the report, make a result active."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors_of


@pytest.fixture(scope="module")
def small_model():
    from dlxai.data import load_adult
    from dlxai.models import train_model

    return train_model(load_adult(), "mlp", seed=0, hidden_layer_sizes=(16,), max_epochs=2, batch_size=2048,
                       validation_fraction=0.0)


def _tradeoff_tables(at) -> list:
    return [d.value for d in at.dataframe if "Metric" in getattr(d.value, "columns", [])]


def test_mitigation_page_runs_and_switches_the_active_model(app, small_model):
    from ui import state

    app.session_state[state.MODEL] = small_model
    app.session_state[state.MODELS] = {small_model.name: small_model}
    at = app.switch_page("pages/mitigation.py").run()
    assert not at.exception
    assert any("Press **Run mitigation**" in i.value or "Run mitigation" in i.value for i in at.info)
    at.selectbox(key="mit_method").set_value("penalised").run()
    assert at.number_input(key="mit_epochs_penalised").value == 5  # the registry's quick default
    assert any("within 2 minutes" in c.value for c in at.caption)  # the page states what the defaults trade
    at.number_input(key="mit_strength_penalised").set_value(1.0)
    at.number_input(key="mit_epochs_penalised").set_value(2)
    at.button(key="mit_run").click().run()
    assert not at.exception, at.exception
    assert not errors_of(at), errors_of(at)
    tables = _tradeoff_tables(at)
    assert tables, "every metric before and after is shown"
    table = tables[0].set_index("Metric")
    assert list(table.index) == ["Accuracy", "Balanced accuracy", "Demographic parity difference",
                                 "Demographic parity ratio", "Equalized odds difference", "Equalized odds ratio",
                                 "Equal opportunity difference"]  # human names, not dp / eo / tpr_gap
    dp = table.loc["Demographic parity difference"]
    assert float(dp["After [95% CI]"].split()[0]) < float(dp["Before [95% CI]"].split()[0])  # the gap narrows
    assert "[" in dp["Change [95% CI]"]
    # make the mitigated model active: every page now sees it
    names = at.selectbox(key="mit_switch").options
    mitigated = next(n for n in names if "Penalised" in n)
    at.selectbox(key="mit_switch").set_value(mitigated)
    at.button(key="mit_switch_go").click().run()
    assert not at.exception
    assert at.session_state[state.MODEL].name == mitigated
    at = at.switch_page("pages/fairness.py").run()
    assert not at.exception


def test_threshold_optimizer_warns_what_got_worse_and_every_run_reaches_the_report(app, small_model):
    from ui import state

    app.session_state[state.MODEL] = small_model
    at = app.switch_page("pages/mitigation.py").run()
    at.selectbox(key="mit_method").set_value("threshold_optimizer").run()
    assert any("needs the sensitive attribute" in i.value for i in at.info)
    at.multiselect(key="mit_sensitive").set_value(["sex"])
    at.button(key="mit_run").click().run()
    assert not at.exception and not errors_of(at)
    assert any("at prediction time" in i.value for i in at.info)
    # demographic parity by group thresholds pulls the error rates apart: said in a warning, with the interval
    worse = [w.value for w in at.warning if w.value.startswith("Equalized odds difference got worse")]
    assert worse and "→" in worse[0] and "95% CI" in worse[0]
    eo = _tradeoff_tables(at)[0].set_index("Metric").loc["Equalized odds difference"]
    assert eo["Verdict"] == "worse"

    at.selectbox(key="mit_constraint").set_value("equalized_odds").run()
    at.button(key="mit_run").click().run()
    assert not at.exception and not errors_of(at)
    assert not any(w.value.startswith("Equalized odds difference got worse") for w in at.warning)
    fp = at.session_state[state.DATASET].fingerprint
    runs = [out for f, out in at.session_state[state.MITIGATION_RUNS] if f == fp]
    assert len(runs) == 2
    runs_table = next(d.value for d in at.dataframe if "Got worse" in getattr(d.value, "columns", []))
    assert list(runs_table["Run"]) == [1, 2]  # the session's runs, one row per model
    assert "Equalized odds difference" in runs_table["Got worse"].iloc[0]
    picker = at.multiselect(key="mit_report_runs")
    assert picker.value == [1, 2]  # every run goes in the report unless left out
    report_items = at.session_state[state.RESULTS]["mitigation"][0]
    assert [r.constraint for r in report_items] == ["demographic_parity", "equalized_odds"]
    picker.set_value([2]).run()
    assert [r.constraint for r in at.session_state[state.RESULTS]["mitigation"][0]] == ["equalized_odds"]
    at = at.switch_page("pages/report.py").run()
    at = at.switch_page("pages/mitigation.py").run()
    assert at.multiselect(key="mit_report_runs").value == [2]  # the choice outlives the page


def test_a_threshold_optimizer_made_active_is_explained_and_searched_with_each_rows_groups(app, german_tiny):
    """Its thresholds read sex from each row: the Explanations page runs kernel SHAP and says each row keeps its
    group, and the Counterfactuals page searches a row and the recourse burden, with no refusal."""
    from dlxai.fairness.mitigation import mitigate
    from tests.app.conftest import with_model
    from ui import state

    ds, m = german_tiny
    post = mitigate(m, ds, "threshold_optimizer", "demographic_parity", sensitive=["sex"], n_bootstrap=0).model
    at = with_model(app, german_tiny)
    at.session_state[state.MODEL] = post
    at.session_state[state.MODELS] = {m.name: m, post.name: post}
    at.session_state["ex_rows_kernel_shap"] = 20  # enough of each group for the page's group comparison
    at = at.switch_page("pages/explanations.py").run()
    assert not at.exception, at.exception
    assert not errors_of(at), errors_of(at)
    assert at.selectbox(key="ex_method").options == ["SHAP: kernel (model-agnostic)"]
    assert any("each row is scored with its own group (sex)" in i.value for i in at.info)
    metrics = {mt.label: mt.value for mt in at.metric}
    assert float(metrics["Completeness error"].rstrip("%")) < 1.0 and "Deletion AUC" in metrics

    at = at.switch_page("pages/counterfactuals.py").run()
    assert not at.exception, at.exception
    assert not any("Not available" in i.value for i in at.info)
    at.button(key="cf_go").click().run()
    assert not at.exception, at.exception
    assert not errors_of(at), errors_of(at)
    validity = [mt for mt in at.metric if mt.label == "Validity"]
    assert validity and validity[0].value != "—"
    assert any("Every candidate was scored with this row's own sex" in c.value for c in at.caption)
    at.number_input(key="cf_burden_rows").set_value(20)
    at.button(key="cf_burden_go").click().run()
    assert not at.exception, at.exception
    assert not errors_of(at), errors_of(at)
    assert any("Highest burden" in c.value for c in at.caption)
