"""The words behind every number a user sees: a human name, plain words, one formula, one example.

Plain data, keyed by the engine's metric keys (``tpr``, ``demographic_parity_difference``, ...), so pages,
figures and the report name a metric the same way and a tooltip can explain it without repeating it.
:data:`dlxai.fairness.metrics.METRIC_LABELS` is derived from here: a name changes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    name: str  # what a column, an axis or a metric is called on screen
    meaning: str  # one sentence in plain words
    formula: str  # one line; TP/FP/TN/FN are the confusion counts of a group
    example: str  # one worked example with small numbers
    parity: str = ""  # for a disparity: the value that means "no difference"

    def help(self) -> str:
        """The text of a tooltip: meaning, formula and example, each on its own line (Markdown)."""
        parts = [self.meaning, f"**Formula:** {self.formula}", f"**Example:** {self.example}"]
        if self.parity:
            parts.insert(1, f"**Parity:** {self.parity}.")
        return "  \n".join(parts)


TERMS: dict[str, Term] = {
    "count": Term(
        "Rows", "How many rows (people) of the test data are in the group.", "rows in the group",
        "a group of 46 people has 46 rows; rates from so few rows are uncertain."),
    "selection_rate": Term(
        "Selection rate", "How often the model gives the favourable decision, whatever the truth.",
        "(TP + FP) / rows", "30 of 100 women approved: selection rate 0.30."),
    "accuracy": Term(
        "Accuracy", "How often the decision equals the true outcome.", "(TP + TN) / rows",
        "85 of 100 decisions right: accuracy 0.85."),
    "tpr": Term(
        "True positive rate", "Of the people who truly deserve the favourable outcome, the share who get it "
        "(TPR; also called recall or sensitivity).", "TP / (TP + FN), i.e. over the positive rows",
        "40 of 50 qualified applicants approved: 0.80. With only 3 positive rows it can only be 0, 0.33, "
        "0.67 or 1."),
    "fpr": Term(
        "False positive rate", "Of the people who do not deserve the favourable outcome, the share who get it "
        "anyway (FPR).", "FP / (FP + TN), i.e. over the negative rows", "5 of 100 unqualified applicants approved: 0.05."),
    "fnr": Term(
        "False negative rate", "Of the people who deserve the favourable outcome, the share who are refused; "
        "1 minus the true positive rate.", "FN / (FN + TP)", "10 of 50 qualified applicants refused: 0.20."),
    "precision": Term(
        "Precision", "Of the people the model selects, the share who truly deserve it.",
        "TP / (TP + FP), i.e. over the predicted-positive rows", "36 of 40 approved applicants qualified: 0.90."),
    "impact_ratio": Term(
        "Impact ratio", "A group's selection rate divided by the reference group's; below 0.8 fails the "
        "four-fifths rule.", "selection rate of group / selection rate of reference group",
        "women selected at 0.12, men at 0.30: 0.12 / 0.30 = 0.40.", "1"),
    "selection_rate_gap": Term(
        "Gap to reference", "A group's selection rate minus the reference group's (negative: selected less).",
        "selection rate of group − selection rate of reference group", "0.12 − 0.30 = −0.18.", "0"),
    "demographic_parity_difference": Term(
        "Demographic parity difference", "How far apart the groups' selection rates are: the most-selected "
        "group's rate minus the least-selected group's.", "max over groups of selection rate − min over groups",
        "men 0.30, women 0.12: 0.30 − 0.12 = 0.18.", "0"),
    "demographic_parity_ratio": Term(
        "Demographic parity ratio", "The least-selected group's selection rate divided by the most-selected "
        "group's; the lowest impact ratio when the reference is the most-selected group.",
        "min over groups of selection rate / max over groups", "0.12 / 0.30 = 0.40.", "1"),
    "equalized_odds_difference": Term(
        "Equalized odds difference", "The larger of two gaps: between the groups' true positive rates and "
        "between their false positive rates. Small only when the model errs alike for every group.",
        "max(TPR difference, FPR difference)", "TPR 0.80 vs 0.60 (gap 0.20), FPR 0.10 vs 0.04 (gap 0.06): 0.20.",
        "0"),
    "equalized_odds_ratio": Term(
        "Equalized odds ratio", "The smaller of two ratios: the lowest over the highest true positive rate, and "
        "the lowest over the highest false positive rate.", "min(TPR ratio, FPR ratio)",
        "TPR 0.60 / 0.80 = 0.75, FPR 0.04 / 0.10 = 0.40: 0.40.", "1"),
    "equal_opportunity_difference": Term(
        "Equal opportunity difference", "How far apart the groups' true positive rates are: among people who "
        "deserve the favourable outcome, the gap in how often each group gets it.",
        "max over groups of TPR − min over groups", "qualified men approved at 0.80, qualified women at 0.60: 0.20.",
        "0"),
    "four_fifths": Term(
        "Four-fifths rule", "A screening rule from US employment guidance: every group's selection rate should "
        "be at least 80% of the reference group's. Failing it is a red flag to look into, not a legal finding.",
        "impact ratio ≥ 0.8 for every group", "0.12 / 0.30 = 0.40 < 0.8: fails."),
    "balanced_accuracy": Term(
        "Balanced accuracy", "The average of the true positive rate and the true negative rate, so a model "
        "cannot score well by always predicting the common class.", "(TPR + TN / (TN + FP)) / 2",
        "TPR 0.60, true negative rate 0.90: 0.75."),
    "roc_auc": Term(
        "ROC AUC", "How well the scores rank people: the chance that a random positive row scores higher than a "
        "random negative one (0.5 is guessing, 1 is perfect). Does not depend on the threshold.",
        "P(score of a positive > score of a negative)", "0.90: in 9 of 10 such pairs the positive ranks higher."),
    "brier": Term(
        "Brier score", "The mean squared gap between the predicted probability and what happened (0 is perfect; "
        "lower is better). Rewards honest probabilities, not just right decisions.",
        "mean over rows of (probability − outcome)²", "predicting 0.8 for a positive row costs (0.8 − 1)² = 0.04."),
    "wilson": Term(
        "Wilson interval", "The range of rates the data are compatible with, computed from the rate's own count "
        "and its denominator. Unlike a bootstrap it is never zero-width, so 0 of 3 is shown as uncertain.",
        "(p + z²/(2n) ± z·√(p(1−p)/n + z²/(4n²))) / (1 + z²/n), z = 1.96 for 95%",
        "0 of 5 positives selected: 0.000 – 0.434."),
    "bootstrap": Term(
        "Bootstrap interval", "The range a metric takes when the test rows are resampled with replacement many "
        "times (the middle 95% of the resampled values). Used for the differences and ratios.",
        "2.5th and 97.5th percentile over resamples", "1,000 resamples of the DP difference: 0.170 – 0.192."),
}

# the denominator of each rate, in words, for captions and warnings ("3 positive rows")
DENOMINATORS = {
    "selection_rate": "rows",
    "accuracy": "rows",
    "tpr": "positive rows",
    "fpr": "negative rows",
    "fnr": "positive rows",
    "precision": "predicted-positive rows",
}


def name(key: str) -> str:
    """The human name of a metric key; an unknown key is returned as it is."""
    term = TERMS.get(key)
    return term.name if term else key


def help_text(key: str) -> str:
    """The tooltip of a metric key (empty for an unknown key)."""
    term = TERMS.get(key)
    return term.help() if term else ""
