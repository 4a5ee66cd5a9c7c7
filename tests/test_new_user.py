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
from numeric import check_gradient, finite_difference_gradient

import matcalc
from matcalc.cli import main
from matcalc.verify import evaluate


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


# -- item 6: one check, one account -----------------------------------------------------------------

@pytest.mark.parametrize("expr, wrt", [("c'*x - sum(log(b - A*x))", "x"),
                                       ("sum(log(b - A*x))*mu", "x"),
                                       ("sum(inv(u)) where u = exp(S - S)", "S")])
def test_check_gives_one_account_in_text_and_json(expr, wrt):
    text = run("derive", expr, "--wrt", wrt, "--check").stdout
    data = json.loads(run("derive", expr, "--wrt", wrt, "--check", "--format", "json").stdout)
    check_lines = [line for line in text.splitlines() if line.startswith("check")]
    assert len(check_lines) == 1 and text.count("not checked") <= 1, text
    if data["check_error"] is None:
        assert "not checked numerically" in check_lines[0]
        assert sum("not checked numerically" in n for n in data["notes"]) == 1
    else:
        assert check_lines[0].endswith(f"{data['check_error']:.1e}"), (text, data["check_error"])
        assert not any("not checked" in n for n in data["notes"]) and "note:" not in text
        d = matcalc.derive(expr, wrt=wrt, shapes={"A": (4, 3)})
        rng = np.random.default_rng(2)
        values = {"A": rng.standard_normal((4, 3)), "x": rng.standard_normal(3),
                  "b": 10 + rng.random(4), "c": rng.standard_normal(3), "mu": 0.7}
        gradient_at(d, values)      # b - A*x > 0: inside the domain of log


def gradient_at(d, values: dict) -> np.ndarray:
    """d's generated gradient at `values`, checked against central differences of f there."""
    values = {n: v for n, v in values.items() if n in d.problem.variables}
    env = {n: np.array(v, dtype=float, ndmin=2).reshape(np.shape(v) if np.ndim(v) == 2 else (-1, 1))
           for n, v in values.items()}

    def f(x):
        return float(evaluate(d.problem.expr, {**env, d.wrt: x}, d.problem.bindings).reshape(()))

    numeric = finite_difference_gradient(f, env[d.wrt])
    got = np.reshape(d.numpy()(**values), numeric.shape)
    assert np.allclose(got, numeric, rtol=1e-6, atol=1e-8), (str(d), got, numeric)
    return got


def test_record_check_merges_errors():
    d = matcalc.derive("x'*x", wrt="x", verify=False)
    assert d.error is None
    assert np.isnan(d.record_check(float("nan"))) and d.notes[-1].startswith("not checked")
    assert d.record_check(1e-9) == 1e-9 and d.notes == []
    assert d.record_check(float("nan")) == 1e-9 and d.record_check(1e-12) == 1e-9


# -- item 3: visible shapes; a binding defines its name's shape; warnings about defaults ------------

def test_a_binding_of_any_name_defines_its_shape():
    d = check_gradient("mu = W1*x + b1; sum(sigmoid(mu))", "W1")
    assert d.problem.shape_sources()["mu"][1] == "binding" and d.problem.bindings["mu"].is_column
    assert d.warnings == []
    check_gradient("lambda = x.*x; lambda'*lambda", "x")       # a Greek name, a Python keyword


def test_a_declared_shape_of_a_bound_name_must_be_its_bindings():
    check_gradient("mu = W1*x + b1; sum(sigmoid(mu))", "W1", shapes={"mu": ("k",), "b1": ("k",)})
    result = run("derive", "mu = W1*x + b1; sum(mu)", "--wrt", "W1", "--shape", "mu=scalar")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "mu is declared a scalar, but its binding W1*x + b1 is" in result.output
    assert "\n  mu = W1*x + b1; sum(mu)\n       ^^^^^^^^^\n" in result.output


MAHALANOBIS = "0.5*(x - mu)'*inv(S)*(x - mu)"


def test_a_greek_default_scalar_used_as_a_vector_is_warned_about():
    d = matcalc.derive(MAHALANOBIS, wrt="mu")
    assert len(d.warnings) == 1 and d.warnings[0] in d.notes
    assert "mu is a scalar by default (a Greek name)" in d.warnings[0]
    result = run("derive", MAHALANOBIS, "--wrt", "mu")
    assert result.exit_code == 0
    assert f"matcalc: warning: {d.warnings[0]}\n" in result.stderr
    assert "shapes: mu scalar," in result.stdout and "warning" not in result.stdout
    # declared a vector: no warning, and the textbook gradient
    d = check_gradient(MAHALANOBIS, "mu", shapes={"mu": ("n",), "x": ("n",)},
                       expected=lambda x, mu, S: -0.5 * (np.linalg.inv(S) + np.linalg.inv(S).T)
                       @ (x - mu))
    assert d.warnings == []


NORMAL_LOGLIK = "n/2*logdet(S) + tr(inv(S)*C)"


def test_a_default_that_makes_f_non_scalar_is_warned_about():
    d = matcalc.derive(NORMAL_LOGLIK, wrt="S")
    assert d.kind == "linear-map" and len(d.warnings) == 1
    assert d.warnings[0].startswith("f is a vector of length len(n), not a scalar: n is a vector "
                                    "by default")
    assert "matcalc: warning: f is a vector" in run("derive", NORMAL_LOGLIK, "--wrt", "S").stderr
    d = check_gradient(NORMAL_LOGLIK, "S", shapes={"n": ()})
    assert d.kind == "gradient" and d.warnings == []
    # differentiating with respect to the vector itself is no surprise: no warning
    assert matcalc.derive("x/2", wrt="x").warnings == []


def test_shapes_are_shown_in_text_json_and_latex():
    args = ["derive", "t*x'*A*x", "--wrt", "x", "--shape", "A=3,3", "--shape", "t=scalar"]
    assert run(*args).stdout.splitlines()[-1] == "shapes: A 3×3, t scalar (declared); x 3×1 " \
                                                 "(by default)"
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["shapes"] == {"t": {"shape": ["1", "1"], "from": "declared"},
                              "x": {"shape": ["3", "1"], "from": "default"},
                              "A": {"shape": ["3", "3"], "from": "declared"}}
    assert data["warnings"] == []
    assert run(*args, "--format", "latex").stdout.splitlines()[-1].startswith("% shapes: A 3×3")
    check_gradient("t*x'*A*x", "x", shapes={"A": (3, 3), "t": ()})


# -- item 10: the smaller ones ------------------------------------------------------------------------

def test_a_matrix_power_of_a_vector_suggests_the_elementwise_power():
    result = run("derive", "sum(x^2)", "--wrt", "x")
    assert result.exit_code == 2 and "use .^ for an elementwise power" in result.output
    assert "\n  sum(x^2)\n      ^^^\n" in result.output
    check_gradient("sum(x.^2)", "x", expected=lambda x: 2 * x)


@pytest.mark.parametrize("text", ["2^1000*sum(x)", "(2^10)^100*sum(x)", "1e200*1e200*sum(x)",
                                  "2^-2000*sum(x)"])
def test_a_computed_number_out_of_range_is_refused(text):
    result = run("derive", text, "--wrt", "x")
    assert result.exit_code == 2 and "out of range" in result.output and "^^^" in result.output


def test_numbers_in_range_still_fold():
    check_gradient("2^10*sum(x) + 0^2*sum(x)", "x", expected=lambda x: 1024 + 0 * x)


def test_shape_options_are_checked():
    result = run("derive", "x'*x", "--wrt", "x", "--shape", "x=")
    assert result.exit_code == 2 and "NAME=DIMS" in result.output
    result = run("derive", "x'*x", "--wrt", "x", "--shape", "x=3", "--shape", "x=4")
    assert result.exit_code == 0 and "--shape x is given twice; the last, x=4, is used" in \
        result.stderr and "shapes: x 4×1 (declared)" in result.stdout
    result = run("derive", "x'*x", "--wrt", "x", "--shape", "q=3")
    assert "warning: a shape is declared for q, which does not appear" in result.stderr


def test_an_unused_binding_is_warned_about():
    d = check_gradient("u = exp(x); v = x.*x; sum(v)", "x", expected=lambda x: 2 * x)
    assert d.warnings == ["the binding u = exp(x) is not used"]


def test_a_repeated_wrt_is_one_variable():
    result = run("derive", "x'*x", "--wrt", "x", "--wrt", "x")
    assert result.exit_code == 0 and result.stdout.count("∂f/∂x = 2*x") == 1


def test_hessian_help_says_one_variable_and_standalone_needs_latex():
    assert "(one variable)" in run("hessian", "--help").output
    assert "(repeat for several)" in run("derive", "--help").output
    result = run("derive", "x'*x", "--wrt", "x", "--standalone")
    assert result.exit_code == 2 and "add --format latex" in result.output


def test_eye_n_is_documented():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "`eye(n)`" in readme
    check_gradient("tr(eye(3)*X)", "X", shapes={"X": (3, 3)}, expected=lambda X: np.eye(3))


def test_results_and_steps_show_themselves_in_a_terminal():
    ds = matcalc.derive("sum((W2*tanh(W1*x) - y).^2)", wrt=["W1", "W2"])
    assert repr(ds).startswith("<DerivationSet W1, W2:\n∂f/∂W1 = ")
    assert [o["wrt"] for o in json.loads(ds.json())] == ["W1", "W2"]
    d = matcalc.derive("x'*x", wrt="x")
    assert repr(d.with_steps()).endswith("∂f/∂x = 2*x") and "[product]" in repr(d.with_steps())


def test_generated_arguments_come_in_a_documented_order():
    """The variables of differentiation first (in the order of wrt), then the others in order of
    first appearance, then a linear map's direction — a deliberate change (issue 17, item 10):
    they were all in order of appearance, gradients(W2, W1, x, y)."""
    import inspect
    ds = matcalc.derive("sum((W2*tanh(W1*x) - y).^2)", wrt=["W1", "W2"])
    assert "def gradients(W1, W2, x, y, out=None)" in ds.source or \
        "def gradients(W1, W2, x, y)" in ds.source
    rng = np.random.default_rng(0)
    W1, W2, x, y = (rng.standard_normal(s) for s in [(3, 2), (4, 3), 2, 4])
    positional = ds.numpy().__wrapped__(W1, W2, x, y)
    by_name = ds.numpy()(W2=W2, W1=W1, y=y, x=x)
    for got, want in zip(positional, by_name):
        assert np.array_equal(got, want)
    for wrt in ("W1", "W2"):
        check_gradient("sum((W2*tanh(W1*x) - y).^2)", wrt)
    h = matcalc.hessian("sum(softplus(-y.*(X*w)))", wrt="w")
    assert list(inspect.signature(h.numpy().__wrapped__).parameters)[:3] == ["w", "y", "X"]
    m = matcalc.derive("A*X*B", wrt="X")
    assert list(inspect.signature(m.numpy().__wrapped__).parameters)[:4] == ["X", "A", "B", "dX"]


def test_a_numeric_identity_keeps_its_size_in_text():
    d = check_gradient("tr(eye(5))*sum(x)", "x", expected=lambda x: 5 + 0 * x)
    assert "eye(5)" in str(d) or str(d) == "vector(5)"
