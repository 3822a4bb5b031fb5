"""The glossary: every metric a page or figure names has a human name, plain words, a formula and an example."""

from __future__ import annotations

import pytest

from dlxai.fairness.metrics import GROUP_METRICS, METRIC_LABELS, SUMMARY_METRICS
from dlxai.glossary import DENOMINATORS, TERMS, help_text, name

SHOWN = (*GROUP_METRICS, *SUMMARY_METRICS, "impact_ratio", "selection_rate_gap", "four_fifths", "balanced_accuracy",
         "roc_auc", "brier", "wilson", "bootstrap")


@pytest.mark.parametrize("key", SHOWN)
def test_every_shown_metric_has_a_complete_entry(key):
    t = TERMS[key]
    assert t.name and t.name[0].isupper() and "_" not in t.name
    assert t.meaning.endswith((".", ")")) and t.formula and t.example
    assert t.meaning in t.help() and t.formula in t.help() and t.example in t.help()


def test_metric_labels_are_the_glossary_names():
    assert all(METRIC_LABELS[k] == TERMS[k].name for k in TERMS)
    assert name("tpr") == "True positive rate" and name("unknown_key") == "unknown_key"
    assert help_text("unknown_key") == ""


def test_disparities_say_which_value_means_parity():
    for k in SUMMARY_METRICS:
        assert TERMS[k].parity == ("0" if k.endswith("difference") else "1")


def test_every_rate_names_its_denominator():
    assert set(DENOMINATORS) == set(GROUP_METRICS) - {"count"}
    assert DENOMINATORS["tpr"] == "positive rows" and DENOMINATORS["precision"] == "predicted-positive rows"
