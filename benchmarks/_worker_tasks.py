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


def load_mlp(key: str, hidden: tuple, weights: list) -> None:
    """An eager copy of a :func:`dlxai.models.torch_mlp.build_mlp` network from its weights (numpy arrays, in
    ``state_dict`` order): ``attribute`` deep-copies its module, which a TorchScript module does not survive."""
    import torch

    from dlxai.models.sandbox import STATE
    from dlxai.models.torch_mlp import build_mlp

    net = build_mlp(weights[0].shape[1], hidden, weights[-1].shape[0], 0.0).eval()
    net.load_state_dict({k: torch.from_numpy(w) for k, w in zip(net.state_dict(), weights, strict=True)})
    STATE[key] = net


def integrated_gradients(key: str, X: np.ndarray, target: np.ndarray) -> np.ndarray:
    from dlxai.explain.attribution import attribute
    from dlxai.models.sandbox import STATE

    res = attribute(STATE[key], X, method="integrated_gradients", target=target, n_steps=50, device="cpu")
    return np.asarray(res.values)
