"""The torch MLP's estimator contract, training behaviour and the Adult accuracy target."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from dlxai import errors
from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.models import train_model
from dlxai.models.torch_mlp import TorchMLPClassifier
from dlxai.performance import evaluate


def _toy(n=200, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def test_fit_returns_self_and_learns():
    X, y = _toy()
    clf = TorchMLPClassifier(hidden_layer_sizes=(16,), max_epochs=40, batch_size=32)
    assert clf.fit(X, y) is clf
    assert list(clf.classes_) == [0, 1] and clf.n_features_in_ == 5
    p = clf.predict_proba(X)
    assert p.dtype == np.float64 and p.shape == (200, 2)  # float64: Fairlearn's ThresholdOptimizer needs it
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (clf.predict(X) == y).mean() > 0.9


def test_string_labels_come_back_as_given():
    X, y = _toy()
    labels = np.where(y == 1, "approved", "rejected")
    clf = TorchMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5).fit(X, labels)
    assert set(clf.predict(X)) <= {"approved", "rejected"}
    assert list(clf.classes_) == ["approved", "rejected"]


def test_get_set_params_and_clone():
    clf = TorchMLPClassifier(max_epochs=7, hidden_layer_sizes=(4, 3))
    assert clf.get_params()["max_epochs"] == 7
    clf.set_params(max_epochs=9)
    c = clone(clf)
    assert c.max_epochs == 9 and c.hidden_layer_sizes == (4, 3) and not hasattr(c, "module_")


def test_integer_sample_weights_equal_duplicated_rows():
    """Full-batch training: weight 2 on a row is exactly that row twice."""
    X, y = _toy(60)
    w = np.random.default_rng(1).integers(0, 4, 60)
    w[:2] = [1, 1]
    kw = dict(hidden_layer_sizes=(8,), max_epochs=15, batch_size=10_000, validation_fraction=0.0, dropout=0.0)
    a = TorchMLPClassifier(**kw).fit(X, y, sample_weight=w)
    b = TorchMLPClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    for pa, pb in zip(a.module_.parameters(), b.module_.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-5)
    assert a.history_[-1].train_loss == pytest.approx(b.history_[-1].train_loss, rel=1e-4)


def test_sample_weight_changes_the_model():
    X, _ = _toy(300)
    y = np.random.default_rng(4).integers(0, 2, 300)  # labels carry no signal: weights decide the base rate
    w = np.where(y == 1, 5.0, 1.0)
    kw = dict(hidden_layer_sizes=(8,), max_epochs=60, batch_size=64, learning_rate=0.02, validation_fraction=0.0)
    plain = TorchMLPClassifier(**kw).fit(X, y).predict_proba(X)[:, 1].mean()
    weighted = TorchMLPClassifier(**kw).fit(X, y, sample_weight=w).predict_proba(X)[:, 1].mean()
    assert weighted > plain + 0.2


def test_progress_callback_and_early_stopping():
    X, y = _toy(400)
    seen = []
    clf = TorchMLPClassifier(hidden_layer_sizes=(64, 64), max_epochs=200, patience=3, learning_rate=0.05,
                             callback=seen.append).fit(X, y)
    assert [i.epoch for i in seen] == list(range(1, len(seen) + 1))
    assert len(seen) < 200  # stopped early
    assert clf.best_epoch_ <= len(seen) - 3
    assert 0 < seen[-1].fraction < 1


def test_same_seed_same_model_and_global_rng_untouched():
    X, y = _toy()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = TorchMLPClassifier(hidden_layer_sizes=(8,), max_epochs=3, random_state=5).fit(X, y)
    after = torch.rand(1)
    b = TorchMLPClassifier(hidden_layer_sizes=(8,), max_epochs=3, random_state=5).fit(X, y)
    assert torch.equal(before, after)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_epochs": 0}, errors.BAD_EPOCHS.format(value=0)),
        ({"max_epochs": 2.5}, "max_epochs must be a whole number"),
        ({"hidden_layer_sizes": (8, -1)}, "hidden_layer_sizes must be positive integers"),
        ({"dropout": 1.0}, "dropout must lie in"),
        ({"validation_fraction": 0.7}, "validation_fraction must lie in"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
    ],
)
def test_bad_parameters_are_named(params, message):
    X, y = _toy(50)
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        TorchMLPClassifier(**params).fit(X, y)


def test_one_class_and_bad_weights_are_refused():
    X, y = _toy(50)
    with pytest.raises(UserInputError, match="one class only"):
        TorchMLPClassifier(max_epochs=1).fit(X, np.zeros(50, int))
    with pytest.raises(UserInputError, match="sums to zero"):
        TorchMLPClassifier(max_epochs=1).fit(X, y, sample_weight=np.zeros(50))
    with pytest.raises(UserInputError, match="inconsistent numbers of rows"):
        TorchMLPClassifier(max_epochs=1).fit(X, y, sample_weight=np.ones(3))


def test_wrong_feature_count_at_predict():
    X, y = _toy(50)
    clf = TorchMLPClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="expecting 5 features"):
        clf.predict(X[:, :3])


def test_adult_mlp_reaches_84_percent(adult, adult_mlp):
    rep = evaluate(adult.y("test"), adult_mlp.predict_proba(adult.X("test")))
    assert rep.accuracy >= 0.84
    assert rep.roc_auc >= 0.89
    assert adult_mlp.parameter_count == 107 * 128 + 128 + 128 * 64 + 64 + 64 * 2 + 2
    card = adult_mlp.card()
    assert card["kind"] == "mlp" and len(card["sha256"]) == 64 and card["settings"]["seed"] == 0


def test_logreg_baseline_and_its_limits(adult, adult_logreg):
    rep = evaluate(adult.y("test"), adult_logreg.predict_proba(adult.X("test")))
    assert 0.83 <= rep.accuracy <= 0.87
    with pytest.raises(UnsupportedModelError, match="not a PyTorch network"):
        adult_logreg.torch_module()


def test_fingerprint_tracks_weights(german):
    a = train_model(german, "mlp", seed=0, max_epochs=2)
    b = train_model(german, "mlp", seed=0, max_epochs=2)
    c = train_model(german, "mlp", seed=1, max_epochs=2)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_unknown_kind():
    from dlxai.data import make_bias_lab

    with pytest.raises(UserInputError, match="Unknown model kind 'xgb'"):
        train_model(make_bias_lab(300), "xgb")


def test_small_networks_train_on_one_thread_and_the_setting_is_restored():
    import torch

    from dlxai.models import torch_mlp
    from dlxai.models.torch_mlp import step_work

    assert torch_mlp.threads_for(torch_mlp.mlp_step_work(107, (128, 64), 2, 512), budget=8) == 1  # the Adult MLP
    assert torch_mlp.threads_for(torch_mlp.mlp_step_work(107, (2048, 2048), 2, 512), budget=8) == 8
    est = torch_mlp.TorchMLPClassifier(hidden_layer_sizes=(16,), batch_size=64)
    assert step_work(est, 1000, 10) == torch_mlp.mlp_step_work(10, (16,), 2, 64)
    before = torch.get_num_threads()
    seen = []
    with torch_mlp.torch_threads(1):
        seen.append(torch.get_num_threads())
    assert seen == [1] and torch.get_num_threads() == before


def test_fit_itself_picks_one_thread_for_a_small_network_as_mitigation_refits_call_it():
    """Reductions (ExpGrad, grid search) and reweighing call ``fit`` on clones, not ``train_model``: the thread rule
    must hold there too (beside two busy processes, two threads made ExpGrad 70x slower)."""
    import torch

    from dlxai.models import torch_mlp

    seen = []
    X = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    before = torch.get_num_threads()
    with torch_mlp.torch_threads(2):
        torch_mlp.TorchMLPClassifier(hidden_layer_sizes=(8,), max_epochs=2,
                                     callback=lambda info: seen.append(torch.get_num_threads())).fit(X, y)
        assert torch.get_num_threads() == 2  # restored after fit
    assert seen and set(seen) == {1} and torch.get_num_threads() == before
