"""Expression → SymPy matrix expression (what `Derivation.expr` returns).

Variables become `MatrixSymbol`s (scalars `Symbol`s) with the same names and dimensions; a 1×1 matrix
product used as a scalar becomes its trace, so SymPy's shape checks accept it. Each operator's SymPy
form is its row's `sympy` in the registry (operators.py), written against the toolkit below.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import sympy
from sympy.matrices import expressions as sm
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ... import kernels
from ...operators import lookup
from ...ops import SCALAR, Node, Shape
from .text import to_text

_t = sympy.Symbol("t")


class SympyToolkit:
    """What the registry's SymPy forms are written with: SymPy itself, its matrix expressions
    (`sm`), and the conventions of this module (1×1 matrices as scalars, sums of entries)."""

    sympy = sympy
    sm = sm

    @staticmethod
    def dim(d: object) -> sympy.Expr:
        return sympy.Integer(d) if isinstance(d, int) else sympy.Symbol(str(d), integer=True,
                                                                       positive=True)

    @staticmethod
    def scalar(x: sympy.Basic) -> sympy.Expr:
        """A 1×1 matrix expression as a scalar."""
        return sm.Trace(x) if isinstance(x, sm.MatrixExpr) else x

    def ones(self, r: object, c: object) -> sm.MatrixExpr:
        return sm.OneMatrix(self.dim(r), self.dim(c))

    def sum_entries(self, x: sympy.Basic, shape: Shape) -> sympy.Expr:
        if shape == SCALAR:
            return self.scalar(x)
        return sm.Trace(self.ones(1, shape[0]) * x * self.ones(shape[1], 1))

    def elementwise(self, f: Callable[[sympy.Expr], sympy.Expr], arg: sympy.Basic,
                    node: Node) -> sympy.Basic:
        """f applied to every entry of `arg` (the value of `node`'s operand)."""
        if node.shape == SCALAR:
            return f(self.scalar(arg))
        return ElementwiseApplyFunction(sympy.Lambda(_t, f(_t)), arg)

    def function(self, name: str, arg: sympy.Basic, node: Node) -> sympy.Basic:
        """The elementwise function `name` of the registry (or an undefined one, for f')."""
        op = lookup(name) if not name.endswith("'") else None
        if op is not None:
            return op.sympy(self, [arg], Node(name, (node,), node.shape))
        return self.elementwise(sympy.Function(name), arg, node)

    def add(self, args: list, node: Node) -> sympy.Basic:
        return sympy.Add(*map(self.scalar, args)) if node.shape == SCALAR else sm.MatAdd(*args)

    def matmul(self, args: list, node: Node) -> sympy.Basic:
        scalars = [self.scalar(a) for a, n in zip(args, node.args) if n.is_scalar]
        chain = [a for a, n in zip(args, node.args) if not n.is_scalar]
        coefficient = sympy.Mul(*scalars)
        if not chain:
            return coefficient
        product = chain[0] if len(chain) == 1 else sm.MatMul(*chain)
        return coefficient * sm.Trace(product) if node.shape == SCALAR else coefficient * product

    def power(self, args: list, node: Node) -> sympy.Basic:
        if node.shape == SCALAR:
            return sympy.Pow(self.scalar(args[0]), self.scalar(args[1]))
        return sm.HadamardPower(args[0], self.scalar(args[1]))

    def norm2(self, arg: sympy.Basic, shape: Shape) -> sympy.Expr:
        if shape == SCALAR:
            return sympy.Abs(self.scalar(arg))
        return sympy.sqrt(self.sum_entries(sm.HadamardPower(arg, 2), shape))

    def softmax(self, arg: sympy.Basic, node: Node) -> sympy.Basic:
        e = self.function("exp", arg, node)
        return e / self.sum_entries(e, node.shape)

    def frobenius(self, args: list, node: Node) -> sympy.Basic:
        a, b = node.args
        if a.shape == SCALAR and b.shape == SCALAR:
            return self.scalar(args[0]) * self.scalar(args[1])
        return sm.Trace(sm.Transpose(args[0]) * args[1])

    def kron(self, args: list) -> sympy.Basic:
        return sm.KroneckerProduct(*args)

    def vec(self, arg: sympy.Basic, node: Node) -> sympy.Basic:
        """SymPy has no vec of a matrix expression: a column named after it stands in."""
        return sm.MatrixSymbol(f"vec({to_text(node.args[0])})", *map(self.dim, node.shape))

    def commutation(self, rows: object, cols: object) -> sympy.Basic:
        """K with K*vec(A) = vec(A'): its entries where the sizes are numbers, else a symbol."""
        if isinstance(rows, int) and isinstance(cols, int):
            return sympy.ImmutableMatrix(kernels._commutation(rows, cols).astype(int))
        n = self.dim(rows) * self.dim(cols)
        return sm.MatrixSymbol(f"K_{rows}_{cols}", n, n)

    def opaque(self, node: Node) -> sympy.Basic:
        """A matrix SymPy has no form for, named by its text (the markers of rules)."""
        if node.shape == SCALAR:
            return sympy.Symbol(to_text(node))
        return sm.MatrixSymbol(to_text(node), *map(self.dim, node.shape))

    def differential(self, node: Node) -> sympy.Basic:
        inner = node.args[0]
        name = f"d{inner.value}" if inner.op == "var" else f"d({to_text(inner)})"
        if node.shape == SCALAR:
            return sympy.Symbol(name)
        return sm.MatrixSymbol(name, self.dim(node.shape[0]), self.dim(node.shape[1]))


_TOOLKIT = SympyToolkit()


def to_sympy(node: Node) -> sympy.Basic:
    """The SymPy form of an expression tree."""
    if node.op in ("var", "ref"):
        if node.shape == SCALAR:
            return sympy.Symbol(str(node.value))
        return sm.MatrixSymbol(str(node.value), *map(_TOOLKIT.dim, node.shape))
    if node.op == "const":
        v = node.value
        return sympy.Rational(v.numerator, v.denominator) if isinstance(v, Fraction) \
            else sympy.Float(v)
    form = lookup(node.op).sympy
    assert form is not None, node.op
    return form(_TOOLKIT, [to_sympy(a) for a in node.args], node)


__all__ = ["SympyToolkit", "to_sympy"]
