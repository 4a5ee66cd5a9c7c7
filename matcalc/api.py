"""The public entry points: parse → shapes → differentiate → simplify → verify → Derivation."""
from __future__ import annotations

import json
from functools import cached_property
from typing import Any, Callable, Iterable

import numpy as np

from .derivation import Step
from .differentiate import Differentiator, to_gradient
from .errors import DifferentiationError, MatcalcError
from .ops import Node, fmt_shape, var
from .parse import parse
from .printing.numpy import generate_module
from .printing.text import to_text
from .rules import load_rules
from .shapes import Problem, build_problem
from .simplify import simplify
from .verify import gradient_error

TOLERANCE = 1e-4   # relative error above which a derivative is refused


class Derivation:
    """A derivative with its derivation: the result, the steps, LaTeX, and generated code."""

    def __init__(self, problem: Problem, wrt: str, result: Node, steps: list[Step],
                 notes: list[str], kind: str = "gradient"):
        self.problem = problem
        self.wrt = wrt
        self.result = result
        self.steps = steps
        self.notes = notes
        self.kind = kind
        self.error: float | None = None

    # -- the result ---------------------------------------------------------------------------------
    @cached_property
    def expr(self):
        """The result as a SymPy expression."""
        from .printing.sympy import to_sympy
        return to_sympy(self.result)

    @cached_property
    def binding_names(self) -> list[str]:
        """The user's bindings the result uses, each after the ones it uses."""
        used: set[str] = set()
        pending = [n for n in self.result.walk() if n.op == "ref"]
        while pending:
            node = pending.pop()
            if node.value not in used:
                used.add(str(node.value))
                pending.extend(n for n in self.problem.bindings[str(node.value)].walk()
                               if n.op == "ref")
        return [n for n in self.problem.binding_order if n in used]

    @cached_property
    def bindings(self) -> dict[str, Any]:
        """{name: SymPy expression} for each binding the result uses."""
        from .printing.sympy import to_sympy
        return {n: to_sympy(self.problem.bindings[n]) for n in self.binding_names}

    @property
    def shape(self) -> tuple:
        return self.result.shape

    def result_text(self) -> str:
        """The result alone, in the input language."""
        return to_text(self.result)

    def where(self) -> list[tuple[str, str]]:
        """(name, definition) of each binding the result uses, in the input language."""
        return [(n, to_text(self.problem.bindings[n])) for n in self.binding_names]

    def __str__(self) -> str:
        where = self.where()
        text = self.result_text()
        if where:
            text += " where " + ", ".join(f"{n} = {body}" for n, body in where)
        return text

    def __repr__(self) -> str:
        return f"<Derivation d/d{self.wrt}: {self}>"

    # -- printers -----------------------------------------------------------------------------------
    def latex(self, steps: bool = False) -> str:
        """LaTeX of the result; with steps=True the whole derivation as an align* environment."""
        from .printing.latex import derivation_latex, result_latex
        return derivation_latex(self) if steps else result_latex(self)

    def steps_text(self) -> str:
        """The numbered derivation, one line per rule applied."""
        width = max((len(s.lhs_text) for s in self.steps), default=0)
        lines = []
        for i, s in enumerate(self.steps, start=1):
            note = f" ({s.note})" if s.note else ""
            lines.append(f"{i:3d}  {s.lhs_text:<{width}} = {to_text(s.rhs)}    [{s.rule}{note}]")
        return "\n".join(lines)

    @cached_property
    def _module(self) -> tuple[str, dict[str, str]]:
        name = f"d_d{self.wrt}" if self.wrt.isidentifier() else "derivative"
        doc = (f"∂f/∂{self.wrt} of f = {self.problem.text.strip()}\n\n"
               f"    Result: {self}\n    Vectors are 1-D arrays, scalars floats.\n    ")
        return generate_module(self.problem.variables, self.problem.bindings,
                               [(self.wrt, self.result)], name, doc)

    @property
    def source(self) -> str:
        """The generated Python/NumPy module."""
        return self._module[0]

    def numpy(self) -> Callable[..., np.ndarray]:
        """The generated code as a callable taking every variable by its name (keywords).

        >>> d = derive("x'*x", wrt="x")
        >>> d.numpy()(x=np.array([1.0, 2.0]))
        array([2., 4.])
        """
        source, params = self._module
        namespace: dict[str, Any] = {}
        exec(compile(source, f"<matcalc d/d{self.wrt}>", "exec"), namespace)  # noqa: S102 — our own code
        function = namespace[[k for k in namespace if k.startswith("d_d") or k == "derivative"][0]]
        names = dict(params)

        def call(**arrays: Any) -> np.ndarray:
            missing = [n for n in names if n not in arrays]
            unknown = [n for n in arrays if n not in names]
            if missing or unknown:
                raise TypeError(f"expected the variables {', '.join(names)}"
                                + (f"; missing {', '.join(missing)}" if missing else "")
                                + (f"; unknown {', '.join(unknown)}" if unknown else ""))
            return function(**{names[n]: v for n, v in arrays.items()})

        call.__doc__ = function.__doc__
        call.__wrapped__ = function  # type: ignore[attr-defined]
        return call

    def check(self, trials: int = 5, seed: int = 1) -> float:
        """Largest relative error against central finite differences at random inputs."""
        _, params = self._module
        return gradient_error(self.problem.expr, self.problem.bindings, self.problem.variables,
                              self.wrt, self.numpy().__wrapped__, params, trials=trials, seed=seed)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (documented in README, 'JSON output')."""
        return {
            "schema": "matcalc.derivation/1",
            "input": self.problem.text,
            "wrt": self.wrt,
            "kind": self.kind,
            "variables": {n: [str(d) for d in s] for n, s in self.problem.variables.items()},
            "result": to_text(self.result),
            "shape": [str(d) for d in self.result.shape],
            "where": dict(self.where()),
            "text": str(self),
            "latex": self.latex(),
            "steps": [{"rule": s.rule, "lhs": s.lhs_text, "rhs": to_text(s.rhs), "note": s.note}
                      for s in self.steps],
            "notes": self.notes,
            "check_error": self.error,
            "numpy": self.source,
        }

    def json(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)


def _problem(expr: Any, shapes: dict | None, symmetric: Iterable[str] | None) -> Problem:
    if not isinstance(expr, str):
        raise MatcalcError(f"expected the expression as a string, got {type(expr).__name__}")
    return build_problem(parse(expr), shapes, set(symmetric or ()))


def derive(expr: str, wrt: str, shapes: dict | None = None, symmetric: Iterable[str] | None = None,
           verify: bool = True) -> Derivation:
    """The gradient of a scalar function with respect to one variable, with its derivation.

    >>> d = derive("w'*w where w = sigmoid(X'*a)", wrt="X")
    >>> str(d)
    "2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)"
    """
    rules = load_rules()
    problem = _problem(expr, shapes, symmetric)
    if wrt not in problem.variables:
        if wrt in problem.bindings:
            raise DifferentiationError(f"{wrt!r} is a binding; differentiate with respect to one "
                                       f"of the variables: {', '.join(problem.variables)}")
        raise DifferentiationError(f"{wrt!r} does not appear in the expression; its variables "
                                   f"are: {', '.join(problem.variables) or 'none'}")
    f = problem.expr
    if not f.is_scalar:
        raise DifferentiationError(
            f"the function is {fmt_shape(f.shape)}, not a scalar: derive gives the gradient of a "
            f"scalar function (Jacobians of vector functions are not supported yet)")
    variable = var(wrt, problem.variables[wrt])
    steps: list[Step] = []
    differentiator = Differentiator(rules, wrt, problem.bindings, steps)
    df = differentiator.d(f)
    steps.append(Step("substitute", "df", df))
    gradient = to_gradient(df, variable, rules, steps)
    result, used = simplify(gradient, rules, problem.bindings, steps, f"∂f/∂{wrt}")
    notes = []
    nonsmooth = sorted({r.name for r in differentiator.used + used if r.almost_everywhere})
    if nonsmooth:
        notes.append(f"holds almost everywhere: {', '.join(nonsmooth)} "
                     f"{'is' if len(nonsmooth) == 1 else 'are'} not differentiable at isolated points")
    d = Derivation(problem, wrt, result, steps, notes)
    if verify:
        error = d.check(trials=2, seed=0)
        d.error = error
        if error > TOLERANCE:
            raise DifferentiationError(
                f"refusing a result that failed its numeric check: ∂f/∂{wrt} = {d} differs from "
                f"central finite differences by a relative error of {error:.2e} (this is a bug in "
                f"matcalc; please report the expression)")
    return d
