"""The product rule on a long matrix product, its partial products named as reverse mode keeps them.

Written out, d(F1*F2*…*Fn) = Σ_k F1*…*F(k-1)*d(Fk)*F(k+1)*…*Fn has a term for each of the m
factors that depend on the variable, each of n factors: m·n in all. For tr(A0*X*A1*X*…*A(d-1)*X)
that is Θ(d²) factors, and every later pass pays for each of them — the Frobenius identities, the
simplifier, the numeric check, the generated code (d products of 2d − 1 matrices where reverse-mode
automatic differentiation multiplies Θ(d)).

Here the product left of the i-th such factor and the product right of it are names:

    L1 = F1*…*F(k1-1),   Li = L(i-1)*F(k(i-1))*…*F(ki - 1)      (each the one before, extended)
    Rm = F(km+1)*…*Fn,   Ri = F(ki+1)*…*F(k(i+1))*R(i+1)
    d(F1*…*Fn) = Σ_i Li*d(Fki)*Ri

so that each term has three factors and each definition a few: Θ(n) in all, the prefix and suffix
products a person computes once when writing the gradient by hand (the gradient of
tr(A0*X*…*X) reads Σ_i Li'*Ri'). A partial product of one factor is that factor, not a name;
and nothing is named where the written-out terms would hold no more than LONG factors in all
(tr(A*X*B*X) keeps its A'*(B*X)' + B'*X'*A'), or where the variable is a vector (see
`partial_products`). The names are bindings of the derivation (Problem.partials), defined in the
result's where clause and in the product step's note; the user's own names are never reused.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from . import algebra
from .ops import Node, leaf
from .shapes import Problem

LONG = 64       # factors in the written-out terms above which the partial products are named


class PartialNames:
    """Where one derivation defines the partial products it names: its copy of the problem, whose
    bindings every later pass reads (the simplifier, the check, the generated code), in
    `partials` rather than `binding_order` (they are not the user's)."""

    def __init__(self, problem: Problem, wrt: str, reserved: Iterable[str] = ()):
        self.problem = problem
        variable = problem.variable(wrt)
        self.is_matrix = not (variable.is_vector or variable.is_scalar)
        self.reserved = set(reserved)      # other names the derivation uses (hvp's direction)

    def taken(self) -> set[str]:
        return set(self.problem.variables) | set(self.problem.bindings) | self.reserved

    def define(self, definitions: list[tuple[str, Node]]) -> None:
        for name, body in definitions:
            self.problem.bindings[name] = body
            self.problem.written[name] = body
            self.problem.partials.append(name)


def partial_products(product: Node, wrt: str, is_matrix: bool, taken: Iterable[str],
                     differential: Callable[[Node], Node]
                     ) -> tuple[Node, list[tuple[str, Node]]] | None:
    """(Σ_i Li*d(Fki)*Ri, [(name, definition)] in dependency order) for a matrix product whose
    written-out product rule would be long, else None. `differential(F)` is d(F) as the caller
    writes it (a marker it expands later).

    Only for a matrix variable (`is_matrix`): a vector's Jacobian and Hessian are read off by
    jacobian.rules, which cannot read the differential of a named row product's transpose
    (L2' in a gradient); its products stay written out."""
    if product.op != "matmul" or not is_matrix:
        return None
    factors = product.args
    positions = [k for k, f in enumerate(factors) if wrt in f.deps]
    if len(positions) < 3 or len(positions) * len(factors) <= LONG:
        return None
    left_name, right_name = _names(len(positions), set(taken))
    definitions: list[tuple[str, Node]] = []

    def named(name: str, parts: list[Node]) -> Node | None:
        """The product of `parts` (None if there are none), under `name` if it has two or more."""
        if len(parts) < 2:
            return parts[0] if parts else None
        body = algebra.mul(*parts)
        definitions.append((name, body))
        return leaf("ref", body.shape, name, body.deps)

    lefts: list[Node | None] = []
    left, start = None, 0
    for i, k in enumerate(positions, start=1):     # Li: L(i-1) and the factors up to F(ki)
        left = named(f"{left_name}{i}", ([left] if left is not None else []) +
                     list(factors[start:k]))
        lefts.append(left)
        start = k
    rights: list[Node | None] = []
    right, end = None, len(factors)
    for i in range(len(positions), 0, -1):          # Ri: the factors after F(ki), then R(i+1)
        k = positions[i - 1]
        right = named(f"{right_name}{i}", list(factors[k + 1:end]) +
                      ([right] if right is not None else []))
        rights.append(right)
        end = k + 1
    rights.reverse()

    terms = [algebra.mul(*(p for p in (lefts[i], differential(factors[k]), rights[i])
                           if p is not None))
             for i, k in enumerate(positions)]
    return algebra.add(*terms), definitions


def _names(count: int, taken: set[str]) -> tuple[str, str]:
    """The letters of the left and right partial products: L and R, unless the input has a name
    L1…, R1… would take (then L_, R_, and so on)."""
    left, right = "L", "R"
    while any(f"{left}{i}" in taken or f"{right}{i}" in taken for i in range(1, count + 1)):
        left, right = left + "_", right + "_"
    return left, right
