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
SCORE_NEEDS_THRESHOLD = (
    "The score column {column!r} needs a decision threshold: pass --threshold T with 0 < T < 1 (e.g. 0.5)."
)
UNREADABLE_DATA = "Cannot read {path!r} as {kind}: {reason}. Pass a CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet) file."
UNKNOWN_DATA_FORMAT = (
    "Cannot tell the format of {path!r} from its extension {ext!r}. Use .csv, .csv.gz, .tsv or .parquet."
)
MISSING_FILE = "The file {path!r} does not exist. Check the path."
MODEL_IO_MISSING = (
    "--model {path!r} needs dlxai's safe model loader (dlxai.models.io), which this installation does not have. "
    "Audit the model's decisions instead: add them to the data and pass --prediction-column or --score-column."
)
UNKNOWN_SECTION = "Unknown report section {name!r}. Choose from: {choices}."
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
