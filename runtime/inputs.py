"""A stream's inputs: a directory of images or a JSONL file of rows, and their labels.

A bad row never refuses the stream: it becomes an `Item` with a `problem` (file and line
named), recorded as a bad input when its turn comes, and the stream goes on. Keys are
paths relative to the image folder (or a row's `id`), never bare file names, so
`dup1/x.png` and `dup2/x.png` are two inputs with two labels. Labels come from JSONL rows
or CSV (through the csv module: quoted names with commas work); duplicate and garbage
label lines are reported with their line numbers. `read_image` refuses images whose
header announces more than `max_pixels` pixels before decoding them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"}
MAX_PIXELS = 25_000_000  # 5000 x 5000: 75 MB as RGB


@dataclass
class Item:
    """One input: its stable key, image path, label, query and answer options, or the
    problem that keeps it from being served."""

    key: str
    path: Path | None
    label: str | None = None
    query: str = ""
    possible_answers: list | None = None
    problem: str | None = None


@dataclass
class Inputs:
    items: list[Item]
    warnings: list[str] = field(default_factory=list)  # label-file problems, with lines


def display(name: str) -> str:
    """A file name as printable, storable text (undecodable bytes as \\xNN escapes)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def load_inputs(images: str | Path, labels: str | Path | None = None) -> Inputs:
    """Inputs from a directory of images (searched recursively) or a JSONL file of
    {"image", "label"?, "query"?, "possible_answers"?, "id"?} rows; then labels from
    `labels`. Raises FileNotFoundError only when `images` does not exist."""
    src = Path(images)
    if src.is_dir():
        items = [Item(display(p.relative_to(src).as_posix()), p)
                 for p in sorted(src.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    elif src.is_file():
        items = list(_jsonl_items(src))
    else:
        raise FileNotFoundError(f"no such directory or file: {images}")
    out = Inputs(items)
    if labels:
        table, out.warnings = read_labels(labels)
        _attach(items, table, Path(labels), out.warnings)
    return out


def _lines(path: Path):
    """(line number, text or None, why not) for each line, decoding each on its own."""
    for i, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            yield i, raw.decode("utf-8"), None
        except UnicodeDecodeError as e:
            yield i, None, f"not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})"


def _jsonl_items(path: Path):
    for i, line, bad in _lines(path):
        where = f"{display(str(path))}:{i}"
        if bad is None and not line.strip():
            continue
        row, bad = _row(line) if bad is None else (None, bad)
        if bad is None and not isinstance(row.get("image"), str):
            bad = f'"image" must be a path string, got {row.get("image")!r}'
        if bad is not None:
            yield Item(f"{where}", None, problem=f"{where}: bad input row: {bad}")
            continue
        yield Item(str(row.get("id", row["image"])), (path.parent / row["image"]).resolve(),
                   _label(row.get("label")), str(row.get("query", "") or ""),
                   row.get("possible_answers") if isinstance(row.get("possible_answers"), list) else None)


def _row(line: str) -> tuple[dict | None, str | None]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        return None, f"not JSON: {e.msg} at column {e.colno}"
    if not isinstance(row, dict):
        return None, f"a row must be a JSON object, got {type(row).__name__}"
    return row, None


def _label(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def read_labels(path: str | Path) -> tuple[dict[str, tuple[str, int]], list[str]]:
    """{key: (label, line)} from JSONL rows {"image" or "id", "label"} or CSV rows
    `name,label` (an optional header `image,label`), and the problems found, each with
    its line. The first of duplicate lines wins."""
    path = Path(path)
    table: dict[str, tuple[str, int]] = {}
    warnings: list[str] = []
    lines = list(_lines(path))
    first = next((t for _, t, _ in lines if t and t.strip()), "")
    parse = _jsonl_label if first.lstrip().startswith("{") else _csv_label
    for i, text, bad in lines:
        where = f"{display(str(path))}:{i}"
        if bad is None and not text.strip():
            continue
        key, label, bad = (None, None, bad) if bad else parse(text, i == 1)
        if bad == "header":
            continue
        if bad is not None:
            warnings.append(f"{where}: bad label line: {bad}")
        elif key in table:
            warnings.append(f"{where}: duplicate label for {key!r} (kept line {table[key][1]})")
        else:
            table[key] = (label, i)
    return table, warnings


def _jsonl_label(text: str, first: bool):
    row, bad = _row(text)
    if bad:
        return None, None, bad
    key = row.get("id", row.get("image"))
    if not isinstance(key, (str, int)) or key == "":
        return None, None, 'needs an "image" path or an "id"'
    if "label" not in row:
        return None, None, 'no "label"'
    return str(key), _label(row["label"]), None


HEADER_NAMES = {"image", "name", "file", "path", "id"}


def _csv_label(text: str, first: bool):
    try:
        (fields,) = list(csv.reader(io.StringIO(text)))
    except (csv.Error, ValueError) as e:
        return None, None, f"not CSV: {e}"
    fields = [f.strip() for f in fields]
    if len(fields) != 2 or not fields[0]:
        return None, None, f"expected 2 fields name,label, got {len(fields)}"
    if first and fields[0].lower() in HEADER_NAMES and fields[1].lower() in ("label", "answer"):
        return None, None, "header"
    return fields[0], fields[1], None


def _attach(items: list[Item], table: dict, labels: Path, warnings: list[str]) -> None:
    """Give each item its label: by key (relative path or id), by the path relative to
    the labels file, or by bare file name when that name is unique among the inputs."""
    by_name: dict[str, int] = {}
    for it in items:
        if it.path is not None:
            by_name[it.path.name] = by_name.get(it.path.name, 0) + 1
    resolved = {str((labels.parent / k).resolve()): k for k in table if "/" in k}
    used: set[str] = set()
    for it in items:
        key = it.key if it.key in table else None
        if key is None and it.path is not None:
            key = resolved.get(str(it.path.resolve()))
            if key is None and by_name.get(it.path.name) == 1 and it.path.name in table:
                key = it.path.name
        if key is not None:
            it.label = table[key][0]
            used.add(key)
    unused = [k for k in table if k not in used]
    if unused:
        warnings.append(f"{display(str(labels))}: {len(unused)} label(s) match no input, "
                        f"e.g. {unused[0]!r}")


def read_image(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The image as (H, W, 3) uint8 RGB; ValueError for one over `max_pixels` (checked on
    the header, before any pixel is decoded), OSError for unreadable files."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our own bound below replaces PIL's warning
    with Image.open(path) as im:
        w, h = im.size
        if w * h > max_pixels:
            raise ValueError(f"{w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,} "
                             f"(--max-pixels)")
        im.load()
        return np.asarray(im.convert("RGB"))
