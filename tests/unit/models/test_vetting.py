"""TorchScript vetting: real scripted/traced models pass; archives that call I/O operators are refused, named.

Every archive is built here with the real torch.jit, so the test follows what the installed torch writes.
"""

from __future__ import annotations

import io
import warnings
import zipfile

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from dlxai.errors import UserInputError  # noqa: E402
from dlxai.models.vetting import vet_torchscript  # noqa: E402


def _save(module) -> bytes:
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    return buf.getvalue()


def _script(module) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _save(torch.jit.script(module.eval()))


def _trace(module, example) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _save(torch.jit.trace(module.eval(), example, check_trace=False))


def _rewrite(raw: bytes, changes: dict[str, bytes | None]) -> bytes:
    """A copy of the zip with members replaced (bytes), added, or dropped (None); keys end-match member names."""
    src, out = zipfile.ZipFile(io.BytesIO(raw)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        done = set()
        for info in src.infolist():
            key = next((k for k in changes if info.filename.endswith(k)), None)
            if key is None:
                dst.writestr(info, src.read(info))
            else:
                done.add(key)
                if changes[key] is not None:
                    dst.writestr(info.filename, changes[key])
        for key in set(changes) - done:
            dst.writestr(key, changes[key])
    return out.getvalue()


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.bn = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2, self.pool, self.ap = nn.Conv2d(8, 8, 3, padding=1), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        h = torch.relu(self.bn(self.c1(x)))
        h = h + torch.relu(self.c2(h))  # residual
        return self.fc(self.ap(self.pool(h)).flatten(1))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 4, batch_first=True)
        layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.ln, self.fc = nn.LayerNorm(16), nn.Linear(16, 2)

    def forward(self, x):
        a, _ = self.mha(x, x, x)
        return self.fc(self.ln(self.enc(a)).mean(dim=1))


@pytest.fixture(scope="module")
def mlp_bytes():
    return _script(MLP())


GOOD = {
    "mlp scripted": lambda: _script(MLP()),
    "mlp traced": lambda: _trace(MLP(), torch.randn(3, 10)),
    "cnn scripted": lambda: _script(CNN()),
    "cnn traced": lambda: _trace(CNN(), torch.randn(2, 1, 8, 8)),
    "attention scripted": lambda: _script(Attention()),
    "attention traced": lambda: _trace(Attention(), torch.randn(2, 5, 16)),
}


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_real_models_pass(kind):
    torch.manual_seed(0)
    vet_torchscript(GOOD[kind](), f"{kind}.pt")


def test_traced_torchvision_resnet18_passes():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=2)
    vet_torchscript(_trace(model, torch.randn(1, 3, 32, 32)), "resnet18.pt")


# --- hostile archives --------------------------------------------------------------------------
class FromFile(nn.Module):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def forward(self, x):
        t = torch.from_file(self.path, shared=True, size=4, dtype=torch.uint8)
        t.fill_(65)  # writes through the shared mapping into the host file
        return x + t.sum()


class OpsFromFile(nn.Module):
    def forward(self, x):
        return x + torch.ops.aten.from_file("/etc/hostname", False, 4).sum()


class LoadTimeIO(nn.Module):
    def __init__(self, path: str):
        super().__init__()
        self.path, self.leaked = path, torch.zeros(4, dtype=torch.uint8)

    def forward(self, x):
        return x + self.leaked.sum()

    @torch.jit.export
    def __getstate__(self):
        return (self.path, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]):
        self.path, self.training = state[0], state[1]
        self.leaked = torch.from_file(self.path, shared=False, size=4, dtype=torch.uint8)


def _helper(x):
    return x * 2


class Forks(nn.Module):
    def forward(self, x):
        return torch.jit.wait(torch.jit.fork(_helper, x))


class Prints(nn.Module):
    def forward(self, x):
        print(x)
        return x


@pytest.fixture(scope="module")
def custom_op():
    lib = torch.library.Library("dlxai_vetting_test", "DEF")
    lib.define("leak(Tensor x) -> Tensor")
    lib.impl("leak", lambda x: x, "CPU")
    yield
    lib._destroy()


def test_forward_calling_from_file_is_refused(tmp_path):
    raw = _script(FromFile(str(tmp_path / "victim")))
    with pytest.raises(UserInputError, match=r"torch\.from_file.*FromFile\.forward") as err:
        vet_torchscript(raw, "fromfile.pt")
    assert "'fromfile.pt'" in str(err.value)


def test_torch_ops_aten_from_file_is_refused():
    with pytest.raises(UserInputError, match=r"from_file.*OpsFromFile\.forward"):
        vet_torchscript(_script(OpsFromFile()), "ops.pt")


def test_setstate_with_io_is_refused_and_says_it_runs_at_load(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"KEYS")
    raw = _script(LoadTimeIO(str(secret)))
    # the attack is real: loading alone (no forward call) reads the host file
    loaded = torch.jit.load(io.BytesIO(raw))
    assert bytes(loaded.leaked.tolist()) == b"KEYS"
    with pytest.raises(UserInputError, match=r"from_file.*LoadTimeIO\.__setstate__.*while the file is being loaded"):
        vet_torchscript(raw, "setstate.pt")


def test_fork_and_print_are_refused():
    with pytest.raises(UserInputError, match=r"calls (fork\(\)|torch\.wait)"):
        vet_torchscript(_script(Forks()), "fork.pt")
    with pytest.raises(UserInputError, match=r"calls print\(\)"):
        vet_torchscript(_script(Prints()), "print.pt")


def test_custom_operator_namespace_is_refused(custom_op):
    class Custom(nn.Module):
        def forward(self, x):
            return torch.ops.dlxai_vetting_test.leak(x)

    with pytest.raises(UserInputError, match=r"ops\.dlxai_vetting_test\.leak"):
        vet_torchscript(_script(Custom()), "custom.pt")


def _linear_code(raw: bytes) -> tuple[str, str]:
    """The member holding a Linear layer's forward (its path carries a mangle number), and its text."""
    zf = zipfile.ZipFile(io.BytesIO(raw))
    member = next(n for n in zf.namelist() if n.endswith(".py") and "return torch.linear(" in zf.read(n).decode())
    return member, zf.read(member).decode()


@pytest.mark.parametrize("line, op", [
    ("_0 = torch.save(input, \"/tmp/x\")", "torch.save"),
    ("_0 = ops.prim.Print(input)", "ops.prim.Print"),
    ("_0 = getattr(torch, \"from_file\")", "bare reference to 'torch'"),
    ("_0 = __torch__.torch.classes.io.File(\"/etc/passwd\")", "__torch__.torch.classes.io.File"),
    ("_0 = (input).set_(input)", "the method .set_()"),
    ("_0 = ops.aten.from_file.default(\"/etc/hostname\")", "ops.aten.from_file"),
])
def test_hand_edited_code_is_refused(mlp_bytes, line, op):
    member, text = _linear_code(mlp_bytes)
    edited = text.replace("    return torch.linear(", f"    {line}\n    return torch.linear(", 1)
    assert edited != text
    with pytest.raises(UserInputError, match=r"calls .*" + op.replace(".", r"\.").replace("(", r"\(")
                       .replace(")", r"\)")):
        vet_torchscript(_rewrite(mlp_bytes, {member: edited.encode()}), "edited.pt")


def test_operator_hidden_in_unusual_string_syntax_is_refused(mlp_bytes):
    member, text = _linear_code(mlp_bytes)
    hidden = '    _0 = """\n    torch.from_file("x")"""\n'
    edited = text.replace("    return torch.linear(", hidden + "    return torch.linear(", 1)
    with pytest.raises(UserInputError, match="string syntax"):
        vet_torchscript(_rewrite(mlp_bytes, {member: edited.encode()}), "strings.pt")


def test_pickled_global_outside_the_allowlist_is_refused(mlp_bytes):
    evil = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."
    with pytest.raises(UserInputError, match=r"pickled global os\.system"):
        vet_torchscript(_rewrite(mlp_bytes, {"archive/data.pkl": evil}), "pickle.pt")


@pytest.mark.parametrize("changes, detail", [
    ({"archive/../../etc/cron.d/x": b"x"}, "unsafe path"),
    ({"archive/bytecode.pkl": b"\x80\x02N."}, "not part of a torch.jit.save archive"),
    ({"other/data.pkl": b"\x80\x02N."}, "top folders"),
    ({"archive/data.pkl": None}, "no data.pkl"),
])
def test_archive_bounds(mlp_bytes, changes, detail):
    with pytest.raises(UserInputError, match=detail):
        vet_torchscript(_rewrite(mlp_bytes, changes), "bad.pt")


def test_too_many_members_and_not_a_zip(mlp_bytes, monkeypatch):
    import dlxai.models.vetting as vetting

    monkeypatch.setattr(vetting, "MAX_MEMBERS", 5)
    with pytest.raises(UserInputError, match="members"):
        vet_torchscript(mlp_bytes, "many.pt")
    with pytest.raises(UserInputError, match="not a readable zip"):
        vet_torchscript(b"\x08\x01" * 100, "garbage.pt")


# --- ONNX: standard domains, no external data --------------------------------------------------------------
def _onnx_proto(raw: bytes):
    import onnx

    return onnx.load_from_string(raw)


def test_real_onnx_exports_pass():
    from dlxai.models.vetting import vet_onnx
    from tests import makers

    vet_onnx(_onnx_proto(makers.onnx_bytes(makers.linear(4), 4)), "linear.onnx")
    vet_onnx(_onnx_proto(makers.onnx_unconvertible(3)), "shrink.onnx")


@pytest.mark.parametrize("build, detail", [
    (lambda b: b.onnx_external_data("/etc/passwd"), r"keeps the tensor 'W' outside .*'/etc/passwd'"),
    (lambda b: b.onnx_custom_domain(), r"operator 'System' from the domain 'com\.evil'"),
    (lambda b: b.onnx_custom_domain("com.microsoft", "FusedMatMul"), r"'FusedMatMul' from the domain 'com\.microsoft'"),
    (lambda b: b.onnx_custom_in_subgraph(), r"'Run' from the domain 'com\.evil' \(node .* a subgraph of If"),
])
def test_external_data_and_custom_domains_are_refused_by_name(build, detail):
    from dlxai.models.vetting import vet_onnx
    from tests.hostile import builders

    with pytest.raises(UserInputError, match=detail):
        vet_onnx(_onnx_proto(build(builders)), "evil.onnx")
