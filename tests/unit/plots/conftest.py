"""Small result objects built by hand, so figure tests run without training anything."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from dlxai.fairness.mitigation import Front, MitigationResult, Scores


def scores(accuracy: float, dp: float, eo: float) -> Scores:
    return Scores(accuracy, (accuracy - 0.02, accuracy + 0.02), dp, (max(dp - 0.03, 0.0), dp + 0.03), eo,
                  (max(eo - 0.04, 0.0), eo + 0.04), eo / 2, (0.0, eo), 0.3, {"female": 0.25, "male": 0.35})


@pytest.fixture(scope="session")
def front() -> Front:
    """A penalised-training sweep over two strengths, shaped as :func:`dlxai.fairness.mitigation.sweep` returns it."""
    before = scores(0.80, 0.20, 0.25)
    results = tuple(
        MitigationResult("penalised", "demographic_parity", w, ("sex",), SimpleNamespace(name=f"mlp w={w:g}", fingerprint=f"{int(w):064d}"), before,
                         scores(0.80 - 0.01 * w, 0.20 / (1 + w), 0.25 / (1 + w)), 1.5, ())
        for w in (1.0, 4.0)
    )
    rows = [{"label": "Original", "strength": np.nan, **before.row(), "fit_seconds": 2.0, "model_name": "mlp"}]
    rows += [{"label": r.label, "strength": r.strength, **r.after.row(), "fit_seconds": r.fit_seconds,
              "model_name": r.model.name} for r in results]
    return Front("penalised", "demographic_parity", ("sex",), pd.DataFrame(rows), results, before)
