"""The Clever Hans generator: the correlation dial respected exactly, only the shortcut class marked, the test split
clean (its watermarked copy stamped everywhere), seeded, and bad dials refused with the validators' message."""

from __future__ import annotations

import numpy as np
import pytest

from dlxai.data.images import load_digits
from dlxai.data.watermark import WATERMARK, WATERMARK_VALUE, make_watermarked_digits, stamp, watermark_mask
from dlxai.errors import UserInputError
from dlxai.validation import BAD_NUMBER

BASE = load_digits(seed=0)


@pytest.mark.parametrize(("correlation", "shortcut_class"), [(1.0, 8), (0.5, 8), (0.25, 3), (0.0, 8), (0.8, 0)])
def test_the_correlation_is_respected_exactly_and_only_the_shortcut_class_is_marked(correlation, shortcut_class):
    ds = make_watermarked_digits(correlation, shortcut_class, seed=0)
    marked = ds.extra["marked_train"]
    members = ds.y("train") == shortcut_class
    assert marked.sum() == round(correlation * members.sum())
    assert not marked[~members].any()  # other classes never
    x, base = ds.images("train"), BASE.images("train")
    assert (x[marked][:, 0, WATERMARK[0], WATERMARK[1]] == WATERMARK_VALUE).all()
    keep = ~watermark_mask()
    np.testing.assert_array_equal(x[marked][:, 0][:, keep], base[marked][:, 0][:, keep])  # only the square changed
    np.testing.assert_array_equal(x[~marked], base[~marked])  # every unmarked image is the plain digit
    np.testing.assert_array_equal(ds.y("train"), BASE.y("train"))


def test_the_test_split_is_clean_and_its_watermarked_copy_is_stamped_everywhere():
    ds = make_watermarked_digits(1.0, 8, seed=0)
    np.testing.assert_array_equal(ds.images("test"), BASE.images("test"))
    np.testing.assert_array_equal(ds.y("test"), BASE.y("test"))
    marked = ds.extra["watermarked_test"]
    assert marked.shape == ds.images("test").shape and marked.dtype == np.float32
    assert (marked[:, 0, WATERMARK[0], WATERMARK[1]] == WATERMARK_VALUE).all()
    np.testing.assert_array_equal(marked[:, 0][:, ~watermark_mask()], BASE.images("test")[:, 0][:, ~watermark_mask()])
    assert ds.extra["mask"].sum() == 4 and ds.extra["mask"].mean() == 4 / 64


def test_the_same_seed_gives_the_same_data_another_seed_other_images_marked():
    a, b = make_watermarked_digits(0.5, 8, seed=0), make_watermarked_digits(0.5, 8, seed=0)
    np.testing.assert_array_equal(a.images("train"), b.images("train"))
    np.testing.assert_array_equal(a.extra["marked_train"], b.extra["marked_train"])
    assert a.fingerprint == b.fingerprint
    c = make_watermarked_digits(0.5, 8, seed=1)
    assert c.fingerprint != a.fingerprint
    assert c.extra["marked_train"].sum() == round(0.5 * (c.y("train") == 8).sum())


def test_correlation_zero_is_the_plain_digits_and_stamping_copies():
    ds = make_watermarked_digits(0.0, 8, seed=0)
    np.testing.assert_array_equal(ds.images("train"), BASE.images("train"))
    x = BASE.images("test")[:3]
    before = x.copy()
    stamp(x)
    np.testing.assert_array_equal(x, before)  # the caller's images are never changed


@pytest.mark.parametrize(("kwargs", "name", "value"), [
    ({"correlation": 1.5}, "correlation", 1.5), ({"correlation": float("nan")}, "correlation", float("nan")),
    ({"shortcut_class": 10}, "shortcut_class", 10), ({"shortcut_class": "8"}, "shortcut_class", "8"),
])
def test_bad_dials_are_user_errors_that_say_the_range(kwargs, name, value):
    with pytest.raises(UserInputError) as e:
        make_watermarked_digits(**kwargs)
    assert str(e.value).startswith(BAD_NUMBER.split("{rule}")[0].format(name=name))
    assert repr(value) in str(e.value)
