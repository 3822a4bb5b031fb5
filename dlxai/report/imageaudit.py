"""Image audits, like table audits: accuracy and per-class metrics, fairness by group for a favourable class.

The model's decision on an image is its predicted class (the highest score); choosing a *favourable class* turns it
into the binary decision the fairness engine audits (favourable = predicted as that class; the truth = labelled as
that class), so demographic parity, equalised odds, per-group rates with Wilson intervals and the four-fifths
verdict are :func:`dlxai.fairness.metrics.audit_fairness`'s, and the bundle is the same
:class:`~dlxai.report.audit.AuditBundle` the PDF builder and the CLI's JSON read.  The per-class table and the
multi-class confusion matrix travel in ``bundle.extras["performance_details"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from dlxai.data.imagesets import ImageSet, read_images
from dlxai.errors import UserInputError
from dlxai.models.imagemodels import ImageModel, check_sample, load_image_model
from dlxai.performance import evaluate
from dlxai.report.audit import (
    AuditBundle,
    DataSummary,
    Progress,
    _check_common,
    _fairness,
    _group_sizes,
    _noop,
    _rules,
    evaluate_rules,
)
from dlxai.validation import check_positive_label, check_sensitive

DECISION = "predicted class == {favourable!r} (the class with the highest score)"
NEEDS_MODEL = "An image audit needs the image classifier (--model FILE: ONNX, TorchScript, or safetensors + --model-spec)."
NONE_CHOSEN = "No group column was chosen, so fairness was not audited; accuracy and per-class metrics were."
NO_GROUPS = (
    "The images have no group columns, so fairness cannot be audited. Add group columns (e.g. skin_tone, site) to "
    "the labels CSV; accuracy and per-class metrics are still computed."
)


@dataclass(frozen=True)
class ClassMetrics:
    """Multi-class performance: overall accuracy, precision/recall/F1 per class, the confusion matrix."""

    accuracy: float
    balanced_accuracy: float
    images: int
    favourable_class: str
    per_class: pd.DataFrame  # index: class; precision, recall, f1, support, predicted
    confusion: pd.DataFrame  # rows: true class, columns: predicted class

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy, "images": self.images,
                "favourable_class": self.favourable_class,
                "per_class": {str(c): row for c, row in self.per_class.to_dict(orient="index").items()},
                "confusion": {"classes": [str(c) for c in self.confusion.columns],
                              "counts": self.confusion.to_numpy().tolist()}}


def render_class_metrics(m: ClassMetrics, doc, bundle) -> None:
    """The report's page for :class:`ClassMetrics` (under Performance, whose figures above are the favourable
    class against the rest)."""
    from dlxai.report.sections import fmt

    doc.h2("All classes")
    doc.para(f"The figures above treat the favourable class {m.favourable_class!r} against the rest (the decision "
             f"fairness is audited on). Over all {len(m.per_class)} classes, on {m.images:,} images:", 9)
    doc.kv([("Accuracy", fmt(m.accuracy)), ("Balanced accuracy (mean recall)", fmt(m.balanced_accuracy))])
    shown = m.per_class.head(40)
    doc.table(("Class", "Precision", "Recall", "F1", "Images", "Predicted"),
              [(str(c), fmt(r.precision), fmt(r.recall), fmt(r.f1), f"{int(r.support):,}", f"{int(r.predicted):,}")
               for c, r in shown.iterrows()], widths=(2, 1, 1, 1, 1, 1))
    if len(m.confusion) <= 8:
        doc.para("Confusion matrix (rows: true class, columns: predicted class)", 9, "B")
        doc.table(("True \\ predicted", *map(str, m.confusion.columns)),
                  [(str(c), *(f"{int(v):,}" for v in row)) for c, row in zip(m.confusion.index,
                                                                           m.confusion.to_numpy(), strict=True)])


@dataclass(frozen=True)
class ImagePredictions:
    """What the model said about each image (the page's grid and the explanations start here)."""

    files: tuple
    labels: np.ndarray
    predicted: np.ndarray  # class name per image
    proba: np.ndarray  # [n, classes]
    classes: tuple


def class_metrics(labels, predicted, classes, favourable) -> ClassMetrics:
    """Accuracy, per-class precision/recall/F1 (scikit-learn's) and the confusion matrix."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, precision_recall_fscore_support

    classes = list(classes)
    p, r, f, s = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    per = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s.astype(int),
                        "predicted": [int((predicted == c).sum()) for c in classes]}, index=pd.Index(classes, name="class"))
    cm = pd.DataFrame(confusion_matrix(labels, predicted, labels=classes), index=pd.Index(classes, name="true"),
                      columns=classes)
    return ClassMetrics(accuracy=float((labels == predicted).mean()),
                        balanced_accuracy=float(balanced_accuracy_score(labels, predicted)), images=len(labels),
                        favourable_class=str(favourable), per_class=per, confusion=cm)


def predict_images(model: ImageModel, images: ImageSet, progress: Progress | None = None) -> ImagePredictions:
    """The model's probabilities and predicted class for every image (checked on a sample first)."""
    say = progress or _noop
    if model.check is None:
        say(0.0, "Checking the model on a sample of images")
        check_sample(model, images)
    say(0.05, f"Predicting {len(images):,} images")
    proba = model.predict_proba(images.inputs)
    classes = model.classes
    predicted = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)].astype(str)
    return ImagePredictions(images.files, images.labels, predicted, proba, classes)


def audit_images(
    model: ImageModel,
    images: ImageSet,
    *,
    favourable_class=None,
    sensitive=None,
    rules=(),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    progress: Progress | None = None,
) -> AuditBundle:
    """Performance and per-group fairness of an image classifier on labelled images.

    ``favourable_class`` (default: the first class) is the outcome audited for fairness: an image's decision is
    favourable when the model predicts that class.  ``sensitive``: group columns of the labels CSV (default: all;
    ``[]``: none, accuracy and per-class metrics only).
    """
    say = progress or _noop
    if not isinstance(images, ImageSet):
        raise UserInputError(f"images must be an ImageSet (dlxai.load_images); received {type(images).__name__}.")
    if not isinstance(model, ImageModel):
        raise UserInputError(f"model must be an image model (dlxai.load_image_model); received {type(model).__name__}.")
    group_cols = list(images.groups.columns)
    attrs = group_cols if sensitive is None else check_sensitive(sensitive, group_cols, at_least=0)
    if attrs:
        _check_common(attrs, n_bootstrap, min_group_size, None)
    parsed, user_rules = _rules(rules)
    preds = predict_images(model, images, lambda f, m: say(0.4 * f, m))
    classes = preds.classes
    fav = classes[0] if favourable_class is None else check_positive_label(classes, str(favourable_class), "class")
    y = (images.labels == fav).astype(np.int64)
    pred = (preds.predicted == fav).astype(np.int64)
    p_fav = preds.proba[:, list(classes).index(fav)]
    performance = _binary_performance(y, pred, p_fav)
    say(0.45, "Fairness by group")
    fairness = _fairness(y, pred, images.groups, attrs, n_bootstrap=n_bootstrap, seed=seed,
                         min_group_size=min_group_size, confidence=confidence, progress=say, start=0.45,
                         span=0.55) if attrs else {}
    metrics = class_metrics(images.labels, preds.predicted, classes, fav)
    data = DataSummary(
        name=images.name, rows=len(images), columns=1 + len(group_cols), target="label", positive_label=fav,
        positive_rate=float(y.mean()), sha256=images.fingerprint, split="file",
        group_sizes=_group_sizes(images.groups[attrs]) if attrs else {}, source=images.source,
        description=(f"{len(images):,} images of {' × '.join(map(str, images.image_shape))} after preprocessing "
                     f"({'; '.join(images.preprocess.describe())}); {len(classes)} classes; decision: "
                     + DECISION.format(favourable=fav) + "." + ("" if attrs else " " + (NO_GROUPS if not group_cols
                                                                          else NONE_CHOSEN))),
    )
    params = {
        "mode": "images", "favourable_class": fav, "sensitive": attrs, "decision": DECISION.format(favourable=fav),
        "classes": list(classes), "preprocess": images.preprocess.to_dict(), "n_bootstrap": int(n_bootstrap),
        "confidence": confidence, "bootstrap_seed": seed, "min_group_size": int(min_group_size),
        "rules": [r.text for r in parsed], "data_sha256": images.fingerprint, "model_sha256": model.sha256,
        "images_provenance": images.provenance,
    }
    card = {**model.card(), "decisions_from": DECISION.format(favourable=fav)}
    say(1.0, "Audit done")
    return AuditBundle(data, card, performance, fairness, None, parsed, evaluate_rules(parsed, fairness, performance),
                       user_rules, params, extras={"performance_details": (metrics,), "predictions": preds})


def _binary_performance(y: np.ndarray, pred: np.ndarray, p_fav: np.ndarray):
    """The favourable class against the rest: ranking (ROC AUC), calibration and Brier from its probability;
    accuracy and the confusion matrix from the decisions themselves (predicted class, no threshold)."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    base = evaluate(y, np.clip(p_fav, 0.0, 1.0), threshold=0.5)
    return replace(base, threshold=float("nan"), accuracy=float((pred == y).mean()),
                   balanced_accuracy=float(balanced_accuracy_score(y, pred)),
                   confusion=confusion_matrix(y, pred, labels=[0, 1]))


def audit_image_files(images, labels, model, *, model_spec=None, preprocess=None, time_budget_s: float = 10.0,
                      progress: Progress | None = None, **audit) -> AuditBundle:
    """The whole audit from files: ``images`` a folder or zip, ``labels`` a CSV (or None), ``model`` a model file,
    ``model_spec`` / ``preprocess`` JSON files or dicts; ``audit`` goes to :func:`audit_images`."""
    from dlxai.data.jsonsafe import load_json
    from dlxai.report import messages

    say = progress or _noop

    def read(path, what):
        if path is None or isinstance(path, dict):
            return path
        if not Path(path).is_file():
            raise UserInputError(messages.MISSING_FILE.format(path=str(path)))
        return load_json(Path(path).read_bytes(), what=f"{what} {str(path)!r}")

    if model is None:
        raise UserInputError(NEEDS_MODEL)
    for p in (labels, model):
        if p is not None and not Path(p).is_file():
            raise UserInputError(messages.MISSING_FILE.format(path=str(p)))
    say(0.0, f"Reading images from {images}")
    imgs = read_images(images, None if labels is None else Path(labels), preprocess=read(preprocess, "The "
                       "preprocessing JSON"), progress=lambda f, m: say(0.2 * f, m))
    say(0.2, f"Loading model {Path(model).name}")
    loaded = load_image_model(Path(model).read_bytes(), Path(model).name, spec=read(model_spec, "The model spec"),
                              time_budget_s=time_budget_s)
    try:
        check_sample(loaded, imgs)
        return audit_images(loaded, imgs, progress=lambda f, m: say(0.25 + 0.75 * f, m), **audit)
    finally:
        loaded.close()
