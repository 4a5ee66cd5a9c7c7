"""matcalc/order.py: labels order nodes exactly as their nested keys do (operator, value, operands,
lexicographically; numbers by value), so the canonical order of sums and products is unchanged.
"""
from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import matcalc
from matcalc import algebra, order
from matcalc.ops import Node, number, var


def nested_key(node: Node) -> tuple:
    """The order by its definition: the key a label stands for, written out in full."""
    if node.op == "const":
        return ("const", float(node.value))
    return (node.op, str(node.value) if node.value is not None else "",
            tuple(nested_key(a) for a in node.args))


def _chain(depth: int, inner: Node) -> Node:
    for _ in range(depth):
        inner = algebra.apply("sigmoid", inner)
    return inner


X, Y = var("x", ("n", 1)), var("y", ("n", 1))
NODES = [
    number(-2), number(Fraction(1, 3)), number(0.5), number(3), X, Y,
    *(_chain(d, X) for d in range(6)), *(_chain(d, Y) for d in (1, 4)),
    algebra.add(X, Y), algebra.add(X, algebra.neg(Y)), algebra.hadamard(X, Y),
    algebra.power(X, number(2)), algebra.power(_chain(3, X), number(2)),
    algebra.mul(number(2), X), algebra.transpose(X), algebra.mul(algebra.transpose(X), Y),
    algebra.apply("tanh", algebra.add(X, _chain(2, Y))),
]


@pytest.mark.parametrize("a, b", list(combinations(NODES, 2)))
def test_labels_compare_as_nested_keys(a, b):
    ka, kb = nested_key(a), nested_key(b)
    la, lb = order.sort_key(a), order.sort_key(b)
    assert (la < lb, la == lb, la > lb) == (ka < kb, ka == kb, ka > kb)


@given(st.lists(st.integers(0, 300), min_size=1, max_size=60))
def test_between_orders_inserts_anywhere(positions):
    """Inserting at any place, again and again at one place, leaning either way: labels stay
    strictly ordered and never end in a zero byte (which would make bytes order differ from
    numeric order)."""
    labels: list[bytes] = []
    for p in positions:
        i = p % (len(labels) + 1)
        new = order.between(labels[i - 1] if i else b"", labels[i] if i < len(labels) else None,
                            near_low=p % 2 == 0)
        labels.insert(i, new)
        assert new and new[-1] != 0
    assert labels == sorted(labels) and len(set(labels)) == len(labels)


def test_a_fresh_table_gives_nodes_new_labels(monkeypatch):
    """After `trim` starts a new table, labels kept on nodes from the old one are made again, so
    the order holds across the change."""
    a, b = _chain(3, X), _chain(5, X)
    before = order.sort_key(a) < order.sort_key(b)
    monkeypatch.setattr(order, "TABLE_LIMIT", 0)
    order.trim()
    assert a._key is not None and a._key[0] is not order._table
    assert (order.sort_key(a) < order.sort_key(b)) == before
    assert order.sort_key(a) is order._table.label_of[("sigmoid", "", (order.sort_key(
        a.args[0]),))]


def test_a_deep_chain_derives_in_its_canonical_order():
    d = matcalc.derive("sum(" + "sigmoid(" * 12 + "x" + ")" * 12 + ")", wrt="x")
    factors = d.result.args
    assert d.result.op == "hadamard" and len(factors) == 12
    assert [nested_key(f) for f in factors] == sorted(nested_key(f) for f in factors)


def test_nan_keeps_the_numbers_in_order():
    """A NaN (inf - inf folded) has a place after every number, and numbers met after it are
    still placed by value."""
    nan = algebra.add(number(float("inf")), number(float("-inf")))
    assert order.sort_key(nan) == order.sort_key(algebra.add(number(float("inf")),
                                                             number(float("-inf"))))
    values = [7.25, -3.5, 1e300, 0.125]
    labels = [order.sort_key(number(v)) for v in values]
    assert sorted(labels) == [order.sort_key(number(v)) for v in sorted(values)]
    assert all(label < order.sort_key(nan) for label in labels)


def test_a_run_of_keys_in_increasing_order_keeps_short_labels():
    """x.^2, x.^3, …, x.^5000, each placed just above the one before (a 5000-factor product
    merged one factor at a time): a few bytes longer at the end of the run than at its start,
    not the 625 that halving the gap each time would add."""
    x = var("x", ("n", 1))
    labels = [order.sort_key(algebra.power(x, number(k))) for k in range(2, 5002)]
    assert labels == sorted(labels)
    assert max(map(len, labels)) <= len(labels[0]) + 4


class _Interrupting(dict):
    """A dict whose first new entry raises, as a SIGALRM time limit (test_hostile_input) may
    between placing a key in the table and recording its label."""
    armed = True

    def __setitem__(self, key, value):
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt
        super().__setitem__(key, value)


def test_an_interrupted_placement_keeps_the_table_sorted():
    table = order._table
    table.label_of = _Interrupting(table.label_of)
    try:
        with pytest.raises(KeyboardInterrupt):
            order.sort_key(_chain(3, algebra.add(X, number(7))))
        chains = [_chain(d, algebra.add(X, number(7))) for d in range(6)] + NODES
        for a, b in combinations(chains, 2):
            test_labels_compare_as_nested_keys(a, b)
    finally:
        table.label_of = dict(table.label_of)
