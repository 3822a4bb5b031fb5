"""Hashes of every result the refactors must keep bit-identical: predictions, metrics, attributions,
counterfactuals, recourse, surrogate, mitigation and the audit bundle.

    python scripts/result_hashes.py > hashes.json

Run it before and after a refactor; every line must match.  Uses only the public API.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def h(*objs) -> str:
    d = hashlib.sha256()
    for o in objs:
        if isinstance(o, pd.DataFrame | pd.Series):
            d.update(pd.util.hash_pandas_object(o, index=True).to_numpy().tobytes())
            d.update(repr(list(o.columns) if isinstance(o, pd.DataFrame) else o.name).encode())
        elif isinstance(o, np.ndarray):
            d.update(np.ascontiguousarray(o).tobytes())
            d.update(str(o.dtype).encode())
        else:
            d.update(json.dumps(o, sort_keys=True, default=str).encode())
    return d.hexdigest()[:16]


def main() -> None:
    import torch

    torch.set_num_threads(1)
    import dlxai

    ds = dlxai.load_demo("adult")
    out = {}
    mlp = dlxai.train_model(ds, "mlp", seed=0)
    logreg = dlxai.train_model(ds, "logreg", seed=0)
    X = ds.X("test")
    out["predict_proba_mlp"] = h(mlp.predict_proba(X))
    out["predict_proba_logreg"] = h(logreg.predict_proba(X))
    sens = ds.sensitive("test", ["sex", "race"])
    fa = dlxai.audit_fairness(ds.y("test"), mlp.predict(X), sens[["sex"]])
    out["fairness_summary"] = h(fa.summary, fa.summary_ci)
    out["fairness_by_group"] = h(fa.by_group)
    rows = X.iloc[:200]
    for method, kw in [("integrated_gradients", {"baselines": "mean", "reference": ds.X("train")}),
                       ("saliency", {}), ("lrp", {}),
                       ("expected_gradients", {"reference": ds.X("train")})]:
        try:
            r = dlxai.attribute(mlp, rows, method=method, **kw)
            out[f"attr_{method}"] = h(np.asarray(r.values))
        except Exception as exc:  # noqa: BLE001
            out[f"attr_{method}"] = f"error {type(exc).__name__}"
    rejected = X[mlp.predict(X) == 0].iloc[:20]
    cf = dlxai.find_counterfactuals(mlp, ds, rejected, k=3)
    summary = {k: v for k, v in cf.summary().items() if k != "seconds"}  # wall time is not a result
    out["counterfactuals"] = h(summary, *[cf.for_query(i, only_valid=False) for i in range(len(rejected))])
    rb = dlxai.recourse_burden(mlp, ds, "sex", max_rows=60)
    out["recourse_burden"] = h(rb.by_group, rb.gap, list(rb.gap_ci))
    sg = dlxai.fit_surrogate(mlp, ds, max_depth=4)
    out["surrogate"] = h(sg.fidelity, sg.text, sg.fidelity_by_group)
    for method in ("threshold_optimizer", "reweighing"):
        m = dlxai.mitigate(mlp, ds, method, "demographic_parity" if method != "reweighing" else "none",
                           sensitive=["sex"], seed=0, estimator_params={"max_epochs": 3})
        out[f"mitigate_{method}"] = h(m.model.predict_proba(X), m.after.row(), m.before.row())
    b = dlxai.audit_model(mlp, ds, sensitive=["sex", "race"], n_bootstrap=200)
    d = b.to_dict()
    d["model"].pop("fit_seconds", None)  # wall time is not a result
    out["audit_bundle"] = h(d)
    for k, v in out.items():
        print(json.dumps({"result": k, "hash": v}))


if __name__ == "__main__":
    main()
