"""CLI numbers: every bad numeric option exits 2 with a message naming the option, the value and the range;
a deeply nested --model-spec is a clear error, not RecursionError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlxai import errors
from dlxai.cli import BAD_NUMBER, EXIT_BAD_INPUT, NUMBERS, run


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> str:
    rng = np.random.default_rng(0)
    n = 200
    path = tmp_path_factory.mktemp("cli") / "preds.csv"
    pd.DataFrame({"sex": rng.choice(["F", "M"], n), "y": rng.choice(["no", "yes"], n),
                  "score": rng.random(n).round(3), "pred": rng.integers(0, 2, n)}).to_csv(path, index=False)
    return str(path)


def expected(dest: str, value: str) -> str:
    option, allowed, _, _ = NUMBERS[dest]
    return BAD_NUMBER.format(option=option, allowed=allowed, value=value)


@pytest.mark.parametrize("dest, value", [
    ("seed", "-1"), ("seed", "4294967296"), ("seed", "abc"), ("n_bootstrap", "1e20"), ("n_bootstrap", "1e8"),
    ("n_bootstrap", "5"), ("n_bootstrap", "-3"), ("n_bootstrap", "1.5"), ("min_group_size", "0"),
    ("min_group_size", "1e12"), ("threshold", "nan"), ("threshold", "inf"), ("threshold", "abc"),
])
def test_bad_audit_numbers_exit_2_naming_option_value_and_range(csv, dest, value, capsys):
    option = NUMBERS[dest][0]
    rc = run(["audit", "--data", csv, "--target", "y", "--sensitive", "sex", "--score-column", "score",
              "--threshold", "0.5", "--quiet", option, value])
    assert rc == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert expected(dest, value) in err and "Traceback" not in err


@pytest.mark.parametrize("dest, value", [("epochs", "0"), ("epochs", "1e9"), ("train_seed", "-3"),
                                         ("explain", "-5"), ("explain", "1e7"), ("threshold", "nan")])
def test_bad_demo_numbers_exit_2_before_any_training(dest, value, capsys):
    rc = run(["demo", "--dataset", "german", "--quiet", NUMBERS[dest][0], value])
    assert rc == EXIT_BAD_INPUT
    assert expected(dest, value) in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-2"])
def test_a_threshold_on_probabilities_must_lie_strictly_between_0_and_1(value, capsys):
    """A score column may have any scale; a model's or a demo's threshold applies to probabilities."""
    from dlxai.validation import BAD_THRESHOLD

    rc = run(["demo", "--dataset", "german", "--quiet", "--threshold", value])
    assert rc == EXIT_BAD_INPUT
    assert BAD_THRESHOLD.format(value=float(value)) in capsys.readouterr().err


def test_a_score_threshold_may_lie_on_any_finite_scale(csv):
    decile = ["--score-column", "score", "--threshold", "0"]  # every score >= 0: all favourable, still valid
    assert run(["audit", "--data", csv, "--target", "y", "--sensitive", "sex", "--quiet", *decile]) == 0


def test_numbers_in_range_are_accepted_in_any_spelling(csv):
    assert run(["audit", "--data", csv, "--target", "y", "--sensitive", "sex", "--prediction-column", "pred",
                "--quiet", "--n-bootstrap", "1e1", "--seed", "4294967295", "--min-group-size", "5"]) == 0


def test_a_deeply_nested_model_spec_is_a_clear_error(csv, tmp_path, capsys):
    model, spec = tmp_path / "m.onnx", tmp_path / "spec.json"
    model.write_bytes(b"not read: the spec fails first")
    spec.write_text("[" * 100_000 + "]" * 100_000)
    rc = run(["audit", "--data", csv, "--target", "y", "--sensitive", "sex", "--model", str(model),
              "--model-spec", str(spec), "--quiet", "--n-bootstrap", "0"])
    assert rc == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert errors.JSON_TOO_DEEP.format(what=f"The model spec {str(spec)!r}", limit=64) in err
    assert "RecursionError" not in err and "Traceback" not in err
