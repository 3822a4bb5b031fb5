"""Counterfactual explanations (moved into a package; split into modules in the next commit)."""

from dlxai.explain.counterfactuals.space import *  # noqa: F403
from dlxai.explain.counterfactuals.space import _find, _mad  # noqa: F401
