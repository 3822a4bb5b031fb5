"""Quality checks: completeness, deletion/insertion faithfulness, the model-parameter randomisation check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.explain.attribution import attribute
from dlxai.explain.quality import (
    NO_COMPLETENESS,
    _row_spearman,
    completeness,
    deletion_insertion,
    randomisation_check,
)


@pytest.fixture(scope="module")
def trained():
    """A small MLP trained so that only x0 and x1 matter (y = x0 + 0.5 x1 > 0)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 8, generator=g)
    y = ((x[:, 0] + 0.5 * x[:, 1]) > 0).long()
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                            torch.nn.Linear(32, 2))
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    m.eval()
    return m, torch.randn(200, 8, generator=g)


def test_completeness_of_ig_on_a_linear_model_is_exact():
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 2).double()
    r = attribute(lin, torch.randn(10, 5, dtype=torch.float64), method="integrated_gradients")
    c = completeness(r)
    assert c.mean < 1e-10 and c.share_within == 1.0 and c.relative_error.shape == (10,)


def test_completeness_is_refused_for_methods_without_it(trained):
    r = attribute(trained[0], trained[1][:3], method="saliency")
    with pytest.raises(UserInputError, match=NO_COMPLETENESS.format(method="saliency")[:40]):
        completeness(r)


def test_deletion_and_insertion_beat_a_random_order(trained):
    m, x = trained
    r = attribute(m, x, method="integrated_gradients")
    f = deletion_insertion(m, r, n_steps=8)
    assert f.faithful
    assert f.deletion_auc < f.random_deletion_auc - 0.05
    assert f.insertion_auc > f.random_insertion_auc + 0.05
    probs = torch.softmax(m(x), 1).detach()[torch.arange(200), torch.as_tensor(r.target)]
    base = torch.softmax(m(torch.zeros(1, 8)), 1).detach()[0, torch.as_tensor(r.target)]
    # nothing removed: the model's own probability; everything removed: the baseline's
    assert f.deletion[0] == pytest.approx(float(probs.mean()), abs=1e-6)
    assert f.deletion[-1] == pytest.approx(float(base.mean()), abs=1e-6)
    assert f.insertion[0] == pytest.approx(float(base.mean()), abs=1e-6)
    assert f.fractions[0] == 0 and f.fractions[-1] == 1 and f.n_units == 8


def test_deletion_on_a_tabular_model_moves_whole_raw_features(german, german_mlp):
    r = attribute(german_mlp, german.X("test").head(40), method="integrated_gradients", baselines="mean",
                  reference=german.X("train"), n_steps=16)
    f = deletion_insertion(german_mlp, r, n_steps=25)
    assert f.n_units == len(german.schema.features)
    assert len(f.fractions) == f.n_units + 1
    assert f.deletion_auc < f.random_deletion_auc


def test_randomisation_drops_the_rank_correlation_of_a_trained_model(trained):
    m, x = trained
    before = {k: v.clone() for k, v in m.state_dict().items()}
    check = randomisation_check(m, x[:100], method="integrated_gradients")
    assert check.stages[-1] == "all layers" and len(check.stages) == 3
    assert check.final < 0.5 and check.passed
    assert check.spearman_rows.shape == (3, 100)
    for k, v in m.state_dict().items():  # the caller's weights were not randomised
        assert torch.equal(v, before[k])


def test_randomisation_on_the_german_mlp(german, german_mlp):
    check = randomisation_check(german_mlp, german.X("test").head(60), method="input_x_gradient")
    assert check.final < 0.9  # attributions change once the weights are random
    assert np.all(np.isfinite(check.spearman))


def test_row_spearman_is_one_for_identical_rankings_and_minus_one_for_reversed():
    a = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 1.0, 2.0, 3.0]])
    np.testing.assert_allclose(_row_spearman(a, a), 1.0)
    np.testing.assert_allclose(_row_spearman(a, -a), -1.0)


def test_randomisation_needs_a_network(german):
    from dlxai.models import train_model

    logreg = train_model(german, "logreg", seed=0)
    with pytest.raises(UnsupportedModelError, match="re-initialises a network's layers"):
        randomisation_check(logreg, german.X("test").head(3), method="kernel_shap")


def test_deletion_insertion_validates(trained):
    r = attribute(trained[0], trained[1][:3], method="saliency")
    with pytest.raises(UserInputError, match="n_steps"):
        deletion_insertion(trained[0], r, n_steps=1)
    with pytest.raises(UserInputError, match="AttributionResult"):
        deletion_insertion(trained[0], r.values)


def test_lrp_on_the_adult_mlp_depends_on_the_weights_and_beats_random_deletion(adult, adult_mlp):
    """With a Flat input rule LRP ranked Adult's features by their number of one-hot levels (ρ = 1.00 after
    randomising every layer, deletion no better than random); on tabular data LRP-ε is the default, which gives an
    absent level no relevance, and the ranking then depends on the weights."""
    from dlxai.explain.quality import SANITY_MAX_SPEARMAN

    rows = adult.X("test").sample(n=100, random_state=0).sort_index()
    res = attribute(adult_mlp, rows, method="lrp")
    assert res.params["composite"] == "epsilon"
    assert np.all(res.values[res.inputs == 0] == 0)  # absent one-hot levels (and zero inputs) get nothing
    f = deletion_insertion(adult_mlp, res, n_steps=10)
    assert f.deletion_auc < f.random_deletion_auc and f.faithful
    check = randomisation_check(adult_mlp, rows, method="lrp", cascading=False)
    assert check.final < SANITY_MAX_SPEARMAN and check.passed


@pytest.mark.parametrize("params", [{"composite": "epsilon_plus_flat"}, {"input_rule": "zbox"},
                                    {"composite": "gamma", "input_rule": "wsquare"}])
def test_lrp_input_rules_that_credit_absent_levels_are_refused_on_tabular_data(german, german_mlp, params):
    from dlxai.explain.registry import BAD_PARAM_FOR_KIND  # noqa: F401 - the message tests match on

    with pytest.raises(UserInputError, match="number of levels"):
        attribute(german_mlp, german.X("test").head(3), method="lrp", **params)


def test_what_to_try_names_another_baseline_composite_and_method():
    from dlxai.explain.quality import what_to_try

    ig = " ".join(what_to_try("integrated_gradients", {"baselines": "mean"}))
    assert "Another baseline: zeros" in ig and "Another method" in ig
    lrp = " ".join(what_to_try("lrp", {"composite": "epsilon"}))
    assert "Another composite: LRP-γ" in lrp and "Integrated gradients with the zeros baseline" in lrp
    assert "Another baseline" not in " ".join(what_to_try("saliency", {}))


def test_the_randomisation_check_runs_in_an_uploads_worker_as_in_process_and_says_why_not_on_torchscript(german):
    import warnings

    import onnx
    from onnx2torch import convert

    from dlxai.explain.quality import randomisation_unavailable
    from dlxai.models.adapters import _logit_head
    from tests.unit.models.exporters import NUMERIC, Zoo, torch_onnx_mlp

    zoo = Zoo(german)
    rows = german.X("test").head(12)
    try:
        script = zoo["TorchScript + spec"]
        why = randomisation_unavailable(script)
        assert why.startswith("The model-parameter randomisation check") and script.name in why
        assert "LogitHead" not in why and "TorchScript module's are compiled" in why
        with pytest.raises(UnsupportedModelError, match="TorchScript module's are compiled"):
            randomisation_check(script, rows.head(2), method="saliency")
        # an ONNX upload runs only in its worker (as its onnx2torch conversion); the check there equals the same
        # check on the same conversion made here
        raw, name = torch_onnx_mlp(NUMERIC)[:2]
        upload = zoo["ONNX from torch.onnx (converts to torch)"]
        assert getattr(upload.estimator, "module_", None) is None and upload.estimator.gradient_worker is not None
        assert randomisation_unavailable(upload) == ""
        steps = []
        there = randomisation_check(upload, rows, method="integrated_gradients", n_steps=8, seed=3,
                                    progress=steps.append)
        assert steps[0] == 0.0 and steps[-1] == 1.0
        assert there.stages == ("top 1 (down to inner.2/Gemm)", "all layers") and there.params["n_steps"] == 8
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = convert(onnx.load_model_from_string(raw)).eval()
        here = randomisation_check(_logit_head(net, upload.estimator._head_output),
                                   upload.transform(rows).astype(np.float32), method="integrated_gradients",
                                   n_steps=8, seed=3)
        assert here.stages == there.stages
        np.testing.assert_allclose(there.spearman_rows, here.spearman_rows, atol=1e-9)
    finally:
        zoo.close()
