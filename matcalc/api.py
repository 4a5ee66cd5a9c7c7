"""The public entry points: parse → shapes → differentiate → simplify → verify → Derivation.

What a derivative is depends on the shapes (README, "Layout of results"):

- scalar f: the gradient, shaped like the variable (df = G : dX);
- column-vector f and a vector (or scalar) variable: the Jacobian J, J_ij = ∂f_i/∂x_j (df = J*dx);
- anything else: the linear map dX ↦ dF, an expression in d(X);
- `hessian`: the derivative of the gradient — an n×n matrix for a vector variable, the linear map
  dX ↦ d(∂f/∂X) for a matrix variable.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

from . import algebra, order
from .collector import paused
from .derivation import NOT_CHECKED, Derivation, DerivationSet, Label, Step  # noqa: F401 — NOT_CHECKED: the CLI's account of --check
from .differentiate import Differentiator, LinearFormPass, to_gradient
from .errors import DifferentiationError, MatcalcError
from .operators import conditions
from .ops import Node, fmt_shape, number
from .parse import parse
from .partial_products import PartialNames
from .rules import Rule, load_rules
from .shapes import Problem, build_problem
from .simplify import simplify

TOLERANCE = 1e-5   # relative error above which a derivative is refused



# -- helpers ------------------------------------------------------------------------------------------

def _problem(expr: Any, shapes: dict | None, symmetric: Iterable[str] | None) -> Problem:
    if not isinstance(expr, str):
        if type(expr).__module__.split(".")[0] != "sympy":
            raise MatcalcError(f"expected the expression as a string (or a SymPy expression), "
                               f"got {type(expr).__name__}")
        from .sympy_input import from_sympy
        expr, declared = from_sympy(expr)
        shapes = {**declared, **(shapes or {})}
    return build_problem(parse(expr), shapes, set(symmetric or ()))


def _names(wrt: Any) -> Any:
    """Variable names from strings or SymPy symbols (or a list of them)."""
    if isinstance(wrt, (list, tuple)):
        return [_names(w) for w in wrt]
    return getattr(wrt, "name", wrt)


def _check_variable(problem: Problem, wrt: str) -> None:
    if not isinstance(wrt, str):
        raise DifferentiationError(f"wrt must be a variable name, got {wrt!r}")
    if wrt not in problem.variables:
        if wrt in problem.bindings:
            raise DifferentiationError(f"{wrt!r} is a binding; differentiate with respect to one "
                                       f"of the variables: {', '.join(problem.variables)}")
        raise DifferentiationError(f"{wrt!r} does not appear in the expression; its variables "
                                   f"are: {', '.join(problem.variables) or 'none'}")


class _Run:
    """One derivation in progress: the steps so far and the rules used."""

    def __init__(self, problem: Problem, wrt: str):
        order.trim()            # no sort is under way here
        # its own copy: the partial products it names become bindings of this derivation only
        self.problem = replace(problem, bindings=dict(problem.bindings),
                               written=dict(problem.written), partials=list(problem.partials))
        self.wrt = wrt
        self.reserved: set[str] = set()     # names a partial product must not take (hvp's v)
        self.rules = load_rules()
        self.steps: list[Step] = []
        self.used: list[Rule] = []
        self.variable = problem.variable(wrt)

    def differential(self, f: Node) -> Node:
        differentiator = Differentiator(self.rules, self.wrt, self.problem.bindings, self.steps,
                                        self.problem.written,
                                        PartialNames(self.problem, self.wrt, self.reserved))
        df = differentiator.d(f)
        self.used += differentiator.used
        self.steps.append(Step("substitute", Label("differential"), df))
        return df

    def derivative(self, f: Node, kind_hint: str = "") -> tuple[str, Node]:
        """(kind, simplified result) of the derivative of f."""
        df = self.differential(f)
        x = self.variable
        if f.is_scalar:
            kind = "gradient"
            result = to_gradient(df, x, self.rules, self.steps)
            if self.wrt in self.problem.symmetric:
                # G' term by term ((A + B)' = A' + B'): a symmetric term is its own transpose
                # and merges with itself, sym(C' - inv(X)) = 0.5*(C' + C) - inv(X)
                terms = result.args if result.op == "add" else (result,)
                result = algebra.mul(number(Fraction(1, 2)), algebra.add(
                    result, *(algebra.transpose(t) for t in terms)))
                self.steps.append(Step("symmetric-gradient", Label("gradient", self.wrt), result,
                                       "sym(G) = (G + G')/2 for symmetric " + self.wrt))
        elif f.is_column and (x.is_column or x.is_scalar):
            kind = "jacobian"
            result = LinearFormPass(x, self.rules.jacobian, self.rules, self.steps).form(df)
            self.steps.append(Step("jacobian", Label(kind_hint or kind, self.wrt),
                                   result, f"df = J*d({self.wrt})"))
        else:
            kind = "linear-map"
            result = df
        label = Label(kind_hint or kind, self.wrt)
        result, used = simplify(result, self.rules, self.problem.bindings, self.steps, label,
                                self.problem.written)
        self.used += used
        return kind, result

    def notes(self) -> list[str]:
        nonsmooth = sorted({r.name for r in self.used if r.almost_everywhere})
        # operators whose derivative holds under a condition (a simple eigenvalue, full rank)
        conditional = conditions(r.lhs.args[0].value for r in self.used
                                 if r.file == "differentials.rules" and r.lhs.args[0].kind == "op")
        if not nonsmooth:
            return conditional
        return [(f"holds almost everywhere: {', '.join(nonsmooth)} "
                 f"{'is' if len(nonsmooth) == 1 else 'are'} not differentiable at isolated points"
                 )] + conditional


def _derivation(run: _Run, result: Node, kind: str, function: Node) -> Derivation:
    """The result of a run; a linear map can continue to its vec/Kronecker form."""
    linear_map = kind in ("linear-map", "hessian-map")
    return Derivation(run.problem, run.wrt, result, run.steps, run.notes(), kind, function,
                      continue_to_vec=kronecker_form if linear_map else None)


def _verified(d: Derivation, verify: bool) -> Derivation:
    if verify:
        try:
            d.error = d.check(trials=2, seed=0)
        except MatcalcError:
            raise
        except Exception as exc:    # generated code that does not run is a bug, never an answer
            raise DifferentiationError(
                f"refusing a result that failed its numeric check: the generated code for "
                f"{d.label} = {d} raised {type(exc).__name__}: {exc} (this is a bug in matcalc; "
                f"please report the expression)") from exc
        d.record_check(d.error)
        if d.error > TOLERANCE:
            raise DifferentiationError(
                f"refusing a result that failed its numeric check: {d.label} = {d} differs from "
                f"central finite differences by a relative error of {d.error:.2e} (this is a bug "
                f"in matcalc; please report the expression)")
    return d


def kronecker_form(d: Derivation, verify: bool = True) -> Derivation:
    """A linear map dX ↦ dF in vec/Kronecker form (what `d.vec()` returns): K with
    vec(dF) = K*vec(dX), vec stacking columns. Its steps continue d's."""
    run = _Run(d.problem, d.wrt)
    run.steps = list(d.derivation_steps)
    kind = "kronecker" if d.kind == "linear-map" else "hessian-kronecker"
    k = LinearFormPass(run.variable, run.rules.kronecker, run.rules, run.steps, "kvec").form(
        d.result)
    run.steps.append(Step("kronecker", Label(kind, d.wrt), k,
                          f"vec(dF) = K*vec(d({d.wrt})), column-major vec"))
    result, _ = simplify(k, run.rules, d.problem.bindings, run.steps, Label(kind, d.wrt),
                         d.problem.written)
    return _verified(Derivation(d.problem, d.wrt, result, run.steps, d.notes, kind, d.function),
                     verify)


def derive(expr: str, wrt: str | Sequence[str], shapes: dict | None = None,
           symmetric: Iterable[str] | None = None, verify: bool = True
           ) -> Derivation | DerivationSet:
    """The derivative of `expr` with respect to `wrt`, with its derivation.

    A list `wrt` gives a DerivationSet: one gradient per variable, one generated function.

    >>> d = derive("w'*w where w = sigmoid(X'*a)", wrt="X")
    >>> str(d)
    "2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)"
    """
    with paused():
        return _derive(expr, wrt, shapes, symmetric, verify)


def _derive(expr: str, wrt: str | Sequence[str], shapes: dict | None,
            symmetric: Iterable[str] | None, verify: bool) -> Derivation | DerivationSet:
    problem = _problem(expr, shapes, symmetric)
    wrt = _names(wrt)
    if isinstance(wrt, (list, tuple)):
        if not wrt:
            raise DifferentiationError("wrt is an empty list: name at least one variable")
        if not problem.expr.is_scalar:
            raise DifferentiationError("several variables at once are supported for scalar "
                                       "functions (gradients) only")
        derivations = []
        for w in wrt:       # each continues the last one's problem: its partial products' names
            derivations.append(_derive_one(problem, w, verify))
            problem = derivations[-1].problem
        return DerivationSet(derivations)
    return _derive_one(problem, wrt, verify)


def _too_large(exc: RecursionError) -> DifferentiationError:
    return DifferentiationError("the expression is too large to differentiate symbolically (its "
                                "derivation nests too deeply); bind parts of it to names or use "
                                "smaller matrix powers")


def _derive_one(problem: Problem, wrt: str, verify: bool) -> Derivation:
    _check_variable(problem, wrt)
    run = _Run(problem, wrt)
    try:
        kind, result = run.derivative(problem.expr)
    except RecursionError as exc:
        raise _too_large(exc) from None
    return _verified(_derivation(run, result, kind, problem.expr), verify)


def scalar_problem(expr: str, wrt: Any, shapes: dict | None, symmetric: Iterable[str] | None,
                   what: str) -> tuple[Problem, str]:
    """The problem and the variable's name for a derivative of second order (`what`), which is
    defined for scalar functions only."""
    problem = _problem(expr, shapes, symmetric)
    wrt = _names(wrt)
    _check_variable(problem, wrt)
    if not problem.expr.is_scalar:
        raise DifferentiationError(f"the function is {fmt_shape(problem.expr.shape)}: a {what} "
                                   f"is defined for scalar functions")
    return problem, wrt


def hessian(expr: str, wrt: str, shapes: dict | None = None,
            symmetric: Iterable[str] | None = None, verify: bool = True) -> Derivation:
    """The Hessian of a scalar function: the derivative of its gradient.

    With respect to a vector x: the n×n matrix H_ij = ∂²f/∂x_i∂x_j. With respect to a matrix X: the
    linear map dX ↦ d(∂f/∂X), an expression in d(X).

    >>> str(hessian("x'*A*x", wrt="x"))
    "A' + A"
    """
    with paused():
        return _hessian(expr, wrt, shapes, symmetric, verify)


def _hessian(expr: str, wrt: str, shapes: dict | None, symmetric: Iterable[str] | None,
             verify: bool) -> Derivation:
    problem, wrt = scalar_problem(expr, wrt, shapes, symmetric, "Hessian")
    run = _Run(problem, wrt)
    try:
        _, gradient = run.derivative(problem.expr)
    except RecursionError as exc:
        raise _too_large(exc) from None
    gradient_derivation = Derivation(run.problem, wrt, gradient, list(run.steps), [],
                                     "gradient", problem.expr)
    _verified(gradient_derivation, verify)
    x = run.variable
    kind = "hessian" if (x.is_column or x.is_scalar) else "hessian-map"
    run.steps.append(Step("hessian", Label(kind, wrt), algebra.apply("d", gradient),
                          f"the derivative of ∂f/∂{wrt}"))
    try:
        _, result = run.derivative(gradient, kind_hint=kind)
    except RecursionError as exc:
        raise _too_large(exc) from None
    return _verified(_derivation(run, result, kind, gradient), verify)
