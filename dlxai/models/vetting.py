"""Vet a TorchScript archive before ``torch.jit.load`` runs any of it.

TorchScript is a program, not data: a scripted ``forward`` can call ``torch.from_file(path, shared=True)`` and
read or write host files, and a scripted class's ``__setstate__`` runs while the file loads.  The archive is a zip
whose ``code/`` folder holds that program as Python-syntax text and whose ``*.pkl`` members say which classes to
build.  :func:`vet_torchscript` reads both *without* torch and refuses the file unless every operator it calls is
on an allowlist of pure compute operators (arithmetic, matmul/linear/conv, pooling, norms, activations, softmax,
shape and indexing ops, and TorchScript's own list/str/None helpers).  Anything else is refused by default and
named in the error, together with the function and file it sits in.

The allowlist was built from what ``torch.jit.script`` and ``torch.jit.trace`` emit for an ``nn.Linear`` MLP, a
CNN with BatchNorm/pooling/residual, ``nn.MultiheadAttention`` + ``nn.TransformerEncoder`` and a traced
torchvision resnet18 (see tests/unit/models/test_vetting.py), widened to the rest of the same operator families.

This is the first of two walls: the loaded model still runs in the sandboxed worker (dlxai/models/worker.py).
"""

from __future__ import annotations

import ast
import pickletools
import re
import zipfile
from dataclasses import dataclass, field
from io import BytesIO

from dlxai import errors
from dlxai.errors import UserInputError

MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 4 * 2**30  # declared uncompressed size of all members together
MAX_TEXT_BYTES = 64 * 2**20  # code and pickles read for vetting, together

# --- what a model may call -----------------------------------------------------------------------
# aten operators, written as TorchScript prints them (``torch.<op>``, ``ops.aten.<op>``, or a tensor method).
# Deliberately absent: from_file, save, load, set_, storage/strided/unsafe ops, empty* (uninitialised memory),
# resize_, RNG seeding, grad-mode switches, RPC/distributed, printing, and every custom namespace.
ALLOWED_ATEN = frozenset("""
__and__ __contains__ __derive_index __getitem__ __interpolate __is__ __isnot__ __not__ __or__ __range_length
__round_to_zero_floordiv __upsample __upsample_bilinear __upsample_nearest __xor__
Bool Float Int ScalarImplicit IntImplicit FloatImplicit ComplexImplicit Complex Size
append len format warn dim size numel list keys values items get insert pop extend clear copy count index
reverse join lower upper startswith endswith strip lstrip rstrip replace find str floordiv mathremainder divmod
is_scripting _unwrap_optional is_grad_enabled is_autocast_enabled is_autocast_cpu_enabled has_torch_function
is_floating_point is_complex is_contiguous is_nonzero is_same_size is_signed is_inference element_size
item tolist _tensor_to_list _list_to_tensor tensor scalar_tensor as_tensor device to type_as contiguous clone
detach detach_ cpu requires_grad_ _shape_as_tensor
abs abs_ absolute neg neg_ negative sign sign_ sgn signbit add add_ sub sub_ subtract rsub mul mul_ multiply div
div_ divide true_divide floor_divide remainder remainder_ fmod fmod_ pow pow_ float_power square square_ sqrt
sqrt_ rsqrt rsqrt_ reciprocal reciprocal_ exp exp_ exp2 expm1 log log_ log2 log10 log1p logaddexp logaddexp2
sin cos tan asin acos atan atan2 arctan2 sinh cosh tanh tanh_ asinh acosh atanh erf erfc erfinv lgamma digamma
floor floor_ ceil ceil_ round round_ trunc trunc_ frac clamp clamp_ clamp_min clamp_min_ clamp_max clamp_max_
clip clip_ lerp hypot xlogy nan_to_num nan_to_num_ addcmul addcdiv maximum minimum fmax fmin logit
eq eq_ ne ne_ lt lt_ le le_ gt gt_ ge ge_ equal allclose isclose isnan isinf isfinite isneginf isposinf
logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not where
masked_fill masked_fill_ fill_ zero_ copy_
sum mean nansum nanmean prod amax amin max min argmax argmin aminmax std var std_mean var_mean norm
frobenius_norm logsumexp cumsum cumprod cummax cummin all any median nanmedian quantile topk sort argsort
kthvalue count_nonzero
matmul mm bmm mv dot vdot outer addmm addmm_ addmv baddbmm addbmm linear bilinear einsum tensordot t
conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d _convolution convolution
_convolution_mode
max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices max_pool3d_with_indices
avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d
_adaptive_avg_pool2d adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d
batch_norm instance_norm layer_norm group_norm rms_norm native_layer_norm native_batch_norm
_native_batch_norm_legit_no_training
relu relu_ relu6 relu6_ leaky_relu leaky_relu_ elu elu_ selu selu_ celu celu_ gelu gelu_ silu silu_ mish mish_
sigmoid sigmoid_ hardsigmoid hardsigmoid_ hardswish hardswish_ hardtanh hardtanh_ softplus softshrink
hardshrink threshold threshold_ prelu glu log_sigmoid logsigmoid tanhshrink
softmax log_softmax _softmax _log_softmax _safe_softmax
dropout dropout_ alpha_dropout feature_dropout feature_alpha_dropout native_dropout
embedding embedding_bag one_hot scaled_dot_product_attention _native_multi_head_attention
_transformer_encoder_layer_fwd _nested_tensor_from_mask _nested_tensor_from_mask_left_aligned
to_padded_tensor cosine_similarity pairwise_distance cdist pixel_shuffle pixel_unshuffle channel_shuffle
upsample_nearest1d upsample_nearest2d upsample_nearest3d upsample_linear1d upsample_bilinear2d
upsample_bicubic2d upsample_trilinear3d grid_sampler affine_grid_generator
view view_as reshape reshape_as flatten unflatten squeeze squeeze_ unsqueeze unsqueeze_ permute transpose
transpose_ swapaxes movedim moveaxis expand expand_as broadcast_to broadcast_tensors repeat
repeat_interleave tile flip fliplr flipud roll rot90 narrow select slice index_select gather scatter
scatter_add scatter_reduce take take_along_dim masked_select masked_scatter index index_put index_put_
index_fill index_copy index_add nonzero chunk split split_with_sizes tensor_split unbind cat concat
concatenate stack hstack vstack dstack tril triu diag diagonal diag_embed trace pad constant_pad_nd
reflection_pad1d reflection_pad2d replication_pad1d replication_pad2d atleast_1d atleast_2d atleast_3d
meshgrid unique_consecutive bucketize searchsorted
zeros zeros_like ones ones_like full full_like new_zeros new_ones new_full arange linspace eye
binary_cross_entropy binary_cross_entropy_with_logits mse_loss l1_loss smooth_l1_loss huber_loss nll_loss
cross_entropy_loss kl_div
""".split())

# prim:: operators (``ops.prim.<op>``): type/shape queries and raising errors.
ALLOWED_PRIM = frozenset("""
NumToTensor RaiseException device dtype layout is_nested requires_grad type is_cuda is_cpu is_quantized
is_sparse is_mkldnn is_meta min max abs unchecked_unwrap_optional unchecked_cast TupleIndex data
""".split())

# Bare-name calls TorchScript prints (builtins and its own typing helpers); not print, fork, wait, open, ...
ALLOWED_BUILTINS = frozenset("""
annotate uninitialized unchecked_cast isinstance getattr hasattr int float bool str complex len range
enumerate zip min max abs round sum any all divmod ord chr list tuple dict
""".split())

_STORAGES = frozenset(f"{t}Storage" for t in (
    "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool", "ComplexFloat",
    "ComplexDouble"))
ALLOWED_GLOBALS = frozenset({
    ("torch._utils", "_rebuild_tensor_v2"), ("collections", "OrderedDict"),
    *(("torch.jit._pickle", n) for n in ("build_intlist", "build_doublelist", "build_boollist",
                                         "build_tensorlist", "build_tensor_from_id", "restore_type_tag")),
    *(("torch", s) for s in _STORAGES),
})
# Opcodes that build arbitrary objects in Python's pickle and that torch's archive writer never emits.
_REFUSED_OPCODES = frozenset({"STACK_GLOBAL", "INST", "OBJ", "EXT1", "EXT2", "EXT4", "PERSID"})

# Methods a file may not define: ``obj.<name>()`` would reach the tensor/future method of that name instead.
SHADOWING_NAMES = frozenset("""
set_ resize_ resize_as_ as_strided as_strided_ storage storage_offset untyped_storage data_ptr share_memory_
set_data pin_memory record_stream from_file save load wait to_here owner local_value is_owner
confirmed_by_owner fork rpc_async rpc_sync rpc_remote manual_seed seed set_grad_enabled print _print _set_item
""".split())

_NAMESPACES = frozenset({"torch", "ops", "__torch__"})
_MEMBER = re.compile(
    r"(data\.pkl|constants\.pkl|traced_inputs\.pkl|version|byteorder|\.data/version|\.data/serialization_id"
    r"|(data|constants|traced_inputs)/\d+|code/[\w/]+\.py(\.debug_pkl)?|extra/[\w.\-/]+)")
_TOKEN = re.compile(r"""(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(?P<comment>#[^\n]*)|(?P<stray>["'])""")
_CHAIN = re.compile(r"(?<![\w.])(torch|ops|__torch__)((?:\s*\.\s*\w+)+)")


@dataclass
class _Archive:
    name: str
    code: dict[str, str] = field(default_factory=dict)  # member -> TorchScript source
    pickles: dict[str, bytes] = field(default_factory=dict)
    defs: set[str] = field(default_factory=set)  # qualified names of the classes/functions it defines
    def_names: set[str] = field(default_factory=set)  # their bare names (methods called as obj.name())

    def refuse(self, op: str, where: str, loads: bool = False) -> UserInputError:
        when = " (and __setstate__ runs while the file is being loaded)" if loads else ""
        return UserInputError(errors.MODEL_FORBIDDEN_OPERATOR.format(name=self.name, op=op, where=where, when=when))


def vet_torchscript(raw: bytes, name: str) -> None:
    """Raise :class:`UserInputError` unless the TorchScript archive ``raw`` only calls allowlisted operators.

    Reads the zip with bounds (member count, declared total size, no path traversal, one top folder), parses
    every ``code/*.py`` and checks every call and every ``torch.``/``ops.``/``__torch__.`` reference; then walks
    the opcodes of every pickle and checks the globals they name.  Never imports or runs the model.
    """
    arc = _read_archive(raw, name)
    trees = {member: _parse(member, text, arc) for member, text in arc.code.items()}
    for member, tree in trees.items():
        arc.defs |= _definitions(member, tree)
    arc.def_names = {q.rsplit(".", 1)[-1] for q in arc.defs}
    for member, tree in trees.items():
        _CodeChecker(member, arc).visit(tree)
        _check_literals(member, arc.code[member], arc)
    for member, data in arc.pickles.items():
        _check_pickle(member, data, arc)


# --- the zip ------------------------------------------------------------------------------------------
def _bad(name: str, detail: str) -> UserInputError:
    return UserInputError(errors.MODEL_BAD_ARCHIVE.format(name=name, detail=detail))


def _read_archive(raw: bytes, name: str) -> _Archive:
    try:
        zf = zipfile.ZipFile(BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _bad(name, f"it is not a readable zip archive ({exc})") from exc
    if not infos or len(infos) > MAX_MEMBERS:
        raise _bad(name, f"it holds {len(infos)} members (1 to {MAX_MEMBERS:,} allowed)")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise _bad(name, f"it would unpack to {total:,} bytes, over the limit of {MAX_TOTAL_BYTES:,}")
    prefixes = {i.filename.split("/", 1)[0] for i in infos}
    if len(prefixes) != 1:
        raise _bad(name, f"its members lie under {len(prefixes)} top folders, not one")
    arc, budget = _Archive(name), MAX_TEXT_BYTES
    for info in infos:
        path = info.filename
        parts = path.split("/")
        if path.startswith("/") or "\\" in path or "\x00" in path or ".." in parts or len(parts) < 2:
            raise _bad(name, f"member {path!r} has an unsafe path")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _bad(name, f"member {path!r} uses an unexpected compression method")
        rel = parts[1] if len(parts) == 2 else "/".join(parts[1:])
        if info.is_dir():
            continue
        if not _MEMBER.fullmatch(rel):
            raise _bad(name, f"member {path!r} is not part of a torch.jit.save archive")
        if rel.endswith(".py") or rel.endswith("pkl"):
            budget -= info.file_size
            if budget < 0:
                raise _bad(name, f"its code and pickles exceed {MAX_TEXT_BYTES:,} bytes")
            with zf.open(info) as fh:
                data = fh.read(info.file_size + 1)
            if len(data) != info.file_size:
                raise _bad(name, f"member {path!r} does not match its declared size")
            if rel.endswith(".py"):
                try:
                    arc.code[path] = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _bad(name, f"{path!r} is not UTF-8 text") from exc
            else:
                arc.pickles[path] = data
    if not any(p.endswith("/data.pkl") for p in arc.pickles):
        raise _bad(name, "it has no data.pkl, so it was not written by torch.jit.save")
    return arc


# --- the code -------------------------------------------------------------------------------------
def _module_of(member: str) -> str:
    """``archive/code/__torch__/torch/nn/modules/linear.py`` -> ``__torch__.torch.nn.modules.linear``."""
    return member.split("/code/", 1)[1][: -len(".py")].replace("/", ".")


def _parse(member: str, text: str, arc: _Archive) -> ast.Module:
    try:
        return ast.parse(text, filename=member)
    except (SyntaxError, ValueError) as exc:
        raise _bad(arc.name, f"{member!r} is not TorchScript source ({exc})") from exc


def _definitions(member: str, tree: ast.Module) -> set[str]:
    module, found = _module_of(member), set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            found.add(f"{module}.{node.name}")
            found |= {f"{module}.{node.name}.{m.name}" for m in node.body if isinstance(m, ast.FunctionDef)}
    return found


def _check_literals(member: str, text: str, arc: _Archive) -> None:
    """Blank out plain one-line string literals and comments, then check every namespace reference left.

    Python's parser and TorchScript's may disagree on exotic string syntax (prefixes, triple quotes, line
    continuations); such text is refused, so the AST check sees exactly what TorchScript will compile, and
    this scan catches a reference the two parsers might still read differently.
    """
    out, last = [], 0
    for tok in _TOKEN.finditer(text):
        start, end = tok.span()
        quoted = tok.lastgroup == "string"
        prefixed = quoted and start and (text[start - 1].isalnum() or text[start - 1] == "_")
        tripled = quoted and end - start == 2 and text[end:end + 1] == text[start]
        if tok.lastgroup == "stray" or prefixed or tripled:
            line = text.count("\n", 0, start) + 1
            raise _bad(arc.name, f"{member!r} uses string syntax TorchScript does not write (line {line})")
        out += [text[last:start], '""' if quoted else ""]
        last = end
    out.append(text[last:])
    for match in _CHAIN.finditer("".join(out)):
        parts = [match.group(1), *(p.strip() for p in match.group(2).split(".")[1:])]
        problem = _chain_problem(parts, arc)
        if problem:
            raise arc.refuse(problem, member)


def _chain_problem(parts: list[str], arc: _Archive) -> str | None:
    """Why a dotted reference rooted at a namespace is not allowed, or None."""
    root = parts[0]
    if root == "torch":
        op = parts[1]
        if len(parts) == 2 and op in ALLOWED_ATEN:
            return None
        return f"torch.{'.'.join(parts[1:])} (aten::{op})" if len(parts) == 2 else "torch." + ".".join(parts[1:])
    if root == "ops":
        if len(parts) < 3:
            return None if parts[1:] in (["prim"], ["aten"]) else "ops." + ".".join(parts[1:])
        ns, op = parts[1], parts[2]
        allowed = ALLOWED_PRIM if ns == "prim" else ALLOWED_ATEN if ns == "aten" else frozenset()
        if op in allowed and len(parts) <= 4:  # ops.aten.add.Tensor names an overload
            return None
        return f"ops.{ns}.{op} ({ns}::{op})"
    dotted = ".".join(parts)
    if dotted.startswith("__torch__.torch.classes"):
        return f"{dotted} (a C++ class registered in the process, not code in the file)"
    if any(".".join(parts[:k]) in arc.defs for k in range(2, len(parts) + 1)):
        return None
    return f"{dotted} (not defined in the archive)"


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _bound_names(func: ast.FunctionDef) -> set[str]:
    """Names a function binds itself (arguments, assignments, loop variables, nested defs)."""
    names = {a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)}
    for node in ast.walk(func):
        if isinstance(node, ast.FunctionDef) and node is not func:
            names.add(node.name)
        targets = (node.targets if isinstance(node, ast.Assign) else [node.target]
                   if isinstance(node, (ast.AnnAssign, ast.For)) else [])
        names |= {t.id for tgt in targets for t in ast.walk(tgt) if isinstance(t, ast.Name)}
    return names - _NAMESPACES


class _CodeChecker(ast.NodeVisitor):
    """Walks one code file, tracking the enclosing class/function (for the message) and its local names."""

    def __init__(self, member: str, arc: _Archive):
        self.member, self.arc = member, arc
        self.scope = [_module_of(member)]
        self.bound: list[set[str]] = []

    def fail(self, op: str, node: ast.AST):
        where = f"{'.'.join(self.scope)} ({self.member}, line {getattr(node, 'lineno', '?')})"
        raise self.arc.refuse(op, where, loads="__setstate__" in self.scope)

    def visit_ClassDef(self, node):
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node):
        if node.name in SHADOWING_NAMES:
            self.fail(f"a function named {node.name} (the name of a tensor method with side effects)", node)
        self.scope.append(node.name)
        self.bound.append(_bound_names(node))
        self.generic_visit(node)
        self.bound.pop()
        self.scope.pop()

    def visit_Attribute(self, node):
        parts = _dotted(node)
        if parts and parts[0] in _NAMESPACES:
            problem = _chain_problem(parts, self.arc)
            if problem:
                self.fail(problem, node)
            return  # the whole chain is checked; its inner prefixes are not references of their own
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in _NAMESPACES:  # torch/ops used as a value (getattr(torch, ...), aliasing)
            self.fail(f"a bare reference to {node.id!r}", node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name):
            local = any(func.id in b for b in self.bound)
            if not (local or func.id in ALLOWED_BUILTINS):
                self.fail(f"{func.id}()", node)
        elif isinstance(func, ast.Attribute):
            parts = _dotted(func)
            if not (parts and parts[0] in _NAMESPACES):  # a method: defined in the archive, or a tensor/list op
                if func.attr not in self.arc.def_names and func.attr not in ALLOWED_ATEN:
                    self.fail(f"the method .{func.attr}()", node)
        else:
            self.fail("a call of a computed function", node)
        self.generic_visit(node)


# --- the pickles ------------------------------------------------------------------------------------
def _check_pickle(member: str, data: bytes, arc: _Archive) -> None:
    try:
        for op, arg, _pos in pickletools.genops(data):
            if op.name in _REFUSED_OPCODES:
                raise _bad(arc.name, f"{member!r} uses the pickle opcode {op.name}, which torch.jit.save never writes")
            if op.name != "GLOBAL":
                continue
            module, _, attr = str(arg).partition(" ")
            if (module, attr) in ALLOWED_GLOBALS:
                continue
            qual = f"{module}.{attr}"
            if module.startswith("__torch__") and qual in arc.defs and not qual.startswith("__torch__.torch.classes"):
                continue
            raise arc.refuse(f"the pickled global {qual}", member)
    except UserInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pickletools raises assorted errors on garbage
        raise _bad(arc.name, f"{member!r} is not a readable pickle ({type(exc).__name__}: {exc})") from exc


# --- ONNX: standard domains, no external data ------------------------------------------------------------
STANDARD_ONNX_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})


def vet_onnx(proto, name: str) -> None:
    """Refuse an ONNX model that names files (external data, in any graph or subgraph) or calls operators outside
    the standard domains (custom and runtime-contributed operators are native code nobody checked).  A node may
    call a function the model itself defines (exporters wrap layers in them); those bodies are vetted too."""
    local = {(f.domain, f.name) for f in proto.functions}
    for where, tensor in _tensors(proto):
        if tensor.data_location == tensor.EXTERNAL or tensor.external_data:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "?")
            raise UserInputError(errors.ONNX_EXTERNAL_DATA.format(name=name, tensor=tensor.name or where,
                                                                  location=location))
    for where, node in _nodes(proto):
        if node.domain not in STANDARD_ONNX_DOMAINS and (node.domain, node.op_type) not in local:
            raise UserInputError(errors.ONNX_NONSTANDARD_DOMAIN.format(name=name, op=node.op_type,
                                                                       domain=node.domain, where=where))


def _graphs(proto):
    """``(where, graph or function)`` for the main graph, every model-local function and every subgraph."""
    stack = [("the main graph", proto.graph)] + [(f"function {f.domain}.{f.name}", f) for f in proto.functions]
    while stack:
        where, g = stack.pop()
        yield where, g
        for node in g.node:
            for attr in node.attribute:
                subs = list(attr.graphs) + ([attr.g] if attr.HasField("g") else [])
                stack += [(f"a subgraph of {node.op_type} node {node.name or '?'}", s) for s in subs]


def _nodes(proto):
    for where, g in _graphs(proto):
        for node in g.node:
            yield f"node {node.name or node.op_type} in {where}", node


def _tensors(proto):
    """Every tensor stored in the model: initializers, sparse initializers, and tensor-valued node attributes."""
    for where, g in _graphs(proto):
        for t in getattr(g, "initializer", ()):
            yield where, t
        for s in getattr(g, "sparse_initializer", ()):
            yield where, s.values
            yield where, s.indices
        for node in g.node:
            for attr in node.attribute:
                for t in ([attr.t] if attr.HasField("t") else []) + list(attr.tensors):
                    yield f"node {node.name or node.op_type} in {where}", t
