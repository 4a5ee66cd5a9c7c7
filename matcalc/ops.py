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

import math
from collections.abc import Callable, Iterator
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

    __slots__ = ("_hash", "_key", "args", "deps", "has_d", "memo", "op", "shape", "size",
                 "value")

    def __init__(self, op: str, args: tuple[Node, ...], shape: Shape, value: object = None,
                 deps: frozenset[str] | None = None):
        self.op = op
        self.args = args
        self.shape = shape
        self.value = value
        # (lists, not generators, and the children's own hashes: a long sum is rebuilt often)
        if deps is None:
            deps = args[0].deps.union(*[a.deps for a in args[1:]]) if args else frozenset()
        self.deps = deps
        self.has_d = op == "d" or any(a.has_d for a in args)
        self.size = 1 + sum([a.size for a in args])    # as a tree: what printing it costs
        self._key: tuple | None = None                 # (table, label) of order.sort_key
        # what the matcher and the constructors derive from this node once and reuse (its size as
        # a reader sees it, the ways to split a long sum or product, its coefficient; see
        # `remember`): a node never changes, so neither do they
        self.memo: dict[object, object] | None = None
        self._hash = hash((op, value, shape, tuple([a._hash for a in args])))

    def __hash__(self) -> int:
        return self._hash

    def remember(self, key: object, make: Callable[[], object]) -> object:
        """A value derived from this node, made by `make()` once and kept in `memo`."""
        if self.memo is None:
            self.memo = {}
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

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

    def distinct(self) -> Iterator[Node]:
        """Every node of the tree once, children before parents: a subtree met again (the same
        object, as a derivation shares them) is not walked again, so this costs the size of the
        expression as a DAG, not as a tree — a Hessian's tree can be 25 times larger."""
        seen: set[int] = set()
        stack: list[tuple[Node, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                yield node
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args))


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
    """The factors of a dimension: `"m*n"` → ["m", "n"], 6 → [6]; a smaller-of dimension
    `"min(m,n)"` is one factor (its `*`s, if any, are inside its parentheses)."""
    if isinstance(d, int):
        return [d]
    factors, depth, start = [], 0, 0
    for i, ch in enumerate(d + "*"):
        depth += (ch == "(") - (ch == ")")
        if ch == "*" and depth == 0:
            factors.append(d[start:i])
            start = i + 1
    return [int(f) if f.isdigit() else f for f in factors]


def smaller_parts(factor: Dim) -> tuple[str, str] | None:
    """The two dimensions of a smaller-of dimension `"min(a,b)"`, else None.

    >>> smaller_parts("min(rows(A),cols(A))")
    ('rows(A)', 'cols(A)')
    """
    if not (isinstance(factor, str) and factor.startswith("min(") and factor.endswith(")")):
        return None
    inner, depth = factor[4:-1], 0
    for i, ch in enumerate(inner):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            return inner[:i], inner[i + 1:]
    return None


def dim_value(d: Dim, sizes: dict) -> int:
    """The size of a dimension, given the sizes of the named ones (`sizes`): products multiply,
    a smaller-of dimension is the smaller of its two parts."""
    value = 1
    for f in dim_factors(d):
        if isinstance(f, int):
            value *= f
        elif f in sizes:
            value *= sizes[f]
        else:
            parts = smaller_parts(f)
            if parts is None:
                raise KeyError(f)
            value *= min(dim_value(_as_dim(parts[0]), sizes), dim_value(_as_dim(parts[1]), sizes))
    return value


def _as_dim(text: str) -> Dim:
    return int(text) if text.isdigit() else text


def dim_product(a: Dim, b: Dim) -> Dim:
    """a·b as a dimension, in one canonical spelling (numbers multiplied, names sorted). The
    shape checker's unknown dimensions (DimVar) multiply into a DimProduct that unification
    resolves later."""
    if a == 1 or b == 1:
        return b if a == 1 else a
    if not isinstance(a, (int, str)) or not isinstance(b, (int, str)):
        return DimProduct([*dim_factors_of(a), *dim_factors_of(b)])
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
        return _checker_quotient(a, b)
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


class DimVar:
    """An unknown dimension of the shape checker (shapes.py); `rigid` ones were declared by name
    and equal only themselves."""

    def __init__(self, name: str, rigid: bool = False):
        self.name = name
        self.rigid = rigid
        self.parent: DimVar | int | None = None

    def __repr__(self) -> str:
        return self.name


def find_dim(d: DimVar | int) -> DimVar | int:
    """The representative of a dimension: where unification has sent it (a product of numbers:
    the number)."""
    while isinstance(d, DimVar) and d.parent is not None:
        d = d.parent
    if isinstance(d, DimProduct):
        factors = [find_dim(f) for f in d.factors]
        if all(isinstance(f, int) for f in factors):
            return math.prod(factors)  # type: ignore[arg-type]
    return d


class DimProduct:
    """A product of the shape checker's dimensions, some unknown (the rows of kron(A, B) are
    rows(A)*rows(B)); a number once every factor is. Two products are equal when their factors
    resolve to the same names and numbers (shapes.unify)."""

    def __init__(self, factors: list):
        self.factors = factors

    def __repr__(self) -> str:
        return "*".join(map(repr, self.factors))


def dim_factors_of(d: object) -> list:
    """The factors of a shape checker's dimension (itself, if not a product)."""
    return list(d.factors) if isinstance(d, DimProduct) else [d]


def _checker_quotient(a: object, b: object) -> object:
    """a/b of the shape checker's dimensions, where b is a factor of a (the blocks of a Kronecker
    product: rows(A)*rows(B) over rows(B)); ShapeMismatch where that cannot be known."""
    a, b = find_dim(a), find_dim(b)  # type: ignore[arg-type]
    if a is b:
        return 1
    if isinstance(a, int) and isinstance(b, int):
        if a % b:
            raise ShapeMismatch(f"{b} does not divide {a}")
        return a // b
    rest = [find_dim(f) for f in dim_factors_of(a)]
    for f in dim_factors_of(b):
        f = find_dim(f)
        hit = next((i for i, g in enumerate(rest) if g is f or (isinstance(g, int) and g == f)),
                   None)
        if hit is None:
            raise ShapeMismatch(f"the blocks of {a!r} (of {b!r}) are not known; declare the "
                                f"shapes")
        rest.pop(hit)
    out: object = 1
    for f in rest:
        out = dim_product(out, f)  # type: ignore[arg-type]
    return out


class SmallerDim(DimVar):
    """min(a, b) of two dimensions: the number of singular values of an a×b matrix. Rigid: it
    equals itself, a smaller-of the same two dimensions, or (once both are numbers) their minimum;
    its name follows its parts as unification resolves them (`min(m,n)`, or a number)."""

    def __init__(self, a: DimVar | int, b: DimVar | int):
        self.parts = (a, b)
        self.rigid = True
        self.parent = None

    @property
    def name(self) -> str | int:  # type: ignore[override]
        a, b = (find_dim(p) for p in self.parts)
        if isinstance(a, int) and isinstance(b, int):
            return min(a, b)
        names = [str(p.name if isinstance(p, DimVar) else p) for p in (a, b)]
        return f"min({','.join(sorted(names))})"

    def __repr__(self) -> str:
        return str(self.name)


def smaller_dim(a: DimVar | Dim, b: DimVar | Dim) -> DimVar | Dim:
    """min(a, b) as a dimension: a number, one of them when they are one, else a SmallerDim."""
    a, b = find_dim(a), find_dim(b)
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    if a is b or a == b:
        return a
    if isinstance(a, DimVar) or isinstance(b, DimVar):
        return SmallerDim(a, b)
    return f"min({','.join(sorted(map(str, (a, b))))})"   # of the resolved dimensions of a tree


class ShapeMismatch(Exception):
    """Raised by the shape rules; the caller turns it into a ShapeError naming the operands."""
