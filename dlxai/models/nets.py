"""Built-in networks with attention and convolutions, each behind a scikit-learn style estimator.

- :class:`TabularTransformerClassifier`: FT-Transformer style, one token per raw feature (its one-hot block or
  its numeric column, found from ``groups`` or inferred from the preprocessed matrix), a CLS token, pre-norm
  encoder blocks built from ``nn.MultiheadAttention``.
- :class:`DigitViTClassifier`: a small vision transformer on 8×8 images (2×2 patches, CLS token).
- :class:`DigitCNNClassifier`: a small CNN with BatchNorm and one residual block.

Estimators take a 2-D float matrix (images flattened), so they work with scikit-learn tooling; the
learned ``module_`` takes what the network really eats (``[n, C, H, W]`` images for the image nets) and
returns logits.  Modules built here never need hooks of their own: explanations attach theirs to copies.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn as nn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import validate_data

from dlxai import errors
from dlxai.errors import UserInputError
from dlxai.models.torch_mlp import (
    EarlyStopping,
    TorchOutputs,
    check_sample_weight,
    holdout,
    pick_device,
    step_work,
    threads_for,
    torch_threads,
    train_epochs,
)


# --- building blocks ---------------------------------------------------------------------------
class Add(nn.Module):
    """Sum of a stacked tensor over its last axis: the explicit addition of a residual block.

    Being a module (not a bare ``+``), it gets an LRP rule of its own (Zennit's ``Norm``), which shares
    relevance between the skip path and the body in proportion to their contributions.
    """

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        return stacked.sum(dim=-1)


class Residual(nn.Module):
    """``x + body(x)`` with the addition done by an :class:`Add` module."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body
        self.add = Add()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add(torch.stack([x, self.body(x)], dim=-1))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        x = x + a
        return x + self.mlp(self.norm2(x))


class GroupTokenizer(nn.Module):
    """One token per feature group: ``token_g = sum_{f in g} x_f * W_f + b_g``.

    For a numeric column this is FT-Transformer's per-feature linear embedding; for a one-hot block it is
    an embedding lookup (the active level's row of ``W``) plus the group's bias.
    """

    def __init__(self, n_features: int, groups: list[list[int]], dim: int):
        super().__init__()
        member = torch.zeros(n_features, len(groups))
        for g, cols in enumerate(groups):
            member[list(cols), g] = 1.0
        self.register_buffer("member", member)
        self.weight = nn.Parameter(torch.randn(n_features, dim) / math.sqrt(dim))
        self.bias = nn.Parameter(torch.zeros(len(groups), dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [n, F] -> [n, G, d]
        per_column = x.unsqueeze(-1) * self.weight  # [n, F, d]
        return (per_column.transpose(1, 2) @ self.member).transpose(1, 2) + self.bias


class TokenTransformer(nn.Module):
    """CLS token + tokens + positional embedding -> encoder blocks -> LayerNorm -> linear head on CLS.

    Subclasses provide ``tokenize(x) -> [n, T, d]`` and ``tokens_to_input(scores[n, T], x)``, which spreads a
    score per token back onto the input's shape (what attention attributions use).
    """

    n_prefix_tokens = 1  # the CLS token comes first

    def __init__(self, n_tokens: int, dim: int, depth: int, heads: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, dropout=dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokenize(x)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_embed
        t = self.blocks(t)
        return self.head(self.norm(t[:, 0]))


class TabularTransformer(TokenTransformer):
    def __init__(self, n_features: int, groups: list[list[int]], dim: int, depth: int, heads: int, n_classes: int,
                 dropout: float = 0.0):
        super().__init__(len(groups), dim, depth, heads, n_classes, dropout)
        self.tokenizer = GroupTokenizer(n_features, groups, dim)

    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        return self.tokenizer(x)

    def tokens_to_input(self, scores: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Each token's score shared equally by its columns, so a group's columns sum to the token's score."""
        m = self.tokenizer.member
        return scores @ (m / m.sum(dim=0)).T


class PatchViT(TokenTransformer):
    """A small ViT: non-overlapping ``patch × patch`` patches, linearly embedded."""

    def __init__(self, image_shape: tuple[int, int, int], patch: int, dim: int, depth: int, heads: int,
                 n_classes: int, dropout: float = 0.0):
        c, h, w = image_shape
        if h % patch or w % patch:
            raise UserInputError(f"patch_size {patch} must divide the image size {h}×{w}; use e.g. 2 for 8×8 digits.")
        super().__init__((h // patch) * (w // patch), dim, depth, heads, n_classes, dropout)
        self.image_shape = tuple(image_shape)
        self.patch = patch
        self.patch_embed = nn.Linear(c * patch * patch, dim)

    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch
        patches = nn.functional.unfold(x, kernel_size=p, stride=p)  # [n, C*p*p, L]
        return self.patch_embed(patches.transpose(1, 2))

    def tokens_to_input(self, scores: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """A patch's score shared equally by its pixels (and channels)."""
        c, h, w = self.image_shape
        p = self.patch
        grid = scores.reshape(-1, 1, h // p, w // p)
        up = grid.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3) / (p * p * c)
        return up.expand(-1, c, -1, -1).contiguous()


def digit_cnn(image_shape: tuple[int, int, int], n_classes: int, width: int = 16) -> nn.Sequential:
    """Conv-BN-ReLU, a residual Conv-BN-ReLU block, max-pool, Conv-BN-ReLU, flatten, two linear layers."""
    c, h, w = image_shape
    return nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        Residual(nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * width * (h // 2) * (w // 2), 64), nn.ReLU(),
        nn.Linear(64, n_classes),
    )


def infer_feature_groups(X: np.ndarray) -> list[list[int]]:
    """Columns grouped as dlxai's preprocessor lays them out: one-hot blocks (0/1 columns whose row sums reach
    exactly 1 in every row) become one group; every other column is a group of its own."""
    X = np.asarray(X)
    n_cols = X.shape[1]
    binary = np.all((X == 0) | (X == 1), axis=0) if len(X) else np.zeros(n_cols, bool)
    groups, i = [], 0
    while i < n_cols:
        if binary[i]:
            acc = X[:, i].astype(np.float64).copy()
            j = i
            while not np.all(acc == 1) and j + 1 < n_cols and binary[j + 1] and np.all(acc + X[:, j + 1] <= 1):
                j += 1
                acc += X[:, j]
            if np.all(acc == 1):
                groups.append(list(range(i, j + 1)))
                i = j + 1
                continue
        groups.append([i])
        i += 1
    return groups


# --- the estimator contract ----------------------------------------------------------------------
class _NetClassifier(TorchOutputs, ClassifierMixin, BaseEstimator):
    """Shared fit/predict: Adam, cross-entropy, optional early stopping on a held-out slice, progress callback."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    # subclasses: _build(X, n_classes) -> module; _module_input(Xt) -> tensor the module eats
    _logits_batch = 8192

    def _check_params(self) -> None:
        me = self.max_epochs
        if isinstance(me, bool) or not isinstance(me, (int, np.integer)) or me < 1:
            raise UserInputError(errors.BAD_EPOCHS.format(value=me))
        bs = self.batch_size
        if bs is not None and (isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1):
            raise UserInputError(f"batch_size must be a positive integer or None (auto); received {bs!r}.")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 10):
            raise UserInputError(f"learning_rate must be a positive number below 10; received {self.learning_rate!r}.")
        if not 0 <= self.validation_fraction < 0.5:
            raise UserInputError(
                f"validation_fraction must lie in [0, 0.5); received {self.validation_fraction!r}. Use 0 to turn "
                "early stopping off."
            )

    def fit(self, X, y, sample_weight=None):
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise UserInputError(
                f"{type(self).__name__} needs at least two classes in y; received {len(self.classes_)} "
                f"({list(self.classes_)}). Pass labels of both (all) classes."
            )
        y_idx = np.searchsorted(self.classes_, y).astype(np.int64)
        n = X.shape[0]
        w = check_sample_weight(sample_weight, n)
        rng = np.random.default_rng(self.random_state)
        dev = pick_device(self.device)
        tr_idx, val_idx = holdout(n, self.validation_fraction, w, rng)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state or 0))
            module = self._build(X, len(self.classes_)).to(dev)
            opt = torch.optim.AdamW(module.parameters(), lr=float(self.learning_rate),
                                    weight_decay=float(self.weight_decay))
            stopper = EarlyStopping(self.patience, bool(len(val_idx)), int(self.max_epochs), self.callback)
            start = time.perf_counter()
            bs = int(self.batch_size) if self.batch_size is not None else min(1024, max(32, len(tr_idx) // 20))
            max_epochs = int(self.max_epochs)
            steps = max_epochs * max(1, math.ceil(len(tr_idx) / bs))
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(self.learning_rate), total_steps=steps,
                                                        pct_start=0.2)
            with torch_threads(threads_for(step_work(self, n, X.shape[1]))):  # small networks: one thread
                train_epochs(module, self._module_input(torch.tensor(X, device=dev)), torch.tensor(y_idx, device=dev),
                             w, tr_idx, val_idx, opt=opt, batch_size=bs, max_epochs=max_epochs, rng=rng,
                             stopper=stopper, after_step=sched.step, min_batch=2)
        self.module_ = module
        self.device_ = str(dev)
        self.history_ = stopper.history
        self.best_epoch_ = stopper.best_epoch
        self.fit_seconds_ = time.perf_counter() - start
        return self



def _check_image_shape(image_shape, n_features: int) -> tuple[int, int, int]:
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or any(s < 1 for s in shape) or math.prod(shape) != n_features:
        raise UserInputError(
            f"image_shape must be (channels, height, width) with channels*height*width equal to the number of "
            f"columns of X ({n_features}); received {image_shape!r}. For the 8×8 digits use (1, 8, 8)."
        )
    return shape


class TabularTransformerClassifier(_NetClassifier):
    """FT-Transformer style classifier on a preprocessed tabular matrix: one token per feature group.

    ``groups`` lists the column indices of each raw feature (e.g. ``preprocessor.feature_groups_.values()``);
    ``None`` infers them from ``X`` (one-hot blocks as laid out by dlxai's preprocessor, other columns alone).
    Learned: ``module_`` (a :class:`TabularTransformer`, ``[n, F] -> logits``), ``groups_``, ``classes_``, ...
    """

    def __init__(self, groups=None, dim=32, depth=2, heads=4, dropout=0.0, learning_rate=3e-3, weight_decay=1e-4,
                 batch_size=256, max_epochs=10, patience=3, validation_fraction=0.1, random_state=0, device="auto",
                 callback=None):
        self.groups = groups
        self.dim = dim
        self.depth = depth
        self.heads = heads
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

    def _build(self, X, n_classes):
        F = X.shape[1]
        groups = infer_feature_groups(X) if self.groups is None else [list(map(int, g)) for g in self.groups]
        flat = sorted(c for g in groups for c in g)
        if flat != list(range(F)) or any(len(g) == 0 for g in groups):
            raise UserInputError(
                f"groups must split the {F} columns of X into non-empty, non-overlapping lists of indices; received "
                f"{len(groups)} groups covering {len(set(flat))} columns. Pass preprocessor.feature_groups_.values() "
                "or None to infer them."
            )
        if self.dim % self.heads:
            raise UserInputError(f"dim ({self.dim}) must be a multiple of heads ({self.heads}); e.g. dim=32, heads=4.")
        self.groups_ = groups
        return TabularTransformer(F, groups, int(self.dim), int(self.depth), int(self.heads), n_classes,
                                  float(self.dropout))


class DigitViTClassifier(_NetClassifier):
    """A small ViT on flattened images (``image_shape`` tells how to fold them back); ``module_`` eats images."""

    def __init__(self, image_shape=(1, 8, 8), patch_size=2, dim=48, depth=2, heads=4, dropout=0.0,
                 learning_rate=3e-3, weight_decay=1e-4, batch_size=64, max_epochs=25, patience=100,
                 validation_fraction=0.0, random_state=0, device="auto", callback=None):
        self.image_shape = image_shape
        self.patch_size = patch_size
        self.dim = dim
        self.depth = depth
        self.heads = heads
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

    def _build(self, X, n_classes):
        shape = _check_image_shape(self.image_shape, X.shape[1])
        if self.dim % self.heads:
            raise UserInputError(f"dim ({self.dim}) must be a multiple of heads ({self.heads}); e.g. dim=48, heads=4.")
        return PatchViT(shape, int(self.patch_size), int(self.dim), int(self.depth), int(self.heads), n_classes,
                        float(self.dropout))

    def _module_input(self, Xt):
        return Xt.reshape(-1, *_check_image_shape(self.image_shape, Xt.shape[1]))


class DigitCNNClassifier(_NetClassifier):
    """A small CNN with BatchNorm and a residual block on flattened images; ``module_`` eats images."""

    def __init__(self, image_shape=(1, 8, 8), width=16, learning_rate=3e-3, weight_decay=1e-4, batch_size=64,
                 max_epochs=10, patience=100, validation_fraction=0.0, random_state=0, device="auto",
                 callback=None):
        self.image_shape = image_shape
        self.width = width
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.callback = callback

    def _build(self, X, n_classes):
        shape = _check_image_shape(self.image_shape, X.shape[1])
        if shape[1] % 2 or shape[2] % 2:
            raise UserInputError(f"DigitCNN needs an even image height and width; received {shape}.")
        return digit_cnn(shape, n_classes, int(self.width))

    def _module_input(self, Xt):
        return Xt.reshape(-1, *_check_image_shape(self.image_shape, Xt.shape[1]))


IMAGE_MODELS = {"cnn": ("Small CNN (BatchNorm, residual)", DigitCNNClassifier),
                "vit": ("Small ViT (2×2 patches)", DigitViTClassifier)}


def train_image_model(dataset, kind: str = "cnn", *, seed: int = 0, progress=None, **params):
    """Fit an image model of ``kind`` (``"cnn"`` or ``"vit"``) on an :class:`~dlxai.data.images.ImageDataset`."""
    if kind not in IMAGE_MODELS:
        raise UserInputError(f"Unknown image model kind {kind!r}. Choose one of: {list(IMAGE_MODELS)}.")
    _, cls = IMAGE_MODELS[kind]
    try:
        est = cls(image_shape=dataset.image_shape, random_state=seed, callback=progress, **params)
    except TypeError as exc:
        raise UserInputError(f"Invalid parameters for the {kind} image model: {exc}") from exc
    return est.fit(dataset.flat("train"), dataset.y("train"))


TRANSFORMER_DEFAULTS = {"dim": 16, "depth": 2, "heads": 2, "max_epochs": 6, "batch_size": None, "learning_rate": 5e-3,
                        "patience": 3}


def tabular_transformer(params: dict, seed: int, progress):
    """The ``"transformer"`` entry of :data:`dlxai.models.training.MODEL_KINDS`: groups are inferred from the
    preprocessed matrix, so it needs nothing but the usual ``fit(X, y)``."""
    return TabularTransformerClassifier(**{**TRANSFORMER_DEFAULTS, **params}, random_state=seed, callback=progress)
