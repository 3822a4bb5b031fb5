"""A PyTorch MLP classifier with the scikit-learn estimator contract.

Fairlearn's reductions retrain it through ``fit(X, y, sample_weight=...)``, so ``sample_weight`` is
honoured exactly: the loss is ``sum(w_i * loss_i) / (batch_size * mean(w))``, which for a full
batch equals the loss on the data with each row repeated ``w_i`` times.
"""

from __future__ import annotations

import copy
import time
from contextlib import contextmanager
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


# Multiply-adds per optimiser step (or per forward batch) below which one torch thread is as fast as several:
# the Adult MLP (128, 64) at batch 512 does ~3e7.  Idle, one thread trains it as fast as two; beside two busy
# processes on two cores, torch's default two threads took 14x longer (threads wait on each other) and one
# thread barely slowed down.  Above this, threads pay for their synchronisation on an idle machine.
SMALL_WORK = 2e8


def threads_for(work: float, budget: int | None = None) -> int:
    """Torch intra-op threads for a job doing ``work`` multiply-adds per step: one for small networks, else
    ``budget`` (default: torch's current setting, which a job runner lowers to the cores it may use)."""
    import torch

    budget = torch.get_num_threads() if budget is None else int(budget)
    return 1 if work < SMALL_WORK else max(1, budget)


def step_work(estimator, n_rows: int, n_features: int) -> float:
    """Multiply-adds of one training step of a torch estimator, to choose its thread count
    (:func:`threads_for`); a parameter :meth:`fit` will reject counts as small."""
    p = estimator.get_params()
    try:
        if "hidden_layer_sizes" in p:
            return mlp_step_work(n_features, p["hidden_layer_sizes"], 2, min(int(p["batch_size"]), n_rows))
        batch = int(p["batch_size"]) if p.get("batch_size") is not None else min(1024, max(32, n_rows // 20))
        return 3.0 * batch * n_features * int(p["depth"]) * 12 * int(p["dim"]) ** 2
    except (TypeError, ValueError, KeyError):
        return 0.0


@contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch intra-op threads, then restore the previous count.  The setting is
    process-wide: concurrent jobs belong in separate processes (the dashboard's job runner does that)."""
    import torch

    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def mlp_step_work(n_in: int, hidden, n_out: int, batch: int) -> float:
    """Multiply-adds of one training step of :func:`build_mlp`'s network (forward and backward ~ 3x forward)."""
    sizes = [int(n_in), *(int(h) for h in hidden), int(n_out)]
    return 3.0 * batch * sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))


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


def check_sample_weight(sample_weight, n: int) -> np.ndarray:
    """Float32 weights of length ``n`` (ones when ``None``), or a :class:`UserInputError` saying what is wrong."""
    if sample_weight is None:
        return np.ones(n, dtype=np.float32)
    w = np.array(sample_weight, dtype=np.float32).reshape(-1)
    if w.shape[0] != n:
        raise UserInputError(errors.LENGTH_MISMATCH.format(lengths=[n, w.shape[0]]))
    if (w < 0).any() or not np.isfinite(w).all():
        raise UserInputError("sample_weight must be finite and non-negative.")
    if w.sum() <= 0:
        raise UserInputError("sample_weight sums to zero: at least one row must carry weight.")
    return w


def holdout(n: int, fraction: float, w: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) row indices: a seeded slice held out for early stopping; none below 20 rows, or
    when the rows left for training would carry no weight."""
    n_val = int(round(n * fraction)) if n >= 20 else 0
    perm = rng.permutation(n)
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    if n_val and w[tr_idx].sum() <= 0:
        val_idx, tr_idx = val_idx[:0], perm
    return tr_idx, val_idx


def train_epochs(module, Xt, yt, w: np.ndarray, tr_idx: np.ndarray, val_idx: np.ndarray, *, opt, batch_size: int,
                 max_epochs: int, rng, stopper: EarlyStopping, after_step=None, min_batch: int = 1,
                 penalty=None, penalty_weight: float = 0.0) -> list[float]:
    """The mini-batch loop every torch estimator of dlxai shares, then the best epoch's weights restored.

    The loss is ``sum(w_i * CE_i) / (batch * mean(w over training rows))`` (so ``sample_weight`` means
    repetition), plus ``penalty_weight * penalty(logits, rows)`` where a penalty is given (on the validation
    slice too).  ``after_step`` runs after each optimiser step (a learning-rate schedule); batches smaller than
    ``min_batch`` are skipped (BatchNorm cannot train on one row).  Returns the mean penalty of each epoch.
    """
    import torch

    dev = Xt.device
    wt = torch.tensor(w, device=dev)
    w_mean = float(w[tr_idx].mean()) if len(tr_idx) else 1.0
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    tr_t = torch.tensor(tr_idx, device=dev)
    val_t = torch.tensor(val_idx, device=dev)
    use_penalty = penalty is not None and penalty_weight > 0
    penalties: list[float] = []
    for epoch in range(1, int(max_epochs) + 1):
        module.train()
        order = tr_t[torch.tensor(rng.permutation(len(tr_idx)), device=dev)]
        total, total_pen = 0.0, 0.0
        for i in range(0, len(order), batch_size):
            b = order[i:i + batch_size]
            if len(b) < min_batch and len(order) > 1:
                continue
            logits = module(Xt[b])
            loss = (loss_fn(logits, yt[b]) * wt[b]).sum() / (len(b) * w_mean)
            if use_penalty:
                pen = penalty(logits, b)
                loss = loss + penalty_weight * pen
                total_pen += float(pen.detach()) * len(b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step()
            total += float(loss.detach()) * len(b)
        train_loss = total / max(len(order), 1)
        penalties.append(total_pen / max(len(order), 1))
        val_loss = None
        if len(val_idx):
            module.eval()
            with torch.no_grad():
                lv_logits = module(Xt[val_t])
                lv = loss_fn(lv_logits, yt[val_t])
                val = (lv * wt[val_t]).sum() / wt[val_t].sum().clamp_min(1e-12)
                if use_penalty:
                    val = val + penalty_weight * penalty(lv_logits, val_t)
                val_loss = float(val)
        if stopper.end_epoch(module, epoch, train_loss, val_loss):
            break
    stopper.restore(module)
    module.eval()
    return penalties


def batched_logits(module, X: np.ndarray, n_classes: int, *, batch: int = 65536, prepare=None) -> np.ndarray:
    """float64 logits of ``module`` on ``X`` (float32 rows), ``batch`` rows at a time on the module's device."""
    import torch

    dev = next(module.parameters()).device
    out = []
    module.eval()
    with torch.no_grad():
        for i in range(0, X.shape[0], batch):
            xb = torch.from_numpy(np.ascontiguousarray(X[i:i + batch])).to(dev)
            out.append(module(prepare(xb) if prepare is not None else xb).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, n_classes))


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


class TorchOutputs:
    """Inference shared by dlxai's torch estimators: logits in batches on the module's device, softmax
    probabilities, the binary margin, the argmax class.  ``_module_input`` maps a batch of rows to what the
    network eats (images reshape them)."""

    _logits_batch = 8192  # rows per forward pass: wider batches spill the hidden activations out of cache (3x slower)

    def _module_input(self, xb):
        return xb

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return batched_logits(self.module_, X, len(self.classes_), batch=self._logits_batch,
                              prepare=self._module_input)

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


class TorchMLPClassifier(TorchOutputs, ClassifierMixin, BaseEstimator):
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
        w = check_sample_weight(sample_weight, n)
        rng = np.random.default_rng(self.random_state)
        dev = pick_device(self.device)
        tr_idx, val_idx = holdout(n, self.validation_fraction, w, rng)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state or 0))
            module = build_mlp(X.shape[1], tuple(int(h) for h in self.hidden_layer_sizes), len(self.classes_),
                               float(self.dropout)).to(dev)
            opt = torch.optim.Adam(module.parameters(), lr=float(self.learning_rate), weight_decay=float(self.weight_decay))
            stopper = EarlyStopping(self.patience, bool(len(val_idx)), int(self.max_epochs), self.callback)
            start = time.perf_counter()
            with torch_threads(threads_for(step_work(self, n, X.shape[1]))):  # small networks: one thread
                train_epochs(module, torch.tensor(X, device=dev), torch.tensor(y_idx, device=dev), w, tr_idx, val_idx,
                             opt=opt, batch_size=int(self.batch_size), max_epochs=int(self.max_epochs), rng=rng,
                             stopper=stopper)
        self.module_ = module
        self.device_ = str(dev)
        self.history_ = stopper.history
        self.best_epoch_ = stopper.best_epoch
        self.fit_seconds_ = time.perf_counter() - start
        return self

