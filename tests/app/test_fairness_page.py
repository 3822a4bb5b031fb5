"""AppTest: the Fairness and Data & model pages read cleanly — the four-fifths verdict once, naming every failing
group; human names, never metric keys; a glossary behind every number; integers printed as integers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app.conftest import errors_of

RAW_KEYS = re.compile(
    r"\b(selection_rate\w*|tpr|fpr|fnr|tnr|dp_(lo|hi)|eo_(lo|hi)|impact_ratio|ci_(low|high)|wilson_(low|high)|"
    r"demographic_parity_\w+|equalized_odds_\w+|equal_opportunity_\w+|balanced_accuracy|roc_auc)\b")


def _train(at, kind="logreg", epochs=1):
    at.switch_page("pages/data_model.py").run()
    at.selectbox(key="dm_kind").set_value(kind)
    at.number_input(key="dm_epochs").set_value(epochs)
    at.button[0].click().run()
    assert not at.exception and not errors_of(at), errors_of(at)
    return at


@pytest.fixture()
def intersection(app):
    """Adult, a logistic regression, the Fairness page by sex & race (8 of 10 groups fail the four-fifths rule)."""
    at = _train(app)
    at.switch_page("pages/fairness.py").run()
    at.multiselect(key="fair_attrs").set_value(["sex", "race"]).run()
    assert not at.exception and all(e.startswith("Four-fifths rule violated") for e in errors_of(at))
    return at


def _texts(at) -> list[str]:
    """Everything the page writes as text: markdown, captions, headings, alerts, labels, table headers."""
    out = [e.value for kind in ("markdown", "caption", "title", "subheader", "error", "warning", "success", "info")
           for e in getattr(at, kind)]
    out += [m.label for m in at.metric] + [m.proto.help for m in at.metric]
    out += [t.label for t in at.tabs] + [e.label for e in at.expander]
    out += [str(c) for df in at.dataframe for c in df.value.columns]
    return out


def test_the_four_fifths_verdict_shows_once_and_names_every_failing_group_with_its_ratio(intersection):
    at = intersection
    verdicts = [e.value for e in [*at.error, *at.success, *at.warning] if "Four-fifths" in e.value]
    assert len(verdicts) == 1 and verdicts[0] in [e.value for e in at.error]
    table = at.dataframe[0].value  # the selection-rate tab, with the impact ratio of every group
    failing = table[table["Impact ratio"] < 0.8]
    assert len(failing) >= 2
    for group, ratio in zip(failing["sex & race"], failing["Impact ratio"]):
        assert verdicts[0].count(f"{group} (") == 1 and f"{group} ({ratio:.2f})" in verdicts[0], group
    for group in table.loc[table["Impact ratio"] >= 0.8, "sex & race"]:
        assert f"{group} (" not in verdicts[0]


def test_the_intersection_warns_about_rates_resting_on_few_rows(intersection):
    warning = " ".join(w.value for w in intersection.warning)
    assert "rests on fewer than 30 positive rows" in warning
    assert re.search(r"Female & Amer-Indian-Eskimo \(\d\.\d{3} from \d+,", warning)
    tpr = next(df.value for df in intersection.dataframe if "True positive rate" in df.value.columns)
    assert list(tpr.columns) == ["sex & race", "Positive rows", "True positive rate", "Wilson 95%", "Bootstrap 95%"]
    widths = [float(b) - float(a) for a, b in (s.split(" – ") for s in tpr["Wilson 95%"])]
    assert min(widths) > 0  # never zero-width, whatever the count


def test_fairness_page_uses_human_names_only(intersection):
    at = intersection
    leaks = [t for t in _texts(at) if RAW_KEYS.search(t)]
    assert not leaks, leaks
    labels = {m.label for m in at.metric}
    assert labels == {"Demographic parity difference", "Equalized odds difference", "Equal opportunity difference",
                      "Demographic parity ratio", "Equalized odds ratio"}
    assert [t.label for t in at.tabs] == ["Selection rate", "True positive rate", "False positive rate", "Precision",
                                          "Accuracy"]
    caption = at.caption[-1].value
    assert caption.startswith("16,281 test rows;") and ".0 test rows" not in caption


def test_every_number_explains_itself_and_the_glossary_is_one_click_away(intersection):
    at = intersection
    for m in at.metric:
        assert "**Formula:**" in m.proto.help and "**Example:**" in m.proto.help, m.label
        assert "interval" not in m.proto.help.lower(), m.label  # the interval is in the caption, not the tooltip
    glossary = next(e for e in at.expander if e.label == "What do these numbers mean?")
    text = " ".join(md.value for md in glossary.markdown)
    for term in ("Demographic parity difference", "Equalized odds ratio", "Impact ratio", "Four-fifths rule",
                 "Selection rate", "True positive rate", "False positive rate", "False negative rate", "Precision",
                 "Accuracy", "Wilson interval"):
        assert f"**{term}**" in text, term


def test_data_and_model_page_uses_human_names_and_explains_its_metrics(app):
    at = _train(app)
    leaks = [t for t in _texts(at) if RAW_KEYS.search(t)]
    assert not leaks, leaks
    perf = {m.label: m for m in at.metric if m.label in ("Accuracy", "Balanced accuracy", "ROC AUC", "Brier score")}
    assert len(perf) == 4 and all("**Formula:**" in m.proto.help for m in perf.values())
    assert {m.label: m.value for m in at.metric}["Test rows"] == "16,281"
    assert any(e.label == "What do these numbers mean?" for e in at.expander)


def test_the_sidebar_is_drawn_before_the_page_runs():
    """st.stop() in a page ends the run at the next element, so a sidebar drawn only afterwards (even in a
    `finally`) vanishes on every page that stops early; app.py draws it first and redraws it after.  AppTest runs
    pages without app.py after its first run, so this reads the order in app.py; the browser walk checks the rest."""
    src = (Path(__file__).resolve().parents[2] / "app.py").read_text()
    first, run, again = src.index("sidebar_status(status)"), src.index("nav.run()"), src.rindex("sidebar_status(status)")
    assert first < run < again
