"""Subexpressions a result repeats, named once: `X'*diag((t1 - t1.^2).*y.^2)*X where t1 = …`.

A subexpression that occurs more than once in a result — or across the results of several
variables — is replaced by a name `t1`, `t2`, … and defined in the where clause, as a person
would write it. The largest repeated subexpression is named first, then the counting starts over,
so that a name is never given to a part of something already named unless that part also occurs
elsewhere. Only the printed form changes: `d.result` and `d.expr` keep the whole expression, and
the generated code does its own sharing (printing/module.py). The user's bindings are names
already, and are left as they are.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from . import algebra
from .ops import Node, leaf

MIN_SIZE = 4        # nodes in a subexpression worth a name: an operation on an operation at least


def _worth_naming(node: Node) -> bool:
    if node.size < MIN_SIZE or node.has_d or node.op in ("fill", "const"):
        return False
    # a number times something is printed as that something, scaled
    coefficient, rest = algebra.split_coefficient(node)
    return coefficient == 1 or rest.size >= MIN_SIZE


def _replace(node: Node, old: Node, new: Node) -> Node:
    if node == old:
        return new
    if not node.args:
        return node
    return algebra.rebuild(node, tuple(_replace(a, old, new) for a in node.args))


def name_shared(results: list[Node], taken: Iterable[str]
                ) -> tuple[list[Node], list[tuple[str, Node]]]:
    """(results with repeated subexpressions replaced by names, [(name, definition)]), the
    definitions each after the ones it uses."""
    taken = set(taken)
    definitions: list[tuple[Node, Node]] = []     # (placeholder ref, body)
    while True:
        counts: Counter[Node] = Counter()
        for tree in results + [body for _, body in definitions]:
            counts.update(tree.walk())
        repeated = [n for n, c in counts.items() if c > 1 and _worth_naming(n)]
        if not repeated:
            break
        target = max(repeated, key=lambda n: (n.size, -len(definitions)))
        placeholder = leaf("ref", target.shape, f"\0{len(definitions)}", target.deps)
        results = [_replace(r, target, placeholder) for r in results]
        definitions = [(p, _replace(b, target, placeholder)) for p, b in definitions]
        definitions.append((placeholder, target))
    if not definitions:
        return results, []
    ordered = _dependency_order(definitions)
    final: dict[Node, Node] = {}
    number = 0
    for placeholder, _ in ordered:
        number += 1
        while f"t{number}" in taken:
            number += 1
        final[placeholder] = leaf("ref", placeholder.shape, f"t{number}", placeholder.deps)

    def rename(node: Node) -> Node:
        for old, new in final.items():
            node = _replace(node, old, new)
        return node

    return ([rename(r) for r in results],
            [(str(final[p].value), rename(body)) for p, body in ordered])


def _dependency_order(definitions: list[tuple[Node, Node]]) -> list[tuple[Node, Node]]:
    """Definitions sorted so that each comes after the ones its body uses."""
    remaining = list(definitions)
    ordered: list[tuple[Node, Node]] = []
    placeholders = {p for p, _ in definitions}
    while remaining:
        done = {p for p, _ in ordered}
        for i, (p, body) in enumerate(remaining):
            uses = {n for n in body.walk() if n in placeholders}
            if uses <= done:
                ordered.append(remaining.pop(i))
                break
    return ordered


__all__ = ["name_shared"]
