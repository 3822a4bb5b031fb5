"""Uploaded image classifiers: ONNX, TorchScript, or safetensors weights of a torchvision architecture + a JSON spec.

ONNX and TorchScript files are treated as hostile: a TorchScript archive is vetted against the operator allowlist
(:func:`dlxai.models.vetting.vet_torchscript`) before anything loads it, and both predict in a sandboxed worker
process (:class:`dlxai.models.remote.RemoteModel`), every call bounded in time.  Gradient explanations need the
network in this process: the vetted TorchScript module, or the ONNX graph converted by onnx2torch.  safetensors
holds tensors only; the architecture comes from an allowlist of torchvision constructors, built with
``weights=None`` (nothing is downloaded) and ``num_classes`` from the spec.

:func:`check_sample` runs the model on a few images before anything else does: input shape, output width against
the label set, non-finite values, time against the budget.
"""

from __future__ import annotations

import hashlib
import io
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlxai import errors
from dlxai.data.jsonsafe import load_json
from dlxai.errors import DlxaiError, UserInputError

DEFAULT_BUDGET_S = 10.0  # seconds per 256 images, as for tabular uploads
CHECK_ROWS = 8
PREDICT_CHUNK = 256
SPEC_KEYS = ("architecture", "num_classes", "classes", "output", "image_size", "patch_size", "num_layers",
             "num_heads", "hidden_dim", "mlp_dim")
# name -> constructor in torchvision.models; all built with weights=None
ARCHITECTURES = ("resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
                 "efficientnet_b0", "densenet121", "convnext_tiny", "vit_b_16", "vit_b_32", "vision_transformer")
VIT_LIMITS = {"patch_size": (1, 64), "num_layers": (1, 24), "num_heads": (1, 16), "hidden_dim": (8, 1024),
              "mlp_dim": (8, 4096), "image_size": (8, 1024)}

# --- messages (tests match on these) ---------------------------------------------------------------
IMAGE_SPEC_INVALID = (
    "The image model spec is invalid: {detail}. Example: {{\"architecture\": \"resnet18\", \"num_classes\": 3, "
    "\"classes\": [\"cat\", \"dog\", \"fox\"]}}."
)
IMAGE_WEIGHTS_MISMATCH = (
    "The weights in {name!r} do not fit torchvision's {arch} with {k} classes ({detail}). Check the spec's "
    "architecture and num_classes against the model that was saved."
)
IMAGE_FORMAT_REFUSED = (
    "{name!r} is {what}; an image model must be ONNX (.onnx), TorchScript (torch.jit.save) or safetensors weights "
    "with a JSON spec naming a torchvision architecture."
)
IMAGE_OUTPUT_WIDTH = (
    "The model {name!r} returns {width} score(s) per image, but the labels have {k} classes ({classes}). The output "
    "width must equal the number of classes: upload the matching labels, or list the model's classes in output "
    "order in the spec (\"classes\": [...])."
)
IMAGE_OUTPUT_SHAPE = (
    "The model {name!r} returned output of shape {shape} on {rows} images; an image classifier returns one row of "
    "class scores per image, (images, classes). Export it with its classification head."
)
IMAGE_MODEL_FAILED = (
    "The model {name!r} failed on {rows} sample image(s) of shape {shape} ({detail}). Check the preprocessing "
    "(size, channels, layout) against what the model was trained on."
)
IMAGE_NOT_FINITE = (
    "The model {name!r} returned NaN or infinite scores for {files}. Check the preprocessing (mean/std) and the "
    "model; nothing else was run."
)
IMAGE_INPUT_NOT_FINITE = "The preprocessed images {files} hold NaN or infinite values; check the std in the spec."
IMAGE_TOO_SLOW = (
    "The model {name!r} took {seconds:.1f} s on {rows} sample image(s), so the whole set would take over the budget "
    "of {budget:g} s per {per} images. Use fewer images, a smaller model, or a larger time budget."
)
IMAGE_UNKNOWN_LABELS = (
    "The labels {labels} are not among the model's classes {classes} (from the spec). Fix the labels CSV or the "
    "spec's \"classes\"."
)


def parse_image_spec(spec, fmt: str) -> dict:
    """The one validator of an image model's spec (dict or JSON); ``architecture`` + ``num_classes`` needed for
    safetensors, ``classes`` and ``output`` optional for every format."""
    if spec is None:
        spec = {}
    if isinstance(spec, (bytes, bytearray, str)):
        spec = load_json(spec, what="The image model spec")
    if not isinstance(spec, dict):
        raise UserInputError(IMAGE_SPEC_INVALID.format(detail=f"expected a JSON object, got {type(spec).__name__}"))
    unknown = sorted(set(spec) - set(SPEC_KEYS) - {"format"})
    if unknown:
        raise UserInputError(IMAGE_SPEC_INVALID.format(detail=f"unknown key(s) {unknown}; keys are {list(SPEC_KEYS)}"))
    out = dict(spec)
    if out.get("output", "auto") not in ("auto", "logits", "probabilities"):
        raise UserInputError(IMAGE_SPEC_INVALID.format(detail=f"'output' must be 'logits' or 'probabilities'; "
                                                              f"received {out['output']!r}"))
    classes = out.get("classes")
    if classes is not None and (not isinstance(classes, list) or len(classes) < 2 or
                                len({str(c) for c in classes}) != len(classes)):
        raise UserInputError(IMAGE_SPEC_INVALID.format(detail=f"'classes' must list at least two distinct class "
                                                              f"names in output order; received {classes!r}"))
    if classes is not None:
        out["classes"] = [str(c) for c in classes]
    if fmt != "safetensors":
        return out
    arch, k = out.get("architecture"), out.get("num_classes")
    if arch not in ARCHITECTURES:
        raise UserInputError(IMAGE_SPEC_INVALID.format(detail=f"'architecture' must be one of {list(ARCHITECTURES)}; "
                                                              f"received {arch!r}"))
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 100_000:
        raise UserInputError(IMAGE_SPEC_INVALID.format(detail=f"'num_classes' must be a whole number ≥ 2; received "
                                                              f"{k!r}"))
    for key, (lo, hi) in VIT_LIMITS.items():
        v = out.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi):
            raise UserInputError(IMAGE_SPEC_INVALID.format(detail=f"{key!r} must be a whole number from {lo} to {hi}; "
                                                                  f"received {v!r}"))
    if arch == "vision_transformer" and any(out.get(key) is None for key in VIT_LIMITS):
        raise UserInputError(IMAGE_SPEC_INVALID.format(detail=f"'vision_transformer' needs {list(VIT_LIMITS)}"))
    return out


def build_architecture(spec: dict):
    """The torchvision network the spec names, untrained (``weights=None``), with ``num_classes`` outputs."""
    import torchvision.models as tvm

    arch, k = spec["architecture"], int(spec["num_classes"])
    if arch == "vision_transformer":
        return tvm.VisionTransformer(**{key: int(spec[key]) for key in VIT_LIMITS}, num_classes=k)
    kwargs = {"image_size": int(spec["image_size"])} if arch.startswith("vit_") and spec.get("image_size") else {}
    return getattr(tvm, arch)(weights=None, num_classes=k, **kwargs)


def _grid_vit(vit):
    """A torchvision ViT that says how its patch tokens map to pixels (attention rollout needs it)."""
    import torch.nn as nn

    class GridViT(nn.Module):
        n_prefix_tokens = 1

        def __init__(self, inner):
            super().__init__()
            self.vit = inner

        def forward(self, x):
            return self.vit(x)

        def tokens_to_input(self, scores, x):
            """A patch's score shared equally by its pixels and channels."""
            p = self.vit.patch_size
            n, c, h, w = x.shape
            grid = scores.reshape(-1, 1, h // p, w // p)
            up = grid.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3) / (p * p * c)
            return up.expand(-1, c, -1, -1).contiguous()

    return GridViT(vit).eval()


def _constants_as_initializers(proto):
    """Constant nodes, and Identity nodes of an initializer, turned into initializers: torch.onnx.export writes a
    conv's bias so (shared zero biases become Identity copies), and onnx2torch reads weights from initializers only."""
    from onnx import helper, numpy_helper

    init = {t.name: t for t in proto.graph.initializer}
    keep = []
    for node in proto.graph.node:
        value = next((a for a in node.attribute if a.name == "value"), None)
        if node.op_type == "Constant" and value is not None and len(node.attribute) == 1:
            array = numpy_helper.to_array(helper.get_attribute_value(value))
        elif node.op_type == "Identity" and node.input[0] in init:
            array = numpy_helper.to_array(init[node.input[0]])
        else:
            keep.append(node)
            continue
        init[node.output[0]] = numpy_helper.from_array(array, node.output[0])
        proto.graph.initializer.append(init[node.output[0]])
    del proto.graph.node[:]
    proto.graph.node.extend(keep)
    return proto


def _frozen(module):
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


@dataclass(frozen=True)
class SampleCheck:
    """What the check on a few images found (shown before anything else runs)."""

    rows: int
    input_shape: tuple
    output_shape: tuple
    classes: tuple
    output: str  # how the scores were read: "logits" or "probabilities"
    seconds: float
    budget_s: float

    def lines(self) -> list[str]:
        return [f"input {self.rows} × {' × '.join(map(str, self.input_shape[1:]))} (images × "
                f"{'channels × height × width' if len(self.input_shape) == 4 else 'dimensions'})",
                f"output {self.output_shape[0]} × {self.output_shape[1]} {self.output}, one score per class "
                f"({', '.join(self.classes)})",
                "no NaN or infinite values in inputs or outputs",
                f"{self.seconds:.2f} s for {self.rows} images (budget {self.budget_s:g} s per {PREDICT_CHUNK})"]


@dataclass(eq=False)
class ImageModel:
    """An uploaded image classifier: raw scores, probabilities, and (where possible) a torch network to explain."""

    name: str
    format: str
    sha256: str
    spec: dict
    budget_s: float = DEFAULT_BUDGET_S
    n_parameters: int | None = None
    remote: Any = None  # RemoteModel: ONNX and TorchScript predict in their sandboxed worker
    module: Any = None  # safetensors + torchvision: the network, in this process
    raw: bytes = field(default=b"", repr=False)
    output_: str = ""  # set by check_sample: how the scores are read
    check: SampleCheck | None = None

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs on preprocessed images, in chunks (each bounded in time for a worker)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        outs = [self._forward(x[i:i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)]
        return np.concatenate(outs) if outs else np.zeros((0, 0))

    def _forward(self, x: np.ndarray, timeout_s: float | None = None) -> np.ndarray:
        if self.remote is not None:
            return np.asarray(self.remote.predict(x, timeout_s), dtype=np.float64)
        import torch

        from dlxai.models.torch_mlp import torch_threads

        with torch.no_grad(), torch_threads(1):  # as the sandboxed worker runs: one thread, no contention
            out = self.module(torch.from_numpy(x))
        return (out[0] if isinstance(out, (tuple, list)) else out).double().numpy()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return to_probabilities(self.scores(x), self.output_ or self.spec.get("output", "auto"))

    @property
    def classes(self) -> tuple:
        return tuple(self.check.classes) if self.check is not None else tuple(self.spec.get("classes") or ())

    def gradient_module(self):
        """``(torch module or None, why not)``: the network gradient methods run on, in this process."""
        if self.module is not None:
            return self.module, ""
        if self.format == "torchscript":  # vetted when loaded; a ScriptModule takes no Python hooks (no LRP)
            return _frozen(_jit_load(self.raw)), ""
        cached = self.__dict__.get("_converted")
        if cached is None:
            try:
                import onnx
                from onnx2torch import convert

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cached = (_frozen(convert(_constants_as_initializers(onnx.load_from_string(self.raw)))), "")
            except Exception as exc:  # noqa: BLE001 - any failure only means: no gradient methods
                cached = (None, f"the ONNX graph could not be converted to PyTorch ({type(exc).__name__}: "
                                f"{str(exc)[:160]}), so gradient methods are unavailable")
            self.__dict__["_converted"] = cached
        return cached

    def card(self) -> dict:
        return {"name": self.name, "kind": f"image classifier ({self.format})", "source": self.format,
                "parameters": self.n_parameters, "sha256": self.sha256,
                "architecture": self.spec.get("architecture"), "isolated": self.remote is not None and not isinstance(self.remote, _InProcess),
                "output": self.output_ or self.spec.get("output", "auto")}

    def close(self) -> None:
        if self.remote is not None:
            self.remote.close()


def to_probabilities(out: np.ndarray, output: str) -> np.ndarray:
    """Softmax of logits; probabilities as they are (``auto``: probabilities when rows lie in [0, 1] and sum to 1)."""
    out = np.asarray(out, dtype=np.float64)
    if output == "auto":
        output = "probabilities" if bool(np.all((out >= 0) & (out <= 1))) and np.allclose(out.sum(1), 1, atol=1e-4) \
            else "logits"
    if output == "probabilities":
        return out
    z = np.exp(out - out.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class _InProcess:
    """An ONNX/TorchScript file run in this process (``isolate=False``: files the caller trusts, e.g. their own)."""

    def __init__(self, raw: bytes, fmt: str):
        from dlxai.models.remote import onnx_session

        self.fmt = fmt
        self.obj = onnx_session(raw) if fmt == "onnx" else _frozen(_jit_load(raw))

    def predict(self, x, timeout_s=None) -> np.ndarray:
        from dlxai.models.remote import onnx_run, torch_forward

        return onnx_run(self.obj, x) if self.fmt == "onnx" else torch_forward(self.obj, x)

    def close(self) -> None:
        self.obj = None


def _jit_load(raw: bytes):
    import torch

    return torch.jit.load(io.BytesIO(raw), map_location="cpu")


def _format(raw: bytes, name: str) -> str:
    from dlxai.models.formats import detect_format

    try:
        fmt = detect_format(raw, name)
    except UserInputError as exc:
        raise UserInputError(IMAGE_FORMAT_REFUSED.format(name=name, what=f"not a model format ({exc})")) from exc
    if fmt == "pickle":
        raise UserInputError(errors.MODEL_PICKLE_REFUSED.format(name=name))
    if fmt not in ("onnx", "torchscript", "safetensors"):
        raise UserInputError(IMAGE_FORMAT_REFUSED.format(name=name, what=f"a {fmt} file"))
    return fmt


def _from_weights(raw: bytes, name: str, spec: dict):
    from safetensors.torch import load as st_load

    try:
        sd = st_load(raw)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types on garbage
        raise UserInputError(f"{name!r} is not a readable safetensors file ({exc}).") from exc
    net = build_architecture(spec)
    sd = {k.removeprefix("vit."): v for k, v in sd.items()}
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise UserInputError(IMAGE_WEIGHTS_MISMATCH.format(name=name, arch=spec["architecture"],
                                                           k=spec["num_classes"], detail=str(exc)[:300])) from exc
    net = _frozen(net)
    if spec["architecture"].startswith("vi"):
        net = _grid_vit(net)
    return net, int(sum(p.numel() for p in net.parameters()))


def load_image_model(data, name: str = "model", *, spec=None, time_budget_s: float = DEFAULT_BUDGET_S,
                     isolate: bool = True) -> ImageModel:
    """Load an image classifier file safely (see the module's docstring).  ``data``: bytes or a path; ``spec``: the
    JSON :func:`parse_image_spec` reads.  ONNX and TorchScript predict in a sandboxed worker unless ``isolate=False``
    (files you trust, e.g. your own exports).  ``time_budget_s`` bounds each call per 256 images."""
    from dlxai.models.formats import _bytes

    if isinstance(time_budget_s, bool) or not isinstance(time_budget_s, (int, float)) or not time_budget_s > 0:
        raise UserInputError(f"time_budget_s must be a positive number of seconds; received {time_budget_s!r}.")
    raw = _bytes(data)
    fmt = _format(raw, name)
    spec = parse_image_spec(spec, fmt)
    digest = hashlib.sha256(raw).hexdigest()
    model = ImageModel(name=name, format=fmt, sha256=digest, spec=spec, budget_s=float(time_budget_s), raw=raw)
    if fmt == "safetensors":
        model.module, model.n_parameters = _from_weights(raw, name, spec)
        return model
    if fmt == "torchscript":
        from dlxai.models.vetting import vet_torchscript

        vet_torchscript(raw, name)  # a refused archive never reaches a worker, nor torch.jit.load
    else:
        from dlxai.models.formats import _parse_onnx

        proto = _parse_onnx(raw, name)
        model.n_parameters = int(sum(int(np.prod(t.dims)) for t in proto.graph.initializer))
    if not isolate:
        model.remote = _InProcess(raw, fmt)
        return model
    from dlxai.models.formats import _remote

    model.remote = _remote(raw, fmt, name, float(time_budget_s), f"{name!r} cannot be loaded ({{detail}}).")
    model.n_parameters = model.n_parameters or model.remote.facts.get("parameters")
    return model


def check_sample(model: ImageModel, images, *, rows: int = CHECK_ROWS) -> SampleCheck:
    """Run ``model`` on the first ``rows`` images of ``images`` (an :class:`~dlxai.data.imagesets.ImageSet`) and
    check shapes, classes, finiteness and time; records the result on the model and returns it."""
    x = images.inputs[:rows]
    files = images.files[:rows]
    bad = [files[i] for i in range(len(x)) if not np.isfinite(x[i]).all()]
    if bad:
        raise UserInputError(IMAGE_INPUT_NOT_FINITE.format(files=bad[:5]))
    try:
        if model.remote is None:
            model._forward(x[:1])  # the first call pays for torch's start-up; time the second
        start = time.perf_counter()
        out = model._forward(x, timeout_s=model.budget_s) if model.remote is not None else model._forward(x)
    except DlxaiError:
        raise
    except Exception as exc:  # noqa: BLE001 - a network that cannot take the input fails in many ways
        raise UserInputError(IMAGE_MODEL_FAILED.format(name=model.name, rows=len(x), shape=tuple(x.shape[1:]),
                                                       detail=f"{type(exc).__name__}: {str(exc)[:240]}")) from exc
    seconds = time.perf_counter() - start
    if out.ndim != 2 or out.shape[0] != len(x):
        raise UserInputError(IMAGE_OUTPUT_SHAPE.format(name=model.name, shape=tuple(out.shape), rows=len(x)))
    declared = model.spec.get("classes")
    classes = tuple(declared) if declared else tuple(images.classes)
    if out.shape[1] != len(classes):
        raise UserInputError(IMAGE_OUTPUT_WIDTH.format(name=model.name, width=out.shape[1], k=len(classes),
                                                       classes=list(classes)[:20]))
    unknown = sorted(set(images.labels) - set(classes))
    if unknown:
        raise UserInputError(IMAGE_UNKNOWN_LABELS.format(labels=unknown[:10], classes=list(classes)[:20]))
    nonfinite = [files[i] for i in range(len(out)) if not np.isfinite(out[i]).all()]
    if nonfinite:
        raise UserInputError(IMAGE_NOT_FINITE.format(name=model.name, files=nonfinite[:5]))
    projected = seconds * len(images) / max(len(x), 1)  # the whole set, against the budget for that many images
    if model.remote is None and projected > model.budget_s * max(1.0, len(images) / PREDICT_CHUNK):
        raise UserInputError(IMAGE_TOO_SLOW.format(name=model.name, seconds=seconds, rows=len(x),
                                                   budget=model.budget_s, per=PREDICT_CHUNK))
    output = model.spec.get("output", "auto")
    if output == "auto":
        output = "probabilities" if bool(np.all((out >= 0) & (out <= 1))) and np.allclose(out.sum(1), 1, atol=1e-4) \
            else "logits"
    model.output_ = output
    model.check = SampleCheck(rows=len(x), input_shape=tuple(x.shape), output_shape=tuple(out.shape),
                              classes=classes, output=output, seconds=seconds, budget_s=model.budget_s)
    return model.check
