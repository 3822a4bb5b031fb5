"""Datasets: schema, bundled demos, the bias lab, preprocessing."""

from dlxai.data.bundled import DEMOS, load_adult, load_demo, load_german, make_bias_lab
from dlxai.data.dataset import TabularDataset, make_dataset, validate_frame
from dlxai.data.preprocess import Preprocessor
from dlxai.data.schema import Schema

__all__ = [
    "DEMOS", "Preprocessor", "Schema", "TabularDataset", "load_adult", "load_demo", "load_german",
    "make_bias_lab", "make_dataset", "validate_frame",
]
