"""Hessian-vector products: H·v (H[V] for a matrix variable) without forming H.

The product is the directional derivative of the gradient along v: differentiate ∂f/∂x once more
(the differential rules, as for a Hessian), write the direction v for d(x), and simplify — the
result is an expression in v that costs about one gradient, e.g. for logistic regression

    ∂f/∂w = X'*(p - y)   →   H·v = X'*((p - p.^2).*(X*v))      (p = sigmoid(X*w))

where the Hessian X'*diag(p - p.^2)*X costs N·n² to form. Like every result, it is checked against
central differences (of the gradient, along random directions) before it is returned.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

from . import algebra
from .api import _Run, _too_large, _verified, scalar_problem
from .collector import paused
from .derivation import Derivation, Label, Step, _replace
from .errors import DifferentiationError
from .ops import var
from .simplify import simplify


class HessianVectorProduct(Derivation):
    """H·v as an expression in the direction v; its code takes v as one more argument."""

    def __init__(self, *args, direction: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._direction = direction

    @property
    def label(self) -> Label:
        return _label(self.wrt, self._direction, self.problem.variables[self.wrt][1] == 1)

    @property
    def is_linear_map(self) -> bool:
        return True

    @cached_property
    def direction(self) -> str:
        return self._direction

    @property
    def function_name(self) -> str:
        return f"hvp_{self.wrt}" if self.wrt.isidentifier() and self.wrt.isascii() else "hvp"

    def vec(self, verify: bool = True) -> Derivation:
        raise DifferentiationError("a Hessian-vector product has no vec/Kronecker form; the "
                                   "Hessian itself does (matcalc.hessian(...).vec())")


def _label(wrt: str, direction: str, vector: bool) -> Label:
    """H·v for a vector (or scalar) variable, H[V] for a matrix."""
    return Label("hvp" if vector else "hvp-map", wrt, along=direction)


def _direction_name(taken: Iterable[str], matrix: bool) -> str:
    name = "V" if matrix else "v"
    while name in taken:
        name += "_"
    return name


def hvp(expr: str, wrt: str, shapes: dict | None = None, symmetric: Iterable[str] | None = None,
        verify: bool = True, direction: str | None = None) -> HessianVectorProduct:
    """The Hessian-vector product of a scalar function: the derivative of the gradient along a
    direction `v` (`V` for a matrix variable; `direction` names it), simplified.

    >>> str(hvp("x'*A*x", wrt="x"))
    "(A' + A)*v"
    """
    with paused():
        return _hvp(expr, wrt, shapes, symmetric, verify, direction)


def _hvp(expr: str, wrt: str, shapes: dict | None, symmetric: Iterable[str] | None,
         verify: bool, direction: str | None) -> HessianVectorProduct:
    problem, wrt = scalar_problem(expr, wrt, shapes, symmetric, "Hessian-vector product")
    taken = set(problem.variables) | set(problem.bindings)
    x = problem.variable(wrt)
    v = direction or _direction_name(taken, not (x.is_column or x.is_scalar))
    if not v.isidentifier() or v in taken:
        raise DifferentiationError(f"the direction must be a new name, not {v!r} (the "
                                   f"expression's names: {', '.join(sorted(taken))})")
    run = _Run(problem, wrt)
    run.reserved.add(v)             # not a name for a partial product
    problem = run.problem           # with the partial products the derivation names
    try:
        _, gradient = run.derivative(problem.expr)
        _verified(Derivation(problem, wrt, gradient, list(run.steps), [], "gradient",
                             problem.expr), verify)
        label = _label(wrt, v, x.shape[1] == 1)
        run.steps.append(Step("hvp", label, algebra.apply("d", gradient),
                              f"the derivative of ∂f/∂{wrt} along {v}"))
        differential = run.differential(gradient)
        along = _replace(differential, algebra.apply("d", x),
                         var(v, x.shape, wrt in problem.symmetric))
        run.steps.append(Step("direction", label, along, f"d({wrt}) = {v}"))
        result, used = simplify(along, run.rules, problem.bindings, run.steps, label,
                                problem.written)
    except RecursionError as exc:
        raise _too_large(exc) from None
    run.used += used
    d = HessianVectorProduct(problem, wrt, result, run.steps, run.notes(), "hvp", gradient,
                             direction=v)
    return _verified(d, verify)


__all__ = ["HessianVectorProduct", "hvp"]
