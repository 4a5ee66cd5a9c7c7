"""What a new user trips over (issue 17): each item's regression, every derivative checked
against central finite differences (numeric.py), never by its string alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
from click.testing import CliRunner
from numeric import check_gradient

import matcalc
from matcalc.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


# -- item 2: an expression that starts with '-' ---------------------------------------------------

@pytest.mark.parametrize("args", [
    ["derive", "-y'*log(softmax(W*x))", "--wrt", "W"],
    ["derive", "--wrt", "W", "-y'*log(softmax(W*x))"],
    ["derive", "--shape", "x=3", "-tanh(x)'*x", "--wrt=x", "--check"],
    ["hessian", "-sum(log(x))", "--wrt", "x"],
])
def test_an_expression_starting_with_minus_is_the_expression(args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    expr = next(a for a in args if a.startswith("-") and not a.startswith("--"))
    wrt = args[args.index("--wrt") + 1] if "--wrt" in args else "x"
    compute = matcalc.hessian if args[0] == "hessian" else matcalc.derive
    d = compute(expr, wrt=wrt, shapes={"x": (3,)} if "--shape" in args else None)
    assert f"= {d}" in result.stdout.splitlines()[0]
    if args[0] == "derive":
        check_gradient(expr, wrt, shapes={"x": (3,)} if "--shape" in args else None)


def test_options_still_work_and_a_mistyped_option_is_still_refused():
    assert "Usage:" in run("derive", "-x'*x", "--wrt", "x", "-h").output
    result = run("derive", "-x'*x", "--wrt", "x", "--frmat", "json")
    assert result.exit_code == 2 and "No such option '--frmat'" in result.output


# -- item 9: every kind of result converts to SymPy -----------------------------------------------

def _sympy_value(expr, values: dict[str, np.ndarray]) -> np.ndarray:
    """d.expr evaluated with numbers for its symbols (integer dimensions only)."""
    subs = {s: sympy.ImmutableMatrix(values[s.name]) for s in expr.atoms(sympy.MatrixSymbol)}
    subs.update({i: i.as_explicit() for i in expr.atoms(sympy.Identity)})
    return np.array(expr.subs(subs).doit(), dtype=float)


@pytest.mark.parametrize("compute, text, wrt, shapes", [
    (matcalc.derive, "X'*X", "X", {"X": (3, 2)}),                  # the Jacobian of X'*X
    (matcalc.hessian, "logdet(X'*X)", "X", {"X": (3, 2)}),
    (matcalc.hessian, "norm2(X'*X - eye)^2", "X", {"X": (3, 2)}),
    (matcalc.derive, "P*H'*inv(H*P*H' + R)", "H", {"H": (2, 3), "P": (3, 3), "R": (2, 2)}),
])
def test_results_with_a_commutation_matrix_convert_to_sympy(compute, text, wrt, shapes):
    d = compute(text, wrt=wrt, shapes=shapes).vec()
    assert "commutation(" in str(d)
    expr = d.expr
    sympy.latex(expr), sympy.srepr(expr)
    rng = np.random.default_rng(0)
    values = {n: rng.standard_normal(s if len(s) == 2 else (*s, 1)) + 3 * np.eye(*s[:1], s[-1])
              for n, s in shapes.items()}
    assert np.allclose(_sympy_value(expr, values), d.numpy()(**values), atol=1e-9)
    assert d.check() < 1e-6


def test_the_commutation_matrix_in_sympy_is_the_permutation():
    from matcalc.printing.sympy import CommutationMatrix, Vec
    A = sympy.Matrix(2, 3, lambda i, j: 10 * i + j)
    K = CommutationMatrix(2, 3).as_explicit()
    assert K * Vec(A).as_explicit() == Vec(A.T).as_explicit()


# -- item 7: a legacy console -----------------------------------------------------------------------

def test_a_legacy_console_gets_ascii_not_a_traceback():
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    proc = subprocess.run([sys.executable, "cli.py", "hessian", "sum(sigmoid(x))", "--wrt", "x",
                           "--steps"], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr
    out = proc.stdout.decode("cp1252")
    assert "d^2f/dx^2 = diag(" in out and "[sigmoid']" in out


@pytest.mark.parametrize("args", [["derive", "x'*x", "--wrt", "x", "--check"],
                                  ["derive", "sum(abs(x))", "--wrt", "x", "--format", "json"],
                                  ["derive", "X*a", "--wrt", "X", "--shape", "X=m,n"]])
def test_every_output_survives_a_legacy_console(args):
    result = CliRunner(charset="ascii").invoke(main, args)
    assert result.exit_code in (0, 2), result.exception
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    if "--check" in args:
        assert "df/dx = 2*x" in result.output
    if "json" in args:
        assert json.loads(result.output)["result"] == "sign(x)"
