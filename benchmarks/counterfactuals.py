"""Counterfactuals on the Adult MLP: dlxai's batched gradient search vs dice-ml's `random` method.

Prints two JSON lines:
1. {"queries", "ours_s", "dice_s", "speedup", "ours_validity", "dice_validity", "ours_sparsity", "dice_sparsity",
    "ours_proximity", "dice_proximity", "plausible_pairs_share_50": {"ours", "dice"}, "ours_1000x3_s",
    "ours_plausible_pairs_share", ...}: the same 50 rejected test rows, 3 counterfactuals each, the same
    constraints for both (sex and race immutable, training ranges), and both sides' counterfactuals scored by the
    same functions (validity through the model's predict_proba; sparsity = features changed; proximity = MAD-L1
    over numeric features + changed categoricals, lower is better; plausible pairs share = share of valid
    counterfactuals whose values of every strongly associated pair of columns occur together in the training
    rows).  "ours_plausible_pairs_share" is that share for 200 rejected rows with the default settings (sex and
    race immutable, age only increases), with the validity and time of that search.
2. {"surrogate_depth4_fidelity", "burden_sex", "burden_race", ...}: the depth-4 surrogate tree's held-out fidelity
   and the recourse burden of rejected test rows per sex and race (default constraints: sex and race immutable,
   age only increases), with 95% bootstrap intervals.

dice-ml is a benchmark-only dependency (requirements-bench.txt, installed with --no-deps).
Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/counterfactuals.py [--queries 50] [--burden-rows 1000]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import add_load_option, start_load  # noqa: E402

from dlxai.data import load_adult  # noqa: E402
from dlxai.explain.counterfactuals import CFSpace, Constraints, SearchOptions, find_counterfactuals  # noqa: E402
from dlxai.explain.surrogate import fit_surrogate  # noqa: E402
from dlxai.fairness.recourse import recourse_burden, recourse_costs  # noqa: E402
from dlxai.models import train_model  # noqa: E402


def score(space: CFSpace, model, queries: pd.DataFrame, cfs: list[pd.DataFrame], k: int) -> dict:
    """Validity, sparsity and proximity of counterfactual sets, measured the same way for any method."""
    feats = list(space.dataset.schema.features)
    num0, codes0 = space.encode_raw(queries)
    n_valid, costs, changed = 0, [], []
    for i, cf in enumerate(cfs):
        if cf is None or len(cf) == 0:
            continue
        cf = cf[feats].iloc[:k].reset_index(drop=True)
        num, codes = space.encode_raw(cf)
        ok = model.predict(cf) == 1
        n_valid += int(ok.sum())
        rep0, repc = np.repeat(num0[[i]], len(cf), 0), np.repeat(codes0[[i]], len(cf), 0)
        costs += list(space.cost(rep0, repc, num, codes)[ok])
        changed += list(space.n_changed(rep0, repc, num, codes)[ok])
    return {"validity": n_valid / (len(cfs) * k), "sparsity": float(np.mean(changed)) if changed else None,
            "proximity": float(np.mean(costs)) if costs else None}


def strong_pairs(ds, threshold: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of columns associated at least ``threshold`` on the training rows (Cramér's V, η, |Spearman|)."""
    from scipy.stats import spearmanr

    from dlxai.explain.views import correlation_ratio, cramers_v

    train, feats, num = ds.X("train"), list(ds.schema.features), set(ds.schema.numeric)
    out = []
    for i, a in enumerate(feats):
        for b in feats[i + 1:]:
            if a in num and b in num:
                v = abs(spearmanr(train[a], train[b], nan_policy="omit").statistic)
            elif a in num or b in num:
                v = correlation_ratio(train[b], train[a]) if a in num else correlation_ratio(train[a], train[b])
            else:
                v = cramers_v(train[a], train[b])
            if v >= threshold:
                out.append((a, b))
    return out


def plausible_pairs_share(ds, pairs, cfs: list[pd.DataFrame], k: int) -> float | None:
    """Share of the counterfactuals (first ``k`` of each query) whose values of every pair in ``pairs`` occur
    together in the training rows: categorical values by level, numeric ones by value when a column has at most 32
    distinct values and by decile bin otherwise.  Written from the raw frames, apart from the engine."""
    train = ds.X("train")

    def cell(col, s):
        if col in ds.schema.numeric and train[col].nunique() > 32:
            edges = np.unique(np.quantile(train[col], np.linspace(0, 1, 11)))
            x = pd.to_numeric(s).to_numpy(dtype=float)
            return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, max(len(edges) - 2, 0)).astype(str)
        return s.astype(object).where(s.notna(), "missing").astype(str).to_numpy()

    seen = {p: set(zip(cell(p[0], train[p[0]]), cell(p[1], train[p[1]]), strict=True)) for p in pairs}
    frames = [cf.iloc[:k] for cf in cfs if cf is not None and len(cf)]
    if not frames:
        return None
    cf = pd.concat(frames)
    ok = np.ones(len(cf), dtype=bool)
    for p in pairs:
        ok &= np.array([xy in seen[p] for xy in zip(cell(p[0], cf[p[0]]), cell(p[1], cf[p[1]]), strict=True)])
    return float(ok.mean())


def dice_wrapper(model, dice_data, space: CFSpace, train_df: pd.DataFrame):
    """Our network behind DiCE's ohe-min-max encoding: a fixed linear map into our preprocessed inputs, then
    the (copied) network and a softmax - DiCE's random method wants two softmax outputs."""
    import torch

    enc_cols = list(dice_data.get_ohe_min_max_normalized_data(train_df.iloc[:5]).columns)
    W = np.zeros((len(enc_cols), space.n_out), dtype=np.float32)
    b = np.zeros(space.n_out, dtype=np.float32)
    for j, c in enumerate(space.numeric):
        lo, hi = float(dice_data.data_df[c].min()), float(dice_data.data_df[c].max())
        col = space.num_idx[j]
        W[enc_cols.index(c), col] = (hi - lo) / space.scale[j]
        b[col] = (lo - space.mean[j]) / space.scale[j]
    for g, c in enumerate(space.categorical):
        for li, lv in enumerate(space.levels[g]):
            name = f"{c}_{lv}"
            if name in enc_cols:
                W[enc_cols.index(name), space.cat_idx[g][li]] = 1.0
    net = copy.deepcopy(model.torch_module()).cpu().float().eval()

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.W, self.b, self.net = torch.tensor(W), torch.tensor(b), net

        def forward(self, x):
            return torch.softmax(self.net(x.float() @ self.W + self.b), dim=1)

    return Wrapped().eval()


def run_dice(model, ds, space, queries: pd.DataFrame, k: int, immutable: list[str], seed: int):
    import dice_ml

    feats = list(ds.schema.features)
    train = ds.X("train").copy()
    for c in ds.schema.categorical:  # dlxai treats a missing category as the level "missing"
        train[c] = train[c].astype(object).where(train[c].notna(), "missing").astype(str)
    q = queries.copy()
    for c in ds.schema.categorical:
        q[c] = q[c].astype(object).where(q[c].notna(), "missing").astype(str)
    frame = train.assign(income=ds.y("train"))
    data = dice_ml.Data(dataframe=frame, continuous_features=list(ds.schema.numeric), outcome_name="income")
    wrapped = dice_wrapper(model, data, space, train)
    m = dice_ml.Model(model=wrapped, backend="PYT", func="ohe-min-max")
    exp = dice_ml.Dice(data, m, method="random")
    vary = [f for f in feats if f not in immutable]
    out = []
    start = time.perf_counter()
    for i in range(len(q)):
        try:
            r = exp.generate_counterfactuals(q.iloc[[i]], total_CFs=k, desired_class="opposite",
                                             features_to_vary=vary, random_seed=seed, verbose=False)
            cf = r.cf_examples_list[0].final_cfs_df
        except Exception as exc:  # DiCE raises when it finds none; that counts as invalid
            print(f"dice: query {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
            cf = None
        if cf is not None:
            cf = cf.copy()
            for c in ds.schema.categorical:
                cf[c] = cf[c].astype(object).where(cf[c] != "missing", None)
        out.append(cf)
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--big", type=int, default=1000)
    ap.add_argument("--burden-rows", type=int, default=1000)
    ap.add_argument("--plausible-rows", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for ours (default: torch's own)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--close-penalty", type=float, default=1.0,
                    help="changed_penalty of a second, proximity-first run of ours on the same queries "
                         "(the default, 6, is sparsity-first)")
    add_load_option(ap)
    a = ap.parse_args()
    start_load(a.load)
    k = 3
    ds = load_adult()
    t = time.perf_counter()
    model = train_model(ds, "mlp", seed=a.seed)
    print(f"trained the Adult MLP in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    X = ds.X("test")
    rejected = X[model.predict(X) == 0]
    big = rejected.iloc[: a.big]
    small = rejected.iloc[: a.queries]
    space = CFSpace(model, ds)
    immutable = [s for s in ds.schema.sensitive if s in ds.schema.features]
    same = Constraints(immutable=tuple(immutable), directions={})  # DiCE random has no directions

    keep = SearchOptions(on_failure="keep", num_threads=a.threads)
    find_counterfactuals(model, ds, small.iloc[:2], k=k, constraints=same,
                         options=SearchOptions(on_failure="keep"))  # warm-up
    t = time.perf_counter()
    res_big = find_counterfactuals(model, ds, big, k=k, constraints=same, options=keep)
    ours_big_s = time.perf_counter() - t
    t = time.perf_counter()
    res = find_counterfactuals(model, ds, small, k=k, constraints=same, options=keep)
    ours_s = time.perf_counter() - t
    ours = score(space, model, small, [res.for_query(i) for i in range(len(small))], k)
    t = time.perf_counter()
    res_close = find_counterfactuals(model, ds, small, k=k, constraints=same,
                                     options=replace(keep, changed_penalty=a.close_penalty))
    close_s = time.perf_counter() - t
    close = score(space, model, small, [res_close.for_query(i) for i in range(len(small))], k)
    dice_cfs, dice_s = run_dice(model, ds, space, small, k, immutable, a.seed)
    dice = score(space, model, small, dice_cfs, k)
    pairs = strong_pairs(ds)
    rows_p = rejected.iloc[: a.plausible_rows]
    t = time.perf_counter()
    res_p = find_counterfactuals(model, ds, rows_p, k=k, options=SearchOptions(on_failure="keep",
                                                                                num_threads=a.threads))
    plausible_s = time.perf_counter() - t
    valid_cfs = [res_p.for_query(i) for i in range(len(rows_p))]
    print(json.dumps({
        "queries": len(small), "load": a.load, "ours_s": round(ours_s, 3), "dice_s": round(dice_s, 3),
        "speedup": round(dice_s / ours_s, 1), "ours_validity": round(ours["validity"], 4),
        "dice_validity": round(dice["validity"], 4), "ours_sparsity": ours["sparsity"] and round(ours["sparsity"], 3),
        "dice_sparsity": dice["sparsity"] and round(dice["sparsity"], 3),
        "ours_proximity": ours["proximity"] and round(ours["proximity"], 3),
        "dice_proximity": dice["proximity"] and round(dice["proximity"], 3),
        "ours_plausible_pairs_share": round(plausible_pairs_share(ds, pairs, valid_cfs, k), 4),
        "ours_plausible_rows": len(rows_p), "ours_plausible_validity": round(float(res_p.valid.mean()), 4),
        "ours_plausible_s": round(plausible_s, 2), "strong_pairs": [list(p) for p in pairs],
        "plausible_pairs_share_50": {
            "ours": plausible_pairs_share(ds, pairs, [res.for_query(i) for i in range(len(small))], k),
            "dice": plausible_pairs_share(ds, pairs, dice_cfs, k)},
        "ours_1000x3_s": round(ours_big_s, 3), "ours_1000x3_queries": len(big),
        "ours_1000x3_validity": round(float(res_big.valid.mean()), 4),
        "ours_close_setting": {"changed_penalty": a.close_penalty, "s": round(close_s, 3),
                                **{key: v and round(v, 3) for key, v in close.items()}},
    }), flush=True)

    sur = fit_surrogate(model, ds, max_depth=4, sensitive=["sex", "race"])
    t = time.perf_counter()
    costs = recourse_costs(model, ds, max_rows=a.burden_rows, k=1, seed=a.seed)
    burden_s = time.perf_counter() - t

    def fmt(b):
        return {str(g): {"burden": round(r.burden, 3), "ci": [round(r.ci_low, 3), round(r.ci_high, 3)],
                         "rejected": int(r.rejected), "no_recourse_rate": round(r.no_recourse_rate, 3)}
                for g, r in b.by_group.iterrows()}

    bs, br = recourse_burden(model, ds, "sex", costs=costs), recourse_burden(model, ds, "race", costs=costs)
    print(json.dumps({
        "surrogate_depth4_fidelity": round(sur.fidelity, 4),
        "surrogate_depth4_fidelity_by_group": {f"{a_}={g}": round(v, 4) for (a_, g), v in
                                               sur.fidelity_by_group["fidelity"].items()},
        "burden_rows": len(costs), "burden_s": round(burden_s, 2),
        "burden_sex": fmt(bs), "burden_sex_gap": [round(bs.gap, 3), [round(x, 3) for x in bs.gap_ci]],
        "burden_race": fmt(br), "burden_race_gap": [round(br.gap, 3), [round(x, 3) for x in br.gap_ci]],
    }), flush=True)


if __name__ == "__main__":
    main()
