"""Mitigation engine: Fairlearn reductions and post-processing around dlxai models, on Adult/sex."""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from dlxai.errors import CANCELLED, Cancelled, UnsupportedModelError, UserInputError
from dlxai.fairness import mitigation as mt
from dlxai.fairness.mitigation import messages as msg
from dlxai.fairness.mitigation import tradeoff
from dlxai.fairness.mitigation.progress import FitCounter
from dlxai.models.torch_mlp import TorchMLPClassifier
from tests.unit.fairness.conftest import SMALL_MLP, fragment

SEX = ["sex"]  # Adult's schema names three sensitive attributes; mitigation takes one or two


@pytest.fixture(scope="module")
def german_small_mlp(german):
    from dlxai.models import train_model

    return train_model(german, "mlp", seed=0, **SMALL_MLP)


def _state(model):
    return {k: v.clone() for k, v in model.torch_module().state_dict().items()}


def _assert_unchanged(model, state, attrs):
    now = model.torch_module().state_dict()
    assert state.keys() == now.keys()
    for k in state:
        assert torch.equal(state[k], now[k]), k
    assert set(vars(model.estimator)) == attrs
    assert not model.torch_module()._forward_hooks and not model.torch_module()._forward_pre_hooks


# --- sample_weight is honoured: integer weights == duplicated rows ----------------------------------
def test_integer_sample_weight_equals_duplicated_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    w = rng.integers(0, 4, size=60)
    w[:2] = 1  # both classes keep weight
    params = dict(hidden_layer_sizes=(8,), max_epochs=6, batch_size=10_000, validation_fraction=0.0, dropout=0.0,
                  random_state=3, device="cpu")
    weighted = TorchMLPClassifier(**params).fit(X, y, sample_weight=w)
    dup = TorchMLPClassifier(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose([h.train_loss for h in weighted.history_], [h.train_loss for h in dup.history_],
                               rtol=1e-5)
    for a, b in zip(weighted.module_.parameters(), dup.module_.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(weighted.predict_proba(X), dup.predict_proba(X), atol=1e-5)


def test_fairlearn_clone_keeps_parameters_and_drops_fit():
    est = TorchMLPClassifier(hidden_layer_sizes=(8,), max_epochs=2, random_state=5)
    est.fit(np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32), np.arange(40) % 2)
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert not hasattr(c, "module_")


# --- ExponentiatedGradient (the acceptance test) ---------------------------------------------
@pytest.mark.slow
def test_expgrad_dp_below_003_on_adult_test_split(adult, adult_small_mlp):
    m = adult_small_mlp
    state, attrs = _state(m), set(vars(m.estimator))
    r = mt.mitigate(m, adult, "exponentiated_gradient", "demographic_parity", sensitive=SEX, strength=0.01,
                    max_iter=15, n_bootstrap=100, seed=0)
    assert r.before.demographic_parity > 0.15
    assert r.after.demographic_parity < 0.03
    assert r.before.accuracy - r.after.accuracy <= 0.03
    # the randomized classifier is explicit and seeded: the same seed gives the same decisions, as Fairlearn's own
    Xt = m.transform(adult.X("test"))
    eg = r.model.estimator.mitigator
    frame = adult.frame("test")
    np.testing.assert_array_equal(r.model.predict(frame), eg.predict(Xt, random_state=0))
    np.testing.assert_array_equal(r.model.predict(frame), r.model.predict(frame))
    assert (r.model.predict(frame, random_state=1) != r.model.predict(frame)).any()
    np.testing.assert_allclose(r.model.predict_proba(frame), eg._pmf_predict(Xt)[:, 1])
    assert r.model.randomized and any("randomized" in n for n in r.notes)
    with pytest.raises(UnsupportedModelError, match="randomized mixture|group-thresholded"):
        r.model.torch_module()
    # the best deterministic member is a plain model with its own metrics and a torch module
    assert r.deterministic is not None and r.deterministic_scores is not None
    assert r.deterministic.torch_module() is not None
    assert r.deterministic_scores.demographic_parity < r.before.demographic_parity
    table = r.table()
    assert list(table.index)[0] == "Original" and len(table) == 3
    assert r.model.fingerprint != r.deterministic.fingerprint != m.fingerprint
    _assert_unchanged(m, state, attrs)


# --- ThresholdOptimizer equals Fairlearn called directly ------------------------------------------------
@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_threshold_optimizer_equals_fairlearn(adult, adult_small_mlp, constraint):
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    from fairlearn.postprocessing import ThresholdOptimizer

    m = adult_small_mlp
    state, attrs = _state(m), set(vars(m.estimator))
    r = mt.mitigate(m, adult, "threshold_optimizer", constraint, sensitive=SEX, seed=7, n_bootstrap=0)
    to = ThresholdOptimizer(estimator=copy.deepcopy(m.estimator), constraints=constraint, prefit=True,
                            predict_method="predict_proba")
    to.fit(m.transform(adult.X("train")), adult.y("train"), sensitive_features=adult.train["sex"])
    Xt = m.transform(adult.X("test"))
    expected = to.predict(Xt, sensitive_features=adult.test["sex"], random_state=7)
    np.testing.assert_array_equal(r.model.predict(adult.frame("test")), expected)
    np.testing.assert_allclose(r.model.predict_proba(adult.frame("test")),
                               to._pmf_predict(Xt, sensitive_features=adult.test["sex"])[:, 1])
    y = adult.y("test")
    assert r.after.demographic_parity == pytest.approx(demographic_parity_difference(y, expected, sensitive_features=adult.test["sex"]), abs=1e-12)
    assert r.after.equalized_odds == pytest.approx(equalized_odds_difference(y, expected, sensitive_features=adult.test["sex"]), abs=1e-12)
    assert r.after.gap(constraint) < r.before.gap(constraint)
    _assert_unchanged(m, state, attrs)


def test_post_processing_without_the_attribute_explains_why(adult, adult_small_mlp):
    r = mt.mitigate(adult_small_mlp, adult, "threshold_optimizer", "demographic_parity", sensitive=SEX, n_bootstrap=0)
    assert r.model.sensitive_columns == ("sex",)
    no_sex = adult.frame("test").drop(columns=["sex"])
    with pytest.raises(UserInputError, match=fragment(msg.SENSITIVE_AT_PREDICTION)):
        r.model.predict_proba(no_sex)
    with pytest.raises(UserInputError, match="lack \\['sex'\\]"):
        r.model.predict(no_sex)
    # age_band is not a model feature: X lacks it, the raw frame holds it
    r2 = mt.mitigate(adult_small_mlp, adult, "threshold_optimizer", "demographic_parity", sensitive=["age_band"],
                     n_bootstrap=0)
    with pytest.raises(UserInputError, match="age_band"):
        r2.model.predict_proba(adult.X("test"))
    assert r2.model.predict_proba(adult.frame("test")).shape == (len(adult.test),)


# --- GridSearch, any scikit-learn model ---------------------------------------------------------------
def test_grid_search_on_logistic_regression(adult, adult_logreg):
    coef = adult_logreg.estimator.coef_.copy()
    r = mt.mitigate(adult_logreg, adult, "grid_search", "demographic_parity", sensitive=SEX, strength=7,
                    n_bootstrap=50)
    assert r.after.demographic_parity < 0.05 < r.before.demographic_parity
    assert r.before.accuracy - r.after.accuracy < 0.05
    assert type(r.model.estimator).__name__ == "LogisticRegression"
    assert r.model.predict_proba(adult.X("test")).dtype == np.float64
    np.testing.assert_array_equal(adult_logreg.estimator.coef_, coef)
    assert r.model.fingerprint != adult_logreg.fingerprint


# --- honest messages and bad input -------------------------------------------------------------------------
def test_no_improvement_is_reported(adult, adult_small_mlp):
    # lambda = 0 is plain training with the same seed: the same model, so the same disparity
    r = mt.mitigate(adult_small_mlp, adult, "penalised", "demographic_parity", sensitive=SEX, strength=0.0,
                    n_bootstrap=50)
    assert r.after.demographic_parity == pytest.approx(r.before.demographic_parity, abs=1e-12)
    assert r.notes[0].startswith("No improvement") and r.warnings[0] == r.notes[0]
    assert f"{r.before.demographic_parity:.3f}" in r.notes[0]
    assert not r.improved
    # the same decisions: every change is exactly 0 and nothing is called worse
    assert (r.tradeoff.metrics["change"] == 0).all() and r.worse() == []
    assert set(r.tradeoff.metrics["verdict"]) == {tradeoff.UNCLEAR}


# --- every metric before and after; what got worse is flagged --------------------------------------------------
def test_worse_flag_fires_when_threshold_optimizer_widens_equalized_odds(adult, adult_small_mlp):
    """Under demographic parity, group thresholds equalise selection rates and pull TPR/FPR apart (the walkthrough:
    EO 0.077 -> 0.308); under equalized odds they do not."""
    dp = mt.mitigate(adult_small_mlp, adult, "threshold_optimizer", "demographic_parity", sensitive=SEX,
                     n_bootstrap=200)
    t = dp.tradeoff
    eo = t.metrics.loc["equalized_odds_difference"]
    assert eo["after"] > eo["before"] and eo["change_lo"] > 0 and eo["verdict"] == tradeoff.WORSE
    assert "equalized_odds_difference" in dp.worse()
    sentence = next(w for w in dp.warnings if w.startswith("Equalized odds difference got worse"))
    assert f"{eo['before']:.3f} → {eo['after']:.3f}" in sentence and "95% CI" in sentence
    assert dp.warnings.index(sentence) < len(dp.warnings)  # a warning, shown as one on the page and in the PDF
    # the point values are the audit's: the same as the before/after Scores
    assert eo["before"] == pytest.approx(dp.before.equalized_odds) and eo["after"] == pytest.approx(dp.after.equalized_odds)
    assert t.metrics.at["demographic_parity_difference", "verdict"] == tradeoff.BETTER
    # every metric and every group rate, human names, with intervals
    assert list(t.display()["Metric"]) == [label for label, _ in tradeoff.METRICS.values()]
    assert set(t.groups.index.get_level_values("rate")) == {"selection_rate", "tpr", "fpr"}
    assert ((t.metrics["change_lo"] <= t.metrics["change"] + 1e-12)
            | ~np.isfinite(t.metrics["change_lo"])).all()

    eo_run = mt.mitigate(adult_small_mlp, adult, "threshold_optimizer", "equalized_odds", sensitive=SEX,
                         n_bootstrap=200)
    assert eo_run.tradeoff.metrics.at["equalized_odds_difference", "verdict"] != tradeoff.WORSE
    assert not any(w.startswith("Equalized odds difference got worse") for w in eo_run.warnings)


def test_compare_rule_on_known_decisions():
    rng = np.random.default_rng(0)
    n = 4000
    g = pd.Series(np.where(rng.random(n) < 0.5, "a", "b"))
    y = (rng.random(n) < 0.4).astype(int)
    before = np.where(rng.random(n) < 0.85, y, 1 - y)  # the same accuracy in both groups
    flip = (g == "a").to_numpy() & (y == 0) & (rng.random(n) < 0.5)  # group a gets many false positives
    after = np.where(flip, 1, before)
    t = tradeoff.compare(y, before, after, g, n_bootstrap=300, seed=1)
    assert t.metrics.at["equalized_odds_difference", "verdict"] == tradeoff.WORSE
    assert t.metrics.at["accuracy", "verdict"] == tradeoff.WORSE
    assert t.metrics.at["equal_opportunity_difference", "verdict"] == tradeoff.UNCLEAR  # TPRs untouched
    same = tradeoff.compare(y, before, before, g, n_bootstrap=300, seed=1)
    assert same.worse() == [] and (same.metrics["change_hi"] == 0).all()
    # a gap of exactly 0 cannot shrink under resampling: a change below MIN_CHANGE is not called worse
    everyone = np.ones(n, dtype=int)
    few = everyone.copy()
    few[np.flatnonzero((g == "a").to_numpy() & (y == 1))[:3]] = 0
    tiny = tradeoff.compare(y, everyone, few, g, n_bootstrap=300, seed=1)
    assert 0 < tiny.metrics.at["equal_opportunity_difference", "change"] < tradeoff.MIN_CHANGE
    assert tiny.metrics.at["equal_opportunity_difference", "verdict"] == tradeoff.UNCLEAR
    no_ci = tradeoff.compare(y, before, after, g, n_bootstrap=0)
    assert no_ci.metrics.at["equalized_odds_difference", "verdict"] == tradeoff.WORSE
    assert "no interval" in no_ci.sentence("equalized_odds_difference")


# --- progress counts real fits, never overshoots, and a False answer stops the run -----------------------------
def test_fit_counter_never_overshoots_its_plan():
    seen = []
    c = FitCounter(2, lambda f, t: seen.append((f, t)))
    for _ in range(3):
        c.start_fit()
        c.epoch(1, 2)
    texts = [t for _, t in seen]
    assert texts[0] == "Fit 1 of 2" and texts[2].startswith("Fit 2 of 2")
    assert texts[4] == "Fit 3 (more than planned)" and "left" not in texts[4]
    assert all(f <= 0.99 for f, _ in seen) and [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_progress_counts_real_fits_of_any_model(german):
    from dlxai.models import train_model

    lr = train_model(german, "logreg", seed=0)
    seen = []
    r = mt.mitigate(lr, german, "grid_search", "demographic_parity", sensitive=SEX, strength=5, n_bootstrap=0,
                    progress=lambda f, t: seen.append((f, t)))
    assert r.params["planned_fits"] == 5 and 1 <= r.params["fits"] <= 5
    fits = [t for _, t in seen if t.startswith("Fit ")]
    assert len({t.split(" ·")[0] for t in fits}) == r.params["fits"]  # one "Fit k of 5" per real fit
    assert not any("more than planned" in t for t in fits)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and max(fractions[:-1]) <= 0.99
    assert type(r.model.estimator).__name__ == "LogisticRegression"  # the counting wrapper is gone


def test_expgrad_plan_and_time_estimate(german, german_small_mlp):
    seen = []
    r = mt.mitigate(german_small_mlp, german, "exponentiated_gradient", "demographic_parity", sensitive=SEX, max_iter=2,
                    estimator_params={"max_epochs": 2}, n_bootstrap=0, progress=lambda f, t: seen.append(t))
    assert r.params["planned_fits"] == 8 and r.params["fits"] == r.model.estimator.mitigator.n_oracle_calls_ - \
        r.model.estimator.mitigator.n_oracle_calls_dummy_returned_
    assert any("epoch 2 of 2" in t for t in seen) and any(t.endswith("s left") for t in seen)
    for t in seen:  # never "Fit 7 of 4"
        if t.startswith("Fit ") and " of " in t.split(" ·")[0]:
            k, of = t.split(" ·")[0].removeprefix("Fit ").split(" of ")
            assert int(k) <= int(of)
    assert all(type(p).__name__ == "TorchMLPClassifier" for _, p in r.model.estimator.members)


@pytest.mark.parametrize("at", ["Fit 2 of", "epoch 1 of"])
def test_a_false_progress_answer_stops_the_run_promptly(german, german_small_mlp, at):
    m = german_small_mlp
    state, attrs = _state(m), set(vars(m.estimator))
    asked = []

    def progress(frac, text):
        if at in text and not asked:
            asked.append(time.perf_counter())
            return False
        return None

    with pytest.raises(Cancelled, match=fragment(CANCELLED)):
        mt.mitigate(m, german, "grid_search", "equalized_odds", sensitive=SEX, strength=4, n_bootstrap=0,
                    estimator_params={"max_epochs": 4}, progress=progress)
    assert asked and time.perf_counter() - asked[0] < 2.0
    _assert_unchanged(m, state, attrs)


# --- defaults that finish: a stratified sample of the training rows ---------------------------------------------
def test_max_rows_retrains_on_a_stratified_sample(adult, adult_small_mlp):
    r = mt.mitigate(adult_small_mlp, adult, "reweighing", sensitive=SEX, max_rows=3000, n_bootstrap=0,
                    estimator_params={"max_epochs": 1})
    assert r.params["max_rows"] == 3000 and r.model.params["max_rows"] == 3000
    assert any(n.startswith("Retrained on a stratified sample of 3,0") for n in r.notes)
    from dlxai.fairness.mitigation import _sample
    from dlxai.fairness.mitigation.models import groups_frame

    y, sf = adult.y("train"), groups_frame(adult.sensitive("train", SEX))
    rows = _sample(len(y), y, sf, 3000, 0)
    assert abs(len(rows) - 3000) <= 4 and len(set(rows)) == len(rows)
    full = pd.crosstab(sf["sex"], y, normalize=True)
    part = pd.crosstab(sf["sex"].iloc[rows], y[rows], normalize=True)
    assert np.abs(full.to_numpy() - part.to_numpy()).max() < 0.002  # group x label shares kept
    with pytest.raises(UserInputError, match=fragment(msg.BAD_MAX_ROWS)):
        mt.mitigate(adult_small_mlp, adult, "reweighing", sensitive=SEX, max_rows=5)


def test_page_defaults_are_in_the_registry():
    for spec in mt.METHODS.values():
        q = spec.quick
        if spec.planned_fits(spec.strength.default, q.max_iter or 1) > 0:
            assert q.max_epochs and q.why, spec.key  # every retraining method states its shortcut
    eg = mt.METHODS["exponentiated_gradient"].quick
    assert eg.max_iter and eg.max_rows and eg.max_epochs


# --- ThresholdOptimizer on a model with float32 scores ----------------------------------------------------------
@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_threshold_optimizer_on_float32_logistic_regression(german, constraint):
    """scikit-learn keeps the float32 of dlxai's matrix, and Fairlearn used to fail writing float64 thresholds into
    those scores (pandas TypeError: Invalid value ... for dtype 'float32')."""
    from fairlearn.postprocessing import ThresholdOptimizer

    from dlxai.models import train_model

    lr = train_model(german, "logreg", seed=0)
    assert lr.estimator.predict_proba(lr.transform(german.X("train"))).dtype == np.float32
    cols = ["sex", "age_band"]
    r = mt.mitigate(lr, german, "threshold_optimizer", constraint, sensitive=cols, seed=3, n_bootstrap=0)
    frame = german.frame("test")
    p = r.model.predict_proba(frame)
    assert p.dtype == np.float64 and p.shape == (len(frame),)
    assert r.model.estimator.members[0][1] is r.model.estimator.mitigator.estimator_.estimator
    # the thresholds equal Fairlearn's on the same scores widened to float64
    sf = mt.groups_frame(german.sensitive("train", cols))
    scores64 = copy.deepcopy(lr.estimator)
    scores64.predict_proba = lambda X, est=lr.estimator: est.predict_proba(X).astype(np.float64)
    to = ThresholdOptimizer(estimator=scores64, constraints=constraint, prefit=True, predict_method="predict_proba")
    to.fit(lr.transform(german.X("train")), german.y("train"), sensitive_features=sf)
    expected = to.predict(lr.transform(german.X("test")), sensitive_features=mt.groups_frame(german.sensitive("test", cols)),
                          random_state=3)
    np.testing.assert_array_equal(r.model.predict(frame), expected)


def test_bad_input_messages(adult, adult_small_mlp, adult_logreg):
    m = adult_small_mlp
    state, attrs = _state(m), set(vars(m.estimator))
    with pytest.raises(UserInputError, match=fragment(msg.UNKNOWN_METHOD)):
        mt.mitigate(m, adult, "magic")
    with pytest.raises(UserInputError, match=fragment(msg.UNKNOWN_CONSTRAINT)):
        mt.mitigate(m, adult, "grid_search", "equal_vibes")
    with pytest.raises(UserInputError, match="eps for"):
        mt.mitigate(m, adult, "exponentiated_gradient", sensitive=SEX, strength=0.0)
    with pytest.raises(UserInputError, match="grid_size"):
        mt.mitigate(m, adult, "grid_search", sensitive=SEX, strength=1)
    with pytest.raises(UnsupportedModelError, match=fragment(msg.NEEDS_TORCH)):
        mt.mitigate(adult_logreg, adult, "penalised", sensitive=SEX)
    with pytest.raises(UserInputError, match="cannot define groups"):
        mt.mitigate(m, adult, "reweighing", sensitive=["income"])
    # an error inside the retraining leaves the caller's model as it was
    with pytest.raises(UserInputError, match="max_epochs"):
        mt.mitigate(m, adult, "reweighing", sensitive=SEX, estimator_params={"max_epochs": 0}, n_bootstrap=0)
    _assert_unchanged(m, state, attrs)


# --- the registry, and which attributes define groups ------------------------------------------------------
def test_every_method_is_one_registry_entry():
    for key, spec in mt.METHODS.items():
        assert spec.key == key and spec.label and spec.short and callable(spec.fit)
        assert set(spec.constraints) <= set(mt.CONSTRAINTS)
        knob = spec.strength
        assert knob.default in knob.sweep
        assert all(knob.validated(v, spec.label) == v for v in knob.sweep if v is not None and knob.check)
        if knob.widget is not None:  # the page's number input starts at the default, inside its range
            assert knob.widget[0] <= knob.default <= knob.widget[1]


def test_sensitive_none_means_the_schemas_attributes(adult, german, adult_small_mlp):
    from dlxai import errors
    from dlxai.fairness.mitigation.scores import sensitive_columns

    assert sensitive_columns(german, None) == ["sex", "age_band"]
    assert sensitive_columns(german, "sex") == ["sex"]
    with pytest.raises(UserInputError, match=fragment(errors.TOO_MANY_SENSITIVE)):
        mt.mitigate(adult_small_mlp, adult, "reweighing")  # Adult's schema names three: the caller picks
    with pytest.raises(UserInputError, match=fragment(errors.NO_SENSITIVE)):
        mt.mitigate(adult_small_mlp, adult, "reweighing", sensitive=[])


# --- the accuracy-fairness front -------------------------------------------------------------------------
def test_sweep_front_has_intervals_and_activatable_models(adult, adult_small_mlp):
    steps = []
    front = mt.sweep(adult_small_mlp, adult, "penalised", "demographic_parity", sensitive=SEX, strengths=[0.0, 2.0],
                     n_bootstrap=100, progress=lambda f, t: steps.append(f))
    pts = front.points
    assert list(pts["label"]) == ["Original", "Penalised, Demographic parity, Fairness weight (λ) 0",
                                  "Penalised, Demographic parity, Fairness weight (λ) 2"]  # the page's words
    for g in ("accuracy", "dp", "eo"):
        assert ((pts[f"{g}_lo"] <= pts[g] + 1e-12) & (pts[g] <= pts[f"{g}_hi"] + 1e-12)).all()
    assert pts["dp"].iloc[2] < 0.05 < pts["dp"].iloc[1]  # a stronger penalty narrows the gap
    assert steps == sorted(steps) and steps[-1] == 1.0  # progress moves forward and finishes
    models = front.models()
    assert len(models) == 2 and all(m.predict_proba(adult.X("test")).shape == (len(adult.test),)
                                    for m in models.values())


@pytest.mark.parametrize("method", ["exponentiated_gradient", "penalised"])
def test_a_mitigation_result_travels_between_processes_without_its_progress_link(german, german_small_mlp, method):
    """The dashboard's job process hands the result back pickled: a reduction's retrained MLPs must not keep the
    epoch callback that reported to the run's progress bar (a local closure did, and the run never came back)."""
    import pickle

    seen = []
    out = mt.mitigate(german_small_mlp, german, method, sensitive=["sex"], n_bootstrap=0, max_iter=2,
                   estimator_params={"max_epochs": 1}, progress=lambda *a: seen.append(a))
    back = pickle.loads(pickle.dumps(out))
    np.testing.assert_array_equal(back.model.predict_proba(german.frame("test")),
                                  out.model.predict_proba(german.frame("test")))
    assert any("epoch" in str(a) for a in seen)  # the epochs were still reported while it ran
