"""What mitigation tells the user: errors and the notes on a result (tests match on these constants)."""

UNKNOWN_METHOD = "Unknown mitigation method {method!r}. Choose one of: {choices}."
UNKNOWN_CONSTRAINT = "Method {method!r} does not take the constraint {constraint!r}. Choose one of: {choices}."
BAD_STRENGTH = "{name} for {method} must be {rule}; received {value!r}. {hint}"
BAD_MAX_ITER = "max_iter must be a whole number of at least 1; received {value!r}. Use e.g. 50."
BAD_MAX_ROWS = (
    "max_rows must be None (every training row) or a whole number of at least {least}; received {value!r}. "
    "Use e.g. 8000."
)
SAMPLED_ROWS = (
    "Retrained on a stratified sample of {rows:,} of the {total:,} training rows (by group and label, seed {seed}) "
    "so that the run finishes quickly; the test-split scores use every test row. Raise the number of training rows "
    "for a closer fit, at a proportional cost in time."
)
NOT_AN_AUDIT_MODEL = "model must be a dlxai AuditModel; received {kind}. Use train_model()."
NOT_A_DATASET = "dataset must be a dlxai TabularDataset; received {kind}."
ALREADY_MITIGATED = (
    "{name} is already a mitigated mixture/post-processed model; mitigate the original model (or a deterministic "
    "member) instead."
)
EMPTY_SWEEP = "strengths is empty: give at least one value to sweep over."
UNKNOWN_ESTIMATOR_PARAMS = "Unknown estimator parameters {unknown} for {kind}. Known: {known}."
SENSITIVE_AT_PREDICTION = (
    "{name} needs the sensitive attribute(s) {columns} at prediction time (its thresholds differ by group), but "
    "the rows passed lack {missing}. Pass frames that hold those columns (dataset.frame(split), not dataset.X(split)), "
    "or make a model active that does not need them (a reduction, penalised training or reweighing)."
)
NOT_ONE_NETWORK = (
    "{name} is a {what}, not one PyTorch network, so gradient methods do not apply. Make the best deterministic "
    "member (or the original model) active, or use a model-agnostic method (SHAP kernel, surrogate tree)."
)
NOT_A_NETWORK_THRESHOLDED = (
    "{name} is the original model with a decision threshold per group (Fairlearn's ThresholdOptimizer), not one "
    "PyTorch network, so gradient methods do not apply. {original} Kernel SHAP, counterfactuals and the surrogate "
    "tree explain this model itself, each row scored with its own groups"
)
THRESHOLDED_NETWORK = (
    "Make the original model active for them (Mitigation → Make a model active): post-processing only moves its "
    "threshold per group."
)
THRESHOLDED_NO_NETWORK = "The original model is not a PyTorch network either, so it has no gradients to explain with."
NEEDS_TORCH = (
    "Penalised training retrains dlxai's PyTorch MLP, but the active model, {name}, is {kind}. Train an MLP on "
    "Data & model, or use a reduction (exponentiated gradient, grid search), which work with any classifier."
)
NO_IMPROVEMENT = (
    "No improvement: {metric} is {after:.3f} after {method} (95% CI {lo:.3f}-{hi:.3f}) against {before:.3f} before. "
    "The constraint did not reduce the disparity on the test split; try a stronger setting or another method."
)
NOT_MET = (
    "Constraint not met on the test split: {metric} is {after:.3f} (95% CI {lo:.3f}-{hi:.3f}), above the bound "
    "{bound:.3f} that was asked for. The training split may have met it; try more iterations, or accept a larger bound."
)
RANDOMIZED_NOTE = (
    "This model is randomized: each decision is drawn with the mixture's probability, using seed {seed} so that "
    "results are reproducible. Gradient explanations need one network: make the best deterministic member active."
)
POST_PROCESSING_NOTE = (
    "Post-processing needs {columns} at prediction time: this model reads it from each row, so it cannot score rows "
    "without it. Its decisions near the group thresholds are randomized (seed {seed})."
)
NOT_CONVERGED = (
    "Exponentiated gradient stopped after {iters} iterations with duality gap {gap:.4f} (target {nu:.4f}): the "
    "solution is approximate. Raise max_iter for a tighter result."
)
MEMBER_CHOICE = (
    "Best deterministic member: the most accurate of the {n} mixture members whose training-split {metric} is at "
    "most {bound:.3f}; it has its own metrics below."
)
MEMBER_NONE_FAIR = (
    "Best deterministic member: none of the {n} mixture members has a training-split {metric} within {bound:.3f}, "
    "so the fairest one ({gap:.3f}) is offered; only the randomized mixture meets the constraint."
)
