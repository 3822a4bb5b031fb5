"""Build real model files (TorchScript, ONNX, skops, pickle) and tables as bytes for the upload tests."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pandas as pd


def torchscript_bytes(module) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(module.eval()), buf)
    return buf.getvalue()


def onnx_bytes(module, n_in: int) -> bytes:
    import warnings

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.zeros(2, n_in),), buf, input_names=["input"], output_names=["out"],
                          dynamic_axes={"input": {0: "batch"}, "out": {0: "batch"}}, opset_version=17, dynamo=False)
    return buf.getvalue()


def onnx_unconvertible(n_in: int, seed: int = 0) -> bytes:
    """A valid ONNX classifier (Gemm -> Shrink) that onnxruntime runs but onnx2torch cannot convert."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(seed).normal(size=(n_in, 2)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["input", "W"], ["z"]), helper.make_node("Shrink", ["z"], ["logits"], lambd=0.1)],
        "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])], [numpy_helper.from_array(w, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def linear(n_in: int, n_out: int = 2, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Linear(n_in, n_out)


def sigmoid_net(n_in: int):
    import torch

    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(n_in, 1), torch.nn.Sigmoid())


def raising_module():
    import torch

    class Boom(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[0] > 0:
                raise RuntimeError("boom in forward")
            return x

    return Boom()


def nan_module(n_in: int):
    import torch

    class NaNs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(n_in, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x) * float("nan")

    return NaNs()


def slow_module(n_in: int):
    """About a second of work on 256 rows: far over a 0.05 s budget, short enough not to hog the CPU."""
    import torch

    class Slow(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(n_in, 64)
            self.w = torch.nn.Parameter(torch.eye(64) * 0.5)
            self.out = torch.nn.Linear(64, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.lin(x)
            for _ in range(1500):
                y = torch.tanh(y @ self.w)
            return self.out(y)

    return Slow()


def three_class(n_in: int):
    return linear(n_in, 3)


def skops_bytes(est) -> bytes:
    import skops.io as sio

    return sio.dumps(est)


def pickle_bytes(obj) -> bytes:
    return pickle.dumps(obj, protocol=4)


def predictions_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], size=n)
    label = rng.choice(["good", "bad"], size=n)
    score = np.clip(rng.normal(0.5, 0.2, n) + (sex == "M") * 0.1, 0, 1)
    return pd.DataFrame({"label": label, "sex": sex, "race": rng.choice(["a", "b", "c"], size=n), "score": score,
                         "pred": np.where(score >= 0.5, "good", "bad")})


def csv_bytes(df: pd.DataFrame, sep: str = ",", encoding: str = "utf-8") -> bytes:
    return df.to_csv(index=False, sep=sep).encode(encoding)
