"""Train the built-in models on a dataset's training split."""

from __future__ import annotations

import time
from collections.abc import Callable

from dlxai.data.dataset import TabularDataset
from dlxai.errors import UserInputError
from dlxai.models.base import AuditModel

MLP_DEFAULTS = {"hidden_layer_sizes": (128, 64), "max_epochs": 30, "learning_rate": 2e-3, "batch_size": 512,
                "dropout": 0.1, "weight_decay": 1e-4, "patience": 4}
LOGREG_DEFAULTS = {"C": 1.0, "max_iter": 1000}


def _mlp(params: dict, seed: int, progress):
    from dlxai.models.torch_mlp import TorchMLPClassifier

    return TorchMLPClassifier(**{**MLP_DEFAULTS, **params}, random_state=seed, callback=progress)


def _logreg(params: dict, seed: int, progress):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**{**LOGREG_DEFAULTS, **params}, random_state=seed)


def _transformer(params: dict, seed: int, progress):
    from dlxai.models.nets import tabular_transformer

    return tabular_transformer(params, seed, progress)


MODEL_KINDS: dict[str, tuple[str, Callable]] = {
    "mlp": ("PyTorch MLP", _mlp),
    "logreg": ("Logistic regression (baseline)", _logreg),
    "transformer": ("Tabular transformer (attention)", _transformer),
}


def fit_preprocessor(dataset: TabularDataset):
    """A :class:`~dlxai.data.preprocess.Preprocessor` fitted on the training split (scikit-learn loads here,
    not when the dashboard's first page imports the engine)."""
    from dlxai.data.preprocess import Preprocessor

    return Preprocessor(dataset.schema.numeric, dataset.schema.categorical).fit(dataset.X("train"))


def train_model(
    dataset: TabularDataset,
    kind: str = "mlp",
    *,
    seed: int = 0,
    progress: Callable | None = None,
    **params,
) -> AuditModel:
    """Fit the preprocessor on the training split and a model of ``kind`` on top of it.

    ``progress`` receives a :class:`~dlxai.models.torch_mlp.EpochInfo` after every epoch (MLP only).
    """
    if kind not in MODEL_KINDS:
        raise UserInputError(f"Unknown model kind {kind!r}. Choose one of: {list(MODEL_KINDS)}.")
    label, factory = MODEL_KINDS[kind]
    estimator = factory(params, seed, progress)
    start = time.perf_counter()
    prep = fit_preprocessor(dataset)
    X = prep.transform(dataset.X("train"))
    y = dataset.y("train")
    try:
        estimator.fit(X, y)  # (a torch estimator picks its threads from its step's size: torch_mlp.step_work)
    except TypeError as exc:  # unknown parameter names surface here
        raise UserInputError(f"Invalid parameters for {label}: {exc}") from exc
    shown = {k: (list(v) if isinstance(v, tuple) else v) for k, v in estimator.get_params().items() if k != "callback"}
    return AuditModel(
        estimator=estimator,
        preprocessor=prep,
        kind=kind,
        name=f"{label} on {dataset.name}",
        feature_columns=dataset.schema.features,
        params={**shown, "seed": seed},
        fit_seconds=time.perf_counter() - start,
        dataset=dataset.name,
    )
