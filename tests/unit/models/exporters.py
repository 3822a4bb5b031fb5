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


def skops_estimator(ds, columns):
    """A bare LogisticRegression fitted on a matrix of ``columns`` (no column names), saved with skops: it needs
    its columns declared on upload."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    X = ds.X("train")[list(columns)].to_numpy(np.float64)
    est = LogisticRegression(max_iter=1000).fit(X, ds.y("train"))
    return sio.dumps(est), "logreg.skops", lambda F: est.predict_proba(F[list(columns)].to_numpy(np.float64))[:, 1]


def onnx_not_convertible(columns) -> tuple[bytes, str]:
    """A valid ONNX classifier on ``columns`` (MatMul -> Shrink) that onnxruntime runs but onnx2torch cannot
    convert: no gradients, every model-agnostic method."""
    from onnx import TensorProto, helper, numpy_helper

    n = len(columns)
    w = np.zeros((n, 2), dtype=np.float32)  # favourable when 0.05 × the last column beats 0.05 × the first
    w[0, 0] = w[-1, 1] = 0.05
    g = helper.make_graph(
        [helper.make_node("MatMul", ["input", "W"], ["z"]), helper.make_node("Shrink", ["z"], ["logits"], lambd=0.1)],
        "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])], [numpy_helper.from_array(w, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString(), "shrink.onnx"


NUMERIC = ["duration", "credit_amount", "installment_rate", "age"]
# every kind of model the app loads or makes: the capability matrix runs what each one is offered
KINDS = (
    "app MLP", "app logistic regression", "torch spec (safetensors + JSON)", "TorchScript + spec",
    "ONNX from torch.onnx (converts to torch)", "ONNX that does not convert to torch", "skops estimator (matrix)",
    "skops pipeline (raw columns)", "skl2onnx pipeline (raw columns)", "ThresholdOptimizer of a skops pipeline",
    "ExponentiatedGradient of an app model", "ExponentiatedGradient's best member", "predictions only",
)


class Zoo:
    """Each kind of :data:`KINDS` built on first use (real exporters, German credit) and kept; ``close`` stops the
    uploads' sandboxed workers.  ``zoo[kind]`` is the model, None for predictions only."""

    def __init__(self, ds):
        self.ds, self.built = ds, {}

    def _load(self, raw: bytes, name: str, **kw):
        from dlxai.models.formats import load_model, skops_untrusted_types

        trusted = skops_untrusted_types(raw) if name.endswith(".skops") else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_model(raw, name, trusted=trusted, sample=self.ds.X("test"), reference=self.ds.X("train"),
                              positive_label=self.ds.schema.positive_label, dataset_name=self.ds.name, **kw)

    def _mitigated(self, base: str, method: str, **kw):
        from dlxai.fairness.mitigation import mitigate

        return mitigate(self[base], self.ds, method, "demographic_parity", n_bootstrap=10, **kw)

    def _build(self, kind: str):
        from dlxai.models import train_model
        from dlxai.models.contracts import preprocessing_spec
        from dlxai.models.export import export_safetensors

        ds = self.ds
        if kind == "app MLP":
            return train_model(ds, "mlp", seed=0, max_epochs=3, hidden_layer_sizes=(16,))
        if kind == "app logistic regression":
            return train_model(ds, "logreg", seed=0)
        if kind.startswith("torch spec"):
            weights, spec = export_safetensors(self["app MLP"])
            return self._load(weights, "mlp.safetensors", spec=spec)
        if kind.startswith("TorchScript"):
            prep = self["app MLP"].preprocessor
            raw, name, _, _ = torchscript_mlp(prep, n_out=1)
            return self._load(raw, name, spec={"preprocessing": preprocessing_spec(prep)})
        if kind.startswith("ONNX from torch"):
            return self._load(*torch_onnx_mlp(NUMERIC)[:2], input_columns=NUMERIC)
        if kind.startswith("ONNX that does not"):
            return self._load(*onnx_not_convertible(NUMERIC), input_columns=NUMERIC)
        if kind.startswith("skops estimator"):
            return self._load(*skops_estimator(ds, NUMERIC)[:2], input_columns=NUMERIC)
        if kind.startswith("skops pipeline"):
            return self._load(*skops_pipeline(ds, "logreg")[:2])
        if kind.startswith("skl2onnx"):
            return self._load(*skl2onnx_pipeline(ds)[:2])
        if kind.startswith("ThresholdOptimizer"):
            return self._mitigated("skops pipeline (raw columns)", "threshold_optimizer").model
        if kind.startswith("ExponentiatedGradient of"):
            r = self._mitigated("app logistic regression", "exponentiated_gradient", max_iter=2)
            self.built["ExponentiatedGradient's best member"] = r.deterministic
            return r.model
        if kind.startswith("ExponentiatedGradient's"):
            self["ExponentiatedGradient of an app model"]
            return self.built[kind]
        if kind == "predictions only":
            return None
        raise KeyError(kind)

    def __getitem__(self, kind: str):
        if kind not in self.built:
            self.built[kind] = self._build(kind)
        return self.built[kind]

    def close(self) -> None:
        for m in self.built.values():
            close = getattr(m, "close", None)
            if close is not None:
                close()
