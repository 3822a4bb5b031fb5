"""One exception family for the whole engine.

Every message says what was wrong, what was received, and how to fix it.  Messages that tests
match on live here as module constants (Fairlearn's habit), formatted with ``.format(...)``.
"""

from __future__ import annotations


class DlxaiError(Exception):
    """Base class of every error dlxai raises on purpose."""


class UserInputError(DlxaiError, ValueError):
    """The user gave data, a parameter or a file that cannot be used as it is."""


class UnsupportedModelError(DlxaiError, TypeError):
    """The model cannot do what was asked (no gradients, no attention, wrong output shape...)."""


class NotFittedError(DlxaiError, AttributeError):
    """A result was asked of an estimator before ``fit`` was called."""


class PartitionFailedError(DlxaiError, RuntimeError):
    """A partition of a distributed audit failed on every try (its worker died, e.g. out of memory)."""


class Cancelled(DlxaiError):
    """The caller asked a long computation to stop (its ``progress`` callback returned False)."""


# --- messages (tests match on these) -------------------------------------------------------
CANCELLED = "{what} was stopped after {done} of {planned} step(s), as asked; nothing was kept."
NON_BINARY_TARGET = (
    "The target column {column!r} must have exactly two classes; it has {n} ({values}). "
    "Pick a binary target, or map it to two classes (e.g. income >50K vs <=50K) before loading."
)
ONE_CLASS = (
    "y holds one class only ({value!r}); a classifier needs two. Check the target column and the rows used."
)
SINGLE_GROUP = (
    "The sensitive attribute {column!r} has a single group ({group!r}) in the rows used, so there is "
    "nothing to compare. Pick an attribute with at least two groups."
)
NO_SENSITIVE = (
    "No sensitive attribute was selected. Choose at least one (e.g. sex or race) to audit how the "
    "model treats groups."
)
TARGET_IS_SENSITIVE = "The target {target!r} cannot also be a sensitive attribute. Pick another column."
TOO_MANY_SENSITIVE = (
    "At most two sensitive attributes can be intersected; received {n} ({columns}). Pick one or two."
)
BAD_EPOCHS = "max_epochs must be a whole number of at least 1; received {value!r}. Use e.g. 30."
ALL_NAN_COLUMN = (
    "Column {column!r} has no values at all (every row is missing). Drop it or mark it as ignored."
)
UNKNOWN_COLUMN = "Column {column!r} is not in the data. Available columns: {available}."
LENGTH_MISMATCH = (
    "Found inputs with inconsistent numbers of rows: {lengths}. Pass y_true, y_pred and the "
    "sensitive features for the same rows."
)
EMPTY_INPUT = "No rows to work with ({what} is empty). Load data with at least one row."
NOT_BINARY_PREDICTIONS = (
    "{what} must hold only 0 and 1 (the positive label as 1); received values {values}. "
    "Threshold scores first, or map labels to 0/1."
)
NOT_FITTED = "{name} is not fitted yet. Call fit(X, y) before {method}()."
UNKNOWN_DATASET = "Unknown bundled dataset {name!r}. Choose one of: {choices}."
UNKNOWN_GROUP = "Reference group {group!r} is not among the groups {groups}."

# --- uploads (dlxai/data/tables.py, data/mapping.py, data/predictions.py, models/formats.py) ----
UPLOAD_EMPTY = "{name!r} is empty (no header, no rows). Upload a CSV or Parquet file with a header row and data rows."
UPLOAD_HEADER_ONLY = (
    "{name!r} has a header ({columns}) but no data rows. Upload the file with its rows, not just the column names."
)
UPLOAD_TOO_LARGE = (
    "{name!r} is {size:,} bytes, over the limit of {limit:,} bytes. Upload a sample of the rows, drop unused columns, "
    "or save it as Parquet (smaller)."
)
UPLOAD_TOO_LARGE_STREAM = (
    "{name!r} is over the limit of {limit:,} bytes (reading stopped there). Upload a sample of the rows, drop unused "
    "columns, or save it as Parquet (smaller)."
)
UPLOAD_NO_FILE = "The file {path!r} cannot be read ({detail}). Check the path."
UPLOAD_TOO_MANY_ROWS = (
    "{name!r} has {rows:,} rows, more than the {limit:,} dlxai reads (its audits and training are sized for a few "
    "million rows). Upload a sample of the rows."
)
UPLOAD_TOO_BIG_IN_MEMORY = (
    "{name!r} ({size:,} bytes) would need about {estimate:,} bytes of memory to read ({rows:,} rows x {columns:,} "
    "columns), over the limit of {limit:,} bytes. Upload a sample of the rows or fewer columns."
)
UPLOAD_NESTED_COLUMNS = (
    "{name!r} has nested columns {columns} (lists, structs or maps), which cannot be features of a table. Flatten "
    "them into one column per field, or drop them, and upload again."
)
UNHASHABLE_COLUMN = (
    "Column {column!r} holds {kinds} values (nested data), which cannot be grouped or encoded as a feature. "
    "Flatten it into one column per field, or drop it."
)
UPLOAD_NOT_TEXT_ENCODING = (
    "{encoding!r} is not a text encoding (it turns bytes into bytes, or text into text), so no table can be read "
    "with it. Use 'auto', 'utf-8' or 'latin-1'."
)
UPLOAD_DECOMPRESSION_BOMB = (
    "{name!r} ({compressed:,} bytes compressed) expands beyond the limit of {limit:,} bytes or more than "
    "{ratio}x its size, which is how zip bombs work; it was not unpacked. Upload the uncompressed file or a smaller one."
)
UPLOAD_BAD_COMPRESSION = (
    "{name!r} looks {kind}-compressed but cannot be unpacked ({detail}). Re-create the archive or upload the plain file."
)
UPLOAD_ZIP_MEMBERS = (
    "The zip archive {name!r} must hold exactly one CSV or Parquet file; it holds {n} ({members}). "
    "Upload that one file."
)
UPLOAD_NESTED_ARCHIVE = "{name!r} is an archive inside an archive; unpack it once and upload the CSV or Parquet file."
UPLOAD_BINARY = (
    "{name!r} is not a text table: it contains binary bytes (NUL or control characters). Upload a CSV (text) or a "
    "Parquet file; spreadsheets (.xlsx) must be saved as CSV first."
)
UPLOAD_UTF16 = (
    "{name!r} is encoded as UTF-16/UTF-32, which dlxai does not read. Save it as CSV UTF-8 (Excel: "
    "'CSV UTF-8 (Comma delimited)') and upload again."
)
UPLOAD_BAD_ENCODING = (
    "{name!r} is not valid {encoding}: byte {position:,} cannot be decoded (near {snippet!r}). Choose encoding "
    "'auto' (UTF-8, else Latin-1), or save the file as UTF-8."
)
UPLOAD_DUPLICATE_COLUMNS = (
    "{name!r} has duplicate column names {columns}; every column needs a unique name. Rename them and upload again."
)
UPLOAD_BLANK_HEADER = "{name!r} has columns without a name at positions {positions}. Give every column a header."
UPLOAD_PARSE_ERROR = (
    "{name!r} could not be parsed as CSV with delimiter {delimiter!r}: {detail}. Check that every row has the same "
    "number of fields and quotes are closed, or choose another delimiter."
)
UPLOAD_ONE_COLUMN = (
    "{name!r} was read as a single column {column!r} with delimiter {delimiter!r}, so the delimiter is probably wrong. "
    "Choose the delimiter explicitly (the file seems to use {hint})."
)
UPLOAD_BAD_PARQUET = "{name!r} is not a readable Parquet file ({detail}). Re-export it, or upload a CSV."
UPLOAD_MIXED_TYPES = (
    "Column {column!r} is declared numeric but holds text such as {bad} (only {share:.0%} of its values are numbers). "
    "Declare it categorical, mark it ignored, or clean those values."
)
UPLOAD_TOO_MANY_CATEGORIES = (
    "Column {column!r} has {n:,} distinct values, more than the {limit:,} a categorical feature or group may have "
    "(it would become {n:,} one-hot columns). Mark it as ignored (an ID?), or as numeric if it is a number."
)
UPLOAD_TEST_COLUMNS = (
    "The test file lacks the columns {missing} that the training file has. Its columns are {columns}. Upload a test "
    "file with the same columns."
)
JSON_TOO_LARGE = "{what} is {size:,} bytes or more, over the limit of {limit:,} bytes for a JSON file. Check the file."
JSON_TOO_DEEP = (
    "{what} nests arrays/objects more than {limit} levels deep, which no file dlxai reads does; it was not parsed. "
    "Check the file."
)
JSON_INVALID = "{what} is not valid JSON ({detail}). Check the file."
MODEL_PICKLE_REFUSED = (
    "{name!r} is a pickle/joblib file. Loading a pickle runs whatever code it contains, so dlxai refuses it. Export "
    "the model instead as ONNX (torch.onnx.export / skl2onnx), TorchScript (torch.jit.script(...).save), "
    "safetensors + a dlxai JSON spec, or scikit-learn via skops (skops.io.dump). An operator running dlxai alone "
    "on their own machine may set DLXAI_ALLOW_PICKLE=1."
)
MODEL_UNKNOWN_FORMAT = (
    "{name!r} is not a model format dlxai reads (first bytes {head!r}). Upload ONNX (.onnx), TorchScript (.pt saved "
    "with torch.jit.save), safetensors (.safetensors) with its JSON spec, or skops (.skops)."
)
MODEL_NOT_ONNX = (
    "{name!r} claims to be ONNX but is not a valid ONNX model ({detail}). Export it again with torch.onnx.export "
    "or skl2onnx."
)
MODEL_UNTRUSTED_TYPES = (
    "The skops file {name!r} would load these types that are not trusted by default: {types}. Check that you "
    "expect each of them, then confirm them (trusted=[...]) to load the model."
)
MODEL_CONTRACT = (
    "The model does not fit the data's input contract: {problems}. Nothing else was run. {fix}"
)
MODEL_CHECK_TIMEOUT = (
    "The model was not loaded: on the input-contract check it took longer than the time budget of {seconds:g} s on "
    "{rows} rows{measured}, so it was stopped there and nothing else was run. A model that is slow but sound needs "
    "more time: {fix}. A model that should answer at once may loop without end: check its forward pass."
)
MODEL_SPEC_INVALID = "The model spec is invalid: {detail}. Use the JSON that dlxai's export writes (see its 'format' field)."
MODEL_NO_INPUT_CONTRACT = (
    "The model needs an input contract: {found}, which does not say which data columns it reads. Upload the "
    "preprocessing spec (JSON) that came with it, or declare the numeric columns it takes, in order."
)
MODEL_CONVERSION_FAILED = (
    "This ONNX model runs, but it could not be converted to PyTorch ({detail}), so gradient methods (saliency, "
    "integrated gradients, LRP) are unavailable. Still available: {available}."
)
PREDICTIONS_BOTH = (
    "Choose either a binary prediction column or a score column with a threshold, not both / neither; received "
    "prediction={prediction!r}, score={score!r}."
)
SCORE_NEEDS_THRESHOLD = (
    "The score column {column!r} needs a decision threshold (--threshold on the command line): a finite number on "
    "the score's scale, e.g. 0.5 for probabilities or 5 for a 1-10 score."
)
THRESHOLD_WITHOUT_SCORE = (
    "A decision threshold applies to a score column only; received threshold {threshold!r} with the prediction "
    "column {column!r}. Drop the threshold, or use a score column instead."
)
BAD_SCORE_THRESHOLD = (
    "The decision threshold must be a finite number on the score's scale (e.g. 0.5 for probabilities, 5 for a 1-10 "
    "score); received {value!r}."
)
SCORE_NOT_NUMERIC = (
    "The score column {column!r} must hold numbers; it holds values such as {examples}. Pick the column of scores, "
    "or audit this one as a prediction column."
)
SCORE_NOT_FINITE = (
    "The score column {column!r} has {n} missing or infinite values; every row needs a finite score. Fill or drop "
    "those rows."
)

# --- isolation of uploaded models (dlxai/models/vetting.py, dlxai/models/worker.py) -------------------
MODEL_FORBIDDEN_OPERATOR = (
    "{name!r} was not loaded: its TorchScript code calls {op} in {where}, which is not one of the compute "
    "operators dlxai allows{when}. TorchScript is a program, and operators outside that list can read or write "
    "files, start tasks or reach the rest of the process. Export the model with standard layers and tensor math "
    "only, or as ONNX."
)
MODEL_BAD_ARCHIVE = (
    "{name!r} is not a TorchScript archive dlxai can check: {detail}. Save the model with "
    "torch.jit.script(model).save(path) (or torch.jit.trace) and upload that file unchanged."
)
MODEL_TIMEOUT = (
    "The model did not finish within {seconds:g} s ({what}), so its worker process was stopped. Try fewer rows, "
    "or check the model for a loop that never ends."
)
MODEL_OUT_OF_MEMORY = (
    "The model needed more memory than the {limit_mb:,} MB it may use ({what}); nothing else was affected. Try "
    "fewer rows at a time, or a smaller model."
)
MODEL_CPU_LIMIT = (
    "The model used more than {seconds:g} s of CPU time ({what}), so its worker process was stopped. Try fewer "
    "rows, or a smaller model."
)
MODEL_CALL_STOPPED = (
    "The model's call ({what}) was stopped because the job it belonged to was stopped; its worker process was "
    "ended, and the next call starts a fresh one."
)
MODEL_WORKER_DIED = (
    "The model's worker process ended unexpectedly ({how}) while running {what}. The model may have tried "
    "something the sandbox forbids, or crashed; a fresh worker is used for the next call."
)

MODEL_TOO_LARGE = (
    "The model file {name!r} is {size:,} bytes, over the limit of {limit:,} bytes; it was not read. Upload the "
    "exported model itself (weights, graph), not a bundle of files."
)
MODEL_ARCHIVE_BOMB = (
    "The model file {name!r} ({size:,} bytes) unpacks to {unpacked:,} bytes ({member!r}), over the limit of "
    "{limit:,} bytes or more than {ratio}x its size, which is how zip bombs work; it was not unpacked. Export the "
    "model again."
)
ONNX_EXTERNAL_DATA = (
    "{name!r} keeps the tensor {tensor!r} outside the model file (external data at {location!r}); dlxai reads only "
    "self-contained ONNX files and never opens paths a model names. Export it as one file (onnx.save with "
    "save_as_external_data=False; models under 2 GB fit)."
)
ONNX_NONSTANDARD_DOMAIN = (
    "{name!r} uses the operator {op!r} from the domain {domain!r} ({where}), which is not a standard ONNX domain "
    "(ai.onnx, ai.onnx.ml); custom operators run code dlxai cannot check. Export the model with standard operators."
)
UPLOAD_NOT_REGULAR = (
    "{path!r} is not a regular file ({what}), so its size cannot be known before reading it. Save the data to a file "
    "and pass that file."
)

class ModelTimeoutError(UserInputError):
    """An uploaded model ran past its time limit; its worker process was killed and replaced."""


class ModelResourceError(UserInputError):
    """An uploaded model exceeded a memory or CPU limit, or its sandboxed worker died."""
