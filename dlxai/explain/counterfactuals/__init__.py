"""Counterfactual explanations: what would have to change for the model to decide otherwise.

:func:`find_counterfactuals` takes raw rows, the constraints on what may change (:class:`Constraints`) and how to
search (:class:`SearchOptions`), and returns a :class:`CounterfactualResult`.  Two searches share one problem
set-up (:class:`CFSpace`, in ``space``):

- ``"gradient"`` (dlxai's torch models, ``gradient``): a batched projected-gradient search in the model's
  preprocessed space, pooled with the one- and two-feature flips and sparse random proposals of ``searches``.
- ``"random"`` (any model with ``predict_proba``, ``searches``): candidates that change a random few allowed
  features to values drawn from the training rows, pooled with the same flips.

Either way changes that are not needed are reverted and the rest shrunk, ``k`` counterfactuals that change
different features are picked per row (``select``), and every one is re-checked through ``predict_proba``
(``find``).  Every search keeps to what the training rows show (``world``): strongly associated features take
values seen together, a column that encodes another moves with it, and a feature tied to an immutable one keeps
to the levels seen with the row's value; the ``plausible`` column says whether a counterfactual does.
"""

from dlxai.explain.counterfactuals.find import METHODS, PLAUSIBILITY, SearchOptions, find_counterfactuals
from dlxai.explain.counterfactuals.messages import (
    ALL_IMMUTABLE,
    ALREADY_DESIRED,
    BAD_ASSOCIATION,
    BAD_DESIRED,
    BAD_DIRECTION,
    BAD_K,
    BAD_METHOD,
    BAD_ON_FAILURE,
    BAD_OPTIONS,
    BAD_PENALTY,
    BAD_PLAUSIBILITY,
    BAD_RANGE,
    BAD_SUPPORT,
    BAD_THREADS,
    BINDING_ALL,
    BINDING_NONE,
    BINDING_ONE,
    NO_COUNTERFACTUAL,
    NO_PREPROCESSOR,
    NOT_NUMERIC_CONSTRAINT,
)
from dlxai.explain.counterfactuals.result import CounterfactualResult
from dlxai.explain.counterfactuals.select import counterfactual_metrics
from dlxai.explain.counterfactuals.space import DIRECTIONS, CFSpace, Constraints
from dlxai.explain.counterfactuals.world import World

__all__ = [
    "ALL_IMMUTABLE", "ALREADY_DESIRED", "BAD_ASSOCIATION", "BAD_DESIRED", "BAD_DIRECTION", "BAD_K", "BAD_METHOD",
    "BAD_ON_FAILURE", "BAD_OPTIONS", "BAD_PENALTY", "BAD_PLAUSIBILITY", "BAD_RANGE", "BAD_SUPPORT", "BAD_THREADS",
    "BINDING_ALL", "BINDING_NONE", "BINDING_ONE", "DIRECTIONS", "METHODS", "NO_COUNTERFACTUAL", "NO_PREPROCESSOR",
    "NOT_NUMERIC_CONSTRAINT", "PLAUSIBILITY", "CFSpace", "Constraints", "CounterfactualResult", "SearchOptions",
    "World", "counterfactual_metrics", "find_counterfactuals",
]
