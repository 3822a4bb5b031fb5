"""Which input contract a model file needs: read from the file where it says, asked for only where it does not.

:class:`InputFacts` is what a file tells about its inputs (ONNX graph inputs with names, types and shapes; a
scikit-learn model's ``feature_names_in_`` and ColumnTransformer; for TorchScript and dlxai's own weights,
nothing).  :func:`choose_contract` picks, in this order:

1. the spec's ``preprocessing`` when one is given (a documented file, so the user's explicit word);
2. **raw columns** when the file names them: a scikit-learn model fitted on a DataFrame, or an ONNX graph with
   one input per column (several inputs, or one ``[None, 1]`` input named after a data column);
3. the declared numeric columns (one tensor input);
4. otherwise a :class:`~dlxai.errors.UserInputError` that names what the file holds and asks for a spec or a
   column list.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dlxai import errors
from dlxai.errors import UserInputError
from dlxai.models.contracts import ColumnsPreprocessor, preprocessor_from_spec
from dlxai.models.rawcolumns import ONNX_INPUT_NO_COLUMN, RawColumnsContract, _shown, onnx_columns, sklearn_columns


@dataclass(frozen=True)
class InputFacts:
    """What a model file says about its inputs.  ``kind``: ``named`` (reads columns by name), ``tensor`` (one
    numeric input), ``unknown`` (not recorded in the file)."""

    kind: str
    source: str  # "onnx", "sklearn", "torchscript", "weights"
    names: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    shapes: tuple = ()
    width: int | None = None
    detail: str = ""

    @property
    def needs_contract(self) -> bool:
        """Whether a spec or a column list must be given (the file does not name the columns it reads)."""
        return self.kind == "tensor"

    def summary(self) -> str:
        """A short line: how many inputs and their names."""
        if self.kind == "named":
            return f"{len(self.names)} columns: {_shown(self.names)}"
        return self.describe()

    def describe(self) -> str:
        """The sentence that names what the file holds (used where dlxai asks for a contract)."""
        if self.detail:
            return self.detail
        if self.source == "onnx":
            parts = [f"{n!r} ({t}, shape {list(s)})" for n, t, s in zip(self.names, self.types, self.shapes)]
            return f"the ONNX graph has {len(parts)} input{'s' if len(parts) > 1 else ''}: {_shown(parts)}"
        return f"the {self.source} file does not record its inputs"


def onnx_inputs(proto) -> list[tuple[str, str, list]]:
    """``(name, type, shape)`` of each graph input that is not an initializer, as onnxruntime writes them."""
    from onnx import TensorProto

    init = {i.name for i in proto.graph.initializer}
    out = []
    for vi in proto.graph.input:
        if vi.name in init:
            continue
        tt = vi.type.tensor_type
        kind = f"tensor({TensorProto.DataType.Name(tt.elem_type).lower()})" if tt.elem_type else "unknown"
        shape = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        out.append((vi.name, kind, shape))
    return out


def facts_from_onnx(inputs, columns=()) -> InputFacts:
    names = tuple(n for n, _, _ in inputs)
    types = tuple(t for _, t, _ in inputs)
    shapes = tuple(tuple(s) for _, _, s in inputs)
    one = len(inputs) == 1
    width = shapes[0][-1] if one and len(shapes[0]) == 2 and isinstance(shapes[0][-1], int) else None
    named = len(inputs) > 1 or (one and names[0] in set(columns) and (width == 1 or len(shapes[0]) == 1))
    return InputFacts("named" if named else "tensor", "onnx", names, types, shapes, width)


def facts_from_sklearn(est) -> InputFacts:
    found = sklearn_columns(est)
    if found is not None:
        return InputFacts("named", "sklearn", tuple(found[0]), detail=f"feature_names_in_ {list(found[0])}")
    n = getattr(est, "n_features_in_", None)
    what = type(est).__name__
    detail = (f"{what} was fitted on a matrix of {n} columns without column names (it has no feature_names_in_)"
              if n is not None else f"{what} does not record its inputs")
    return InputFacts("tensor", "sklearn", width=n, detail=detail)


def _frames(reference, sample) -> list[pd.DataFrame]:
    return [f for f in (reference, sample) if isinstance(f, pd.DataFrame)]


def choose_contract(facts: InputFacts, spec: dict, input_columns, *, reference=None, sample=None, file="model",
                    est=None):
    """The fitted contract for a file (see the module docstring).  ``reference`` are training rows (levels,
    medians of a raw-columns contract), ``sample`` the rows the contract is checked on."""
    frames = _frames(reference, sample)
    fit_on = frames[0] if frames else None
    if spec.get("preprocessing") is not None:
        return preprocessor_from_spec(spec["preprocessing"], frames or None, file)
    if facts.kind == "named" and facts.source == "onnx":
        inputs = list(zip(facts.names, facts.types, facts.shapes))
        cols, kinds, types = onnx_columns(inputs, file)
        if fit_on is not None:
            for name, kind, shape in inputs:
                if name not in fit_on.columns:
                    raise UserInputError(ONNX_INPUT_NO_COLUMN.format(file=file, input=name, type=kind,
                                                                     shape=list(shape),
                                                                     available=_shown(fit_on.columns)))
        return RawColumnsContract(cols, kinds, None, types, "onnx", file).fit(frames or None)
    if facts.kind == "named" and facts.source == "sklearn":
        cols, kinds, cats = sklearn_columns(est)
        return RawColumnsContract(cols, kinds, cats, None, "sklearn", file).fit(frames or None)
    if input_columns:
        return ColumnsPreprocessor(list(input_columns)).fit()
    raise UserInputError(errors.MODEL_NO_INPUT_CONTRACT.format(found=facts.describe()))
