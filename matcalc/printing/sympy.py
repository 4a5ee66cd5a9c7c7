"""Expression → SymPy matrix expression (what `Derivation.expr` returns).

Variables become `MatrixSymbol`s (scalars `Symbol`s) with the same names and dimensions; a 1×1 matrix
product used as a scalar becomes its trace, so SymPy's shape checks accept it.
"""
from __future__ import annotations

from fractions import Fraction

import sympy
from sympy.matrices import expressions as sm
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..ops import Node, dim_factors

_t = sympy.Symbol("t")
SCALAR_FUNCTIONS = {
    "exp": sympy.exp, "log": sympy.log, "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
    "tanh": sympy.tanh, "sqrt": sympy.sqrt, "abs": sympy.Abs, "sign": sympy.sign,
    "sigmoid": lambda x: 1 / (1 + sympy.exp(-x)), "softplus": lambda x: sympy.log(1 + sympy.exp(x)),
    "relu": lambda x: sympy.Max(x, 0),
}


def _dim(d: object) -> sympy.Expr:
    """A dimension: a number, a name, or a product of them (`"m*n"`, from vec and kron)."""
    if isinstance(d, int):
        return sympy.Integer(d)
    return sympy.Mul(*(sympy.Integer(f) if isinstance(f, int) else
                       sympy.Symbol(f, integer=True, positive=True) for f in dim_factors(d)))


class CommutationMatrix(sm.MatrixExpr):
    """K_{m,n}: the (m·n)×(m·n) permutation with K*vec(A) = vec(A') for A m×n (column-major vec).

    >>> K = CommutationMatrix(2, 3)
    >>> K.as_explicit()[1, 2]
    1
    """

    def __new__(cls, rows, cols):
        return super().__new__(cls, sympy.sympify(rows), sympy.sympify(cols))

    @property
    def shape(self):
        n = self.args[0] * self.args[1]
        return (n, n)

    def _entry(self, i, j, **kwargs):
        rows, cols = self.args
        return sympy.KroneckerDelta(j, sympy.floor(i / cols) + rows * sympy.Mod(i, cols))

    def doit(self, **hints):
        """The explicit permutation matrix when both dimensions are numbers."""
        if all(a.is_Integer for a in self.args):
            return self.as_explicit()
        return self

    def _latex(self, printer):
        return f"K_{{{printer._print(self.args[0])},{printer._print(self.args[1])}}}"


class Vec(sm.MatrixExpr):
    """vec(A): the columns of A stacked into one column.

    >>> Vec(sympy.Matrix([[1, 2], [3, 4]])).as_explicit().T
    Matrix([[1, 3, 2, 4]])
    """

    def __new__(cls, arg):
        return super().__new__(cls, sympy.sympify(arg))

    @property
    def shape(self):
        rows, cols = self.args[0].shape
        return (rows * cols, sympy.Integer(1))

    def _entry(self, i, j, **kwargs):
        rows = self.args[0].shape[0]
        return self.args[0][sympy.Mod(i, rows), sympy.floor(i / rows)]

    def doit(self, **hints):
        """The explicit column when the argument evaluates to an explicit matrix."""
        arg = self.args[0].doit(**hints) if hints.get("deep", True) else self.args[0]
        if isinstance(arg, sympy.MatrixBase):
            return arg.T.reshape(arg.rows * arg.cols, 1)
        return Vec(arg)

    def _latex(self, printer):
        return rf"\operatorname{{vec}}\left({printer._print(self.args[0])}\right)"


def _scalar(x: sympy.Basic) -> sympy.Expr:
    """A 1×1 matrix expression as a scalar."""
    if isinstance(x, sm.MatrixExpr):
        return sm.Trace(x)
    return x


def _apply_function(name: str, arg: sympy.Basic, shape) -> sympy.Basic:
    f = SCALAR_FUNCTIONS.get(name) or sympy.Function(name)
    if shape == (1, 1):
        return f(_scalar(arg))
    return ElementwiseApplyFunction(sympy.Lambda(_t, f(_t)), arg)


def _ones(r: object, c: object) -> sm.MatrixExpr:
    return sm.OneMatrix(_dim(r), _dim(c))


def _sum_entries(x: sympy.Basic, shape) -> sympy.Expr:
    if shape == (1, 1):
        return _scalar(x)
    return sm.Trace(sm.MatMul(_ones(1, shape[0]), x, _ones(shape[1], 1)))


def to_sympy(node: Node) -> sympy.Basic:
    """The SymPy form of an expression tree."""
    op = node.op
    args = [to_sympy(a) for a in node.args]
    scalar = node.shape == (1, 1)
    if op in ("var", "ref"):
        if scalar:
            return sympy.Symbol(str(node.value))
        return sm.MatrixSymbol(str(node.value), _dim(node.shape[0]), _dim(node.shape[1]))
    if op == "const":
        v = node.value
        return sympy.Rational(v.numerator, v.denominator) if isinstance(v, Fraction) \
            else sympy.Float(v)
    if op == "eye":
        return sm.Identity(_dim(node.shape[0]))
    if op == "zero":
        return sm.ZeroMatrix(_dim(node.shape[0]), _dim(node.shape[1]))
    if op == "fill":
        return sm.MatMul(_scalar(args[0]), _ones(*node.shape))
    if op == "add":
        return sympy.Add(*map(_scalar, args)) if scalar else sm.MatAdd(*args)
    if op == "matmul":
        scalars = [_scalar(a) for a, n in zip(args, node.args) if n.is_scalar]
        chain = [a for a, n in zip(args, node.args) if not n.is_scalar]
        coefficient = sympy.Mul(*scalars)
        if not chain:
            return coefficient
        if scalar:
            return coefficient * sm.Trace(chain[0] if len(chain) == 1 else sm.MatMul(*chain))
        # built without MatMul.doit, which costs more than the rest of the conversion
        factors = ([coefficient] if coefficient != 1 else []) + chain
        return factors[0] if len(factors) == 1 else sm.MatMul(*factors)
    if op == "hadamard":
        return sm.HadamardProduct(*args)
    if op == "power":
        if scalar:
            return sympy.Pow(_scalar(args[0]), _scalar(args[1]))
        return sm.HadamardPower(args[0], _scalar(args[1]))
    if op == "matpow":
        return sm.MatPow(args[0], _scalar(args[1]))
    if op == "transpose":
        return sm.Transpose(args[0])
    if op == "inv":
        return sm.Inverse(args[0])
    if op == "det":
        return sm.Determinant(args[0])
    if op == "logdet":
        return sympy.log(sm.Determinant(args[0]))
    if op == "tr":
        return sm.Trace(args[0])
    if op == "sum":
        return _sum_entries(args[0], node.args[0].shape)
    if op == "diagm":
        return sm.DiagMatrix(args[0])
    if op == "diagv":
        return sm.DiagonalOf(args[0])
    if op == "norm2":
        a = node.args[0]
        return sympy.sqrt(_sum_entries(sm.HadamardPower(args[0], 2), a.shape)) \
            if a.shape != (1, 1) else sympy.Abs(_scalar(args[0]))
    if op == "norm1":
        return _sum_entries(_apply_function("abs", args[0], node.args[0].shape),
                            node.args[0].shape)
    if op == "logsumexp":
        return sympy.log(_sum_entries(_apply_function("exp", args[0], node.args[0].shape),
                                      node.args[0].shape))
    if op == "softmax":
        e = _apply_function("exp", args[0], node.shape)
        return sm.MatMul(1 / _sum_entries(e, node.shape), e)
    if op == "frob":
        a, b = node.args
        if a.shape == (1, 1) and b.shape == (1, 1):
            return _scalar(args[0]) * _scalar(args[1])
        return sm.Trace(sm.MatMul(sm.Transpose(args[0]), args[1]))
    if op == "d":
        inner = node.args[0]
        from .text import to_text
        name = f"d{inner.value}" if inner.op == "var" else f"d({to_text(inner)})"
        if scalar:
            return sympy.Symbol(name)
        return sm.MatrixSymbol(name, _dim(node.shape[0]), _dim(node.shape[1]))
    if op == "commutation":
        rows, cols = node.value  # type: ignore[misc]
        return CommutationMatrix(_dim(rows), _dim(cols))
    if op == "kron":
        return sm.KroneckerProduct(*args)
    if op == "vec":
        return Vec(args[0])
    if op == "fprime":
        return _apply_function(f"{node.value}'", args[0], node.shape)
    if len(node.args) != 1:
        raise NotImplementedError(f"no SymPy form for the operator {op!r}")
    return _apply_function(op, args[0], node.shape)
