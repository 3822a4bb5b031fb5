"""Can an explanation be trusted?  Completeness, deletion/insertion faithfulness, the randomisation check.

* :func:`completeness` — how far the attributions' sum is from f(x) − f(baseline) (IG, DeepLIFT,
  SHAP, LRP conservation), relative to |f(x) − f(baseline)|.
* :func:`deletion_insertion` — remove the most important features first (deletion: the target
  probability should fall fast, small area) or add them to the baseline first (insertion: it should
  rise fast, large area); the same curves for a random order are the reference.
* :func:`randomisation_check` — Adebayo et al. (2018): re-initialise the network's layers from the
  top down and recompute; attributions that keep their ranking (high Spearman correlation) do not
  depend on what the model learned.

Every function works on copies of the model.  :func:`what_to_try` says what to change when a check fails, so
a failed explanation is shown with a way forward rather than as a plain result.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dlxai.errors import UnsupportedModelError, UserInputError
from dlxai.explain.attribution import AttributionResult, attribute
from dlxai.explain.groups import sklearn_module
from dlxai.explain.registry import BASELINES, METHODS, TABULAR, choices_for, label, model_info

# below this mean rank correlation after full randomisation, the attributions depend on the weights
SANITY_MAX_SPEARMAN = 0.5
NO_COMPLETENESS = (
    "The method {method!r} defines no completeness error (its attributions need not sum to f(x) − f(baseline)). "
    "Use integrated_gradients, deeplift, expected_gradients, kernel_shap or lrp to check completeness."
)
NO_LAYERS = (
    "The model-parameter randomisation check re-initialises a network's layers; {what} has no layers it can "
    "re-initialise (a scikit-learn model has none, a TorchScript module's are compiled). It runs on networks trained "
    "in dlxai or uploaded as weights with a spec."
)


@dataclass(frozen=True)
class Completeness:
    method: str
    relative_error: np.ndarray  # per row: |sum(attr) − (f(x) − f(b))| / |f(x) − f(b)|
    absolute_error: np.ndarray
    tolerance: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.relative_error))

    @property
    def median(self) -> float:
        return float(np.median(self.relative_error))

    @property
    def share_within(self) -> float:
        """Share of rows whose relative error is within ``tolerance``."""
        return float(np.mean(self.relative_error <= self.tolerance))

    @property
    def passed(self) -> bool:
        """The median row's attributions add up to the output change within ``tolerance``."""
        return self.median <= self.tolerance


def completeness(result: AttributionResult, tolerance: float = 0.01) -> Completeness:
    """The completeness (conservation) error of ``result``, per row."""
    if not isinstance(result, AttributionResult):
        raise UserInputError(f"completeness needs an AttributionResult from attribute(); received "
                             f"{type(result).__name__}.")
    rel = result.completeness_error
    if rel is None:
        raise UserInputError(NO_COMPLETENESS.format(method=result.method))
    return Completeness(result.method, rel, np.abs(result.delta), float(tolerance))


@dataclass(frozen=True)
class Faithfulness:
    """Mean target probability as units (features / pixels) are removed or inserted in attribution order."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    random_deletion: np.ndarray
    random_insertion: np.ndarray
    n_rows: int
    n_units: int
    params: dict = field(default_factory=dict)

    @staticmethod
    def _auc(curve: np.ndarray, x: np.ndarray) -> float:
        return float(np.sum((curve[1:] + curve[:-1]) * np.diff(x)) / 2)

    @property
    def deletion_auc(self) -> float:
        return self._auc(self.deletion, self.fractions)

    @property
    def insertion_auc(self) -> float:
        return self._auc(self.insertion, self.fractions)

    @property
    def random_deletion_auc(self) -> float:
        return self._auc(self.random_deletion, self.fractions)

    @property
    def random_insertion_auc(self) -> float:
        return self._auc(self.random_insertion, self.fractions)

    @property
    def faithful(self) -> bool:
        """Deleting by attribution hurts more, and inserting helps more, than a random order."""
        return self.deletion_auc < self.random_deletion_auc and self.insertion_auc > self.random_insertion_auc


def _probability_fn(model, device: str = "cpu", groups=None):
    """A private copy of ``model`` as a function (tensor, rows) -> class probabilities; ``groups`` (a model that
    reads group columns at prediction): the groups of each explained row, ``rows`` the positions of the given ones."""
    import torch

    info = model_info(model)
    if info.module is not None:  # (forward passes only: the weight-sharing private copy attribute() uses)
        from dlxai.explain.private import private_copy

        work = private_copy(info.module, device)

        def prob(x, rows=None):
            with torch.no_grad():
                return torch.softmax(work(x.to(device)), dim=1).cpu()
    else:
        work = sklearn_module(info.audit.estimator)

        def prob(x, rows=None):
            with torch.no_grad():
                return work(x) if groups is None else work(x, groups.iloc[rows].reset_index(drop=True))
    return prob


def _units(result: AttributionResult) -> list[np.ndarray]:
    d = int(np.prod(result.values.shape[1:]))
    if result.feature_groups:
        return [np.asarray(v, dtype=np.int64) for v in result.feature_groups.values()]
    return [np.array([i]) for i in range(d)]


def _removal_baseline(result: AttributionResult) -> np.ndarray:
    flat = result.inputs.reshape(result.n, -1)
    b = result.baselines
    if b is None:
        return np.zeros_like(flat)
    b = b.reshape(b.shape[0], -1)
    if b.shape[0] == result.n and result.params.get("baselines") != "samples" and result.method not in (
            "expected_gradients", "kernel_shap"):
        return b
    return np.broadcast_to(b.mean(0, keepdims=True), flat.shape).copy()


def deletion_insertion(model, result: AttributionResult, *, n_steps: int = 20, batch_size: int = 8192,
                       seed: int = 0, progress: Callable[[float], None] | None = None) -> Faithfulness:
    """Deletion and insertion curves of ``result`` on ``model``, with a random-order reference.

    Units are the raw features for a tabular model (all one-hot columns of a feature move together)
    and single values otherwise.  Removed units take the baseline's value (the training mean for
    ``baselines='mean'``/``'samples'``, zeros for ``'zeros'`` and for methods without a baseline).
    """
    import torch

    if not isinstance(result, AttributionResult):
        raise UserInputError(f"deletion_insertion needs an AttributionResult; received {type(result).__name__}.")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 2:
        raise UserInputError(f"n_steps must be an integer of at least 2; received {n_steps!r}. Use e.g. 20.")
    prob = _probability_fn(model, groups=result.groups)  # each perturbed row keeps its row's groups
    units = _units(result)
    n, u = result.n, len(units)
    x = result.inputs.reshape(n, -1).astype(np.float32)
    base = _removal_baseline(result).astype(np.float32)
    flat_attr = result.values.reshape(n, -1)
    score = np.stack([flat_attr[:, idx].sum(1) for idx in units], axis=1)  # (n, u)
    order = np.argsort(-score, axis=1, kind="stable")
    rng = np.random.default_rng(seed)
    rand_order = np.argsort(rng.random((n, u)), axis=1)
    counts = np.unique(np.round(np.linspace(0, u, min(int(n_steps), u) + 1)).astype(int))
    fractions = counts / u
    unit_of_col = np.zeros(x.shape[1], dtype=np.int64)
    for j, idx in enumerate(units):
        unit_of_col[idx] = j
    tgt = torch.as_tensor(result.target).long()
    curves = {k: [] for k in ("del", "ins", "rdel", "rins")}
    rank = np.empty_like(order)
    rrank = np.empty_like(rand_order)
    np.put_along_axis(rank, order, np.arange(u)[None, :].repeat(n, 0), axis=1)
    np.put_along_axis(rrank, rand_order, np.arange(u)[None, :].repeat(n, 0), axis=1)
    col_rank = rank[:, unit_of_col]  # (n, d): position of each column's unit in the order
    col_rrank = rrank[:, unit_of_col]
    shape = (n, *result.inputs.shape[1:])

    def p(arr):
        t = torch.as_tensor(arr.reshape(shape))
        out = torch.cat([prob(t[i:i + batch_size], slice(i, i + batch_size)) for i in range(0, n, batch_size)])
        return out.gather(1, tgt[:, None])[:, 0].double().numpy().mean()

    for s, c in enumerate(counts):
        top = col_rank < c
        rtop = col_rrank < c
        curves["del"].append(p(np.where(top, base, x)))
        curves["ins"].append(p(np.where(top, x, base)))
        curves["rdel"].append(p(np.where(rtop, base, x)))
        curves["rins"].append(p(np.where(rtop, x, base)))
        if progress is not None:
            progress((s + 1) / len(counts))
    return Faithfulness(fractions, *(np.asarray(curves[k]) for k in ("del", "ins", "rdel", "rins")), n_rows=n,
                        n_units=u, params={"n_steps": int(n_steps), "seed": int(seed), "method": result.method,
                                           **{k: v for k, v in result.params.items() if k in _SETTINGS}})


_SETTINGS = ("baselines", "composite", "input_rule", "rule", "n_steps")


@dataclass(frozen=True)
class RandomisationCheck:
    """Mean Spearman rank correlation of |attributions| before and after re-initialising layers.

    ``stages[i]`` names the layers re-initialised so far (top-down, cascading); the last stage has
    every layer re-initialised.  Low correlation is what a trustworthy method shows.
    """

    stages: tuple[str, ...]
    spearman: np.ndarray  # one mean correlation per stage
    spearman_rows: np.ndarray  # (stages, rows)
    method: str
    params: dict

    @property
    def final(self) -> float:
        return float(self.spearman[-1])

    @property
    def passed(self) -> bool:
        return self.final < SANITY_MAX_SPEARMAN


def _row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(1) / np.where(den > 0, den, 1), np.nan)


def randomisable_layers(module) -> list[tuple[str, object]]:
    """(name, layer) of every layer of ``module`` with parameters of its own that it can re-initialise."""
    return [(name, m) for name, m in module.named_modules()
            if hasattr(m, "reset_parameters") and any(True for _ in m.parameters(recurse=False))]


def per_feature_abs(res: AttributionResult, groups: dict | None = None) -> np.ndarray:
    """|attribution| per raw feature (``groups``: feature -> its columns; one-hot columns summed first), or per
    value when there are no groups: what the randomisation check ranks."""
    if groups is not None:  # (a result made in an upload's worker, on its preprocessed matrix, carries none)
        res = dataclasses.replace(res, feature_groups=groups)
    return np.abs(res.by_feature().to_numpy() if res.feature_groups else res.values.reshape(res.n, -1))


def randomisation_unavailable(model) -> str:
    """Why the randomisation check cannot run on ``model`` ('' when it can): it needs a network whose layers can be
    re-initialised (a TorchScript module's cannot; a scikit-learn model has none).  An uploaded network is checked
    inside its sandboxed worker."""
    info = model_info(model)
    what = getattr(model, "name", None) or type(info.module).__name__
    if info.module is None and info.remote is not None:
        from dlxai.explain.isolated import gradient_facts

        facts = gradient_facts(info.remote, model.estimator._head_output)
        return "" if not facts["error"] and facts.get("layers") else NO_LAYERS.format(what=what)
    if info.module is None or not randomisable_layers(info.module):
        return NO_LAYERS.format(what=what)
    return ""


def randomisation_check(model, inputs, *, method: str, seed: int = 0, cascading: bool = True,
                        progress: Callable[[float], None] | None = None,
                        summary: Callable[[AttributionResult], np.ndarray] | None = None,
                        **attribute_kwargs) -> RandomisationCheck:
    """Adebayo et al.'s model-parameter randomisation test for ``method`` on ``inputs``.

    ``attribute_kwargs`` are passed to :func:`~dlxai.explain.attribution.attribute` unchanged for the
    trained and each randomised model.  Tabular attributions are compared per raw feature, others per value
    (|attribution|); ``summary`` (result -> ``(rows, units)`` array) compares something else, e.g. an image's
    per-pixel heatmap (:func:`dlxai.explain.imagemaps.randomisation_check`).
    """
    import torch

    why = randomisation_unavailable(model)
    if why:
        raise UnsupportedModelError(why)
    info = model_info(model)
    if info.remote is not None:
        return _randomisation_in_worker(info, inputs, method, seed, cascading, progress, attribute_kwargs)
    layers = randomisable_layers(info.module)
    summary = summary or per_feature_abs

    kwargs = dict(attribute_kwargs)
    kwargs.setdefault("target", None)
    base_res = attribute(model, inputs, method=method, **kwargs)
    kwargs["target"] = base_res.target  # explain the same class after randomisation
    ref = summary(base_res)
    stages = list(range(1, len(layers) + 1)) if cascading else [len(layers)]
    names, means, rows = [], [], []
    for k, n_layers in enumerate(stages):
        rnd_model = copy.deepcopy(model)
        rnd_info = model_info(rnd_model)
        rnd_layers = randomisable_layers(rnd_info.module)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            for _, layer in reversed(rnd_layers[len(rnd_layers) - n_layers:]):
                layer.reset_parameters()
        res = attribute(rnd_model, inputs, method=method, **kwargs)
        r = _row_spearman(ref, summary(res))
        names.append("all layers" if n_layers == len(layers)
                     else f"top {n_layers} (down to {layers[len(layers) - n_layers][0] or 'root'})")
        means.append(float(np.nanmean(r)) if np.isfinite(r).any() else float("nan"))
        rows.append(r)
        if progress is not None:
            progress((k + 1) / len(stages))
    return RandomisationCheck(tuple(names), np.asarray(means), np.asarray(rows), method,
                              {"seed": int(seed), "cascading": bool(cascading),
                               **{k: v for k, v in base_res.params.items()}})


def _randomisation_in_worker(info, inputs, method: str, seed: int, cascading: bool, progress, attribute_kwargs: dict):
    """The check of an uploaded network, run by the same :func:`randomisation_check` inside its sandboxed worker on
    the preprocessed rows; attributions compared per raw feature, as here."""
    from dlxai.explain.attribution import prepare_inputs, worker_options
    from dlxai.explain.isolated import gradient_facts, randomisation_in_worker

    est = info.audit.estimator
    x, _, groups, _ = prepare_inputs(info.audit, inputs)
    options, refs = worker_options(info, x, dict(attribute_kwargs))
    n_layers = int(gradient_facts(info.remote, est._head_output)["layers"])
    spec = METHODS[method]
    steps = {**spec.defaults, **options}
    per_pass = float(steps.get("n_steps") or steps.get("n_samples") or 1)
    work = per_pass * refs * ((n_layers if cascading else 1) + 1)
    if progress is not None:
        progress(0.0)
    out = randomisation_in_worker(info.remote, est._head_output, x.numpy(), method,
                                  {k: list(map(int, v)) for k, v in groups.items()} if groups else None,
                                  {**options, "seed": int(seed), "cascading": bool(cascading)}, work=work)
    if progress is not None:
        progress(1.0)
    return RandomisationCheck(tuple(str(s) for s in out["stages"]), np.asarray(out["spearman"], dtype=float),
                              np.asarray(out["spearman_rows"], dtype=float), method, dict(out["params"]))


# methods worth trying instead, best first (on the Adult MLP, integrated gradients from zeros and LRP-ε pass both the
# randomisation and the deletion check; the mean and samples baselines and expected gradients fail randomisation)
_ALTERNATIVES = (("integrated_gradients", "zeros"), ("lrp", None), ("input_x_gradient", None), ("saliency", None))


def what_to_try(method: str, params: dict | None = None, kind: str = TABULAR) -> list[str]:
    """What to change when an explanation by ``method`` (with ``params``, as its result records them) fails a
    quality check: another baseline, another composite, another method.  Plain sentences for the page and the PDF."""
    params = params or {}
    spec = METHODS.get(method)
    out = []
    base = params.get("baselines")
    if spec is not None and spec.baseline != "none" and base in BASELINES:
        others = [b for b in BASELINES if b != base]
        out.append(f"Another baseline: {' or '.join(label(b) for b in others)} instead of {label(base)} (the "
                   "baseline decides what a feature's contribution is measured against).")
    if method == "lrp":
        others = [c for c in choices_for(METHODS["lrp"], "composite", kind) if c != params.get("composite")]
        out.append(f"Another composite: {', '.join(label(c) for c in others[:3])}.")
    alts = [f"{label(m)}" + (f" with the {label(b)} baseline" if b else "") for m, b in _ALTERNATIVES
            if not (m == method and (b is None or b == base))]
    out.append(f"Another method: {', '.join(alts[:2])}.")
    out.append("Until one passes, read the chart as a description of the inputs rather than of what the model "
               "learned, and do not base a decision on its ranking.")
    return out
