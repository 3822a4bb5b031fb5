"""Layer-wise relevance propagation with Zennit rules and composites, always on a private copy of the model.

Composites (``composite=``, human names in :data:`dlxai.explain.registry.LABELS`): ``"epsilon"`` (LRP-ε everywhere), ``"gamma"`` (LRP-γ), ``"alpha1beta0"``,
``"zplus"`` (z⁺), ``"epsilon_plus_flat"`` (Flat for the input layer, z⁺ for convolutions, ε for dense layers)
and ``"epsilon_alpha2beta1_flat"`` (Flat, α2β1, ε).  ``input_rule=`` overrides the input layer's rule:
``"flat"``, ``"wsquare"`` or ``"zbox"`` (zᴮ, bounded by ``low``/``high``, default the inputs' min/max).  These three give relevance to inputs that are 0,
which is what an image's edges need but a one-hot row must not get (an absent level would count): on tabular data the
registry offers only the composites whose input rule weighs by the input's value, with LRP-ε the default.

BatchNorm that follows a convolution or linear layer inside an ``nn.Sequential`` is merged into it
(Zennit's ``SequentialMergeBatchNorm`` canonizer); ``nn.Flatten``, max/avg pooling, dropout and identity
layers are handled; residual blocks are handled when their addition is a module (:class:`dlxai.models.nets.Add`
or ``zennit.layer.Sum``), which gets the ``Norm`` rule and conserves relevance across the skip, and in
torchvision ResNets (Zennit's ``ResNetCanonizer`` rewrites their blocks' ``+`` into such a module, on the copy).

Rules are Zennit hooks registered inside a ``with`` block on a private copy (:mod:`dlxai.explain.private`: the
canonizers rebind the copy's weights, never write into the caller's), so the caller's weights, hooks, attributes and
BatchNorm statistics are unchanged afterwards, also when an exception is raised.

Speed: z⁺ (in ``"zplus"`` and ``"epsilon_plus_flat"``) runs as Zennit's rule but skips the pass over the
input's negative part when the input has none (every layer after a ReLU): that pass adds exact zeros, so the
relevance is Zennit's to the bit while each convolution costs one modified forward/backward instead of two.
Chunks are capped by :func:`dlxai.explain.gradients.points_per_chunk` (32 images of 224×224 per pass on a CPU).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.explain.gradients import points_per_chunk
from dlxai.explain.private import private_copy
from dlxai.explain.registry import LRP_COMPOSITES as COMPOSITES
from dlxai.explain.registry import LRP_INPUT_RULES as INPUT_RULES

UNKNOWN_COMPOSITE = "Unknown LRP composite {name!r}. Choose one of: {choices}."
UNKNOWN_INPUT_RULE = "Unknown input-layer rule {name!r}. Choose one of: {choices} (or None for the composite's own)."
NO_RULE = (
    "LRP has no rule for {layers} in {model}, so it does not apply to this model. Methods that apply: {methods}. "
    "LRP covers networks of Linear/Conv layers, BatchNorm after them, ReLU-type activations, pooling, Flatten, "
    "Dropout and residual additions written as a module."
)
BAD_TARGET = (
    "target must hold one class index in [0, {top}] per row ({n} rows); received {got}. This model has {k} outputs."
)
BAD_INPUTS = "The model could not run on inputs of shape {shape}: {error}. Pass rows shaped as the model expects."


def _supported_leaf_types() -> tuple[type, ...]:
    import sys

    from dlxai.models.nets import Add

    # zennit's Sum only where zennit is loaded already (a module holding one imported it): importing zennit pulls in
    # torchvision and torch._dynamo, seconds that checking whether LRP applies must not cost
    zennit_layer = sys.modules.get("zennit.layer")
    extra = (zennit_layer.Sum,) if zennit_layer is not None else ()

    acts = (nn.ReLU, nn.LeakyReLU, nn.ReLU6, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
            nn.Softplus, nn.Hardtanh, nn.PReLU, nn.Hardswish, nn.Hardsigmoid)
    pools = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
             nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
             nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
    shape = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
             nn.AlphaDropout)
    layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
              nn.ConvTranspose3d, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    return acts + pools + shape + layers + (Add,) + extra


def _methods_that_apply(module: nn.Module) -> str:
    from dlxai.explain.attention import has_attention

    out = "saliency, input × gradient, integrated gradients, DeepLIFT, expected gradients (SHAP)"
    if has_attention(module):
        out += ", attention rollout"
    return out


def check_lrp_supported(module: nn.Module) -> None:
    """Raise :class:`UnsupportedModelError` naming every layer type LRP has no rule for."""
    if not isinstance(module, nn.Module):
        raise UnsupportedModelError(
            f"LRP needs a torch.nn.Module; received {type(module).__name__}. Pass the network itself "
            "(e.g. AuditModel.torch_module()); for models without gradients use a model-agnostic method (SHAP kernel)."
        )
    if any(isinstance(m, torch.jit.ScriptModule) for m in module.modules()):  # also inside dlxai's two-logit head
        raise UnsupportedModelError(
            "LRP cannot attach its rules to a TorchScript network: its layers are compiled; upload the weights with "
            f"a dlxai spec (or use the nn.Module) for LRP. Methods that apply: {_methods_that_apply(module)}."
        )
    leaves = _supported_leaf_types()
    bad = []
    for _, m in module.named_modules():
        children = list(m.children())
        own_params = list(m.parameters(recurse=False)) + list(m.buffers(recurse=False))
        if isinstance(m, leaves):
            continue
        if not children or own_params:
            bad.append(type(m).__name__)
    if bad:
        raise UnsupportedModelError(NO_RULE.format(layers=", ".join(sorted(set(bad))), model=type(module).__name__,
                                                   methods=_methods_that_apply(module)))


def _zplus_rule(stabilizer: float = 1e-6):
    """Zennit's ``ZPlus`` whose backward drops the negative-input pass when the layer's input is non-negative."""
    import torch
    from zennit.core import ParamMod
    from zennit.rules import ZPlus

    class NonNegativeZPlus(ZPlus):
        def backward(self, module, grad_input, grad_output):
            original = self.stored_tensors["input"][0]
            if bool((original < 0).any()):
                return super().backward(module, grad_input, grad_output)
            inp = self.input_modifiers[0](original.clone()).requires_grad_()
            with ParamMod.ensure(self.param_modifiers[0])(module) as modified, torch.autograd.enable_grad():
                out = self.output_modifiers[0](modified.forward(inp))
            (grad_out,) = self.gradient_mapper(grad_output[0], [out])[:1]
            (grad,) = torch.autograd.grad(out, inp, grad_outputs=grad_out, create_graph=grad_output[0].requires_grad)
            relevance = inp * grad
            return tuple(relevance if g.shape == relevance.shape else None for g in grad_input)

        def copy(self):
            return NonNegativeZPlus(stabilizer)

    return NonNegativeZPlus(stabilizer)


def make_composite(composite: str = "epsilon_plus_flat", *, epsilon: float = 1e-6, gamma: float = 0.25,
                   input_rule: str | None = None, low=None, high=None, canonize: bool = True,
                   resnet_blocks: bool = False):
    """A fresh Zennit composite for ``composite`` (see module doc), BatchNorm canonizer included."""
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.composites import SpecialFirstLayerMapComposite, layer_map_base
    from zennit.rules import AlphaBeta, Epsilon, Flat, Gamma, Norm, WSquare, ZBox
    from zennit.types import Convolution
    from zennit.types import Linear as AnyLinear

    from dlxai.models.nets import Add

    if composite not in COMPOSITES:
        raise UserInputError(UNKNOWN_COMPOSITE.format(name=composite, choices=list(COMPOSITES)))
    if input_rule is not None and input_rule not in INPUT_RULES:
        raise UserInputError(UNKNOWN_INPUT_RULE.format(name=input_rule, choices=list(INPUT_RULES)))
    if not (isinstance(epsilon, (int, float)) and epsilon >= 0):
        raise UserInputError(f"epsilon must be a non-negative number; received {epsilon!r}. Use e.g. 1e-6 or 0.25.")
    if not (isinstance(gamma, (int, float)) and gamma >= 0):
        raise UserInputError(f"gamma must be a non-negative number; received {gamma!r}. Use e.g. 0.25.")
    eps = float(epsilon)
    conv_rule, dense_rule = {
        "epsilon": (Epsilon(eps), Epsilon(eps)),
        "gamma": (Gamma(gamma=float(gamma)), Gamma(gamma=float(gamma))),
        "alpha1beta0": (AlphaBeta(alpha=1, beta=0), AlphaBeta(alpha=1, beta=0)),
        "zplus": (_zplus_rule(), _zplus_rule()),
        "epsilon_plus_flat": (_zplus_rule(), Epsilon(eps)),
        "epsilon_alpha2beta1_flat": (AlphaBeta(alpha=2, beta=1), Epsilon(eps)),
    }[composite]
    layer_map = [(Add, Norm())] + layer_map_base() + [(Convolution, conv_rule), (nn.Linear, dense_rule)]
    first = input_rule or ("flat" if composite.endswith("_flat") else None)
    first_map = []
    if first == "flat":
        first_map = [(AnyLinear, Flat())]
    elif first == "wsquare":
        first_map = [(AnyLinear, WSquare())]
    elif first == "zbox":
        if low is None or high is None:
            raise UserInputError("input_rule='zbox' needs low and high (the inputs' smallest and largest values).")
        first_map = [(AnyLinear, ZBox(low=low, high=high))]
    canonizers = [SequentialMergeBatchNorm()] if canonize else []
    if canonize and resnet_blocks:
        from zennit.torchvision import ResNetCanonizer

        canonizers = [ResNetCanonizer()]  # merges BatchNorm and routes the blocks' `+` through a Sum module
    return SpecialFirstLayerMapComposite(layer_map=layer_map, first_map=first_map, canonizers=canonizers)


def _fast_path_applies(model: nn.Module, composite: str, input_rule, canonize: bool = True) -> bool:
    """LRP-ε on a ReLU network of Linear/Conv/pooling/Flatten/residual-``Add`` layers (BatchNorm mergeable into the
    layer before it) equals input × a gradient whose flow is rescaled by ``z / (z + ε·sign z)`` at every layer:
    one forward and one backward pass, instead of Zennit's extra forward per layer."""
    from zennit.layer import Sum

    from dlxai.models.nets import Add

    if composite != "epsilon" or input_rule is not None:
        return False
    plain = (nn.ReLU, nn.LeakyReLU, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d,
             nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout,
             nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
    scaled = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
              nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, Add, Sum)
    bns = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    from zennit.core import collect_leaves

    from dlxai.models.nets import Residual

    mergeable, last = set(), None
    for leaf in collect_leaves(model):  # Zennit's SequentialMergeBatchNorm: BN right after a linear leaf
        if isinstance(leaf, bns) and isinstance(last, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            mergeable.add(id(leaf))
        last = leaf
    for m in model.modules():
        if isinstance(m, bns):
            if not canonize or id(m) not in mergeable:
                return False
        elif list(m.children()):
            # containers whose forward only chains (or adds through Add) their children; the root's own forward
            # is taken to chain its children too (as Zennit assumes); other custom blocks may hide a bare `+`
            if m is not model and not isinstance(m, (nn.Sequential, nn.ModuleList, Residual)):
                return False
        elif not isinstance(m, plain + scaled):
            return False
    return True


def _fast_epsilon(model: nn.Module, inputs: torch.Tensor, target, batch_size: int, epsilon: float,
                  outputs: dict | None = None):
    """LRP-ε in one forward/backward pass per batch, on an already copied model.

    Stabilisers as Zennit's: ``z + ε·sign(z)`` (0 counted positive) for Linear/Conv, 1e-6 for additions and
    average pooling (Zennit's Norm rule); ReLU, max-pooling, Flatten and merged BatchNorm pass the gradient.
    """
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.layer import Sum

    from dlxai.models.nets import Add

    norm_types = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                  nn.AdaptiveAvgPool3d, Add, Sum)
    eps_types = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)

    def make_hook(eps: float):
        def hook(mod, args, out):
            if out.requires_grad:
                z = out.detach()
                factor = z / (z + eps * torch.where(z >= 0, 1.0, -1.0).to(z))
                out.register_hook(lambda g: g * factor)
            return None
        return hook

    handles = []
    try:
        handles += SequentialMergeBatchNorm().apply(model)
        for m in model.modules():
            if isinstance(m, eps_types):
                handles.append(m.register_forward_hook(make_hook(epsilon)))
            elif isinstance(m, norm_types):
                handles.append(m.register_forward_hook(make_hook(1e-6)))
        return _propagate(model, inputs, target, batch_size, outputs=outputs)
    finally:
        for h in reversed(handles):
            h.remove()


def _propagate(model: nn.Module, inputs: torch.Tensor, target, batch_size: int, *, times_input: bool = True,
               outputs: dict | None = None):
    """The backward pass seeded at the target logit.  Fast path: relevance = input × rescaled gradient (seed 1);
    Zennit: its rules return relevance directly (seed = the logit itself).  ``target``: class indices, or a function
    (the outputs of a chunk of rows, its first row's index) -> the chunk's classes; ``outputs`` collects each chunk's
    classes (``"target"``), target logits (``"logit"``) and the number of classes."""
    n = inputs.shape[0]
    rel_parts, delta_parts = [], []
    t_all = None
    for i in range(0, n, batch_size):
        x = inputs[i:i + batch_size].detach().clone().requires_grad_(True)
        try:
            out = model(x)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise UserInputError(BAD_INPUTS.format(shape=tuple(inputs.shape), error=exc)) from exc
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise UnsupportedModelError(
                f"LRP needs a model returning logits [n, classes]; received "
                f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}."
            )
        if callable(target):
            t = torch.as_tensor(target(out.detach(), i)).long().to(out.device)
        else:
            t_all = _check_target(target, n, out.shape[1]) if t_all is None else t_all
            t = t_all[i:i + batch_size].to(out.device)
        rows = torch.arange(out.shape[0], device=out.device)
        picked = out[rows, t].detach()
        if outputs is not None:
            outputs.setdefault("target", []).append(t)
            outputs.setdefault("logit", []).append(picked)
            outputs["n_classes"] = out.shape[1]
        grad_out = torch.zeros_like(out)
        grad_out[rows, t] = 1.0 if times_input else picked
        (g,) = torch.autograd.grad(out, x, grad_out)
        rel = x.detach() * g if times_input else g.detach()
        rel_parts.append(rel)
        delta_parts.append(rel.flatten(1).sum(1) - picked)
    return torch.cat(rel_parts), torch.cat(delta_parts)


def _has_torchvision_resnet_blocks(module: nn.Module) -> bool:
    import sys

    resnet = sys.modules.get("torchvision.models.resnet")  # only loaded if the user's model comes from it
    if resnet is None:
        return False
    return any(isinstance(m, (resnet.BasicBlock, resnet.Bottleneck)) for m in module.modules())


def _check_target(target, n: int, k: int) -> torch.Tensor:
    if target is None:
        raise UserInputError(f"LRP needs a target class per row; received None. Pass e.g. the predicted class (0..{k - 1}).")
    t = torch.as_tensor(target).reshape(-1)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise UserInputError(f"target must hold integer class indices; received dtype {t.dtype}.")
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n or bool(((t < 0) | (t >= k)).any()):
        raise UserInputError(BAD_TARGET.format(top=k - 1, n=n, got=t.tolist()[:10], k=k))
    return t.long()


def lrp(module: nn.Module, inputs: torch.Tensor, *, target=None, baselines=None, batch_size: int = 64,
        composite: str = "epsilon_plus_flat", epsilon: float = 1e-6, gamma: float = 0.25,
        input_rule: str | None = None, low=None, high=None, canonize: bool = True, engine: str = "auto",
        copy_model: bool = True, outputs: dict | None = None):
    """Relevance of every input value for the ``target`` logit: ``(relevance shaped like inputs, delta[n])``.

    The output relevance is the target logit itself, so ``delta = sum(relevance) - logit`` is the conservation
    error (zero up to ε for bias-free ReLU nets under conserving rules; biases absorb their share otherwise).
    ``baselines`` is ignored (LRP needs none); ``low``/``high`` bound the input for ``input_rule="zbox"``
    (default: the inputs' min and max).  ``engine``: ``"auto"`` runs LRP-ε on plain ReLU networks as one
    rescaled backward pass (same numbers as Zennit's rules, see ``_fast_epsilon``) and everything else
    through Zennit's composites; ``"zennit"`` forces Zennit.  ``copy_model=False`` explains ``module`` itself, for
    a caller that hands over a private eval-mode copy already (:func:`~dlxai.explain.attribution.attribute` does):
    Zennit's hooks and canonizers are still removed afterwards, but that copy's parameters stop requiring gradients.
    ``target`` may also be a function choosing each chunk's classes from its outputs, and ``outputs`` a dict that
    receives the classes and target logits of LRP's own forward pass (see ``_propagate``):
    :func:`~dlxai.explain.attribution.attribute` takes the predicted class from there instead of a pass of its own.
    """
    check_lrp_supported(module)
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
        raise UserInputError(
            f"inputs must be a floating-point torch.Tensor; received {type(inputs).__name__}"
            f"{'' if not isinstance(inputs, torch.Tensor) else ' of dtype ' + str(inputs.dtype)}."
        )
    if inputs.ndim < 2 or inputs.shape[0] == 0:
        raise UserInputError(f"inputs must be a batch [n, ...] with n ≥ 1; received shape {tuple(inputs.shape)}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserInputError(f"batch_size must be a positive integer; received {batch_size!r}.")
    if (input_rule == "zbox") and (low is None or high is None):
        low = float(inputs.min()) if low is None else low
        high = float(inputs.max()) if high is None else high
    comp = make_composite(composite, epsilon=epsilon, gamma=gamma, input_rule=input_rule, low=low, high=high,
                          canonize=canonize, resnet_blocks=_has_torchvision_resnet_blocks(module))
    if engine not in ("auto", "zennit", "fast"):
        raise UserInputError(f"engine must be 'auto', 'zennit' or 'fast'; received {engine!r}.")
    model = private_copy(module) if copy_model else module
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    batch_size = points_per_chunk(inputs, batch_size)
    fast = engine != "zennit" and _fast_path_applies(model, composite, input_rule, canonize)
    if engine == "fast" and not fast:
        raise UserInputError(
            "engine='fast' covers composite='epsilon' (no input_rule) on ReLU networks of Linear/Conv/pooling/"
            "Flatten/residual layers; use engine='auto' for everything else."
        )
    if fast:
        return _fast_epsilon(model, inputs, target, batch_size, float(epsilon), outputs)
    with comp.context(model) as modified:
        return _propagate(modified, inputs, target, batch_size, times_input=False, outputs=outputs)
