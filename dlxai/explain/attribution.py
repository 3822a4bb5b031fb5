"""One call for every attribution method: :func:`attribute`, its result object and the METHODS registry.

Every method is a function with one signature (Captum's shape)::

    fn(module: torch.nn.Module, inputs: torch.Tensor, *, target: torch.LongTensor[n],
       baselines: torch.Tensor | None, batch_size: int, **params)
        -> tuple[torch.Tensor (same shape as inputs), torch.Tensor[n] | None (completeness delta)]

:func:`attribute` validates, makes a private ``copy.deepcopy`` of the module in eval mode on the
chosen device, and calls the method on the copy: the caller's weights, hooks and attributes are
never touched, also when a method fails.  Method modules are imported lazily from the registry's
``"module:function"`` paths, so a method whose module is missing fails only when it is used.
"""

from __future__ import annotations

import copy
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
TARGET_OUT_OF_RANGE = (
    "target class {target} is out of range: the model has {n_classes} output classes (0 to {last}). "
    "Pick a class between 0 and {last}, or leave target empty for the predicted class. Methods that do apply "
    "to this model: {applicable}."
)
BAD_BASELINES = (
    "baselines must be 'zeros', 'mean' or 'samples' (or an array shaped like the inputs); received {received}. "
    "{fix}"
)
NEEDS_REFERENCE = (
    "baselines={kind!r} needs reference data (the training rows) to take {what} from; none was given. "
    "Pass reference=<training rows>, or use baselines='zeros'."
)
BAD_INPUTS = "inputs must be {expected}; received {received}. {fix}"
BAD_PARAM = "Parameter {name!r} of {method!r} must be {expected}; received {value!r}."
UNKNOWN_PARAM = "Unknown parameter(s) {names} for method {method!r}. Parameters it takes: {known}."


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
        "deeplift", "DeepLIFT (Captum)", "dlxai.explain.gradients:deeplift",
        description="Captum's DeepLIFT (rescale rule): contributions relative to a baseline, summing to f(x) − f(b).",
    ),
    "expected_gradients": MethodSpec(
        "expected_gradients", "SHAP: expected gradients", "dlxai.explain.shap_methods:expected_gradients",
        baseline="background", defaults={"n_samples": 200, "seed": 0},
        description="SHAP values for differentiable models: IG averaged over random training rows and path points.",
    ),
    "kernel_shap": MethodSpec(
        "kernel_shap", "SHAP: kernel (model-agnostic)", "dlxai.explain.shap_methods:kernel_shap",
        needs_gradients=False, kinds=(TABULAR,), baseline="background", defaults={"n_samples": 256, "seed": 0},
        description="shap's KernelExplainer: needs only predictions, so it explains any model (slow; few rows).",
    ),
    "lrp": MethodSpec(
        "lrp", "LRP (Zennit)", "dlxai.explain.lrp:lrp", baseline="none",
        defaults={"composite": "epsilon_plus_flat", "epsilon": 1e-6, "gamma": 0.25, "input_rule": None, "low": None,
                  "high": None, "canonize": True},
        choices={"composite": LRP_COMPOSITES}, check="dlxai.explain.lrp:check_lrp_supported",
        description="Layer-wise relevance propagation with named rules and composites; relevance is conserved.",
    ),
    "attention": MethodSpec(
        "attention", "Attention rollout", "dlxai.explain.attention:attention_attribution", needs_gradients=False,
        needs_attention=True, baseline="none", defaults={"head_fusion": "mean", "prefix_tokens": None},
        description="Attention maps of transformer blocks, rolled out across layers.",
    ),
}


@dataclass(frozen=True, eq=False)
class AttributionResult:
    """Attributions for ``n`` inputs, shaped like the inputs the method saw.

    For a tabular :class:`~dlxai.models.base.AuditModel` the inputs are the preprocessed matrix (one
    column per one-hot level); ``feature_groups`` maps each raw feature to its columns and
    :meth:`by_feature` sums them back.  ``delta`` is the completeness error per row
    (``sum(values) − (f(x) − f(baseline))``) where the method defines one, ``output_gap`` the
    ``f(x) − f(baseline)`` it is measured against.
    """

    values: np.ndarray
    method: str
    params: dict
    target: np.ndarray
    inputs: np.ndarray
    baselines: np.ndarray | None
    feature_names: tuple[str, ...]
    delta: np.ndarray | None = None
    output_gap: np.ndarray | None = None
    feature_groups: dict | None = None
    kind: str = TABULAR
    row_index: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    @property
    def completeness_error(self) -> np.ndarray | None:
        """|delta| / |f(x) − f(baseline)| per row (None where the method defines no completeness)."""
        if self.delta is None or self.output_gap is None:
            return None
        return np.abs(self.delta) / np.maximum(np.abs(self.output_gap), 1e-12)

    def by_feature(self, values: np.ndarray | None = None) -> Any:
        """Attributions per raw feature (one-hot columns summed), as a DataFrame (rows × raw features)."""
        import pandas as pd

        v = self.values if values is None else values
        flat = v.reshape(v.shape[0], -1)
        if not self.feature_groups:
            return pd.DataFrame(flat, columns=list(self.feature_names)[: flat.shape[1]] or None)
        cols = {name: flat[:, list(idx)].sum(axis=1) for name, idx in self.feature_groups.items()}
        return pd.DataFrame(cols, index=self.row_index)


# --- helpers -----------------------------------------------------------------------------------
def _torch():
    import torch

    return torch


def applicable_methods(model: Any, kind: str | None = None) -> list[str]:
    """Keys of the methods that apply to ``model`` (an AuditModel or a torch module) and data kind."""
    info = _model_info(model)
    kind = kind or info["kind"]
    out = []
    for key, spec in METHODS.items():
        if _why_not(spec, info, kind) is None:
            out.append(key)
    return out


def _has_attention(module) -> bool:
    torch = _torch()
    return any(isinstance(m, (torch.nn.MultiheadAttention, torch.nn.TransformerEncoderLayer)) for m in module.modules())


def _model_info(model) -> dict:
    torch = _torch()
    from dlxai.models.base import AuditModel

    if isinstance(model, AuditModel):
        module = getattr(model.estimator, "module_", None)
        return {"audit": model, "module": module, "gradients": module is not None,
                "attention": module is not None and _has_attention(module), "kind": TABULAR}
    if isinstance(model, torch.nn.Module):
        return {"audit": None, "module": model, "gradients": True, "attention": _has_attention(model),
                "kind": None}
    raise UserInputError(
        f"model must be an AuditModel (from train_model or an upload) or a torch.nn.Module; received "
        f"{type(model).__name__}. Train one on the Data & model page, or pass the network itself."
    )


def _why_not(spec: MethodSpec, info: dict, kind: str | None) -> str | None:
    if spec.needs_gradients and not info["gradients"]:
        return "the model is not a differentiable PyTorch network, so gradients cannot flow through it"
    if spec.needs_attention and not info["attention"]:
        return "the model has no attention layers (nn.MultiheadAttention / transformer blocks)"
    if kind is not None and kind not in spec.kinds:
        return f"it works on {', '.join(spec.kinds)} data, not {kind} data"
    if spec.check and info["module"] is not None:
        key = (spec.key, id(info["module"]))
        if key not in info.setdefault("checked", {}):
            mod, _, fn = spec.check.partition(":")
            try:
                getattr(importlib.import_module(mod), fn)(info["module"])
                info["checked"][key] = None
            except UnsupportedModelError as exc:
                info["checked"][key] = str(exc)
        return info["checked"][key]
    return None


def _sklearn_module(estimator):
    """A torch module wrapping a scikit-learn classifier's ``predict_proba`` (no gradients)."""
    torch = _torch()

    class SklearnProba(torch.nn.Module):
        def __init__(self, est):
            super().__init__()
            self.est = est

        def forward(self, x):
            p = self.est.predict_proba(x.detach().cpu().numpy().astype(np.float32))
            return torch.as_tensor(np.asarray(p, dtype=np.float32), device=x.device)

    return SklearnProba(copy.deepcopy(estimator))


def _as_tensor(x, what: str):
    torch = _torch()
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(x, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise UserInputError(BAD_INPUTS.format(
                expected=f"numbers ({what})", received=type(x).__name__,
                fix="Pass a DataFrame of raw rows for a tabular model or a float tensor for a network.")) from exc
    if not torch.is_floating_point(t):
        t = t.float()
    return t


def _check_finite(t, what: str) -> None:
    torch = _torch()
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).sum())
        raise UserInputError(BAD_INPUTS.format(
            expected=f"finite numbers ({what})", received=f"{bad} NaN or infinite values",
            fix="Impute or drop those values first."))


def _resolve_baselines(spec, baselines, x, reference, n_baseline_samples: int, seed: int, prep):
    """-> (list of per-row baseline tensors to average over) or a background tensor, plus a label."""
    torch = _torch()
    if spec.baseline == "none":
        return None, "none"
    if reference is not None:
        if prep is not None:
            import pandas as pd

            if not isinstance(reference, pd.DataFrame):
                raise UserInputError(BAD_INPUTS.format(
                    expected="a DataFrame of raw training rows (reference)", received=type(reference).__name__,
                    fix="Pass dataset.X('train')."))
            reference = prep.transform(reference)
        reference = _as_tensor(reference, "reference")
        if reference.shape[1:] != x.shape[1:]:
            raise UserInputError(BAD_INPUTS.format(
                expected=f"reference rows shaped like the inputs {tuple(x.shape[1:])}",
                received=tuple(reference.shape[1:]), fix="Pass training rows of the same model."))
    label = baselines if isinstance(baselines, str) else "given"
    if isinstance(baselines, str):
        if baselines == "zeros":
            ref = torch.zeros((1, *x.shape[1:]), dtype=x.dtype)
        elif baselines == "mean":
            if reference is None:
                raise UserInputError(NEEDS_REFERENCE.format(kind="mean", what="the mean"))
            ref = reference.mean(0, keepdim=True).to(x.dtype)
        elif baselines == "samples":
            if reference is None:
                raise UserInputError(NEEDS_REFERENCE.format(kind="samples", what="samples"))
            k = int(n_baseline_samples)
            if k < 1:
                raise UserInputError(BAD_PARAM.format(name="n_baseline_samples", method=spec.key,
                                                      expected="a positive integer", value=n_baseline_samples))
            g = np.random.default_rng(seed)
            idx = g.choice(reference.shape[0], size=min(k, reference.shape[0]), replace=False)
            ref = reference[torch.as_tensor(idx)].to(x.dtype)
        else:
            raise UserInputError(BAD_BASELINES.format(received=repr(baselines),
                                                      fix="Use baselines='zeros' for an all-zero reference."))
    else:
        if prep is not None:
            import pandas as pd

            if isinstance(baselines, pd.DataFrame):
                baselines = prep.transform(baselines)
        ref = _as_tensor(baselines, "baselines")
        if ref.shape[1:] != x.shape[1:] and ref.shape != x.shape[1:]:
            raise UserInputError(BAD_BASELINES.format(
                received=f"an array of shape {tuple(ref.shape)} for inputs of shape {tuple(x.shape)}",
                fix="Give one baseline row, one per input row, or a set of reference rows."))
        if ref.shape == x.shape[1:]:
            ref = ref.unsqueeze(0)
        _check_finite(ref, "baselines")
    if spec.baseline == "background":
        return ref, label
    if label == "given" and ref.shape[0] == x.shape[0]:
        return [ref], label
    return [ref[i:i + 1].expand_as(x) for i in range(ref.shape[0])], label


def _validate_params(spec: MethodSpec, params: dict) -> dict:
    known = set(spec.defaults) | set(spec.choices)
    if spec.defaults or spec.choices:
        unknown = sorted(set(params) - known)
        if unknown:
            raise UserInputError(UNKNOWN_PARAM.format(names=unknown, method=spec.key, known=sorted(known)))
    merged = {**spec.defaults, **params}
    for name, allowed in spec.choices.items():
        if name in merged and merged[name] not in allowed:
            raise UserInputError(BAD_PARAM.format(name=name, method=spec.key, expected=f"one of {list(allowed)}",
                                                  value=merged[name]))
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


def _pick_device(device):
    from dlxai.models.torch_mlp import pick_device

    return pick_device(device)


def attribute(
    model,
    inputs,
    *,
    method: str,
    target=None,
    baselines="zeros",
    batch_size: int = 4096,
    reference=None,
    n_baseline_samples: int = 10,
    seed: int = 0,
    device: str = "auto",
    kind: str | None = None,
    progress: Callable[[float], None] | None = None,
    **params,
) -> AttributionResult:
    """Attribute the model's ``target`` output to its inputs with ``method`` (a key of :data:`METHODS`).

    ``model`` is an :class:`~dlxai.models.base.AuditModel` with ``inputs`` a DataFrame of raw rows, or
    a ``torch.nn.Module`` (logits out) with ``inputs`` a float tensor / array.  ``target`` is a class
    index (int or one per row); by default the predicted class.  ``baselines``: ``"zeros"``,
    ``"mean"`` (of ``reference``), ``"samples"`` (``n_baseline_samples`` rows of ``reference``,
    attributions averaged), or an array.  ``progress`` receives a fraction in [0, 1].
    """
    torch = _torch()
    import pandas as pd

    if method not in METHODS:
        raise UserInputError(UNKNOWN_METHOD.format(method=method, choices=list(METHODS)))
    spec = METHODS[method]
    info = _model_info(model)
    audit = info["audit"]
    prep = audit.preprocessor if audit is not None else None
    kind = kind or info["kind"] or (IMAGE if _as_tensor(inputs, "inputs").ndim >= 3 else TABULAR)
    why = _why_not(spec, info, kind)
    if why is not None:
        applicable = [k for k in METHODS if _why_not(METHODS[k], info, kind) is None]
        raise UnsupportedModelError(METHOD_NOT_APPLICABLE.format(method=method, label=spec.label, why=why,
                                                                 applicable=applicable))
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UserInputError(BAD_PARAM.format(name="batch_size", method=method, expected="a positive integer",
                                              value=batch_size))
    merged = _validate_params(spec, params)

    # --- inputs ------------------------------------------------------------------------------
    row_index = None
    if audit is not None:
        if not isinstance(inputs, pd.DataFrame):
            raise UserInputError(BAD_INPUTS.format(
                expected="a DataFrame of raw rows with the model's feature columns", received=type(inputs).__name__,
                fix="Pass e.g. dataset.X('test').head(200)."))
        if len(inputs) == 0:
            raise UserInputError(BAD_INPUTS.format(expected="at least one row", received="an empty DataFrame",
                                                   fix="Select some rows."))
        row_index = inputs.index.to_numpy()
        x = torch.as_tensor(audit.transform(inputs))
        names = audit.feature_names_out
        groups = dict(prep.feature_groups_) if prep is not None else None
    else:
        x = _as_tensor(inputs, "inputs")
        if x.ndim < 2 or x.shape[0] == 0:
            raise UserInputError(BAD_INPUTS.format(
                expected="a batch: a tensor with a leading row dimension and at least one row",
                received=f"shape {tuple(x.shape)}", fix="Add a batch dimension, e.g. x.unsqueeze(0)."))
        names = tuple(f"x{i}" for i in range(int(np.prod(x.shape[1:]))))
        groups = None
    _check_finite(x, "inputs")

    # --- the private copy ----------------------------------------------------------------------
    dev = _pick_device(device)
    if info["module"] is not None:
        work = copy.deepcopy(info["module"])
    else:
        work = _sklearn_module(audit.estimator)
    work.eval()
    work.to(dev)
    for p in work.parameters():
        p.requires_grad_(False)
    x = x.to(dev)

    with torch.no_grad():
        out = _forward_batched(work, x, batch_size)
    if out.ndim != 2:
        raise UnsupportedModelError(
            f"The model's output has shape {tuple(out.shape)}; attribution needs one score per class, (rows, classes)."
            " Wrap the model so that it returns logits of shape (rows, classes).")
    n_classes = out.shape[1]
    applicable = [k for k in METHODS if _why_not(METHODS[k], info, kind) is None]
    if target is None:
        t = out.argmax(1)
    else:
        t = torch.as_tensor(np.asarray(target)).long().reshape(-1).to(dev)
        if t.numel() == 1:
            t = t.expand(x.shape[0]).clone()
        if t.numel() != x.shape[0]:
            raise UserInputError(BAD_INPUTS.format(
                expected=f"one target for all rows or one per row ({x.shape[0]})", received=f"{t.numel()} targets",
                fix="Pass an int."))
        bad = t[(t < 0) | (t >= n_classes)]
        if bad.numel():
            raise UserInputError(TARGET_OUT_OF_RANGE.format(target=int(bad[0]), n_classes=n_classes,
                                                            last=n_classes - 1, applicable=applicable))

    refs, base_label = _resolve_baselines(spec, baselines, x.cpu(), reference, n_baseline_samples, seed, prep)
    fn = spec.load()
    call = dict(merged)
    extra: dict = {}
    if method == "integrated_gradients":
        call["info"] = extra
    import inspect

    takes_progress = progress is not None and "progress" in inspect.signature(fn).parameters

    def _run(b, lo: float, hi: float):
        if takes_progress:
            call["progress"] = lambda f: progress(lo + (hi - lo) * float(f))
        return fn(work, x, target=t, baselines=b, batch_size=int(batch_size), **call)

    gap = None
    if refs is None:
        vals, delta = _run(None, 0.0, 1.0)
        if delta is not None:  # conservation (LRP): relevance should sum to the target output itself
            gap = out.gather(1, t[:, None])[:, 0]
    elif isinstance(refs, list):
        acc_v, acc_d, gaps = None, None, []
        for i, b in enumerate(refs):
            b = b.to(dev)
            v, d = _run(b, i / len(refs), (i + 1) / len(refs))
            acc_v = v if acc_v is None else acc_v + v
            if d is not None:
                acc_d = d if acc_d is None else acc_d + d
            with torch.no_grad():
                fb = _forward_batched(work, b, batch_size).gather(1, t[:, None])[:, 0]
            gaps.append(out.gather(1, t[:, None])[:, 0] - fb)
        vals = acc_v / len(refs)
        delta = None if acc_d is None else acc_d / len(refs)
        gap = torch.stack(gaps).mean(0)
    else:
        bg = refs.to(dev)
        vals, delta = _run(bg, 0.0, 1.0)
        with torch.no_grad():
            fb = _forward_batched(work, bg, batch_size)[:, t].mean(0)
        gap = out.gather(1, t[:, None])[:, 0] - fb
    if progress is not None:
        progress(1.0)
    if tuple(vals.shape) != tuple(x.shape):
        raise UnsupportedModelError(
            f"{spec.label} returned attributions of shape {tuple(vals.shape)} for inputs of shape {tuple(x.shape)}.")

    if isinstance(refs, list):
        base_np = torch.stack([b.detach().cpu() for b in refs]).mean(0).numpy()
    elif refs is not None:
        base_np = refs.detach().cpu().numpy()
    else:
        base_np = None
    record = {**merged, "baselines": base_label, "batch_size": int(batch_size)}
    if base_label == "samples":
        record.update(n_baseline_samples=int(n_baseline_samples), seed=int(seed))
    return AttributionResult(
        values=vals.detach().cpu().numpy().astype(np.float64),
        method=method,
        params=record,
        target=t.cpu().numpy(),
        inputs=x.cpu().numpy(),
        baselines=base_np,
        feature_names=tuple(names),
        delta=None if delta is None else delta.detach().cpu().numpy().astype(np.float64),
        output_gap=None if gap is None or delta is None else gap.detach().cpu().numpy().astype(np.float64),
        feature_groups=groups,
        kind=kind,
        row_index=row_index,
        info={**extra, "device": str(dev), "n_classes": int(n_classes)},
    )


def _forward_batched(module, x, batch_size: int):
    torch = _torch()
    outs = [module(x[i:i + batch_size]) for i in range(0, x.shape[0], max(int(batch_size), 1))]
    return torch.cat(outs) if outs else module(x)
