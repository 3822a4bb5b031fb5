"""AppTest: the app loads, every page renders, the train -> fairness journey, bad input keeps the state."""

from pathlib import Path

import numpy as np
import pytest

from dlxai import errors
from dlxai.data import Schema
from dlxai.data.dataset import TabularDataset
from tests.app.conftest import errors_of

PAGES = sorted(str(p.relative_to(Path(__file__).resolve().parents[2])) for p in
               (Path(__file__).resolve().parents[2] / "pages").glob("*.py"))


def _train(at, epochs=3, kind=None):
    at.switch_page("pages/data_model.py").run()
    if kind:
        at.selectbox(key="dm_kind").set_value(kind)
    at.number_input(key="dm_epochs").set_value(epochs)
    at.button[0].click().run()
    return at


def test_home_renders_with_adult_ready(app):
    assert not app.exception
    assert app.title[0].value.startswith("dlxai")
    assert app.session_state["dlxai.dataset"].name == "adult"
    assert any("Active audit" in m.value for m in app.sidebar.markdown)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_a_model(app, page):
    app.switch_page(page).run()
    assert not app.exception, app.exception
    root = Path(__file__).resolve().parents[2]
    if "require_model()" in (root / page).read_text():  # a page that needs a model says where to train one
        assert any("No model is trained yet" in i.value for i in app.info), page


def test_train_then_fairness_shows_demographic_parity_for_adult_sex(app):
    at = _train(app, epochs=3)
    assert not at.exception and not errors_of(at)
    assert any("Trained **PyTorch MLP on adult**" in s.value for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Accuracy"]) > 0.8
    at.switch_page("pages/fairness.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    dp = float(metrics["Demographic parity difference"])
    assert 0.08 < dp < 0.35  # men are selected far more often than women
    assert len(at.get("plotly_chart")) == 3
    assert any("Four-fifths rule" in e.value for e in at.error)  # violated on Adult/sex
    assert at.session_state["dlxai.sensitive"] == ["sex"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_a_trained_model(app, page):
    at = _train(app, epochs=1, kind="logreg")
    at.switch_page(page).run()
    assert not at.exception, at.exception


def test_intersection_of_two_attributes(app):
    at = _train(app, kind="logreg")
    at.switch_page("pages/fairness.py").run()
    at.multiselect(key="fair_attrs").set_value(["sex", "race"])
    at.number_input(key="fair_min_size").set_value(50).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "Female & Black" in list(table["sex & race"]) and len(table) == 10
    assert any("fewer than 50 rows (Female & Other)" in w.value for w in at.warning)  # 46 test rows


def test_state_survives_page_switches_and_model_is_not_retrained(app):
    at = _train(app, kind="logreg")
    model = at.session_state["dlxai.model"]
    at.switch_page("pages/fairness.py").run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/data_model.py").run()
    at.run()
    assert at.session_state["dlxai.model"] is model
    assert not at.success  # no "Trained ..." message: nothing was retrained


# --- bad input: a clear message, and the session keeps its state ----------------------------
def test_zero_epochs(app):
    at = _train(app, kind="logreg")
    model = at.session_state["dlxai.model"]
    at = _train(at, epochs=0, kind="mlp")
    assert errors.BAD_EPOCHS.format(value=0) in errors_of(at)
    assert at.session_state["dlxai.model"] is model


def test_non_binary_target(app):
    app.switch_page("pages/data_model.py").run()
    before = app.session_state["dlxai.dataset"]
    app.selectbox(key="dm_target").set_value("race").run()
    assert any("must have exactly two classes; it has 5" in e for e in errors_of(app))
    assert app.session_state["dlxai.dataset"] is before and not app.exception


def test_nothing_selected(app):
    at = _train(app, kind="logreg")
    at.switch_page("pages/fairness.py").run()
    at.multiselect(key="fair_attrs").set_value([]).run()
    assert errors.NO_SENSITIVE in errors_of(at)
    assert at.session_state["dlxai.model"] is not None


def _inject(at, ds):
    at.session_state["dlxai.dataset"] = ds
    at.session_state["dlxai.dataset_key"] = "injected"
    at.session_state["dlxai.model"] = None
    at.session_state["dlxai.models"] = {}
    at.session_state["dlxai.sensitive"] = list(ds.schema.sensitive)


def _tiny(over=None):
    rng = np.random.default_rng(0)
    import pandas as pd

    df = pd.DataFrame({"x": rng.normal(size=80), "c": rng.choice(["u", "v"], 80), "s": rng.choice(["f", "m"], 80),
                       "y": rng.choice(["yes", "no"], 80)})
    for k, v in (over or {}).items():
        df[k] = v
    schema = Schema(target="y", positive_label="yes", sensitive=("s",), numeric=("x",), categorical=("c",))
    return TabularDataset("tiny", df.iloc[:60].reset_index(drop=True), df.iloc[60:].reset_index(drop=True), schema)


def test_all_nan_column_when_training(app):
    ds = _tiny({"x": np.nan})
    _inject(app, ds)
    at = _train(app, kind="logreg")
    assert errors.ALL_NAN_COLUMN.format(column="x") in errors_of(at)
    assert at.session_state["dlxai.dataset"] is ds and not at.exception


def test_single_group_sensitive_attribute(app):
    ds = _tiny({"s": "f"})
    _inject(app, ds)
    at = _train(app, kind="logreg")
    assert not errors_of(at)
    at.switch_page("pages/fairness.py").run()
    assert errors.SINGLE_GROUP.format(column="s", group="f") in errors_of(at)
    assert at.session_state["dlxai.model"] is not None and not at.exception


def test_bias_lab_dial(app):
    app.slider(key="lab_label_bias").set_value(0.8)
    app.button(key="demo_lab").click().run()
    ds = app.session_state["dlxai.dataset"]
    assert ds.name == "bias_lab" and "label bias 0.80" in ds.description
    at = _train(app, kind="logreg")
    at.switch_page("pages/fairness.py").run()
    dp = float({m.label: m.value for m in at.metric}["Demographic parity difference"])
    assert dp > 0.1
