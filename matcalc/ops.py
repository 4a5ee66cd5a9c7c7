"""The expression tree: one immutable node type, the table of operators, and their shape rules.

Every expression matcalc handles — the user's input, a differential, a gradient, a rule pattern
instance — is a tree of `Node`s. A node is its operator name (`op`), its children (`args`), its shape
(rows, cols) and, for leaves, a `value` (a variable's name, a number, a function's name).

Shapes are always two-dimensional: a column vector is n×1, a scalar is 1×1. A 1×1 factor of a product
scales it, and a 1×1 operand of `+` or `.*` broadcasts — the "a 1×1 result is a scalar wherever it
appears" rule of the language.

The shape rules are written once, against an abstract `unify(d1, d2)`: shapes.py runs them with
unification over dimension variables while it reads user text, and algebra.py runs them with a strict
equality check while it builds derived expressions. No calculus lives here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

Dim = int | str
Shape = tuple[Dim, Dim]
SCALAR: Shape = (1, 1)

# Operators that take a variable number of arguments and are associative; the commutative ones
# may be matched in any order.
NARY = {"add", "matmul", "hadamard"}
COMMUTATIVE = {"add", "hadamard"}
# Leaves: no arguments, identity carried by `value` (and shape).
LEAVES = {"var", "ref", "const", "eye", "zero"}
# Operators that map a square matrix to something (checked by `infer_shape`).
SQUARE_ONLY = {"inv", "det", "logdet", "tr", "matpow"}
SCALAR_VALUED = {"det", "logdet", "tr", "sum", "norm2", "norm1", "logsumexp", "frob"}
# Built-in functions of the input language with a fixed number of arguments; elementwise functions
# come from rules/elementwise.rules and are not listed here.
BUILTIN_FUNCTIONS = {
    "tr": 1, "det": 1, "logdet": 1, "inv": 1, "sum": 1, "diag": 1, "norm2": 1, "norm1": 1,
    "logsumexp": 1, "softmax": 1, "vector": 1, "matrix": 1, "eye": 0,
}
# Elementwise functions registered by the rules loader (name -> derivative template), filled in by
# rules.py; listed here so that every module asks one place whether a name is elementwise.
ELEMENTWISE: dict[str, object] = {}


def is_elementwise(op: str) -> bool:
    return op in ELEMENTWISE


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
        from .printing.text import to_text
        return f"<{to_text(self)} {self.shape[0]}×{self.shape[1]}>"

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


def is_symmetric(node: Node) -> bool:
    """Known to equal its transpose (a symmetric variable, eye, a diagonal, their inverses)."""
    if node.op == "var":
        return getattr(node.value, "symmetric", False)
    if node.op in ("eye", "diagm"):
        return True
    if node.op in ("inv", "matpow", "power", "transpose") or is_elementwise(node.op):
        return is_symmetric(node.args[0])
    if node.op in ("add", "hadamard"):
        return all(is_symmetric(a) for a in node.args if not a.is_scalar)
    if node.op == "matmul":     # a palindrome: A*x*x'*A' with the middle symmetric
        chain = [a for a in node.args if not a.is_scalar]
        return node.is_square and all(_transposes(chain[i], chain[-1 - i])
                                      for i in range((len(chain) + 1) // 2))
    return False


def _transposes(a: Node, b: Node) -> bool:
    """Is b the transpose of a (structurally)?"""
    if a == b:
        return is_symmetric(a)
    return (b.op == "transpose" and b.args[0] == a) or (a.op == "transpose" and a.args[0] == b)


def number(value: Fraction | float) -> Node:
    if isinstance(value, int):
        value = Fraction(value)
    return leaf("const", SCALAR, value)


def dim_factors(d: Dim) -> list[Dim]:
    """The factors of a dimension: `"m*n"` → ["m", "n"], 6 → [6]."""
    return [d] if isinstance(d, int) else [int(f) if f.isdigit() else f for f in d.split("*")]


def dim_product(a: Dim, b: Dim) -> Dim:
    """a·b as a dimension, in one canonical spelling (numbers multiplied, names sorted)."""
    number, names = 1, []
    for f in dim_factors(a) + dim_factors(b):
        if isinstance(f, int):
            number *= f
        else:
            names.append(f)
    if not names:
        return number
    return "*".join(([str(number)] if number != 1 else []) + sorted(names))


def fmt_shape(shape: Shape) -> str:
    r, c = shape
    if shape == SCALAR:
        return "scalar"
    return f"{r}×{c}"


# -- shape rules --------------------------------------------------------------------------------

class ShapeMismatch(Exception):
    """Raised by the shape rules; the caller turns it into a ShapeError naming the operands."""


Unify = Callable[[Dim, Dim], None]


def _same(a: Shape, b: Shape, unify: Unify) -> None:
    unify(a[0], b[0])
    unify(a[1], b[1])


def _broadcast(shapes: list[Shape], unify: Unify) -> Shape:
    """Shape of `+`/`.*`: equal shapes, where a scalar operand broadcasts."""
    full = [s for s in shapes if s != SCALAR]
    if not full:
        return SCALAR
    for s in full[1:]:
        _same(full[0], s, unify)
    return full[0]


def infer_shape(op: str, shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """The shape of `op` applied to operands of `shapes`; raises ShapeMismatch.

    `value` carries what some operators need besides their operands (the fresh shape of a
    `vector(c)`/`matrix(c)` fill, the function name of an elementwise application).
    """
    if op in ("add", "hadamard", "frob"):
        shape = _broadcast(shapes, unify)
        return SCALAR if op == "frob" else shape
    if op == "matmul":
        result: Shape | None = None
        for s in shapes:
            if s == SCALAR:
                continue
            if result is None:
                result = s
            else:
                unify(result[1], s[0])
                result = (result[0], s[1])
        return result or SCALAR
    if op == "power":
        base, exponent = shapes
        if exponent != SCALAR:
            raise ShapeMismatch("the exponent must be a scalar")
        return base
    if op == "transpose":
        return (shapes[0][1], shapes[0][0])
    if op in SQUARE_ONLY:
        unify(shapes[0][0], shapes[0][1])
        return SCALAR if op in SCALAR_VALUED else shapes[0]
    if op in SCALAR_VALUED:
        return SCALAR
    if op == "diagm":    # vector -> diagonal matrix
        n = shapes[0][0] if shapes[0][1] == 1 else shapes[0][1]
        return (n, n)
    if op == "diagv":    # square matrix -> vector of its diagonal
        unify(shapes[0][0], shapes[0][1])
        return (shapes[0][0], 1)
    if op == "softmax":
        if shapes[0][1] != 1:
            raise ShapeMismatch("softmax takes a column vector")
        return shapes[0]
    if op == "fill":
        if shapes[0] != SCALAR:
            raise ShapeMismatch("the fill value must be a scalar")
        return value  # type: ignore[return-value]
    if op == "kron":
        (r1, c1), (r2, c2) = shapes
        return (dim_product(r1, r2), dim_product(c1, c2))
    if op == "vec":
        return (dim_product(*shapes[0]), 1)
    if op in ("d", "fprime") or is_elementwise(op):
        return shapes[0]
    raise KeyError(f"no shape rule for operator {op!r}")
