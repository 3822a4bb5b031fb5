"""One call for every attribution method: :func:`attribute` and its result object.

The methods themselves, and which of them apply to a model, live in :mod:`dlxai.explain.registry`.
:func:`attribute` validates, makes a private copy of the module in eval mode on the chosen device
(:func:`dlxai.explain.private.private_copy`: its own modules, hooks and tensor objects viewing the caller's weights),
and calls the method on the copy: the caller's weights, hooks and attributes are never touched, also when a method
fails.  The predicted class (the default target) comes from one forward pass over the inputs, which integrated
gradients reuses for f(x); LRP takes it from its own forward pass, so no method pays for a pass it does not need.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.explain.groups import group_parts, held_groups, repeat_groups, sklearn_module
from dlxai.explain.isolated import attribute_in_worker
from dlxai.explain.registry import (
    BAD_PARAM,
    IMAGE,
    TABULAR,
    MethodSpec,
    ModelInfo,
    method_spec,
    model_info,
    validate_params,
)

# --- messages (tests match on these) ---------------------------------------------------------
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
BAD_OUTPUT = (
    "The model's output has shape {shape}; attribution needs one score per class, (rows, classes). "
    "Wrap the model so that it returns logits of shape (rows, classes)."
)


@dataclass(frozen=True, eq=False)
class AttributionResult:
    """Attributions for ``n`` inputs, shaped like the inputs the method saw.

    For a tabular :class:`~dlxai.models.base.AuditModel` the inputs are the preprocessed matrix (one
    column per one-hot level); ``feature_groups`` maps each raw feature to its columns and
    :meth:`by_feature` sums them back.  ``delta`` is the completeness error per row
    (``sum(values) − (f(x) − f(baseline))``) where the method defines one, ``output_gap`` the
    ``f(x) − f(baseline)`` it is measured against.  ``groups``: for a model that reads group columns at prediction
    (ThresholdOptimizer), the groups each row was scored with, positionally: every row the method built for row
    ``i`` (coalitions, background rows) was scored with row ``i``'s groups, so ``f(baseline)`` is per group.
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
    groups: Any = None

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
    """Attribute the model's ``target`` output to its inputs with ``method`` (a key of
    :data:`~dlxai.explain.registry.METHODS`).

    ``model`` is an :class:`~dlxai.models.base.AuditModel` with ``inputs`` a DataFrame of raw rows, or
    a ``torch.nn.Module`` (logits out) with ``inputs`` a float tensor / array.  ``target`` is a class
    index (int or one per row); by default the predicted class.  ``baselines``: ``"zeros"``,
    ``"mean"`` (of ``reference``), ``"samples"`` (``n_baseline_samples`` rows of ``reference``,
    attributions averaged), or an array.  ``progress`` receives a fraction in [0, 1].
    """
    spec = method_spec(method)
    info = model_info(model)
    kind = kind or info.kind or (IMAGE if _as_tensor(inputs, "inputs").ndim >= 3 else TABULAR)
    info.require(spec, kind)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UserInputError(BAD_PARAM.format(name="batch_size", method=method, expected="a positive integer",
                                              value=batch_size))
    merged = validate_params(spec, params, kind)
    x, names, groups, row_index = prepare_inputs(info.audit, inputs)
    if info.remote is not None:
        options = dict(target=target, baselines=baselines, batch_size=int(batch_size), reference=reference,
                       n_baseline_samples=n_baseline_samples, seed=seed, kind=kind, **params)
        return _attribute_in_worker(info, spec, x, options, merged, names, groups, row_index, progress)

    held = held_groups(info.audit, inputs) if info.audit is not None else None
    work, dev = _working_copy(info, device)
    x = x.to(dev)
    fn = spec.load()
    if held is None and "outputs" in inspect.signature(fn).parameters:  # LRP: its own forward pass gives the targets
        vals, delta, gap, extra, t, n_classes = _run_own_forward(fn, work, x, target, info, kind, merged,
                                                                 int(batch_size))
        refs, base_label = None, "none"
    else:
        # (positions, module): all rows at once, or per combination of groups a module scoring every row it is
        # given (the method's coalitions and background rows too) with those rows' groups
        parts = [(None, work)] if held is None else [(pos, work.held(repeat_groups(held, pos[:1])))
                                                     for pos in group_parts(held)]
        out = _outputs(parts, x, batch_size)
        if out.ndim != 2:
            raise UnsupportedModelError(BAD_OUTPUT.format(shape=tuple(out.shape)))
        t, n_classes = _resolve_target(target, out, info, kind), int(out.shape[1])
        prep = info.audit.preprocessor if info.audit is not None else None
        refs, base_label = _resolve_baselines(spec, baselines, x.cpu(), reference, n_baseline_samples, seed, prep)
        vals, delta, gap, extra = _run_parts(spec, fn, parts, x, t, out, refs, merged, int(batch_size), dev,
                                             progress)
    if tuple(vals.shape) != tuple(x.shape):
        raise UnsupportedModelError(
            f"{spec.label} returned attributions of shape {tuple(vals.shape)} for inputs of shape {tuple(x.shape)}.")

    record = {**merged, "baselines": base_label, "batch_size": int(batch_size)}
    if base_label == "samples":
        record.update(n_baseline_samples=int(n_baseline_samples), seed=int(seed))
    return AttributionResult(
        values=_numpy64(vals),
        method=method,
        params=record,
        target=t.cpu().numpy(),
        inputs=x.cpu().numpy(),
        baselines=_baseline_array(refs),
        feature_names=tuple(names),
        delta=_numpy64(delta),
        output_gap=None if delta is None else _numpy64(gap),
        feature_groups=groups,
        kind=kind,
        row_index=row_index,
        info={**extra, "device": str(dev), "n_classes": n_classes},
        groups=held,
    )


def worker_options(info: ModelInfo, x, options: dict) -> tuple[dict, int]:
    """``options`` (keyword arguments of :func:`attribute`) made fit to send to an upload's worker: raw reference
    and baseline rows preprocessed into the model's matrix, targets as an array; and the baselines per row."""
    prep = info.audit.preprocessor
    options = dict(options)
    baselines = options.get("baselines", "zeros")
    n_refs = int(options.get("n_baseline_samples", 10)) if isinstance(baselines, str) and baselines == "samples" else 1
    if options.get("reference") is not None:
        options["reference"] = _reference_rows(options["reference"], x, prep).numpy()
    if not isinstance(baselines, str):
        options["baselines"] = _given_baseline(baselines, x, prep).numpy()
    if options.get("target") is not None:
        options["target"] = np.asarray(options["target"])
    return options, max(1, n_refs)


def _attribute_in_worker(info: ModelInfo, spec: MethodSpec, x, options: dict, merged: dict, names, groups, row_index,
                         progress):
    """An uploaded network's attribution, computed in its sandboxed worker by the same :func:`attribute` on the
    preprocessed rows (raw reference and baseline rows are preprocessed here first), so the numbers equal the
    in-process path's and no code from the uploaded file runs in this process."""
    options, n_refs = worker_options(info, x, options)
    work = float(merged.get("n_steps") or merged.get("n_samples") or 1) * n_refs
    if progress is not None:
        progress(0.0)
    est = info.audit.estimator
    out = attribute_in_worker(info.remote, est._head_output, x.numpy(), spec.key, options, work=work)
    if progress is not None:
        progress(1.0)
    return AttributionResult(
        values=out["values"], method=spec.key, params=out["params"], target=out["target"], inputs=x.numpy(),
        baselines=out["baselines"], feature_names=tuple(names), delta=out["delta"], output_gap=out["output_gap"],
        feature_groups=groups, kind=options["kind"], row_index=row_index, info=out["info"])


# --- the steps of attribute ---------------------------------------------------------------------
def _torch():
    import torch

    return torch


def prepare_inputs(audit, inputs):
    """-> (the float tensor the method sees, its feature names, raw feature -> columns, the rows' index)."""
    torch = _torch()
    import pandas as pd

    if audit is None:
        x = _as_tensor(inputs, "inputs")
        if x.ndim < 2 or x.shape[0] == 0:
            raise UserInputError(BAD_INPUTS.format(
                expected="a batch: a tensor with a leading row dimension and at least one row",
                received=f"shape {tuple(x.shape)}", fix="Add a batch dimension, e.g. x.unsqueeze(0)."))
        _check_finite(x, "inputs")
        return x, _value_names(int(np.prod(x.shape[1:]))), None, None
    if not isinstance(inputs, pd.DataFrame):
        raise UserInputError(BAD_INPUTS.format(
            expected="a DataFrame of raw rows with the model's feature columns", received=type(inputs).__name__,
            fix="Pass e.g. dataset.X('test').head(200)."))
    if len(inputs) == 0:
        raise UserInputError(BAD_INPUTS.format(expected="at least one row", received="an empty DataFrame",
                                               fix="Select some rows."))
    x = torch.as_tensor(audit.transform(inputs))
    groups = dict(audit.preprocessor.feature_groups_) if audit.preprocessor is not None else None
    _check_finite(x, "inputs")
    return x, audit.feature_names_out, groups, inputs.index.to_numpy()


@functools.lru_cache(maxsize=8)
def _value_names(d: int) -> tuple[str, ...]:
    """``("x0", ..., "x{d-1}")``, built once per size: an image of 224 × 224 × 3 has 150,528 (0.1 s to build)."""
    return tuple(f"x{i}" for i in range(d))


def _working_copy(info: ModelInfo, device):
    """-> (a private eval-mode copy of the model on the device (:func:`~dlxai.explain.private.private_copy`); the
    device)."""
    from dlxai.explain.private import private_copy
    from dlxai.models.torch_mlp import pick_device

    dev = pick_device(device)
    if info.module is not None:
        return private_copy(info.module, dev), dev
    return sklearn_module(info.audit.estimator).eval().to(dev), dev


def _resolve_target(target, out, info: ModelInfo, kind: str, n: int | None = None, first: int = 0):
    """One class index per row: the predicted class by default, else ``target`` checked against the outputs.

    ``out`` may be the outputs of a chunk of rows ``first, first + 1, ...`` out of ``n``: the chunk's classes."""
    torch = _torch()
    if target is None:
        return out.argmax(1)
    n_classes = out.shape[1]
    n = out.shape[0] if n is None else n
    t = torch.as_tensor(np.asarray(target)).long().reshape(-1).to(out.device)
    if t.numel() == 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise UserInputError(BAD_INPUTS.format(
            expected=f"one target for all rows or one per row ({n})", received=f"{t.numel()} targets",
            fix="Pass an int."))
    bad = t[(t < 0) | (t >= n_classes)]
    if bad.numel():
        raise UserInputError(TARGET_OUT_OF_RANGE.format(target=int(bad[0]), n_classes=n_classes,
                                                        last=n_classes - 1, applicable=info.applicable(kind)))
    return t[first:first + out.shape[0]]


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


# --- baselines ------------------------------------------------------------------------------------
def _resolve_baselines(spec: MethodSpec, baselines, x, reference, n_baseline_samples: int, seed: int, prep):
    """-> (a list of per-row baseline tensors to average over, or a background tensor, or None; a label)."""
    if spec.baseline == "none":
        return None, "none"
    reference = _reference_rows(reference, x, prep)
    if isinstance(baselines, str):
        label = baselines
        ref = _named_baseline(spec, baselines, x, reference, n_baseline_samples, seed)
    else:
        label = "given"
        ref = _given_baseline(baselines, x, prep)
    if spec.baseline == "background":
        return ref, label
    if label == "given" and ref.shape[0] == x.shape[0]:
        return [ref], label
    return [ref[i:i + 1].expand_as(x) for i in range(ref.shape[0])], label


def _reference_rows(reference, x, prep):
    """The reference (training) rows as a tensor in the inputs' space, or None."""
    if reference is None:
        return None
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
    return reference


def _named_baseline(spec: MethodSpec, name: str, x, reference, n_baseline_samples: int, seed: int):
    """The rows of ``baselines="zeros" | "mean" | "samples"``."""
    torch = _torch()
    if name == "zeros":
        return torch.zeros((1, *x.shape[1:]), dtype=x.dtype)
    if name == "mean":
        if reference is None:
            raise UserInputError(NEEDS_REFERENCE.format(kind="mean", what="the mean"))
        return reference.mean(0, keepdim=True).to(x.dtype)
    if name == "samples":
        if reference is None:
            raise UserInputError(NEEDS_REFERENCE.format(kind="samples", what="samples"))
        k = int(n_baseline_samples)
        if k < 1:
            raise UserInputError(BAD_PARAM.format(name="n_baseline_samples", method=spec.key,
                                                  expected="a positive integer", value=n_baseline_samples))
        g = np.random.default_rng(seed)
        idx = g.choice(reference.shape[0], size=min(k, reference.shape[0]), replace=False)
        return reference[torch.as_tensor(idx)].to(x.dtype)
    raise UserInputError(BAD_BASELINES.format(received=repr(name),
                                              fix="Use baselines='zeros' for an all-zero reference."))


def _given_baseline(baselines, x, prep):
    """Baseline rows the caller passed (raw rows for a tabular model), as a batch shaped like the inputs."""
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
    return ref


def _baseline_array(refs) -> np.ndarray | None:
    """The baselines as the result records them: per-row baselines averaged, a background set as it is."""
    if isinstance(refs, list):
        return _torch().stack([b.detach().cpu() for b in refs]).mean(0).numpy()
    if refs is not None:
        return refs.detach().cpu().numpy()
    return None


# --- running the method ---------------------------------------------------------------------------
def _run_own_forward(fn, work, x, target, info: ModelInfo, kind: str, params: dict, batch_size: int):
    """A method that runs the forward pass itself (LRP) resolves the target on it: no pass of our own.
    -> (attributions, conservation delta, the target logits it is measured against, {}, targets, classes)."""
    torch = _torch()
    outputs: dict = {}
    vals, delta = fn(work, x, target=lambda out, first: _resolve_target(target, out, info, kind, len(x), first),
                     batch_size=batch_size, copy_model=False, outputs=outputs, **params)
    t, logit = torch.cat(outputs["target"]), torch.cat(outputs["logit"])
    return vals, delta, logit, {}, t, int(outputs["n_classes"])


def _run_method(spec: MethodSpec, fn, work, x, t, out, refs, params: dict, batch_size: int, dev, progress):
    """Call the method once per baseline (averaging) or once with the background set.

    -> (attributions, completeness delta or None, f(x) − f(baseline) per row or None, what the method reported).
    """
    torch = _torch()
    call = dict(params)
    extra: dict = {}
    takes = inspect.signature(fn).parameters
    if "info" in takes:  # what the method reports about its run (steps used, the output explained)
        call["info"] = extra
    takes_progress = progress is not None and "progress" in takes
    if "copy_model" in takes:  # `work` is the private copy already: one deep copy per call, not two
        call["copy_model"] = False
    f_x = out.gather(1, t[:, None])[:, 0]
    if "f_x" in takes:  # the outputs at the inputs, computed above: no second forward pass over them
        call["f_x"] = f_x

    def run(b, lo: float, hi: float):
        if takes_progress:
            call["progress"] = lambda f: progress(lo + (hi - lo) * float(f))
        return fn(work, x, target=t, baselines=b, batch_size=batch_size, **call)

    if refs is None:
        vals, delta = run(None, 0.0, 1.0)
        gap = f_x if delta is not None else None  # a conservation delta: relevance should sum to the target output
    elif isinstance(refs, list):
        acc_v, acc_d, gaps = None, None, []
        for i, b in enumerate(refs):
            fb = _baseline_outputs(work, b, t, batch_size, dev)
            if "f_b" in takes:  # the method's completeness delta needs f(baseline): computed once, here
                call["f_b"] = fb
            v, d = run(b.to(dev), i / len(refs), (i + 1) / len(refs))
            acc_v = v if acc_v is None else acc_v + v
            if d is not None:
                acc_d = d if acc_d is None else acc_d + d
            gaps.append(f_x - fb)
        vals = acc_v / len(refs)
        delta = None if acc_d is None else acc_d / len(refs)
        gap = torch.stack(gaps).mean(0)
    else:
        bg = refs.to(dev)
        vals, delta = run(bg, 0.0, 1.0)
        with torch.no_grad():
            fb = _forward_batched(work, bg, batch_size)[:, t].mean(0)
        gap = f_x - fb
    if progress is not None:
        progress(1.0)
    return vals, delta, gap, extra


def _outputs(parts, x, batch_size: int):
    """The model's outputs at the inputs, in row order, each part through its own module."""
    torch = _torch()
    with torch.no_grad():
        if parts[0][0] is None:
            return _forward_batched(parts[0][1], x, batch_size)
        outs = [_forward_batched(module, x[torch.as_tensor(pos, device=x.device)], batch_size)
                for pos, module in parts]
    out = torch.empty((x.shape[0], *outs[0].shape[1:]), dtype=outs[0].dtype, device=outs[0].device)
    for (pos, _), o in zip(parts, outs, strict=True):
        out[torch.as_tensor(pos, device=out.device)] = o
    return out


def _run_parts(spec: MethodSpec, fn, parts, x, t, out, refs, params: dict, batch_size: int, dev, progress):
    """:func:`_run_method` on all rows at once, or part by part (rows sharing their groups) put back in row
    order."""
    torch = _torch()
    if parts[0][0] is None:
        return _run_method(spec, fn, parts[0][1], x, t, out, refs, params, batch_size, dev, progress)
    vals = torch.zeros_like(x)
    delta = gap = None
    extra: dict = {}
    for j, (pos, module) in enumerate(parts):
        idx = torch.as_tensor(pos, device=x.device)
        step = None if progress is None else (lambda f, j=j: progress((j + float(f)) / len(parts)))
        v, d, g, e = _run_method(spec, fn, module, x[idx], t[idx], out[idx], refs, params, batch_size, dev, step)
        vals[idx] = v.to(vals.dtype)
        if d is not None:
            delta = torch.zeros(x.shape[0], dtype=d.dtype, device=d.device) if delta is None else delta
            delta[idx] = d
        if g is not None:
            gap = torch.zeros(x.shape[0], dtype=g.dtype, device=g.device) if gap is None else gap
            gap[idx] = g
        extra.update(e)
    return vals, delta, gap, extra


def _baseline_outputs(work, b, t, batch_size: int, dev):
    """The target outputs at the baseline rows ``b``: one forward pass over a single row where every row is the same
    (a named baseline, expanded over the inputs), else over all rows."""
    torch = _torch()
    with torch.no_grad():
        if b.shape[0] > 1 and b.stride(0) == 0:
            return _forward_batched(work, b[:1].to(dev), 1)[0, t]
        return _forward_batched(work, b.to(dev), batch_size).gather(1, t[:, None])[:, 0]


def _forward_batched(module, x, batch_size: int):
    torch = _torch()
    outs = [module(x[i:i + batch_size]) for i in range(0, x.shape[0], max(int(batch_size), 1))]
    return torch.cat(outs) if outs else module(x)


def _numpy64(t) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().astype(np.float64)
