"""The audit PDF: sections present, numbers equal the engine's, pages not blank, charts with and without a browser."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from pypdf import PdfReader

from dlxai.errors import UserInputError
from dlxai.plots.fairness import disparity_summary, group_metric_bars, impact_ratio_bars
from dlxai.plots.performance import calibration_curve, confusion_matrix
from dlxai.report import SECTIONS, audit_model, build_report, charts, messages
from dlxai.report.messages import MISSING
from dlxai.report.sections import fmt


@pytest.fixture(scope="module")
def bundle(german, german_mlp):
    return audit_model(german_mlp, german, sensitive=["sex", "age_band"], n_bootstrap=200, seed=3,
                       rules=["demographic_parity_difference>0.05", "accuracy<0.5"])


@pytest.fixture(scope="module")
def report(bundle):
    return build_report(bundle, title="German credit audit", organisation="Example Bank", analyst="A. Analyst",
                        chart_engine="matplotlib", date="2026-11-23")


@pytest.fixture(scope="module")
def text(report):
    reader = PdfReader(io.BytesIO(report.pdf))
    return "\n".join(p.extract_text() for p in reader.pages)


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_every_section_is_present_in_order(report, text):
    reader = PdfReader(io.BytesIO(report.pdf))
    outline = [o.title for o in reader.outline if not isinstance(o, list)]
    assert outline == list(SECTIONS.values())
    assert report.pages == len(reader.pages) >= 8
    for heading in list(SECTIONS.values())[1:]:  # the cover has no heading of its own
        assert heading in text
    for line in ("German credit audit", "Example Bank", "A. Analyst", "2026-11-23", "dlxai version"):
        assert line in text
    for key in ("explanations", "counterfactuals", "surrogate", "mitigation"):  # not run: says what is missing
        assert _squash(MISSING[key]) in _squash(text)
    assert report.missing == ("explanations", "counterfactuals", "surrogate", "mitigation")


def test_numbers_equal_the_engines(bundle, text, german, german_mlp):
    flat = _squash(text)
    for attr, a in bundle.fairness.items():
        for k, v in a.summary.items():
            lo, hi = a.summary_ci[k]
            assert _squash(f"{fmt(v)} {fmt(lo)} - {fmt(hi)}") in flat, (attr, k)
        for g, row in a.by_group.iterrows():
            cell = f"{fmt(row['selection_rate'])} [{fmt(a.ci_low.at[g, 'selection_rate'])}, " \
                   f"{fmt(a.ci_high.at[g, 'selection_rate'])}]"
            assert _squash(f"{g}{int(row['count']):,}{cell}") in flat, (attr, g)
    p = bundle.performance
    assert f"Accuracy {fmt(p.accuracy)}" in text and f"ROC AUC {fmt(p.roc_auc)}" in text
    assert german.fingerprint in flat and german_mlp.fingerprint in flat  # data and model SHA-256
    assert f"{german_mlp.parameter_count:,}" in text  # model card parameter count
    sizes = german.test["sex"].value_counts()
    for g, n in sizes.items():
        assert _squash(f"{g}{n:,}{n / sizes.sum():.1%}") in flat  # group sizes table


def test_executive_summary_pass_fail_against_thresholds(bundle, text):
    dp = {attr: a.summary["demographic_parity_difference"] for attr, a in bundle.fairness.items()}
    for attr, v in dp.items():
        verdict = "FAIL" if v > 0.05 else "PASS"
        assert f"Demographic parity difference > 0.05 {attr} {fmt(v)} {verdict}" in text
    assert f"Accuracy < 0.5 overall {fmt(bundle.performance.accuracy)} PASS" in text
    assert ("Verdict: FAILED" in text) == any(v > 0.05 for v in dp.values())


def test_limitations_and_manifest_come_from_the_data(bundle, german, german_mlp):
    small = audit_model(german_mlp, german, sensitive=["age_band"], n_bootstrap=50, min_group_size=100)
    t = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(
        build_report(small, sections=["limitations", "manifest"], chart_engine="matplotlib").pdf)).pages)
    under = german.test["age_band"].value_counts()
    tiny = [g for g, n in under.items() if n < 100]
    assert tiny and all(f"{g} ({under[g]} rows)" in t for g in tiny)
    assert "fewer than 100 rows" in t
    for item in ("bootstrap_seed", "torch", "fairlearn", "random_state", german.fingerprint[:40]):
        assert item in _squash(t)


def test_pages_are_not_blank_and_charts_are_embedded(report):
    reader = PdfReader(io.BytesIO(report.pdf))
    images = [img for page in reader.pages for img in page.images]
    assert report.chart_engines == {"matplotlib": len(images)} and len(images) == 2 + 3 * 2
    for img in images:
        pixels = np.asarray(img.image.convert("L"), dtype=float)
        assert pixels.std() > 5  # a drawn chart, not an empty canvas
        assert (pixels < 128).mean() > 0.003  # dark strokes: axes, bars, text
    for page in reader.pages:
        assert len(page.extract_text().strip()) > 40 or page.images
        assert len(page.get_contents().get_data()) > 500 or page.images
    if shutil.which("pdftoppm"):  # render the pages themselves when poppler is installed
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:  # one file per page (pdftoppm names them page-N.pgm)
            out = subprocess.run(["pdftoppm", "-r", "30", "-gray", "-f", "1", "-l", "3", "-", f"{tmp}/page"],
                                 input=report.pdf, capture_output=True, timeout=60)
            pages = sorted(Path(tmp).glob("page-*.pgm"))
            assert out.returncode == 0 and len(pages) == 3, out.stderr
            assert all(len(set(p.read_bytes()[20:])) > 2 for p in pages)  # drawn, not blank (past the header)


def test_fallback_needs_no_browser_and_draws_every_plots_figure(bundle):
    a = next(iter(bundle.fairness.values()))
    figs = [group_metric_bars(a), impact_ratio_bars(a), disparity_summary(a), confusion_matrix(bundle.performance),
            calibration_curve(bundle.performance)]
    for fig in figs:
        r = charts.render_png(fig, 600, 300, engine="matplotlib")
        assert r.engine == "matplotlib" and r.png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(charts.find_browser() is None, reason="no Chromium here (CI installs it)")
def test_kaleido_renders_the_pages_figures_with_chromium(bundle):
    a = next(iter(bundle.fairness.values()))
    r = charts.render_png(impact_ratio_bars(a), 500, 300, engine="kaleido")
    assert r.engine == "kaleido", r.note
    from PIL import Image

    img = Image.open(io.BytesIO(r.png))
    assert img.size == (500, 300) and np.asarray(img.convert("L")).std() > 5


def test_sections_can_be_chosen(bundle):
    r = build_report(bundle, sections=["summary", "fairness"], chart_engine="matplotlib")
    t = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.pdf)).pages)
    assert r.sections == ("summary", "fairness")
    assert "Executive summary" in t and "Reproducibility manifest" not in t and "Model card" not in t


def test_group_names_and_titles_outside_latin1_print_as_they_are(german):
    """An analyst's uploaded data names its groups in their own script; the PDF must not turn them into '?'."""
    from dlxai.data import make_dataset
    from dlxai.models import train_model

    names = {"female": "kobiety (Łódź)", "male": "Ελληνες — Москва"}
    train, test = (f.assign(sex=f["sex"].map(names)) for f in (german.train, german.test))
    ds = make_dataset("unicode", train, german.schema, test=test)
    model = train_model(ds, "logreg", seed=0)
    b = audit_model(model, ds, sensitive=["sex"], n_bootstrap=50, seed=0)
    r = build_report(b, title="Audyt kredytowy — ≥ 80 % zasada", sections=["cover", "fairness"],
                     chart_engine="matplotlib")
    t = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.pdf)).pages)
    for s in ("kobiety (Łódź)", "Ελληνες", "Москва", "Audyt kredytowy — ≥ 80 % zasada"):
        assert s in t, s
    assert "?" not in t.split("Fairness")[0]  # nothing on the cover was replaced


@pytest.mark.parametrize("kwargs, match", [
    ({"sections": ["cover", "nope"]}, "Unknown report section 'nope'"),
    ({"sections": []}, "No report section was chosen"),
    ({"title": "   "}, "The report title is empty"),
    ({"chart_engine": "svg"}, "Unknown chart engine"),
])
def test_bad_options_raise_user_errors(bundle, kwargs, match):
    with pytest.raises(UserInputError, match=match):
        build_report(bundle, **{"sections": ["cover", "fairness"], **kwargs})
    assert messages.UNKNOWN_SECTION.startswith("Unknown report section")


def test_the_model_is_not_changed(german, german_mlp):
    before = {k: v.clone() for k, v in german_mlp.torch_module().state_dict().items()}
    hooks = [len(m._forward_hooks) + len(m._backward_hooks) for m in german_mlp.torch_module().modules()]
    attrs = dict(vars(german_mlp.estimator))
    bundle = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=20)
    build_report(bundle, sections=["model", "performance"], chart_engine="matplotlib")
    with pytest.raises(UserInputError):
        audit_model(german_mlp, german, sensitive=["sex"], rules=["accuracy>>1"])
    after = german_mlp.torch_module().state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert hooks == [len(m._forward_hooks) + len(m._backward_hooks) for m in german_mlp.torch_module().modules()]
    assert set(vars(german_mlp.estimator)) == set(attrs)


def test_optional_sections_show_real_explanations_and_mitigation(german, german_mlp):
    from dlxai.explain.attribution import attribute
    from dlxai.explain.quality import completeness
    from dlxai.fairness.mitigation import mitigate

    rows = german.X("test").head(24)
    ig = attribute(german_mlp, rows, method="integrated_gradients", n_steps=16)
    mit = mitigate(german_mlp, german, "exponentiated_gradient", sensitive=("sex",),
                   estimator_params={"max_epochs": 2}, max_iter=5, n_bootstrap=50)
    post = mitigate(german_mlp, german, "threshold_optimizer", "equalized_odds", sensitive=("sex",), n_bootstrap=50)
    bundle = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=50, explanations=[ig, completeness(ig)],
                         mitigation=[mit, post])  # every run of a session
    rep = build_report(bundle, sections=["explanations", "mitigation", "limitations"], chart_engine="matplotlib")
    t = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(rep.pdf)).pages)
    assert rep.missing == ()
    imp = ig.by_feature().abs().mean(axis=0).sort_values(ascending=False)
    assert f"{imp.index[0]} {fmt(imp.iloc[0], 4)}" in t  # global importance equals the engine's
    groups = bundle.extras["explanation_groups"]["sex"]
    assert set(groups.index) == set(german.test.loc[rows.index, "sex"])
    assert "Example local explanations" in t and "Quality check: completeness" in t
    assert f"{completeness(ig).median:.2%}" in t
    for r in (mit, post):  # each run: its label, every metric before and after, and what got worse
        assert _squash(r.label) in _squash(t)
        for row in r.tradeoff.display().itertuples():
            assert _squash(f"{row.Metric} {row[2]}") in _squash(t)
        for w in r.warnings:
            assert _squash(w[:60]) in _squash(t)
    assert "Randomized decisions yes" in t
    assert "isarandomizedclassifier" in _squash(t)  # the limitation generated from the mitigation result
    assert rep.chart_engines == {"matplotlib": 2}  # importance + importance by sex


def test_every_quality_result_is_printed_beside_its_explanation_with_pass_fail_and_advice(german, german_mlp):
    from dlxai.explain.attribution import attribute
    from dlxai.explain.quality import completeness, deletion_insertion, randomisation_check

    rows = german.X("test").head(24)
    kw = {"baselines": "mean", "reference": german.X("train"), "n_steps": 16}
    ig = attribute(german_mlp, rows, method="integrated_gradients", **kw)
    comp, faith = completeness(ig), deletion_insertion(german_mlp, ig, n_steps=5)
    rand = randomisation_check(german_mlp, rows.head(10), method="integrated_gradients", **kw)
    bundle = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=50,
                         explanations=[ig, comp, faith, rand])
    rep = build_report(bundle, sections=["explanations"], chart_engine="matplotlib")
    t = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(rep.pdf)).pages)
    squashed = _squash(t)
    order = [squashed.find(_squash(s)) for s in ("Global importance (Integrated gradients",
                                                  "Quality check: completeness", "Quality check: faithfulness",
                                                  "Quality check: randomisation")]
    assert -1 not in order and order == sorted(order)  # right after the explanation they qualify
    assert f"{comp.median:.2%}" in t
    assert _squash(f"{fmt(faith.deletion_auc)} vs {fmt(faith.random_deletion_auc)} random") in squashed
    assert _squash(f"Spearman ρ after re-initialising all layers {fmt(rand.final)}") in squashed
    verdict = "PASS" if rand.passed else "FAIL"
    assert _squash(f"Quality check: randomisation (Adebayo et al., 2018) - {verdict}") in squashed
    if not rand.passed:
        assert _squash("What to try:") in squashed and _squash("Another baseline: zeros") in squashed


def test_without_a_browser_auto_falls_back_and_the_report_still_builds(bundle, monkeypatch, tmp_path):
    charts.shutdown()  # a browser started by an earlier test would still answer
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on the PATH: as on a machine without a browser
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    assert charts.find_browser() is None
    rep = build_report(bundle, sections=["performance"], chart_engine="auto")
    assert rep.chart_engines == {"matplotlib": 2}
    assert sum(len(p.images) for p in PdfReader(io.BytesIO(rep.pdf)).pages) == 2


def test_counterfactual_recourse_and_surrogate_sections(german, german_mlp):
    from dlxai.explain.counterfactuals import SearchOptions, find_counterfactuals
    from dlxai.explain.surrogate import fit_surrogate
    from dlxai.fairness.recourse import recourse_burden

    cf = find_counterfactuals(german_mlp, german, german.X("test").head(2), k=2, options=SearchOptions(steps=40))
    rb = recourse_burden(german_mlp, german, "sex", max_rows=24, n_bootstrap=50)
    sg = fit_surrogate(german_mlp, german, max_depth=2, sensitive=["sex"])
    bundle = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=20, counterfactuals=[cf, rb], surrogate=sg)
    rep = build_report(bundle, sections=["counterfactuals", "surrogate", "limitations"], chart_engine="matplotlib")
    t = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(rep.pdf)).pages)
    assert rep.missing == ()
    assert _squash(f"Validity (share that flips the decision) {fmt(cf.summary()['validity'])}") in _squash(t)
    for g in rb.by_group.index:
        assert f"{g} {int(rb.by_group.at[g, 'rejected']):,}" in t and fmt(rb.by_group.at[g, "burden"]) in t
    assert f"Gap between the highest ({rb.highest})" in t
    assert fmt(sg.fidelity) in t and "IF " in t and "?" not in t.split("Surrogate decision tree")[1][:2000]
    # the low-fidelity limitation appears exactly when the surrogate's fidelity is below 0.9
    assert ("itsrulesdescribethemodelloosely" in _squash(t)) == (sg.fidelity < 0.9)


def _pdf_text(rep) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(rep.pdf)).pages)


def test_a_predictions_only_pdf_reports_only_what_decisions_support():
    """A prediction column has no scores: no ROC AUC, Brier, calibration or threshold, and no instruction to run
    what needs a model; each optional section says why it does not apply."""
    from dlxai.report import audit_predictions
    from tests import makers

    bundle = audit_predictions(makers.predictions_frame(), target="label", sensitive=["sex"],
                               prediction_column="pred", positive_label="good", n_bootstrap=20)
    rep = build_report(bundle, chart_engine="matplotlib")
    t = _pdf_text(rep)
    for absent in (r"ROC AUC \d", r"Brier score \d", "threshold 0.50", "Decision threshold",
                   "open the Explanations page", "--explain", "Not run in this audit"):
        assert not re.search(absent, t), absent
    assert _squash(messages.SCORED_AS["decisions"]) in _squash(t)
    assert "Decisions from" in t and f"accuracy {fmt(bundle.performance.accuracy)}" in t
    for key, what in messages.NEEDS_A_MODEL_WHAT.items():
        assert _squash(messages.NEEDS_A_MODEL.format(what=what)) in _squash(t), key
    assert rep.missing == ()
    assert rep.chart_engines == {"matplotlib": 1 + 3}  # the confusion matrix and the fairness charts, no calibration


def test_a_probability_score_keeps_roc_auc_brier_and_its_threshold():
    from dlxai.report import audit_predictions
    from tests import makers

    bundle = audit_predictions(makers.predictions_frame(), target="label", sensitive=["sex"], score_column="score",
                               threshold=0.6, positive_label="good", n_bootstrap=20)
    t = _pdf_text(build_report(bundle, sections=["summary", "performance"], chart_engine="matplotlib"))
    assert f"ROC AUC {fmt(bundle.performance.roc_auc)}" in t and f"Brier score {fmt(bundle.performance.brier)}" in t
    assert "threshold 0.60" in t and "Decision threshold 0.60" in t


def test_manifest_and_settings_keys_print_whole(report, bundle):
    """Keys are never wrapped (the manifest once printed 'learning_rat e'); long values wrap instead."""
    from dlxai.report.sections import flatten, manifest

    lines = set(_pdf_text(report).splitlines())
    text = "\n".join(lines)
    keys = [k for k, _ in flatten(manifest(bundle))] + [k for k, _ in flatten(bundle.model_card["settings"])]
    assert any("learning_rate" in k for k in keys)
    broken = [k for k in keys if k not in text]
    assert not broken, broken


def test_the_surrogate_tree_is_drawn_and_one_hot_splits_read_as_levels(german, german_mlp):
    from dlxai.explain.surrogate import fit_surrogate

    sg = fit_surrogate(german_mlp, german, max_depth=3, sensitive=["sex"])
    bundle = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=20, surrogate=sg)
    rep = build_report(bundle, sections=["surrogate"], chart_engine="matplotlib")
    assert rep.chart_engines == {"matplotlib": 2}  # the tree and the fidelity by group
    assert sum(len(p.images) for p in PdfReader(io.BytesIO(rep.pdf)).pages) == 2
    t = _squash(_pdf_text(rep))
    one_hot = [c for r in sg.rules for c in r["conditions"] if " = " in c or " ≠ " in c]
    assert one_hot and all(_squash(c) in t for c in one_hot)
    assert not re.search(r"=[^≤>]*≤0\.5", t)  # never 'status = A11 ≤ 0.5'


def test_every_explanation_method_run_has_its_section(german, german_mlp):
    from dlxai.explain.attribution import attribute
    from dlxai.explain.registry import label

    rows = german.X("test").head(16)
    runs = [attribute(german_mlp, rows, method=m) for m in ("integrated_gradients", "saliency", "lrp")]
    bundle = audit_model(german_mlp, german, sensitive=["sex"], n_bootstrap=20, explanations=runs)
    t = _pdf_text(build_report(bundle, sections=["explanations"], chart_engine="matplotlib"))
    for r in runs:
        assert f"Global importance ({label(r.method)}, 16 rows)" in t
        assert f"Example local explanations ({label(r.method)})" in t
    assert t.count("Importance by sex") == 1  # the group table comes from the first attribution only


def test_a_threshold_optimizers_shap_in_the_pdf_says_each_row_kept_its_group(german, german_mlp):
    from dlxai.explain.attribution import attribute
    from dlxai.fairness.mitigation import mitigate

    post = mitigate(german_mlp, german, "threshold_optimizer", "demographic_parity", sensitive=["sex"],
                    n_bootstrap=0).model
    rows = german.test.head(6)  # rows that carry the group column the thresholds read
    shap = attribute(post, rows, method="kernel_shap", baselines="samples", reference=german.train,
                     n_baseline_samples=20, n_samples=64)
    assert shap.groups is not None
    bundle = audit_model(post, german, sensitive=["sex"], n_bootstrap=20, explanations=[shap])
    t = _squash(_pdf_text(build_report(bundle, sections=["explanations"], chart_engine="matplotlib")))
    assert _squash("Each row is scored with its own group (sex)") in t
    assert _squash("the base value is that group's") in t
