"""Datasets: schema, bundled demos, the bias lab, preprocessing."""

from dlxai.data.bundled import DEMOS, load_adult, load_demo, load_german, make_bias_lab
from dlxai.data.dataset import TabularDataset, make_dataset, validate_frame
from dlxai.data.schema import Schema


def __getattr__(name):  # Preprocessor loads scikit-learn: only when asked for
    if name == "Preprocessor":
        from dlxai.data.preprocess import Preprocessor

        return Preprocessor
    raise AttributeError(f"module 'dlxai.data' has no attribute {name!r}")

__all__ = [
    "DEMOS", "Preprocessor", "Schema", "TabularDataset", "load_adult", "load_demo", "load_german",
    "make_bias_lab", "make_dataset", "validate_frame",
]
