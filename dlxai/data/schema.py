"""What a tabular dataset means: which column is the target, what counts as positive, who is protected."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlxai.errors import UserInputError

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Schema:
    """Roles of the columns of a tabular dataset.

    ``numeric`` and ``categorical`` are the model's input features, in the order the model sees
    them.  Sensitive attributes may be features too (the model sees them) or extra columns used
    only for the audit (``age_band`` derived from ``age``).
    """

    target: str
    positive_label: object
    sensitive: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ignore: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("sensitive", "numeric", "categorical", "ignore"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise UserInputError(
                f"Columns {sorted(both)} are declared both numeric and categorical; give each feature one type."
            )
        if self.target in self.features:
            raise UserInputError(
                f"The target {self.target!r} is also listed as a feature; remove it from the features."
            )
        if not self.features:
            raise UserInputError("The schema has no feature columns; declare at least one numeric or categorical feature.")

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def feature_type(self, column: str) -> str:
        if column in self.numeric:
            return NUMERIC
        if column in self.categorical:
            return CATEGORICAL
        raise UserInputError(f"{column!r} is not a feature of this schema. Features: {list(self.features)}.")

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "positive_label": self.positive_label,
            "sensitive": list(self.sensitive),
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "ignore": list(self.ignore),
        }
