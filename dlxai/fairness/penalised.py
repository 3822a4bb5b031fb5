"""Fairness-penalised training of dlxai's torch MLP (in-processing mitigation).

The loss is the (sample-weighted) cross-entropy plus ``fairness_weight`` (λ) times a differentiable
gap between groups, computed on the predicted probabilities of the favourable class in each batch:

* ``"demographic_parity"``: max over groups minus min over groups of the mean predicted probability;
* ``"true_positive_rate_parity"``: the same on the rows whose label is positive;
* ``"equalized_odds"``: the larger of the gaps on positive rows and on negative rows.

The estimator mirrors :class:`~dlxai.models.torch_mlp.TorchMLPClassifier` (same parameters, same
``module_`` so gradient explanations keep working) and adds ``penalty`` and ``fairness_weight``.
``fit(X, y, sensitive_features=..., sample_weight=...)`` takes the groups at training time only;
predictions need the features alone.  The gap is taken on the probability of the last class (the
favourable class ``1`` of a binary target).  Without ``sensitive_features`` (or with λ = 0) it trains
exactly like the plain classifier.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import validate_data

from dlxai import errors
from dlxai.errors import UserInputError
from dlxai.models.torch_mlp import (
    EarlyStopping,
    TorchMLPClassifier,
    build_mlp,
    check_sample_weight,
    holdout,
    pick_device,
    train_epochs,
)

PENALTIES = ("demographic_parity", "equalized_odds", "true_positive_rate_parity")
BAD_PENALTY = (
    "Unknown fairness penalty {value!r}. Choose one of: {choices}."
)
ONE_CLASS = (
    "y has only one class ({values}); a classifier needs at least two. Check the target column and the rows used."
)
BAD_FAIRNESS_WEIGHT = (
    "fairness_weight (λ) must be a finite number of at least 0; received {value!r}. Use 0 for plain training, "
    "e.g. 1-10 for a strong penalty."
)


def group_gap(p, groups, n_groups: int, mask=None, weights=None):
    """max - min over groups of the (weighted) mean of ``p``: a differentiable torch scalar, 0 with < 2 groups.

    With integer ``weights`` it equals the unweighted gap on the data with each row repeated that often.
    """
    import torch

    if weights is None:
        weights = torch.ones_like(p)
    if mask is not None:
        p, groups, weights = p[mask], groups[mask], weights[mask]
    if p.numel() == 0:
        return p.sum() * 0.0
    sums = torch.zeros(n_groups, dtype=p.dtype, device=p.device).index_add(0, groups, p * weights)
    counts = torch.zeros(n_groups, dtype=p.dtype, device=p.device).index_add(0, groups, weights.to(p.dtype))
    present = counts > 0
    if int(present.sum()) < 2:
        return p.sum() * 0.0
    means = sums[present] / counts[present]
    return means.max() - means.min()


def fairness_gap(p, y, groups, n_groups: int, penalty: str, weights=None):
    """The penalty's gap: DP on all rows, TPR parity on positive rows, EO the larger of TPR and FPR gaps."""
    if penalty == "demographic_parity":
        return group_gap(p, groups, n_groups, weights=weights)
    tpr = group_gap(p, groups, n_groups, y == 1, weights)
    if penalty == "true_positive_rate_parity":
        return tpr
    return torch_max(tpr, group_gap(p, groups, n_groups, y == 0, weights))


def torch_max(a, b):
    import torch

    return torch.maximum(a, b)


class FairPenaltyMLPClassifier(TorchMLPClassifier):
    """:class:`TorchMLPClassifier` whose loss adds λ × a differentiable group gap (see module doc)."""

    def __init__(
        self,
        hidden_layer_sizes=(128, 64),
        dropout=0.1,
        learning_rate=2e-3,
        weight_decay=1e-4,
        batch_size=512,
        max_epochs=30,
        patience=4,
        validation_fraction=0.1,
        random_state=0,
        device="auto",
        callback=None,
        penalty="demographic_parity",
        fairness_weight=1.0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, dropout=dropout, learning_rate=learning_rate,
            weight_decay=weight_decay, batch_size=batch_size, max_epochs=max_epochs, patience=patience,
            validation_fraction=validation_fraction, random_state=random_state, device=device, callback=callback,
        )
        self.penalty = penalty
        self.fairness_weight = fairness_weight

    def _check_params(self) -> None:
        super()._check_params()
        if self.penalty not in PENALTIES:
            raise UserInputError(BAD_PENALTY.format(value=self.penalty, choices=list(PENALTIES)))
        lam = self.fairness_weight
        if isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating)) or not np.isfinite(lam) \
                or lam < 0:
            raise UserInputError(BAD_FAIRNESS_WEIGHT.format(value=lam))

    def fit(self, X, y, sensitive_features=None, sample_weight=None):
        import torch

        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise UserInputError(ONE_CLASS.format(values=list(self.classes_)))
        y_idx = np.searchsorted(self.classes_, y).astype(np.int64)
        n = X.shape[0]
        w = check_sample_weight(sample_weight, n)
        if sensitive_features is None:
            codes, n_groups = np.zeros(n, dtype=np.int64), 1
        else:
            from dlxai.fairness.metrics import group_codes

            codes, labels, _ = group_codes(sensitive_features)
            if len(codes) != n:
                raise UserInputError(errors.LENGTH_MISMATCH.format(lengths=[n, len(codes)]))
            n_groups = len(labels)
        lam = float(self.fairness_weight)
        penalise = lam > 0 and n_groups >= 2

        rng = np.random.default_rng(self.random_state)
        dev = pick_device(self.device)
        tr_idx, val_idx = holdout(n, self.validation_fraction, w, rng)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state or 0))
            module = build_mlp(X.shape[1], tuple(int(h) for h in self.hidden_layer_sizes), len(self.classes_),
                               float(self.dropout)).to(dev)
            yt = torch.tensor(y_idx, device=dev)
            wt = torch.tensor(w, device=dev)
            gt = torch.tensor(codes, device=dev)
            opt = torch.optim.Adam(module.parameters(), lr=float(self.learning_rate),
                                   weight_decay=float(self.weight_decay))

            def gap(logits, rows):
                p = torch.softmax(logits, dim=1)[:, -1]
                return fairness_gap(p, yt[rows], gt[rows], n_groups, self.penalty, wt[rows])

            stopper = EarlyStopping(self.patience, bool(len(val_idx)), int(self.max_epochs), self.callback)
            start = time.perf_counter()
            gaps = train_epochs(module, torch.tensor(X, device=dev), yt, w, tr_idx, val_idx, opt=opt,
                                batch_size=int(self.batch_size), max_epochs=int(self.max_epochs), rng=rng,
                                stopper=stopper, penalty=gap if penalise else None, penalty_weight=lam)
        self.module_ = module
        self.device_ = str(dev)
        self.history_ = stopper.history
        self.train_gaps_ = gaps
        self.best_epoch_ = stopper.best_epoch
        self.fit_seconds_ = time.perf_counter() - start
        return self
