"""Per-type method dispatch for the tree walks (lowering, position pairing)."""

from __future__ import annotations


class Dispatch:
    """Finds `cls.<prefix><NodeType>` (a plain function, or None) once per class and node
    type: the walks dispatch on every node they visit, so a lookup is two dict gets."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.tables: dict[type, dict[type, object]] = {}

    def __call__(self, cls: type, node_type: type):
        table = self.tables.get(cls)
        if table is None:
            table = self.tables[cls] = {}
        method = table.get(node_type, table)
        if method is table:
            method = table[node_type] = getattr(cls, self.prefix + node_type.__name__, None)
        return method
