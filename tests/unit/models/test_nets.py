"""Built-in networks: the CNN and the ViT learn the digits in seconds; the tabular transformer trains on German."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from dlxai import errors
from dlxai.data.images import load_digits
from dlxai.errors import UserInputError
from dlxai.models.nets import (
    DigitCNNClassifier,
    DigitViTClassifier,
    TabularTransformerClassifier,
    infer_feature_groups,
    train_image_model,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


def _accuracy(est, ds) -> float:
    return float((est.predict(ds.flat("test")) == ds.y("test")).mean())


def test_cnn_learns_digits_in_seconds(digits):
    seen = []
    est = train_image_model(digits, "cnn", seed=0, max_epochs=5, progress=seen.append)
    assert _accuracy(est, digits) >= 0.9
    assert est.fit_seconds_ < 60
    assert [i.epoch for i in seen] == [1, 2, 3, 4, 5] and seen[-1].fraction == 1.0
    assert seen[-1].train_loss < seen[0].train_loss
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in est.module_.modules())
    proba = est.predict_proba(digits.flat("test")[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1)
    # the module eats images and returns logits
    assert est.module_(torch.from_numpy(digits.images("test")[:2])).shape == (2, 10)


@pytest.mark.slow
def test_vit_learns_digits_in_seconds(digits):
    est = train_image_model(digits, "vit", seed=0, max_epochs=12)
    assert _accuracy(est, digits) >= 0.8
    assert est.fit_seconds_ < 120
    assert sum(isinstance(m, torch.nn.MultiheadAttention) for m in est.module_.modules()) == 2


def test_training_is_reproducible_for_a_seed(digits):
    a = train_image_model(digits, "cnn", seed=7, max_epochs=1)
    b = train_image_model(digits, "cnn", seed=7, max_epochs=1)
    np.testing.assert_array_equal(a.predict_proba(digits.flat("test")[:20]), b.predict_proba(digits.flat("test")[:20]))


def test_feature_groups_inferred_from_the_preprocessed_matrix_match_the_preprocessor(german):
    from dlxai.models.training import fit_preprocessor

    prep = fit_preprocessor(german)
    X = prep.transform(german.X("train"))
    assert infer_feature_groups(X) == [list(v) for v in prep.feature_groups_.values()]


def test_tabular_transformer_trains_on_german_and_explains_with_attention(german):
    from dlxai.explain.attribution import attribute
    from dlxai.explain.registry import applicable_methods
    from dlxai.models import MODEL_KINDS, train_model

    assert "transformer" in MODEL_KINDS
    m = train_model(german, "transformer", seed=0, max_epochs=4)
    acc = float((m.predict(german.X("test")) == german.y("test")).mean())
    assert acc >= 0.7  # the majority class is 70%
    assert m.torch_module() is m.estimator.module_
    assert len(m.estimator.groups_) == len(german.schema.features)
    assert "attention" in applicable_methods(m)
    res = attribute(m, german.X("test").head(10), method="attention")
    by_feature = res.by_feature()
    assert list(by_feature.columns) == list(m.preprocessor.feature_groups_)
    assert (by_feature.to_numpy() >= 0).all()
    assert np.all(by_feature.to_numpy().sum(1) <= 1 + 1e-6)


def test_estimators_follow_the_sklearn_parameter_contract():
    for cls in (DigitCNNClassifier, DigitViTClassifier, TabularTransformerClassifier):
        est = cls(max_epochs=3, random_state=5)
        c = clone(est)
        assert c.get_params()["max_epochs"] == 3 and c.get_params()["random_state"] == 5
        assert not hasattr(c, "module_")


def test_bad_settings_get_clear_messages():
    X = np.random.default_rng(0).random((40, 64)).astype(np.float32)
    y = np.arange(40) % 2
    with pytest.raises(UserInputError, match=r"image_shape must be \(channels, height, width\)"):
        DigitCNNClassifier(image_shape=(1, 7, 7), max_epochs=1).fit(X, y)
    with pytest.raises(UserInputError, match="max_epochs must be a whole number"):
        DigitViTClassifier(max_epochs=0).fit(X, y)
    assert errors.BAD_EPOCHS.split("{")[0] == "max_epochs must be a whole number of at least 1; received "
    with pytest.raises(UserInputError, match="groups must split the 64 columns"):
        TabularTransformerClassifier(groups=[[0, 1]], max_epochs=1).fit(X, y)
    with pytest.raises(UserInputError, match="Unknown image model kind"):
        train_image_model(load_digits(), "resnet")
