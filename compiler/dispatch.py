"""Per-type method dispatch for the tree walks (lowering, position pairing)."""

from __future__ import annotations


class MethodTable(dict):
    """node type -> `cls.<prefix><NodeType>` (a plain function, or None).

    The walks dispatch on every node they visit, so a hit is a plain dict lookup;
    only the first visit of a node type reaches `__missing__`.
    """

    def __init__(self, cls: type, prefix: str):
        super().__init__()
        self.cls, self.prefix = cls, prefix

    def __missing__(self, node_type: type):
        method = self[node_type] = getattr(self.cls, self.prefix + node_type.__name__, None)
        return method
