"""dlxai: explainability and fairness audits for deep-learning (and other) models.

The public verbs, one argument convention for all of them — ``verb(model, dataset, *, sensitive=…,
seed=…, progress=…)`` where a verb takes a model and a dataset::

    import dlxai

    ds = dlxai.load_demo("adult")
    model = dlxai.train_model(ds, "mlp", seed=0)
    audit = dlxai.audit_model(model, ds, sensitive=["sex"])
    ig = dlxai.attribute(model, ds.X("test").iloc[:100], method="integrated_gradients")
    cfs = dlxai.find_counterfactuals(model, ds, ds.X("test").iloc[:5])
    dlxai.build_report(audit).save("audit.pdf")

    images = dlxai.load_images("scans.zip", "labels.csv", preprocess={"resize": 224, "crop": 224})
    net = dlxai.load_image_model("model.onnx", "model.onnx")
    dlxai.audit_images(net, images, favourable_class="benign", sensitive=["skin_tone"])

The engine never imports streamlit, and ``import dlxai`` is cheap: each verb's module (and torch,
captum, shap, fairlearn behind it) is imported the first time the verb is used.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING

# OpenMP threads (torch's, MKL's) that wait for each other by spinning collapse on a shared machine: integrated
# gradients on 10,000 rows of the Adult MLP took 0.66 s idle and 15.9 s beside two busy processes on two cores;
# waiting passively, 0.82 s and 0.87 s.  libgomp reads this once, when torch loads: set before torch is imported
# (the dashboard and the CLI import dlxai first); an operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from dlxai.errors import DlxaiError, NotFittedError, UnsupportedModelError, UserInputError

__version__ = "0.1.0"

# public name -> (module, attribute); resolved lazily by __getattr__
_LAZY = {
    # data
    "load_demo": ("dlxai.data.bundled", "load_demo"),
    "load_table": ("dlxai.data.tables", "read_table"),
    "dataset_from_table": ("dlxai.data.mapping", "dataset_from_upload"),
    "load_predictions": ("dlxai.data.predictions", "load_predictions"),
    "TabularDataset": ("dlxai.data.dataset", "TabularDataset"),
    "load_images": ("dlxai.data.imagesets", "read_images"),
    # models
    "load_model": ("dlxai.models.formats", "load_model"),
    "train_model": ("dlxai.models.training", "train_model"),
    "AuditModel": ("dlxai.models.base", "AuditModel"),
    "load_image_model": ("dlxai.models.imagemodels", "load_image_model"),
    # audits
    "audit_fairness": ("dlxai.fairness.metrics", "audit_fairness"),
    "audit_model": ("dlxai.report.audit", "audit_model"),
    "audit_predictions": ("dlxai.report.audit", "audit_predictions"),
    "audit_partitions": ("dlxai.report.distributed", "audit_partitions"),
    "audit_images": ("dlxai.report.imageaudit", "audit_images"),
    # explanations
    "attribute": ("dlxai.explain.attribution", "attribute"),
    "find_counterfactuals": ("dlxai.explain.counterfactuals", "find_counterfactuals"),
    "Constraints": ("dlxai.explain.counterfactuals", "Constraints"),
    "SearchOptions": ("dlxai.explain.counterfactuals", "SearchOptions"),
    "recourse_burden": ("dlxai.fairness.recourse", "recourse_burden"),
    "fit_surrogate": ("dlxai.explain.surrogate", "fit_surrogate"),
    # mitigation
    "mitigate": ("dlxai.fairness.mitigation", "mitigate"),
    "sweep": ("dlxai.fairness.mitigation", "sweep"),
    # report
    "build_report": ("dlxai.report.builder", "build_report"),
}

__all__ = [  # written out (not derived from _LAZY) so linters and editors see the names; a test keeps them equal
    "AuditModel", "Constraints", "DlxaiError", "NotFittedError", "SearchOptions", "TabularDataset",
    "UnsupportedModelError", "UserInputError", "__version__", "attribute", "audit_fairness", "audit_images",
    "audit_model", "audit_partitions", "audit_predictions", "build_report", "dataset_from_table", "find_counterfactuals",
    "fit_surrogate", "load_demo", "load_image_model", "load_images", "load_model", "load_predictions", "load_table",
    "mitigate", "recourse_burden", "sweep", "train_model",
]


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'dlxai' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # for editors and type checkers; never executed
    from dlxai.data.bundled import load_demo
    from dlxai.data.dataset import TabularDataset
    from dlxai.data.imagesets import read_images as load_images
    from dlxai.data.mapping import dataset_from_upload as dataset_from_table
    from dlxai.data.predictions import load_predictions
    from dlxai.data.tables import read_table as load_table
    from dlxai.explain.attribution import attribute
    from dlxai.explain.counterfactuals import Constraints, SearchOptions, find_counterfactuals
    from dlxai.explain.surrogate import fit_surrogate
    from dlxai.fairness.metrics import audit_fairness
    from dlxai.fairness.mitigation import mitigate, sweep
    from dlxai.fairness.recourse import recourse_burden
    from dlxai.models.base import AuditModel
    from dlxai.models.formats import load_model
    from dlxai.models.imagemodels import load_image_model
    from dlxai.models.training import train_model
    from dlxai.report.audit import audit_model, audit_predictions
    from dlxai.report.builder import build_report
    from dlxai.report.distributed import audit_partitions
    from dlxai.report.imageaudit import audit_images
