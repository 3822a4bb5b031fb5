"""A PyTorch MLP classifier with the scikit-learn estimator contract.

Fairlearn's reductions retrain it through ``fit(X, y, sample_weight=...)``, so ``sample_weight`` is
honoured exactly: the loss is ``sum(w_i * loss_i) / (batch_size * mean(w))``, which for a full
batch equals the loss on the data with each row repeated ``w_i`` times.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from dlxai import errors
from dlxai.errors import UserInputError


def pick_device(device: str = "auto"):
    """``"auto"`` picks CUDA when present, else the CPU."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserInputError(f"Unknown device {device!r}; use 'auto', 'cpu' or 'cuda'.") from exc
    if d.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError("device='cuda' was asked for but no CUDA GPU is available; use device='auto'.")
    return d


@dataclass(frozen=True)
class EpochInfo:
    """What the progress callback receives after every epoch."""

    epoch: int
    max_epochs: int
    train_loss: float
    val_loss: float | None
    best_epoch: int
    seconds: float

    @property
    def fraction(self) -> float:
        return self.epoch / self.max_epochs


class EarlyStopping:
    """The end-of-epoch bookkeeping every torch estimator of dlxai shares: keeps the weights of the best
    epoch (by validation loss, else training loss), records the history, reports progress to the
    callback, and says when the patience has run out."""

    def __init__(self, patience: int, enabled: bool, max_epochs: int, callback=None):
        self.patience, self.enabled = int(patience), bool(enabled)
        self.max_epochs, self.callback = int(max_epochs), callback
        self.best, self.best_epoch, self.bad, self.state = np.inf, 0, 0, None
        self.history: list[EpochInfo] = []
        self.start = time.perf_counter()

    def end_epoch(self, module, epoch: int, train_loss: float, val_loss: float | None) -> bool:
        """Record an epoch; True when training should stop."""
        score = val_loss if val_loss is not None else train_loss
        if score < self.best - 1e-5:
            self.best, self.best_epoch, self.bad = score, epoch, 0
            self.state = copy.deepcopy(module.state_dict())
        else:
            self.bad += 1
        info = EpochInfo(epoch, self.max_epochs, train_loss, val_loss, self.best_epoch,
                         time.perf_counter() - self.start)
        self.history.append(info)
        if self.callback is not None:
            self.callback(info)
        return self.enabled and self.bad >= self.patience

    def restore(self, module) -> None:
        if self.state is not None:
            module.load_state_dict(self.state)


def build_mlp(n_in: int, hidden: tuple[int, ...], n_out: int, dropout: float):
    import torch.nn as nn

    layers: list = []
    prev = n_in
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        prev = h
    layers.append(nn.Linear(prev, n_out))
    return nn.Sequential(*layers)


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """Feed-forward ReLU network trained with Adam, early stopping on a held-out slice.

    Parameters are stored as given (scikit-learn convention); ``fit`` validates them.  Learned
    attributes: ``module_`` (the ``torch.nn.Sequential``, logits out), ``classes_``,
    ``n_features_in_``, ``history_`` (list of :class:`EpochInfo`), ``best_epoch_``, ``fit_seconds_``.
    ``callback`` (optional) is called with an :class:`EpochInfo` after each epoch.
    """

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
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.callback = callback

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    # --- validation --------------------------------------------------------------------------
    def _check_params(self) -> None:
        me = self.max_epochs
        if isinstance(me, bool) or not isinstance(me, (int, np.integer)) or me < 1:
            raise UserInputError(errors.BAD_EPOCHS.format(value=me))
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise UserInputError(f"batch_size must be a positive integer; received {self.batch_size!r}.")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 10):
            raise UserInputError(f"learning_rate must be a positive number below 10; received {self.learning_rate!r}.")
        if not 0 <= self.dropout < 1:
            raise UserInputError(f"dropout must lie in [0, 1); received {self.dropout!r}.")
        if not 0 <= self.validation_fraction < 0.5:
            raise UserInputError(
                f"validation_fraction must lie in [0, 0.5); received {self.validation_fraction!r}. Use 0 to turn "
                "early stopping off."
            )
        hidden = tuple(self.hidden_layer_sizes)
        if any((not isinstance(h, (int, np.integer))) or h < 1 for h in hidden):
            raise UserInputError(f"hidden_layer_sizes must be positive integers; received {self.hidden_layer_sizes!r}.")

    # --- training ----------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        import torch

        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise UserInputError(errors.ONE_CLASS.format(value=self.classes_[0]))
        y_idx = np.searchsorted(self.classes_, y).astype(np.int64)
        n = X.shape[0]
        if sample_weight is None:
            w = np.ones(n, dtype=np.float32)
        else:
            w = np.asarray(sample_weight, dtype=np.float32).reshape(-1)
            if w.shape[0] != n:
                raise UserInputError(errors.LENGTH_MISMATCH.format(lengths=[n, w.shape[0]]))
            if (w < 0).any() or not np.isfinite(w).all():
                raise UserInputError("sample_weight must be finite and non-negative.")
            if w.sum() <= 0:
                raise UserInputError("sample_weight sums to zero: at least one row must carry weight.")

        rng = np.random.default_rng(self.random_state)
        dev = pick_device(self.device)
        n_val = int(round(n * self.validation_fraction)) if n >= 20 else 0
        perm = rng.permutation(n)
        val_idx, tr_idx = perm[:n_val], perm[n_val:]
        if n_val and w[tr_idx].sum() <= 0:
            val_idx, tr_idx = val_idx[:0], perm

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state or 0))
            module = build_mlp(X.shape[1], tuple(int(h) for h in self.hidden_layer_sizes), len(self.classes_),
                               float(self.dropout)).to(dev)
            Xt = torch.tensor(X, device=dev)
            yt = torch.tensor(y_idx, device=dev)
            wt = torch.tensor(w, device=dev)
            w_mean = float(w[tr_idx].mean()) if len(tr_idx) else 1.0
            opt = torch.optim.Adam(module.parameters(), lr=float(self.learning_rate), weight_decay=float(self.weight_decay))
            loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
            tr_t = torch.tensor(tr_idx, device=dev)
            val_t = torch.tensor(val_idx, device=dev)
            stopper = EarlyStopping(self.patience, bool(n_val), int(self.max_epochs), self.callback)
            start = time.perf_counter()
            bs = int(self.batch_size)
            for epoch in range(1, int(self.max_epochs) + 1):
                module.train()
                order = tr_t[torch.tensor(rng.permutation(len(tr_idx)), device=dev)]
                total = 0.0
                for i in range(0, len(order), bs):
                    b = order[i:i + bs]
                    loss = (loss_fn(module(Xt[b]), yt[b]) * wt[b]).sum() / (len(b) * w_mean)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(b)
                train_loss = total / max(len(order), 1)
                val_loss = None
                if n_val:
                    module.eval()
                    with torch.no_grad():
                        lv = loss_fn(module(Xt[val_t]), yt[val_t])
                        val_loss = float((lv * wt[val_t]).sum() / wt[val_t].sum().clamp_min(1e-12))
                if stopper.end_epoch(module, epoch, train_loss, val_loss):
                    break
            stopper.restore(module)
        module.eval()
        self.module_ = module
        self.device_ = str(dev)
        self.history_ = stopper.history
        self.best_epoch_ = stopper.best_epoch
        self.fit_seconds_ = time.perf_counter() - start
        return self

    # --- inference ---------------------------------------------------------------------------
    def _logits(self, X) -> np.ndarray:
        import torch

        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        dev = next(self.module_.parameters()).device
        out = []
        with torch.no_grad():
            for i in range(0, X.shape[0], 65536):
                out.append(self.module_(torch.from_numpy(X[i:i + 65536]).to(dev)).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)))

    def predict_proba(self, X) -> np.ndarray:
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float64)

    def decision_function(self, X) -> np.ndarray:
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict(self, X) -> np.ndarray:
        logits = self._logits(X)  # checks fitted first
        return self.classes_[np.argmax(logits, axis=1)]
