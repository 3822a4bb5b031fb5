"""Reading uploaded images: folders, zips, ImageFolder layouts, the preprocessing spec, and every bad input."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest
from PIL import Image

from dlxai.data import imagesets as I
from dlxai.data.imagesets import read_images
from dlxai.errors import UserInputError
from tests.image_makers import huge_png, write_images, zip_folder


@pytest.fixture
def folder(tmp_path):
    return write_images(tmp_path / "imgs", n=12)


class _Any:
    """Stands for a field the test does not pin: formats as a marker that becomes ".*"."""

    def __format__(self, spec):
        return "\x00"

    def __repr__(self):
        return "\x00"


class _Fields(dict):
    def __missing__(self, key):
        return _Any()


def _msg(template: str, **known) -> str:
    """A regex of a message template: the known fields filled in, the others matching anything."""
    return ".*".join(re.escape(part) for part in template.format_map(_Fields(known)).split("\x00"))


def test_folder_with_labels_csv_reads_pixels_labels_groups_in_csv_order(folder):
    root, labels = folder
    s = read_images(root, labels, preprocess={"mean": [0, 0, 0], "std": [1, 1, 1]})
    assert len(s) == 12 and s.inputs.shape == (12, 3, 32, 32) and s.inputs.dtype == np.float32
    assert s.files[0] == "im000.png" and list(s.labels[:3]) == ["cat", "dog", "fox"]
    assert list(s.groups.columns) == ["site", "skin"] and s.groups["site"].iloc[1] == "north"
    first = np.asarray(Image.open(root / "im000.png"))
    np.testing.assert_allclose(s.inputs[0], first.transpose(2, 0, 1) / 255.0, atol=1e-6)
    np.testing.assert_array_equal(s.pixels[0], first)
    assert s.classes == ("cat", "dog", "fox")


def test_normalisation_channel_order_and_layout_follow_the_spec(folder):
    root, labels = folder
    spec = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.5], "channel_order": "BGR", "layout": "NHWC"}
    s = read_images(root, labels, preprocess=spec)
    px = s.pixels[0].astype(np.float32) / 255
    expect = ((px - [0.5, 0.4, 0.3]) / [0.2, 0.25, 0.5])[..., ::-1]
    assert s.inputs.shape == (12, 32, 32, 3)
    np.testing.assert_allclose(s.inputs[0], expect, atol=1e-5)


def test_resize_and_centre_crop(tmp_path):
    root, labels = write_images(tmp_path / "imgs", n=3, size=40)
    s = read_images(root, labels, preprocess={"resize": 36, "crop": 32})
    assert s.inputs.shape == (3, 3, 32, 32)


def test_zip_with_a_root_folder_and_its_own_csv(folder):
    root, labels = folder
    (root / "labels.csv").write_bytes(labels.read_bytes())
    labels.unlink()
    raw = zip_folder(root.parent)  # every member under "imgs/", as zip -r adds it
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert all(n.startswith("imgs/") for n in zf.namelist())
    s = read_images(raw, name="set.zip")
    assert len(s) == 12 and s.name == "set.zip" and list(s.groups.columns) == ["site", "skin"]


def test_image_folder_layout(tmp_path):
    for c in ("benign", "malignant"):
        write_images(tmp_path / "tree" / c, n=3, csv=False)
    s = read_images(tmp_path / "tree")
    assert s.classes == ("benign", "malignant") and len(s) == 6
    assert s.groups.shape[1] == 0 and "ImageFolder" in s.provenance["labels"]


def test_jpeg_and_fingerprint_is_stable(tmp_path):
    root, labels = write_images(tmp_path / "j", n=4, fmt="JPEG")
    a, b = read_images(root, labels), read_images(root, labels)
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 64


# --- bad input: each names the file -----------------------------------------------------------------------
def test_zip_with_a_non_image_names_it(folder):
    root, labels = folder
    raw = zip_folder(root, {"notes.txt": b"hello", "labels.csv": labels.read_bytes()})
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_NOT_IMAGE, file="notes.txt")):
        read_images(raw, name="set.zip")


def test_truncated_jpeg_names_the_file(tmp_path):
    root, labels = write_images(tmp_path / "j", n=3, fmt="JPEG")
    data = (root / "im001.jpg").read_bytes()
    (root / "im001.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_TRUNCATED, file="im001.jpg")):
        read_images(root, labels)


def test_30000_by_30000_png_is_refused_before_decoding(folder):
    root, labels = folder
    bomb = huge_png()
    assert len(bomb) < 100_000
    (root / "im002.png").write_bytes(bomb)
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_TOO_MANY_PIXELS, file="im002.png")):
        read_images(root, labels)


def test_pixel_cap_is_dlxais_own_below_pils(folder):
    root, labels = folder
    (root / "im003.png").write_bytes(huge_png(7_000, 7_000))  # 49 M pixels: under PIL's bomb limit, over ours
    with pytest.raises(UserInputError, match="7,000 × 7,000 = 49,000,000"):
        read_images(root, labels)


def test_labels_naming_missing_files(folder):
    root, labels = folder
    labels.write_text(labels.read_text() + "ghost.png,cat,north,I-II\n")
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_MISSING_FILES, n=1)) as exc:
        read_images(root, labels)
    assert "ghost.png" in str(exc.value)


def test_unlabelled_image_and_duplicate_rows(folder):
    root, labels = folder
    lines = labels.read_text().splitlines()
    labels.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(UserInputError, match="im011.png"):
        read_images(root, labels)
    labels.write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_DUPLICATE_ROWS)):
        read_images(root, labels)


def test_grayscale_image_for_an_rgb_model_names_the_file(folder):
    root, labels = folder
    Image.fromarray(np.zeros((32, 32), np.uint8), "L").save(root / "im004.png")
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_GRAYSCALE, file="im004.png", mode="L")):
        read_images(root, labels)
    s = read_images(root, labels, preprocess={"convert_channels": True})
    assert s.inputs.shape[1] == 3


def test_images_of_different_sizes_need_a_resize(folder):
    root, labels = folder
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(root / "im005.png")
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_SIZE_DIFFERS, file="im005.png")):
        read_images(root, labels)
    assert read_images(root, labels, preprocess={"resize": [32, 32]}).inputs.shape[2:] == (32, 32)


@pytest.mark.parametrize("member", ["../evil.png", "/etc/evil.png"])
def test_zip_path_traversal_is_refused(member):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, b"x")
    with pytest.raises(UserInputError, match="refuses such archives"):
        read_images(buf.getvalue(), name="evil.zip")


def test_zip_symlink_member_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("a/link.png")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UserInputError, match="symbolic link"):
        read_images(buf.getvalue(), name="links.zip")


def test_not_a_zip_and_no_layout(tmp_path):
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_BAD_ZIP, name="x.zip")):
        read_images(b"not a zip at all", name="x.zip")
    root, _ = write_images(tmp_path / "flat", n=2, csv=False)
    with pytest.raises(UserInputError, match=_msg(I.IMAGES_NO_LAYOUT)):
        read_images(root)


def test_archive_declaring_too_much_is_refused_unread(monkeypatch, folder):
    root, labels = folder
    monkeypatch.setattr(I, "MAX_ARCHIVE_BYTES", 1000)
    with pytest.raises(UserInputError, match="bytes unpacked"):
        read_images(zip_folder(root, {"labels.csv": labels.read_bytes()}), name="big.zip")
