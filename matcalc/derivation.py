"""What a derivation produces, as data: its steps and its result, with the printers over them.

`Step` is one rule applied; `Derivation` the result of `matcalc.derive` (a gradient, a Jacobian, a
linear map, a Hessian) with its steps, LaTeX and generated code; `DerivationSet` several of them
sharing one generated function. The pipeline that makes them is api.py's: a result never re-runs
it (`d.vec()` is the API's `kronecker_form`, handed to the result when it was made).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from . import algebra
from .errors import DifferentiationError
from .ops import Node, var
from .printing.backends import BACKENDS
from .printing.backends.numba import load
from .printing.codegen.module import generate_module
from .printing.readers.latex import derivation_latex, result_latex, standalone_document
from .printing.readers.text import to_text
from .shapes import Problem, shape_warnings
from .shared import name_shared
from .verify import NO_FINITE_POINT, derivative_check, from_user, to_user

# How a label reads, by its kind: {f} the function, {x} the variable
LABEL_TEXT = {"differential": "d{f}", "gradient": "∂{f}/∂{x}", "jacobian": "∂{f}/∂{x}",
              "linear-map": "d{f}", "hessian": "∂²{f}/∂{x}²", "hessian-map": "d(∂{f}/∂{x})",
              "kronecker": "∂vec({f})/∂vec({x})",
              "hessian-kronecker": "∂vec(∂{f}/∂{x})/∂vec({x})",
              "hvp": "∂²{f}/∂{x}²·{v}", "hvp-map": "∂²{f}/∂{x}²[{v}]"}


@dataclass(frozen=True)
class Label:
    """What a step rewrites when it is not one expression: the differential df, or a derivative
    such as ∂f/∂X. Printers read its parts; `str` is the text form (`∂f/∂X`)."""
    kind: str               # a key of LABEL_TEXT
    wrt: str = ""
    of: str = "f"           # the function: f, or "(s)" for a scalar part s read off on the way
    along: str = ""         # the direction of a Hessian-vector product

    def __str__(self) -> str:
        return LABEL_TEXT[self.kind].format(f=self.of, x=self.wrt, v=self.along)


@dataclass(frozen=True)
class Step:
    """One rule applied: `lhs = rhs` by `rule`.

    `lhs` is what the step rewrites — an expression (`d(w'*w)` for a differential rule), or a
    Label: `df` for a step that transforms the whole differential, `∂f/∂X` for the gradient.
    """
    rule: str
    lhs: Node | Label
    rhs: Node
    note: str = ""

    @property
    def expr(self):
        """The step's result as a SymPy expression."""
        from .printing.readers.sympy import to_sympy  # SymPy loads only when asked for
        return to_sympy(self.rhs)

    @property
    def lhs_text(self) -> str:
        return str(self.lhs) if isinstance(self.lhs, Label) else to_text(self.lhs)

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.lhs_text} = {to_text(self.rhs)}    [{self.rule}{note}]"


NOT_CHECKED = "not checked numerically"


class GeneratedCode:
    """The generated function, in each backend's library (printing/module.py, code.py and the
    backend tables). Subclasses say what to generate: `_generate(backend, value)` → (source,
    names); with value=True the function returns the value of f first, then the derivatives,
    computing what they share once."""

    function_name: str

    def _generate(self, backend: str, value: bool = False) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def _module(self, backend: str, value: bool = False) -> tuple[str, dict[str, str]]:
        cache = self.__dict__.setdefault("_modules", {})
        if (backend, value) not in cache:
            if backend not in BACKENDS:
                raise ValueError(f"unknown backend {backend!r}; choose one of "
                                 f"{', '.join(BACKENDS)}")
            cache[backend, value] = self._generate(backend, value)
        return cache[backend, value]

    def _name(self, value: bool) -> str:
        return f"value_and_{self.function_name}" if value else self.function_name

    def code(self, backend: str = "numpy", value: bool = False) -> str:
        """The generated module's source for `backend`: numpy, jax, torch, array-api or numba; with
        value=True its function returns (f, derivative) — (f, G1, G2, …) for several variables.

        >>> import matcalc
        >>> print(matcalc.derive("x'*x + sum(exp(x))", wrt="x").code("torch").splitlines()[-1])
            return torch.exp(x) + 2 * x
        """
        return self._module(backend, value)[0]

    @property
    def source(self) -> str:
        """The generated NumPy module."""
        return self.code("numpy")

    def numpy(self, value: bool = False) -> Callable[..., Any]:
        """The generated code as a callable taking every variable by its name (keywords); with
        value=True it returns (f, derivative), what they share computed once.

        >>> import matcalc
        >>> d = matcalc.derive("x'*x", wrt="x")
        >>> d.numpy()(x=np.array([1.0, 2.0]))
        array([2., 4.])
        >>> d.numpy(value=True)(x=np.array([1.0, 2.0]))
        (np.float64(5.0), array([2., 4.]))
        """
        return _compile(*self._module("numpy", value), self._name(value))

    def jax(self, jit: bool = True, value: bool = False) -> Callable[..., Any]:
        """The derivative as `jax.numpy` code, compiled by `jax.jit` unless `jit=False`.
        Needs JAX (`pip install "matcalc-symbolic[jax]"`); enable float64 with
        `jax.config.update("jax_enable_x64", True)` for double precision. The jitted function is
        made once per derivation, so `d.jax()(...)` in a loop compiles only on its first call."""
        function = _compile(*self._module("jax", value), self._name(value))
        if not jit:
            return function
        cache = self.__dict__.setdefault("_jitted", {})
        if ("jax", value) not in cache:
            import jax
            cache["jax", value] = _keywords(jax.jit(function.__wrapped__),
                                            self._module("jax", value)[1], function.__doc__)
        return cache["jax", value]

    def torch(self, value: bool = False) -> Callable[..., Any]:
        """The derivative as PyTorch code: tensors in (CPU or CUDA), a tensor out on the same
        device. Needs PyTorch (`pip install "matcalc-symbolic[torch]"`)."""
        return _compile(*self._module("torch", value), self._name(value))

    def numba(self, value: bool = False) -> Callable[..., Any]:
        """The derivative as NumPy code whose elementwise parts (chains of operations,
        broadcasts, outer products) are single parallel loops compiled by numba; matrix products
        go to BLAS through NumPy. Same arguments and `out=` as `numpy()`, float32 or float64.
        Compiled on first call for each dtype and cached on disk, so another process with the same
        derivative does not compile again. Needs numba (`pip install ".[numba]"`)."""
        cache = self.__dict__.setdefault("_numba", {})
        if value not in cache:
            source, params = self._module("numba", value)
            function = getattr(load(source, self._name(value)), self._name(value))
            cache[value] = _keywords(function, params, function.__doc__)
        return cache[value]

    def array_api(self, value: bool = False) -> Callable[..., Any]:
        """The derivative as array-API-standard code: one function for NumPy, CuPy, JAX, PyTorch
        and Dask arrays, through `array_api_compat` (`pip install "matcalc-symbolic[array-api]"`)."""
        return _compile(*self._module("array-api", value), self._name(value))


class Derivation(GeneratedCode):
    """A derivative with its derivation: the result, the steps, LaTeX, and generated code."""

    def __init__(self, problem: Problem, wrt: str, result: Node, steps: list[Step],
                 notes: list[str], kind: str, function: Node,
                 continue_to_vec: Callable[[Derivation, bool], Derivation] | None = None):
        self.problem = problem
        self.wrt = wrt
        self.result = result
        self.derivation_steps = steps   # the rules applied; `steps` adds the naming of shared parts
        self.notes = notes
        self.kind = kind
        self.function = function      # the expression this is the derivative of (f, or ∂f/∂x)
        self.error: float | None = None
        self.unchecked_reason = NO_FINITE_POINT   # why a check found no usable point, if none did
        # where a default shape may not be what was meant (also in notes; the CLI's stderr)
        self.warnings = shape_warnings(problem, wrt, self.binding_names)
        self.notes = [n for n in notes if n not in self.warnings] + self.warnings
        # the API's next step for a linear map (api.kronecker_form); the result holds no pipeline
        self.continue_to_vec = continue_to_vec

    # -- the result ---------------------------------------------------------------------------------
    @property
    def label(self) -> Label:
        return Label(self.kind, self.wrt)

    @property
    def is_linear_map(self) -> bool:
        return self.kind in ("linear-map", "hessian-map")

    @cached_property
    def expr(self):
        """The result as a SymPy expression."""
        from .printing.readers.sympy import to_sympy  # SymPy loads only when asked for
        return to_sympy(self.result)

    @cached_property
    def _names_used(self) -> set[str]:
        """The bindings the result uses, and the ones their definitions use, as written."""
        used: set[str] = set()
        pending = [n for n in self.result.distinct() if n.op == "ref"]
        while pending:
            node = pending.pop()
            if node.value not in used:
                used.add(str(node.value))
                pending.extend(n for n in self.problem.written[str(node.value)].distinct()
                               if n.op == "ref")
        return used

    @cached_property
    def binding_names(self) -> list[str]:
        """The user's bindings the result uses, each after the ones it uses — as written, so that
        every name a printed definition shows is defined too."""
        return [n for n in self.problem.binding_order if n in self._names_used]

    @cached_property
    def partial_names(self) -> list[str]:
        """The partial products of a long product the derivation named and the result uses
        (partial_products.py), each after the ones it uses."""
        return [n for n in self.problem.partials if n in self._names_used]

    @cached_property
    def bindings(self) -> dict[str, Any]:
        """{name: SymPy expression} for each binding the result uses (and each partial product
        it names). Of the engine's form, not the user's (`where()`): SymPy orders sums and scalar
        products its own way, and a form as written may mix a scalar into a Hadamard product
        (1./p), which SymPy refuses."""
        from .printing.readers.sympy import to_sympy  # SymPy loads only when asked for
        return {n: to_sympy(self.problem.bindings[n])
                for n in self.binding_names + self.partial_names}

    @property
    def shape(self) -> tuple:
        return self.result.shape

    @cached_property
    def _naming(self) -> tuple[Node, list[tuple[str, Node]]]:
        """(the result with its repeated subexpressions named, [(t1, definition), …]); a
        DerivationSet names across its derivations and sets this for each."""
        (named,), definitions = name_shared([self.result], self._taken_names())
        return named, definitions

    def _taken_names(self) -> set[str]:
        return set(self.problem.variables) | set(self.problem.bindings) | {self.direction or ""}

    @property
    def named_result(self) -> Node:
        """The result as printed: a subexpression it repeats is a name (t1) defined in `where`."""
        return self._naming[0]

    @property
    def steps(self) -> list[Step]:
        """The derivation, and last the naming of repeated subexpressions (when there are any)."""
        named, definitions = self._naming
        if not definitions:
            return self.derivation_steps
        note = ", ".join(f"{n} = {to_text(body)}" for n, body in definitions)
        return [*self.derivation_steps, Step("shared", self.label, named, note)]

    def definitions(self) -> list[tuple[str, Node]]:
        """(name, expression) of each name the printed result uses: the user's bindings as they
        wrote them (their order of terms and factors, not the engine's), the partial products
        the derivation named (L1, R1, …), then the repeated subexpressions it names (t1, t2, …)."""
        return [(n, self.problem.written[n]) for n in self.binding_names + self.partial_names] \
            + self._naming[1]

    def result_text(self) -> str:
        """The result alone, in the input language."""
        return to_text(self.named_result)

    def where(self) -> list[tuple[str, str]]:
        """(name, definition) of each binding and named subexpression the result uses, in the
        input language."""
        return [(n, to_text(body)) for n, body in self.definitions()]

    def __str__(self) -> str:
        where = self.where()
        text = self.result_text()
        if where:
            text += " where " + ", ".join(f"{n} = {body}" for n, body in where)
        return text

    def __repr__(self) -> str:
        return f"<Derivation {self.label}: {self}>"

    # -- printers -----------------------------------------------------------------------------------
    def latex(self, steps: bool = False, standalone: bool = False) -> str:
        """LaTeX of the result; with steps=True the whole derivation as an align* environment;
        with standalone=True a complete document (problem, steps, result)."""
        if standalone:
            return standalone_document([self])
        return derivation_latex(self) if steps else result_latex(self)

    # -- notebooks ----------------------------------------------------------------------------------
    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"

    def _repr_markdown_(self) -> str:
        notes = "".join(f"\n\n*Note: {n}.*" for n in self.notes)
        return f"$${self.latex()}$$\n\n`{self}`{notes}"

    def with_steps(self) -> StepsView:
        """A view that displays the whole derivation in a notebook (`d.with_steps()` in a cell)."""
        return StepsView(self)

    def steps_text(self) -> str:
        """The numbered derivation, one line per rule applied."""
        width = max((len(s.lhs_text) for s in self.steps), default=0)
        lines = []
        for i, s in enumerate(self.steps, start=1):
            note = f" ({s.note})" if s.note else ""
            lines.append(f"{i:3d}  {s.lhs_text:<{width}} = {to_text(s.rhs)}    [{s.rule}{note}]")
        return "\n".join(lines)

    @cached_property
    def direction(self) -> str | None:
        """For a linear map: the name of the argument that holds d(X) in generated code."""
        if not self.is_linear_map:
            return None
        name = f"d{self.wrt}"
        while name in self.problem.variables:
            name += "_"
        return name

    def _code_outputs(self) -> tuple[dict[str, tuple], Node]:
        """The generated function's variables and output (d(X) becomes an argument)."""
        variables = argument_order(self.problem.variables, [self.wrt])
        result = self.result
        if self.direction is not None:
            shape = self.problem.variables[self.wrt]
            variables[self.direction] = shape
            result = _replace(result, algebra.apply("d", self.problem.variable(self.wrt)),
                              var(self.direction, shape))
        return variables, result

    @property
    def function_name(self) -> str:
        return _function_name(self.kind, self.wrt)

    def _generate(self, backend: str, value: bool = False) -> tuple[str, dict[str, str]]:
        variables, result = self._code_outputs()
        what = f"f and {self.label}" if value else self.label
        doc = f"{what} of f = {self.problem.text.strip()}\n\n    Result: {self}"
        outputs = [("f", self.problem.expr)] if value else []
        return generate_module(variables, self.problem.bindings, outputs + [(self.wrt, result)],
                               self._name(value), doc, BACKENDS[backend])

    def _directional(self) -> Callable:
        """The derivative along V, computed from the generated code (for the numeric check)."""
        code = self.numpy().__wrapped__
        params = self._module("numpy")[1]
        shape = self.problem.variables[self.wrt]
        rows = shape[0]

        def along(inputs: dict, v: np.ndarray, function_shape: tuple[int, int]):
            args = {params[n]: x for n, x in inputs.items()}
            if self.direction is not None:
                args[params[self.direction]] = to_user(v, shape)
                return code(**args)
            out = np.asarray(code(**args), dtype=float)
            if self.kind in ("kronecker", "hessian-kronecker"):   # vec(dF) = K*vec(dX)
                return (out @ v.ravel(order="F")).reshape(function_shape, order="F")
            if self.kind == "gradient":
                g = from_user(out, *v.shape)
                return float(np.sum(g * v)), float(np.sum(np.abs(g) * np.abs(v)))
            # a Jacobian or a Hessian: a matrix times the direction (a column)
            m = out.reshape(-1, v.shape[0]) if out.ndim == 2 else out.reshape(-1, 1)
            return m @ v if rows != 1 else m * float(v.reshape(()))

        return along

    def vec(self, verify: bool = True) -> Derivation:
        """A linear map dX ↦ dF in vec/Kronecker form: K with vec(dF) = K*vec(dX), where vec stacks
        columns (column-major). Its steps continue this derivation's.

        >>> import matcalc
        >>> print(matcalc.derive("A*X*B", wrt="X").vec())
        kron(B', A)
        """
        if self.continue_to_vec is None:
            raise DifferentiationError(f"the vec/Kronecker form is for linear maps; this result is "
                                       f"a {self.kind}")
        return self.continue_to_vec(self, verify)

    def record_check(self, error: float) -> float:
        """Take a numeric check's error into `d.error`, so that every check made of this result
        gives one account of it: the largest error any check found, nan only if no check found a
        usable point — and then, only then, the note "not checked numerically".
        """
        errors = [e for e in (self.error, error) if e is not None and not np.isnan(e)]
        self.error = max(errors) if errors else float("nan")
        self.notes = [n for n in self.notes if not n.startswith(NOT_CHECKED)]
        if np.isnan(self.error):
            self.notes.append(self.unchecked_note)
        return self.error

    @property
    def unchecked_note(self) -> str:
        """The note of a result no check could test, saying why."""
        return f"{NOT_CHECKED}: {self.unchecked_reason} (see README, Limits)"

    def check(self, trials: int = 5, seed: int = 1) -> float:
        """Largest relative error against central finite differences at random inputs; nan
        where no sampled point could tell a wrong result from a right one (then
        `unchecked_note` says why)."""
        error, why = derivative_check(self.function, self.problem.bindings,
                                      self.problem.variables, self.wrt, self._directional(),
                                      trials=trials, seed=seed, symmetric=self.problem.symmetric)
        if why and (self.error is None or np.isnan(self.error)):
            self.unchecked_reason = why
        return error

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (documented in README, 'JSON output')."""
        return {
            "schema": "matcalc.derivation/1",
            "input": self.problem.text,
            "wrt": self.wrt,
            "kind": self.kind,
            "variables": {n: [str(d) for d in s] for n, s in self.problem.variables.items()},
            "result": self.result_text(),
            "shape": [str(d) for d in self.result.shape],
            "where": dict(self.where()),
            "text": str(self),
            "latex": self.latex(),
            "steps": [{"rule": s.rule, "lhs": s.lhs_text, "rhs": to_text(s.rhs), "note": s.note}
                      for s in self.steps],
            "notes": self.notes,
            "check_error": None if self.error is None or np.isnan(self.error) else self.error,
            "numpy": self.source,
            "shapes": {n: {"shape": [str(d) for d in shape], "from": source}
                       for n, (shape, source) in self.problem.shape_sources().items()},
            "warnings": self.warnings,
        }

    def json(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)


class StepsView:
    """A derivation shown with its steps: typeset in Jupyter, numbered text elsewhere."""

    def __init__(self, derivation: Derivation):
        self.derivation = derivation

    def _repr_latex_(self) -> str:
        return self.derivation.latex(steps=True)

    def _repr_markdown_(self) -> str:
        return f"{self.derivation.latex(steps=True)}\n\n$${self.derivation.latex()}$$"

    def __str__(self) -> str:
        return self.derivation.steps_text()

    def __repr__(self) -> str:
        return f"{self.derivation.steps_text()}\n\n{self.derivation.label} = {self.derivation}"


class DerivationSet(GeneratedCode):
    """Gradients with respect to several variables, sharing one generated function."""

    function_name = "gradients"

    def __init__(self, derivations: list[Derivation]):
        self.derivations = derivations
        self.problem = derivations[-1].problem      # with every derivation's partial products
        # a subexpression repeated across the gradients is named once, for all of them
        named, definitions = name_shared([d.result for d in derivations],
                                         derivations[-1]._taken_names())
        for d, result in zip(derivations, named):
            used = {str(n.value) for n in result.distinct() if n.op == "ref"}
            for name, body in reversed(definitions):
                if name in used:
                    used |= {str(n.value) for n in body.distinct() if n.op == "ref"}
            d._naming = (result, [(n, body) for n, body in definitions if n in used])

    def __getitem__(self, wrt: str) -> Derivation:
        return next(d for d in self.derivations if d.wrt == wrt)

    def __iter__(self):
        return iter(self.derivations)

    def __len__(self) -> int:
        return len(self.derivations)

    @property
    def wrt(self) -> list[str]:
        return [d.wrt for d in self.derivations]

    def __str__(self) -> str:
        return "\n".join(f"{d.label} = {d}" for d in self.derivations)

    def _generate(self, backend: str, value: bool = False) -> tuple[str, dict[str, str]]:
        """One function returning every gradient (a tuple, in the order of `wrt`), after f
        with value=True."""
        what = "f and its gradients" if value else "Gradients"
        doc = (f"{what} of f = {self.problem.text.strip()} with respect to "
               f"{', '.join(self.wrt)}, in that order.")
        outputs = [("f", self.problem.expr)] if value else []
        return generate_module(argument_order(self.problem.variables, self.wrt),
                               self.problem.bindings,
                               outputs + [(d.wrt, d.result) for d in self.derivations],
                               self._name(value), doc, BACKENDS[backend])

    def __repr__(self) -> str:
        return f"<DerivationSet {', '.join(self.wrt)}:\n{self}>"

    def to_json(self) -> list[dict[str, Any]]:
        """One JSON object per variable (as `--format json` with several --wrt)."""
        return [d.to_json() for d in self.derivations]

    def json(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)

    def check(self, trials: int = 5, seed: int = 1) -> float:
        return max(d.check(trials, seed) for d in self.derivations)

    def latex(self, steps: bool = False, standalone: bool = False) -> str:
        """LaTeX of each result (see Derivation.latex); standalone=True gives one document."""
        if standalone:
            return standalone_document(self.derivations)
        return "\n".join(d.latex(steps) for d in self.derivations)

    def _repr_latex_(self) -> str:
        return "$$" + r" \\ ".join(d.latex() for d in self.derivations) + "$$"

    def _repr_markdown_(self) -> str:
        return "\n\n".join(d._repr_markdown_() for d in self.derivations)


def argument_order(variables: dict[str, tuple], wrt: list[str]) -> dict[str, tuple]:
    """The generated function's parameters: the variables of differentiation first, in the order
    they were asked for, then the others in order of first appearance in the input (a linear
    map's direction dX and `out=` come after them all).

    >>> list(argument_order({"W2": (), "W1": (), "x": (), "y": ()}, ["W1", "W2"]))
    ['W1', 'W2', 'x', 'y']
    """
    return {**{w: variables[w] for w in wrt}, **variables}


def _function_name(kind: str, wrt: str) -> str:
    stem = {"gradient": "grad", "jacobian": "jacobian", "linear-map": "differential",
            "hessian": "hessian", "hessian-map": "hessian_map", "kronecker": "kronecker",
            "hessian-kronecker": "hessian_kronecker"}[kind]
    return f"{stem}_{wrt}" if wrt.isidentifier() and wrt.isascii() else stem


def _compile(source: str, params: dict[str, str], function_name: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<matcalc {function_name}>", "exec"), namespace)  # noqa: S102 — our code
    function = namespace[function_name]
    return _keywords(function, params, function.__doc__)


def _keywords(function: Callable[..., Any], params: dict[str, str],
              doc: str | None) -> Callable[..., Any]:
    """`function` called with the user's variable names as keywords (params: user → Python)."""

    def call(**arrays: Any) -> Any:
        buffer = {"out": arrays.pop("out")} if "out" in arrays and "out" not in params else {}
        missing = [n for n in params if n not in arrays]
        unknown = [n for n in arrays if n not in params]
        if missing or unknown:
            raise TypeError(f"expected the variables {', '.join(params)}"
                            + (f"; missing {', '.join(missing)}" if missing else "")
                            + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        return function(**{params[n]: v for n, v in arrays.items()}, **buffer)

    call.__doc__ = doc
    call.__wrapped__ = function  # type: ignore[attr-defined]
    return call


def _replace(node: Node, old: Node, new: Node) -> Node:
    if node == old:
        return new
    if not node.args:
        return node
    return algebra.rebuild(node, tuple(_replace(a, old, new) for a in node.args))
