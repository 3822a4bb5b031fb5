"""Everything one audit found, in one frozen bundle: the input of the PDF, the JSON and the CLI's exit code.

Two ways in:

- :func:`audit_model` for a dataset and a trained :class:`~dlxai.models.base.AuditModel` (the pages, the
  ``demo`` command): performance and fairness on the test split;
- :func:`audit_predictions` for a table that already holds decisions or scores (a pipeline's output;
  the ``audit`` command without a model): no model needed.

Pass/fail checks are rules such as ``demographic_parity_difference>0.1`` (:func:`parse_rule`): a rule is
*violated* when the comparison holds for some audited attribute.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from dlxai import __version__, errors
from dlxai.data.predictions import Decisions, decisions
from dlxai.errors import UserInputError
from dlxai.fairness.metrics import SUMMARY_METRICS, FairnessAudit, audit_fairness
from dlxai.performance import PerformanceReport, evaluate
from dlxai.report import messages
from dlxai.validation import as_levels, check_positive_label, check_target_not_sensitive, check_threshold

PERFORMANCE_RULE_METRICS = ("accuracy", "balanced_accuracy", "roc_auc")
RULE_METRICS = SUMMARY_METRICS + PERFORMANCE_RULE_METRICS
RULE_OPS = (">=", "<=", ">", "<")
# used by the report's executive summary when the user sets no thresholds (never by the CLI's exit code)
DEFAULT_RULES = ("demographic_parity_difference>0.1", "equalized_odds_difference>0.1", "demographic_parity_ratio<0.8")
NEGATIVE_LABELS = {"0", "no", "n", "false", "f", "negative", "neg", "bad", "denied", "rejected", "reject", "fail",
                   "failed", "<=50k", "-1"}

_RULE_RE = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")

Progress = Callable[[float, str], None]


def _noop(fraction: float, message: str) -> None:
    return None


@dataclass(frozen=True)
class Rule:
    """``metric op value``: violated when the audited value satisfies the comparison."""

    metric: str
    op: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def violated_by(self, x: float | None) -> bool | None:
        if x is None or not np.isfinite(x):
            return None
        return {">": x > self.value, ">=": x >= self.value, "<": x < self.value, "<=": x <= self.value}[self.op]


def parse_rule(text: str) -> Rule:
    """Parse ``"demographic_parity_difference>0.1"`` strictly; anything else is a :class:`UserInputError`."""
    m = _RULE_RE.match(str(text))
    if not m:
        raise UserInputError(messages.BAD_FAIL_ON.format(text=text, metrics=", ".join(RULE_METRICS)))
    metric, op, value = m.group(1), m.group(2), float(m.group(3))
    if metric not in RULE_METRICS:
        raise UserInputError(messages.UNKNOWN_RULE_METRIC.format(metric=metric, metrics=", ".join(RULE_METRICS)))
    return Rule(metric, op, value)


@dataclass(frozen=True)
class CheckResult:
    rule: Rule
    attribute: str  # a sensitive attribute, or "overall" for performance rules
    value: float | None
    violated: bool | None  # None: the value is undefined (e.g. no positive rows in a group)

    def to_dict(self) -> dict:
        return {"rule": self.rule.text, "metric": self.rule.metric, "attribute": self.attribute, "value": self.value,
                "violated": self.violated}


def evaluate_rules(rules, fairness: dict[str, FairnessAudit], performance: PerformanceReport | None) -> tuple:
    out = []
    for rule in rules:
        if rule.metric in PERFORMANCE_RULE_METRICS:
            if performance is None:
                out.append(CheckResult(rule, "overall", None, None))
                continue
            v = float(getattr(performance, rule.metric))
            v = v if np.isfinite(v) else None
            out.append(CheckResult(rule, "overall", v, rule.violated_by(v)))
            continue
        for attr, audit in fairness.items():
            v = float(audit.summary[rule.metric])
            v = v if np.isfinite(v) else None
            out.append(CheckResult(rule, attr, v, rule.violated_by(v)))
    return tuple(out)


@dataclass(frozen=True)
class DataSummary:
    name: str
    rows: int  # rows audited
    columns: int
    target: str
    positive_label: Any
    positive_rate: float
    sha256: str
    split: str  # which rows were audited: "test" split or the whole "file"
    group_sizes: dict  # attribute -> {group: rows} over the audited rows
    source: str = ""
    description: str = ""
    train_rows: int | None = None
    test_rows: int | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name, "rows": self.rows, "columns": self.columns, "target": self.target,
            "positive_label": _jsonable(self.positive_label), "positive_rate": self.positive_rate,
            "sha256": self.sha256, "split": self.split, "train_rows": self.train_rows, "test_rows": self.test_rows,
            "group_sizes": self.group_sizes, "source": self.source,
        }


@dataclass(frozen=True)
class AuditBundle:
    """The result objects one audit produced, plus every parameter that produced them."""

    data: DataSummary
    model_card: dict
    performance: PerformanceReport | None
    fairness: dict  # attribute -> FairnessAudit
    threshold: float | None
    rules: tuple = ()
    checks: tuple = ()
    user_rules: bool = False  # False: the checks come from DEFAULT_RULES
    params: dict = field(default_factory=dict)
    explanations: Any = None
    counterfactuals: Any = None
    surrogate: Any = None
    mitigation: Any = None
    extras: dict = field(default_factory=dict)  # derived tables, e.g. explanation importance per group

    @property
    def passed(self) -> bool:
        return not any(c.violated for c in self.checks)

    @property
    def randomized(self) -> bool:
        card = self.model_card or {}
        text = f"{card.get('kind', '')} {card.get('name', '')}".lower()
        return bool(card.get("randomized")) or "randomized" in text

    def with_results(self, **results) -> AuditBundle:
        """The same bundle with optional results attached (explanations=..., mitigation=...)."""
        from dataclasses import replace

        return replace(self, **results)

    def to_dict(self) -> dict:
        """The CLI's JSON (layout documented in the README and pinned by tests)."""
        from dlxai.report.model_results import results_json

        out = {
            "dlxai_version": __version__,
            "passed": self.passed if self.user_rules else True,  # no --fail-on: nothing to fail
            "threshold": self.threshold,
            "data": self.data.to_dict(),
            "model": {k: _jsonable(v) for k, v in (self.model_card or {}).items()},
            "performance": None if self.performance is None else _clean(self.performance.to_dict()),
            "fairness": {attr: a.to_dict() for attr, a in self.fairness.items()},
            "checks": [c.to_dict() for c in self.checks] if self.user_rules else [],
            "parameters": _clean(self.params),
            **results_json(self),  # explanations, counterfactuals, surrogate: only those present
        }
        details = self.extras.get("performance_details")
        if details:  # e.g. an image audit's per-class metrics
            out["performance_details"] = [_clean(d.to_dict()) for d in details]
        return out


# --- helpers ------------------------------------------------------------------------------------
def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (str, int, bool)):
        return v
    return str(v)


def _clean(d):
    return _jsonable(d)


def library_versions() -> dict:
    """Versions of what produced the numbers (read from installed metadata; nothing heavy is imported)."""
    from importlib import metadata

    out = {"python": platform.python_version(), "dlxai": __version__}
    for dist in ("numpy", "pandas", "scikit-learn", "torch", "fairlearn", "captum", "shap", "plotly", "kaleido",
                 "matplotlib", "fpdf2"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def default_positive_label(values) -> Any:
    """The favourable label of a two-valued target when the user names none.

    The value that is not a "negative-looking" one (0, no, false, bad, denied, rejected, <=50K, -1...);
    if neither or both look negative, the larger of the two (sorted as numbers, else as text).
    """
    vals = [v for v in pd.unique(pd.Series(list(values)).dropna())]
    if len(vals) != 2:
        raise UserInputError(errors.NON_BINARY_TARGET.format(column="target", n=len(vals),
                                                             values=sorted(map(str, vals))[:10]))
    neg = [str(v).strip().lower() in NEGATIVE_LABELS or (isinstance(v, (bool, np.bool_)) and not v) for v in vals]
    if neg[0] != neg[1]:
        return vals[1] if neg[0] else vals[0]
    try:
        return max(vals)
    except TypeError:
        return max(vals, key=str)


def _group_sizes(sensitive: pd.DataFrame) -> dict:
    out = {}
    for c in sensitive.columns:
        vc = as_levels(sensitive[c]).value_counts().sort_index()
        out[str(c)] = {str(k): int(v) for k, v in vc.items()}
    return out


def _fairness(y, pred, sensitive: pd.DataFrame, attrs, *, n_bootstrap, seed, min_group_size, confidence,
              progress: Progress, start: float, span: float) -> dict:
    out = {}
    for i, attr in enumerate(attrs):
        progress(start + span * i / len(attrs), f"Fairness by {attr} ({n_bootstrap:,} bootstrap resamples)")
        out[attr] = audit_fairness(y, pred, sensitive[attr], n_bootstrap=n_bootstrap, seed=seed,
                                   min_group_size=min_group_size, confidence=confidence)
    return out


def _check_common(sensitive, n_bootstrap, min_group_size, threshold):
    if not sensitive:
        raise UserInputError(errors.NO_SENSITIVE)
    if len(set(sensitive)) != len(sensitive):
        raise UserInputError(f"A sensitive attribute is listed twice: {list(sensitive)}. Name each once.")
    if threshold is not None:
        check_threshold(threshold)


def _rules(rules) -> tuple[tuple, bool]:
    parsed = tuple(r if isinstance(r, Rule) else parse_rule(r) for r in (rules or ()))
    if parsed:
        return parsed, True
    return tuple(parse_rule(r) for r in DEFAULT_RULES), False


# --- entry points -------------------------------------------------------------------------------
def audit_model(
    model,
    dataset,
    *,
    sensitive=None,
    threshold: float = 0.5,
    rules=(),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    progress: Progress | None = None,
    **results,
) -> AuditBundle:
    """Performance and per-attribute fairness of ``model`` on ``dataset``'s test split.

    ``sensitive`` defaults to the schema's sensitive attributes; each is audited on its own.
    ``results`` may attach optional result objects: explanations, counterfactuals, surrogate, mitigation.
    """
    progress = progress or _noop
    attrs = list(sensitive) if sensitive else list(dataset.schema.sensitive)
    _check_common(attrs, n_bootstrap, min_group_size, threshold)
    unknown = set(results) - {"explanations", "counterfactuals", "surrogate", "mitigation"}
    if unknown:
        raise UserInputError(f"Unknown result name(s) {sorted(unknown)}; use explanations, counterfactuals, "
                             "surrogate or mitigation.")
    parsed, user_rules = _rules(rules)
    sens = dataset.sensitive("test", attrs)
    progress(0.0, f"Predicting {len(dataset.test):,} test rows")
    # a mitigated model may read the sensitive columns at prediction time, and may draw randomized decisions
    rows = dataset.frame("test") if getattr(model, "sensitive_columns", ()) else dataset.X("test")
    proba = model.predict_proba(rows)
    y = dataset.y("test")
    randomized = bool(getattr(model, "randomized", False))
    pred = np.asarray(model.predict(rows), dtype=np.int64) if randomized else (proba >= threshold).astype(np.int64)
    performance = evaluate(y, proba, threshold=threshold)
    fairness = _fairness(y, pred, sens, attrs, n_bootstrap=n_bootstrap, seed=seed, min_group_size=min_group_size,
                         confidence=confidence, progress=progress, start=0.2, span=0.8)
    summary = dataset.summary()
    data = DataSummary(
        name=dataset.name, rows=len(dataset.test), columns=dataset.train.shape[1], target=dataset.schema.target,
        positive_label=dataset.schema.positive_label, positive_rate=float(y.mean()), sha256=dataset.fingerprint,
        split="test", group_sizes=_group_sizes(sens), source=dataset.provenance, description=dataset.description,
        train_rows=summary["train_rows"], test_rows=summary["test_rows"],
    )
    params = {
        "mode": "model", "sensitive": attrs, "threshold": threshold, "n_bootstrap": int(n_bootstrap),
        "confidence": confidence, "bootstrap_seed": seed, "min_group_size": int(min_group_size),
        "rules": [r.text for r in parsed], "model_settings": dict(model.params), "schema": dataset.schema.to_dict(),
        "data_sha256": dataset.fingerprint, "model_sha256": model.fingerprint,
    }
    card = {**model.card(), **({"randomized": True} if randomized else {})}
    extras = {}
    if results.get("explanations") is not None:
        extras["explanation_groups"] = explanation_groups(results["explanations"], dataset, attrs)
    progress(1.0, "Audit done")
    return AuditBundle(data, card, performance, fairness, threshold, parsed,
                       evaluate_rules(parsed, fairness, performance), user_rules, params, extras=extras, **results)


def explanation_groups(explanations, dataset, attrs, top: int = 8) -> dict:
    """Mean |attribution| of the ``top`` features per group of each attribute, for the explained test rows.

    Works on an AttributionResult (or a list/dict holding one) whose rows are test-split rows
    (``row_index``); anything else gives ``{}``.
    """
    items = list(explanations.values()) if isinstance(explanations, dict) else (
        list(explanations) if isinstance(explanations, (list, tuple)) else [explanations])
    r = next((i for i in items if hasattr(i, "by_feature") and getattr(i, "row_index", None) is not None), None)
    if r is None:
        return {}
    by = r.by_feature().abs()
    idx = pd.Index(r.row_index)
    if not idx.isin(dataset.test.index).all():
        return {}
    cols = by.mean(axis=0).sort_values(ascending=False).head(top).index
    out = {}
    for attr in attrs:
        groups = dataset.test.loc[idx, attr].astype(str).to_numpy()
        out[attr] = by[cols].groupby(groups).mean()
    return out


def frame_sha256(df: pd.DataFrame) -> str:
    import hashlib

    h = hashlib.sha256(",".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def audit_predictions(
    frame: pd.DataFrame,
    *,
    target: str,
    sensitive,
    prediction_column: str | None = None,
    score_column: str | None = None,
    threshold: float | None = None,
    higher_is_favourable: bool = True,
    positive_label=None,
    rules=(),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    name: str = "data",
    source: str = "",
    progress: Progress | None = None,
) -> AuditBundle:
    """Audit decisions already made: a ``prediction_column`` (0/1, booleans, or the target's own labels) or a
    ``score_column`` on any finite scale cut at ``threshold`` (favourable at or above it, or at or below it when
    ``higher_is_favourable`` is False), read by :func:`dlxai.data.predictions.decisions`.  No model is needed."""
    progress = progress or _noop
    if not isinstance(frame, pd.DataFrame):
        raise UserInputError(f"Data must be a pandas DataFrame; received {type(frame).__name__}.")
    if len(frame) == 0:
        raise UserInputError(errors.EMPTY_INPUT.format(what="the data"))
    attrs = list(sensitive or [])
    _check_common(attrs, n_bootstrap, min_group_size, None)  # the threshold is on the score's scale: decisions() checks it
    if (prediction_column is None) == (score_column is None):
        raise UserInputError(messages.PREDICTION_SOURCE.format(pred=prediction_column, score=score_column))
    for c in [target, *attrs, prediction_column or score_column]:
        if c not in frame.columns:
            raise UserInputError(errors.UNKNOWN_COLUMN.format(column=c, available=list(frame.columns)))
    check_target_not_sensitive(target, attrs)
    parsed, user_rules = _rules(rules)
    t = frame[target]
    if t.isna().any():
        raise UserInputError(f"The target {target!r} is missing in {int(t.isna().sum())} rows. Drop those rows or "
                             "fill them.")
    values = list(pd.unique(t))
    if len(values) != 2:
        raise UserInputError(errors.NON_BINARY_TARGET.format(column=target, n=len(values),
                                                             values=sorted(map(str, values))[:10]))
    if positive_label is None:
        positive = default_positive_label(values)
    else:
        positive = check_positive_label(values, positive_label, target)
    y = (t == positive).to_numpy(np.int64)
    progress(0.05, "Reading decisions")
    made = decisions(frame, prediction=prediction_column, score=score_column, threshold=threshold,
                     higher_is_favourable=higher_is_favourable, target_values=values, positive=positive)
    pred = made.y_pred
    performance = _performance(y, made, threshold, higher_is_favourable)
    sens = frame[attrs]
    fairness = _fairness(y, pred, sens, attrs, n_bootstrap=n_bootstrap, seed=seed, min_group_size=min_group_size,
                         confidence=confidence, progress=progress, start=0.1, span=0.9)
    sha = frame_sha256(frame)
    data = DataSummary(name=name, rows=len(frame), columns=frame.shape[1], target=target, positive_label=positive,
                       positive_rate=float(y.mean()), sha256=sha, split="file", group_sizes=_group_sizes(sens),
                       source=source)
    card = {"name": "predictions-only audit", "kind": "predictions", "source": source or name,
            "decisions_from": made.described, "parameters": None, "sha256": None}
    params = {
        "mode": "predictions", "target": target, "positive_label": _jsonable(positive), "sensitive": attrs,
        "prediction_column": prediction_column, "score_column": score_column, "threshold": threshold,
        "higher_is_favourable": bool(higher_is_favourable) if score_column is not None else None,
        "n_bootstrap": int(n_bootstrap), "confidence": confidence, "bootstrap_seed": seed,
        "min_group_size": int(min_group_size), "rules": [r.text for r in parsed], "data_sha256": sha,
    }
    progress(1.0, "Audit done")
    return AuditBundle(data, card, performance, fairness, threshold, parsed,
                       evaluate_rules(parsed, fairness, performance), user_rules, params)


def _performance(y: np.ndarray, made: Decisions, threshold, higher_is_favourable: bool) -> PerformanceReport:
    """Scores that are probabilities of the favourable label are evaluated as such (calibration, Brier); a
    prediction column, and a score on another scale, through the decisions (a score adds its ranking's ROC AUC)."""
    if made.scores is not None and higher_is_favourable and ((made.scores >= 0) & (made.scores <= 1)).all():
        return evaluate(y, made.scores, threshold=float(threshold))
    performance = evaluate(y, made.y_pred.astype(np.float64), threshold=0.5)
    if made.scores is None:
        return performance
    from sklearn.metrics import roc_auc_score

    ranked = made.scores if higher_is_favourable else -made.scores
    auc = float(roc_auc_score(y, ranked)) if len(np.unique(y)) == 2 else float("nan")
    return replace(performance, threshold=float(threshold), roc_auc=auc)
