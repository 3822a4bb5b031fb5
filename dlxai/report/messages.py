"""Messages of the report and the CLI that tests match on (module constants, formatted with ``.format``)."""

BAD_FAIL_ON = (
    "Cannot read the threshold rule {text!r}. Write it as METRIC OP VALUE with OP one of >, >=, <, <=, e.g. "
    "\"demographic_parity_difference>0.1\". Metrics: {metrics}."
)
UNKNOWN_RULE_METRIC = "Unknown metric {metric!r} in a threshold rule. Use one of: {metrics}."
PREDICTION_SOURCE = (
    "Give exactly one source of decisions: a prediction column (--prediction-column) or a score column with a "
    "threshold (--score-column, --threshold), or a model (--model); received prediction column {pred!r} and score "
    "column {score!r}."
)
UNREADABLE_DATA = "Cannot read {path!r} as {kind}: {reason}. Pass a CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet) file."
UNKNOWN_DATA_FORMAT = (
    "Cannot tell the format of {path!r} from its extension {ext!r}. Use .csv, .csv.gz, .tsv or .parquet."
)
DATA_OR_IMAGES = (
    "audit needs --data FILE with --target COL (a table), or --images DIR|ZIP with --model FILE (an image "
    "classifier). Pass one of them."
)
MISSING_FILE = "The file {path!r} does not exist. Check the path."
UNKNOWN_SECTION = "Unknown report section {name!r}. Choose from: {choices}."
UNKNOWN_CHART_ENGINE = "Unknown chart engine {engine!r}. Choose one of: {choices}."
NOT_A_BUNDLE = "build_report needs an AuditBundle (from audit_model or audit_predictions); received {kind}."
EMPTY_TITLE = "The report title is empty. Type a title, e.g. 'Credit model audit Q3'."
NO_SECTION = "No report section was chosen. Choose at least one of: {choices}."

# optional section key -> what the report prints when its result is missing (the Report page shows it too)
MISSING = {
    "explanations": "Explanations were not run: open the Explanations page and explain the model (or pass "
                    "--explain to `python -m dlxai demo`, or --explain METHOD to `python -m dlxai audit --model "
                    "FILE`), and build the report again.",
    "counterfactuals": "Counterfactuals were not run: open the Counterfactuals page to generate examples and the "
                       "recourse burden per group (or pass --explain METHOD to `python -m dlxai audit --model "
                       "FILE`), and build the report again.",
    "surrogate": "No surrogate model was fitted: open the Surrogate tree page to fit rules that mimic the model (or "
                 "pass --explain METHOD to `python -m dlxai audit --model FILE`), and build the report again.",
    "mitigation": "Mitigation was not run: open the Mitigation page to compare mitigated models, and build the "
                  "report again.",
    "performance": "Performance was not computed (no labels or scores were given).",
}
NEEDS_A_MODEL = ("Not applicable: this audit has the decisions but no model, so there is nothing to {what}. Audit a "
                 "model (Data & model or Upload) to add this section.")
NEEDS_A_MODEL_WHAT = {"explanations": "explain", "counterfactuals": "search counterfactuals of",
                      "surrogate": "imitate with a tree", "mitigation": "retrain"}
# what the performance section says it could not compute, by what the decisions came with (sections.scored_as)
SCORED_AS = {
    "decisions": "The decisions were given as a prediction column, without scores: ROC AUC, the Brier score and "
                 "calibration need scores and are not reported.",
    "ranking": "The score column is not a probability: ROC AUC ranks its values; the Brier score and calibration "
               "need probabilities and are not reported.",
    "probabilities": "The score column is read as the probability of the favourable label.",
}
NO_SENSITIVE_AUDITED = "No sensitive attribute was audited."
NO_LIMITATION = "No data-driven limitation was found."
NO_COUNTERFACTUAL = "Row {row}: no valid counterfactual found."

# notes printed in the PDF where a chart could not be drawn (the tables hold the numbers)
CHART_NOT_RENDERED = "[Chart '{label}' not rendered: {note}. The numbers are in the tables.]"
FIGURE_NOT_DRAWN = "[{what} not drawn: {error}]"

# progress messages while a report is built
DRAWING_FIGURES = "Drawing the figures"
WRITING_SECTION = "Writing {section}"
RENDERING_CHART = "Rendering chart: {label}"
REPORT_READY = "Report ready: {pages} pages"

NO_PARTITIONS = (
    "No Parquet or CSV files in {data!r}. Pass a folder of .parquet/.csv files, a glob such as "
    "'decisions/*.parquet', or a list of files."
)
BAD_PARTITION = "The partition {path!r} cannot be audited: {detail}"
PARTITION_FAILED = (
    "The partition {path!r} failed {tries} times: {detail}. Give each worker more memory (dask worker "
    "--memory-limit), or split the file into smaller ones."
)
SCHEDULER_UNREACHABLE = (
    "Cannot reach the Dask scheduler at {address!r} ({detail}). Check the address (e.g. tcp://host:8786) and that "
    "the scheduler is running, or leave --scheduler out to start a cluster on this machine."
)
ONE_FILE_ENGINE = (
    "--engine pandas reads one file; received {data}. Pass --engine dask to audit a folder, a glob or several files."
)
DASK_ONLY_OPTION = "{option} applies to --engine dask only. Add --engine dask, or drop {option}."
EXPLAIN_NEEDS_MODEL = (
    "Explanations of a distributed audit ({rows!r} rows) need a model (--model) and a number of rows of at least 1; "
    "decisions alone have nothing to attribute."
)
EXPLAIN_NEEDS_MODEL_FILE = (
    "--explain {methods} explains a model, and decisions alone have nothing to attribute: pass --model FILE, or "
    "drop --explain."
)
EXPLAIN_OPTION_NEEDS_EXPLAIN = "{option} applies with --explain METHOD only. Add --explain, or drop {option}."
DASK_ONE_METHOD = (
    "--engine dask explains with one method; received --explain {methods}. Pass one method, or audit one file with "
    "the pandas engine."
)
PANDAS_ONLY_OPTION = (
    "{option} applies to --engine pandas only: a distributed audit explains a sample of rows, without "
    "counterfactuals or a surrogate tree. Drop {option}."
)
