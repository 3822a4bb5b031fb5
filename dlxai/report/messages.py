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
MISSING_FILE = "The file {path!r} does not exist. Check the path."
UNKNOWN_SECTION = "Unknown report section {name!r}. Choose from: {choices}."
