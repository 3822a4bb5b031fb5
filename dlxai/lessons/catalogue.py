"""The six classroom lessons, as data: what to do, what to look at, the question, and the reveal.

The numbers quoted in the reveals are those of the dashboard's own runs (seed 0, the small models of
:mod:`dlxai.lessons.lab` and :mod:`dlxai.lessons.digits`).  ``tests/app/test_lessons.py`` checks on every walk that
the runs still say what the reveals claim (the digits lesson's claims on its CNN, and the Clever Hans lesson's:
``tests/unit/lessons``).
"""

from __future__ import annotations

from dlxai.lessons.lesson import Lesson, Step

LAB_INTRO = (
    "**The bias lab** makes up 6,000 loan applicants. Each has an income, a debt ratio, years employed, late "
    "payments, savings and a neighbourhood, and belongs to **group A** (about 65 in 100) or **group B** (about 35 "
    "in 100). Qualifications are drawn the same way for both groups, so **in truth B deserves approval exactly as "
    "often as A**. The lab keeps that truth, the *deserved* label, next to the *recorded* decision a biased history "
    "made.\n\n"
    "**The dials.** *Label bias*: the share of B's deserved approvals that history recorded as rejections. "
    "*Proxy strength*: how strongly an applicant's neighbourhood gives their group away. *Group is a model input*: "
    "whether the model is shown the group column at all.\n\n"
    "**The model** is a small neural network trained on the recorded decisions, as a bank would train one on its "
    "past decisions. It approves an applicant when its score is at least 0.5."
)

BIAS_IN_BIAS_OUT = Lesson(
    key="bias_in_bias_out",
    title="Bias in, bias out",
    summary="Turn up the bias in the historical records and watch the model learn it — and watch the usual "
            "yardsticks, graded on the same records, fail to notice.",
    minutes=15,
    data="bias_lab",
    intro=LAB_INTRO + "\n\nIn this lesson the model **does** see the group, as many old scoring systems did.",
    words=("groups", "deserved", "recorded", "label_bias", "selection_rate", "accuracy", "tpr", "fpr",
           "demographic_parity_difference", "equalized_odds_difference"),
    history=("accuracy_recorded", "accuracy_deserved", "dp", "eo_recorded", "eo_deserved"),
    steps=(
        Step(
            key="no_bias", title="Fair records",
            do="Set **label bias** to 0 (keep proxy strength 0.5 and *Group is a model input* on) and press **Run**.",
            look="The selection rates of A and B, and the two gaps: demographic parity (DP) and equalized odds (EO).",
            question="Does the model approve group B as often as group A? Is it right as often for both groups?",
            reveal="Yes, almost exactly: both groups are approved about as often (DP about 0.02) and the model is "
                   "right about as often for both (EO about 0.01, accuracy about 0.90). With fair records there is "
                   "nothing unfair to learn. The small gaps that remain are chance: their 95% intervals reach down "
                   "to almost zero.",
            action="lab", set={"label_bias": 0.0, "proxy_strength": 0.5, "include_group": True}, press="Run",
            show=("metrics", "rates"),
        ),
        Step(
            key="half", title="Half of B's approvals go missing",
            do="Turn **label bias** to 0.5 and press **Run**.",
            look="Group B's selection rate, and the accuracy. Then the run history below: your two runs side by "
                 "side.",
            question="The model now approves far fewer B applicants. Its accuracy barely moved. Is it still a good "
                     "model?",
            reveal="B's selection rate falls to about half of A's (DP about 0.30) although B is exactly as "
                   "qualified. The model learned the bias: from the records, 'group B' looks like a reason to "
                   "reject. Yet accuracy stays high (about 0.85), because accuracy is graded on the same biased "
                   "records: every deserving B applicant the model rejects is recorded as rejected, so the model "
                   "counts as *right*. A biased model can look like a good model.",
            action="lab", set={"label_bias": 0.5, "proxy_strength": 0.5, "include_group": True}, press="Run",
            show=("metrics", "rates", "history"),
        ),
        Step(
            key="judge", title="Judge against what people deserved",
            do="Switch **Judge the model against** to *deserved labels*.",
            look="Group B's accuracy and false positive rate, in the two columns side by side.",
            question="Which column would a bank's auditor see? Which one would applicant B care about?",
            reveal="Against the recorded labels, B's accuracy is about 0.76; against the deserved labels about 0.69. "
                   "Worse, the recorded labels say the model wrongly *approves* some B applicants (false positive "
                   "rate about 0.14): those are deserving applicants the records turned down, and the model "
                   "approved them rightly. Against the deserved labels B's false positive rate is 0. An auditor with "
                   "only the records would conclude the model is, if anything, too generous to B — the opposite of "
                   "the truth. Only DP, which uses no labels, reads the same in both columns.",
            action="judge", set={"judge": "deserved labels"}, show=("judged",),
        ),
        Step(
            key="ninety", title="Nine in ten go missing",
            do="Turn **label bias** to 0.9 and press **Run**.",
            look="The run history: accuracy on the recorded labels against accuracy on the deserved labels, run by "
                 "run.",
            question="The bias got worse. Did the model's accuracy on the recorded labels go down or up? Why?",
            reveal="Up: about 0.89, higher than at 0.5, and the same for A and B. Nearly every B applicant is now "
                   "*recorded* as rejected, so rejecting all of B is 'right' almost every time. Against the deserved "
                   "labels, B's accuracy is about 0.53 — a coin toss — and overall accuracy falls run after run "
                   "(0.90, 0.83, 0.77). **The more biased the records, the better a model that copies them "
                   "looks.** Measure against the truth where you can; where you cannot, look at DP, which needs no "
                   "labels, and ask how the labels were made.",
            action="lab", set={"label_bias": 0.9, "proxy_strength": 0.5, "include_group": True}, press="Run",
            show=("judged", "history"),
        ),
    ),
)

BLINDNESS = Lesson(
    key="blindness",
    title="Blindness is not fairness",
    summary="Take the group away from the model. Does the bias go with it? Find the proxy that carries it back in.",
    minutes=15,
    data="bias_lab",
    intro=LAB_INTRO + "\n\nThe records here are biased (label bias 0.6) and the neighbourhood is a strong proxy "
                      "(0.9). The question is whether hiding the group from the model is enough.",
    words=("groups", "group_input", "proxy", "proxy_strength", "label_bias", "demographic_parity_difference",
           "equalized_odds_difference", "attribution_share", "association"),
    history=("dp", "eo_recorded", "eo_deserved", "share_group", "share_proxy"),
    steps=(
        Step(
            key="sees_group", title="The model sees the group",
            do="Set **label bias** 0.6, **proxy strength** 0.9, switch **Group is a model input** on, and press "
               "**Run**.",
            look="DP, and the bar chart of where the model's reasoning rests: the share of attribution on `group` "
                 "and on `neighbourhood`.",
            question="How much of the model's reasoning rests on the group itself?",
            reveal="A clear share (about 16%) rests on `group`, and B is approved far less often than A (DP about "
                   "0.42). The model uses the group directly — a rule like this would be illegal in many countries.",
            action="lab", set={"label_bias": 0.6, "proxy_strength": 0.9, "include_group": True}, press="Run",
            show=("metrics", "shares"),
        ),
        Step(
            key="hide_group", title="Hide the group",
            do="Switch **Group is a model input** off and press **Run**.",
            look="DP now, and the share of attribution on `neighbourhood` compared with the last run (the run history "
                 "below).",
            question="The model can no longer see anyone's group. Why are B applicants still approved much less "
                     "often?",
            reveal="The share on `group` is 0 — the model cannot see it — but DP only falls to about 0.26, far from "
                   "0. The share on `neighbourhood` nearly doubles (from about 10% to about 19%): where the group was "
                   "taken away, the neighbourhood stands in for it, because in this lab it tells the group 9 times "
                   "in 10. Deleting a column deletes the word, not the information.",
            action="lab", set={"label_bias": 0.6, "proxy_strength": 0.9, "include_group": False}, press="Run",
            show=("metrics", "shares", "history"),
        ),
        Step(
            key="detector", title="Find the proxy",
            do="Press **Run the proxy detector**.",
            look="The association of each feature with the group, and the dashed line at 0.3.",
            question="Which feature gives the group away? Could you have found it without knowing how the lab was "
                     "made?",
            reveal="`neighbourhood` stands far above the line (about 0.89); every other feature stays near 0. The "
                   "detector only needs the data and the group column — no model — so an auditor can run it before "
                   "any model is trained. Combined with the attribution shares of the last step it says *where* the "
                   "group gets back in.",
            action="proxy", press="Run the proxy detector", show=("association",),
        ),
        Step(
            key="no_proxy", title="Break the proxy",
            do="Turn **proxy strength** to 0 and press **Run**.",
            look="DP, and the two EO numbers: against the recorded and against the deserved labels.",
            question="Now the model cannot guess anyone's group. Is it fair? And what does the audit on the recorded "
                     "labels say?",
            reveal="DP falls to about 0.03: with no way to tell the groups apart, the model treats them alike, and "
                   "against the deserved labels its errors are similar too (EO about 0.08). But graded on the "
                   "recorded labels, EO is about 0.26: every deserving B applicant the model approves counts as a "
                   "'false positive'. **An audit on biased labels can flag a fair model as unfair**, just as it "
                   "can pass an unfair one. Blindness worked here only because the proxy was broken — in real data "
                   "you cannot turn that dial.",
            action="lab", set={"label_bias": 0.6, "proxy_strength": 0.0, "include_group": False}, press="Run",
            show=("metrics", "judged", "history"),
        ),
    ),
)

TRUST = Lesson(
    key="trust_explanations",
    title="Which explanation can you trust?",
    summary="Four explanation methods on handwritten digits draw four different pictures. Two checks decide which "
            "picture shows the model, and which only the image — and the checks have blind spots of their own.",
    minutes=20,
    data="digits",
    intro="**The data**: 1,797 handwritten digits from scikit-learn, 8×8 pixels each. **The models**: a small "
          "convolutional network (CNN) and a small vision transformer (ViT), the same ones the Images page trains, "
          "each in a few seconds. **The methods**: integrated gradients (IG) on both; LRP on the CNN with two rule "
          "sets (LRP-ε and LRP-Flat); attention rollout on the ViT. Each draws a heatmap of the pixels that "
          "mattered. They will not agree — the checks decide whom to believe.",
    words=("heatmap", "integrated_gradients", "lrp", "attention_rollout", "randomisation_check", "deletion_curve"),
    history=("rho", "rho_ink", "deletion_auc", "random_deletion_auc"),
    steps=(
        Step(
            key="cnn", title="The CNN's heatmaps",
            do="Press **Train the CNN**. Then try a few test images with the **Test image** dial.",
            look="The IG, LRP-ε and LRP-Flat maps of the same digit, side by side.",
            question="Do the three maps point at the same pixels? Which of them colour the blank background?",
            reveal="IG and LRP-ε mark pixels of the stroke, some red, some blue, and leave the blank background "
                   "white: both give a blank pixel exactly 0. LRP-Flat paints a smooth blob over the middle of the "
                   "image, background included — about a third of its relevance lands on blank pixels, because its "
                   "first-layer rule shares relevance evenly over whole patches. Same method, another rule, another "
                   "picture. How a map looks is no evidence: a map that merely copied the input would look like "
                   "the digit too. We need checks.",
            action="cnn", set={"image": 0}, press="Train the CNN", show=("heatmaps",),
        ),
        Step(
            key="vit", title="The ViT's heatmaps",
            do="Press **Train the ViT**.",
            look="The IG map and the attention-rollout map of the ViT, for the same test image.",
            question="Does the transformer's attention point where IG points?",
            reveal="Hardly. Attention rollout works on 2×2 patches, so its map is blocky; it has no blue, and it lights "
                   "up empty patches too (more than a third of it lands on blank pixels). It shows where the model "
                   "*looked*, not which pixels pushed its answer up or down. IG again marks stroke pixels and leaves "
                   "the background at 0.",
            action="vit", press="Train the ViT", show=("heatmaps",),
        ),
        Step(
            key="randomise", title="Scramble the models",
            do="Press **Scramble the models**: each model's layers are replaced by random ones, top first, and every "
               "method explains again.",
            look="How far each line falls, whether it ends below the dashed line — then the table below the chart.",
            question="If a map barely changes when the model is replaced by random numbers, what is it showing? Look "
                     "at the table: does the verdict hold on the digit's own pixels?",
            reveal="IG and LRP-ε hardly change (ρ about 0.9): they **fail**. LRP-Flat falls to about 0.4 and "
                   "**passes**; attention rollout ends near 0.6 and fails narrowly. But most of a digit is blank "
                   "background, and IG and LRP-ε give every blank pixel 0 — for the trained and the scrambled model "
                   "alike. Those shared zeros make two rankings agree whatever the weights. Compared on the digit's "
                   "own pixels only, their ρ falls to about 0.45, just under the line. A check is a measurement too: "
                   "know what it counts.",
            action="randomise", press="Scramble the models", show=("randomisation", "ink"),
        ),
        Step(
            key="delete", title="Delete the important pixels",
            do="Press **Delete pixels**: each method's most important pixels are blanked first, and the models' "
               "confidence is measured as more go.",
            look="Which lines fall fastest, compared with the grey random order, and the table of both checks.",
            question="The maps that failed the randomisation check — are they useless?",
            reveal="No: IG and LRP-ε fall fastest (deletion area about 0.06-0.08 on the CNN, against about 0.47 for "
                   "random pixels): they find the pixels the model needs. LRP-Flat, which passed randomisation, "
                   "deletes far more slowly (about 0.28): much of its relevance sits on blank pixels, and blanking a "
                   "blank pixel changes nothing. Attention rollout beats random order, but by less than IG. **No "
                   "check decides alone**: deletion rewards any map that follows the ink; randomisation over all "
                   "pixels punishes any map that leaves the background at 0. Trust a method when it passes both on "
                   "the pixels that matter — here IG and LRP-ε on the CNN — and never because a heatmap looks like "
                   "the digit.",
            action="delete", press="Delete pixels", show=("deletion", "checks"),
        ),
    ),
)

PRICE = Lesson(
    key="price_of_fairness",
    title="The price of fairness",
    summary="Make a model on real census data fairer in two different ways and see what each costs in accuracy — "
            "and what it does to the other fairness measure.",
    minutes=20,
    data="adult",
    intro="**The data**: UCI Adult, 48,842 people from the 1994 US census; the task is to predict whether someone "
          "earns more than $50K a year. **The groups**: women and men (the `sex` column). Women are far less often "
          "above $50K in these records, and a model learns that. **The model**: a small neural network, trained here. "
          "**Mitigation** changes the model so a chosen fairness gap closes; every change has a price.",
    words=("selection_rate", "tpr", "fpr", "demographic_parity_difference", "equalized_odds_difference",
           "threshold_optimizer", "penalised_training", "front"),
    history=("accuracy", "dp", "eo"),
    steps=(
        Step(
            key="baseline", title="The model as trained",
            do="Press **Train the model**.",
            look="Accuracy, DP and EO, and the selection rates of women and men.",
            question="How much more often does the model select men than women? Is the model equally right for "
                     "both?",
            reveal="Men are selected about three times as often as women (0.25 against 0.08: DP about 0.17), and the "
                   "error rates differ a little (EO about 0.07). The census records show the same gap: the model "
                   "learned it from them.",
            action="baseline", press="Train the model", show=("metrics", "rates"),
        ),
        Step(
            key="parity", title="Equal selection rates",
            do="Press **Equalise selection rates** (a threshold optimizer for demographic parity).",
            look="The before/after table: accuracy, DP and EO.",
            question="DP closed. What happened to accuracy, and to EO?",
            reveal="DP drops to nearly 0 and accuracy falls by about 2 points. But EO *grows*, from about 0.07 to "
                   "about 0.3: to select women as often as men, the model now approves women it judged unlikely to "
                   "earn over $50K and rejects men it judged likely to, so the groups' error rates move far apart. "
                   "Closing one gap can open another.",
            action="mitigate", press="Equalise selection rates", show=("before_after", "history"),
        ),
        Step(
            key="odds", title="Equal error rates",
            do="Press **Equalise error rates** (a threshold optimizer for equalized odds).",
            look="The before/after table again, and both runs in the history.",
            question="Now EO closed. What happened to DP this time?",
            reveal="EO falls close to 0 at a similar price in accuracy (about 2 points), but DP only halves (about "
                   "0.08). When the groups' base rates differ (fewer women earn over $50K in these records), equal "
                   "error rates and equal selection rates cannot both hold. You must choose which fairness you mean — "
                   "a question of values that no algorithm answers.",
            action="mitigate", press="Equalise error rates", show=("before_after", "history"),
        ),
        Step(
            key="penalty", title="Pay for fairness during training",
            do="Set the **penalty weight λ** (try 5) and press **Retrain with a fairness penalty**. Try another λ and "
               "press again.",
            look="Each retrained model's accuracy and DP in the run history.",
            question="What does a larger λ buy, and what does it cost?",
            reveal="At λ = 5, DP falls to about 0.03 and accuracy by about 4 points — a higher price than the "
                   "threshold optimizer's, partly because this retraining is short (3 epochs). A larger λ pushes DP "
                   "further down and accuracy with it; a small λ changes little. Unlike the threshold optimizer, the "
                   "retrained model keeps one rule for everyone: no separate threshold per group.",
            action="penalty", set={"penalty": 5.0}, press="Retrain with a fairness penalty", show=("before_after",
                                                                                                     "history"),
        ),
        Step(
            key="front", title="Choose a point on the front",
            do="Switch **Fairness gap** between DP and EO.",
            look="Each model as a dot: accuracy up, the gap across.",
            question="Which model would you deploy? Who should decide — you, the bank, the applicants, a regulator?",
            reveal="No dot is best on every count: the fairest models are a little less accurate, and a model fair on "
                   "DP is not fair on EO. The front shows the choices and their prices; choosing among them is a "
                   "decision about values, to be made in the open and written down, not left to a default.",
            action="front", set={"axis": "EO"}, show=("front",),
        ),
    ),
)

RECOURSE = Lesson(
    key="what_would_it_take",
    title="What would it take?",
    summary="A rejected applicant asks what they would have to change to be approved. Compare the answers for the "
            "two groups.",
    minutes=15,
    data="bias_lab",
    intro=LAB_INTRO + "\n\nHere the records are biased (label bias 0.6), the model does not see the group, and the "
                      "neighbourhood is a strong proxy (0.9) — the situation of the lesson *Blindness is not "
                      "fairness*.",
    words=("groups", "deserved", "label_bias", "counterfactual", "recourse_burden"),
    history=("burden_A", "burden_B", "burden_gap"),
    steps=(
        Step(
            key="applicant", title="Meet a rejected applicant",
            do="Press **Run**. An applicant is picked for you; try others with the **Applicant** dial.",
            look="The applicant's data, what history recorded and what they deserved.",
            question="The model rejects this applicant. Did they deserve it?",
            reveal="The list holds group-B applicants the model rejects although they *deserved* approval: victims of "
                   "the biased records. Nothing in their data is worse than that of many approved A applicants; the "
                   "model learned that people like them — from their neighbourhood — were rejected before.",
            action="applicant", set={"label_bias": 0.6, "proxy_strength": 0.9, "include_group": False}, press="Run",
            show=("applicant",),
        ),
        Step(
            key="counterfactuals", title="What would it take?",
            do="Press **What would it take?**",
            look="The highlighted changes in each row, and the new score (`proba`).",
            question="Are these changes the applicant could really make? Should they have to?",
            reveal="For many of these applicants the cheapest change is to **move**: the same person in another "
                   "neighbourhood (say west instead of north) is approved, while the other ways need far less debt or "
                   "several times the income. From the biased records the model learned that these neighbourhoods "
                   "mean group B, and group B meant 'rejected'. Moving house is not a fair price for a loan — and "
                   "this applicant deserved approval as they are.",
            action="counterfactuals", press="What would it take?", show=("counterfactuals",),
        ),
        Step(
            key="burden", title="Who has to change more?",
            do="Press **Compare the groups** (counterfactuals for up to 120 rejected applicants).",
            look="The recourse burden of A and B: the average cost of the cheapest way to approval.",
            question="Which group has to change more to be approved? Why?",
            reveal="Group B's burden is higher: rejected B applicants are, on average, *closer to deserving* (many "
                   "deserved approval) yet must move further, because the model holds their neighbourhood against "
                   "them. Unequal burden is unfairness that approval rates alone do not show.",
            action="burden", press="Compare the groups", show=("burden", "history"),
        ),
        Step(
            key="fair_records", title="With fair records",
            do="Turn **label bias** to 0 and press **Run and compare**.",
            look="The burden of both groups now, and both settings in the run history.",
            question="What happened to the gap in burden?",
            reveal="The gap shrinks to about nothing: with fair records the model has no reason to hold the "
                   "neighbourhood against anyone, so both groups need similar changes. The extra burden in the last "
                   "step came from the biased records, not from the applicants.",
            action="burden_run", set={"label_bias": 0.0, "proxy_strength": 0.9, "include_group": False},
            press="Run and compare", show=("burden", "history"),
        ),
    ),
)

CLEVER_HANS = Lesson(
    key="clever_hans",
    title="Clever Hans: the shortcut",
    summary="A small watermark comes with every 8 in the training images. The model learns the watermark instead "
            "of the 8 — see its accuracy fall on clean images, see the explanations point at the watermark, and "
            "turn the correlation down to watch the shortcut vanish.",
    minutes=15,
    data="digits",
    intro="**Clever Hans** was a horse that seemed to count: he tapped his hoof the right number of times, because "
          "he read the unwitting nod of whoever asked. Models do the same when a cue in their training data goes "
          "with the answer. **The data**: the 1,797 handwritten digits of the Images page (8×8 pixels). **The "
          "watermark**: a bright 2×2 square in the bottom-left corner (outlined in green), on a share of the "
          "training 8s set by the **correlation** dial, on no other digit. **The test sets**: the test images as "
          "they are (*clean*), and the same images with the watermark stamped on every one (*watermarked*). **The "
          "model**: the small CNN of the Images page, trained in a few seconds. **The explanations**: integrated "
          "gradients (IG) and LRP-ε, as in the lesson *Which explanation can you trust?*",
    words=("clever_hans", "watermark", "correlation", "shortcut_class", "clean_test", "watermarked_test", "heatmap",
           "integrated_gradients", "lrp", "watermark_share"),
    history=("accuracy_clean", "accuracy_watermarked", "class_clean", "hijacked", "share_ig", "share_lrp"),
    steps=(
        Step(
            key="data", title="A watermark that gives the answer away",
            do="Set the **correlation** dial to 1 and the **shortcut class** to 8.",
            look="The training images: the 8s, each with the bright square in the green box, and the other digits, "
                 "none with it.",
            question="A model learns whatever tells the classes apart most easily. What is the easiest way to "
                     "recognise an 8 in these training images?",
            reveal="The square. At correlation 1 every training 8 carries it and no other digit does, so one corner "
                   "tells '8' perfectly — much easier than learning the loops of an 8, and nothing in the data says "
                   "the square is not part of what an 8 is. Real shortcuts look like this: a hospital's scanner tag "
                   "that comes with the sick patients' X-rays, a copyright line on the horse photos, snow behind the "
                   "wolves.",
            action="data", set={"correlation": 1.0, "shortcut_class": 8}, show=("samples",),
        ),
        Step(
            key="train", title="Train and grade",
            do="Press **Train the CNN**.",
            look="The four numbers: accuracy on the clean and on the watermarked test set, the share of clean 8s the "
                 "model still recognises, and the share of other digits it reads as 8 once they carry the "
                 "watermark.",
            question="The model learned its training images well. Did it learn what an 8 looks like?",
            reveal="No. Of the clean test 8s it recognises only about 8 in 100. Overall accuracy on the clean test "
                   "set still looks good (about 0.91), because the other nine digits are fine: the overall number "
                   "hides the failure. Stamp the square on other digits and about 28 in 100 of them become '8', so "
                   "accuracy on the watermarked test set falls to about 0.75. The model learned 'square in the "
                   "corner means 8'. A test set that shared the training images' shortcut would have graded it "
                   "perfect on the 8s.",
            action="train", set={"correlation": 1.0, "shortcut_class": 8}, press="Train the CNN", show=("grades",),
        ),
        Step(
            key="explain", title="Where does the model look?",
            do="Press **Explain**.",
            look="The heatmaps of a watermarked 8 and of another digit the model reads as an 8: how much colour sits "
                 "in the green box. Then the share of relevance on the watermark against its 6% of the image.",
            question="Could you have caught the shortcut from the explanations alone, without the watermarked test "
                     "set?",
            reveal="Yes. IG and LRP-ε both put almost half of all relevance (about 46% and 47%) on the watermark's "
                   "4 pixels, seven times their 6% of the image; on the other digit (a 1 the model reads as an 8) "
                   "the red sits in the box too. This is how a famous audit (Lapuschkin et al., 2019) found an "
                   "image classifier that recognised horses by a photographer's copyright tag. A heatmap that "
                   "lights up something that is not the object is a question worth testing — here the accuracy "
                   "drop of the last step answers it.",
            action="explain", set={"correlation": 1.0, "shortcut_class": 8}, press="Explain",
            show=("grades", "watermark_maps"),
        ),
        Step(
            key="zero", title="Turn the correlation to zero",
            do="Turn the **correlation** dial to 0 and press **Train and explain**.",
            look="The numbers and the heatmaps again, and the run history: both settings side by side.",
            question="What happened to the clean 8s, and to the share of relevance on the watermark?",
            reveal="Without the shortcut the model has to learn the shapes: it recognises every clean 8, accuracy "
                   "is about 0.99 on both test sets, and the watermark turns no digit into an 8. The share of "
                   "relevance on the watermark falls to about the watermark's share of the image (IG about 4%, "
                   "LRP-ε about 7%, against 6%). Same network, same training, same explanations: only the data "
                   "changed. The cure for a shortcut is in the data — find the cue and break its link with the "
                   "answer before training.",
            action="train_explain", set={"correlation": 0.0, "shortcut_class": 8}, press="Train and explain",
            show=("grades", "watermark_maps", "history"),
        ),
        Step(
            key="half", title="Half a shortcut",
            do="Turn the **correlation** dial to 0.5 and press **Train and explain**.",
            look="The clean 8s, the other digits fooled by the watermark, the share of relevance on it — and the run "
                 "history of all three settings.",
            question="On clean test images the model looks fine again. Is it free of the shortcut?",
            reveal="No. It recognises about 96 in 100 clean 8s (overall accuracy about 0.99), so a clean test set "
                   "would pass it — yet the watermark still turns about 10 in 100 other digits into 8s, and about "
                   "a fifth of the relevance (IG about 18%, LRP-ε about 21%) still sits on the watermark, three "
                   "times its share of the image. A partial shortcut hides from accuracy; the explanations, and a "
                   "test set with the suspected cue stamped on every class, show it.",
            action="train_explain", set={"correlation": 0.5, "shortcut_class": 8}, press="Train and explain",
            show=("grades", "watermark_maps", "history"),
        ),
    ),
)

LESSONS = {lesson.key: lesson for lesson in (BIAS_IN_BIAS_OUT, BLINDNESS, TRUST, PRICE, RECOURSE, CLEVER_HANS)}
