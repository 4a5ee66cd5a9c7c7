"""SymPy matrix expressions → the input language, so `derive` accepts them (SPEC §3).

The expression is written out as text with the shapes of its `MatrixSymbol`s, then read by the one
parser like any other input: there is no second path into the engine.

| SymPy | input language |
|---|---|
| `MatrixSymbol("X", m, n)`, `Symbol("t")` | `X` declared m×n, `t` a scalar |
| `MatAdd`, `MatMul`, `Transpose`, `Inverse`, `MatPow` | `+`, `*`, `'`, `inv`, `^` |
| `HadamardProduct`, `HadamardPower` | `.*`, `.^` |
| `Trace`, `Determinant`, `log(Determinant(X))` | `tr`, `det`, `log(det(X))` |
| `ElementwiseApplyFunction(Lambda(t, f(t)), A)` | `f(A)`, the body read elementwise |
| `Identity`, `OneMatrix`, `ZeroMatrix`, `DiagMatrix`, `DiagonalOf` | `eye`, `matrix(1)`, `matrix(0)`, `diag` |
"""
from __future__ import annotations

import sympy
from sympy.matrices import expressions as sm
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import MatcalcError

FUNCTIONS = {sympy.exp: "exp", sympy.log: "log", sympy.sin: "sin", sympy.cos: "cos",
             sympy.tan: "tan", sympy.tanh: "tanh", sympy.Abs: "abs", sympy.sign: "sign"}


ONE_ARGUMENT = {sm.Transpose: "({})'", sm.Inverse: "inv({})", sm.Trace: "tr({})",
                sm.Determinant: "det({})", sm.DiagMatrix: "diag({})", sm.DiagonalOf: "diag({})"}
NAMED_BODIES = {"sigmoid": lambda x: 1 / (1 + sympy.exp(-x)),
                "softplus": lambda x: sympy.log(1 + sympy.exp(x)),
                "sqrt": lambda x: sympy.sqrt(x)}


def _dim(d: sympy.Expr) -> int | str:
    return int(d) if d.is_Integer else str(d)


class _Reader:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple] = {}

    def text(self, e: sympy.Basic, elementwise: dict | None = None) -> str:
        """`elementwise` maps a Lambda's variable to the matrix it is applied to."""
        t = lambda x: self.text(x, elementwise)
        if elementwise and e in elementwise:
            return elementwise[e]
        if isinstance(e, sm.MatrixSymbol):
            r, c = e.shape
            self.shapes[e.name] = (_dim(r),) if c == 1 else (_dim(r), _dim(c))
            return e.name
        if isinstance(e, sympy.Symbol):
            self.shapes[e.name] = ()
            return e.name
        if e.is_Integer or e.is_Float:
            return f"({e})" if e < 0 else str(e)
        if e.is_Rational:
            return f"({e.p}/{e.q})"
        if isinstance(e, (sm.MatAdd, sympy.Add)):
            return "(" + " + ".join(t(a) for a in e.args) + ")"
        if isinstance(e, (sm.MatMul, sm.HadamardProduct, sympy.Mul)):
            hadamard = isinstance(e, sm.HadamardProduct) or (isinstance(e, sympy.Mul) and elementwise)
            return "(" + (".*" if hadamard else "*").join(t(a) for a in e.args) + ")"
        if isinstance(e, (sm.HadamardPower, sm.MatPow, sympy.Pow)):
            hadamard = isinstance(e, sm.HadamardPower) or (isinstance(e, sympy.Pow) and elementwise)
            return f"({t(e.base)}){'.^' if hadamard else '^'}({t(e.exp)})"
        for cls, template in ONE_ARGUMENT.items():
            if isinstance(e, cls):
                return template.format(t(e.args[0]))
        if isinstance(e, sm.Identity):
            return "eye"
        if isinstance(e, sm.OneMatrix):
            return "matrix(1)"
        if isinstance(e, sm.ZeroMatrix):
            return "matrix(0)"
        if isinstance(e, ElementwiseApplyFunction):
            lam = e.function
            if not isinstance(lam, sympy.Lambda) or len(lam.variables) != 1:
                raise MatcalcError(f"cannot read the elementwise function {lam} of SymPy input")
            x = lam.variables[0]
            for name, body in NAMED_BODIES.items():
                if sympy.simplify(lam.expr - body(x)) == 0:
                    return f"{name}({t(e.expr)})"
            return self.text(lam.expr, {x: f"({t(e.expr)})"})
        if isinstance(e, sympy.Function) and e.func in FUNCTIONS:
            return f"{FUNCTIONS[e.func]}({t(e.args[0])})"
        raise MatcalcError(f"cannot read {type(e).__name__} in SymPy input ({e}); write the "
                           f"expression as text instead")


def from_sympy(expr: sympy.Basic) -> tuple[str, dict[str, tuple]]:
    """(text, shapes) of a SymPy expression.

    >>> X = sympy.MatrixSymbol("X", 3, 3)
    >>> from_sympy(sympy.Trace(X.T * X))
    ("tr(((X)'*X))", {'X': (3, 3)})
    """
    reader = _Reader()
    text = reader.text(expr)
    return text, reader.shapes


def variable_name(wrt: object) -> str:
    """The name of `wrt`, given as a string or as a SymPy symbol."""
    if isinstance(wrt, (sm.MatrixSymbol, sympy.Symbol)):
        return wrt.name
    return wrt  # type: ignore[return-value]
