"""Judging against the deserved labels: the bias lab keeps them, never as a feature, and every metric has both."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.data import load_german, make_bias_lab
from dlxai.data.bundled import DESERVED
from dlxai.errors import UserInputError
from dlxai.fairness.metrics import audit_fairness
from dlxai.lessons.deserved import DESERVED_LABELS, NO_DESERVED, RECORDED, deserved_labels, has_deserved, judge


@pytest.fixture(scope="module")
def lab():
    return make_bias_lab(1500, label_bias=0.6, seed=3)


def test_the_lab_keeps_the_deserved_label_outside_the_features(lab):
    assert DESERVED in lab.schema.ignore and DESERVED not in lab.schema.features
    assert DESERVED not in lab.X("train").columns and DESERVED not in lab.X("test").columns
    frame = lab.frame("all")
    recorded = frame["decision"] == "approved"
    deserved = frame[DESERVED] == "approved"
    assert not (recorded & ~deserved).any()  # label bias only turns approvals into rejections
    flipped = deserved & ~recorded
    assert set(frame.loc[flipped, "group"]) == {"B"} and flipped.sum() > 50


def test_without_label_bias_recorded_and_deserved_agree():
    ds = make_bias_lab(600, label_bias=0.0, seed=1)
    assert (ds.y("test") == deserved_labels(ds)).all()


def test_a_model_cannot_read_the_deserved_label(lab):
    """Scrambling the deserved column changes nothing the model sees or predicts."""
    from dlxai.models import train_model

    m = train_model(lab, "logreg", seed=0)
    test = lab.frame("test")
    scrambled = test.assign(**{DESERVED: np.random.default_rng(0).permutation(test[DESERVED].to_numpy())})
    assert DESERVED not in m.feature_columns
    assert np.array_equal(m.predict_proba(test), m.predict_proba(scrambled))


def test_judge_audits_the_same_decisions_against_both_labels(lab):
    y_pred = (np.random.default_rng(1).random(len(lab.test)) < 0.5).astype(int)
    j = judge(y_pred, lab, "group", n_bootstrap=0)
    groups = lab.sensitive("test", ["group"])
    want_rec = audit_fairness(lab.y("test"), y_pred, groups, n_bootstrap=0)
    want_des = audit_fairness(deserved_labels(lab), y_pred, groups, n_bootstrap=0)
    assert j.recorded.summary == want_rec.summary and j.deserved.summary == want_des.summary
    table = j.summary()
    assert list(table.columns) == [RECORDED, DESERVED_LABELS]
    assert table.loc["Accuracy", DESERVED_LABELS] == pytest.approx(want_des.overall["accuracy"])
    # the selection rate needs no labels; DP reads the same against both
    dp = "Selection rate gap (demographic parity difference)"
    assert table.loc[dp, RECORDED] == table.loc[dp, DESERVED_LABELS]
    by = j.by_group()
    assert by.loc["Selection rate", f"B · {RECORDED}"] == by.loc["Selection rate", f"B · {DESERVED_LABELS}"]
    assert by.loc["Accuracy", f"B · {DESERVED_LABELS}"] == pytest.approx(want_des.by_group.loc["B", "accuracy"])
    # about 60% of B's deserved approvals are missing from the records, none of A's
    assert j.missing["A"] == 0.0 and 0.45 < j.missing["B"] < 0.75


def test_data_without_deserved_labels_says_so():
    ds = load_german()
    assert not has_deserved(ds)
    with pytest.raises(UserInputError) as e:
        judge(np.zeros(len(ds.test), dtype=int), ds, "sex")
    assert str(e.value) == NO_DESERVED.format(name="german", column=DESERVED)
