"""Functions benchmarks/worker.py runs inside the model worker (an importable module, so they pickle)."""

import io

import numpy as np


def load(key: str, raw: bytes) -> None:
    import torch

    from dlxai.models.sandbox import STATE
    from dlxai.models.vetting import vet_torchscript

    vet_torchscript(raw, key)
    STATE[key] = torch.jit.load(io.BytesIO(raw), map_location="cpu").eval()


def predict_proba(key: str, X: np.ndarray) -> np.ndarray:
    import torch

    from dlxai.models.sandbox import STATE

    with torch.no_grad():
        return torch.softmax(STATE[key](torch.from_numpy(X)), dim=1).double().numpy()


def noop() -> None:
    return None
