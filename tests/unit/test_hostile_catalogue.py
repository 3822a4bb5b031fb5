"""The catalogue of bad inputs: each one gets a clear message (a constant from dlxai.errors where one
exists) and leaves the previously loaded data and model untouched.

The "still active" half is checked here through the engine (no side effects on the active dataset's
rows or the active model's weights) and, for a representative subset, through the page in
tests/app/test_upload.py (the session keeps the previous data and model).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from dlxai import errors
from dlxai.data import mapping, tables
from dlxai.data.predictions import load_predictions
from dlxai.errors import DlxaiError, UnsupportedModelError, UserInputError
from dlxai.models.export import export_safetensors
from dlxai.models.formats import load_model
from tests import makers


def msg(template: str) -> str:
    """A regex matching any message formatted from ``template`` (the fixed text between the fields)."""
    parts = re.split(r"\{[^}]*\}", template)
    return "(?s)" + ".*?".join(re.escape(p) for p in parts)


GOOD = b"age,sex,group,y\n" + b"".join(
    f"{20 + i % 50},{'F' if i % 3 else 'M'},{'a' if i % 2 else 'b'},{'yes' if i % 4 == 0 else 'no'}\n".encode()
    for i in range(200))


def read(raw, name="bad.csv", **kw):
    return tables.read_table(raw, name, **kw)


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return buf.getvalue()


def parquet_of(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf)
    return buf.getvalue()


def frame(**cols) -> pd.DataFrame:
    base = {"age": np.arange(60) % 40 + 20, "sex": ["F", "M"] * 30, "y": ["yes", "no", "no"] * 20}
    base.update(cols)
    return pd.DataFrame(base)


def schema_of(df, target="y", positive="yes", sensitive=("sex",), **kw):
    return mapping.build_schema(df, target, positive, list(sensitive), **kw)


def dataset_of(df, **kw):
    return mapping.dataset_from_upload(df, schema_of(df, **kw))


@dataclass
class Ctx:
    german: object
    mlp: object
    spec: bytes
    prep: dict
    width: int


@dataclass
class Case:
    id: str
    run: Callable[[Ctx], object]
    match: str
    exc: type = UserInputError


def _latin1():
    return "name,city,y\nJosé,Köln,1\nAna,Málaga,0\n".encode("latin-1")


CASES = [
    # --- files that are not tables --------------------------------------------------------------
    Case("empty-file", lambda c: read(b""), msg(errors.UPLOAD_EMPTY)),
    Case("whitespace-only", lambda c: read(b"\n \n\t\n"), msg(errors.UPLOAD_EMPTY)),
    Case("header-only", lambda c: read(b"age,sex,y\n"), msg(errors.UPLOAD_HEADER_ONLY)),
    Case("header-only-semicolon", lambda c: read(b"age;sex;y\r\n"), msg(errors.UPLOAD_HEADER_ONLY)),
    Case("binary-garbage", lambda c: read(np.random.default_rng(0).bytes(4096)), msg(errors.UPLOAD_BINARY)),
    Case("png-renamed-csv", lambda c: read(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200), msg(errors.UPLOAD_BINARY)),
    Case("xlsx-renamed-csv", lambda c: read(zip_of({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<w/>"})),
         msg(errors.UPLOAD_ZIP_MEMBERS)),
    Case("utf16-with-bom", lambda c: read(GOOD.decode().encode("utf-16")), msg(errors.UPLOAD_UTF16)),
    Case("utf16-without-bom", lambda c: read(GOOD.decode().encode("utf-16-le")), msg(errors.UPLOAD_UTF16)),
    Case("non-utf8-bytes-declared-utf8", lambda c: read(_latin1(), encoding="utf-8"), msg(errors.UPLOAD_BAD_ENCODING)),
    Case("unknown-encoding-name", lambda c: read(GOOD, encoding="klingon-8"), "Unknown encoding 'klingon-8'"),
    # --- CSV structure --------------------------------------------------------------------------
    Case("wrong-delimiter", lambda c: read(GOOD.replace(b",", b";"), delimiter=","), msg(errors.UPLOAD_ONE_COLUMN)),
    Case("single-column", lambda c: read(b"value\n1\n2\n3\n"), msg(errors.UPLOAD_ONE_COLUMN)),
    Case("two-char-delimiter", lambda c: read(GOOD, delimiter=";;"), "The delimiter must be one character"),
    Case("ragged-rows", lambda c: read(b"a,b,y\n1,2,0\n1,2,3,4,5\n3,4,1\n"), msg(errors.UPLOAD_PARSE_ERROR)),
    Case("unclosed-quote", lambda c: read(b'a,b,y\n1,"open,0\n2,3,1\n'), msg(errors.UPLOAD_PARSE_ERROR)),
    Case("duplicate-columns", lambda c: read(b"age,sex,age,y\n1,F,2,0\n3,M,4,1\n"), msg(errors.UPLOAD_DUPLICATE_COLUMNS)),
    Case("duplicate-columns-after-trim", lambda c: read(b"age, age ,y\n1,2,0\n3,4,1\n"), msg(errors.UPLOAD_DUPLICATE_COLUMNS)),
    Case("blank-column-name", lambda c: read(b"age,,y\n1,2,0\n3,4,1\n"), msg(errors.UPLOAD_BLANK_HEADER)),
    # --- size and compression -------------------------------------------------------------------
    Case("over-size-limit", lambda c: read(GOOD * 10, max_bytes=len(GOOD)), msg(errors.UPLOAD_TOO_LARGE)),
    Case("gzip-bomb", lambda c: read(gzip.compress(b"0" * 3_000_000), "bomb.csv.gz", max_bytes=1_000_000),
         msg(errors.UPLOAD_DECOMPRESSION_BOMB)),
    Case("zip-bomb", lambda c: read(zip_of({"a.csv": b"0" * 3_000_000}), "bomb.zip", max_bytes=1_000_000),
         msg(errors.UPLOAD_DECOMPRESSION_BOMB)),
    Case("bz2-bomb", lambda c: read(bz2.compress(b"0" * 3_000_000), "bomb.bz2", max_bytes=1_000_000),
         msg(errors.UPLOAD_DECOMPRESSION_BOMB)),
    Case("truncated-gzip", lambda c: read(gzip.compress(GOOD * 50)[:300], "t.csv.gz"), msg(errors.UPLOAD_BAD_COMPRESSION)),
    Case("nested-archive", lambda c: read(gzip.compress(gzip.compress(GOOD)), "n.csv.gz.gz"), msg(errors.UPLOAD_NESTED_ARCHIVE)),
    Case("zip-with-two-files", lambda c: read(zip_of({"a.csv": GOOD, "b.csv": GOOD})), msg(errors.UPLOAD_ZIP_MEMBERS)),
    Case("corrupt-parquet", lambda c: read(b"PAR1" + b"\x07" * 500 + b"PAR1", "x.parquet"), msg(errors.UPLOAD_BAD_PARQUET)),
    Case("parquet-without-rows", lambda c: read(parquet_of(frame().iloc[:0]), "x.parquet"), msg(errors.UPLOAD_HEADER_ONLY)),
    # --- schema mapping -------------------------------------------------------------------------
    Case("target-one-class", lambda c: dataset_of(frame(y=["yes"] * 60)), msg(errors.NON_BINARY_TARGET)),
    Case("target-three-classes", lambda c: dataset_of(frame(y=["a", "b", "c"] * 20), positive="a"), msg(errors.NON_BINARY_TARGET)),
    Case("target-not-a-column", lambda c: schema_of(frame(), target="income"), msg(errors.UNKNOWN_COLUMN)),
    Case("positive-label-absent", lambda c: schema_of(frame(), positive="maybe"), "The positive label 'maybe' does not occur"),
    Case("target-with-missing", lambda c: dataset_of(frame(y=["yes", "no", None] * 20)), "is missing in 20 rows"),
    Case("sensitive-one-group", lambda c: dataset_of(frame(sex=["F"] * 60)), msg(errors.SINGLE_GROUP)),
    Case("sensitive-all-missing", lambda c: dataset_of(frame(grp=[None] * 60), sensitive=("grp",)),
         "missing in every row"),
    Case("no-sensitive", lambda c: schema_of(frame(), sensitive=()), msg(errors.NO_SENSITIVE)),
    Case("target-also-sensitive", lambda c: schema_of(frame(), sensitive=("y",)), "cannot also be a sensitive attribute"),
    Case("mixed-types-declared-numeric", lambda c: schema_of(frame(age=["12"] * 55 + ["twelve"] * 5), types={"age": "numeric"}),
         msg(errors.UPLOAD_MIXED_TYPES)),
    Case("100k-categories", lambda c: mapping.build_schema(
        pd.DataFrame({"id": [f"c{i}" for i in range(100_000)], "sex": ["F", "M"] * 50_000, "y": [0, 1] * 50_000}),
        "y", 1, ["sex"], types={"id": "categorical"}), msg(errors.UPLOAD_TOO_MANY_CATEGORIES)),
    Case("all-missing-feature", lambda c: dataset_of(frame(x=[np.nan] * 60), types={"x": "numeric"}), msg(errors.ALL_NAN_COLUMN)),
    Case("unknown-type-name", lambda c: schema_of(frame(), types={"age": "float"}), "use 'numeric', 'categorical' or 'ignore'"),
    Case("test-file-lacks-columns", lambda c: mapping.dataset_from_upload(frame(), schema_of(frame()), test=frame().drop(columns="age")),
         msg(errors.UPLOAD_TEST_COLUMNS)),
    # --- models ---------------------------------------------------------------------------------
    Case("empty-model-file", lambda c: load_model(b"", "m.onnx", spec=c.spec), "is empty"),
    Case("onnx-wrong-input-size", lambda c: load_model(makers.onnx_bytes(makers.linear(5), 5), "m.onnx", spec=c.prep,
                                                            sample=c.german.X("test")),
         r"model expects 5 input columns, but the input contract gives \d+", UnsupportedModelError),
    Case("text-claiming-onnx", lambda c: load_model(b"this is not a model, just text", "m.onnx", spec=c.spec),
         msg(errors.MODEL_NOT_ONNX)),
    Case("random-bytes-onnx", lambda c: load_model(np.random.default_rng(1).bytes(2048), "m.onnx", spec=c.spec),
         msg(errors.MODEL_NOT_ONNX)),
    Case("torchscript-raises-in-forward", lambda c: load_model(makers.torchscript_bytes(makers.raising_module()), "m.pt",
                                                                    spec=c.prep, sample=c.german.X("test")),
         "the model raised on 256 sample rows: .*boom in forward", UnsupportedModelError),
    Case("model-returns-nan", lambda c: load_model(makers.torchscript_bytes(makers.nan_module(c.width)), "m.pt",
                                                        spec=c.prep, sample=c.german.X("test")),
         "NaN or infinite values for 256 of 256", UnsupportedModelError),
    Case("model-slower-than-budget", lambda c: load_model(makers.torchscript_bytes(makers.slow_module(c.width)), "m.pt",
                                                               spec=c.prep, sample=c.german.X("test"), time_budget_s=0.05),
         "longer than the time budget of 0.05 s", UnsupportedModelError),
    Case("three-class-output", lambda c: load_model(makers.torchscript_bytes(makers.three_class(c.width)), "m.pt",
                                                         spec=c.prep, sample=c.german.X("test")),
         r"output shape is \(256, 3\)", UnsupportedModelError),
    Case("logits-declared-probabilities", lambda c: load_model(
        makers.torchscript_bytes(makers.linear(c.width, 1, seed=3)), "m.pt", spec=c.prep, output="probabilities",
        sample=c.german.X("test")), "declared as probabilities but lies outside", UnsupportedModelError),
    Case("pickle-renamed-pt", lambda c: load_model(makers.pickle_bytes({"w": [1, 2]}), "model.pt", spec=c.spec),
         msg(errors.MODEL_PICKLE_REFUSED)),
    Case("joblib-file", lambda c: load_model(b"anything", "model.joblib", spec=c.spec), msg(errors.MODEL_PICKLE_REFUSED)),
    Case("torch-save-full-module", lambda c: load_model(_torch_saved_module(), "model.pt", spec=c.spec),
         "weights-only load refused"),
    Case("skops-untrusted-types", lambda c: load_model(_hgb_skops(), "m.skops", spec=c.prep), msg(errors.MODEL_UNTRUSTED_TYPES)),
    Case("safetensors-without-spec", lambda c: load_model(export_safetensors(c.mlp)[0], "m.safetensors"),
         msg(errors.MODEL_NO_INPUT_CONTRACT)),
    Case("safetensors-spec-without-architecture", lambda c: load_model(export_safetensors(c.mlp)[0], "m.safetensors",
                                                                            spec=c.prep), "spec's 'architecture'"),
    Case("safetensors-wrong-architecture", lambda c: load_model(export_safetensors(c.mlp)[0], "m.safetensors",
                                                                     spec=_spec_with(c.spec, hidden_layer_sizes=[32])),
         "do not match the architecture"),
    Case("spec-not-json", lambda c: load_model(b"x", "m.onnx", spec=b"{not json"), "The model spec is not valid JSON"),
    Case("spec-foreign-format", lambda c: load_model(b"x", "m.onnx", spec={"format": "mlflow"}), "is not 'dlxai-model-spec'"),
    Case("spec-bad-scales", lambda c: load_model(b"x", "m.onnx", spec=_bad_scales(c.prep)), "scales > 0"),
    Case("declared-column-missing", lambda c: load_model(makers.onnx_bytes(makers.linear(2), 2), "m.onnx",
                                                              input_columns=["age", "salary"], sample=c.german.X("test")),
         r"lacks the input columns \['salary'\]", UnsupportedModelError),
    Case("declared-text-column", lambda c: load_model(makers.onnx_bytes(makers.linear(2), 2), "m.onnx",
                                                           input_columns=["age", "status"], sample=c.german.X("test")),
         "takes column 'status' as a number", UnsupportedModelError),
    Case("predictions-both-columns", lambda c: load_predictions(makers.predictions_frame(), "label", "good", ["sex"],
                                                                     prediction="pred", score="score"),
         msg(errors.PREDICTIONS_BOTH)),
    Case("predictions-text-scores", lambda c: load_predictions(makers.predictions_frame(), "label", "good", ["sex"],
                                                                    score="race"), "must hold numbers"),
    Case("predictions-three-values", lambda c: load_predictions(makers.predictions_frame(), "label", "good", ["sex"],
                                                                     prediction="race"), msg(errors.NOT_BINARY_PREDICTIONS)),
    Case("predictions-one-group", lambda c: load_predictions(makers.predictions_frame().assign(sex="F"), "label", "good",
                                                                  ["sex"], prediction="pred"), msg(errors.SINGLE_GROUP)),
]


def _torch_saved_module() -> bytes:
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(3, 2), buf)  # a whole module: only a real unpickle could load it
    return buf.getvalue()


def _hgb_skops() -> bytes:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return makers.skops_bytes(HistGradientBoostingClassifier(max_iter=2).fit(X, (X[:, 0] > 0).astype(int)))


def _spec_with(spec: bytes, **arch) -> dict:
    s = json.loads(spec)
    s["architecture"].update(arch)
    return s


def _bad_scales(prep: dict) -> dict:
    p = json.loads(json.dumps(prep))
    p["preprocessing"]["scales"][0] = 0.0
    return p


def test_the_catalogue_has_at_least_40_cases():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def ctx(german, tiny_mlp, spec_json, prep_spec, width):
    return Ctx(german, tiny_mlp, spec_json, prep_spec, width)


def _data_hash(ds) -> str:
    h = hashlib.sha256()
    for part in (ds.train, ds.test):
        h.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_clear_message_and_changes_nothing(case, ctx):
    data_before = _data_hash(ctx.german)
    weights_before = {k: v.clone() for k, v in ctx.mlp.estimator.module_.state_dict().items()}
    with pytest.raises(DlxaiError) as info:
        case.run(ctx)
    assert isinstance(info.value, case.exc), f"{type(info.value).__name__}: {info.value}"
    text = str(info.value)
    assert re.search(case.match, text), text
    assert len(text) > 40 and "Traceback" not in text  # a sentence for a person, not a stack
    # the previously active data and model are untouched
    assert _data_hash(ctx.german) == data_before
    after = ctx.mlp.estimator.module_.state_dict()
    assert all(torch.equal(after[k], v) for k, v in weights_before.items())
    assert not ctx.mlp.estimator.module_._forward_hooks
