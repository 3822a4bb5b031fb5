"""Attention maps and attention rollout for models built from ``nn.MultiheadAttention`` (or transformer blocks).

- :func:`attention_maps`: the raw attention of every ``nn.MultiheadAttention`` call, per layer and head,
  ``[n, heads, tokens, tokens]`` (rows are queries and sum to 1).
- :func:`attention_rollout`: Abnar & Zuidema (2020): per layer, fuse heads, add the residual identity
  ``0.5 A + 0.5 I``, renormalise rows, and multiply the layers from the last down to the first.
- :func:`attention_attribution`: the rollout row of the CLS token (or the attention every token receives,
  without one) mapped back onto the input's shape: the attribution method registered as ``"attention"``.

Weights are captured with forward (pre-)hooks on a private copy of the model, inside a ``with`` block that
always removes them; the caller's model is never touched.  The pre-hook forces ``need_weights=True`` on every call,
so models that ask for no weights (torchvision's ``VisionTransformer`` passes ``need_weights=False``) are read too.
A torchvision ViT's patch tokens are placed back on the image: its class token's rollout row, one value per
``patch_size`` × ``patch_size`` square, the same on every channel.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from dlxai.errors import UnsupportedModelError, UserInputError

NO_ATTENTION = (
    "{model} has no nn.MultiheadAttention layer, so attention maps and rollout do not apply. Methods that apply "
    "to it: gradient methods (saliency, input × gradient, integrated gradients, DeepLIFT, expected gradients) "
    "and LRP (for ReLU/convolutional networks). Pick one of those, or a model built from transformer blocks."
)
RAGGED_ATTENTION = (
    "Attention rollout needs every attention layer to map the same tokens onto themselves; received maps of shapes "
    "{shapes}. Rollout applies to encoder-only (self-attention) models; inspect the raw per-layer maps instead."
)
NO_TOKEN_MAPPING = (
    "Cannot place {tokens} attention tokens onto inputs of shape {shape}: the model has no tokens_to_input() and the "
    "token count does not match the number of input values per row. Use attention_maps() / attention_rollout() "
    "directly, or a gradient method."
)
HEAD_FUSIONS = ("mean", "max", "min")


def _check_module(module) -> None:
    if not isinstance(module, nn.Module):
        raise UnsupportedModelError(
            f"Attention needs a torch.nn.Module; received {type(module).__name__}. Pass the network itself "
            "(e.g. AuditModel.torch_module())."
        )


def _check_inputs(inputs) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor):
        raise UserInputError(f"inputs must be a torch.Tensor; received {type(inputs).__name__}.")
    if inputs.ndim < 1 or inputs.shape[0] == 0:
        raise UserInputError(f"inputs must hold at least one row; received shape {tuple(inputs.shape)}.")
    return inputs


def has_attention(module: nn.Module) -> bool:
    """Whether ``module`` holds an ``nn.MultiheadAttention`` (transformer blocks hold one each): the layers whose
    weights attention maps and rollout read, so the one test of whether the ``"attention"`` method applies.
    Cheap: it walks the modules and imports nothing."""
    return any(isinstance(m, nn.MultiheadAttention) for m in module.modules())


@contextmanager
def capture_attention(model: nn.Module):
    """Hooks on every ``nn.MultiheadAttention`` of ``model`` (pass a copy) that force per-head weights and
    record them in call order; removed when the block exits, also on an exception."""
    records: list[torch.Tensor] = []
    handles = []

    def pre_hook(mod, args, kwargs):
        args = list(args)
        if len(args) > 4:
            args[4] = True
        else:
            kwargs["need_weights"] = True
        if len(args) > 6:
            args[6] = False
        else:
            kwargs["average_attn_weights"] = False
        return tuple(args), kwargs

    def hook(mod, args, output):
        weights = output[1]
        if weights is not None:
            if weights.ndim == 3:  # unbatched input: [heads, L, S]
                weights = weights.unsqueeze(0)
            records.append(weights.detach())

    try:
        for m in model.modules():
            if isinstance(m, nn.MultiheadAttention):
                handles.append(m.register_forward_pre_hook(pre_hook, with_kwargs=True))
                handles.append(m.register_forward_hook(hook))
        yield records
    finally:
        for h in handles:
            h.remove()


def _private_copy(module: nn.Module) -> nn.Module:
    model = copy.deepcopy(module)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _run_maps(model: nn.Module, inputs: torch.Tensor, batch_size: int | None):
    """Forward ``inputs`` in chunks through an already copied model: per-layer maps and the logits."""
    n = inputs.shape[0]
    bs = n if not batch_size else int(batch_size)
    per_chunk, outs = [], []
    with capture_attention(model) as records, torch.no_grad():
        for i in range(0, n, bs):
            records.clear()
            try:
                out = model(inputs[i:i + bs])
            except (RuntimeError, ValueError, IndexError) as exc:
                raise UserInputError(
                    f"The model could not run on inputs of shape {tuple(inputs.shape)}: {exc}. Pass rows shaped as "
                    "the model expects."
                ) from exc
            per_chunk.append(list(records))
            outs.append(out if isinstance(out, torch.Tensor) else None)
    n_layers = {len(c) for c in per_chunk}
    if n_layers != {len(per_chunk[0])}:
        raise UnsupportedModelError("The model called its attention layers a different number of times per batch.")
    maps = [torch.cat([c[layer] for c in per_chunk]) for layer in range(len(per_chunk[0]))]
    logits = torch.cat(outs) if all(o is not None for o in outs) else None
    return maps, logits


def attention_maps(module: nn.Module, inputs: torch.Tensor, *, batch_size: int | None = None) -> list[torch.Tensor]:
    """Raw attention of every attention layer, in call order: a list of ``[n, heads, queries, keys]`` tensors."""
    _check_module(module)
    inputs = _check_inputs(inputs)
    if not has_attention(module):
        raise UnsupportedModelError(NO_ATTENTION.format(model=type(module).__name__))
    maps, _ = _run_maps(_private_copy(module), inputs, batch_size)
    if not maps:
        raise UnsupportedModelError(NO_ATTENTION.format(model=type(module).__name__))
    return maps


def attention_rollout(maps, *, head_fusion: str = "mean", residual: bool = True) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): ``R = Â_L ··· Â_1`` with ``Â = rownorm(0.5 A + 0.5 I)``.

    ``maps``: per-layer ``[n, heads, T, T]`` (or ``[n, T, T]`` already fused).  Returns ``[n, T, T]``; row ``q``
    says how much output token ``q`` draws on each input token, and sums to 1.
    """
    if head_fusion not in HEAD_FUSIONS:
        raise UserInputError(f"head_fusion must be one of {list(HEAD_FUSIONS)}; received {head_fusion!r}.")
    maps = list(maps)
    if not maps:
        raise UserInputError("attention_rollout needs at least one attention map; received an empty list.")
    shapes = [tuple(m.shape) for m in maps]
    fused = []
    for m in maps:
        m = torch.as_tensor(m, dtype=torch.float64)
        if m.ndim == 4:
            m = {"mean": m.mean(1), "max": m.amax(1), "min": m.amin(1)}[head_fusion]
        if m.ndim != 3 or m.shape[-1] != m.shape[-2]:
            raise UnsupportedModelError(RAGGED_ATTENTION.format(shapes=shapes))
        fused.append(m)
    if len({m.shape for m in fused}) != 1:
        raise UnsupportedModelError(RAGGED_ATTENTION.format(shapes=shapes))
    T = fused[0].shape[-1]
    eye = torch.eye(T, dtype=torch.float64)
    rollout = None
    for a in fused:
        if residual:
            a = 0.5 * a + 0.5 * eye
        a = a / a.sum(-1, keepdim=True).clamp_min(1e-12)
        rollout = a if rollout is None else a @ rollout
    return rollout


def _torchvision_vit_patch(module: nn.Module) -> int | None:
    """The patch size of a torchvision ``VisionTransformer`` (one class token, then the patches row by row)."""
    import sys

    vit = sys.modules.get("torchvision.models.vision_transformer")  # only loaded if the model comes from it
    if vit is None or not isinstance(module, vit.VisionTransformer):
        return None
    return int(module.patch_size)


def _patches_to_image(scores: torch.Tensor, inputs: torch.Tensor, patch: int) -> torch.Tensor:
    """``[n, (H/p)·(W/p)]`` patch scores -> ``[n, C, H, W]``: each patch's score on its p × p pixels, every channel."""
    n, _, h, w = inputs.shape
    if scores.shape[1] != (h // patch) * (w // patch):
        raise UnsupportedModelError(NO_TOKEN_MAPPING.format(tokens=scores.shape[1], shape=tuple(inputs.shape)))
    grid = scores.reshape(n, 1, h // patch, w // patch)
    img = grid.repeat_interleave(patch, 2).repeat_interleave(patch, 3)
    return img.expand(n, inputs.shape[1], h, w).to(inputs.dtype).contiguous()


def _token_scores_to_inputs(module: nn.Module, scores: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    mapper = getattr(module, "tokens_to_input", None)
    if callable(mapper):
        return mapper(scores.to(inputs.dtype), inputs).reshape(inputs.shape)
    patch = _torchvision_vit_patch(module)
    if patch is not None and inputs.ndim == 4:
        return _patches_to_image(scores, inputs, patch)
    per_row = int(np.prod(inputs.shape[1:])) if inputs.ndim > 1 else 1
    if scores.shape[1] != per_row:
        raise UnsupportedModelError(NO_TOKEN_MAPPING.format(tokens=scores.shape[1], shape=tuple(inputs.shape)))
    return scores.to(inputs.dtype).reshape(inputs.shape)


def attention_attribution(module: nn.Module, inputs: torch.Tensor, *, target=None, baselines=None,
                          batch_size: int = 256, head_fusion: str = "mean", prefix_tokens: int | None = None,
                          copy_model: bool = True, **params):
    """Attention rollout as an attribution: ``(values shaped like inputs, None)``.

    With ``prefix_tokens`` (default: the model's ``n_prefix_tokens``, 1 for a torchvision ViT, else 0) ≥ 1 the
    first token is the classification token and its rollout row is used; without one, the rollout averaged over
    all queries (the attention each token receives).  Scores are placed on inputs by the model's
    ``tokens_to_input`` (the built-in transformers have one), on a torchvision ViT's patches, or, when the token
    count equals the values per row, one to one.
    Attention does not depend on the class, so ``target`` is only checked; there is no completeness delta.
    ``baselines`` is ignored.  ``copy_model=False``: ``module`` is a private copy already (from ``attribute``).
    """
    _check_module(module)
    inputs = _check_inputs(inputs)
    if params:
        raise UserInputError(
            f"Unknown parameters for attention rollout: {sorted(params)}. It takes head_fusion and prefix_tokens."
        )
    if head_fusion not in HEAD_FUSIONS:
        raise UserInputError(f"head_fusion must be one of {list(HEAD_FUSIONS)}; received {head_fusion!r}.")
    if not has_attention(module):
        raise UnsupportedModelError(NO_ATTENTION.format(model=type(module).__name__))
    model = _private_copy(module) if copy_model else module
    maps, logits = _run_maps(model, inputs.detach(), batch_size)
    if not maps:
        raise UnsupportedModelError(NO_ATTENTION.format(model=type(module).__name__))
    if target is not None and logits is not None and logits.ndim == 2:
        t = torch.as_tensor(target).reshape(-1)
        if t.numel() not in (1, inputs.shape[0]) or bool(((t < 0) | (t >= logits.shape[1])).any()):
            raise UserInputError(
                f"target must hold one class index in [0, {logits.shape[1] - 1}] per row; received "
                f"{t.tolist()[:10]}. This model has {logits.shape[1]} outputs."
            )
    roll = attention_rollout(maps, head_fusion=head_fusion)
    default_prefix = 1 if _torchvision_vit_patch(module) is not None else 0
    prefix = getattr(module, "n_prefix_tokens", default_prefix) if prefix_tokens is None else int(prefix_tokens)
    if prefix < 0 or prefix >= roll.shape[-1]:
        raise UserInputError(f"prefix_tokens must lie in [0, {roll.shape[-1] - 1}]; received {prefix}.")
    scores = roll[:, 0, prefix:] if prefix >= 1 else roll.mean(dim=1)
    values = _token_scores_to_inputs(model, scores, inputs.detach())
    return values.to(inputs.dtype), None


@dataclass(frozen=True)
class AttentionResult:
    """Raw per-layer maps (``[layers, heads, T, T]`` for one row), its rollout (``[T, T]``), and the settings."""

    maps: np.ndarray
    rollout: np.ndarray
    head_fusion: str
    prefix_tokens: int


def explain_attention(module: nn.Module, x: torch.Tensor, *, head_fusion: str = "mean") -> AttentionResult:
    """Maps and rollout for one row (``x`` with a leading batch axis of 1), as a small result object."""
    maps = attention_maps(module, x)
    roll = attention_rollout(maps, head_fusion=head_fusion)
    try:
        stacked = torch.stack([m[0] for m in maps]).cpu().numpy()
    except RuntimeError as exc:  # layers of different shapes
        raise UnsupportedModelError(RAGGED_ATTENTION.format(shapes=[tuple(m.shape) for m in maps])) from exc
    return AttentionResult(stacked, roll[0].cpu().numpy(), head_fusion, int(getattr(module, "n_prefix_tokens", 0)))
