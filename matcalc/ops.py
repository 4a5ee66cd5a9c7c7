"""The expression tree: one immutable node type, and the dimensions of its shapes.

Every expression matcalc handles — the user's input, a differential, a gradient, a rule pattern
instance — is a tree of `Node`s. A node is its operator name (`op`), its children (`args`), its shape
(rows, cols) and, for leaves, a `value` (a variable's name, a number, a function's name).

Shapes are always two-dimensional: a column vector is n×1, a scalar is 1×1. A 1×1 factor of a product
scales it, and a 1×1 operand of `+` or `.*` broadcasts — the "a 1×1 result is a scalar wherever it
appears" rule of the language.

What each operator means — its shape rule, its evaluation, its spellings — is its row in the
registry (operators.py). No calculus lives here.
"""
from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

Dim = int | str
Shape = tuple[Dim, Dim]
SCALAR: Shape = (1, 1)

# Operators that take a variable number of arguments and are associative; the commutative ones
# may be matched in any order.
NARY = {"add", "matmul", "hadamard"}
COMMUTATIVE = {"add", "hadamard"}


class Node:
    """An immutable expression node; equal nodes hash equal, so trees can be used as dict keys."""

    __slots__ = ("_hash", "_key", "args", "deps", "has_d", "op", "shape", "size", "value")

    def __init__(self, op: str, args: tuple[Node, ...], shape: Shape, value: object = None,
                 deps: frozenset[str] | None = None):
        self.op = op
        self.args = args
        self.shape = shape
        self.value = value
        if deps is None:
            deps = frozenset().union(*(a.deps for a in args)) if args else frozenset()
        self.deps = deps
        self.has_d = op == "d" or any(a.has_d for a in args)
        self.size = 1 + sum(a.size for a in args)      # as a tree: what printing it costs
        self._key: tuple | None = None                 # algebra.sort_key, computed once
        self._hash = hash((op, value, shape, args))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return (isinstance(other, Node) and self._hash == other._hash and self.op == other.op
                and self.value == other.value and self.shape == other.shape
                and self.args == other.args)

    def __repr__(self) -> str:
        """The tree's structure (the printers in printing/ show it in the input language)."""
        inner = repr(self.value) if not self.args else ", ".join(map(repr, self.args))
        return f"{self.op}({inner}):{self.shape[0]}×{self.shape[1]}"

    # -- shape predicates ------------------------------------------------------------------------
    @property
    def is_scalar(self) -> bool:
        return self.shape == SCALAR

    @property
    def is_column(self) -> bool:
        return self.shape[1] == 1 and self.shape[0] != 1

    @property
    def is_row(self) -> bool:
        return self.shape[0] == 1 and self.shape[1] != 1

    @property
    def is_vector(self) -> bool:
        return self.is_column or self.is_row

    @property
    def is_square(self) -> bool:
        return self.shape[0] == self.shape[1]

    def walk(self) -> Iterator[Node]:
        """Every node of the tree, children before parents."""
        for a in self.args:
            yield from a.walk()
        yield self


def const_value(node: Node) -> Fraction | float | None:
    """The number a `const` node holds, else None."""
    return node.value if node.op == "const" else None


def leaf(op: str, shape: Shape, value: object = None, deps: frozenset[str] | None = None) -> Node:
    return Node(op, (), shape, value, deps if deps is not None else frozenset())


class SymmetricName(str):
    """The name of a variable declared symmetric (S' = S); compares equal to the plain name."""
    symmetric = True


def var(name: str, shape: Shape, symmetric: bool = False) -> Node:
    return leaf("var", shape, SymmetricName(name) if symmetric else name, frozenset({name}))


def number(value: Fraction | float) -> Node:
    if isinstance(value, int):
        value = Fraction(value)
    return leaf("const", SCALAR, value)


def dim_factors(d: Dim) -> list[Dim]:
    """The factors of a dimension: `"m*n"` → ["m", "n"], 6 → [6]."""
    return [d] if isinstance(d, int) else [int(f) if f.isdigit() else f for f in d.split("*")]


def dim_product(a: Dim, b: Dim) -> Dim:
    """a·b as a dimension, in one canonical spelling (numbers multiplied, names sorted). The
    shape checker's unknown dimensions (shapes.DimVar) multiply themselves into a product that
    unification resolves later."""
    if a == 1 or b == 1:
        return b if a == 1 else a
    if not isinstance(a, (int, str)) or not isinstance(b, (int, str)):
        return a * b  # type: ignore[operator]
    number, names = 1, []
    for f in dim_factors(a) + dim_factors(b):
        if isinstance(f, int):
            number *= f
        else:
            names.append(f)
    if not names:
        return number
    return "*".join(([str(number)] if number != 1 else []) + sorted(names))


def dim_quotient(a: Dim, b: Dim) -> Dim:
    """a/b as a dimension, where b divides a: `"m*p"`/`"p"` → "m", 6/2 → 3; else ShapeMismatch.

    >>> dim_quotient("m*p", "p"), dim_quotient(6, 2), dim_quotient("2*m", 2)
    ('m', 3, 'm')
    """
    if b == 1:
        return a
    if not isinstance(a, (int, str)) or not isinstance(b, (int, str)):
        return a / b  # type: ignore[operator]
    left, right = dim_factors(a), dim_factors(b)
    number = 1
    for f in left:
        if isinstance(f, int):
            number *= f
    names = [f for f in left if not isinstance(f, int)]
    for f in right:
        if isinstance(f, int):
            if number % f:
                raise ShapeMismatch(f"{b} does not divide {a}")
            number //= f
        elif f in names:
            names.remove(f)
        else:
            raise ShapeMismatch(f"{b} does not divide {a}")
    out: Dim = number
    for name in names:
        out = dim_product(out, name)
    return out


def fmt_shape(shape: Shape) -> str:
    r, c = shape
    if shape == SCALAR:
        return "scalar"
    return f"{r}×{c}"


class ShapeMismatch(Exception):
    """Raised by the shape rules; the caller turns it into a ShapeError naming the operands."""
