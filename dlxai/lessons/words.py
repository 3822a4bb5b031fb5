"""The lessons' words, in plain words, and a "how to read this" for every chart they draw.

Metrics are the dashboard glossary's (:mod:`dlxai.glossary`: one name and one meaning for every page), each with
what matters about it in the lessons (:data:`METRIC_NOTES`); the words only the lessons use are here.  Each entry
of :data:`WORDS` is ``(name, meaning)``.
"""

from __future__ import annotations

from dlxai.glossary import TERMS

# metric key -> (short name the lessons use, what matters about it in the lessons)
METRIC_NOTES: dict[str, tuple[str, str]] = {
    "selection_rate": ("", "It needs no labels."),
    "accuracy": ("", "Which labels count as the truth matters: against biased labels, copying the bias counts as "
                     "being right."),
    "tpr": ("TPR", "In the lessons, 'deserve' means 'according to the labels it is graded on': the recorded ones "
                   "or the deserved ones."),
    "fpr": ("FPR", "Graded on biased records, a deserving applicant the records turned down counts as a false "
                   "positive when the model approves them."),
    "demographic_parity_difference": ("DP", "It uses no labels, so biased labels cannot hide anything from it."),
    "equalized_odds_difference": ("EO", "It needs labels, so it inherits their bias."),
}


def _from_glossary(key: str) -> tuple[str, str]:
    short, note = METRIC_NOTES[key]
    term = TERMS[key]
    return (f"{term.name} ({short})" if short else term.name, f"{term.meaning} {note}")


def metric_help(key: str) -> str:
    """A metric's tooltip: the glossary's meaning, formula and example, and the lesson's note."""
    return f"{TERMS[key].help()}  \n{METRIC_NOTES[key][1]}"


LESSON_WORDS: dict[str, tuple[str, str]] = {
    # --- the bias lab ---
    "groups": ("Groups A and B", "Two made-up groups of loan applicants. A is the larger one (about 65 in 100), B the "
               "smaller (about 35 in 100). Their qualifications are drawn the same way: in truth, B deserves "
               "approval exactly as often as A."),
    "deserved": ("Deserved label", "What an applicant should have got, from their qualifications alone (income, debt, "
                 "late payments, savings, years employed). Only a lab knows it; real data never does."),
    "recorded": ("Recorded label", "What the historical decision says (the `decision` column). The model learns from "
                 "these labels and is normally graded on them too."),
    "label_bias": ("Label bias (dial)", "The share of group B's deserved approvals that history recorded as "
                   "rejections. 0: the records are fair. 0.9: nine in ten deserving B applicants are on record as "
                   "rejected — in the training rows and in the test rows alike."),
    "proxy": ("Proxy", "A feature that gives the group away without naming it. In the lab it is `neighbourhood`: "
              "B applicants mostly live north or south, A applicants east, west or centre."),
    "proxy_strength": ("Proxy strength (dial)", "How often an applicant's neighbourhood is chosen by their group "
                       "(otherwise at random). 0: the neighbourhood says nothing about the group; 1: it tells the "
                       "group almost for sure."),
    "group_input": ("\"Group is a model input\" (switch)", "Whether the model is shown the `group` column. Off: the "
                    "model is blind to the group — but not to a proxy."),
    # --- measures only the lessons use ---
    "attribution_share": ("Share of attribution", "How much of the model's reasoning rests on one input: that input's "
                          "average effect on the score (integrated gradients), as a share of all inputs' effects."),
    "association": ("Association (proxy detector)", "How well a feature predicts the group: Cramér's V for a "
                    "category, the correlation ratio η for a number. 0: says nothing about the group; 1: gives it "
                    "away. Above 0.3 the dashboard calls it a likely proxy."),
    # --- explanations ---
    "heatmap": ("Heatmap", "A picture of an explanation: one square per pixel, red where the pixel pushed the "
                "model towards its answer, blue where it pushed against it."),
    "integrated_gradients": ("Integrated gradients (IG)", "Fades the image in from black and adds up how much each "
                             "pixel moved the score on the way. Its parts add up to the score's change."),
    "lrp": ("Layer-wise relevance propagation (LRP)", "Passes the score backwards through the network, layer by "
            "layer, sharing it out among the inputs by fixed rules. LRP-ε uses one rule everywhere; LRP-Flat shares "
            "the first layer's relevance evenly over each patch of pixels."),
    "attention_rollout": ("Attention rollout", "For a transformer (the ViT): follows how much each image patch was "
                          "attended to, through all layers. It shows where the model looked, not what it concluded."),
    "randomisation_check": ("Randomisation check", "Scramble the model's learned weights, layer by layer from the "
                            "top, and explain again. A trustworthy explanation changes (low rank correlation ρ); one "
                            "that stays the same was showing the input, not the model."),
    "deletion_curve": ("Deletion curve", "Blank out the pixels an explanation calls most important first and watch the "
                       "model's confidence. A faithful explanation makes it fall fast (a small area under the curve), "
                       "much faster than blanking pixels in random order."),
    # --- mitigation ---
    "threshold_optimizer": ("Threshold optimizer", "Keeps the trained model but picks a separate approval threshold "
                            "for each group, so a chosen fairness gap closes. It must know each person's group when "
                            "deciding."),
    "penalised_training": ("Fairness-penalised training", "Retrains the network with an extra cost for a fairness gap; "
                           "the penalty weight λ sets how much fairness matters against accuracy."),
    "front": ("Accuracy–fairness front", "Every model you tried as one dot: accuracy up, fairness gap across. Dots "
              "towards the top left are better on both; a dot no other dot beats on both counts is on the front."),
    # --- recourse ---
    "counterfactual": ("Counterfactual", "The smallest change to an applicant's data that would flip the model's "
                       "decision: \"had your income been $4,000 higher, you would have been approved\"."),
    "recourse_burden": ("Recourse burden", "How much a group's rejected applicants would have to change, on average, "
                        "to be approved. Cost: numeric changes measured in typical spreads (MADs) plus one per changed "
                        "category."),
    # --- the Clever Hans lesson ---
    "clever_hans": ("Clever Hans effect", "A model that gets the right answer for the wrong reason: it learned a cue "
                    "that happens to go with the answer in its training data (named after a horse that seemed to "
                    "count but read his trainer's unwitting nods). Also called shortcut learning."),
    "watermark": ("Watermark", "A small bright 2×2 square in the bottom-left corner of a digit: 4 of its 64 pixels, "
                  "about 6% of the image. Outlined in green on every picture."),
    "correlation": ("Correlation (dial)", "The share of the shortcut class's training images that carry the "
                    "watermark. No other digit's training images carry it. 1: every training 8 has it; 0: none."),
    "shortcut_class": ("Shortcut class (dial)", "The digit whose training images get the watermark (8 unless you "
                       "change it)."),
    "clean_test": ("Clean test set", "The 540 test images as they are, without any watermark: the world the model "
                   "will meet, where the watermark does not come with the 8s."),
    "watermarked_test": ("Watermarked test set", "The same 540 test images, every one of them stamped with the "
                         "watermark, whatever its digit."),
    "watermark_share": ("Share of relevance on the watermark", "Of all the |relevance| an explanation spreads over "
                        "an image, the share that lands on the watermark's 4 pixels (averaged over the watermarked "
                        "test images of the shortcut class). Compare it with the watermark's share of the image "
                        "area, about 6%."),
}

WORDS: dict[str, tuple[str, str]] = {**LESSON_WORDS, **{k: _from_glossary(k) for k in METRIC_NOTES}}

HOW_TO_READ: dict[str, str] = {
    "metrics": "Each number is measured on the test rows the model never saw. Differences (DP, EO) are 0 when the "
               "groups are treated alike; a bigger number is a bigger gap.",
    "rates": "One cluster of bars per group, one colour per measure. Compare the same colour across the groups: equal "
             "heights mean equal treatment on that measure. The thin lines on top are 95% intervals: when two groups' "
             "lines overlap, the gap could be chance.",
    "judged": "The same decisions, graded twice: the *recorded labels* columns grade them against history's records "
              "(all an auditor normally has), the *deserved labels* columns against what each applicant deserved "
              "(what only the lab knows). Where the two disagree, the records mislead about the model.",
    "judged_bars": "Each group has two bars per measure: light for the recorded labels, dark for the deserved labels. "
                   "Compare the two bars of group B: the gap between them is what the biased records hide.",
    "history": "One group of bars per run, left to right in the order you ran them. Follow one colour across the runs "
               "to see what your dial did to that measure.",
    "shares": "One bar per input: how much of the model's reasoning rests on it (shares add up to 100%). Red bars are "
              "the group and its proxy, `neighbourhood`.",
    "association": "One bar per feature: how well it predicts the group on its own (0 to 1). The dashed line at 0.3 "
                   "is where the detector calls a feature a likely proxy.",
    "heatmaps": "The digit itself on the left, then one map per explanation method. Red: the pixel pushed the score "
                "of the predicted digit up. Blue: down. White: no effect. Attention rollout has no sign: its red "
                "only means 'looked at'. Compare where the colour sits, not how strong it is — each map has its own "
                "scale.",
    "randomisation": "One line per method. Left to right, more of the model's layers are replaced by random ones (top "
                     "layers first). Up the side: how similar the explanation stays to the trained model's (rank "
                     "correlation ρ, 1 = identical). A trustworthy method drops below the dashed line at 0.5.",
    "ink": "The randomisation check's last stage, scored twice: over all 64 pixels (as the chart) and over the "
           "digit's inked pixels only. Below 0.5 passes. A big drop from the left column to the right one means the "
           "blank background, not the model, made the two maps agree.",
    "deletion": "One line per method, and a grey dashed one for deleting pixels in random order. Left to right, more "
                "pixels are blanked, most important first. Up the side: the model's confidence in its answer. The "
                "faster a line falls, the better that method found the pixels the model needs.",
    "checks": "One row per model and method: the randomisation check (ρ after scrambling every layer, over all pixels "
              "and over the digit's pixels; below 0.5 passes) and the deletion area (smaller is better; compare it "
              "with the random order's).",
    "before_after": "One row per model: accuracy and the two fairness gaps (DP, EO) on the test rows, with 95% "
                    "intervals. The first row is the model before mitigation.",
    "front": "One dot per model you tried. Up is more accurate; left is fairer on the chosen gap. The lines through a "
             "dot are 95% intervals: dots whose lines overlap may not really differ.",
    "counterfactuals": "The first row is the applicant as they are; each further row is one way to be approved. "
                       "Highlighted cells are the changes. `proba` is the model's approval score after the change "
                       "(approved from 0.5).",
    "burden": "One bar per group: the average cost of the cheapest change that gets a rejected applicant approved. "
              "The thin lines are 95% intervals. A taller bar: that group has to change more to be approved.",
    "samples": "A few training images as the model sees them: the shortcut class first, then other digits. The "
               "green box outlines where the watermark goes; a bright square inside it is the watermark.",
    "grades": "Each number is measured on test images the model never saw: once as they are (clean), once with the "
              "watermark stamped on every one. A model that learned the digits scores the same on both.",
    "watermark_maps": "The watermarked image on the left, then one map per method for the model's answer. Red: the "
                      "pixel pushed that answer up; blue: down; white: no effect (each map has its own colour "
                      "scale). The green box is the watermark: colour inside it means the model used it.",
    "applicant": "The applicant's data as the model sees it, with the label history recorded and the label they "
                 "deserved.",
}


def word(key: str) -> tuple[str, str]:
    """``(name, meaning)`` of a lesson word."""
    return WORDS[key]
