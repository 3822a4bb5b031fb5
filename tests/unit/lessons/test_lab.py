"""The bias lab as the lessons use it: dials, keys, one run's analysis, the proxy detector, deserving rejects."""

from __future__ import annotations

import pytest

from dlxai.data.bundled import DESERVED
from dlxai.errors import UserInputError
from dlxai.lessons.lab import GROUP, PROXY, LabSettings, analyse, deserving_rejected, proxy_detector


def test_settings_round_validate_and_match_the_dashboards_key():
    s = LabSettings(0.30000000000000004, 0.5, 1, 0)
    assert s.label_bias == 0.3 and s.include_group is True
    assert s.key == "bias_lab:(('label_bias', 0.3), ('proxy_strength', 0.5), ('include_group', True), ('seed', 0))"
    assert LabSettings.from_dataset_key(s.key) == s
    assert LabSettings.from_dataset_key("adult") is None and LabSettings.from_dataset_key("bias_lab:junk") is None
    assert s.label == "bias 0.30 · proxy 0.50 · group is an input"
    with pytest.raises(UserInputError, match="label_bias"):
        LabSettings(1.5)


@pytest.fixture(scope="module")
def small_run():
    from dlxai.data import make_bias_lab
    from dlxai.models import train_model

    settings = LabSettings(0.9, 0.9, True)
    ds = make_bias_lab(1500, **{k: v for k, v in settings.params() if k != "seed"}, seed=0)
    model = train_model(ds, "mlp", seed=0, hidden_layer_sizes=(16,), max_epochs=4)
    return settings, ds, model


def test_analyse_grades_both_labels_and_finds_where_attributions_land(small_run):
    settings, ds, model = small_run
    run = analyse(model, ds, settings, n_bootstrap=50, n_explain=60)
    rec = run.record()
    assert set(rec) >= {"accuracy_recorded", "accuracy_deserved", "dp", "eo_recorded", "eo_deserved",
                        "share_group", "share_proxy"}
    assert run.shares.sum() == pytest.approx(1.0)
    assert set(run.shares.index) == set(ds.schema.features)
    assert rec["share_group"] == run.shares[GROUP] > 0
    # with nine in ten of B's approvals missing, the records flatter the model
    assert rec["accuracy_recorded"] > rec["accuracy_deserved"]


def test_the_proxy_detector_finds_the_neighbourhood(small_run):
    _, ds, _ = small_run
    assoc = proxy_detector(ds)
    assert assoc.index[0] == PROXY and assoc[PROXY] > 0.6
    assert GROUP not in assoc.index and (assoc.drop(PROXY) < 0.2).all()


def test_deserving_rejected_lists_group_b_victims_closest_to_approval_first(small_run):
    _, ds, model = small_run
    rows = deserving_rejected(model, ds)
    assert len(rows) > 0
    assert (rows[GROUP] == "B").all() and (rows[DESERVED] == "approved").all() and (rows["proba"] < 0.5).all()
    assert rows["proba"].is_monotonic_decreasing
    assert (ds.test.iloc[rows.index][GROUP] == "B").all()  # the index is the test position
    assert len(deserving_rejected(model, ds, limit=3)) == 3
