"""The canonical order of expressions, with each node's place in it as a short byte string.

Sums and the scalar factors of products keep their operands sorted (algebra.py). A node orders by
its operator, then its value, then its operands, lexicographically; numbers by value. Written as
nested tuples, that key costs the depth at which two trees differ to compare, and more: Python
compares the differing operands for equality before ordering them, at every level, so two chains
of depth d cost d² — and a long product of deep factors is sorted again each time it is built.

Here each distinct key gets a label instead: a byte string placed between the labels of its
neighbours in one sorted table of all the keys met (fractional indexing), so labels compare as
keys do. A node's key is then flat — its operator, its value and its operands' labels — and its
label is kept on the node: comparing two nodes is one comparison of bytes, however deep they are.
The order is the same as the nested keys'; only its cost changes.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from threading import Lock

from .ops import Node

# NaN compares with nothing, and one in the sorted table would misplace the numbers inserted after
# it: it gets a fixed place after every number instead.
_NAN_KEY = ("const", math.inf, "nan")

# Past this many keys the table starts afresh at the next derivation (`trim`): it holds every key
# met in the process, and a long-lived process must not grow without bound.
TABLE_LIMIT = 200_000


class _Table:
    """The keys met so far, sorted, each with its label."""

    def __init__(self) -> None:
        self.keys: list[tuple] = []
        self.labels: list[bytes] = []
        self.label_of: dict[tuple, bytes] = {}
        self.lock = Lock()      # two threads placing keys at once would misplace one

    def label(self, key: tuple) -> bytes:
        """The label of `key`, placed between its neighbours' the first time it is met."""
        found = self.label_of.get(key)
        if found is not None:
            return found
        with self.lock:
            found = self.label_of.get(key)
            if found is None:
                i = bisect_left(self.keys, key)
                found = between(self.labels[i - 1] if i else b"",
                                self.labels[i] if i < len(self.labels) else None)
                self.keys.insert(i, key)
                self.labels.insert(i, found)
                self.label_of[key] = found
        return found


_table = _Table()


def sort_key(node: Node) -> bytes:
    """The node's place in the canonical order; kept on the node, with the table it is from.

    >>> from matcalc.ops import var, number
    >>> sort_key(number(2)) < sort_key(number(3)) < sort_key(var("x", (1, 1)))
    True
    """
    kept = node._key
    if kept is not None and kept[0] is _table:
        return kept[1]
    if node.op == "const":
        value = float(node.value)
        key: tuple = ("const", value) if not math.isnan(value) else _NAN_KEY
    else:
        key = (node.op, str(node.value) if node.value is not None else "",
               tuple(sort_key(a) for a in node.args))
    label = _table.label(key)
    node._key = (_table, label)
    return label


def trim() -> None:
    """Start a fresh table if this one has grown past TABLE_LIMIT. Call it only where no sort is
    under way (at the start of a derivation; a derivation in another thread would see two tables
    and could order a sum differently, not wrongly): labels from two tables do not compare. A
    node's label from an earlier table is made again when it is next asked for."""
    global _table
    if len(_table.keys) > TABLE_LIMIT:
        _table = _Table()


def between(low: bytes, high: bytes | None) -> bytes:
    """A label strictly between `low` and `high` (None: above every label), short.

    Labels are base-256 fractions 0.d1d2… with no trailing zero byte, so bytes order is numeric
    order; b"" is 0. Repeated insertion at one place lengthens labels by a byte per eight.

    >>> between(b"", None), between(b"\\x80", None), between(b"\\x01", b"\\x02")
    (b'\\x80', b'\\xc0', b'\\x01\\x80')
    """
    n = 0
    if high is not None:
        while n < len(high) and (low[n] if n < len(low) else 0) == high[n]:
            n += 1
    if n:
        return high[:n] + between(low[n:], high[n:])  # type: ignore[index]
    digit_low = low[0] if low else 0
    digit_high = high[0] if high is not None else 256
    if digit_high - digit_low > 1:
        return bytes([(digit_low + digit_high) // 2])
    if high is not None and len(high) > 1:
        return high[:1]
    return bytes([digit_low]) + between(low[1:], None)
