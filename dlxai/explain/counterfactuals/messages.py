"""What the counterfactual search tells a user when it cannot do what was asked (tests match on these)."""

ALREADY_DESIRED = (
    "The model already gives row(s) {rows} the desired outcome (class {desired}; P(favourable) = {proba}), so "
    "there is no decision to flip. Pick a row the model rejects, or ask for the other class."
)
ALL_IMMUTABLE = (
    "Every feature is fixed: immutable {immutable}, allowed to vary {vary}. A counterfactual needs at least one "
    "feature it may change; allow e.g. {suggest} to vary."
)
NO_COUNTERFACTUAL = (
    "No counterfactual within the constraints was found for row(s) {rows}. {binding}"
)
BINDING_ONE = (
    "The binding constraint is the {name}: with it lifted a counterfactual exists ({detail}). Relax it, or allow "
    "more features to vary."
)
BINDING_ALL = (
    "No single constraint is to blame, but lifting all of them (ranges, directions, immutable features) gives "
    "one: allow more features to vary and widen the ranges."
)
BINDING_NONE = (
    "Even with every constraint lifted the search found none: the model may not give this outcome to any row "
    "near this one. Try more steps or another row."
)
BAD_K = "k (counterfactuals per row) must be a whole number from 1 to 20; received {value!r}. Use e.g. 3."
BAD_DIRECTION = (
    "Direction for {feature!r} must be 'increase', 'decrease' or 'any'; received {value!r}."
)
BAD_RANGE = (
    "Range for {feature!r} must be (low, high) with low <= high in the feature's own units; received {value!r}."
)
NOT_NUMERIC_CONSTRAINT = (
    "{what} only apply to numeric features; {feature!r} is categorical. Numeric features: {numeric}."
)
BAD_DESIRED = "desired_class must be 'opposite', 0 or 1; received {value!r}."
BAD_PENALTY = (
    "changed_penalty (the cost of each changed feature, in MADs) must be a number >= 0; received {value!r}. "
    "Use e.g. 6 for few changed features, 1 for the smallest changes."
)
BAD_METHOD = "method must be 'auto', 'gradient' or 'random'; received {value!r}."
BAD_THREADS = "num_threads must be None or a positive whole number; received {value!r}."
BAD_OPTIONS = "options must be a SearchOptions (dlxai.explain.counterfactuals.SearchOptions); received {kind}."
BAD_ON_FAILURE = "on_failure must be 'raise' or 'keep'; received {value!r}."
NO_PREPROCESSOR = (
    "{name} has no dlxai preprocessor, so raw rows cannot be mapped to its inputs. Counterfactuals need a model "
    "trained or wrapped in dlxai with its preprocessing."
)
BAD_PLAUSIBILITY = "plausibility must be 'prefer', 'require' or 'off'; received {value!r}."
BAD_ASSOCIATION = (
    "association_threshold must be a number in (0, 1] (Cramér's V, η or |Spearman| above which two features are "
    "kept consistent); received {value!r}. Use e.g. 0.5."
)
BAD_SUPPORT = (
    "min_support must be None or a whole number >= 1 (training rows a pair of values needs to count as seen); "
    "received {value!r}."
)
