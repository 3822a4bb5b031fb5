"""The digits lesson's claims on its CNN: IG fails the randomisation check over all pixels but not over the
digit's own pixels, LRP-Flat passes it, and IG's deletion curve falls fastest."""

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
    checks, ink = D.randomise_all({"cnn": est}, ds)
    curves = D.delete({"cnn": est}, ds, n=12)
    table = D.checks_table(checks, curves, ink)
    ig, flat = table.loc["CNN · Integrated gradients"], table.loc["CNN · LRP-Flat"]
    assert ig["rho"] >= SANITY_MAX_SPEARMAN and ig["randomisation check"] == "failed"
    assert ig["rho_ink"] < ig["rho"] - 0.2  # the blank background made the maps agree
    assert flat["rho"] < SANITY_MAX_SPEARMAN and flat["randomisation check"] == "passed"
    assert ig["deletion_auc"] < flat["deletion_auc"] < flat["random_deletion_auc"]
