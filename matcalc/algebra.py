"""Constructors that keep expressions in one canonical form.

Every derived expression is built through these functions, never by calling `Node` directly, so
that trivial algebra happens once, silently and everywhere: sums and products are flattened, numbers
folded, zeros and identities dropped, like terms collected (`x + x` → `2*x`), scalar factors moved to
the front of a product, equal bases of a Hadamard product merged (`w.*w` → `w.^2`), `(A')'` → `A`.
These are the identities no derivation step needs to name; everything with a name lives in rules/.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from .errors import ShapeError
from .operators import REGISTRY, infer_shape, is_elementwise, is_symmetric
from .ops import (
    NARY,
    SCALAR,
    Node,
    Shape,
    ShapeMismatch,
    const_value,
    dim_product,
    fmt_shape,
    leaf,
    number,
)
from .order import sort_key

ONE = number(1)
ZERO = number(0)

# The identities of rules/canonical.rules, by the operator at the root of their left side (ELEMENTWISE
# for f(…) of any elementwise f): each takes a node as built and returns its canonical form, or None.
# rewrite.py compiles them from the rules file when matcalc is imported (they need the matcher, which
# needs these constructors); `apply` tries them in file order.
ELEMENTWISE = "elementwise"
CANONICAL: dict[str, list[Callable[[Node], Node | None]]] = {}
_LINEAR = {"tr", "sum", "diagm", "diagv", "d"}    # operators that map 0 to 0


def _strict(a: object, b: object) -> None:
    if a != b:
        raise ShapeMismatch(f"{a} ≠ {b}")


def _shape(op: str, args: tuple[Node, ...], value: object = None) -> Shape:
    try:
        return infer_shape(op, [a.shape for a in args], _strict, value)
    except ShapeMismatch as exc:
        shapes = ", ".join(fmt_shape(a.shape) for a in args)
        raise ShapeError(f"internal shape error building {op}({shapes}): {exc}") from None


def commutation(rows: object, cols: object) -> Node:
    """The commutation matrix K with K*vec(A) = vec(A') for A rows×cols (column-major vec)."""
    n = dim_product(rows, cols)
    if rows == 1 or cols == 1:
        return eye(n)
    return leaf("commutation", (n, n), (rows, cols))


def zero(shape: Shape) -> Node:
    return ZERO if shape == SCALAR else leaf("zero", shape)


def fill(value: Node, shape: Shape) -> Node:
    """A matrix of the given shape with every entry `value` (a scalar)."""
    if shape == SCALAR:
        return value
    if is_zero(value):
        return zero(shape)
    return Node("fill", (value,), shape, shape)


def eye(n: object) -> Node:
    return ONE if n == 1 else leaf("eye", (n, n))


def is_zero(node: Node) -> bool:
    return node.op == "zero" or const_value(node) == 0 or (node.op == "fill" and is_zero(node.args[0]))


def is_one(node: Node) -> bool:
    return const_value(node) == 1


def expanded_vector(node: Node) -> tuple[Node, str] | None:
    """(v, "column" | "row") for a vector repeated over a matrix — `c*vector(s)'` (each column
    is c*s) or `vector(s)*b'` (each row is s*b'), scalars in front allowed — else None. This is
    the tree's form of implicit expansion (`X + b'`): printers write v alone beside a matrix,
    and generated code lets the array library broadcast it.

    >>> from matcalc.ops import var
    >>> b = var("b", ("n", 1))
    >>> v, kind = expanded_vector(mul(fill(ONE, ("m", 1)), transpose(b)))
    >>> v == transpose(b), kind
    (True, 'row')
    """
    if node.op != "matmul" or node.is_vector or node.is_scalar:
        return None
    k = next(i for i, a in enumerate(node.args) if not a.is_scalar)
    chain = node.args[k:]
    if len(chain) != 2:
        return None
    left, right = chain
    if left.is_column and right.op == "fill" and right.is_row:
        return mul(*node.args[:k], right.args[0], left), "column"
    if left.op == "fill" and left.is_column and right.is_row:
        return mul(*node.args[:k], left.args[0], right), "row"
    return None


def split_coefficient(node: Node) -> tuple[Fraction | float, Node]:
    """`3*A` → (3, A); `A` → (1, A); a number → (number, 1). Kept on the node (`Node.memo`):
    sorting and collecting the terms of a sum asks for it again and again."""
    if node.op == "const":
        return node.value, ONE
    if node.op == "matmul" and node.args[0].op == "const":
        return node.remember("coefficient", lambda: (  # type: ignore[return-value]
            node.args[0].value, node.args[1] if len(node.args) == 2
            else Node("matmul", node.args[1:], node.shape)))
    return _UNIT, node


_UNIT = Fraction(1)     # the coefficient of a term without one (a Fraction is immutable)


def scale(coefficient: Fraction | float, node: Node) -> Node:
    return mul(number(coefficient), node) if coefficient != 1 else node


# -- sums -----------------------------------------------------------------------------------------

def add(*terms: Node) -> Node:
    shape = _shape("add", terms)
    flat: list[Node] = []
    for t in terms:
        flat.extend(t.args if t.op == "add" else (t,))
    flat = _merge_diagonals(_open_scaled_sums(flat))
    if shape != SCALAR:        # scalars broadcast
        flat = _merge_fills([fill(t, shape) if t.shape != shape else t for t in flat], shape)
    out = _collect_like_terms(flat, shape)
    if not out:
        return zero(shape)
    if len(out) == 1:
        return out[0]
    out.sort(key=_term_order)
    total = Node("add", tuple(out), shape)
    if not any(t.op == "add" for t in out):
        total.memo = {CANONICAL_SUM: True}
    return total


# Marks a sum built by `add` whose terms are not sums. Its terms are then sorted, distinct
# monomials, at most one fill and one diagonal, all of its shape — and so are those of any two or
# more of them: `without` may build such a part as it stands, with no need to add it up again.
CANONICAL_SUM = "canonical-sum"


def without(total: Node, i: int) -> Node:
    """The sum of the terms of `total` but the i-th: `add` of them, made in one step for a
    canonical sum (CANONICAL_SUM)."""
    rest = total.args[:i] + total.args[i + 1:]
    if len(rest) == 1:
        return rest[0]
    if total.memo is None or not total.memo.get(CANONICAL_SUM):
        return add(*rest)
    part = Node("add", rest, total.shape)
    part.memo = {CANONICAL_SUM: True}
    return part


def _term_order(term: Node) -> tuple[bool, bytes]:
    """Where a term goes in a sum: positive terms first (a broadcast scalar by its own sign:
    `x - sum(x)/nu`), then by the order of their monomials."""
    entry = term.args[0] if term.op == "fill" else term     # a broadcast scalar: its sign
    return split_coefficient(entry)[0] < 0, sort_key(split_coefficient(term)[1])


def _open_scaled_sums(flat: list[Node]) -> list[Node]:
    """scaled-sum-like-terms of canonical.rules: a term c*(a + b) is opened where one of its terms
    is like a term beside it, A + 2*(A + B) → 3*A + 2*B (else it stays, saving numbers)."""
    scaled = [i for i, t in enumerate(flat)
              if t.op == "matmul" and len(t.args) == 2 and t.args[0].op == "const"
              and t.args[1].op == "add"]
    if not scaled or len(flat) < 2:
        return flat
    out = list(flat)
    for i in reversed(scaled):
        others = {_like_key(split_coefficient(t)[1]) for j, t in enumerate(out) if j != i}
        coefficient, inner = flat[i].args
        if any(_like_key(split_coefficient(t)[1]) in others for t in inner.args):
            out[i:i + 1] = [mul(coefficient, t) for t in inner.args]
    return out


def _merge_diagonals(flat: list[Node]) -> list[Node]:
    """diag-sum of canonical.rules: diag(a) + 2*diag(b) → diag(a + 2*b)."""
    diagonals = [t for t in flat if split_coefficient(t)[1].op == "diagm"]
    if len(diagonals) <= 1:
        return flat
    merged = apply("diagm", add(*(scale(c, m.args[0])
                                  for c, m in map(split_coefficient, diagonals))))
    return [t for t in flat if t not in diagonals] + [merged]


def _merge_fills(flat: list[Node], shape: Shape) -> list[Node]:
    """fill-sum of canonical.rules: matrix(a) + matrix(b) → matrix(a + b)."""
    fills = [t for t in flat if t.op == "fill"]
    if len(fills) <= 1:
        return flat
    return [t for t in flat if t.op != "fill"] + [fill(add(*(f.args[0] for f in fills)), shape)]


def _collect_like_terms(flat: list[Node], shape: Shape) -> list[Node]:
    """x + 2*x → 3*x, zeros dropped: each monomial once, with the sum of its coefficients."""
    collected: dict[Node, Fraction | float] = {}
    written: dict[Node, Node] = {}      # each monomial as its first term wrote it
    alone: dict[Node, Node] = {}        # a monomial's term as it stands, while it is the only one
    for t in flat:
        if is_zero(t):
            continue
        if t.shape != shape:            # a scalar broadcast over a matrix
            t = fill(t, shape)
        if t.op == "fill" and t.args[0].op == "const":
            coefficient, monomial = t.args[0].value, fill(ONE, shape)
        else:
            coefficient, monomial = split_coefficient(t)
        key = _like_key(monomial)
        known = collected.get(key)
        if known is None:
            written[key] = monomial
            if t.op != "matmul" or (not t.is_scalar and t.memo is not None
                                    and t.memo.get(CANONICAL_PRODUCT)):
                alone[key] = t      # scaling its monomial again would give it back (a 1×1
                                    # chain, c*a'*b, would come back as c*(a'*b))
        else:
            alone.pop(key, None)
        collected[key] = coefficient if known is None else known + coefficient
    # a canonical term whose monomial occurs once is kept as built, not multiplied out again
    return [alone[k] if k in alone else scale_term(c, written[k])
            for k, c in collected.items() if c != 0]


def _like_key(monomial: Node) -> Node:
    """The monomial by which like terms are found: a transposed product as the product of the
    transposes in reverse order (transpose-of-product in canonical.rules), so that
    A'*B' + (B*A)' is 2*A'*B'."""
    if monomial.op == "transpose" and monomial.args[0].op == "matmul" \
            and len(monomial.args[0].args) <= 8:
        return mul(*(transpose(f) for f in reversed(monomial.args[0].args)))
    return monomial


def scale_term(coefficient: Fraction | float, monomial: Node) -> Node:
    if monomial.op == "fill" and is_one(monomial.args[0]):
        return fill(number(coefficient), monomial.shape)
    return scale(coefficient, monomial)


def neg(node: Node) -> Node:
    return mul(number(-1), node)


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))


# -- products -------------------------------------------------------------------------------------

def mul(*factors: Node) -> Node:
    """Matrix product; 1×1 factors scale, and are gathered in front of the chain."""
    shape = _shape("matmul", factors)
    gathered = _gather_factors(factors)
    if gathered is None:
        return zero(shape)
    coefficient, scalars, chain = gathered
    if not chain and shape != SCALAR:    # only identities were left in the chain
        chain = [eye(shape[0])]
    scalars = _merge_powers(scalars)
    chain = _merge_matrix_powers(chain)
    if len(chain) == 1 and chain[0].op == "fill" and (scalars or coefficient != 1):
        # -matrix(-1) = matrix(1), 2*matrix(s) = matrix(2*s): a scaled fill is a fill
        return fill(mul(number(coefficient), *scalars, chain[0].args[0]), shape)
    if coefficient != 1 and not scalars and len(chain) == 1 and chain[0].op == "add" \
            and _saves_numbers(coefficient, chain[0]):
        return add(*(scale(coefficient, t) for t in chain[0].args))
    if shape == SCALAR and len(chain) == 2:
        chain = _inner_product_order(chain)
    out = ([number(coefficient)] if coefficient != 1 else []) + scalars + chain
    if not out:
        return ONE
    if len(out) == 1:
        return out[0]
    product = Node("matmul", tuple(out), shape)
    product.memo = {CANONICAL_PRODUCT: True}
    return product


# Marks a product built by `mul`. Its factors are a number, then sorted merged scalars, then a
# chain with no identity, zero or number fill and no two neighbours that merge (X*X, two diagonals,
# two conforming Kronecker products) — and so is any run of them: `factors` may build a run with
# two or more matrices as it stands, with no need to multiply it out again.
CANONICAL_PRODUCT = "canonical-product"


def factors(product: Node, start: int, stop: int) -> Node:
    """The product of factors start..stop-1 of `product`: `mul` of them, made in one step for a run
    of a canonical product (CANONICAL_PRODUCT) with two or more matrices in its chain and a
    result that is not 1×1 (`mul` orders a 1×1 inner product, and unwraps a lone scaled fill or
    sum). A long product is split at every point by the matcher: this keeps a split O(length)."""
    part = product.args[start:stop]
    if len(part) == 1:
        return part[0]
    if product.memo is not None and product.memo.get(CANONICAL_PRODUCT):
        chain = [f for f in part if not f.is_scalar]
        shape = (chain[0].shape[0], chain[-1].shape[1]) if chain else SCALAR
        if len(chain) >= 2 and shape != SCALAR:
            run = Node("matmul", part, shape)
            run.memo = {CANONICAL_PRODUCT: True}
            return run
    return mul(*part)


def _gather_factors(factors: tuple[Node, ...]
                    ) -> tuple[Fraction | float, list[Node], list[Node]] | None:
    """(number, scalar factors, matrix chain) of a product, nested products flattened and
    identities dropped; None for a product with a zero factor."""
    coefficient: Fraction | float = Fraction(1)
    scalars: list[Node] = []
    chain: list[Node] = []
    pending = list(factors)
    while pending:
        f = pending.pop(0)
        if is_zero(f):
            return None
        if f.op == "const":
            coefficient *= f.value
        elif f.op == "matmul" and (not f.is_scalar or not _is_chain(f)):
            pending[:0] = f.args
        elif f.is_scalar:
            scalars.append(f)
        elif f.op == "fill" and f.args[0].op == "const":    # matrix(-1) = -1*matrix(1)
            coefficient *= f.args[0].value
            chain.append(fill(ONE, f.shape))
        elif f.op != "eye":
            chain.append(f)
    return None if coefficient == 0 else (coefficient, scalars, chain)


def _saves_numbers(coefficient: Fraction | float, total: Node) -> bool:
    """-(A - B) → B - A, 0.5*(2*A + 2*B) → A + B: into the sum when that saves numbers."""
    inner = [split_coefficient(t)[0] for t in total.args]
    return sum(abs(c * coefficient) != 1 for c in inner) <= (abs(coefficient) != 1) + sum(
        abs(c) != 1 for c in inner)


def _inner_product_order(chain: list[Node]) -> list[Node]:
    """u'*v = v'*u: one order for inner products, a differential on the right."""
    if chain[0].op == "transpose" and chain[0].args[0].is_column and chain[1].is_column:
        u, v = chain[0].args[0], chain[1]
        if (u.has_d, sort_key(u)) > (v.has_d, sort_key(v)):
            return [transpose(v), u]
    return chain


def _merge_matrix_powers(chain: list[Node]) -> list[Node]:
    """Adjacent equal square factors become a matrix power: X*X → X^2, X*X^2 → X^3; adjacent
    diagonal matrices multiply entrywise: diag(a)*diag(b) → diag(a.*b)."""
    merged_diagonals: list[Node] = []
    for f in chain:
        if f.op == "matpow" and f.args[0].op == "diagm":
            f = apply("diagm", power(f.args[0].args[0], f.args[1]))
        if f.op == "diagm" and merged_diagonals and merged_diagonals[-1].op == "diagm":
            f = apply("diagm", hadamard(merged_diagonals.pop().args[0], f.args[0]))
        merged_diagonals.append(f)
    chain = []
    for f in merged_diagonals:     # kron(A, B)*kron(C, D) = kron(A*C, B*D) where both conform
        if f.op == "kron" and chain and chain[-1].op == "kron":
            (a, b), (c, d) = chain[-1].args, f.args
            if a.shape[1] == c.shape[0] and b.shape[1] == d.shape[0]:
                chain[-1] = apply("kron", mul(a, c), mul(b, d))
                continue
        chain.append(f)
    out: list[tuple[Node, Node]] = []
    for f in chain:
        base, k = _power_of(f)
        if out and out[-1][0] == base and base.is_square:
            out[-1] = (base, add(out[-1][1], k))
        else:
            out.append((base, k))
    return [b if is_one(k) else apply("matpow", b, k) for b, k in out]


def _power_of(factor: Node) -> tuple[Node, Node]:
    """(base, exponent) of a factor: X^3 → (X, 3), (X^3)' → (X', 3) (matrix-power-transpose read
    backwards, so that X'*(X^2)' merges to (X^3)'), X → (X, 1)."""
    if factor.op == "matpow":
        return factor.args[0], factor.args[1]
    if factor.op == "transpose" and factor.args[0].op == "matpow":
        base, k = factor.args[0].args
        return transpose(base), k
    return factor, ONE


def _is_chain(node: Node) -> bool:
    """A 1×1 product of non-scalar factors (`a'*X*b`): a unit inside a larger product."""
    return any(not a.is_scalar for a in node.args)


def _merge_powers(factors: list[Node]) -> list[Node]:
    """Merge equal bases of commuting factors (`s*s` → `s^2`) and sort them."""
    exponents: dict[Node, list[Node]] = {}
    alone: dict[Node, Node] = {}       # a base's factor as it stands, while it is the only one
    for f in factors:
        base, exponent = (f.args[0], f.args[1]) if f.op == "power" else (f, ONE)
        exponents.setdefault(base, []).append(exponent)
        alone.setdefault(base, f)
    merged = [power(base, add(*exps)) if len(exps) > 1 else alone[base]
              for base, exps in exponents.items()]
    merged = [m for m in merged if not (is_one(m) or (m.op == "fill" and is_one(m.args[0])))]
    return sorted(merged, key=sort_key)


def hadamard(*factors: Node) -> Node:
    shape = _shape("hadamard", factors)
    if shape == SCALAR:
        return mul(*factors)
    scalars, rest = [], []
    pending = list(factors)
    while pending:
        f = pending.pop(0)
        if is_zero(f):
            return zero(shape)
        if f.op == "hadamard":
            pending[:0] = f.args
        elif f.is_scalar:
            scalars.append(f)
        elif f.op == "fill":
            scalars.append(f.args[0])
        elif f.op == "matmul" and f.args[0].is_scalar:
            # pull a product's scalar factors out: (2*A).*B → 2*(A.*B)
            k = next(i for i, a in enumerate(f.args) if not a.is_scalar)
            scalars.extend(f.args[:k])
            pending.insert(0, mul(*f.args[k:]))
        else:
            rest.append(f)
    rest = _merge_powers(rest)
    if not rest:
        body = fill(ONE, shape)
    elif len(rest) == 1:
        body = rest[0]
    else:
        body = Node("hadamard", tuple(rest), shape)
    return mul(*scalars, body) if scalars else body


def power(base: Node, exponent: Node) -> Node:
    """Elementwise power `base.^exponent` (for a scalar base, the ordinary power)."""
    shape = _shape("power", (base, exponent))
    p = const_value(exponent)
    if p == 0:
        return fill(ONE, shape)
    if p is not None and p > 0 and is_zero(base):
        return zero(shape)                      # 0.^p = 0 for p > 0, as 0*A = 0
    b = const_value(base)
    if b is not None and p is not None:
        if isinstance(p, Fraction) and p.denominator == 1 and (b != 0 or p > 0) and abs(p) <= 64:
            return number(Fraction(b) ** int(p))
        if b > 0:
            return number(float(b) ** float(p))
    return _canonical(Node("power", (base, exponent), shape))


def divide(a: Node, b: Node) -> Node:
    """`a./b` (elementwise) — also `a/s` for a scalar s."""
    return hadamard(a, power(b, number(-1))) if not b.is_scalar else mul(power(b, number(-1)), a)


# -- other operators ------------------------------------------------------------------------------

def transpose(a: Node) -> Node:
    if a.is_scalar:
        return a
    if is_symmetric(a):
        return a
    if a.op == "zero":
        return zero((a.shape[1], a.shape[0]))
    if a.op == "matmul" and a.args[0].is_scalar:    # (2*A)' = 2*A'
        k = next(i for i, f in enumerate(a.args) if not f.is_scalar)
        return mul(*a.args[:k], transpose(mul(*a.args[k:])))
    if a.op == "matmul" and len(a.args) <= 8 and \
            mul(*(transpose(f) for f in reversed(a.args))) == a:
        return a    # a symmetric product such as inv(S)*x*x'*inv(S) for symmetric S
    if a.op == "fill":
        return fill(a.args[0], (a.shape[1], a.shape[0]))
    return _canonical(Node("transpose", (a,), (a.shape[1], a.shape[0])))


def apply(op: str, *args: Node, value: object = None) -> Node:
    """Any operator, in canonical form: the lines of rules/canonical.rules for `op` applied.

    Sums, products, powers, transposes and fills have their own constructors above; every other
    operator is built here and handed to the identities indexed under it (inv(inv(A)) = A, …).
    """
    if op in NARY:
        return {"add": add, "matmul": mul, "hadamard": hadamard}[op](*args)
    if op == "power":
        return power(*args)
    if op == "transpose":
        return transpose(args[0])
    if op == "fill":
        return fill(args[0], value)  # type: ignore[arg-type]
    if op == "d" and args[0].op != "var" and not args[0].has_d and not args[0].deps:
        return zero(args[0].shape)              # a constant's differential
    if op == "frob" and (is_zero(args[0]) or is_zero(args[1])):
        return ZERO
    shape = _shape(op, args, value)
    if (op in _LINEAR or (len(args) == 1 and _is_linear(op))) and is_zero(args[0]):
        return zero(shape)                      # a linear map of 0 (mean(0, 2), vec(0)) is 0
    return _canonical(Node(op, args, shape, value))


def _is_linear(op: str) -> bool:
    row = REGISTRY.get(op)
    return row is not None and row.linear


def _canonical(node: Node) -> Node:
    """`node` rewritten by the first line of canonical.rules indexed under its operator that
    applies (the right side is built by these constructors, so canonical in turn), else itself."""
    for identity in CANONICAL.get(ELEMENTWISE if is_elementwise(node.op) else node.op, ()):
        result = identity(node)
        if result is not None:
            return result
    return node


def rebuild(node: Node, args: tuple[Node, ...]) -> Node:
    """`node` with new children, re-canonicalised."""
    if args == node.args:
        return node
    if node.op in ("fill",):
        return fill(args[0], node.shape)
    return apply(node.op, *args, value=node.value)
