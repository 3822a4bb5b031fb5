"""The bundled digits: offline, scaled to [0, 1], a seeded stratified split, a stable fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.data.images import ImageDataset, load_digits
from dlxai.errors import UserInputError


def test_digits_load_offline_with_a_stratified_seeded_split():
    ds = load_digits(seed=0)
    assert isinstance(ds, ImageDataset)
    assert len(ds.y("train")) + len(ds.y("test")) == 1797
    assert len(ds.y("test")) == 540  # 30% of 1,797
    assert ds.image_shape == (1, 8, 8) and ds.n_classes == 10
    assert ds.images("train").dtype == np.float32
    assert ds.images("train").min() == 0.0 and ds.images("train").max() == 1.0
    assert ds.flat("test").shape == (540, 64)
    np.testing.assert_array_equal(ds.flat("test")[3], ds.images("test")[3].ravel())
    # stratified: every class in the test split in about its overall share (~10%)
    counts = np.bincount(ds.y("test"), minlength=10)
    assert counts.min() >= 50 and counts.max() <= 57


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = load_digits(seed=3), load_digits(seed=3), load_digits(seed=4)
    np.testing.assert_array_equal(a.images("test"), b.images("test"))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    assert not np.array_equal(a.y("test"), c.y("test"))
    assert load_digits(test_size=0.5).summary()["test_images"] in (898, 899)


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(UserInputError, match="test_size must lie strictly between 0 and 1"):
        load_digits(test_size=1.5)
    with pytest.raises(UserInputError, match="seed must be a non-negative whole number"):
        load_digits(seed=-1)
    with pytest.raises(UserInputError, match="split must be 'train' or 'test'"):
        load_digits().images("validation")
