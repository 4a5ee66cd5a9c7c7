"""Constructors that build an expression as it was written: no terms sorted, no factors moved.

shapes.py builds each of the user's bindings twice from its syntax tree: through algebra.py, the
canonical tree the engine differentiates, simplifies and generates code from; and through these,
the tree a where-clause prints, so that the user finds their own definition there (`h = b + W*x`,
not the canonical `h = W*x + b`). They take the same arguments as algebra's constructors and do no
algebra: a sum keeps its terms, a product its factors, in the order written. Nothing but printing
reads what they build.
"""
from __future__ import annotations

from .algebra import _shape, eye, fill, number
from .ops import Node


def add(*terms: Node) -> Node:
    """The terms in the order written; a scalar beside a vector or matrix broadcasts (a fill, as
    in a canonical sum, which the printers write as the scalar alone)."""
    shape = _shape("add", terms)
    return Node("add", tuple(fill(t, shape) if t.shape != shape else t for t in terms), shape)


def neg(node: Node) -> Node:
    """-a as the product -1*a (how the printers recognise a subtraction); -2 is a number."""
    if node.op == "const":
        return number(-node.value)  # type: ignore[operator]
    return Node("matmul", (number(-1), node), node.shape)


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))


def _product(op: str, a: Node, b: Node) -> Node:
    """a*b or a.*b; a chain A*B*C is one product of its factors in order (the parser builds it
    as (A*B)*C, and the printers write a product inside a product in parentheses)."""
    shape = _shape(op, (a, b))    # a's shape is that of its factors' product: no need to redo it
    return Node(op, (*a.args, b) if a.op == op and not _unit(a) else (a, b), shape)


def _unit(product: Node) -> bool:
    """A 1×1 product with a factor that is not 1×1 (x'*y; not alpha*beta): one factor of a
    longer product, where its own factors would not conform."""
    return product.is_scalar and any(not f.is_scalar for f in product.args)


def mul(a: Node, b: Node) -> Node:
    return _product("matmul", a, b)


def hadamard(a: Node, b: Node) -> Node:
    return _product("hadamard", a, b)


def power(base: Node, exponent: Node) -> Node:
    return Node("power", (base, exponent), _shape("power", (base, exponent)))


def divide(a: Node, b: Node) -> Node:
    """a/s or a./b as a product with b.^-1, which the printers write below the line."""
    return (mul if b.is_scalar else hadamard)(a, power(b, number(-1)))


def transpose(a: Node) -> Node:
    return Node("transpose", (a,), (a.shape[1], a.shape[0]))


def apply(op: str, *args: Node, value: object = None) -> Node:
    """Any other operator of the registry applied to its operands, as written."""
    return Node(op, args, _shape(op, args, value), value)


__all__ = ["add", "apply", "divide", "eye", "fill", "hadamard", "mul", "neg", "number",
           "power", "sub", "transpose"]
