"""The hostile catalogue as data: each case names its kind, the entry point it attacks, how its bytes are built,
what must come out (an error class and message, a CLI exit code and message, or a correct answer on a valid but
awkward file), and the bounds it must stay within.

``build(box)`` writes the case's files into its own folder and returns the entry point's arguments.  A case with
``plants=True`` carries a payload whose side effect would create ``box.marker`` or overwrite ``box.canary`` (or
read a host file into its output); the test asserts neither happened, for every case.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dlxai import errors
from tests.hostile import builders as b

CANARY_TEXT = "canary-7c1e0b: must stay exactly this\n"


def msg(template: str) -> str:
    """A regex matching any message formatted from ``template`` (the fixed text between the fields)."""
    parts = re.split(r"\{[^}]*\}", template)
    return "(?s)" + ".*?".join(re.escape(p) for p in parts)


@dataclass
class Box:
    """A case's folder: where its files go, the marker that must not appear, the canary that must not change."""

    dir: Path
    data: str  # a valid CSV of 300 rows (age, income, sex, y, pred, score)

    @property
    def marker(self) -> str:
        return str(self.dir / "PWNED")

    @property
    def canary(self) -> str:
        return str(self.dir / "canary.txt")

    def write(self, name: str, raw: bytes) -> str:
        path = self.dir / name
        path.write_bytes(raw)
        return str(path)


# peak RSS above the forked child's start (MB) and wall seconds, per kind; tighter per case where it matters
BOUNDS = {
    "csv": (400, 30), "compressed": (400, 30), "parquet": (400, 30), "profile": (300, 20), "pickle": (300, 20),
    "torchscript": (600, 40), "onnx": (700, 40), "skops": (400, 30), "safetensors": (400, 20),
    "spec-json": (300, 20), "predictions": (300, 20), "cli-args": (600, 40), "cli-file": (800, 60),
}


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    entry: str
    build: Callable[[Box], dict]
    expect: str  # an exception class name (matched on its MRO), "ok", or "exit:N" for the CLI
    match: str | tuple[str, ...] = ""  # regex(es) on the message (stderr for the CLI; the returned value for "ok")
    plants: bool = False
    mem_mb: int | None = None
    wall_s: float | None = None
    cpu_s: float | None = None  # CPU seconds of the engine's process (the sniffer case)
    issue: str = ""  # the issue #12 finding this case re-creates

    @property
    def bounds(self) -> tuple[int, float]:
        mem, wall = BOUNDS[self.kind]
        return self.mem_mb or mem, self.wall_s or wall


CASES: list[Case] = []


def case(id, kind, entry, build, expect, match="", **kw):
    CASES.append(Case(id, kind, entry, build, expect, match, **kw))


UIE, USM, TIMEOUT, RES = "UserInputError", "UnsupportedModelError", "ModelTimeoutError", "ModelResourceError"


def table(raw: bytes | Callable[[Box], bytes], name: str = "t.csv", **kw) -> Callable[[Box], dict]:
    def build(box: Box) -> dict:
        data = raw(box) if callable(raw) else raw
        return {"path": box.write(name, data), "name": name, **kw}
    return build


# --- CSV: structure, encodings, size ---------------------------------------------------------------------------
LATIN1 = "name,city,y\nJosé,Köln,1\nAna,Málaga,0\n".encode("latin-1")
for cid, raw, kw, expect, match in [
    ("csv-empty", b"", {}, UIE, msg(errors.UPLOAD_EMPTY)),
    ("csv-whitespace-only", b"\n \n\t\n", {}, UIE, msg(errors.UPLOAD_EMPTY)),
    ("csv-header-only", b"age,sex,y\n", {}, UIE, msg(errors.UPLOAD_HEADER_ONLY)),
    ("csv-binary-garbage", bytes(range(256)) * 16, {}, UIE, msg(errors.UPLOAD_BINARY)),
    ("csv-png-renamed", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200, {}, UIE, msg(errors.UPLOAD_BINARY)),
    ("csv-nul-in-middle", b"a,b,y\n1,2,0\n" + b"3,\x00\x00,1\n" * 50, {}, UIE, msg(errors.UPLOAD_BINARY)),
    ("csv-utf16-bom", b.GOOD_CSV.decode().encode("utf-16"), {}, UIE, msg(errors.UPLOAD_UTF16)),
    ("csv-utf16-no-bom", b.GOOD_CSV.decode().encode("utf-16-le"), {}, UIE, msg(errors.UPLOAD_UTF16)),
    ("csv-utf32", b.GOOD_CSV.decode().encode("utf-32"), {}, UIE, msg(errors.UPLOAD_UTF16)),
    ("csv-latin1-declared-utf8", LATIN1, {"encoding": "utf-8"}, UIE, msg(errors.UPLOAD_BAD_ENCODING)),
    ("csv-unknown-encoding", b.GOOD_CSV, {"encoding": "klingon-8"}, UIE, "Unknown encoding 'klingon-8'"),
    ("codec-rot13", b.GOOD_CSV, {"encoding": "rot13"}, UIE, msg(errors.UPLOAD_NOT_TEXT_ENCODING)),
    ("codec-zlib", b.GOOD_CSV, {"encoding": "zlib_codec"}, UIE, msg(errors.UPLOAD_NOT_TEXT_ENCODING)),
    ("codec-base64", b.GOOD_CSV, {"encoding": "base64"}, UIE, msg(errors.UPLOAD_NOT_TEXT_ENCODING)),
    ("codec-hex", b.GOOD_CSV, {"encoding": "hex_codec"}, UIE, msg(errors.UPLOAD_NOT_TEXT_ENCODING)),
    ("codec-bz2", b.GOOD_CSV, {"encoding": "bz2_codec"}, UIE, msg(errors.UPLOAD_NOT_TEXT_ENCODING)),
    ("codec-uu", b.GOOD_CSV, {"encoding": "uu_codec"}, UIE, msg(errors.UPLOAD_NOT_TEXT_ENCODING)),
    ("csv-wrong-delimiter", b.GOOD_CSV.replace(b",", b";"), {"delimiter": ","}, UIE, msg(errors.UPLOAD_ONE_COLUMN)),
    ("csv-single-column", b"value\n1\n2\n3\n", {}, UIE, msg(errors.UPLOAD_ONE_COLUMN)),
    ("csv-two-char-delimiter", b.GOOD_CSV, {"delimiter": ";;"}, UIE, "The delimiter must be one character"),
    ("csv-ragged-rows", b"a,b,y\n1,2,0\n1,2,3,4,5\n3,4,1\n", {}, UIE, msg(errors.UPLOAD_PARSE_ERROR)),
    ("csv-unclosed-quote", b'a,b,y\n1,"open,0\n2,3,1\n', {}, UIE, msg(errors.UPLOAD_PARSE_ERROR)),
    ("csv-duplicate-columns", b"age,sex,age,y\n1,F,2,0\n3,M,4,1\n", {}, UIE, msg(errors.UPLOAD_DUPLICATE_COLUMNS)),
    ("csv-duplicate-after-trim", b"age, age ,y\n1,2,0\n3,4,1\n", {}, UIE, msg(errors.UPLOAD_DUPLICATE_COLUMNS)),
    ("csv-blank-column-name", b"age,,y\n1,2,0\n3,4,1\n", {}, UIE, msg(errors.UPLOAD_BLANK_HEADER)),
    ("csv-only-delimiters-header", b"," * 5000 + b"\n" + b"1," * 5000 + b"\n", {}, UIE, msg(errors.UPLOAD_BLANK_HEADER)),
    ("csv-over-size-limit", b.GOOD_CSV * 10, {"max_bytes": len(b.GOOD_CSV)}, UIE, msg(errors.UPLOAD_TOO_LARGE)),
    ("csv-formula-cells-kept-as-text", b"name,amount,y\n=cmd|' /C calc'!A0,1,0\n+SUM(A1),2,1\n@x,3,0\n", {}, "ok",
     r"'shape': \[3, 3\]"),
    ("csv-bom-utf8-ok", b"\xef\xbb\xbf" + b.GOOD_CSV, {}, "ok", r"'shape': \[300, 6\]"),
    ("csv-bare-cr-ok", b.GOOD_CSV.replace(b"\n", b"\r"), {}, "ok", r"'shape': \[300, 6\]"),
    ("csv-overflowing-numbers-ok", b"a,b,y\n1e999999,-1e999999,0\n99999999999999999999999,2,1\n", {}, "ok",
     r"'shape': \[2, 3\]"),
]:
    case(cid, "csv", "read_table", table(raw, **kw), expect, match)

case("csv-wide-header-20000-columns-valid", "csv", "read_table", table(b.csv_wide(20_000)), "ok",
     r"'shape': \[3, 20000\].*feature_19999", issue="a valid 20,000-column file was refused for a duplicate that "
     "does not exist (header checked on a 64 KiB cut)")
case("csv-wide-header-duplicate-past-64k", "csv", "read_table", table(b.csv_wide(20_000, dup_at=15_000)), UIE,
     (msg(errors.UPLOAD_DUPLICATE_COLUMNS), "feature_14999"),
     issue="real duplicates past the 64 KiB cut were silently renamed")
case("csv-sniffer-trap-60kb", "csv", "read_table", table(b.csv_sniffer_trap(60_000)), "any", cpu_s=5.0,
     issue="a 60 KB CSV built to defeat the dialect sniffer took 20-26 s of CPU")
case("csv-sniffer-trap-1mb", "csv", "read_table", table(b.csv_sniffer_trap(1_000_000)), "any", cpu_s=8.0)
case("csv-one-50mb-line", "csv", "read_table", table(b"a,b\n" + b"x" * 50_000_000), "any", mem_mb=800)


def _sparse(size: int, name: str = "huge.csv") -> Callable[[Box], dict]:
    def build(box: Box) -> dict:
        path = box.dir / name
        with open(path, "wb") as fh:
            fh.truncate(size)  # sparse: no disk, no memory; only os.stat knows its size
        return {"path": str(path), "name": name}
    return build


case("file-1.6gb-refused-from-stat", "csv", "read_table", _sparse(1_600_000_000), UIE, msg(errors.UPLOAD_TOO_LARGE),
     mem_mb=100, wall_s=10, issue="a 1.6 GB file was read whole before its size was checked")
case("file-dev-zero", "csv", "read_table", lambda box: {"path": "/dev/zero", "name": "zero.csv"}, UIE,
     msg(errors.UPLOAD_NOT_REGULAR), mem_mb=100, wall_s=10)
case("file-dev-urandom", "csv", "read_table", lambda box: {"path": "/dev/urandom", "name": "r.csv"}, UIE,
     msg(errors.UPLOAD_NOT_REGULAR), mem_mb=100, wall_s=10)


def _fifo(box: Box) -> dict:
    path = box.dir / "pipe.csv"
    os.mkfifo(path)  # opening it for reading would block until a writer comes: never
    return {"path": str(path), "name": "pipe.csv"}


case("file-fifo", "csv", "read_table", _fifo, UIE, msg(errors.UPLOAD_NOT_REGULAR), mem_mb=100, wall_s=10)
case("file-directory", "csv", "read_table", lambda box: {"path": str(box.dir), "name": "dir"}, UIE,
     msg(errors.UPLOAD_NOT_REGULAR))
case("file-missing", "csv", "read_table", lambda box: {"path": str(box.dir / "nope.csv")}, UIE,
     msg(errors.UPLOAD_NO_FILE))

# --- compressed tables -------------------------------------------------------------------------------------------
GB = 1_000_000_000
for cid, build, expect, match, kw in [
    ("gzip-bomb-400mb", table(lambda box: b.gzip_bomb(400_000_000), "bomb.csv.gz"), UIE, msg(errors.UPLOAD_DECOMPRESSION_BOMB),
     {"mem_mb": 300}),
    ("gzip-bomb-under-limit-but-ratio", table(lambda box: b.gzip_bomb(120_000_000), "r.csv.gz"), UIE,
     msg(errors.UPLOAD_DECOMPRESSION_BOMB), {"mem_mb": 300}),
    ("bz2-bomb", table(lambda box: b.bz2_bomb(120_000_000), "bomb.csv.bz2"), UIE, msg(errors.UPLOAD_DECOMPRESSION_BOMB),
     {"mem_mb": 300}),
    ("xz-bomb", table(lambda box: b.xz_bomb(120_000_000), "bomb.csv.xz"), UIE, msg(errors.UPLOAD_DECOMPRESSION_BOMB),
     {"mem_mb": 300}),
    ("zip-bomb-400mb", table(lambda box: b.zip_bomb(400_000_000), "bomb.zip"), UIE, msg(errors.UPLOAD_DECOMPRESSION_BOMB),
     {"mem_mb": 300}),
    ("zip-declared-size-lies", table(lambda box: b.zip_lying_size(200_000_000), "liar.zip"), UIE, "", {"mem_mb": 300}),
    ("gzip-truncated", table(gzip.compress(b.GOOD_CSV * 20)[:300], "t.csv.gz"), UIE,
     msg(errors.UPLOAD_BAD_COMPRESSION), {}),
    ("gzip-trailing-garbage", table(gzip.compress(b.GOOD_CSV) + b"\x00garbage" * 10, "g.csv.gz"), UIE,
     msg(errors.UPLOAD_BAD_COMPRESSION), {}),
    ("gzip-multi-member-ok", table(b.multi_member(gzip.compress), "m.csv.gz"), "ok",
     r"'shape': \[300, 6\]", {}),
    ("bz2-multi-stream-ok", table(b.multi_member(bz2.compress), "m.csv.bz2"), "ok",
     r"'shape': \[300, 6\]", {}),
    ("xz-multi-stream-ok", table(b.multi_member(lzma.compress), "m.csv.xz"), "ok",
     r"'shape': \[300, 6\]", {}),
    ("gzip-inside-gzip", table(gzip.compress(gzip.compress(b.GOOD_CSV)), "n.csv.gz.gz"), UIE,
     msg(errors.UPLOAD_NESTED_ARCHIVE), {}),
    ("zip-inside-zip", table(b.zip_of({"inner.zip": b.zip_of({"a.csv": b.GOOD_CSV})}), "n.zip"), UIE,
     msg(errors.UPLOAD_NESTED_ARCHIVE), {}),
    ("zip-two-members", table(b.zip_of({"a.csv": b.GOOD_CSV, "b.csv": b.GOOD_CSV}), "two.zip"), UIE,
     msg(errors.UPLOAD_ZIP_MEMBERS), {}),
    ("zip-no-members", table(b.zip_of({}), "none.zip"), UIE, "", {}),
    ("zip-xlsx-renamed", table(b.zip_of({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<w/>"}), "x.csv"), UIE,
     msg(errors.UPLOAD_ZIP_MEMBERS), {}),
    ("zip-encrypted-member", table(b.zip_encrypted_flag(b.GOOD_CSV), "enc.zip"), UIE,
     msg(errors.UPLOAD_BAD_COMPRESSION), {}),
    ("zip-corrupt-directory", table(b"PK\x03\x04" + b"\x00" * 200, "c.zip"), UIE, msg(errors.UPLOAD_BAD_COMPRESSION), {}),
]:
    case(cid, "compressed", "read_table", build, expect, match, **kw)


def _traversal(name_of: Callable[[Box], str]) -> Callable[[Box], dict]:
    def build(box: Box) -> dict:
        raw = b.zip_of({name_of(box): b.GOOD_CSV})
        return {"path": box.write("trav.zip", raw), "name": "trav.zip"}
    return build


case("zip-member-path-traversal", "compressed", "read_table",
     _traversal(lambda box: "../" * 12 + box.marker.lstrip("/")), "ok", r"'shape': \[300, 6\]", plants=True)
case("zip-member-absolute-path", "compressed", "read_table", _traversal(lambda box: box.canary), "ok",
     r"'shape': \[300, 6\]", plants=True)

# --- Parquet -------------------------------------------------------------------------------------------------------
case("parquet-rle-120m-rows", "parquet", "read_table", table(lambda box: b.parquet_rle_bomb(), "rle.parquet"), UIE,
     msg(errors.UPLOAD_TOO_MANY_ROWS), mem_mb=200,
     issue="a 1.3 MB Parquet file (run-length encoded, 120 M rows) reached 6 GB")
case("parquet-memory-estimate-rows-x-width", "parquet", "read_table",
     table(lambda box: b.parquet_rle_bomb(10_000_000, 3), "wide.parquet", max_memory=200_000_000), UIE,
     msg(errors.UPLOAD_TOO_BIG_IN_MEMORY), mem_mb=200)
case("parquet-rows-over-limit", "parquet", "read_table",
     table(lambda box: b.parquet_rle_bomb(30_000_000, 1), "rows.parquet", max_rows=1_000_000), UIE,
     msg(errors.UPLOAD_TOO_MANY_ROWS), mem_mb=200)
case("parquet-long-strings", "parquet", "read_table",
     table(lambda box: b.parquet_wide_strings(), "s.parquet", max_memory=50_000_000), UIE,
     msg(errors.UPLOAD_TOO_BIG_IN_MEMORY), mem_mb=300)
for kind_ in ("list", "struct", "map", "list-sensitive"):
    case(f"parquet-nested-{kind_}", "parquet", "read_table",
         table(lambda box, k=kind_: b.parquet_nested(k), "n.parquet"), UIE, msg(errors.UPLOAD_NESTED_COLUMNS),
         issue="Parquet with list or struct columns: TypeError unhashable type" if kind_ == "list" else "")
case("parquet-duplicate-names", "parquet", "read_table", table(lambda box: b.parquet_duplicate_names(), "d.parquet"),
     UIE, msg(errors.UPLOAD_DUPLICATE_COLUMNS))
case("parquet-corrupt", "parquet", "read_table", table(b"PAR1" + b"\x07" * 500 + b"PAR1", "x.parquet"), UIE,
     msg(errors.UPLOAD_BAD_PARQUET))
case("parquet-truncated", "parquet", "read_table",
     table(lambda box: b.parquet_nested("none")[:-40], "x.parquet"), UIE, msg(errors.UPLOAD_BAD_PARQUET))
case("parquet-footer-length-lies", "parquet", "read_table",
     table(lambda box: b.parquet_nested("none")[:-8] + (2**31 - 1).to_bytes(4, "little") + b"PAR1", "x.parquet"), UIE,
     msg(errors.UPLOAD_BAD_PARQUET))
case("parquet-gzipped-rle-bomb", "parquet", "read_table",
     table(lambda box: gzip.compress(b.parquet_rle_bomb()), "rle.parquet.gz"), UIE,
     msg(errors.UPLOAD_TOO_MANY_ROWS), mem_mb=200)

# --- the Upload page's profiling functions on nested cells (a frame from any source) ----------------------------------
for fn, args in (("profile_columns", ()), ("suggest_target", ()), ("suggest_sensitive", ()),
                 ("label_values", ("tags",)), ("build_schema", ("y", "yes", ["tags"]))):
    case(f"profile-{fn}-list-cells", "profile", "profile",
         lambda box, fn=fn, args=args: {"path": box.write("n.parquet", b.parquet_nested(
             "list-sensitive" if fn == "suggest_sensitive" else "list")), "fn": fn, "args": list(args)}, UIE, msg(errors.UNHASHABLE_COLUMN),
         issue="TypeError: unhashable type in the Upload page's profiling functions" if fn == "profile_columns" else "")
case("profile-struct-cells", "profile", "profile",
     lambda box: {"path": box.write("n.parquet", b.parquet_nested("struct")), "fn": "profile_columns"}, UIE,
     msg(errors.UNHASHABLE_COLUMN))


# --- pickles in disguise: refused, never executed ------------------------------------------------------------------
def model(raw_of: Callable[[Box], bytes], name: str, entry: str = "load_model", **kw) -> Callable[[Box], dict]:
    def build(box: Box) -> dict:
        args = {"path": box.write(name, raw_of(box)), "name": name}
        if entry == "load_model":
            args.update({"sample": box.data, "input_columns": b.COLUMNS, "time_budget_s": 2.0})
        args.update(kw)
        return args
    return build


for cid, raw_of, name in [
    ("pickle-pkl", lambda box: b.pickle_payload(box.marker), "model.pkl"),
    ("pickle-renamed-pt", lambda box: b.pickle_payload(box.marker), "model.pt"),
    ("pickle-renamed-onnx", lambda box: b.pickle_payload(box.marker), "model.onnx"),
    ("pickle-renamed-skops", lambda box: b.pickle_payload(box.marker), "model.skops"),
    ("pickle-renamed-safetensors", lambda box: b.pickle_payload(box.marker), "model.safetensors"),
    ("pickle-protocol-2", lambda box: b.pickle_payload(box.marker, 2), "model.bin"),
    ("pickle-protocol-0-text", lambda box: b.pickle_payload(box.marker, 0), "model.pt"),
    ("pickle-protocol-0-as-onnx", lambda box: b.pickle_payload(box.marker, 0), "model.onnx"),
    ("joblib-payload", lambda box: b.joblib_payload(box.marker), "model.joblib"),
    ("joblib-renamed-pt", lambda box: b.joblib_payload(box.marker), "model.pt"),
    ("pickle-zlib-compressed", lambda box: zlib.compress(b.pickle_payload(box.marker)), "model.pt"),
    ("torch-save-with-exec", lambda box: b.torch_save_payload(box.marker), "model.pt"),
    ("torch-save-full-module", lambda box: b.torch_full_module(), "model.pt"),
    ("pickle-inside-zip-as-pt", lambda box: b.zip_of({"archive/data.pkl": b.pickle_payload(box.marker)}), "m.pt"),
]:
    case(cid, "pickle", "load_model", model(raw_of, name), UIE, "", plants=True)
case("pickle-input-facts-says-sklearn", "pickle", "input_facts",
     model(lambda box: b.pickle_payload(box.marker), "model.pkl", entry="input_facts"), "ok", "scikit-learn",
     plants=True)
case("pickle-detected-not-loaded", "pickle", "detect_format",
     model(lambda box: b.pickle_payload(box.marker), "weights.onnx", entry="detect_format"), "ok", "pickle", plants=True)

# --- TorchScript: vetted before anything loads it; hangs and allocations stopped by the worker --------------------------
VET = msg(errors.MODEL_FORBIDDEN_OPERATOR)
OVER_BUDGET = (msg(errors.MODEL_CHECK_TIMEOUT), "longer than the time budget of 2 s on 256 rows")
for cid, raw_of, match, issue in [
    ("ts-from-file-shared-writes-canary", lambda box: b.script_bytes(b.WritesThroughSharedMapping(box.canary)),
     (VET, r"from_file"), "a TorchScript model read and wrote host files (torch.from_file(..., shared=True))"),
    ("ts-from-file-creates-marker", lambda box: b.script_bytes(b.CreatesAFile(box.marker)), VET, ""),
    ("ts-passwd-into-scores", lambda box: b.script_bytes(b.PasswdIntoScores()), VET,
     "another put the first bytes of /etc/passwd into its scores"),
    ("ts-canary-into-scores", lambda box: b.script_bytes(b.PasswdIntoScores(box.canary)), VET, ""),
    ("ts-aten-from-file", lambda box: b.script_bytes(b.AtenFromFile()), (VET, "from_file"), ""),
    ("ts-setstate-creates-marker-at-load", lambda box: b.script_bytes(b.SetstateCreates(box.marker)),
     (VET, "while the file is being loaded"), ""),
    ("ts-fork", lambda box: b.script_bytes(b.Forks()), VET, ""),
    ("ts-print", lambda box: b.script_bytes(b.Prints()), (VET, r"print\(\)"), ""),
    ("ts-edit-torch-save", lambda box: b.edited_linear(f'_0 = torch.save(input, "{box.marker}")'), (VET, "torch.save"),
     ""),
    ("ts-edit-prim-print", lambda box: b.edited_linear("_0 = ops.prim.Print(input)"), VET, ""),
    ("ts-edit-getattr-torch", lambda box: b.edited_linear('_0 = getattr(torch, "from_file")'), VET, ""),
    ("ts-edit-classes-io-file", lambda box: b.edited_linear(f'_0 = __torch__.torch.classes.io.File("{box.canary}")'),
     VET, ""),
    ("ts-edit-set-storage", lambda box: b.edited_linear("_0 = (input).set_(input)"), (VET, r"set_"), ""),
    ("ts-edit-ops-aten-from-file-default", lambda box: b.edited_linear(
        f'_0 = ops.aten.from_file.default("{box.marker}", True, 8)'), VET, ""),
    ("ts-edit-hidden-in-string", lambda box: b.edited_linear(f'_0 = """\n    torch.from_file("{box.marker}")"""'),
     "string syntax", ""),
    ("ts-pickled-global-exec", lambda box: b.pickled_global(box.marker), r"pickled global builtins\.exec", ""),
    ("ts-member-path-traversal", lambda box: b.rewrite_zip(b.script_bytes(b.Linear2()),
                                                           {"archive/../../PWNED": b"x"}), "unsafe path", ""),
    ("ts-unknown-member", lambda box: b.rewrite_zip(b.script_bytes(b.Linear2()), {"archive/bytecode.pkl": b"\x80\x02N."}),
     "not part of a torch.jit.save archive", ""),
    ("ts-no-data-pkl", lambda box: b.rewrite_zip(b.script_bytes(b.Linear2()), {"archive/data.pkl": None}),
     "no data.pkl", ""),
]:
    case(cid, "torchscript", "load_model", model(raw_of, "model.pt"), UIE, match, plants=True, issue=issue)

case("ts-loops-forever", "torchscript", "load_model", model(lambda box: b.script_bytes(b.LoopsForever()), "m.pt"),
     USM, OVER_BUDGET, wall_s=30, issue="a TorchScript forward that never ends")
case("ts-fast-on-256-loops-on-more", "torchscript", "load_model",
     model(lambda box: b.script_bytes(b.FastOnTheCheckOnly()), "m.pt"), TIMEOUT, msg(errors.MODEL_TIMEOUT), wall_s=40,
     issue="a model fast on the 256 check rows that loops on a larger batch")
case("ts-cpu-loop", "torchscript", "load_model", model(lambda box: b.script_bytes(b.Recurses()), "m.pt"), USM,
     OVER_BUDGET, wall_s=30)
case("ts-allocates-16gb", "torchscript", "load_model", model(lambda box: b.script_bytes(b.Allocates()), "m.pt"), USM,
     (msg(errors.MODEL_CONTRACT), "needed more memory than"), wall_s=30)
case("ts-raises", "torchscript", "load_model", model(lambda box: b.script_bytes(b.Raises()), "m.pt"), USM,
     "boom in forward")
case("ts-nan-scores", "torchscript", "load_model", model(lambda box: b.script_bytes(b.NaNs()), "m.pt"), USM,
     "NaN or infinite")
case("ts-three-classes", "torchscript", "load_model", model(lambda box: b.script_bytes(b.ThreeClasses()), "m.pt"), USM,
     r"output shape is \(256, 3\)")
case("ts-valid-model-loads", "torchscript", "load_model", model(lambda box: b.script_bytes(b.Linear2()), "m.pt"), "ok",
     "'kind': 'torchscript'")
case("ts-input-facts-vets-nothing-runs", "torchscript", "input_facts",
     model(lambda box: b.script_bytes(b.SetstateCreates(box.marker)), "m.pt", entry="input_facts"), "any", plants=True)

# --- ONNX: standard domains only, no external data; runaway graphs stopped -------------------------------------------------
for cid, raw_of, expect, match, extra in [
    ("onnx-external-data-etc-passwd", lambda box: b.onnx_external_data("/etc/passwd"), UIE,
     msg(errors.ONNX_EXTERNAL_DATA), {"plants": True}),
    ("onnx-external-data-canary", lambda box: b.onnx_external_data(box.canary), UIE, msg(errors.ONNX_EXTERNAL_DATA),
     {"plants": True}),
    ("onnx-external-data-relative-traversal", lambda box: b.onnx_external_data("../../../../etc/hostname"), UIE,
     msg(errors.ONNX_EXTERNAL_DATA), {}),
    ("onnx-custom-domain", lambda box: b.onnx_custom_domain(), UIE, msg(errors.ONNX_NONSTANDARD_DOMAIN), {}),
    ("onnx-custom-domain-in-subgraph", lambda box: b.onnx_custom_in_subgraph(), UIE,
     msg(errors.ONNX_NONSTANDARD_DOMAIN), {}),
    ("onnx-contrib-domain", lambda box: b.onnx_custom_domain("com.microsoft", "FusedMatMul"), UIE,
     msg(errors.ONNX_NONSTANDARD_DOMAIN), {}),
    ("onnx-loop-forever", lambda box: b.onnx_loop_forever(), USM, OVER_BUDGET,
     {"wall_s": 30, "issue": "an ONNX Loop that never ends"}),
    ("onnx-loop-on-big-batches", lambda box: b.onnx_loop_on_big_batches(), TIMEOUT, msg(errors.MODEL_TIMEOUT),
     {"wall_s": 40}),
    ("onnx-allocates-1gb", lambda box: b.onnx_allocates(1 << 28), "any", "",
     {"wall_s": 30, "issue": "an ONNX model allocating 1 GB when it loads"}),
    ("onnx-allocates-8gb", lambda box: b.onnx_allocates(1 << 31), "DlxaiError", "needed more memory than the 2,048 MB",
     {"wall_s": 30}),
    ("onnx-allocates-8gb-per-batch", lambda box: b.onnx_allocates_per_row(1 << 20), "any", "",
     {"wall_s": 30, "issue": "an ONNX model allocating 1 GB at run time (4 MB a row: 1 GB on the 256 check rows)"}),
    ("onnx-text", lambda box: b"this is not a model, just text", UIE, msg(errors.MODEL_NOT_ONNX), {}),
    ("onnx-random-bytes", lambda box: bytes(range(256)) * 8, UIE, msg(errors.MODEL_NOT_ONNX), {}),
    ("onnx-empty", lambda box: b"", UIE, "is empty", {}),
    ("onnx-no-nodes", lambda box: b.onnx_no_nodes(), UIE, msg(errors.MODEL_NOT_ONNX), {}),
    ("onnx-future-opset", lambda box: b.onnx_future_opset(), UIE, msg(errors.MODEL_NOT_ONNX), {}),
    ("onnx-integer-output", lambda box: b.onnx_int_output(), USM, "no floating-point output", {}),
    ("onnx-five-inputs-for-two-columns", lambda box: b.onnx_five_inputs(), USM, "expects 5 input columns", {}),
    ("onnx-truncated", lambda box: b.onnx_linear()[:40], UIE, msg(errors.MODEL_NOT_ONNX), {}),
    ("onnx-valid-model-loads", lambda box: b.onnx_linear(), "ok", "'kind': 'onnx'", {}),
]:
    case(cid, "onnx", "load_model", model(raw_of, "model.onnx"), expect, match, **extra)
case("onnx-input-facts-external-data", "onnx", "input_facts",
     model(lambda box: b.onnx_external_data(box.canary), "m.onnx", entry="input_facts"), UIE,
     msg(errors.ONNX_EXTERNAL_DATA), plants=True)

# --- skops -----------------------------------------------------------------------------------------------------------
case("skops-untrusted-types", "skops", "load_model", model(lambda box: b.skops_hgb(), "m.skops"), UIE,
     msg(errors.MODEL_UNTRUSTED_TYPES))
case("skops-bomb-700mb", "skops", "load_model", model(lambda box: b.skops_bomb(), "m.skops"), UIE,
     msg(errors.MODEL_ARCHIVE_BOMB), mem_mb=200,
     issue="a 685 KB skops archive expanding to 700 MB")
case("skops-bomb-untrusted-types-call", "skops", "skops_untrusted_types",
     lambda box: {"path": box.write("m.skops", b.skops_bomb())}, UIE, msg(errors.MODEL_ARCHIVE_BOMB), mem_mb=200)
case("skops-schema-bomb", "skops", "load_model", model(lambda box: b.skops_schema_bomb(), "m.skops"), UIE,
     msg(errors.MODEL_ARCHIVE_BOMB), mem_mb=200)
case("skops-member-path-traversal", "skops", "load_model",
     model(lambda box: b.skops_with_member("../../" + Path(box.marker).name, b"x"), "m.skops"), "any", plants=True)
case("skops-corrupt-zip", "skops", "load_model", model(lambda box: b.skops_logreg()[:200], "m.skops"), UIE)
case("skops-schema-not-json", "skops", "load_model",
     model(lambda box: b.skops_with_member("schema.json", b"{not json"), "m.skops"), UIE)
case("skops-valid-logreg-loads", "skops", "load_model", model(lambda box: b.skops_logreg(), "m.skops"), "ok",
     "'kind': 'skops'")

# --- safetensors ----------------------------------------------------------------------------------------------------
for cid, raw_of, match in [
    ("safetensors-header-length-lies", lambda box: (10**15).to_bytes(8, "little") + b'{"a":1}', ""),
    ("safetensors-offsets-past-end", lambda box: b.safetensors_raw(
        {"w": {"dtype": "F32", "shape": [1 << 20], "data_offsets": [0, 4 << 20]}}), "not a readable safetensors"),
    ("safetensors-huge-shape", lambda box: b.safetensors_raw(
        {"w": {"dtype": "F32", "shape": [1 << 40, 1 << 20], "data_offsets": [0, 16]}}, bytes(16)),
     "not a readable safetensors"),
    ("safetensors-unknown-dtype", lambda box: b.safetensors_raw(
        {"w": {"dtype": "Q99", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)), "not a readable safetensors"),
    ("safetensors-deep-header", lambda box: b.safetensors_raw({"__metadata__": {}}).replace(
        b"{}", b"[" * 50_000 + b"]" * 50_000), ""),
]:
    case(cid, "safetensors", "load_model", model(raw_of, "m.safetensors"), UIE, match)


# --- model files by size -------------------------------------------------------------------------------------------------
def _sparse_model(size: int, name: str) -> Callable[[Box], dict]:
    def build(box: Box) -> dict:
        path = box.dir / name
        with open(path, "wb") as fh:
            fh.write(b.onnx_linear())
            fh.truncate(size)
        return {"path": str(path), "name": name, "sample": box.data, "input_columns": b.COLUMNS}
    return build


case("model-file-2gb-refused-from-stat", "onnx", "load_model", _sparse_model(2_100_000_000, "big.onnx"), UIE,
     msg(errors.MODEL_TOO_LARGE), mem_mb=100, wall_s=10)
case("model-file-dev-zero", "onnx", "load_model",
     lambda box: {"path": "/dev/zero", "name": "zero.onnx", "sample": box.data, "input_columns": b.COLUMNS}, UIE,
     msg(errors.UPLOAD_NOT_REGULAR), mem_mb=100, wall_s=10)


# --- model specs (JSON) ------------------------------------------------------------------------------------------------
def spec(raw: bytes | Callable[[Box], bytes]) -> Callable[[Box], dict]:
    return lambda box: {"path": box.write("spec.json", raw(box) if callable(raw) else raw)}


for cid, raw, match in [
    ("spec-not-json", b"{not json", msg(errors.JSON_INVALID)),
    ("spec-nested-100k", lambda box: b.deep_spec(100_000), msg(errors.JSON_TOO_DEEP)),
    ("spec-nested-object-10k", lambda box: b'{"a":' * 10_000 + b"1" + b"}" * 10_000, msg(errors.JSON_TOO_DEEP)),
    ("spec-40mb", lambda box: b'{"format": "dlxai-model-spec", "x": "' + b"a" * 40_000_000 + b'"}',
     msg(errors.JSON_TOO_LARGE)),
    ("spec-a-list", b"[1, 2, 3]", "expected a JSON object"),
    ("spec-foreign-format", b'{"format": "mlflow"}', "is not 'dlxai-model-spec'"),
    ("spec-nan-scales", b'{"format": "dlxai-model-spec", "preprocessing": {"numeric": ["age"], "categorical": [], '
                        b'"means": [NaN], "scales": [NaN]}}', ""),
    ("spec-utf16", '{"format": "dlxai-model-spec"}'.encode("utf-16"), ""),
    ("spec-huge-number", b'{"format": "dlxai-model-spec", "n": ' + b"9" * 100_000 + b"}", ""),
]:
    case(cid, "spec-json", "parse_spec", spec(raw), UIE, match, issue="a deeply nested --model-spec JSON "
         "(RecursionError)" if cid == "spec-nested-100k" else "")


# --- predictions --------------------------------------------------------------------------------------------------------
def preds(**kw) -> Callable[[Box], dict]:
    return lambda box: {"path": box.data, "label": "y", "positive_label": "good", "sensitive": ["sex"], **kw}


for cid, kw, match in [
    ("predictions-both-columns", {"prediction": "pred", "score": "score"}, msg(errors.PREDICTIONS_BOTH)),
    ("predictions-neither-column", {}, msg(errors.PREDICTIONS_BOTH)),
    ("predictions-text-scores", {"score": "sex", "threshold": 0.5}, "must hold numbers"),
    ("predictions-score-without-threshold", {"score": "score"}, msg(errors.SCORE_NEEDS_THRESHOLD)),
    ("predictions-nan-threshold", {"score": "score", "threshold": float("nan")}, msg(errors.BAD_SCORE_THRESHOLD)),
    ("predictions-unknown-column", {"prediction": "nope"}, msg(errors.UNKNOWN_COLUMN)),
    ("predictions-target-as-sensitive", {"prediction": "pred", "sensitive": ["y"]}, msg(errors.TARGET_IS_SENSITIVE)),
]:
    case(cid, "predictions", "load_predictions", preds(**kw), UIE, match)


# --- the CLI: numbers, rules, paths ---------------------------------------------------------------------------------------
def cli(*extra, data: Callable[[Box], str] | None = None, model: bool = False) -> Callable[[Box], dict]:
    """``python -m dlxai audit`` on the case's files; an ``extra`` item may be a function of the box (it writes a
    file and gives its path).  ``model``: audit a --model file (no prediction column)."""
    def build(box: Box) -> dict:
        path = data(box) if data else box.data
        source = [] if model else ["--prediction-column", "pred"]
        argv = ["audit", "--data", path, "--target", "y", "--sensitive", "sex", *source, "--quiet"]
        for a in extra:
            argv.append(a(box) if callable(a) else a.format(marker=box.marker, canary=box.canary, dir=box.dir))
        return {"argv": argv}
    return build


def bad_number(option: str) -> str:
    return re.escape(option) + " must be .*; received"


for cid, extra, match, issue in [
    ("cli-seed-negative", ("--seed", "-1"), bad_number("--seed"), "--seed -1"),
    ("cli-seed-2-to-32", ("--seed", "4294967296"), bad_number("--seed"), ""),
    ("cli-seed-text", ("--seed", "abc"), bad_number("--seed"), ""),
    ("cli-seed-fraction", ("--seed", "1.5"), bad_number("--seed"), ""),
    ("cli-n-bootstrap-1e20", ("--n-bootstrap", "1e20"), bad_number("--n-bootstrap"), "--n-bootstrap 1e20"),
    ("cli-n-bootstrap-1e8", ("--n-bootstrap", "1e8"), bad_number("--n-bootstrap"),
     "--n-bootstrap 1e8 runs for minutes"),
    ("cli-n-bootstrap-negative", ("--n-bootstrap", "-5"), bad_number("--n-bootstrap"), ""),
    ("cli-n-bootstrap-nan", ("--n-bootstrap", "nan"), bad_number("--n-bootstrap"), ""),
    ("cli-n-bootstrap-inf", ("--n-bootstrap", "inf"), bad_number("--n-bootstrap"), ""),
    ("cli-n-bootstrap-3", ("--n-bootstrap", "3"), bad_number("--n-bootstrap"), ""),
    ("cli-min-group-size-0", ("--min-group-size", "0"), bad_number("--min-group-size"), ""),
    ("cli-min-group-size-1e30", ("--min-group-size", "1e30"), bad_number("--min-group-size"), ""),
    ("cli-model-time-budget-0", ("--model-time-budget", "0"), bad_number("--model-time-budget"), ""),
    ("cli-model-time-budget-1e9", ("--model-time-budget", "1e9"), bad_number("--model-time-budget"), ""),
    ("cli-threshold-nan", ("--threshold", "nan"), bad_number("--threshold"), ""),
    ("cli-explain-negative", ("--explain", "-1"), "--explain", ""),
    ("cli-fail-on-python-injection", ("--fail-on", "__import__('os').system('touch {marker}')>0.1"), "", ""),
    ("cli-fail-on-shell-injection", ("--fail-on", "demographic_parity_difference>0.1; touch {marker}"), "", ""),
    ("cli-fail-on-eval-value", ("--fail-on", "demographic_parity_difference>__import__('os').getcwd()"), "", ""),
    ("cli-fail-on-unknown-metric", ("--fail-on", "happiness>0.1"), "", ""),
    ("cli-fail-on-no-operator", ("--fail-on", "demographic_parity_difference"), "", ""),
    ("cli-workers-with-pandas", ("--workers", "4"), "--workers", ""),
    ("cli-unknown-sensitive", ("--sensitive", "nope"), "nope", ""),
    ("cli-json-into-missing-folder", ("--json", "{dir}/no/such/dir/out.json"), "Check the path", ""),
]:
    case(cid, "cli-args", "cli", cli(*extra), "exit:2", match, plants="{marker}" in " ".join(extra), issue=issue)

case("cli-demo-epochs-0", "cli-args", "cli", lambda box: {"argv": ["demo", "--epochs", "0", "--quiet"]}, "exit:2",
     bad_number("--epochs"))
case("cli-demo-train-seed-negative", "cli-args", "cli",
     lambda box: {"argv": ["demo", "--train-seed", "-1", "--quiet"]}, "exit:2", bad_number("--train-seed"))
case("cli-data-missing", "cli-file", "cli", cli(data=lambda box: str(box.dir / "nope.csv")), "exit:2", "nope.csv")
case("cli-data-dev-zero", "cli-file", "cli", cli(data=lambda box: "/dev/zero"), "exit:2", "/dev/zero", mem_mb=200,
     wall_s=20)
case("cli-data-sparse-1.6gb", "cli-file", "cli",
     cli(data=lambda box: _sparse(1_600_000_000)(box)["path"]), "exit:2", msg(errors.UPLOAD_TOO_LARGE), mem_mb=200,
     wall_s=20)
case("cli-data-parquet-rle-bomb", "cli-file", "cli",
     cli(data=lambda box: box.write("rle.parquet", b.parquet_rle_bomb())), "exit:2",
     msg(errors.UPLOAD_TOO_MANY_ROWS), mem_mb=200)
case("cli-data-parquet-list-column", "cli-file", "cli",
     cli(data=lambda box: box.write("n.parquet", b.parquet_nested("list-sensitive"))), "exit:2",
     msg(errors.UPLOAD_NESTED_COLUMNS), issue="Parquet with list columns: TypeError unhashable type in the CLI")
case("cli-model-spec-nested", "cli-file", "cli",
     cli("--model", lambda box: box.write("m.onnx", b.onnx_linear()), "--model-spec",
         lambda box: box.write("s.json", b.deep_spec(200_000)), model=True), "exit:2",
     msg(errors.JSON_TOO_DEEP), issue="a deeply nested --model-spec JSON (RecursionError)")
case("cli-model-pickle", "cli-file", "cli",
     cli("--model", lambda box: box.write("m.pt", b.pickle_payload(box.marker)), "--input-columns", "age,income",
         model=True), "exit:2", msg(errors.MODEL_PICKLE_REFUSED), plants=True)
case("cli-model-torchscript-writes-canary", "cli-file", "cli",
     cli("--model", lambda box: box.write("m.pt", b.script_bytes(b.WritesThroughSharedMapping(box.canary))),
         "--input-columns", "age,income", model=True), "exit:2", VET, plants=True)
case("cli-model-fast-on-256-loops-on-more", "cli-file", "cli",
     cli("--model", lambda box: box.write("m.pt", b.script_bytes(b.FastOnTheCheckOnly())), "--input-columns",
         "age,income", "--model-time-budget", "1", "--n-bootstrap", "0", model=True), "exit:2",
     msg(errors.MODEL_TIMEOUT), wall_s=40)
case("cli-model-onnx-loop-forever", "cli-file", "cli",
     cli("--model", lambda box: box.write("m.onnx", b.onnx_loop_forever()), "--input-columns", "age,income",
         "--model-time-budget", "1", "--n-bootstrap", "0", model=True), "exit:2",
     "longer than the time budget of 1 s on 256 rows", wall_s=40)
case("cli-model-sparse-2gb", "cli-file", "cli",
     cli("--model", lambda box: _sparse_model(2_100_000_000, "big.onnx")(box)["path"], "--input-columns",
         "age,income", model=True), "exit:2", msg(errors.MODEL_TOO_LARGE), mem_mb=200)
case("cli-model-skops-bomb", "cli-file", "cli",
     cli("--model", lambda box: box.write("m.skops", b.skops_bomb()), model=True), "exit:2",
     msg(errors.MODEL_ARCHIVE_BOMB), mem_mb=200)
case("cli-model-onnx-external-data", "cli-file", "cli",
     cli("--model", lambda box: box.write("m.onnx", b.onnx_external_data(box.canary)), "--input-columns",
         "age,income", model=True), "exit:2", msg(errors.ONNX_EXTERNAL_DATA), plants=True)
case("cli-spec-command-skops-bomb", "cli-file", "cli",
     lambda box: {"argv": ["spec", "--model", box.write("m.skops", b.skops_bomb()), "--quiet"]}, "exit:2",
     msg(errors.MODEL_ARCHIVE_BOMB), mem_mb=200)
case("cli-data-sniffer-trap", "cli-file", "cli", cli(data=lambda box: box.write("trap.csv", b.csv_sniffer_trap())),
     "exit:2", "", cpu_s=8.0)
case("cli-data-wide-header-duplicate", "cli-file", "cli",
     cli(data=lambda box: box.write("w.csv", b.csv_wide(20_000, dup_at=15_000))), "exit:2",
     msg(errors.UPLOAD_DUPLICATE_COLUMNS))
case("cli-valid-audit-passes", "cli-file", "cli", cli("--n-bootstrap", "20"), "exit:0", "")
