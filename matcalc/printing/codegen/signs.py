"""Bounds on the entries of an expression, for the code printer: is a weight provably non-negative?

`bounds(node, bindings)` is an interval [lo, hi] that holds every entry of `node` for every input
(entries of the inputs unbounded). Leaves are unbounded; an operator's row may give the image of
its values (`Operator.image`: exp ≥ 0, 0 ≤ σ ≤ 1, |x| ≥ 0); sums and products combine intervals,
and an even power is non-negative. A sum or product that is a polynomial in one subexpression u
(σ − σ², tanh − tanh³) is bounded as that polynomial over u's interval, not term by term: interval
arithmetic alone gives σ − σ² ∈ [−1, 1], the polynomial over [0, 1] gives [0, 1/4].

The bounds are of the mathematical values; computed values may differ by rounding (σ − σ² can
round below zero where it is 0), which a user of the bounds allows for.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ...operators import REGISTRY
from ...ops import Node, const_value

INF = math.inf
Interval = tuple[float, float]
# a polynomial in one subexpression: (u or None for a constant, {power: coefficient})
Poly = tuple[Node | None, dict[int, Fraction]]
_MAX_DEGREE = 8


def nonnegative(node: Node, bindings: dict[str, Node]) -> bool:
    """Whether every entry of `node` is ≥ 0 for every input (proven by `bounds`)."""
    return bounds(node, bindings)[0] >= 0


def bounds(node: Node, bindings: dict[str, Node]) -> Interval:
    """An interval holding every entry of `node` (see the module docstring)."""
    value = const_value(node)
    if value is not None:
        return float(value), float(value)
    if node.op == "ref":
        return bounds(bindings[str(node.value)], bindings) if str(node.value) in bindings \
            else (-INF, INF)
    if node.op in ("add", "hadamard", "power", "matmul"):
        poly = _polynomial(node)
        if poly is not None and poly[0] is not None and max(poly[1]) > 1:
            return _polynomial_bounds(poly[1], bounds(poly[0], bindings))
    if node.op == "add":
        lo, hi = 0.0, 0.0
        for term in node.args:
            tlo, thi = bounds(term, bindings)
            lo, hi = _add(lo, tlo), _add(hi, thi)
        return lo, hi
    if node.op == "hadamard" or (node.op == "matmul" and
                                 sum(not a.is_scalar for a in node.args) <= 1):
        # entry by entry (a product with one non-scalar factor scales it)
        out: Interval = (1.0, 1.0)
        for factor in node.args:
            out = _times(out, bounds(factor, bindings))
        return out
    if node.op == "power":
        return _power(bounds(node.args[0], bindings), const_value(node.args[1]))
    if node.op in ("transpose", "fill"):         # the same entries, moved or repeated
        return bounds(node.args[0], bindings)
    row = REGISTRY.get(node.op)
    return row.image if row is not None and row.image is not None else (-INF, INF)


def _add(a: float, b: float) -> float:
    if {a, b} == {INF, -INF}:
        return math.nan
    return a + b


def _mul(a: float, b: float) -> float:
    if a == 0 or b == 0:        # 0 × ∞: a bound of 0 times an unbounded factor stays 0
        return 0.0
    return a * b


def _times(a: Interval, b: Interval) -> Interval:
    products = [_mul(x, y) for x in a for y in b]
    if any(math.isnan(p) for p in products) or any(math.isnan(x) for x in a + b):
        return -INF, INF
    return min(products), max(products)


def _power(base: Interval, p: Fraction | None) -> Interval:
    lo, hi = base
    if p is None or math.isnan(lo) or math.isnan(hi):
        return -INF, INF
    if p.denominator == 1 and p >= 0:
        k = int(p)
        if k % 2 == 0:                      # an even power: ≥ 0, largest at an end
            top = max(abs(lo), abs(hi)) ** k
            return (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)) ** k), top
        return lo ** k, hi ** k             # an odd power is increasing
    if lo >= 0 and p > 0:                   # x^(1/2), x^(3/2): increasing on x ≥ 0
        return lo ** float(p), hi ** float(p)
    if lo > 0:                              # a negative power of a positive base: decreasing
        return hi ** float(p), lo ** float(p)
    return -INF, INF


def _polynomial(node: Node) -> Poly | None:
    """`node` as a polynomial in one subexpression, if it is one (degree ≤ 8)."""
    value = const_value(node)
    if value is not None:
        return None, {0: Fraction(value)}
    if node.op == "fill":
        return _polynomial(node.args[0])
    if node.op == "add":
        return _combine([_polynomial(t) for t in node.args], _sum)
    if node.op == "hadamard" or (node.op == "matmul" and
                                 sum(not a.is_scalar for a in node.args) <= 1):
        return _combine([_polynomial(f) for f in node.args], _product)
    if node.op == "power":
        p = const_value(node.args[1])
        base = _polynomial(node.args[0])
        if p is None or p.denominator != 1 or p < 0 or base is None:
            return None
        out: Poly | None = (base[0], {0: Fraction(1)})
        for _ in range(int(p)):
            out = _combine([out, base], _product)
        return out
    return node, {1: Fraction(1)}


def _combine(polys: list[Poly | None], op) -> Poly | None:
    if any(p is None for p in polys):
        return None
    atoms = {p[0] for p in polys if p[0] is not None}     # type: ignore[index]
    if len(atoms) > 1:
        return None
    coefficients = polys[0][1]                               # type: ignore[index]
    for p in polys[1:]:
        coefficients = op(coefficients, p[1])               # type: ignore[index]
    if max(coefficients, default=0) > _MAX_DEGREE:
        return None
    return (atoms.pop() if atoms else None), coefficients


def _sum(a: dict[int, Fraction], b: dict[int, Fraction]) -> dict[int, Fraction]:
    out = dict(a)
    for k, c in b.items():
        out[k] = out.get(k, Fraction(0)) + c
    return {k: c for k, c in out.items() if c != 0} or {0: Fraction(0)}


def _product(a: dict[int, Fraction], b: dict[int, Fraction]) -> dict[int, Fraction]:
    out: dict[int, Fraction] = {}
    for i, c in a.items():
        for j, d in b.items():
            out[i + j] = out.get(i + j, Fraction(0)) + c * d
    return {k: c for k, c in out.items() if c != 0} or {0: Fraction(0)}


def _polynomial_bounds(coefficients: dict[int, Fraction], over: Interval) -> Interval:
    """The range of the polynomial over the interval `over`: its values at the ends (exact, in
    fractions) and at the critical points inside. A critical point is a root of the derivative
    found in floating point, so its value counts as a lower bound only less a margin; a minimum
    at a double root (exactly 0) is therefore not proven ≥ 0, a safe answer."""
    lo, hi = over
    if math.isnan(lo) or math.isnan(hi):
        return -INF, INF
    degree = max(coefficients)
    ascending = [float(coefficients.get(k, 0)) for k in range(degree + 1)]

    def at(x: float) -> float:
        if math.isinf(x):       # the sign of the leading term
            lead = coefficients[degree] * (1 if x > 0 or degree % 2 == 0 else -1)
            return INF if lead > 0 else -INF
        return float(_value(coefficients, Fraction(x)))

    values = [at(lo), at(hi)]
    derivative_coefficients = {k - 1: k * c for k, c in coefficients.items() if k > 0}
    margin = 1e-9 * sum(abs(c) for c in ascending)
    derivative = np.polynomial.polynomial.Polynomial(ascending).deriv()
    for root in derivative.roots() if degree > 1 else ():
        if abs(root.imag) < 1e-12 and lo < root.real < hi:
            exact = Fraction(float(root.real)).limit_denominator(1000)
            if _value(derivative_coefficients, exact) == 0:    # an exact critical point
                values.append(float(_value(coefficients, exact)))
                continue
            v = at(float(root.real))
            values += [v - margin, v + margin]
    return min(values), max(values)


def _value(coefficients: dict[int, Fraction], x: Fraction) -> Fraction:
    return sum((c * x ** k for k, c in coefficients.items()), Fraction(0))


__all__ = ["bounds", "nonnegative"]
