"""Gradient methods on an uploaded network, run inside its sandboxed worker (:mod:`dlxai.models.remote`).

Two halves, as in :mod:`dlxai.models.remote`:

* the worker's side: :func:`gradient_facts_task` (which gradient methods apply: attention layers, each method's own
  model check) and :func:`attribute_task` (:func:`dlxai.explain.attribution.attribute` on the loaded network behind
  the same two-logit head the in-process path uses, so the numbers are the same);
* the engine's side: :func:`gradient_facts` and :func:`attribute_in_worker`, which send the preprocessed matrix,
  the method and its settings, and get the arrays back.  No code from the uploaded file runs in the engine.
"""

from __future__ import annotations

import math

import numpy as np

from dlxai.models.remote import network


# --- the worker's side ---------------------------------------------------------------------------------
def gradient_facts_task(key: str, output: str) -> dict:
    """Whether gradient methods apply to the loaded model (``error``: why not, '' when they do), whether it has
    attention layers, and each method's own model check (method -> reason, None: it passes)."""
    from dlxai.explain.attention import has_attention
    from dlxai.explain.registry import METHODS, model_info
    from dlxai.models.adapters import _logit_head

    net = network(key)
    if isinstance(net, str):
        return {"error": net, "attention": False, "checks": {}}
    from dlxai.explain.quality import randomisable_layers

    head = _logit_head(net, output)
    info = model_info(head)
    checks = {k: info.why_not(spec, None) for k, spec in METHODS.items() if spec.check}
    return {"error": "", "attention": bool(has_attention(net)), "checks": checks,
            "layers": len(randomisable_layers(head))}


def attribute_task(key: str, output: str, x: np.ndarray, method: str, options: dict) -> dict:
    """:func:`~dlxai.explain.attribution.attribute` on the loaded network behind the two-logit head, on the
    preprocessed matrix ``x``; the result's arrays and records."""
    from dlxai.errors import UnsupportedModelError
    from dlxai.explain.attribution import attribute
    from dlxai.models.adapters import _logit_head

    net = network(key)
    if isinstance(net, str):
        raise UnsupportedModelError(f"Gradient methods do not apply to this model: {net}.")
    res = attribute(_logit_head(net, output), x, method=method, device="cpu", **options)
    return {"values": res.values, "target": res.target, "baselines": res.baselines, "delta": res.delta,
            "output_gap": res.output_gap, "params": res.params, "info": res.info}


def randomisation_task(key: str, output: str, x: np.ndarray, method: str, groups: dict | None, kwargs: dict) -> dict:
    """:func:`~dlxai.explain.quality.randomisation_check` on the loaded network behind the two-logit head, on the
    preprocessed matrix ``x``; attributions compared per raw feature (``groups``: feature -> its columns).  Plain
    data back (the engine reads a worker's reply with a restricted unpickler)."""
    import functools

    from dlxai.errors import UnsupportedModelError
    from dlxai.explain.quality import per_feature_abs, randomisation_check
    from dlxai.models.adapters import _logit_head

    net = network(key)
    if isinstance(net, str):
        raise UnsupportedModelError(f"Gradient methods do not apply to this model: {net}.")
    summary = functools.partial(per_feature_abs, groups=groups)
    check = randomisation_check(_logit_head(net, output), x, method=method, summary=summary, device="cpu", **kwargs)
    return {"stages": list(check.stages), "spearman": check.spearman, "spearman_rows": check.spearman_rows,
            "params": {k: v for k, v in check.params.items() if isinstance(v, (str, int, float, bool, type(None)))}}


# --- the engine's side ---------------------------------------------------------------------------------
def gradient_facts(remote, output: str) -> dict:
    """What :func:`gradient_facts_task` reports for ``remote`` (a RemoteModel), asked once per output kind."""
    facts = remote.__dict__.setdefault("_gradient_facts", {})
    if output not in facts:
        facts[output] = remote.live_worker().call(gradient_facts_task, remote.key, output, timeout_s=120.0,
                                                  what=f"the gradient check of {remote.name}")
    return facts[output]


def randomisation_in_worker(remote, output: str, x: np.ndarray, method: str, groups: dict | None, kwargs: dict,
                            work: float = 1.0):
    """The randomisation check of ``method`` on ``x`` (the preprocessed matrix) in ``remote``'s worker.  ``work``:
    forward-and-backward passes per row over every stage (one attribution per stage, plus the trained model's)."""
    worker = remote.live_worker()
    limit = remote.timeout_for(int(len(x) * max(1.0, float(work)) * 3.0))
    cpu = min(math.ceil(limit) + 5, worker.limits.lifetime_cpu_s // 2)
    return worker.call(randomisation_task, remote.key, output, np.ascontiguousarray(x), method, groups, kwargs,
                       timeout_s=limit, cpu_s=cpu, what=f"the randomisation check ({method}) of {remote.name} on "
                       f"{len(x):,} rows")


def attribute_in_worker(remote, output: str, x: np.ndarray, method: str, options: dict, work: float = 1.0) -> dict:
    """A gradient method on ``x`` (the preprocessed matrix) in ``remote``'s worker.  ``work``: forward-and-backward
    passes per row (integration steps x baselines), which scales the time limit as more rows would."""
    worker = remote.live_worker()
    limit = remote.timeout_for(int(len(x) * max(1.0, float(work)) * 3.0))  # a backward pass ~ two forward passes
    cpu = min(math.ceil(limit) + 5, worker.limits.lifetime_cpu_s // 2)
    return worker.call(attribute_task, remote.key, output, np.ascontiguousarray(x), method, options, timeout_s=limit,
                       cpu_s=cpu, what=f"a gradient method ({method}) on {remote.name} for {len(x):,} rows")
