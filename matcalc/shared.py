"""Subexpressions a result repeats, named once: `X'*diag((t1 - t1.^2).*y.^2)*X where t1 = …`.

A subexpression that occurs more than once in a result — or across the results of several
variables — is replaced by a name `t1`, `t2`, … and defined in the where clause, as a person
would write it. The largest repeated subexpression is named first, and a part of it is named only
if it also occurs outside it. Only the printed form changes: `d.result` and `d.expr` keep the whole expression, and
the generated code does its own sharing (printing/module.py). The user's bindings are names
already, and are left as they are.

The parts of a factorization a closed form needs — the eigenvectors U and eigenvalues λ of S, the
singular vectors U, V, the top eigenvector u — are named in the where clause whether or not they
repeat, by the name their registry row gives them (`part`): `U*diag(lambda.^-1)*U' where
U = eigvecs(S), lambda = eigvals(S)`, as a person writes "where U, λ = eigh(S)".
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from . import algebra
from .operators import REGISTRY
from .ops import Node, leaf

MIN_SIZE = 4        # nodes in a subexpression worth a name: an operation on an operation at least


def _worth_naming(node: Node) -> bool:
    if node.size < MIN_SIZE or node.has_d or node.op in ("fill", "const"):
        return False
    if algebra.expanded_vector(node) is not None:
        return False     # a vector beside a matrix: its vector is what is worth a name

    # a number times something is printed as that something, scaled
    coefficient, rest = algebra.split_coefficient(node)
    return coefficient == 1 or rest.size >= MIN_SIZE


def _part(node: Node) -> str:
    """The name of a factorization's part (eigvecs(S): U), or "" for any other node."""
    row = REGISTRY.get(node.op)
    return row.part if row is not None and not node.has_d else ""


def name_shared(results: list[Node], taken: Iterable[str]
                ) -> tuple[list[Node], list[tuple[str, Node]]]:
    """(results with repeated subexpressions replaced by names, [(name, definition)]), the
    definitions each after the ones it uses.

    Occurrences are counted on the distinct nodes, largest first: a node occurs as often as its
    parents do (a named parent counts once, for its definition), so the count is that of the
    tree with every larger repeated subexpression already named — linear in the distinct nodes.
    """
    taken = set(taken)
    order: dict[Node, int] = {}          # distinct nodes, in order of first appearance

    def visit(node: Node) -> None:
        if node not in order:
            order[node] = len(order)
            for a in node.args:
                visit(a)

    for r in results:
        visit(r)
    occurrences: Counter[Node] = Counter(results)
    named: list[Node] = []
    for node in sorted(order, key=lambda n: (-n.size, order[n])):
        count = occurrences[node]
        if (count > 1 and _worth_naming(node)) or _part(node):
            named.append(node)
            count = 1
        for a in node.args:
            occurrences[a] += count
    if not named:
        return results, []
    named.sort(key=lambda n: (n.size, order[n]))     # a definition uses only smaller ones
    names: dict[Node, Node] = {}
    number = 0
    for node in named:
        part = _part(node)
        if part:
            name, k = part, 1
            while name in taken:
                k += 1
                name = f"{part}{k}"
        else:
            number += 1
            while f"t{number}" in taken:
                number += 1
            name = f"t{number}"
        taken.add(name)
        names[node] = leaf("ref", node.shape, name, node.deps)
    rewritten: dict[Node, Node] = {}

    def rewrite(node: Node, top: bool = False) -> Node:
        """`node` with every named subexpression (but itself, at the top) written as its name."""
        if not top and node in names:
            return names[node]
        if node not in rewritten:
            rewritten[node] = node if not node.args else algebra.rebuild(
                node, tuple(rewrite(a) for a in node.args))
        return rewritten[node]

    return ([rewrite(r) for r in results],
            [(str(names[n].value), rewrite(n, top=True)) for n in named])


__all__ = ["name_shared"]
