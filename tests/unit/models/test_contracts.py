"""One preprocessor protocol: the in-app preprocessor and both input contracts of uploaded models expose it, so an
uploaded model gets what a trained one gets (counterfactuals read only the protocol)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlxai.data.preprocess import TabularPreprocessor
from dlxai.explain.counterfactuals import SearchOptions, find_counterfactuals
from dlxai.models.contracts import ColumnsPreprocessor, preprocessor_from_spec
from dlxai.models.export import export_safetensors
from dlxai.models.formats import load_model

DECLARED = ["duration", "credit_amount", "age"]


@pytest.fixture(scope="module")
def contracts(tiny_mlp, spec_json):
    return {
        "in-app Preprocessor": tiny_mlp.preprocessor,
        "SpecPreprocessor": preprocessor_from_spec(json.loads(spec_json)["preprocessing"]),
        "ColumnsPreprocessor": ColumnsPreprocessor(DECLARED).fit(),
    }


@pytest.mark.parametrize("which", ["in-app Preprocessor", "SpecPreprocessor", "ColumnsPreprocessor"])
def test_every_contract_satisfies_the_preprocessor_protocol(contracts, german, which):
    prep = contracts[which]
    assert isinstance(prep, TabularPreprocessor)
    n_num, n_cat = len(prep.numeric), len(prep.categorical)
    assert len(prep.medians_) == len(prep.means_) == len(prep.scales_) == n_num
    assert len(prep.categories_) == n_cat
    assert len(prep.feature_names_out_) == prep.n_features_out_
    assert list(prep.feature_groups_) == [*prep.numeric, *prep.categorical]
    assert sorted(i for idx in prep.feature_groups_.values() for i in idx) == list(range(prep.n_features_out_))
    for c, levels in zip(prep.categorical, prep.categories_):
        assert len(prep.feature_groups_[c]) == len(levels)
    Z = prep.transform(german.X("test").head(20))
    assert Z.shape == (20, prep.n_features_out_) and Z.dtype == np.float32


def test_the_spec_contract_carries_the_in_app_numbers(contracts):
    app, spec = contracts["in-app Preprocessor"], contracts["SpecPreprocessor"]
    assert (spec.numeric, spec.categorical) == (tuple(app.numeric), tuple(app.categorical))
    for attr in ("medians_", "means_", "scales_"):
        np.testing.assert_array_equal(getattr(spec, attr), getattr(app, attr))
    assert spec.categories_ == app.categories_ and spec.feature_groups_ == app.feature_groups_


def test_an_uploaded_safetensors_model_gets_counterfactuals(german, tiny_mlp):
    """dlxai's own export re-loaded: the model's preprocessor is a SpecPreprocessor, which once lacked the in-app
    preprocessor's private ``transformer_`` that counterfactuals read (AttributeError)."""
    weights, spec = export_safetensors(tiny_mlp)
    m = load_model(weights, "model.safetensors", spec=spec, sample=german.X("test"), dataset_name=german.name)
    rows = german.X("test").head(3)
    cf = find_counterfactuals(m, german, rows, k=2, options=SearchOptions(on_failure="keep"))
    s = cf.summary()
    assert s["queries"] == 3 and s["k"] == 2 and s["validity"] > 0
    for i in range(3):
        found = cf.for_query(i)
        assert (m.predict(found[list(m.feature_columns)]) == cf.desired_class[i]).all()


def test_a_model_hanging_on_the_check_is_told_it_ran_out_of_time_not_that_it_misfits(german):
    """A TorchScript forward that never ends, stopped in its worker at the budget: the message names the time
    budget, how to raise it, and the loop, and does not blame the input contract."""
    from dlxai import errors
    from dlxai.errors import UnsupportedModelError
    from tests.hostile import builders
    from tests.hostile.cases import msg

    raw = builders.script_bytes(builders.LoopsForever())
    with pytest.raises(UnsupportedModelError, match=msg(errors.MODEL_CHECK_TIMEOUT)) as info:
        load_model(raw, "loops.pt", input_columns=DECLARED, sample=german.X("test"), time_budget_s=1.0)
    text = str(info.value)
    assert "longer than the time budget of 1 s on 256 rows, so it was stopped" in text
    assert "--model-time-budget" in text and "Time budget (s per 256 rows)" in text and "loop" in text
    assert "input contract:" not in text and "does not fit" not in text
