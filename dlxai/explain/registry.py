"""The attribution methods dlxai offers, and which of them apply to a given model.

Every method is a function with one signature (Captum's shape)::

    fn(module: torch.nn.Module, inputs: torch.Tensor, *, target: torch.LongTensor[n],
       baselines: torch.Tensor | None, batch_size: int, **params)
        -> tuple[torch.Tensor (same shape as inputs), torch.Tensor[n] | None (completeness delta)]

:data:`METHODS` names each one by a ``"module:function"`` path that is imported only when the
method is used, so a method whose module (or optional dependency) is missing fails only then, and
asking which methods apply never imports shap, captum or zennit.  The UI's method picker is the
registry's keys; :func:`~dlxai.explain.attribution.attribute` runs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlxai.errors import UnsupportedModelError, UserInputError

TABULAR = "tabular"
IMAGE = "image"

# --- messages (tests match on these) ---------------------------------------------------------
UNKNOWN_METHOD = "Unknown attribution method {method!r}. Choose one of: {choices}."
METHOD_NOT_APPLICABLE = (
    "The method {method!r} ({label}) does not apply to this model: {why}. Methods that do apply: {applicable}."
)
BAD_PARAM = "Parameter {name!r} of {method!r} must be {expected}; received {value!r}."
UNKNOWN_PARAM = "Unknown parameter(s) {names} for method {method!r}. Parameters it takes: {known}."
BAD_PARAM_FOR_KIND = (
    "Parameter {name!r} of {method!r} cannot be {value!r} on {kind} data: {why} Use one of: {allowed}."
)
# Flat, WSquare and zᴮ at the input layer do not weigh relevance by the input's value: on a one-hot row every level,
# present or not, receives relevance, so a categorical feature's sum grows with its number of levels and the ranking
# ignores the weights (measured on the Adult MLP: randomisation ρ = 1.00 with Flat, 0.69 with zᴮ or WSquare; 0.30 with
# LRP-ε, whose input rule gives an absent level (x = 0) no relevance)
LRP_TABULAR_WHY = (
    "its input-layer rule gives relevance to inputs that are 0, so every one-hot level, present or not, gets a share "
    "and a categorical feature ranks by its number of levels, whatever the model learned."
)
NO_GRADIENTS = "the model is not a differentiable PyTorch network, so gradients cannot flow through it"
BAD_MODEL = (
    "model must be an AuditModel (from train_model or an upload) or a torch.nn.Module; received {received}. "
    "Train one on the Data & model page, or pass the network itself."
)


@dataclass(frozen=True)
class MethodSpec:
    """What the UI's picker and the dispatcher need to know about one method."""

    key: str
    label: str
    path: str  # "module:function", imported lazily
    needs_gradients: bool = True
    needs_attention: bool = False
    kinds: tuple[str, ...] = (TABULAR, IMAGE)
    defaults: dict = field(default_factory=dict)
    baseline: str = "per_row"  # "per_row": shaped like inputs; "background": a set of reference rows; "none"
    choices: dict = field(default_factory=dict)  # parameter -> allowed values
    description: str = ""
    check: str = ""  # "module:function" raising UnsupportedModelError for a network the method cannot handle
    kind_defaults: dict = field(default_factory=dict)  # kind -> defaults that differ on that kind of data
    kind_choices: dict = field(default_factory=dict)  # kind -> (parameter -> allowed values, why the others are not)
    needs_trees: bool = False  # reads a scikit-learn tree ensemble (dlxai.explain.tree_shap)

    def load(self) -> Callable:
        mod, _, fn = self.path.partition(":")
        try:
            return getattr(importlib.import_module(mod), fn)
        except (ImportError, AttributeError) as exc:
            raise UnsupportedModelError(
                f"The method {self.key!r} ({self.label}) is not available in this installation: {exc}. "
                f"Pick another method: {list(METHODS)}."
            ) from exc


IG_RULES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")
LRP_COMPOSITES = ("epsilon", "gamma", "alpha1beta0", "zplus", "epsilon_plus_flat", "epsilon_alpha2beta1_flat")
LRP_TABULAR_COMPOSITES = ("epsilon", "gamma", "alpha1beta0", "zplus")  # input rules that weigh by the input's value
LRP_INPUT_RULES = ("flat", "wsquare", "zbox")
BASELINES = ("zeros", "mean", "samples")

# what the screen and the PDF call each method, parameter value and setting (keys are the API's names)
LABELS = {
    "gausslegendre": "Gauss–Legendre",
    "riemann_left": "Riemann (left)",
    "riemann_right": "Riemann (right)",
    "riemann_middle": "Riemann (midpoint)",
    "riemann_trapezoid": "Riemann (trapezoid)",
    "epsilon": "LRP-ε (all layers)",
    "gamma": "LRP-γ (all layers)",
    "alpha1beta0": "LRP-α1β0 (all layers)",
    "zplus": "LRP-z⁺ (all layers)",
    "epsilon_plus_flat": "ε-z⁺-Flat (Flat input, z⁺ conv, ε dense)",
    "epsilon_alpha2beta1_flat": "ε-α2β1-Flat (Flat input, α2β1 conv, ε dense)",
    "flat": "Flat",
    "wsquare": "w²",
    "zbox": "zᴮ (bounded)",
    "zeros": "zeros",
    "mean": "training mean",
    "samples": "samples from the training data",
}

METHODS: dict[str, MethodSpec] = {
    "saliency": MethodSpec(
        "saliency", "Saliency (|gradient|)", "dlxai.explain.gradients:saliency", baseline="none",
        defaults={"abs": True}, description="Absolute gradient of the target output: where a small change matters.",
    ),
    "input_x_gradient": MethodSpec(
        "input_x_gradient", "Input × gradient", "dlxai.explain.gradients:input_x_gradient", baseline="none",
        description="Input times gradient: a first-order estimate of each feature's contribution.",
    ),
    "integrated_gradients": MethodSpec(
        "integrated_gradients", "Integrated gradients", "dlxai.explain.gradients:integrated_gradients",
        defaults={"n_steps": 50, "rule": "gausslegendre", "adaptive": False, "tolerance": 0.01, "max_steps": 1024},
        choices={"rule": IG_RULES},
        description="Path integral of gradients from a baseline to the input; attributions sum to f(x) − f(baseline).",
    ),
    "deeplift": MethodSpec(
        "deeplift", "DeepLIFT (rescale rule)", "dlxai.explain.gradients:deeplift",
        description="Captum's DeepLIFT (rescale rule): contributions relative to a baseline, summing to f(x) − f(b).",
    ),
    "expected_gradients": MethodSpec(
        "expected_gradients", "SHAP: expected gradients", "dlxai.explain.shap_methods:expected_gradients",
        baseline="background", defaults={"n_samples": 200, "seed": 0},
        description="SHAP values for differentiable models: IG averaged over random training rows and path points.",
    ),
    "tree_shap": MethodSpec(
        "tree_shap", "SHAP: tree ensembles (exact)", "dlxai.explain.tree_shap:tree_shap", needs_gradients=False,
        needs_trees=True, kinds=(TABULAR,), baseline="background",
        description="Exact SHAP values read from the trees of a scikit-learn tree ensemble (gradient boosting: on its "
                    "log-odds; forests: on the probability), one per raw column, against a set of background rows.",
    ),
    "kernel_shap": MethodSpec(
        "kernel_shap", "SHAP: kernel (model-agnostic)", "dlxai.explain.shap_methods:kernel_shap",
        needs_gradients=False, kinds=(TABULAR,), baseline="background", defaults={"n_samples": 256, "seed": 0},
        description="shap's KernelExplainer: needs only predictions, so it explains any model (slow; few rows).",
    ),
    "lrp": MethodSpec(
        "lrp", "LRP (layer-wise relevance)", "dlxai.explain.lrp:lrp", baseline="none",
        defaults={"composite": "epsilon_plus_flat", "epsilon": 1e-6, "gamma": 0.25, "input_rule": None, "low": None,
                  "high": None, "canonize": True},
        choices={"composite": LRP_COMPOSITES, "input_rule": (None, *LRP_INPUT_RULES)},
        check="dlxai.explain.lrp:check_lrp_supported",
        kind_defaults={TABULAR: {"composite": "epsilon"}},
        kind_choices={TABULAR: ({"composite": LRP_TABULAR_COMPOSITES, "input_rule": (None,)}, LRP_TABULAR_WHY)},
        description="Layer-wise relevance propagation with named rules and composites; relevance is conserved.",
    ),
    "attention": MethodSpec(
        "attention", "Attention rollout", "dlxai.explain.attention:attention_attribution", needs_gradients=False,
        needs_attention=True, baseline="none", defaults={"head_fusion": "mean", "prefix_tokens": None},
        description="Attention maps of transformer blocks, rolled out across layers.",
    ),
}


@dataclass(eq=False)
class ModelInfo:
    """What the registry needs to know about a model to say which methods apply.

    ``audit`` is the :class:`~dlxai.models.base.AuditModel` (None for a bare network), ``module`` its
    torch network (None for a scikit-learn estimator), ``kind`` the data kind it implies (None: read it
    from the inputs).  The per-method model checks (LRP's layer walk) run once per info and are kept.
    """

    audit: Any
    module: Any
    gradients: bool
    attention: bool
    kind: str | None
    no_gradients: str = NO_GRADIENTS
    remote: Any = None  # an uploaded network's RemoteModel: gradient methods run in its worker (module is None)
    _checked: dict = field(default_factory=dict, repr=False)

    def why_not(self, spec: MethodSpec, kind: str | None) -> str | None:
        """Why ``spec`` does not apply to this model on ``kind`` data; None when it does."""
        if spec.needs_gradients and not self.gradients:
            return self.no_gradients
        if spec.needs_trees and self._trees() is not None:
            return self._trees()
        if spec.needs_attention and not self.attention:
            return "the model has no attention layers (nn.MultiheadAttention / transformer blocks)"
        if kind is not None and kind not in spec.kinds:
            return f"it works on {', '.join(spec.kinds)} data, not {kind} data"
        if spec.check and (self.module is not None or spec.key in self._checked):
            if spec.key not in self._checked:
                mod, _, fn = spec.check.partition(":")
                try:
                    getattr(importlib.import_module(mod), fn)(self.module)
                    self._checked[spec.key] = None
                except UnsupportedModelError as exc:
                    self._checked[spec.key] = str(exc)
            return self._checked[spec.key]
        return None

    def _trees(self) -> str | None:
        """Why the tree ensemble reader cannot read this model (None when it can), worked out once."""
        if "tree_shap" not in self._checked:
            from dlxai.explain.tree_shap import NOT_TREES, tree_reason

            est = getattr(self.audit, "estimator", None)
            self._checked["tree_shap"] = (NOT_TREES.format(what="a PyTorch network") if est is None
                                          else tree_reason(est))
        return self._checked["tree_shap"]

    def applicable(self, kind: str | None) -> list[str]:
        """Keys of the methods that apply to this model on ``kind`` data, in registry order."""
        return [key for key, spec in METHODS.items() if self.why_not(spec, kind) is None]

    def require(self, spec: MethodSpec, kind: str | None) -> None:
        """:class:`UnsupportedModelError` saying why ``spec`` does not apply and naming the methods that do."""
        why = self.why_not(spec, kind)
        if why is not None:
            raise UnsupportedModelError(METHOD_NOT_APPLICABLE.format(
                method=spec.key, label=spec.label, why=why, applicable=self.applicable(kind)))


def model_info(model) -> ModelInfo:
    """The :class:`ModelInfo` of an AuditModel or a torch module; :class:`UserInputError` for anything else."""
    import torch

    from dlxai.explain.attention import has_attention
    from dlxai.models.base import AuditModel

    if isinstance(model, AuditModel):
        module = getattr(model.estimator, "module_", None)
        remote = getattr(model.estimator, "gradient_worker", None) if module is None else None
        if remote is not None and not getattr(model, "gradients_unavailable", ""):  # an upload, explained in its worker
            from dlxai.explain.isolated import gradient_facts

            facts = gradient_facts(remote, model.estimator._head_output)
            return ModelInfo(audit=model, module=None, gradients=not facts["error"], attention=facts["attention"],
                             kind=TABULAR, remote=remote, _checked=dict(facts["checks"]),
                             no_gradients=str(facts["error"]).rstrip(".") if facts["error"] else NO_GRADIENTS)
        why = NO_GRADIENTS
        if module is None:  # the model's own words (an upload reading raw columns, a mixture, a tree ensemble)
            try:
                model.torch_module()
            except UnsupportedModelError as exc:
                why = str(exc).rstrip(".")
        return ModelInfo(audit=model, module=module, gradients=module is not None,
                         attention=module is not None and has_attention(module), kind=TABULAR, no_gradients=why)
    if isinstance(model, torch.nn.Module):
        return ModelInfo(audit=None, module=model, gradients=True, attention=has_attention(model), kind=None)
    raise UserInputError(BAD_MODEL.format(received=type(model).__name__))


def applicable_methods(model: Any, kind: str | None = None) -> list[str]:
    """Keys of the methods that apply to ``model`` (an AuditModel or a torch module) and data kind."""
    info = model_info(model)
    return info.applicable(kind or info.kind)


def method_spec(method: str) -> MethodSpec:
    """The registry entry for ``method``, or :class:`UserInputError` listing the keys."""
    if method not in METHODS:
        raise UserInputError(UNKNOWN_METHOD.format(method=method, choices=list(METHODS)))
    return METHODS[method]


def label(value) -> str:
    """The human name of a method key, parameter value or setting (``"gausslegendre"`` -> ``"Gauss–Legendre"``)."""
    if isinstance(value, str) and value in METHODS:
        return METHODS[value].label
    if value is None:
        return "the composite's own"
    return LABELS.get(value, str(value).replace("_", " ")) if isinstance(value, str) else str(value)


def choices_for(spec: MethodSpec, name: str, kind: str | None) -> tuple:
    """The values parameter ``name`` of ``spec`` may take on ``kind`` data."""
    allowed, _ = spec.kind_choices.get(kind, ({}, ""))
    return tuple(allowed.get(name, spec.choices.get(name, ())))


def validate_params(spec: MethodSpec, params: dict, kind: str | None = None) -> dict:
    """``params`` checked against the method's parameters and merged over its defaults (those for ``kind`` data
    first)."""
    known = set(spec.defaults) | set(spec.choices)
    if spec.defaults or spec.choices:
        unknown = sorted(set(params) - known)
        if unknown:
            raise UserInputError(UNKNOWN_PARAM.format(names=unknown, method=spec.key, known=sorted(known)))
    merged = {**spec.defaults, **spec.kind_defaults.get(kind, {}), **params}
    for name, allowed in spec.choices.items():
        if name in merged and merged[name] not in allowed:
            raise UserInputError(BAD_PARAM.format(name=name, method=spec.key, expected=f"one of {list(allowed)}",
                                                  value=merged[name]))
    kind_allowed, why = spec.kind_choices.get(kind, ({}, ""))
    for name, allowed in kind_allowed.items():
        if name in merged and merged[name] not in allowed:
            raise UserInputError(BAD_PARAM_FOR_KIND.format(name=name, method=spec.key, value=merged[name], kind=kind,
                                                           why=why, allowed=list(allowed)))
    for name in ("n_steps", "n_samples", "max_steps"):
        if name in merged:
            v = merged[name]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
                raise UserInputError(BAD_PARAM.format(name=name, method=spec.key, expected="an integer of at least 2",
                                                      value=v))
    if "tolerance" in merged and not (isinstance(merged["tolerance"], (int, float)) and merged["tolerance"] > 0):
        raise UserInputError(BAD_PARAM.format(name="tolerance", method=spec.key, expected="a positive number",
                                              value=merged["tolerance"]))
    return merged
