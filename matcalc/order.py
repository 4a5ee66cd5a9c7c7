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
        # (key, label, when placed) in one list, placed by one insert: an exception raised
        # between two statements (a SIGALRM time limit) cannot leave keys and labels out of step
        self.placed: list[tuple[tuple, bytes, int]] = []
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
                placed = self.placed
                i = bisect_left(placed, (key,))
                below = placed[i - 1] if i else None
                above = placed[i] if i < len(placed) else None
                # beside the newer neighbour: a run of keys grows away from the older one
                near_low = above is None or (below is not None and below[2] > above[2])
                found = between(below[1] if below else b"", above[1] if above else None,
                                near_low)
                placed.insert(i, (key, found, len(placed)))
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
    if len(_table.placed) > TABLE_LIMIT:
        _table = _Table()


def between(low: bytes, high: bytes | None, near_low: bool) -> bytes:
    """A label strictly between `low` and `high` (None: above every label), near `low` (or
    `high`): a step of at most 1/16 of the gap, at the coarsest precision that allows it.

    Labels are base-256 fractions 0.d1d2… with no trailing zero byte, so bytes order is numeric
    order; b"" is 0. A run of keys placed one beside the last (x.^2, x.^3, …) steps away from the
    newer neighbour and leaves the gap to the older one for the rest of the run: x.^2 … x.^5000
    take 3 bytes more than the first, where halving the gap each time would add one per eight.

    >>> between(b"", None, True), between(b"\\x01", None, True), between(b"", b"\\x01", False)
    (b'\\x01', b'\\x02', b'\\x00\\xff')
    """
    size = max(len(low), len(high or b"")) + 1     # one byte more than either: b - a ≥ 256
    a = int.from_bytes(low.ljust(size, b"\0"), "big")
    b = int.from_bytes(high.ljust(size, b"\0"), "big") if high is not None else 256 ** size
    unit = 256 ** (((b - a) // 16).bit_length() - 1 >> 3)    # ≤ (b - a)/16, a power of 256
    label = (a // unit + 1) * unit if near_low else -(-b // unit) * unit - unit
    return label.to_bytes(size, "big").rstrip(b"\0")
