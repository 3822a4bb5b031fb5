"""Hostile files built at test time with the real writers (torch.jit, onnx.helper, skops, pyarrow, zipfile, gzip).

Every payload that could run code or touch files aims at its case's folder: ``marker`` (a file that must never
appear) and ``canary`` (a file that must keep its content).  The control tests prove the payloads work when
loaded the unsafe way.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import struct
import warnings
import zipfile

import numpy as np
import pandas as pd
import torch
from torch import nn

COLUMNS = ["age", "income"]


def data_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    income = rng.normal(50, 15, n).round(2)
    score = 1 / (1 + np.exp(-(income - 50) / 10))
    return pd.DataFrame({"age": age, "income": income, "sex": rng.choice(["F", "M"], n),
                         "y": rng.choice(["good", "bad"], n), "pred": np.where(score > 0.5, "good", "bad"),
                         "score": score.round(4)})


GOOD_CSV = data_frame().to_csv(index=False).encode()


# --- pickles -------------------------------------------------------------------------------------------------
class _Exec:
    """Unpickling this runs ``code`` (the classic pickle attack)."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        import builtins

        return builtins.exec, (self.code,)


def touch_code(marker: str) -> str:
    return f"open({marker!r}, 'w').write('pwned')"


def pickle_payload(marker: str, protocol: int = 4) -> bytes:
    import pickle

    return pickle.dumps(_Exec(touch_code(marker)), protocol=protocol)


def joblib_payload(marker: str) -> bytes:
    import joblib

    buf = io.BytesIO()
    joblib.dump(_Exec(touch_code(marker)), buf)
    return buf.getvalue()


def torch_save_payload(marker: str) -> bytes:
    """``torch.save`` of an object whose unpickling runs code: a zip with data.pkl, like a state_dict file."""
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2), "evil": _Exec(touch_code(marker))}, buf)
    return buf.getvalue()


def torch_full_module() -> bytes:
    buf = io.BytesIO()
    torch.save(nn.Linear(2, 2), buf)
    return buf.getvalue()


# --- TorchScript -------------------------------------------------------------------------------------------------
def script_bytes(module) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(module.eval()), buf)
    return buf.getvalue()


class Linear2(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        return self.lin(x / 100.0)


class WritesThroughSharedMapping(nn.Module):
    """forward maps a host file with shared=True and overwrites it (the issue's first security finding)."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def forward(self, x):
        t = torch.from_file(self.path, shared=True, size=6, dtype=torch.uint8)
        t.fill_(80)
        return x[:, :2] * 0.0 + t.sum().float()


class CreatesAFile(nn.Module):
    """forward creates ``path`` (from_file with shared=True and a size creates and extends the file)."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def forward(self, x):
        t = torch.from_file(self.path, shared=True, size=8, dtype=torch.uint8)
        return x[:, :2] + t.sum().float()


class PasswdIntoScores(nn.Module):
    """Puts the first bytes of a host file into its scores (the issue's second security finding)."""

    def __init__(self, path: str = "/etc/passwd"):
        super().__init__()
        self.path = path

    def forward(self, x):
        leaked = torch.from_file(self.path, shared=False, size=2, dtype=torch.uint8).float()
        return x[:, :2] * 0.0 + leaked


class AtenFromFile(nn.Module):
    def forward(self, x):
        return x[:, :2] + torch.ops.aten.from_file("/etc/hostname", False, 4).sum()


class SetstateCreates(nn.Module):
    """Its ``__setstate__`` creates ``path`` while the file is loaded, before any forward."""

    def __init__(self, path: str):
        super().__init__()
        self.path, self.leaked = path, torch.zeros(8, dtype=torch.uint8)

    def forward(self, x):
        return x[:, :2] + self.leaked.sum().float()

    @torch.jit.export
    def __getstate__(self):
        return (self.path, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]):
        self.path, self.training = state[0], state[1]
        self.leaked = torch.from_file(self.path, shared=True, size=8, dtype=torch.uint8)


def _twice(x):
    return x * 2


class Forks(nn.Module):
    def forward(self, x):
        return torch.jit.wait(torch.jit.fork(_twice, x))[:, :2]


class Prints(nn.Module):
    def forward(self, x):
        print(x)
        return x[:, :2]


class LoopsForever(nn.Module):
    def forward(self, x):
        y = x[:, :2]
        while bool((y * 0.0).sum() > -1.0):
            y = y + 0.0
        return y


class FastOnTheCheckOnly(nn.Module):
    """Answers the contract check's 256 rows at once and loops forever on any bigger batch (issue: hangs)."""

    def __init__(self, limit: int = 256):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.limit = limit

    def forward(self, x):
        y = self.lin(x / 100.0)
        if x.shape[0] > self.limit:
            while bool((y * 0.0).sum() > -1.0):
                y = y + 0.0
        return y


class Raises(nn.Module):
    def forward(self, x):
        if x.shape[0] > 0:
            raise RuntimeError("boom in forward")
        return x


class NaNs(nn.Module):
    def forward(self, x):
        return x[:, :2] * float("nan")


class ThreeClasses(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 3)

    def forward(self, x):
        return self.lin(x)


class Allocates(nn.Module):
    """Asks for 16 GB while it runs."""

    def forward(self, x):
        big = torch.ones(1 << 32, dtype=torch.float32)
        return x[:, :2] + big.sum()


class Recurses(nn.Module):
    """Sums 10^9 ones in a Python-level loop: CPU without end, no allocation."""

    def forward(self, x):
        s = torch.zeros(1)
        for _ in range(1000000000):
            s = s + 1.0
        return x[:, :2] + s


def rewrite_zip(raw: bytes, changes: dict[str, bytes | None]) -> bytes:
    """A copy of a zip with members replaced, added, or dropped (None); keys end-match member names."""
    src, out = zipfile.ZipFile(io.BytesIO(raw)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        done = set()
        for info in src.infolist():
            key = next((k for k in changes if info.filename.endswith(k)), None)
            if key is None:
                dst.writestr(info, src.read(info))
            else:
                done.add(key)
                if changes[key] is not None:
                    dst.writestr(info.filename, changes[key])
        for key in set(changes) - done:
            dst.writestr(key, changes[key])
    return out.getvalue()


def edited_linear(line: str) -> bytes:
    """The Linear2 archive with ``line`` inserted before the layer's ``return torch.linear(`` (hand-edited code)."""
    raw = script_bytes(Linear2())
    zf = zipfile.ZipFile(io.BytesIO(raw))
    member = next(n for n in zf.namelist() if n.endswith(".py") and "return torch.linear(" in zf.read(n).decode())
    text = zf.read(member).decode()
    edited = text.replace("    return torch.linear(", f"    {line}\n    return torch.linear(", 1)
    assert edited != text
    return rewrite_zip(raw, {member: edited.encode()})


def pickled_global(marker: str) -> bytes:
    """A TorchScript archive whose data.pkl calls builtins.exec (a pickled global outside the allowlist)."""
    code = touch_code(marker).encode()
    evil = b"\x80\x02cbuiltins\nexec\nq\x00X" + struct.pack("<I", len(code)) + code + b"q\x01\x85q\x02Rq\x03."
    return rewrite_zip(script_bytes(Linear2()), {"archive/data.pkl": evil})


# --- ONNX ------------------------------------------------------------------------------------------------------
def _model(nodes, inputs, outputs, inits=(), opsets=(("", 17),), functions=()):
    from onnx import helper

    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], functions=list(functions))
    m.ir_version = 8
    return m


def _io():
    from onnx import TensorProto, helper

    return ([helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 2])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])])


def _weights():
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array([[0.01, -0.01], [-0.02, 0.02]], dtype=np.float32), "W")


def onnx_linear() -> bytes:
    from onnx import helper

    ins, outs = _io()
    return _model([helper.make_node("MatMul", ["input", "W"], ["logits"])], ins, outs, [_weights()]).SerializeToString()


def onnx_external_data(location: str) -> bytes:
    """The weights stored 'outside the file', at ``location`` (any path onnxruntime would open)."""
    from onnx import TensorProto, helper

    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, 2])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "16")):
        entry = w.external_data.add()
        entry.key, entry.value = k, v
    ins, outs = _io()
    return _model([helper.make_node("MatMul", ["input", "W"], ["logits"])], ins, outs, [w]).SerializeToString()


def onnx_custom_domain(domain: str = "com.evil", op: str = "System") -> bytes:
    from onnx import helper

    ins, outs = _io()
    nodes = [helper.make_node("MatMul", ["input", "W"], ["z"]), helper.make_node(op, ["z"], ["logits"], domain=domain)]
    return _model(nodes, ins, outs, [_weights()], opsets=(("", 17), (domain, 1))).SerializeToString()


def onnx_custom_in_subgraph() -> bytes:
    """A custom-domain node hidden in an If branch (domains are checked in every subgraph)."""
    from onnx import TensorProto, helper

    ins, outs = _io()
    z = helper.make_tensor_value_info("zz", TensorProto.FLOAT, ["batch", 2])
    then = helper.make_graph([helper.make_node("Run", ["z"], ["zz"], domain="com.evil")], "then", [], [z])
    other = helper.make_graph([helper.make_node("Identity", ["z"], ["zz"])], "else", [], [z])
    cond = helper.make_tensor("c", TensorProto.BOOL, [], [True])
    nodes = [helper.make_node("MatMul", ["input", "W"], ["z"]), helper.make_node("Constant", [], ["cond"], value=cond),
             helper.make_node("If", ["cond"], ["logits"], then_branch=then, else_branch=other)]
    return _model(nodes, ins, outs, [_weights()], opsets=(("", 17), ("com.evil", 1))).SerializeToString()


def _loop(trip_name: str, nodes_before) -> bytes:
    """``logits = input @ W`` after a Loop of ``trip_name`` iterations that does a little work each time."""
    from onnx import TensorProto, helper, numpy_helper

    ins, outs = _io()
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "one"], ["acc_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")])
    inits = [_weights(), numpy_helper.from_array(np.array(True), "true"),
             numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    nodes = list(nodes_before) + [
        helper.make_node("Loop", [trip_name, "true", "zero"], ["acc"], body=body),
        helper.make_node("MatMul", ["input", "W"], ["z"]),
        helper.make_node("Mul", ["acc", "zero"], ["nothing"]),
        helper.make_node("Add", ["z", "nothing"], ["logits"])]
    return _model(nodes, ins, outs, inits).SerializeToString()


def onnx_loop_forever() -> bytes:
    from onnx import helper, numpy_helper

    big = numpy_helper.from_array(np.array(2**62, np.int64), "M")
    return _loop("trip", [helper.make_node("Constant", [], ["trip"], value=big)])


def onnx_loop_on_big_batches() -> bytes:
    """No loop on the check's 256 rows; (rows - 256) x 10^12 iterations on any bigger batch."""
    from onnx import helper, numpy_helper

    k = numpy_helper.from_array(np.array(256, np.int64), "k")
    scale = numpy_helper.from_array(np.array(10**12, np.int64), "scale")
    zero = numpy_helper.from_array(np.array([0], np.int64), "i0")
    one = numpy_helper.from_array(np.array([1], np.int64), "i1")
    zero_scalar = numpy_helper.from_array(np.array(0, np.int64), "i0s")
    nodes = [helper.make_node("Constant", [], ["k"], value=k), helper.make_node("Constant", [], ["scale"], value=scale),
             helper.make_node("Constant", [], ["i0"], value=zero), helper.make_node("Constant", [], ["i1"], value=one),
             helper.make_node("Constant", [], ["i0s"], value=zero_scalar),
             helper.make_node("Shape", ["input"], ["shape"]),
             helper.make_node("Slice", ["shape", "i0", "i1"], ["n1"]),
             helper.make_node("Squeeze", ["n1", "i0"], ["n"]),
             helper.make_node("Sub", ["n", "k"], ["extra"]),
             helper.make_node("Max", ["extra", "i0s"], ["extra_pos"]),
             helper.make_node("Mul", ["extra_pos", "scale"], ["trip"])]
    return _loop("trip", nodes)


def onnx_allocates(n_floats: int) -> bytes:
    """Allocates ``n_floats`` float32 at run time (ConstantOfShape), sums them, adds 0 x the sum to the logits."""
    from onnx import TensorProto, helper, numpy_helper

    ins, outs = _io()
    shape = numpy_helper.from_array(np.array([n_floats], np.int64), "shape")
    nodes = [helper.make_node("Constant", [], ["shp"], value=shape),
             helper.make_node("ConstantOfShape", ["shp"], ["big"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("ReduceSum", ["big"], ["s"], keepdims=1),
             helper.make_node("MatMul", ["input", "W"], ["z"]),
             helper.make_node("Mul", ["s", "zero"], ["nothing"]),
             helper.make_node("Add", ["z", "nothing"], ["logits"])]
    inits = [_weights(), numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    return _model(nodes, ins, outs, inits).SerializeToString()


def onnx_allocates_per_row(per_row: int) -> bytes:
    """Allocates ``per_row`` float32 per input row while it runs (the size depends on the batch: no folding)."""
    from onnx import TensorProto, helper, numpy_helper

    ins, outs = _io()
    inits = [_weights(), numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
             numpy_helper.from_array(np.array([0], np.int64), "i0"), numpy_helper.from_array(np.array([1], np.int64), "i1"),
             numpy_helper.from_array(np.array([per_row], np.int64), "k")]
    nodes = [helper.make_node("Shape", ["input"], ["shape"]), helper.make_node("Slice", ["shape", "i0", "i1"], ["n"]),
             helper.make_node("Mul", ["n", "k"], ["size"]),
             helper.make_node("ConstantOfShape", ["size"], ["big"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("ReduceSum", ["big"], ["s"], keepdims=1),
             helper.make_node("MatMul", ["input", "W"], ["z"]),
             helper.make_node("Mul", ["s", "zero"], ["nothing"]),
             helper.make_node("Add", ["z", "nothing"], ["logits"])]
    return _model(nodes, ins, outs, inits).SerializeToString()


def onnx_int_output() -> bytes:
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 2])]
    outs = [helper.make_tensor_value_info("label", TensorProto.INT64, ["batch", 2])]
    nodes = [helper.make_node("MatMul", ["input", "W"], ["z"]), helper.make_node("Cast", ["z"], ["label"], to=7)]
    return _model(nodes, ins, outs, [_weights()]).SerializeToString()


def onnx_five_inputs() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    ins = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 5])]
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])]
    w = numpy_helper.from_array(np.ones((5, 2), np.float32), "W")
    return _model([helper.make_node("MatMul", ["input", "W"], ["logits"])], ins, outs, [w]).SerializeToString()


def onnx_no_nodes() -> bytes:
    from onnx import TensorProto, helper

    ins, _ = _io()
    outs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 2])]
    return _model([], ins, outs).SerializeToString()


def onnx_future_opset() -> bytes:
    from onnx import helper

    ins, outs = _io()
    return _model([helper.make_node("MatMul", ["input", "W"], ["logits"])], ins, outs, [_weights()],
                  opsets=(("", 99),)).SerializeToString()


# --- skops ------------------------------------------------------------------------------------------------------
@functools.cache
def skops_logreg() -> bytes:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    return sio.dumps(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)))


@functools.cache
def skops_hgb() -> bytes:
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    return sio.dumps(HistGradientBoostingClassifier(max_iter=2).fit(X, (X[:, 0] > 0).astype(int)))


def _streamed_zeros_member(zf: zipfile.ZipFile, name: str, header: bytes, n_bytes: int) -> None:
    """A deflated member of ``header`` + ``n_bytes`` zero bytes, written in pieces (never held whole)."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as fh:
        fh.write(header)
        chunk = bytes(1 << 22)
        left = n_bytes
        while left > 0:
            fh.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)


@functools.cache
def skops_bomb(n_bytes: int = 700_000_000) -> bytes:
    """A real skops LogisticRegression whose coefficient array member unpacks to ``n_bytes`` (~700 KB packed)."""
    raw = skops_logreg()
    src, out = zipfile.ZipFile(io.BytesIO(raw)), io.BytesIO()
    arrays = [n for n in src.namelist() if n.endswith(".npy")]
    target = arrays[0]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != target:
                dst.writestr(info.filename, src.read(info))
        header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
        header["shape"] = (n_bytes // 8,)
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        _streamed_zeros_member(dst, target, buf.getvalue(), n_bytes)
    return out.getvalue()


@functools.cache
def skops_schema_bomb(n_bytes: int = 400_000_000) -> bytes:
    """A skops archive whose schema.json unpacks to ``n_bytes`` of spaces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        info = zipfile.ZipInfo("schema.json")
        info.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(info, "w", force_zip64=True) as fh:
            fh.write(b"{")
            chunk = b" " * (1 << 22)
            for _ in range(n_bytes // len(chunk)):
                fh.write(chunk)
            fh.write(b"}")
    return out.getvalue()


def skops_with_member(name: str, data: bytes) -> bytes:
    return rewrite_zip(skops_logreg(), {name: data})


# --- safetensors ------------------------------------------------------------------------------------------------
def safetensors_raw(header: dict, body: bytes = b"") -> bytes:
    import json

    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


# --- tables -----------------------------------------------------------------------------------------------------
def parquet_bytes(table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@functools.cache
def parquet_rle_bomb(rows: int = 120_000_000, columns: int = 3) -> bytes:
    """``rows`` constant int64 rows in ``columns`` columns: run-length encoded to about a megabyte."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    step = 10_000_000
    block = pa.table({f"c{j}": pa.array(np.zeros(step, np.int64)) for j in range(columns)})
    buf = io.BytesIO()
    with pq.ParquetWriter(buf, block.schema, compression="zstd") as w:
        for _ in range(rows // step):
            w.write_table(block, row_group_size=step)
    return buf.getvalue()


def parquet_nested(kind: str) -> bytes:
    import pyarrow as pa

    n = 20
    base = {"age": pa.array(np.arange(n)), "sex": pa.array(["F", "M"] * (n // 2)), "y": pa.array(["yes", "no"] * (n // 2))}
    if kind == "list":
        base["tags"] = pa.array([[i, i + 1] for i in range(n)])
    elif kind == "struct":
        base["addr"] = pa.array([{"city": "x", "zip": i} for i in range(n)])
    elif kind == "map":
        base["kv"] = pa.array([[("a", i)] for i in range(n)], type=pa.map_(pa.string(), pa.int64()))
    elif kind == "list-sensitive":
        base["sex"] = pa.array([["F"], ["M"]] * (n // 2))
    return parquet_bytes(pa.table(base))


def parquet_duplicate_names() -> bytes:
    import pyarrow as pa

    t = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4]), pa.array(["a", "b"])], names=["age", "age", "y"])
    return parquet_bytes(t)


def parquet_wide_strings(rows: int = 1_000, size: int = 100_000) -> bytes:
    """Few rows of long distinct strings: small on disk with zstd (repetitive), large in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = "x" * size
    t = pa.table({"s": pa.array([base[:-6] + f"{i:06d}" for i in range(rows)]), "y": pa.array([0, 1] * (rows // 2))})
    buf = io.BytesIO()
    pq.write_table(t, buf, compression="zstd", use_dictionary=False)
    return buf.getvalue()


def multi_member(compress) -> bytes:
    """The good CSV as two compressed members one after the other (``cat a.gz b.gz``, pbzip2, pixz): valid."""
    lines = GOOD_CSV.split(b"\n")
    half = b"\n".join(lines[:151]) + b"\n"
    return compress(half) + compress(GOOD_CSV[len(half):])


def csv_wide(n_cols: int = 20_000, dup_at: int | None = None) -> bytes:
    names = [f"feature_{i:05d}" for i in range(n_cols)]
    if dup_at is not None:
        names[dup_at] = names[dup_at - 1]
    rows = [",".join(names)] + [",".join(str((r + j) % 7) for j in range(n_cols)) for r in range(3)]
    return ("\n".join(rows) + "\n").encode()


def csv_sniffer_trap(n_bytes: int = 60_000) -> bytes:
    """Quote-heavy text of the kind that made csv.Sniffer's regexes backtrack for 20-26 s of CPU."""
    unit = "'a,'" + "\"b\"" * 3 + ";" + " '" * 5
    body = (unit * (n_bytes // len(unit) + 1))[:n_bytes]
    return ("x,y\n" + body + "\n1,2\n").encode()


@functools.cache
def gzip_bomb(n: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as g:
        chunk = b"0" * (1 << 22)
        for _ in range(n // len(chunk)):
            g.write(chunk)
    return buf.getvalue()


@functools.cache
def bz2_bomb(n: int) -> bytes:
    c = bz2.BZ2Compressor(9)
    chunk = b"0" * (1 << 22)
    parts = [c.compress(chunk) for _ in range(n // len(chunk))]
    return b"".join(parts) + c.flush()


@functools.cache
def xz_bomb(n: int) -> bytes:
    c = lzma.LZMACompressor(preset=0)
    chunk = b"0" * (1 << 22)
    parts = [c.compress(chunk) for _ in range(n // len(chunk))]
    return b"".join(parts) + c.flush()


@functools.cache
def zip_bomb(n: int, name: str = "a.csv") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        _streamed_zeros_member(zf, name, b"a,b\n", n)
    return out.getvalue()


def zip_lying_size(n: int) -> bytes:
    """A zip whose member says it is 1 KB but unpacks to ``n`` bytes (the local and central sizes rewritten)."""
    raw = zip_bomb(n)
    zf = zipfile.ZipFile(io.BytesIO(raw))
    info = zf.infolist()[0]
    real = info.file_size
    small = 1024
    # zip64: sizes live in the extra fields; patch every little-endian 8-byte copy of the real size
    patched = raw.replace(struct.pack("<Q", real), struct.pack("<Q", small))
    if struct.pack("<I", real & 0xFFFFFFFF) in patched and real < 2**32:
        patched = patched.replace(struct.pack("<I", real), struct.pack("<I", small))
    return patched


def zip_of(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return buf.getvalue()


def zip_encrypted_flag(data: bytes) -> bytes:
    """A zip whose member has the 'encrypted' flag set (zipfile cannot read it without a password)."""
    raw = zip_of({"a.csv": data}, zipfile.ZIP_STORED)
    raw = bytearray(raw)
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        i = raw.find(sig)
        off = 6 if sig == b"PK\x03\x04" else 8
        flags = struct.unpack_from("<H", raw, i + off)[0] | 1
        struct.pack_into("<H", raw, i + off, flags)
    return bytes(raw)


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_spec(depth: int) -> bytes:
    return b'{"format": "dlxai-model-spec", "preprocessing": ' + deep_json(depth) + b"}"
