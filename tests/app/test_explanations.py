"""AppTest of the Explanations page: a trained MLP, views, the quality panel, method switching, a bad input."""

from __future__ import annotations

from tests.app.conftest import errors_of
from tests.app.conftest import with_model as _with_model


def test_integrated_gradients_with_views_and_quality_panel(app, german_tiny):
    at = _with_model(app, german_tiny).switch_page("pages/explanations.py").run()
    assert not at.exception, at.exception
    assert not errors_of(at)
    assert at.selectbox(key="ex_method").value == "integrated_gradients"
    metrics = {m.label: m.value for m in at.metric}
    assert "Completeness error" in metrics
    assert float(metrics["Completeness error"].rstrip("%")) < 5.0
    assert "Deletion AUC" in metrics
    assert "Randomisation ρ" in metrics
    assert any("Test row" in md.value and "P(favourable)" in md.value for md in at.markdown)
    charts = at.get("plotly_chart")
    assert len(charts) >= 5  # local, global, groups, completeness, faithfulness, randomisation
    # the group view found status_sex as a proxy of sex
    assert any("status_sex" in c.value for c in at.caption)


def test_switching_method_and_a_bad_setting(app, german_tiny):
    at = _with_model(app, german_tiny).switch_page("pages/explanations.py").run()
    at.selectbox(key="ex_method").set_value("saliency").run()
    assert not at.exception
    assert any("defines no completeness error" in i.value for i in at.info)
    at.selectbox(key="ex_method").set_value("integrated_gradients").run()
    at.selectbox(key="ex_base_integrated_gradients").set_value("samples").run()
    at.number_input(key="ex_steps").set_value(2).run()
    assert not at.exception
    at.selectbox(key="ex_group_attr").set_value("age_band").run()
    assert not at.exception
    assert not errors_of(at)


def test_logistic_regression_offers_only_kernel_shap(app, german_tiny):
    from dlxai.models import train_model
    from ui import state

    ds, _ = german_tiny
    lr = train_model(ds, "logreg", seed=0)
    at = _with_model(app, (ds, lr)).switch_page("pages/explanations.py")
    at.session_state[state.MODEL] = lr
    at.session_state["ex_rows_kernel_shap"] = 5
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ex_method").options == ["SHAP: kernel (model-agnostic)"]
    assert any("has none" in i.value for i in at.info)
    assert "Deletion AUC" in {m.label for m in at.metric}


def test_models_compared_before_and_after_mitigation(app, german_tiny):
    """A mitigated model and the original: the page shows both models' attribution shares side by side."""
    from dlxai.fairness.mitigation import mitigate
    from ui import state

    ds, m = german_tiny
    after = mitigate(m, ds, "penalised", "demographic_parity", sensitive=["sex"], strength=2.0,
                     estimator_params={"max_epochs": 3}, n_bootstrap=0).model
    at = _with_model(app, german_tiny)
    at.session_state[state.MODELS] = {m.name: m, after.name: after}
    at = at.switch_page("pages/explanations.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ex_other").value == after.name
    shares = [d.value for d in at.dataframe if list(d.value.columns) == [m.name, after.name]]
    assert shares and abs(shares[0].sum().sum() - 2.0) < 1e-6  # each model's shares add up to 100%


def test_a_failed_check_shows_a_warning_with_what_to_try_and_labels_are_human(app, german_tiny):
    """Saliency on the small German MLP keeps its ranking with random weights (ρ ≈ 0.75): the page must say so and
    say what to try, not show a plain chart."""
    at = _with_model(app, german_tiny).switch_page("pages/explanations.py").run()
    picker = at.selectbox(key="ex_method")
    assert "Integrated gradients" in picker.options and "DeepLIFT (rescale rule)" in picker.options
    assert not any("_" in o for o in picker.options)
    assert at.selectbox(key="ex_base_integrated_gradients").value == "zeros"  # the default that passes
    assert "Gauss–Legendre" in at.selectbox(key="ex_rule").options
    assert any("passed its quality checks" in s.value for s in at.success)
    at = picker.set_value("saliency").run()
    assert not at.exception, at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "failed its quality checks" in warning and "randomisation" in warning
    assert "What to try" in warning and "Integrated gradients with the zeros baseline" in warning
    assert at.get("plotly_chart")  # the charts are still there, under the warning
