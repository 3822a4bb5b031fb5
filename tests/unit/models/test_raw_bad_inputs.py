"""Bad model uploads of the bring-your-own kind: each is one clear UserInputError that names the file, the
column or input, and the fix; nothing active changes (the dataset's rows and a loaded model stay as they were)."""

from __future__ import annotations

import hashlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from dlxai import errors
from dlxai.errors import DlxaiError, UnsupportedModelError, UserInputError
from dlxai.models import rawcolumns
from dlxai.models.formats import MODEL_FOREIGN, input_facts, load_model, skops_untrusted_types
from tests.unit.models import exporters

ENDS_TWICE = re.compile(r"[^.]\.\.[^.]|\.;")  # "columns.. Nothing" or "columns.; the" (not "... < 0 DM")


def msg(template: str) -> str:
    parts = re.split(r"\{[^}]*\}", template)
    return "(?s)" + ".*?".join(re.escape(p) for p in parts)


@pytest.fixture(scope="module")
def skops_file(german):
    raw, name, _ = exporters.skops_pipeline(german, "logreg")
    return raw, skops_untrusted_types(raw)


@pytest.fixture(scope="module")
def onnx_file(german):
    return exporters.skl2onnx_pipeline(german)[0]


@pytest.fixture(scope="module")
def active(german, skops_file):
    """A model that is active while the bad uploads are tried."""
    raw, trusted = skops_file
    return load_model(raw, "active.skops", trusted=trusted, sample=german.X("test"), reference=german.X("train"))


def _frame_hash(df: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes()).hexdigest()


def _without(german, column):
    return german.X("test").drop(columns=[column])


def _text_in(german, column):
    X = german.X("test").copy()
    X[column] = X[column].astype(str)
    X.loc[X.index[:5], column] = "twelve"
    return X


CASES = {
    "not-a-model-csv": (lambda c: load_model(b"age,sex\n1,F\n2,M\n", "scores.bin"),
                        msg(errors.MODEL_UNKNOWN_FORMAT) + ".*'scores.bin'|'scores.bin'.*not a model format"),
    "keras-hdf5": (lambda c: load_model(b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "model.h5"),
                   r"'model.h5' is a Keras/HDF5 file.*Convert it to ONNX"),
    "json-as-model": (lambda c: load_model(b'{"learner": {}}', "xgb.json"), r"'xgb.json' is a JSON document.*spec"),
    "pipeline-column-missing": (lambda c: load_model(c["skops"][0], "p.skops", trusted=c["skops"][1],
                                                     sample=_without(c["german"], "purpose")),
                                r"'p.skops' reads the columns \['purpose'\].*data lacks.*rename those columns"),
    "pipeline-text-as-number": (lambda c: load_model(c["skops"][0], "p.skops", trusted=c["skops"][1],
                                                     sample=_text_in(c["german"], "duration")),
                                r"'p.skops' reads column 'duration' as a number \(its pipeline scales or imputes it "
                                r"as a number\), but the data holds text such as \['twelve'\]"),
    "onnx-input-no-column": (lambda c: load_model(c["onnx"], "p.onnx",
                                                  sample=c["german"].X("test").rename(columns={"savings": "saved"})),
                             r"'p.onnx' has an input 'savings' \(tensor\(string\), shape \[None, 1\]\) that matches no "
                             r"column.*rename the column or the input"),
    "onnx-text-as-number": (lambda c: load_model(c["onnx"], "p.onnx", sample=_text_in(c["german"], "age")),
                            r"'p.onnx' reads column 'age' as a number \(its ONNX input 'age' is a tensor\(int64\)\)"),
    "string-classes-no-label": (lambda c: _string_classes(c["german"], None),
                                r"'labels.skops' predicts the classes \['bad', 'good'\], not 0/1, and no favourable label was given.*"
                                r"e.g. 'good'"),
}


def _string_classes(german, label):
    import skops.io as sio

    pipe = exporters.sklearn_pipeline(german, "logreg")
    y = np.where(german.y("train") == 1, "good", "bad")
    pipe.fit(german.X("train"), y)
    raw = sio.dumps(pipe)
    return load_model(raw, "labels.skops", trusted=skops_untrusted_types(raw), sample=german.X("test"),
                      positive_label=label)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_model_upload_is_one_clear_error_and_changes_nothing(case, german, skops_file, onnx_file, active):
    run, pattern = CASES[case]
    data_before = _frame_hash(german.train), _frame_hash(german.test)
    X = german.X("test").head(40)
    pred_before = active.predict_proba(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DlxaiError) as info:
            run({"german": german, "skops": skops_file, "onnx": onnx_file})
    assert isinstance(info.value, UserInputError), f"{type(info.value).__name__}: {info.value}"
    text = str(info.value)
    assert re.search(pattern, text), text
    assert not ENDS_TWICE.search(text) and "Traceback" not in text
    assert (_frame_hash(german.train), _frame_hash(german.test)) == data_before
    np.testing.assert_array_equal(active.predict_proba(X), pred_before)


def test_string_classes_with_the_favourable_label_given(german):
    m = _string_classes(german, "good")
    pipe = m.estimator.inner
    X = german.X("test")
    np.testing.assert_allclose(m.predict_proba(X), pipe.predict_proba(X)[:, list(pipe.classes_).index("good")])


def test_the_declared_text_column_message_ends_once(german):
    """It once read "…declare only numeric columns.. Nothing else was run." (a sentence ending inside another)."""
    from tests import makers

    with pytest.raises(UnsupportedModelError) as info:
        load_model(makers.onnx_bytes(makers.linear(2), 2), "m.onnx", input_columns=["age", "status"],
                   sample=german.X("test"))
    text = str(info.value)
    assert "takes column 'status' as a number" in text and not ENDS_TWICE.search(text)
    assert "reads the raw columns by name" in text  # the way out: a model that takes the table itself


def test_no_contract_names_what_the_file_holds(german):
    from tests import makers

    with pytest.raises(UserInputError, match=r"needs an input contract: the ONNX graph has 1 input: 'input' "
                                             r"\(tensor\(float\), shape \[None, 5\]\)"):
        load_model(makers.onnx_bytes(makers.linear(5), 5), "m.onnx", sample=german.X("test"))
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression().fit(np.random.default_rng(0).normal(size=(40, 3)), [0, 1] * 20)
    with pytest.raises(UserInputError, match=r"LogisticRegression was fitted on a matrix of 3 columns without "
                                             r"column names \(it has no feature_names_in_\)"):
        load_model(makers.skops_bytes(est), "lr.skops", sample=german.X("test"))


def test_input_facts_say_what_a_file_reads_before_loading(german, onnx_file):
    facts = input_facts(onnx_file, "p.onnx", tuple(german.X("train").columns))
    assert facts.kind == "named" and not facts.needs_contract and len(facts.names) == 20
    from tests import makers

    tensor = input_facts(makers.onnx_bytes(makers.linear(5), 5), "m.onnx")
    assert tensor.needs_contract and tensor.width == 5
    assert MODEL_FOREIGN and rawcolumns.RAW_MISSING_COLUMNS  # the message constants tests match on
