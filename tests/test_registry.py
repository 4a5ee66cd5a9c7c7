"""The operator registry has no silent holes.

Every row must give what each printer and each backend needs: a shape rule, a NumPy evaluation, its
text, LaTeX and SymPy forms, and a spelling for every code backend (or a method of the code printer
that lowers it). A row that lacks one fails here, not in a user's generated code. The spelled
operators are then evaluated through the generated code of every installed backend and compared
with the registry's own NumPy evaluation.
"""
from __future__ import annotations

import importlib
import re

import numpy as np
import pytest
from numeric import sympy_value

import matcalc
from matcalc import operators
from matcalc.operators import BACKEND_NAMES, LOWERED, NAMED, NO_CODE, REGISTRY, SYNTAX, Operator
from matcalc.parse import parse
from matcalc.printing.backends import BACKENDS as BACKEND_TABLES
from matcalc.printing.codegen.code import CodePrinter
from matcalc.printing.codegen.module import generate_module
from matcalc.printing.readers.latex import LatexPrinter
from matcalc.printing.readers.sympy import to_sympy
from matcalc.printing.readers.text import TextPrinter
from matcalc.rules import load_rules
from matcalc.shapes import build_problem
from matcalc.verify import evaluate, to_user

# the library object each backend's templates start from, where the library is installed
LIBRARIES = {"numpy": ("np", "numpy"), "jax": ("jnp", "jax.numpy"), "torch": ("torch", "torch"),
             "array-api": ("xp", "array_api_strict")}
LEAVES_WITHOUT_VALUE = {"var", "ref"}           # evaluated from the inputs, not by a row


def holes(op: Operator) -> list[str]:
    """What a printer or backend would need from this row and does not find."""
    missing = []
    if op.rule_only and op.code not in (NAMED, NO_CODE):
        missing.append("no code: a rule-only form never reaches generated code")
    if not callable(op.shape):
        missing.append("a shape rule")
    if op.evaluate is None and not op.rule_only and op.name not in LEAVES_WITHOUT_VALUE:
        missing.append("a NumPy evaluation")
    for printer, form in ((TextPrinter, op.text), (LatexPrinter, op.latex)):
        if form == SYNTAX and not hasattr(printer, f"_print_{op.name}"):
            missing.append(f"a {printer.__name__} method for its syntax")
    if op.latex != SYNTAX and any(int(i) >= op.arity for i in re.findall(r"\{(\d)", op.latex)):
        missing.append("a LaTeX template over its own operands")
    if op.sympy is None and op.name not in LEAVES_WITHOUT_VALUE | {"const"}:
        missing.append("a SymPy form")
    if op.code in (NAMED, NO_CODE):
        return missing
    if op.code == LOWERED:
        if not hasattr(CodePrinter, f"_print_{op.name}"):
            missing.append("a CodePrinter method lowering it")
        return missing
    for backend in BACKEND_NAMES:
        template = op.code.get(backend)  # type: ignore[union-attr]
        if template is None:
            missing.append(f"a {backend} spelling")
            continue
        helpers = set(re.findall(r"\b(_\w+)\(", template)) - set(BACKEND_TABLES[backend].helpers)
        if helpers:
            missing.append(f"the {backend} helper {', '.join(sorted(helpers))}")
        missing += [f"{backend}: {name} does not exist" for name in _absent_calls(backend, template)]
    return missing


def _absent_calls(backend: str, template: str) -> list[str]:
    """Library functions a template calls that the installed library does not have."""
    prefix, module_name = LIBRARIES[backend]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return []
    roots = {prefix: module}
    if backend == "jax":
        roots["jax"] = importlib.import_module("jax")
    absent = []
    for dotted in re.findall(r"\b((?:" + "|".join(roots) + r")(?:\.\w+)+)\(", template):
        root, *path = dotted.split(".")
        obj = roots[root]
        for part in path:
            obj = getattr(obj, part, None)
        if obj is None:
            absent.append(dotted)
    return absent


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_row_has_what_printers_and_backends_need(name):
    assert holes(REGISTRY[name]) == []


def test_a_row_with_a_hole_is_found():
    row = operators.elementwise("softsign", lambda x: x / (1 + np.abs(x)), r"\operatorname{ss}",
                                lambda S, t: t, code={"numpy": "np.softsign({0})",
                                                      "jax": "_softsign({0})"})
    found = holes(row)
    assert "a torch spelling" in found and "a array-api spelling" in found
    assert "the jax helper _softsign" in found
    assert "numpy: np.softsign does not exist" in found


def test_every_elementwise_row_has_its_derivative_rule():
    rules = load_rules().elementwise
    assert sorted(op.name for op in REGISTRY.values() if op.elementwise) == sorted(rules)


def _call_text(op: Operator) -> tuple[str, dict]:
    """A call of the operator and shapes for its operands that its domain admits."""
    if op.dimension is not None:        # sum(X, 2): a matrix, along the row's dimension
        return f"{op.spelling}(X, {op.dimension})", {"X": (4, 3)}
    if op.arity == 2:
        for a, b in (((2, 3), (3, 2)), ((3, 3), (3, 2)), ((3, 3), (3, 3))):
            try:
                op.shape([a, b], _strict)
            except operators.ShapeMismatch:
                continue
            return f"{op.spelling}(A, B)", {"A": a, "B": b}
    if op.accepts is not None and op.accepts((4, 1)):
        return f"{op.spelling}(x)", {"x": (4,)}
    try:
        op.shape([(4, 3)], _strict)
    except operators.ShapeMismatch:
        return (f"{op.spelling}(x)", {"x": (4,)}) if op.domain == "real" else \
            (f"{op.spelling}(S)", {"S": (3, 3)})
    return f"{op.spelling}(X)", {"X": (4, 3)}


def _strict(a: object, b: object) -> None:
    if a != b:
        raise operators.ShapeMismatch(f"{a} ≠ {b}")


# eigenvectors and singular vectors: each column is determined up to its sign only
SIGN_FREE = {"eigvecs", "eigvecmax", "eigvecmin", "svdu", "svdv"}


def _signs_fixed(x: np.ndarray) -> np.ndarray:
    """Each column multiplied by the sign of its largest entry in magnitude."""
    top = x[np.argmax(np.abs(x), axis=0), np.arange(x.shape[1])]
    return x * np.sign(top)


SPELLED = sorted(op.name for op in REGISTRY.values() if op.spelling is not None)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("name", SPELLED)
def test_generated_code_computes_what_the_registry_evaluates(name, backend):
    """Each spelled operator through the generated code of each installed backend, against the
    row's NumPy evaluation (the one the self-check uses)."""
    from test_backends import _run

    if backend == "jax":       # float64, as NumPy
        pytest.importorskip("jax").config.update("jax_enable_x64", True)
    text, shapes = _call_text(REGISTRY[name])
    problem = build_problem(parse(text), shapes)
    assert problem.expr.op == name, f"{text} was built as {problem.expr.op}"
    rng = np.random.default_rng(0)
    env = {n: rng.uniform(0.5, 1.5, (r, c)) + (3 * np.eye(r) if r == c else 0)
           for n, (r, c) in problem.variables.items()}
    expected = evaluate(problem.expr, dict(env, __dims__={}), {})

    class Result:       # what _run expects of a derivation: its code, per backend
        def code(self, backend_name):
            return generate_module(problem.variables, {}, [("value", problem.expr)], "value",
                                   text, BACKEND_TABLES[backend_name])[0]
    result = Result()
    result.numpy = lambda: _compiled(result.code("numpy"))
    result.jax = lambda: _compiled(result.code("jax"))
    result.torch = lambda: _compiled(result.code("torch"))
    result.array_api = lambda: _compiled(result.code("array-api"))
    inputs = {n: to_user(x, problem.variables[n]) for n, x in env.items()}
    if backend in REGISTRY[name].refused_by:      # the library lacks it: a clear refusal
        with pytest.raises(NotImplementedError, match=" has no "):
            _run(backend, result, inputs)
        return
    got = np.asarray(_run(backend, result, inputs), dtype=float)
    if name in SIGN_FREE:     # each column up to its sign (LAPACK builds differ): signs fixed
        got, expected = (_signs_fixed(np.reshape(x, expected.shape)) for x in (got, expected))
    np.testing.assert_allclose(got.reshape(expected.shape) if got.size == expected.size else got,
                               expected, rtol=1e-9, atol=1e-12)
    # the readers' forms exist and mention the operator's operands
    assert to_sympy(problem.expr) is not None
    assert LatexPrinter().doprint(problem.expr)


def _compiled(source: str):
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)   # noqa: S102 (our generated code)
    return namespace["value"]


@pytest.mark.parametrize("name", sorted(op.name for op in REGISTRY.values() if op.elementwise))
def test_sympy_input_reads_every_elementwise_function(name):
    """d.expr's SymPy form of f(X), read back as SymPy input, is f(X) again (one formula each)."""
    from matcalc.sympy_input import from_sympy

    problem = build_problem(parse(f"{name}(X)"), {"X": (3, 2)})
    text, shapes = from_sympy(to_sympy(problem.expr))
    assert text == f"{name}(X)" and shapes == {"X": (3, 2)}


def _sample(problem, seed: int, symmetric: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    env = {}
    for n, (r, c) in problem.variables.items():
        x = rng.uniform(0.5, 1.5, (r, c)) + (3 * np.eye(r) if r == c else 0)
        env[n] = (x + x.T) / 2 if symmetric and r == c else x
    return env


@pytest.mark.parametrize("name", [n for n in SPELLED if REGISTRY[n].linear])
def test_operators_declared_linear_are_linear(name):
    text, shapes = _call_text(REGISTRY[name])
    problem = build_problem(parse(text), shapes)
    x, y = _sample(problem, 1), _sample(problem, 2)
    mixed = {n: 2.5 * x[n] - 0.5 * y[n] for n in x}
    value = lambda env: evaluate(problem.expr, dict(env, __dims__={}), {})
    np.testing.assert_allclose(value(mixed), 2.5 * value(x) - 0.5 * value(y), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("name", [n for n in SPELLED if REGISTRY[n].symmetric_result
                                  or REGISTRY[n].keeps_symmetry])
def test_operators_declared_symmetric_give_symmetric_values(name):
    text, shapes = _call_text(REGISTRY[name])
    problem = build_problem(parse(text), shapes)
    value = evaluate(problem.expr, dict(_sample(problem, 3, symmetric=True), __dims__={}), {})
    if value.shape[0] == value.shape[1]:
        np.testing.assert_allclose(value, value.T, rtol=1e-12, atol=1e-12)


def test_the_registry_spells_exactly_the_backends_there_are():
    """Each backend table has its column in the registry, but for a backend that generates another
    library's code (numba: NumPy code with compiled loops), which reads that library's column."""
    own = {name for name, table in BACKEND_TABLES.items() if not table.spells_as}
    assert set(BACKEND_NAMES) == own
    assert {table.spells_as for table in BACKEND_TABLES.values() if table.spells_as} <= own


@pytest.mark.parametrize("expr", ["A*X*B", "X'", "inv(X)"])
def test_the_sympy_form_of_a_kronecker_result_computes_its_values(expr):
    """d.expr of kron(B', A) keeps both factors (it once dropped one) and evaluates as NumPy does."""
    d = matcalc.derive(expr, wrt="X", shapes={"A": (2, 3), "X": (3, 3), "B": (3, 2)}).vec()
    rng = np.random.default_rng(4)
    inputs = {n: rng.uniform(0.5, 1.5, s) + (3 * np.eye(3) if n == "X" else 0)
              for n, s in d.problem.variables.items()}
    expected = np.asarray(d.numpy()(**inputs), dtype=float)
    np.testing.assert_allclose(sympy_value(d, inputs).reshape(expected.shape), expected,
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", SPELLED)
def test_every_spelled_operator_reads_with_unknown_dimensions(name):
    """In user input, with shapes left to inference (symbolic dimensions): a result or a
    MatcalcError, never another exception (kron and vec once crashed here)."""
    text, _ = _call_text(REGISTRY[name])
    try:
        matcalc.derive(f"sum({text})" if REGISTRY[name].arity == 1 else text,
                       wrt=text[text.index("(") + 1])
    except matcalc.MatcalcError:
        pass


@pytest.mark.parametrize("text, shape", [
    ("kron(A, B)", "rows(A)*rows(B)×cols(A)*cols(B)"), ("vec(A)", "cols(A)*rows(A)×1"),
    ("khatrirao(A, B)", "rows(A)*rows(B)×cols(B)"), ("kronleft(kron(A, B), B)", "rows(A)×cols(A)")])
def test_kronecker_products_are_input_with_unknown_dimensions(text, shape):
    """kron, vec and khatrirao read as input, their sizes products of the operands' unknown
    dimensions (once a ParseError: the dimensions could not multiply unknowns)."""
    problem = build_problem(parse(text))
    assert "×".join(map(str, problem.expr.shape)) == shape
