"""Bundled real datasets (UCI Adult, German credit) and the classroom bias lab.

The files live in ``assets/data`` with their provenance (``assets/data/SOURCES.md``); nothing is
downloaded.  Every loader returns a :class:`~dlxai.data.dataset.TabularDataset`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from dlxai import errors
from dlxai.data.dataset import TabularDataset, make_dataset
from dlxai.data.schema import Schema
from dlxai.errors import UserInputError

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "data"

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]
ADULT_PROVENANCE = (
    "UCI Adult (Census Income), original train/test split, CC BY 4.0. Becker, B. & Kohavi, R. (1996). "
    "Adult. UCI Machine Learning Repository. doi:10.24432/C5XW20"
)
GERMAN_PROVENANCE = (
    "UCI Statlog (German Credit Data), CC BY 4.0. Hofmann, H. (1994). Statlog (German Credit Data). "
    "UCI Machine Learning Repository. doi:10.24432/C5NC77"
)
GERMAN_COLUMNS = [
    "status", "duration", "credit_history", "purpose", "credit_amount", "savings", "present_employment",
    "installment_rate", "status_sex", "other_debtors", "residence_since", "property", "age",
    "installment_plans", "housing", "existing_credits", "job", "people_liable", "telephone",
    "foreign_worker", "credit",
]
DESERVED = "deserved"  # the bias lab's column of what each person deserved (before label bias)
GERMAN_NUMERIC = (
    "duration", "credit_amount", "installment_rate", "residence_since", "age", "existing_credits", "people_liable",
)


def _label(v) -> str:
    if isinstance(v, bool):  # telephone / foreign_worker are coded as booleans in values_maps.json
        return "yes" if v else "no"
    return str(v).strip()


def age_band(age: pd.Series, edges=(0, 25, 45, 65, 200), labels=("17-24", "25-44", "45-64", "65+")) -> pd.Series:
    return pd.cut(age, bins=list(edges), labels=list(labels), right=False).astype(str)


def _read_adult(path: Path, skiprows: int) -> pd.DataFrame:
    df = pd.read_csv(path, header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?", skiprows=skiprows)
    df = df.dropna(subset=["income"])
    df["income"] = df["income"].str.rstrip(".")
    df["age_band"] = age_band(df["age"])
    return df.reset_index(drop=True)


def load_adult() -> TabularDataset:
    """UCI Adult with its official split: 32,561 training rows and 16,281 test rows."""
    train = _read_adult(ASSETS / "adult.data.gz", 0)
    test = _read_adult(ASSETS / "adult.test.gz", 1)
    schema = Schema(
        target="income",
        positive_label=">50K",
        sensitive=("sex", "race", "age_band"),
        numeric=("age", "education-num", "capital-gain", "capital-loss", "hours-per-week"),
        categorical=("workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
                     "native-country"),
        ignore=("fnlwgt",),
    )
    return make_dataset(
        "adult", train, schema, test=test,
        description="Predict whether income exceeds $50K/yr from the 1994 US census.",
        provenance=ADULT_PROVENANCE,
    )


def load_german(seed: int = 0) -> TabularDataset:
    """German credit (1,000 applicants); sex derived from personal status; a seeded 70/30 split."""
    with gzip.open(ASSETS / "values_maps.json.gz", "rt") as fh:
        maps = json.load(fh)
    df = pd.read_csv(ASSETS / "german.data.gz", sep=" ", header=None, names=GERMAN_COLUMNS)
    for col, mapping in maps.items():
        if col in df.columns and col != "credit":
            df[col] = df[col].map(lambda v, m=mapping: _label(m.get(v, v)))
    df["credit"] = df["credit"].map({1: "good", 2: "bad"})
    df["sex"] = np.where(df["status_sex"].str.startswith("female"), "female", "male")
    df["age_band"] = np.where(df["age"] < 25, "under 25", "25 and over")
    schema = Schema(
        target="credit",
        positive_label="good",
        sensitive=("sex", "age_band"),
        numeric=GERMAN_NUMERIC,
        categorical=tuple(c for c in GERMAN_COLUMNS[:-1] if c not in GERMAN_NUMERIC),
    )
    return make_dataset(
        "german", df, schema, test_size=0.3, seed=seed,
        description="Classify loan applicants as good or bad credit risks.",
        provenance=GERMAN_PROVENANCE,
    )


def make_bias_lab(
    n: int = 6000,
    *,
    label_bias: float = 0.3,
    proxy_strength: float = 0.5,
    minority_share: float = 0.35,
    include_group: bool = False,
    seed: int = 0,
) -> TabularDataset:
    """Synthetic credit-like data with a dial for bias against group ``B``.

    Qualification (the truth) is drawn the same way for both groups.  Then:

    - ``label_bias`` (0..1): that share of group B's deserved approvals is recorded as a rejection
      (historical label bias), so a model that learns from the labels learns the bias;
    - ``proxy_strength`` (0..1): how strongly the ``neighbourhood`` feature reveals the group, so the
      model can discriminate even when the group itself is not a feature (``include_group=False``).

    The frame keeps what each person deserved in the column :data:`DESERVED` (same labels as the target),
    so a model can be judged against the truth as well as against the recorded, biased labels.  It is in
    the schema's ``ignore``: never a feature, so no model trains on it.
    """
    for pname, v in (("label_bias", label_bias), ("proxy_strength", proxy_strength)):
        if not 0.0 <= float(v) <= 1.0:
            raise UserInputError(f"{pname} must lie between 0 and 1; received {v!r}.")
    if not 0.05 <= float(minority_share) <= 0.95:
        raise UserInputError(f"minority_share must lie between 0.05 and 0.95; received {minority_share!r}.")
    if int(n) < 200:
        raise UserInputError(f"n must be at least 200 rows for a meaningful audit; received {n!r}.")
    rng = np.random.default_rng(seed)
    n = int(n)
    group = np.where(rng.random(n) < minority_share, "B", "A")
    income = rng.lognormal(mean=10.5, sigma=0.5, size=n).round(-2)
    debt_ratio = np.clip(rng.beta(2, 5, size=n), 0, 1).round(3)
    years_employed = rng.poisson(6, size=n).astype(float)
    late_payments = rng.poisson(0.8, size=n).astype(float)
    savings = rng.choice(["none", "low", "medium", "high"], size=n, p=[0.25, 0.35, 0.25, 0.15])
    sav_score = pd.Series(savings).map({"none": -0.6, "low": -0.1, "medium": 0.3, "high": 0.8}).to_numpy()
    score = (
        1.2 * (np.log(income) - 10.5) / 0.5 - 2.5 * (debt_ratio - 0.28) / 0.16 + 0.08 * (years_employed - 6)
        - 0.7 * (late_payments - 0.8) + sav_score + rng.normal(0, 0.8, size=n)
    )
    deserved = score > 0.0
    flip = (group == "B") & deserved & (rng.random(n) < label_bias)
    approved = deserved & ~flip
    # neighbourhood: 5 areas; with strength s the area is group-determined with probability s
    areas = np.array(["north", "south", "east", "west", "centre"])
    random_area = rng.integers(0, 5, size=n)
    group_area = np.where(group == "B", rng.choice([0, 1], size=n), rng.choice([2, 3, 4], size=n))
    area = areas[np.where(rng.random(n) < proxy_strength, group_area, random_area)]
    df = pd.DataFrame({
        "income": income, "debt_ratio": debt_ratio, "years_employed": years_employed,
        "late_payments": late_payments, "savings": savings, "neighbourhood": area, "group": group,
        "decision": np.where(approved, "approved", "rejected"),
        DESERVED: np.where(deserved, "approved", "rejected"),
    })
    categorical = ("savings", "neighbourhood") + (("group",) if include_group else ())
    schema = Schema(
        target="decision", positive_label="approved", sensitive=("group",),
        numeric=("income", "debt_ratio", "years_employed", "late_payments"), categorical=categorical,
        ignore=(DESERVED,),
    )
    return make_dataset(
        "bias_lab", df, schema, test_size=0.3, seed=seed,
        description=(
            f"Synthetic credit decisions; label bias {label_bias:.2f} against group B, proxy strength "
            f"{proxy_strength:.2f}{', group is a feature' if include_group else ''}."
        ),
        provenance="Generated by dlxai.data.bundled.make_bias_lab (synthetic; no real people).",
    )


DEMOS = {"adult": load_adult, "german": load_german, "bias_lab": make_bias_lab}


def load_demo(name: str, **kwargs) -> TabularDataset:
    if name not in DEMOS:
        raise UserInputError(errors.UNKNOWN_DATASET.format(name=name, choices=list(DEMOS)))
    return DEMOS[name](**kwargs)
