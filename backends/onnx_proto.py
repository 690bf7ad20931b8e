"""The parameter count of an ONNX file, read from its protobuf without loading weights.

`parameter_count(path)` adds up the element counts of every initializer (dense and sparse)
of the model's graph and of its subgraphs (If / Loop / Scan bodies). The counts come from
each tensor's `dims`, which the .onnx file holds even when the data lives in external
files, so a model saved with external data is counted right (its .onnx file's size says
nothing about its weights). The file is memory-mapped and tensor data is skipped, not read.

Only the few fields needed are decoded (field numbers of onnx.proto3):
ModelProto.graph = 7; GraphProto.node = 1, .initializer = 5, .sparse_initializer = 15;
NodeProto.attribute = 5; AttributeProto.g = 6, .graphs = 11; TensorProto.dims = 1;
SparseTensorProto.values = 1 (its non-zero values).
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Iterator

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def parameter_count(path: str | Path) -> int:
    """Elements in all initializers of the model at `path`; ValueError if not ONNX."""
    with open(path, "rb") as f:
        if f.seek(0, 2) == 0:
            raise ValueError(f"{path}: empty file, not an ONNX model")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            try:
                return sum(_graph(buf, a, b) for field, wire, a, b in _fields(buf, 0, len(buf))
                           if field == 7 and wire == LEN)
            except IndexError:
                raise ValueError(f"{path}: truncated or not an ONNX model") from None


def _graph(buf, start: int, end: int) -> int:
    total = 0
    for field, wire, a, b in _fields(buf, start, end):
        if wire != LEN:
            continue
        if field == 5:
            total += _elements(buf, a, b)
        elif field == 15:
            total += sum(_elements(buf, x, y) for f, w, x, y in _fields(buf, a, b)
                         if f == 1 and w == LEN)
        elif field == 1:
            total += _node_subgraphs(buf, a, b)
    return total


def _node_subgraphs(buf, start: int, end: int) -> int:
    total = 0
    for field, wire, a, b in _fields(buf, start, end):
        if field == 5 and wire == LEN:
            total += sum(_graph(buf, x, y) for f, w, x, y in _fields(buf, a, b)
                         if f in (6, 11) and w == LEN)
    return total


def _elements(buf, start: int, end: int) -> int:
    """The element count of a TensorProto: the product of its dims (1 for a scalar)."""
    n = 1
    for field, wire, a, b in _fields(buf, start, end):
        if field != 1:
            continue
        if wire == VARINT:
            n *= a
        elif wire == LEN:  # packed dims
            pos = a
            while pos < b:
                d, pos = _varint(buf, pos)
                n *= d
    return n


def _fields(buf, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field, wire type, a, b) per field in buf[start:end]: a varint's value in `a`, a
    length-delimited field's span as [a, b); fixed-width values are skipped."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _varint(buf, pos)
            yield field, wire, value, pos
        elif wire == LEN:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise IndexError("field runs past its message")
            yield field, wire, pos, pos + size
            pos += size
        elif wire == I64:
            pos += 8
        elif wire == I32:
            pos += 4
        else:
            raise IndexError(f"wire type {wire}")


def _varint(buf, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
