"""The digits lesson's central claim on the lesson's own CNN: IG fails the randomisation check, LRP passes it,
and IG's deletion curve still falls far faster than random pixels."""

from __future__ import annotations

import pytest

from dlxai.explain.quality import SANITY_MAX_SPEARMAN


@pytest.fixture(scope="module")
def cnn():
    """The lesson's CNN, trained and checked on one torch thread, as the lesson page runs it."""
    import torch

    from dlxai.data.images import load_digits
    from dlxai.lessons import digits as D

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = load_digits(seed=0)
        est, accuracy = D.train(ds, "cnn")
        yield ds, est, accuracy
    finally:
        torch.set_num_threads(before)


def test_the_two_checks_disagree_about_ig(cnn):
    from dlxai.lessons import digits as D

    ds, est, accuracy = cnn
    assert accuracy > 0.95
    checks = D.randomise({"cnn": est}, ds, n=5)
    curves = D.delete({"cnn": est}, ds, n=12)
    table = D.checks_table(checks, curves)
    ig, lrp = table.loc["CNN · Integrated gradients"], table.loc["CNN · LRP"]
    assert ig["rho"] >= SANITY_MAX_SPEARMAN and ig["randomisation check"] == "failed"
    assert lrp["rho"] < SANITY_MAX_SPEARMAN and lrp["randomisation check"] == "passed"
    assert ig["deletion_auc"] < lrp["deletion_auc"] < lrp["random_deletion_auc"]
