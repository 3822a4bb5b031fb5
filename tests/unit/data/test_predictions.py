"""Predictions only: one rule turns a prediction column or a score + threshold into decisions, and the Upload page's
path (read_table -> load_predictions -> audit_predictions) and the CLI give the same decisions for the same file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dlxai import errors
from dlxai.cli import EXIT_OK, run
from dlxai.data.predictions import SCORE_DIRECTIONS, decisions, load_predictions
from dlxai.data.tables import read_table
from dlxai.errors import UserInputError
from dlxai.fairness import audit_fairness
from dlxai.report import audit_predictions
from tests import makers


def deciles(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """A 1-10 risk decile (not a probability) that tracks the label, higher for group M."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    decile = np.clip(rng.integers(1, 11, n) + (sex == "M"), 1, 10)
    label = np.where(rng.random(n) < decile / 12, "good", "bad")
    return pd.DataFrame({"label": label, "sex": sex, "decile": decile})


def upload_page_bundle(path, **settings):
    """What the Upload page does with a predictions file: parse it, validate it, and (for the PDF) audit it."""
    table = read_table(path.read_bytes(), path.name)
    p = load_predictions(table, "label", "good", ["sex"], **settings)
    k = p.params  # as ui.upload.predictions_bundle passes them
    bundle = audit_predictions(table.frame, target=k["label"], sensitive=list(k["sensitive"]),
                               prediction_column=k["prediction"], score_column=k["score"], threshold=k["threshold"],
                               higher_is_favourable=k["higher_is_favourable"] is not False,
                               positive_label=k["positive_label"], n_bootstrap=0, name=table.name)
    return p, bundle.to_dict()


def cli(path, tmp_path, *extra) -> dict:
    out = tmp_path / "cli.json"
    rc = run(["audit", "--data", str(path), "--target", "label", "--positive-label", "good", "--sensitive", "sex",
              "--json", str(out), "--quiet", "--n-bootstrap", "0", *extra])
    assert rc == EXIT_OK
    return json.loads(out.read_text())


@pytest.mark.parametrize("direction", list(SCORE_DIRECTIONS))
def test_a_decile_score_gives_the_same_decisions_through_the_cli_and_the_upload_page(tmp_path, direction):
    df = deciles()
    path = tmp_path / "deciles.csv"
    df.to_csv(path, index=False)
    got = cli(path, tmp_path, "--score-column", "decile", "--threshold", "5", "--score-direction", direction)
    p, page = upload_page_bundle(path, score="decile", threshold=5.0, higher_is_favourable=SCORE_DIRECTIONS[direction])

    expected = df.decile >= 5 if direction == "higher" else df.decile <= 5
    np.testing.assert_array_equal(p.y_pred, expected.to_numpy(np.int64))
    assert page["fairness"] == got["fairness"] and page["performance"] == got["performance"]
    direct = audit_fairness(p.y_true, p.y_pred, p.sensitive[["sex"]], n_bootstrap=0)
    for g in ("F", "M"):
        assert got["fairness"]["sex"]["by_group"][g]["selection_rate"] == pytest.approx(
            direct.by_group.loc[g, "selection_rate"], abs=1e-12)
    assert got["model"]["decisions_from"] == f"score column 'decile' {'>=' if direction == 'higher' else '<='} 5"
    assert got["threshold"] == 5 and got["parameters"]["higher_is_favourable"] is (direction == "higher")
    auc = got["performance"]["roc_auc"]  # the ranking of the scores, oriented by the direction
    assert (auc > 0.5) if direction == "higher" else (auc < 0.5)


def test_probability_scores_and_prediction_columns_agree_across_the_paths(tmp_path):
    df = makers.predictions_frame()
    path = tmp_path / "preds.csv"
    df.to_csv(path, index=False)
    for settings, flags in [({"score": "score", "threshold": 0.6}, ["--score-column", "score", "--threshold", "0.6"]),
                            ({"prediction": "pred"}, ["--prediction-column", "pred"])]:
        p, page = upload_page_bundle(path, **settings)
        got = cli(path, tmp_path, *flags)
        assert page["fairness"] == got["fairness"] and page["performance"] == got["performance"], flags
    np.testing.assert_array_equal(upload_page_bundle(path, score="score", threshold=0.6)[0].y_pred,
                                  (df["score"] >= 0.6).to_numpy(np.int64))


def test_a_prediction_column_equals_a_direct_audit():
    df = makers.predictions_frame()
    p = load_predictions(df, "label", "good", ["sex"], prediction="pred")
    np.testing.assert_array_equal(p.y_true, (df["label"] == "good").to_numpy(int))
    np.testing.assert_array_equal(p.y_pred, (df["pred"] == "good").to_numpy(int))
    a = audit_fairness(p.y_true, p.y_pred, p.sensitive[["sex"]], n_bootstrap=0)
    assert a.by_group.loc["M", "selection_rate"] == pytest.approx(
        ((df.sex == "M") & (df.pred == "good")).sum() / (df.sex == "M").sum())
    assert p.params["threshold"] is None and p.params["higher_is_favourable"] is None


def test_score_and_threshold_keep_the_settings():
    df = makers.predictions_frame()
    p = load_predictions(df, "label", "good", ["sex", "race"], score="score", threshold=0.6)
    np.testing.assert_array_equal(p.y_pred, (df["score"] >= 0.6).to_numpy(int))
    np.testing.assert_array_equal(p.scores, df["score"].to_numpy())
    assert p.params["threshold"] == 0.6 and p.params["higher_is_favourable"] is True
    a = audit_fairness(p.y_true, p.y_pred, p.sensitive, n_bootstrap=0)
    assert len(a.by_group) == 6 and a.by_group["count"].sum() == len(df)


@pytest.mark.parametrize("values, labels, positive, expected", [
    ([True, False, True], ["good", "bad"], "good", [1, 0, 1]),  # booleans
    ([1.0, 0.0, 0.0], ["good", "bad"], "good", [1, 0, 0]),  # 0/1 as floats
    (["bad", "good", "bad"], ["good", "bad"], "good", [0, 1, 0]),  # the target's labels
    ([0, 1, 0], [0, 1], 0, [1, 0, 1]),  # labels 0/1 with 0 favourable: the label wins over "1 means favourable"
    ([1, 1, 1], [0, 1], 1, [1, 1, 1]),  # one decision for every row is still a decision
])
def test_prediction_column_rules(values, labels, positive, expected):
    d = decisions(pd.DataFrame({"p": values}), prediction="p", target_values=labels, positive=positive)
    np.testing.assert_array_equal(d.y_pred, expected)
    assert d.scores is None and d.described == "prediction column 'p'"


SCORES = pd.DataFrame({"s": [0.2, 0.7, 0.9], "text": ["a", "b", "c"], "nan": [0.1, np.nan, 0.3],
                       "inf": [0.1, np.inf, 0.3], "p": [0, 1, 1]})


@pytest.mark.parametrize("kwargs, message", [
    ({"score": "text", "threshold": 0.5}, errors.SCORE_NOT_NUMERIC.format(column="text", examples=["a", "b", "c"])),
    ({"score": "nan", "threshold": 0.5}, errors.SCORE_NOT_FINITE.format(column="nan", n=1)),
    ({"score": "inf", "threshold": 0.5}, errors.SCORE_NOT_FINITE.format(column="inf", n=1)),
    ({"score": "s", "threshold": float("nan")}, "must be a finite number"),
    ({"score": "s", "threshold": "0.5"}, "must be a finite number"),
    ({"score": "s"}, errors.SCORE_NEEDS_THRESHOLD.format(column="s")),
    ({"prediction": "p", "threshold": 0.5}, "applies to a score column only"),
    ({"prediction": "p", "score": "s", "threshold": 0.5}, "not both / neither"),
    ({"score": "nope", "threshold": 0.5}, "Column 'nope' is not in the data"),
])
def test_bad_scores_and_thresholds_name_the_column(kwargs, message):
    with pytest.raises(UserInputError) as info:
        decisions(SCORES, target_values=[0, 1], positive=1, **kwargs)
    assert message in str(info.value)


def test_the_same_bad_score_is_refused_the_same_way_on_both_paths():
    df = makers.predictions_frame().assign(score=lambda d: d["score"].where(d.index != 5))
    with pytest.raises(UserInputError) as page:
        load_predictions(df, "label", "good", ["sex"], score="score", threshold=0.5)
    with pytest.raises(UserInputError) as report:
        audit_predictions(df, target="label", sensitive=["sex"], score_column="score", threshold=0.5, n_bootstrap=0)
    assert str(page.value) == str(report.value) == errors.SCORE_NOT_FINITE.format(column="score", n=1)
