"""The preprocessor: fitted on training rows only, unseen levels ignored."""

import numpy as np
import pandas as pd

from dlxai.data import Preprocessor


def test_preprocessor_is_fitted_on_training_rows_only(adult):
    prep = Preprocessor(adult.schema.numeric, adult.schema.categorical).fit(adult.X("train"))
    Xtr = prep.transform(adult.X("train"))
    Xte = prep.transform(adult.X("test"))
    n_num = len(adult.schema.numeric)
    assert np.allclose(Xtr[:, :n_num].mean(axis=0), 0, atol=1e-4)  # scaled with training statistics
    assert not np.allclose(Xte[:, :n_num].mean(axis=0), 0, atol=1e-4)
    assert Xtr.dtype == np.float32 and not np.isnan(Xtr).any() and not np.isnan(Xte).any()
    # each categorical feature is one-hot: exactly one 1 per row in its group (missing is a level)
    for col in adult.schema.categorical:
        idx = list(prep.feature_groups_[col])
        assert np.all(Xtr[:, idx].sum(axis=1) == 1)
    assert "workclass_missing" in prep.feature_names_out_


def test_preprocessor_ignores_unseen_levels():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "c": ["a", "b", "a", None]})
    prep = Preprocessor(["x"], ["c"]).fit(df)
    out = prep.transform(pd.DataFrame({"x": [2.0], "c": ["zzz"]}))
    assert out.shape == (1, 1 + 3)  # a, b, missing
    assert out[0, 1:].sum() == 0
    assert prep.feature_groups_ == {"x": (0,), "c": (1, 2, 3)}
