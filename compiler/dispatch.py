"""Per-type method dispatch for the tree walks (lowering, position pairing)."""

from __future__ import annotations

_METHODS: dict[tuple[type, str, type], object] = {}


def method_for(cls: type, prefix: str, node_type: type):
    """`cls.<prefix><NodeType>` (a plain function, or None), looked up once per
    (class, prefix, node type): the walks dispatch on every node they visit."""
    key = (cls, prefix, node_type)
    method = _METHODS.get(key, _METHODS)
    if method is _METHODS:
        method = _METHODS[key] = getattr(cls, prefix + node_type.__name__, None)
    return method
