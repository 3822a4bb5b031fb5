"""AppTest of the Counterfactuals page, on German credit with the shared small MLP."""

from __future__ import annotations

from tests.app.conftest import errors_of, with_model


def _with_german(app, german, german_mlp):
    return with_model(app, (german, german_mlp))


def _metric(at, label):
    return next((mt for mt in at.metric if mt.label == label), None)


def test_the_page_searches_only_when_asked(app, german, german_mlp):
    """Opening the page (or changing a setting) does not start a search; the button does, and its result stays
    when the page reruns."""
    from ui import state

    at = _with_german(app, german, german_mlp)
    at.switch_page("pages/counterfactuals.py").run()
    assert not at.exception, at.exception
    assert _metric(at, "Validity") is None and len(at.dataframe) == 0
    assert any("Find counterfactuals" in i.value for i in at.info)
    assert state.CF_RESULTS not in at.session_state
    at.slider(key="cf_k").set_value(2).run()
    assert _metric(at, "Validity") is None and state.CF_RESULTS not in at.session_state
    at.button(key="cf_go").click().run()
    assert not at.exception, at.exception
    assert _metric(at, "Validity") is not None and len(at.dataframe) == 1
    assert len(at.session_state[state.CF_RESULTS]) == 1
    at.run()  # a rerun shows the kept result without searching again
    assert _metric(at, "Validity") is not None
    assert any("about" in b.help for b in at.button if b.key == "cf_go")  # the time estimate


def test_counterfactuals_page_shows_a_table_and_the_burden(app, german, german_mlp):
    at = _with_german(app, german, german_mlp)
    at.switch_page("pages/counterfactuals.py").run()
    at.button(key="cf_go").click().run()
    assert not at.exception, at.exception
    assert not errors_of(at)
    assert at.title[0].value == "Counterfactuals"
    assert len(at.dataframe) >= 1                     # the counterfactual table
    validity = [mt for mt in at.metric if mt.label == "Validity"]
    assert validity and validity[0].value != "—"
    at.number_input(key="cf_burden_rows").set_value(20)
    at.button(key="cf_burden_go").click().run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) >= 1           # the burden chart
    assert any("Highest burden" in c.value for c in at.caption)


def test_every_feature_immutable_is_a_clear_error(app, german, german_mlp):
    at = _with_german(app, german, german_mlp)
    at.switch_page("pages/counterfactuals.py").run()
    at.multiselect(key="cf_vary").set_value([]).run()
    at.button(key="cf_go").click().run()
    assert not at.exception
    assert any("Every feature is fixed" in e for e in errors_of(at))


def test_a_higher_cost_per_changed_feature_changes_fewer_features(app, german, german_mlp):
    at = _with_german(app, german, german_mlp)
    at.switch_page("pages/counterfactuals.py").run()
    at.selectbox(key="cf_row").set_value(81)  # a rejected row whose smallest changes touch two features
    at.slider(key="cf_k").set_value(1)  # the cheapest answer alone (the k answers change different features)

    def changed():
        return float(next(mt for mt in at.metric if mt.label == "Features changed").value)

    at.number_input(key="cf_penalty").set_value(0.0).run()
    at.button(key="cf_go").click().run()
    assert not at.exception, at.exception
    close = changed()
    at.number_input(key="cf_penalty").set_value(50.0).run()
    at.button(key="cf_go").click().run()
    assert not at.exception, at.exception
    assert close > 1.0  # the smallest changes touch several features...
    assert changed() == 1.0  # ...while one feature alone is enough to flip it



def _upload(at, raw: bytes, name: str, columns=None) -> None:
    at.switch_page("pages/upload.py").run()
    at.file_uploader(key="up_model").set_value((name, raw, "application/octet-stream")).run()
    if columns is not None:
        at.multiselect(key="up_cols_german").set_value(columns).run()
    at.button(key="up_load_model").click().run()
    assert not at.exception and not errors_of(at), errors_of(at)


def test_a_search_on_an_uploaded_model_runs_beside_the_page_and_shows_its_result(app, german_tiny):
    """An uploaded ONNX pipeline predicts in its worker, which stays with the server: the search runs in a thread
    beside the page (its progress drawn by the page) and shows its result."""
    from tests.unit.models import exporters
    from ui import jobs

    at = with_model(app, german_tiny)
    _upload(at, *exporters.skl2onnx_pipeline(german_tiny[0])[:2])
    assert jobs.holds_worker(at.session_state["dlxai.model"])
    at.switch_page("pages/counterfactuals.py").run()
    at.button(key="cf_go").click().run()
    assert not at.exception, at.exception
    assert not errors_of(at), errors_of(at)
    assert _metric(at, "Validity") is not None and len(at.dataframe) == 1


def test_the_constraints_offer_only_the_columns_an_uploaded_model_reads(app, german_tiny):
    """A model declared on three of the data's columns: the constraint editor offers those three (it offered every
    column, and the search then refused 'status', which the model does not read)."""
    from tests.unit.models import exporters

    at = with_model(app, german_tiny)
    cols = ["duration", "credit_amount", "age"]
    _upload(at, *exporters.torch_onnx_mlp(cols)[:2], columns=cols)
    at.switch_page("pages/counterfactuals.py").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="cf_vary").options == cols and at.multiselect(key="cf_vary").value == cols
