"""Uploaded images for an image audit: a folder or zip of PNG/JPEG files with a labels CSV, or an ImageFolder layout.

Everything is bounded before it is decoded: the archive's member count and declared size, each member's bytes as
it is read (a zip bomb stops at the limit), each image's pixel count read from its header before any pixel is
decoded (a 30,000 × 30,000 PNG of a few kilobytes is refused unread), and the decoded set's memory.  Zip members
with absolute paths, ``..`` parts or symbolic links are refused.  Every refusal names the file.

The preprocessing (resize, centre crop, scaling to [0, 1], mean/std normalisation, channel order and layout) is
declared in JSON and parsed by one validator, :func:`dlxai.data.imageprep.parse_preprocess`; the page shows it.
The result, :class:`ImageSet`, holds the model's input tensor, the display pixels, labels, groups, file names and
provenance.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import stat
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from dlxai.data.imageprep import PREPROCESS_INVALID, Preprocess, parse_preprocess, to_inputs
from dlxai.errors import UserInputError
from dlxai.validation import as_levels

MAX_IMAGES = 20_000
MAX_ARCHIVE_BYTES = 1 << 30  # declared uncompressed size of every member together, and of a folder's files
MAX_FILE_BYTES = 64 << 20  # one image file
MAX_PIXELS = 40_000_000  # one image (e.g. 6,000 × 6,000); checked from the header, before decoding
MAX_TENSOR_BYTES = 2 << 30  # the preprocessed float32 tensor of the whole set
MAX_LABEL_BYTES = 32 << 20
FORMATS = ("PNG", "JPEG")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FILE_COLUMNS = ("file", "filename", "file_name", "image", "path")
LABEL_COLUMNS = ("label", "class", "target", "y")

# --- messages (tests match on these) ---------------------------------------------------------------
IMAGES_NOT_IMAGE = (
    "{file!r} is not a PNG or JPEG image ({detail}). Remove it from the {where}, or convert it to PNG/JPEG."
)
IMAGES_TRUNCATED = (
    "{file!r} could not be decoded ({detail}); the file is probably truncated or damaged. Re-export it, or remove it."
)
IMAGES_TOO_MANY_PIXELS = (
    "{file!r} is {size} pixels, over the limit of {limit:,} pixels per image; it was "
    "not decoded (a huge image in a small file is how decompression bombs work). Downscale it first."
)
IMAGES_BAD_ZIP = "{name!r} is not a readable zip archive ({detail}). Re-create it (e.g. zip -r images.zip folder)."
IMAGES_UNSAFE_MEMBER = (
    "The zip archive {name!r} holds {member!r}, whose path {why}; dlxai refuses such archives. Re-create it from a "
    "folder with relative paths only."
)
IMAGES_TOO_BIG = (
    "{name!r} holds {what}, over the limit of {limit:,}. Upload fewer or smaller images (a sample is enough for an "
    "audit)."
)
IMAGES_NONE = "{name!r} holds no PNG or JPEG images. Upload a zip or folder of .png/.jpg files."
IMAGES_MISSING_FILES = (
    "The labels CSV names {n} file(s) that are not among the images: {files}. Fix the names in the CSV (paths "
    "relative to the folder or zip), or add the images."
)
IMAGES_UNLABELLED = (
    "{n} image(s) have no row in the labels CSV: {files}. Add rows for them, or remove the images."
)
IMAGES_NO_COLUMN = (
    "The labels CSV has no {what} column; its columns are {columns}. Name one of {choices} (or pass {option})."
)
IMAGES_DUPLICATE_ROWS = "The labels CSV lists these files more than once: {files}. Keep one row per image."
IMAGES_MISSING_LABEL = "The labels CSV has no label for {n} file(s): {files}. Fill the label column."
IMAGES_NO_LAYOUT = (
    "{name!r} has no labels CSV and is not an ImageFolder layout (one sub-folder per class, images inside). Upload "
    "a labels CSV with columns file and label, or arrange the images in class folders."
)
IMAGES_GRAYSCALE = (
    "{file!r} is a grayscale image (mode {mode}) but the preprocessing expects {channels} channel(s) (RGB). Convert "
    "the image to RGB, or set \"convert_channels\": true in the preprocessing JSON to convert it."
)
IMAGES_COLOUR = (
    "{file!r} is a colour image (mode {mode}) but the preprocessing expects 1 channel (grayscale). Convert the "
    "image, or set \"convert_channels\": true in the preprocessing JSON to convert it."
)
IMAGES_SIZE_DIFFERS = (
    "{file!r} is {got} pixels (height × width) but the first image was {first}; images of different sizes need a "
    "\"resize\" (and \"crop\") in the preprocessing JSON."
)


# --- the result ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images ready for a model (``inputs``: float32 in the declared layout), their display pixels (uint8
    ``[n, H, W, C]`` after resize and crop), labels (text), group columns, file names and provenance."""

    name: str
    inputs: np.ndarray
    pixels: np.ndarray
    labels: np.ndarray
    groups: pd.DataFrame
    files: tuple
    preprocess: Preprocess
    source: str = ""
    provenance: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def classes(self) -> tuple:
        """The label values, sorted as numbers when all are numbers, else as text (ImageFolder's order)."""
        return sort_labels(np.unique(self.labels))

    @property
    def image_shape(self) -> tuple:
        return tuple(self.inputs.shape[1:])

    @cached_property
    def fingerprint(self) -> str:
        h = hashlib.sha256(self.name.encode())
        for f, lab in zip(self.files, self.labels, strict=True):
            h.update(f"{f}|{lab}\n".encode())
        h.update(np.ascontiguousarray(self.inputs).tobytes())
        h.update(pd.util.hash_pandas_object(self.groups, index=False).to_numpy().tobytes())
        return h.hexdigest()

    def summary(self) -> dict:
        return {"name": self.name, "images": len(self), "image_shape": list(self.image_shape),
                "classes": len(self.classes), "groups": list(self.groups.columns), "source": self.source}


def sort_labels(values) -> tuple:
    vals = [str(v) for v in values]
    try:
        return tuple(sorted(vals, key=float))
    except ValueError:
        return tuple(sorted(vals))


# --- reading the files (bounded) ------------------------------------------------------------------------
def _check_member(name: str, info: zipfile.ZipInfo) -> str | None:
    """Why the member's path is unsafe, else None."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is absolute"
    if ".." in name.replace("\\", "/").split("/"):
        return "climbs out of the archive ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None


def _skipped(name: str) -> bool:
    """Folders, macOS resource forks and hidden files, which archivers add on their own."""
    parts = name.replace("\\", "/").split("/")
    return name.endswith("/") or "__MACOSX" in parts or any(p.startswith(".") for p in parts if p)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    limit = MAX_FILE_BYTES
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UserInputError(IMAGES_TOO_BIG.format(name=name, what=f"{info.filename!r}, over {limit:,} bytes",
                                                   limit=limit))
    return data


def _zip_files(raw: bytes, name: str) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UserInputError(IMAGES_BAD_ZIP.format(name=name, detail=exc)) from exc
    if len(infos) > MAX_IMAGES + 100:
        raise UserInputError(IMAGES_TOO_BIG.format(name=name, what=f"{len(infos):,} members", limit=MAX_IMAGES))
    declared = sum(i.file_size for i in infos)
    if declared > MAX_ARCHIVE_BYTES:
        raise UserInputError(IMAGES_TOO_BIG.format(name=name, what=f"{declared:,} bytes unpacked",
                                                   limit=MAX_ARCHIVE_BYTES))
    out, total = {}, 0
    with zf:
        for info in infos:
            why = _check_member(info.filename, info)
            if why:
                raise UserInputError(IMAGES_UNSAFE_MEMBER.format(name=name, member=info.filename, why=why))
            if _skipped(info.filename):
                continue
            try:
                out[info.filename] = _read_member(zf, info, name)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise UserInputError(IMAGES_BAD_ZIP.format(name=name, detail=f"{info.filename}: {exc}")) from exc
            total += len(out[info.filename])  # what was really unpacked: a member may lie about its size
            if total > MAX_ARCHIVE_BYTES:
                raise UserInputError(IMAGES_TOO_BIG.format(name=name, what=f"over {total:,} bytes unpacked",
                                                           limit=MAX_ARCHIVE_BYTES))
    return out


def _folder_files(root: Path) -> dict[str, bytes]:
    out, total = {}, 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_file() or _skipped(rel):
            continue
        if len(out) >= MAX_IMAGES + 100:
            raise UserInputError(IMAGES_TOO_BIG.format(name=str(root), what=f"more than {MAX_IMAGES:,} files",
                                                       limit=MAX_IMAGES))
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES or total > MAX_ARCHIVE_BYTES:
            raise UserInputError(IMAGES_TOO_BIG.format(name=str(root), what=f"{rel!r} ({size:,} bytes; "
                                                       f"{total:,} so far)", limit=min(MAX_FILE_BYTES, total)))
        out[rel] = path.read_bytes()
    return out


def collect_files(source, name: str | None = None) -> tuple[dict[str, bytes], str]:
    """``(relative path -> bytes, name)`` of a folder, a zip (path or bytes) or a mapping of uploaded files."""
    if isinstance(source, dict):
        files = {str(k): bytes(v) for k, v in source.items() if not _skipped(str(k))}
        if len(files) > MAX_IMAGES or sum(map(len, files.values())) > MAX_ARCHIVE_BYTES:
            raise UserInputError(IMAGES_TOO_BIG.format(name=name or "the upload", what=f"{len(files):,} files",
                                                       limit=MAX_IMAGES))
        return files, name or "uploaded images"
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            return _folder_files(p), name or p.name
        if not p.is_file():
            raise UserInputError(f"The images path {str(p)!r} is neither a folder nor a zip file. Check the path.")
        if p.stat().st_size > MAX_ARCHIVE_BYTES:
            raise UserInputError(IMAGES_TOO_BIG.format(name=p.name, what=f"{p.stat().st_size:,} bytes",
                                                       limit=MAX_ARCHIVE_BYTES))
        source, name = p.read_bytes(), name or p.name
    if hasattr(source, "getvalue"):
        source, name = source.getvalue(), name or getattr(source, "name", "images.zip")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _zip_files(bytes(source), name or "images.zip"), name or "images.zip"
    raise UserInputError(f"Images must be a folder, a zip file or its bytes; received {type(source).__name__}.")


def _strip_root(files: dict[str, bytes]) -> dict[str, bytes]:
    """Paths without a single top folder every file shares (``zip -r x.zip folder`` adds one)."""
    while files:
        tops = {k.split("/", 1)[0] for k in files}
        if len(tops) != 1 or not all("/" in k for k in files):
            return files
        files = {k.split("/", 1)[1]: v for k, v in files.items()}
    return files


# --- labels -------------------------------------------------------------------------------------------
def _pick(columns: list[str], given: str | None, choices: tuple, what: str, option: str) -> str:
    if given is not None:
        if given not in columns:
            raise UserInputError(IMAGES_NO_COLUMN.format(what=f"{given!r}", columns=columns, choices=[given],
                                                         option=option))
        return given
    lower = {c.lower(): c for c in columns}
    for c in choices:
        if c in lower:
            return lower[c]
    raise UserInputError(IMAGES_NO_COLUMN.format(what=what, columns=columns, choices=list(choices), option=option))


def read_labels(labels, *, file_column: str | None = None, label_column: str | None = None) -> pd.DataFrame:
    """The labels CSV as a frame indexed by file path: a ``label`` column (text) and the group columns."""
    from dlxai.data.tables import read_table

    frame = labels if isinstance(labels, pd.DataFrame) else read_table(labels, max_bytes=MAX_LABEL_BYTES).frame
    cols = [str(c) for c in frame.columns]
    frame = frame.set_axis(cols, axis=1)
    fcol = _pick(cols, file_column, FILE_COLUMNS, "file name", "file_column")
    lcol = _pick(cols, label_column, LABEL_COLUMNS, "label", "label_column")
    files = frame[fcol].astype(str).str.strip().str.replace("\\", "/", regex=False).map(
        lambda s: posixpath.normpath(s).lstrip("./") if s else s)
    dup = files[files.duplicated()].unique().tolist()
    if dup:
        raise UserInputError(IMAGES_DUPLICATE_ROWS.format(files=dup[:10]))
    missing = frame[lcol].isna()
    if missing.any():
        raise UserInputError(IMAGES_MISSING_LABEL.format(n=int(missing.sum()), files=files[missing].tolist()[:10]))
    lab = frame[lcol].map(_label_text)
    groups = frame.drop(columns=[fcol, lcol])
    out = pd.concat([lab.rename("label"), groups], axis=1)
    out.index = pd.Index(files, name="file")
    return out


def _label_text(v) -> str:
    """A label as text: 2.0 and 2 are both '2' (CSV readers turn integer columns with gaps into floats)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _image_folder(files: dict[str, bytes], name: str) -> pd.DataFrame:
    rows = [(k, k.split("/")[0]) for k in files if k.lower().endswith(IMAGE_SUFFIXES)]
    if not rows or any("/" not in k for k, _ in rows):
        raise UserInputError(IMAGES_NO_LAYOUT.format(name=name))
    return pd.DataFrame({"label": [c for _, c in rows]}, index=pd.Index([k for k, _ in rows], name="file"))


# --- decoding -----------------------------------------------------------------------------------------
def _open(data: bytes, file: str, where: str):
    """The image, its header read and checked (format, pixel count) before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
            ValueError, SyntaxError) as exc:
        if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            raise UserInputError(IMAGES_TOO_MANY_PIXELS.format(file=file, size=f"more than {MAX_PIXELS:,}",
                                                               limit=MAX_PIXELS)) from exc
        if data.startswith((b"\xff\xd8", b"\x89PNG")):  # a JPEG/PNG signature, then nothing readable
            raise UserInputError(IMAGES_TRUNCATED.format(file=file, detail=str(exc)[:200])) from exc
        raise UserInputError(IMAGES_NOT_IMAGE.format(file=file, detail="not an image PIL can identify",
                                                     where=where)) from exc
    if im.format not in FORMATS:
        raise UserInputError(IMAGES_NOT_IMAGE.format(file=file, detail=f"a {im.format} image", where=where))
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise UserInputError(IMAGES_TOO_MANY_PIXELS.format(file=file, size=f"{w:,} × {h:,} = {w * h:,}",
                                                           limit=MAX_PIXELS))
    return im


def _decode(data: bytes, file: str, prep: Preprocess, where: str) -> np.ndarray:
    """uint8 ``[H, W, C]`` after mode check, resize and crop."""
    from PIL import Image

    im = _open(data, file, where)
    try:
        im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UserInputError(IMAGES_TRUNCATED.format(file=file, detail=str(exc)[:200])) from exc
    gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
    if prep.channels == 3 and gray and not prep.convert_channels:
        raise UserInputError(IMAGES_GRAYSCALE.format(file=file, mode=im.mode, channels=prep.channels))
    if prep.channels == 1 and not gray and not prep.convert_channels:
        raise UserInputError(IMAGES_COLOUR.format(file=file, mode=im.mode))
    im = im.convert("RGB" if prep.channels == 3 else "L")
    if prep.resize is not None:
        if len(prep.resize) == 1:
            w, h = im.size
            s = prep.resize[0] / min(w, h)
            size = (max(1, round(w * s)), max(1, round(h * s)))
        else:
            size = (prep.resize[1], prep.resize[0])
        im = im.resize(size, Image.BILINEAR)
    if prep.crop is not None:
        ch, cw = prep.crop
        w, h = im.size
        if ch > h or cw > w:
            raise UserInputError(PREPROCESS_INVALID.format(
                detail=f"the crop {ch} × {cw} is larger than {file!r} after resizing ({h} × {w})"))
        top, left = (h - ch) // 2, (w - cw) // 2
        im = im.crop((left, top, left + cw, top + ch))
    a = np.asarray(im, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a


def _match(files: dict[str, bytes], table: pd.DataFrame, name: str) -> list[str]:
    """The labelled files, in the CSV's order; every image needs a row and every row an image."""
    images = {k for k in files if not k.lower().endswith(".csv")}
    for k in sorted(images):
        if not k.lower().endswith(IMAGE_SUFFIXES):  # not an image by its name: say what it is
            _open(files[k], k, name)
    missing = [f for f in table.index if f not in files]
    if missing:
        raise UserInputError(IMAGES_MISSING_FILES.format(n=len(missing), files=missing[:10]))
    unlabelled = sorted(images - set(table.index))
    if unlabelled:
        raise UserInputError(IMAGES_UNLABELLED.format(n=len(unlabelled), files=unlabelled[:10]))
    return list(table.index)


def read_images(source, labels=None, *, preprocess=None, name: str | None = None, file_column: str | None = None,
                label_column: str | None = None, progress=None) -> ImageSet:
    """Read a folder or zip of PNG/JPEG images and their labels into an :class:`ImageSet`.

    ``labels``: a CSV (path, bytes or frame) with a file column (path relative to the folder/zip), a label column
    and optional group columns; without it, a ``*.csv`` inside the zip/folder, else the ImageFolder layout (one
    sub-folder per class).  ``preprocess``: the spec :func:`parse_preprocess` reads.  Raises
    :class:`UserInputError` naming the file for every unusable input.
    """
    prep = parse_preprocess(preprocess)
    say = progress or (lambda fraction, message: None)
    files, name = collect_files(source, name)
    files = _strip_root(files)
    if labels is None:
        inner = [k for k in files if k.lower().endswith(".csv")]
        labels = files[inner[0]] if len(inner) == 1 else None
    table = read_labels(labels, file_column=file_column, label_column=label_column) if labels is not None \
        else _image_folder(files, name)
    if not any(k.lower().endswith(IMAGE_SUFFIXES) for k in files) and len(table) == 0:
        raise UserInputError(IMAGES_NONE.format(name=name))
    order = _match(files, table, name)
    if not order:
        raise UserInputError(IMAGES_NONE.format(name=name))
    if len(order) > MAX_IMAGES:
        raise UserInputError(IMAGES_TOO_BIG.format(name=name, what=f"{len(order):,} images", limit=MAX_IMAGES))
    pixels, first = [], None
    for i, f in enumerate(order):
        a = _decode(files[f], f, prep, name)
        if first is None:
            first = a.shape[:2]
            if len(order) * a.size * 4 > MAX_TENSOR_BYTES:
                raise UserInputError(IMAGES_TOO_BIG.format(
                    name=name, what=f"{len(order):,} images of {a.shape[0]} × {a.shape[1]} (about "
                                    f"{len(order) * a.size * 4:,} bytes as floats)", limit=MAX_TENSOR_BYTES))
        elif a.shape[:2] != first:
            raise UserInputError(IMAGES_SIZE_DIFFERS.format(file=f, got=f"{a.shape[0]} × {a.shape[1]}",
                                                            first=f"{first[0]} × {first[1]}"))
        pixels.append(a)
        if i % 64 == 0:
            say(i / len(order), f"Decoded {i:,} of {len(order):,} images")
    px = np.stack(pixels)
    groups = as_levels(table.drop(columns=["label"]).reset_index(drop=True)) if table.shape[1] > 1 \
        else pd.DataFrame(index=range(len(order)))
    digest = hashlib.sha256(b"".join(files[f] for f in order)).hexdigest()
    say(1.0, f"Decoded {len(order):,} images")
    return ImageSet(name=name, inputs=to_inputs(px, prep), pixels=px, labels=table["label"].to_numpy(dtype=object)
                    .astype(str), groups=groups, files=tuple(order), preprocess=prep, source=name,
                    provenance={"files_sha256": digest, "labels": "labels CSV" if labels is not None
                                else "ImageFolder layout (class = folder)", "images": len(order)})
