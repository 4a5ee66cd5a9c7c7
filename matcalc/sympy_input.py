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

from functools import lru_cache

import sympy
from sympy.matrices import expressions as sm
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import MatcalcError
from .operators import REGISTRY
from .ops import SCALAR, Node, var
from .printing.readers.sympy import to_sympy

ONE_ARGUMENT = {sm.Transpose: "({})'", sm.Inverse: "inv({})", sm.Trace: "tr({})",
                sm.Determinant: "det({})", sm.DiagMatrix: "diag({})", sm.DiagonalOf: "diag({})"}
SPECIAL_MATRICES = {sm.Identity: "eye", sm.OneMatrix: "matrix(1)", sm.ZeroMatrix: "matrix(0)"}
_x = sympy.Symbol("x")


def _elementwise_bodies() -> dict[str, sympy.Expr]:
    """Each elementwise function of the registry at a scalar x, as its SymPy form writes it."""
    return _bodies(tuple(op.name for op in REGISTRY.values() if op.elementwise))


@lru_cache(maxsize=4)
def _bodies(names: tuple[str, ...]) -> dict[str, sympy.Expr]:
    """(cached by the names: a row registered later, as in tests/test_extending.py, is seen)"""
    x = var("x", SCALAR)
    return {name: to_sympy(Node(name, (x,), SCALAR)) for name in names}


def _dim(d: sympy.Expr) -> int | str:
    return int(d) if d.is_Integer else str(d)


class _Reader:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple] = {}

    def text(self, e: sympy.Basic, elementwise: dict | None = None) -> str:
        """`elementwise` maps a Lambda's variable to the matrix it is applied to."""
        if elementwise and e in elementwise:
            return elementwise[e]
        for classes, method in self.READERS:
            if isinstance(e, classes):
                text = method(self, e, elementwise)
                if text is not None:
                    return text
        raise MatcalcError(f"cannot read {type(e).__name__} in SymPy input ({e}); write the "
                           f"expression as text instead")

    def _symbol(self, e: sympy.Symbol, elementwise: dict | None) -> str:
        if isinstance(e, sm.MatrixSymbol):
            r, c = e.shape
            self.shapes[e.name] = (_dim(r),) if c == 1 else (_dim(r), _dim(c))
        else:
            self.shapes[e.name] = ()
        return e.name

    def _number(self, e: sympy.Number, elementwise: dict | None) -> str | None:
        if e.is_Integer or e.is_Float:
            return f"({e})" if e < 0 else str(e)
        return f"({e.p}/{e.q})" if e.is_Rational else None

    def _sum(self, e: sympy.Basic, elementwise: dict | None) -> str:
        return "(" + " + ".join(self.text(a, elementwise) for a in e.args) + ")"

    def _product(self, e: sympy.Basic, elementwise: dict | None) -> str:
        hadamard = isinstance(e, sm.HadamardProduct) or (isinstance(e, sympy.Mul)
                                                         and bool(elementwise))
        return "(" + (".*" if hadamard else "*").join(self.text(a, elementwise)
                                                      for a in e.args) + ")"

    def _power(self, e: sympy.Basic, elementwise: dict | None) -> str:
        hadamard = isinstance(e, sm.HadamardPower) or (isinstance(e, sympy.Pow)
                                                       and bool(elementwise))
        return f"({self.text(e.base, elementwise)}){'.^' if hadamard else '^'}" \
               f"({self.text(e.exp, elementwise)})"

    def _one_argument(self, e: sympy.Basic, elementwise: dict | None) -> str:
        template = next(t for cls, t in ONE_ARGUMENT.items() if isinstance(e, cls))
        return template.format(self.text(e.args[0], elementwise))

    def _special(self, e: sympy.Basic, elementwise: dict | None) -> str:
        return next(t for cls, t in SPECIAL_MATRICES.items() if isinstance(e, cls))

    def _apply(self, e: ElementwiseApplyFunction, elementwise: dict | None) -> str:
        lam = e.function
        if not isinstance(lam, sympy.Lambda) or len(lam.variables) != 1:
            raise MatcalcError(f"cannot read the elementwise function {lam} of SymPy input")
        body = lam.expr.subs(lam.variables[0], _x)
        argument = self.text(e.expr, elementwise)
        for name, known in _elementwise_bodies().items():
            if sympy.simplify(body - known) == 0:
                return f"{name}({argument})"
        return self.text(body, {_x: f"({argument})"})

    def _function(self, e: sympy.Function, elementwise: dict | None) -> str | None:
        for name, known in _elementwise_bodies().items():
            if isinstance(known, sympy.Function) and e.func == known.func:
                return f"{name}({self.text(e.args[0], elementwise)})"
        return None

    READERS = (
        ((sm.MatrixSymbol, sympy.Symbol), _symbol),
        (sympy.Number, _number),
        ((sm.MatAdd, sympy.Add), _sum),
        ((sm.MatMul, sm.HadamardProduct, sympy.Mul), _product),
        ((sm.HadamardPower, sm.MatPow, sympy.Pow), _power),
        (tuple(ONE_ARGUMENT), _one_argument),
        (tuple(SPECIAL_MATRICES), _special),
        (ElementwiseApplyFunction, _apply),
        (sympy.Function, _function),
    )


def from_sympy(expr: sympy.Basic) -> tuple[str, dict[str, tuple]]:
    """(text, shapes) of a SymPy expression.

    >>> X = sympy.MatrixSymbol("X", 3, 3)
    >>> from_sympy(sympy.Trace(X.T * X))
    ("tr(((X)'*X))", {'X': (3, 3)})
    """
    reader = _Reader()
    text = reader.text(expr)
    return text, reader.shapes
