"""Models that read group columns from each row they score, and how methods that build rows keep those groups.

A post-processed model (Fairlearn's ThresholdOptimizer) applies a different threshold per group: besides its input
features it reads the sensitive columns (``model.sensitive_columns``) of each row it scores.  Methods that score rows
they build (kernel SHAP's coalitions, a counterfactual search's candidates, the surrogate tree's neighbours) score
every built row with the groups of the real row it stands for: a person's group does not change when their features
are perturbed, and the group is not something the method attributes or changes.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd


def group_columns(model, dataset=None) -> list[str]:
    """The group columns ``model`` reads from each row it scores ([] for a model that reads only its features); with
    ``dataset``, only those that are not among its features (the ones a feature row lacks)."""
    cols = list(getattr(model, "sensitive_columns", ()) or ())
    return cols if dataset is None else [c for c in cols if c not in dataset.schema.features]


def scored_rows(model, dataset, split: str) -> pd.DataFrame:
    """The rows of ``split`` as the model scores them: its input features plus the group columns it reads."""
    return dataset.frame(split)[list(dataset.schema.features) + group_columns(model, dataset)]


def held_groups(model, rows: pd.DataFrame) -> pd.DataFrame | None:
    """The groups ``model`` scores each of ``rows`` with (what its ``predict_proba`` passes on as
    ``sensitive_features``, positionally indexed), or None for a model that reads no group columns.  Rows without
    those columns raise the model's own :class:`~dlxai.errors.UserInputError`."""
    if not group_columns(model):
        return None
    return model.sensitive_features(rows).reset_index(drop=True)


def repeat_groups(groups: pd.DataFrame, positions) -> pd.DataFrame:
    """The groups of the rows at ``positions`` (one per built row), positionally indexed."""
    return groups.iloc[np.asarray(positions, dtype=np.int64)].reset_index(drop=True)


def group_parts(groups: pd.DataFrame) -> list[np.ndarray]:
    """The positions of the rows sharing one combination of groups, one array per combination (in order of first
    appearance)."""
    keys = pd.MultiIndex.from_frame(groups.astype(str)) if groups.shape[1] > 1 else groups.iloc[:, 0].astype(str)
    codes, _ = pd.factorize(keys)
    return [np.nonzero(codes == c)[0] for c in range(int(codes.max()) + 1)] if len(codes) else []


def sklearn_module(estimator):
    """A torch module wrapping a scikit-learn classifier's ``predict_proba`` (no gradients), on a copy of it.

    For an estimator that reads group columns at prediction (a ThresholdOptimizer's), ``forward(x, groups)`` scores
    row ``j`` of ``x`` with row ``j`` of ``groups`` (one row: every row with it), and ``held(groups)`` is a module on
    the same copy that scores every row it is given with those groups."""
    import torch

    class SklearnProba(torch.nn.Module):
        def __init__(self, est, groups=None):
            super().__init__()
            self.est, self.groups = est, groups

        def held(self, groups):
            return SklearnProba(self.est, groups)

        def forward(self, x, groups=None):
            arr = x.detach().cpu().numpy().astype(np.float32)
            g = self.groups if groups is None else groups
            if g is None:
                p = self.est.predict_proba(arr)
            else:
                p = self.est.predict_proba(arr, sensitive_features=g if len(g) == len(arr) else
                                           repeat_groups(g, np.zeros(len(arr), dtype=np.int64)))
            return torch.as_tensor(np.asarray(p, dtype=np.float32), device=x.device)

    return SklearnProba(copy.deepcopy(estimator))
