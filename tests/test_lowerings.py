"""Every lowering of a product in generated code (printing/code.py, LOWERINGS) checked numerically.

Each case is an expression whose NumPy code must use the named lowering; the code's value is
compared with the interpreter's (verify.evaluate), which knows nothing of lowerings. A lowering no
case uses fails `test_every_lowering_is_exercised`, so a new one cannot go unchecked.
"""
from __future__ import annotations

import numpy as np
import pytest

from matcalc.parse import parse
from matcalc.printing.backends.numpy import NUMPY
from matcalc.printing.codegen.code import LOWERINGS, CodePrinter
from matcalc.shapes import build_problem
from matcalc.verify import evaluate, to_user

SHAPES = {"A": (4, 4), "B": (4, 3), "M": (4, 3), "R": (4, 3), "v": (4,), "w": (3,), "u": (4,),
          "x": (4,), "y": (4,), "c": ()}
CASES = [
    ("diagonal-scaling-left", "diag(v)*M"),
    ("diagonal-scaling-left", "diag(v)*vector(2)"),
    ("diagonal-scaling-left", "diag(v)*x"),
    ("diagonal-scaling-right", "M*diag(w)"),
    ("diagonal-scaling-right", "x'*diag(v)"),
    ("solve-left", "inv(A)*B"),
    ("solve-left", "inv(A)'*x"),
    ("solve-right", "B'*inv(A)"),
    ("solve-right", "x'*inv(A)'"),
    ("outer-product", "u*w'"),
    ("outer-product", "c*u*vector(1)'*diag(w)"),
    ("outer-product", "(x + vector(3))*w' - x*w'"),
    ("column-sums", "vector(1)'*R"),
    ("column-sums", "vector(2)'*R"),
    ("row-sums", "R*vector(1)"),
    ("scaling", "A*x*y'*B*w"),
    ("scaling", "B'*x*y'*A*v"),
    ("matrix-product", "A*B"),
    ("matrix-product", "(A + matrix(2))*B - A*B"),
]


def _printed(text: str):
    problem = build_problem(parse(text), {n: s for n, s in SHAPES.items() if n in text})
    names = {problem.variable(n): n for n in problem.variables}
    dims = {d: f"{n}.shape[{i if s[1] != 1 else 0}]" for n, s in problem.variables.items()
            for i, d in enumerate(s) if not isinstance(d, int)}
    arrays = [n for n, shape in problem.variables.items() if shape != (1, 1)]
    printer = CodePrinter(NUMPY, names, dims, arrays[0])
    return problem, printer, printer.doprint(problem.expr)


@pytest.mark.parametrize("lowering, text", CASES)
def test_lowering_computes_the_product(lowering, text):
    problem, printer, code = _printed(text)
    assert lowering in printer.lowerings, f"{text} printed as {code}"
    rng = np.random.default_rng(1)
    env = {n: rng.standard_normal((r, c)) + (4 * np.eye(r) if r == c and r > 1 else 0)
           for n, (r, c) in problem.variables.items()}
    namespace = {"np": np}
    for helper in printer.helpers:
        exec(NUMPY.helpers[helper], namespace)     # noqa: S102 (our own helper source)
    namespace.update({n: to_user(x, problem.variables[n]) for n, x in env.items()})
    got = eval(code, namespace)
    expected = evaluate(problem.expr, dict(env, __dims__={}), {})
    np.testing.assert_allclose(np.reshape(got, expected.shape) if np.size(got) == expected.size
                               else got, expected, rtol=1e-12, atol=1e-12)


def test_every_lowering_is_exercised():
    assert {name for name, _, _ in LOWERINGS} == {lowering for lowering, _ in CASES}
