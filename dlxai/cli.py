"""Headless audits for pipelines: ``python -m dlxai audit ...``, ``python -m dlxai demo ...``, and
``python -m dlxai spec ...`` (the spec of a model file, written so nobody has to read the source).

Exit codes: 0 the audit ran and no ``--fail-on`` rule was violated; 1 a ``--fail-on`` rule was violated;
2 bad input (unreadable file, unknown column, malformed rule...; the message is on stderr);
3 an internal error (a bug in dlxai; the traceback is on stderr).  Progress goes to stderr, so stdout
stays clean for ``--json -``.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import sys
import time
from pathlib import Path

from dlxai import __version__
from dlxai.errors import DlxaiError

EXIT_OK, EXIT_VIOLATED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
BAD_NUMBER = "{option} must be {allowed}; received {value!r}."
_SEEDS = ("a whole number from 0 to 4,294,967,295", int, lambda v: 0 <= v < 2**32)  # numpy's and sklearn's range
# every numeric option: dest -> (flag, the range in words, int or float, the test)
NUMBERS = {
    "n_bootstrap": ("--n-bootstrap", "0 (no intervals) or a whole number from 10 to 100,000", int,
                    lambda v: v == 0 or 10 <= v <= 100_000),
    "seed": ("--seed", *_SEEDS),
    "train_seed": ("--train-seed", *_SEEDS),
    "min_group_size": ("--min-group-size", "a whole number from 1 to 1,000,000,000", int, lambda v: 1 <= v <= 10**9),
    # any finite number: a score has its own scale; on a model's probabilities audit_model checks (0, 1)
    "threshold": ("--threshold", "a finite number", float, lambda v: True),
    "epochs": ("--epochs", "a whole number from 1 to 10,000", int, lambda v: 1 <= v <= 10_000),
    "explain": ("--explain", "0 (no explanations) or a number of rows from 1 to 100,000", int,
                lambda v: 0 <= v <= 100_000),
    "explain_rows": ("--explain-rows", "a number of rows from 1 to 100,000", int, lambda v: 1 <= v <= 100_000),
    "counterfactual_rows": ("--counterfactual-rows", "0 (no counterfactuals) or a number of rows from 2 to 10,000",
                            int, lambda v: v == 0 or 2 <= v <= 10_000),
    "model_time_budget": ("--model-time-budget", "a number of seconds from 0.1 to 3,600", float,
                          lambda v: 0.1 <= v <= 3600),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own exit code is 2 as well; keep the message format ours
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"dlxai: error: {message}\n")


def _progress(quiet: bool):
    start = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        if not quiet:
            print(f"[{100 * fraction:5.1f}% {time.perf_counter() - start:6.1f}s] {message}", file=sys.stderr, flush=True)

    return report


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dlxai", description="dlxai: fairness and explainability audits, headless.")
    p.add_argument("--version", action="version", version=f"dlxai {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp):
        sp.add_argument("--out", metavar="PDF", help="write the audit report PDF here")
        sp.add_argument("--json", metavar="FILE", help="write the results as JSON here ('-' for stdout)")
        sp.add_argument("--fail-on", metavar="RULE", action="append", default=[],
                        help='exit 1 when a rule holds for some attribute, e.g. "demographic_parity_difference>0.1" '
                             "(repeatable; ops >, >=, <, <=)")
        sp.add_argument("--n-bootstrap", default=1000, help="bootstrap resamples for intervals (default 1000)")
        sp.add_argument("--seed", default=0, help="bootstrap seed (default 0)")
        sp.add_argument("--min-group-size", default=30, help="flag groups smaller than this (default 30)")
        sp.add_argument("--title", default="Model audit report", help="report title")
        sp.add_argument("--organisation", default="", help="organisation named on the cover")
        sp.add_argument("--analyst", default="", help="analyst named on the cover")
        sp.add_argument("--chart-engine", choices=("auto", "kaleido", "matplotlib"), default="auto",
                        help="how charts are drawn (auto: kaleido with Chromium, else matplotlib)")
        sp.add_argument("--quiet", action="store_true", help="no progress on stderr")

    a = sub.add_parser("audit", help="audit decisions, scores or a model on a CSV/Parquet file (or many, on Dask)")
    a.add_argument("--data", nargs="+", metavar="PATH",
                   help="CSV (.csv, .csv.gz, .tsv) or Parquet file; with --engine dask also a folder of them, a glob "
                        "('decisions/*.parquet') or several files")
    a.add_argument("--engine", choices=("pandas", "dask"), default="pandas",
                   help="pandas: read the file into this process (default); dask: audit the partitions on a Dask "
                        "cluster, exactly the same numbers in bounded memory")
    a.add_argument("--scheduler", metavar="ADDRESS", help="with --engine dask: an existing cluster's scheduler "
                                                          "(tcp://host:8786); default: a local cluster, one worker "
                                                          "process per core")
    a.add_argument("--workers", type=int, metavar="N", help="with --engine dask and no --scheduler: worker processes "
                                                            "of the local cluster (default: one per core)")
    a.add_argument("--explain", action="append", default=[], metavar="METHOD", dest="explain_methods",
                   help="with --model: explain it with METHOD (repeatable, or a comma list; a method the model is "
                        "offered, e.g. integrated_gradients or kernel_shap): global and per-group importance with "
                        "their quality checks, counterfactuals with the recourse burden by group, and the surrogate "
                        "tree, on seeded samples of the rows (--seed), in the JSON and the PDF")
    a.add_argument("--explain-rows", metavar="N", help="rows explained (default 200; with --engine dask: a stratified "
                                                       "sample of 2000 drawn across the partitions)")
    a.add_argument("--counterfactual-rows", default=None, metavar="N",
                   help="rejected rows searched for counterfactuals (3 each) and the recourse burden (default 200)")
    a.add_argument("--no-counterfactuals", action="store_true", help="with --explain: skip the counterfactuals")
    a.add_argument("--no-surrogate", action="store_true", help="with --explain: skip the surrogate tree")
    a.add_argument("--target", metavar="COL", help="the true outcome column (two values; needed with --data)")
    a.add_argument("--images", metavar="DIR|ZIP", help="instead of --data: a folder or zip of PNG/JPEG images, audited "
                                                       "with --labels and an image classifier --model")
    a.add_argument("--labels", metavar="CSV", help="with --images: columns file, label and group columns (default: "
                                                   "a CSV inside the zip, else one class folder per label)")
    a.add_argument("--preprocess", metavar="JSON", help="with --images: resize, crop, mean, std, channels, "
                                                        "channel_order, layout (default: ImageNet mean/std, no resize)")
    a.add_argument("--favourable-class", metavar="CLASS", help="with --images: the class whose prediction is the "
                                                               "favourable decision (default: the first class)")
    a.add_argument("--positive-label", metavar="VALUE",
                   help="the favourable outcome; default: the value that is not 0/no/false/bad/denied/rejected/"
                        "<=50K, else the larger one")
    a.add_argument("--sensitive", required=True, action="append", metavar="COL",
                   help="a column that defines groups (repeatable; each is audited on its own)")
    src = a.add_mutually_exclusive_group()
    src.add_argument("--prediction-column", metavar="COL", help="decisions: 0/1, booleans, or the target's labels")
    src.add_argument("--score-column", metavar="COL",
                     help="numeric scores on any scale, e.g. probabilities or a 1-10 decile (needs --threshold)")
    a.add_argument("--threshold", metavar="T",
                   help="decision threshold on the score's scale (--score-column), or on probabilities (--model)")
    a.add_argument("--score-direction", choices=("higher", "lower"),
                   help="for --score-column: whether a score at or above the threshold (higher, the default) or at or "
                        "below it (lower) is the favourable decision")
    a.add_argument("--model", metavar="FILE", help="ONNX, TorchScript, safetensors+spec or skops model (no pickle)")
    a.add_argument("--model-spec", metavar="JSON", help="the model's spec (preprocessing / input columns)")
    a.add_argument("--input-columns", metavar="COLS", help="comma-separated numeric input columns of the model, "
                                                           "in order (when there is no spec)")
    a.add_argument("--trust", action="append", default=[], metavar="TYPE",
                   help="a skops type to trust (repeatable; only types you checked)")
    a.add_argument("--model-time-budget", default=10, metavar="S",
                   help="seconds the model may take on 256 rows (the check), and in proportion on more rows; an "
                        "ONNX/TorchScript model that runs longer is stopped (default 10)")
    common(a)

    s = sub.add_parser("spec", help="write the dlxai-model-spec of a model file (which columns it reads, and how)")
    s.add_argument("--model", required=True, metavar="FILE", help="a skops pipeline, or any model file with --data")
    s.add_argument("--data", metavar="FILE", help="training rows (CSV/Parquet): levels and medians, and the columns "
                                                  "an ONNX model's inputs are matched to")
    s.add_argument("--input-columns", metavar="COLS", help="comma-separated numeric input columns (one tensor input)")
    s.add_argument("--trust", action="append", default=[], metavar="TYPE", help="a skops type to trust (repeatable)")
    s.add_argument("--out", metavar="JSON", help="write the spec here (default: stdout)")
    s.add_argument("--quiet", action="store_true", help="no progress on stderr")

    d = sub.add_parser("demo", help="train and audit a bundled demo dataset, offline")
    d.add_argument("--dataset", default="adult", choices=("adult", "german", "bias_lab"))
    d.add_argument("--model-kind", default="mlp", choices=("mlp", "logreg"))
    d.add_argument("--epochs", default=None, help="MLP epochs (default: the app's default)")
    d.add_argument("--sensitive", action="append", metavar="COL", help="default: the dataset's sensitive attributes")
    d.add_argument("--threshold", default=0.5)
    d.add_argument("--train-seed", default=0)
    d.add_argument("--explain", nargs="?", const=200, default=0, metavar="ROWS",
                   help="add explanations: integrated gradients on the first ROWS test rows (default 200) with "
                        "their completeness check")
    common(d)
    return p


def _numbers(args) -> None:
    """Each numeric option as a number within its range (argparse parses them as text, so that every bad value,
    '-1', '1e20' or 'abc' alike, gets one message naming the option, the value and the range)."""
    from dlxai.errors import UserInputError

    for dest, (option, allowed, kind, ok) in NUMBERS.items():
        text = getattr(args, dest, None)
        if text is None:
            continue
        value = _number(text, kind)
        if value is None or not ok(value):
            raise UserInputError(BAD_NUMBER.format(option=option, allowed=allowed, value=text))
        setattr(args, dest, value)


def _number(text, kind):
    """``text`` as an int or a finite float, else None; '1e8' is a whole number too."""
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x):
        return None
    if kind is float:
        return x
    try:
        return int(text)
    except ValueError:
        return int(x) if x.is_integer() else None


def _read(path: str):
    from dlxai.data.tables import read_table
    from dlxai.errors import UserInputError
    from dlxai.report import messages

    p = Path(path)
    if not p.is_file():
        raise UserInputError(messages.MISSING_FILE.format(path=path))
    return read_table(p, p.name).frame


def _audit(args, progress):
    from dlxai.data.predictions import SCORE_DIRECTIONS
    from dlxai.errors import UserInputError
    from dlxai.report import audit_predictions, messages

    if args.images is not None:
        from dlxai.report.imageaudit import audit_image_files

        if args.data or args.target:
            raise UserInputError(messages.DATA_OR_IMAGES)
        return audit_image_files(args.images, args.labels, args.model, model_spec=args.model_spec,
                                 preprocess=args.preprocess, favourable_class=args.favourable_class,
                                 sensitive=args.sensitive, rules=args.fail_on, n_bootstrap=args.n_bootstrap,
                                 seed=args.seed, min_group_size=args.min_group_size,
                                 time_budget_s=args.model_time_budget, progress=progress)
    if args.data is None or args.target is None:
        raise UserInputError(messages.DATA_OR_IMAGES)
    if args.score_direction is not None and args.score_column is None:
        raise UserInputError("--score-direction applies to --score-column only. Drop it, or pass --score-column.")
    args.explain_methods = _explain_methods(args)
    if args.engine == "dask":
        return _audit_dask(args, progress)
    for option in ("scheduler", "workers"):
        if getattr(args, option):
            raise UserInputError(messages.DASK_ONLY_OPTION.format(option=f"--{option}"))
    if len(args.data) > 1 or Path(args.data[0]).is_dir() or glob.has_magic(args.data[0]):
        raise UserInputError(messages.ONE_FILE_ENGINE.format(data=", ".join(args.data)))
    args.data = args.data[0]  # the pandas engine reads one file
    frame = _read(args.data)
    common = dict(rules=args.fail_on, n_bootstrap=args.n_bootstrap, seed=args.seed,
                  min_group_size=args.min_group_size, progress=progress)
    if args.model is None:
        if args.prediction_column is None and args.score_column is None:
            raise UserInputError(messages.PREDICTION_SOURCE.format(pred=None, score=None))
        return audit_predictions(frame, target=args.target, sensitive=args.sensitive,
                                 prediction_column=args.prediction_column, score_column=args.score_column,
                                 threshold=args.threshold,
                                 higher_is_favourable=SCORE_DIRECTIONS[args.score_direction or "higher"],
                                 positive_label=args.positive_label, name=Path(args.data).name, source=str(args.data),
                                 **common)
    if args.prediction_column or args.score_column:
        raise UserInputError(messages.PREDICTION_SOURCE.format(pred=args.prediction_column, score=args.score_column))
    return _audit_model_file(frame, args, common)


def _explain_methods(args) -> list[str]:
    """``--explain`` values (repeated or comma lists) as method names; the options that need them checked."""
    from dlxai.errors import UserInputError
    from dlxai.report import messages

    methods = [m.strip() for v in args.explain_methods for m in v.split(",") if m.strip()]
    if methods and args.model is None:
        raise UserInputError(messages.EXPLAIN_NEEDS_MODEL_FILE.format(methods=",".join(methods)))
    if not methods:
        for option in ("explain_rows", "counterfactual_rows", "no_counterfactuals", "no_surrogate"):
            if getattr(args, option) not in (None, False):
                raise UserInputError(messages.EXPLAIN_OPTION_NEEDS_EXPLAIN.format(
                    option="--" + option.replace("_", "-")))
    return methods


def _model_path(path: str) -> Path:
    from dlxai.errors import UserInputError
    from dlxai.report import messages

    p = Path(path)
    if not p.is_file():
        raise UserInputError(messages.MISSING_FILE.format(path=path))
    return p


def _model_inputs(args) -> tuple:
    """(spec, input columns, threshold) of ``--model``: the model's input contract and decision threshold."""
    from dlxai.data.jsonsafe import load_json
    from dlxai.validation import check_threshold

    _model_path(args.model)
    spec = None
    if args.model_spec:
        spec = load_json(_model_path(args.model_spec), what=f"The model spec {args.model_spec!r}")
    cols = [c.strip() for c in args.input_columns.split(",")] if args.input_columns else None
    threshold = 0.5 if args.threshold is None else check_threshold(args.threshold)  # on the model's probabilities
    return spec, cols, threshold


def _audit_dask(args, progress):
    """The same audit of a folder, glob or list of files, on a Dask cluster (dlxai.report.distributed)."""
    from dlxai.errors import UserInputError
    from dlxai.report import messages
    from dlxai.report.distributed import audit_partitions

    if args.workers is not None and args.scheduler is not None:
        raise UserInputError("--workers sizes the local cluster; an existing cluster (--scheduler) has its own "
                             "workers. Drop one of them.")
    common = dict(target=args.target, sensitive=args.sensitive, positive_label=args.positive_label,
                  rules=args.fail_on, n_bootstrap=args.n_bootstrap, seed=args.seed,
                  min_group_size=args.min_group_size, scheduler=args.scheduler, n_workers=args.workers,
                  progress=progress)
    data = args.data[0] if len(args.data) == 1 else args.data
    if args.model is None:
        if args.prediction_column is None and args.score_column is None:
            raise UserInputError(messages.PREDICTION_SOURCE.format(pred=None, score=None))
        return audit_partitions(data, prediction_column=args.prediction_column, score_column=args.score_column,
                                threshold=args.threshold, **common)
    if args.prediction_column or args.score_column:
        raise UserInputError(messages.PREDICTION_SOURCE.format(pred=args.prediction_column, score=args.score_column))
    spec, cols, threshold = _model_inputs(args)
    methods = args.explain_methods
    for option in ("counterfactual_rows", "no_counterfactuals", "no_surrogate"):
        if getattr(args, option) not in (None, False):
            raise UserInputError(messages.PANDAS_ONLY_OPTION.format(option="--" + option.replace("_", "-")))
    if len(methods) > 1:
        raise UserInputError(messages.DASK_ONE_METHOD.format(methods=",".join(methods)))
    rows = (args.explain_rows or 2000) if methods else 0
    return audit_partitions(data, model=args.model, model_spec=spec, input_columns=cols, trusted=args.trust or None,
                            threshold=threshold, explain_rows=rows, explain_method=methods[0] if methods else "auto",
                            explain_seed=args.seed, **common)


def _audit_model_file(frame, args, common):
    """A model file: its decisions on the data's rows, audited like a prediction column.  ONNX/TorchScript run
    in a sandboxed worker; every call on them is bounded by ``--model-time-budget`` (per 256 rows)."""
    import numpy as np

    from dlxai.models.formats import load_model, read_model_file
    from dlxai.report import audit_predictions, default_positive_label
    from dlxai.report.model_results import ExplainPlan, check_methods, model_results

    mp = _model_path(args.model)
    spec, cols, threshold = _model_inputs(args)
    positive = args.positive_label
    if positive is None and args.target in frame.columns:
        positive = default_positive_label(frame[args.target].dropna().unique())
    say = common["progress"]
    say(0.0, f"Loading model {mp.name}")
    model = load_model(read_model_file(mp), mp.name, spec=spec, input_columns=cols, trusted=args.trust or None,
                       sample=frame, reference=frame, positive_label=positive, time_budget_s=args.model_time_budget)
    try:
        methods = check_methods(args.explain_methods, model, mp.name)  # before any work: exit 2 naming the offered ones
        say(0.02, f"Contract: {model.contract.contract}")
        proba = np.asarray(model.predict_proba(frame), dtype=float)
        scored = frame.assign(__dlxai_score__=proba)
        span = 0.3 if methods else 1.0
        bundle = audit_predictions(scored, target=args.target, sensitive=args.sensitive,
                                   score_column="__dlxai_score__", threshold=threshold,
                                   positive_label=args.positive_label, name=Path(args.data).name,
                                   source=str(args.data), **{**common, "progress": lambda f, m: say(span * f, m)})
        card = model.card()
        card["decisions_from"] = f"model probabilities >= {threshold:g}"
        card["contract"] = model.contract.contract
        params = {**bundle.params, "mode": "model file", "model_file": str(args.model), "score_column": None}
        bundle = bundle.with_results(model_card=card, params=params)
        if methods:
            plan = ExplainPlan(methods, rows=args.explain_rows or 200,
                               counterfactual_rows=0 if args.no_counterfactuals else (
                                   200 if args.counterfactual_rows is None else args.counterfactual_rows),
                               surrogate=not args.no_surrogate, seed=args.seed)
            bundle = model_results(bundle, model, frame, plan, progress=lambda f, m: say(0.3 + 0.45 * f, m))
    finally:
        model.close()
    return bundle


def _spec(args, progress) -> dict:
    """The spec of a model file: for a skops pipeline from the file alone, for any file with ``--data``."""
    from dlxai.models.formats import _load_skops, detect_format, load_model, read_model_file
    from dlxai.models.spec import spec_for_estimator, spec_for_model

    mp = _model_path(args.model)
    raw = read_model_file(mp)
    cols = [c.strip() for c in args.input_columns.split(",")] if args.input_columns else None
    if args.data:
        frame = _read(args.data)
        progress(0.1, f"Loading {mp.name} and checking it on {min(len(frame), 256)} rows of {args.data}")
        model = load_model(raw, mp.name, input_columns=cols, trusted=args.trust or None, sample=frame,
                           reference=frame)
        model.close()
        return spec_for_model(model)
    if detect_format(raw, mp.name) != "skops":
        from dlxai.errors import UserInputError

        raise UserInputError(f"{mp.name!r} is not a skops pipeline, so its columns can only be matched to a table: "
                             "pass --data with the training rows.")
    return spec_for_estimator(_load_skops(raw, mp.name, args.trust or None), name=mp.name)


def _demo(args, progress):
    from dlxai.data.bundled import load_demo
    from dlxai.models import train_model
    from dlxai.report import audit_model

    progress(0.0, f"Loading the bundled {args.dataset} dataset")
    ds = load_demo(args.dataset)
    params = {} if args.epochs is None or args.model_kind != "mlp" else {"max_epochs": args.epochs}
    progress(0.02, f"Training {args.model_kind} on {len(ds.train):,} rows")

    def epoch(info):
        progress(0.02 + 0.6 * min(info.fraction, 1.0), f"Epoch {info.epoch}/{info.max_epochs}: loss {info.train_loss:.4f}")

    model = train_model(ds, args.model_kind, seed=args.train_seed, progress=epoch, **params)
    progress(0.65, f"Trained in {model.fit_seconds:.1f} s")

    def later(f, m):
        progress(0.65 + 0.1 * f, m)

    results = {}
    if args.explain:
        results["explanations"] = _explain(ds, model, int(args.explain), progress)
    return audit_model(model, ds, sensitive=args.sensitive, threshold=args.threshold, rules=args.fail_on,
                       n_bootstrap=args.n_bootstrap, seed=args.seed, min_group_size=args.min_group_size, progress=later,
                       **results)


def _explain(ds, model, rows: int, progress):
    """Integrated gradients on the first ``rows`` test rows, with the completeness check."""
    from dlxai.explain.attribution import attribute
    from dlxai.explain.quality import completeness

    progress(0.63, f"Explaining {rows} test rows with integrated gradients")
    result = attribute(model, ds.X("test").head(rows), method="integrated_gradients", n_steps=32)
    return [result, completeness(result)]


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    progress = _progress(args.quiet)
    try:
        _numbers(args)
        from dlxai.report import parse_rule

        for r in getattr(args, "fail_on", ()):  # bad rules fail before any work
            parse_rule(r)
        if args.command == "spec":
            return _write_spec(args, progress)
        if getattr(args, "model", None):
            from dlxai.models.worker import prestart

            prestart()  # the model worker's zygote imports torch while the data loads
        if args.out and args.chart_engine != "matplotlib":
            from dlxai.report import charts

            charts.warm_up()  # Chromium starts while the data loads and the model trains
        bundle = _audit(args, progress) if args.command == "audit" else _demo(args, progress)
        result = bundle.to_dict()
        if args.out:
            from dlxai.report import build_report

            def rep(f, m):
                progress(0.75 + 0.25 * f, m)

            rep_res = build_report(bundle, title=args.title, organisation=args.organisation, analyst=args.analyst,
                                   chart_engine=args.chart_engine, progress=rep)
            rep_res.save(args.out)
            result["report"] = {"path": str(args.out), "pages": rep_res.pages, "charts": rep_res.chart_engines}
            progress(1.0, f"Wrote {args.out} ({rep_res.pages} pages)")
        if args.json:
            text = json.dumps(result, indent=2, allow_nan=False)
            if args.json == "-":
                sys.stdout.write(text + "\n")
            else:
                Path(args.json).write_text(text + "\n")
                progress(1.0, f"Wrote {args.json}")
    except DlxaiError as exc:
        print(f"dlxai: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # an output path that cannot be written
        print(f"dlxai: error: {exc.strerror or exc} ({exc.filename}). Check the path and its permissions.",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:  # noqa: BLE001 - a bug: say so, with the traceback
        import traceback

        traceback.print_exc()
        print("dlxai: internal error (a bug in dlxai; please report it with the traceback above).", file=sys.stderr)
        return EXIT_INTERNAL
    failed = [c for c in bundle.checks if c.violated] if bundle.user_rules else []
    for c in failed:
        print(f"dlxai: FAIL {c.rule.text} by {c.attribute}: value {c.value:.4f}", file=sys.stderr)
    if not failed and bundle.user_rules:
        print(f"dlxai: PASS all {len(bundle.checks)} checks", file=sys.stderr)
    return EXIT_VIOLATED if failed else EXIT_OK


def _write_spec(args, progress) -> int:
    text = json.dumps(_spec(args, progress), indent=1) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        progress(1.0, f"Wrote {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def main() -> None:
    sys.exit(run())
