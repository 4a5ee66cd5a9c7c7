"""What a new user trips over (issue 17): each item's regression, every derivative checked
against central finite differences (numeric.py), never by its string alone."""
from __future__ import annotations

import pytest
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
