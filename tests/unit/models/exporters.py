"""Model files made by the real exporters on German credit (small models: the suite stays fast).

Each maker returns ``(file bytes, file name, reference)`` where ``reference(X)`` gives the exporter's own
P(favourable) for raw rows ``X`` (the original estimator's, or onnxruntime on the exported file).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd


def column_transformer(ds, imputer_for_text: str = "most_frequent"):
    """ColumnTransformer(SimpleImputer + StandardScaler on numbers, SimpleImputer + OneHotEncoder on categories)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if imputer_for_text == "constant":  # what skl2onnx converts: string imputation with a string marker
        text_imputer = SimpleImputer(missing_values="", strategy="constant", fill_value="missing")
    else:
        text_imputer = SimpleImputer(strategy="most_frequent")
    return ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
         list(ds.schema.numeric)),
        ("cat", Pipeline([("impute", text_imputer), ("onehot", OneHotEncoder(handle_unknown="ignore"))]),
         list(ds.schema.categorical)),
    ])


def sklearn_pipeline(ds, classifier: str):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    clf = (HistGradientBoostingClassifier(max_iter=10, max_depth=3, random_state=0) if classifier == "hgb"
           else LogisticRegression(max_iter=1000))
    return Pipeline([("prep", column_transformer(ds)), ("clf", clf)]).fit(ds.X("train"), ds.y("train"))


def skops_pipeline(ds, classifier: str):
    import skops.io as sio

    pipe = sklearn_pipeline(ds, classifier)
    return sio.dumps(pipe), f"{classifier}.skops", lambda X: pipe.predict_proba(X)[:, 1]


def onnx_feeds(sess, X: pd.DataFrame) -> dict:
    types = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
             "tensor(string)": object}
    return {i.name: X[i.name].to_numpy().astype(types[i.type]).reshape(-1, 1) for i in sess.get_inputs()}


def skl2onnx_pipeline(ds):
    """A LogisticRegression pipeline converted by skl2onnx with one input per column, as a user writes it: floats
    for some numeric columns, int64 for others, strings for the categories (ZipMap output)."""
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    num, cat = list(ds.schema.numeric), list(ds.schema.categorical)
    floats = num[:3]
    X = ds.X("train").astype({c: "float64" for c in floats})
    pipe = Pipeline([("prep", column_transformer(ds, "constant")), ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(X, ds.y("train"))
    inputs = ([(c, FloatTensorType([None, 1]) if c in floats else Int64TensorType([None, 1])) for c in num]
              + [(c, StringTensorType([None, 1])) for c in cat])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = convert_sklearn(pipe, initial_types=inputs).SerializeToString()
    sess = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])

    def reference(X):
        probs = sess.run(None, onnx_feeds(sess, X))[1]
        return np.array([row[1] for row in probs], dtype=np.float64)

    return raw, "pipeline.onnx", reference


def mlp(n_in: int, n_out: int = 2, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(n_in, 16), torch.nn.ReLU(), torch.nn.Linear(16, n_out)).eval()


def torch_probability(module, x) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = module(torch.as_tensor(np.asarray(x, dtype=np.float32))).double()
    return torch.sigmoid(out[:, 0]).numpy() if out.shape[1] == 1 else torch.softmax(out, 1)[:, 1].numpy()


def torchscript_mlp(prep, n_out: int = 2):
    """torch.jit.script of an MLP on dlxai's preprocessed matrix (upload it with the preprocessing spec)."""
    import torch

    net = mlp(prep.n_features_out_, n_out)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(net), buf)
    return buf.getvalue(), "mlp.pt", lambda X: torch_probability(net, prep.transform(X)), net


def torch_onnx_mlp(columns):
    """torch.onnx.export of an MLP on named numeric columns (upload it with those columns declared)."""
    import torch

    net = mlp(len(columns), seed=1)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(2, len(columns)),), buf, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    return buf.getvalue(), "mlp.onnx", lambda X: torch_probability(net, X[list(columns)].to_numpy(np.float32))
