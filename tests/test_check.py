"""`matcalc check` / `matcalc.check`: is a claimed derivative right, and if not, what is wrong?

One claim per row — right ones and each kind of wrong one — with the verdict and diagnosis. The
check's own verdict is numeric (claim against matcalc's derivative, itself checked against finite
differences); for gradients the tests go further and compare every claim with central differences
of f directly, so a right verdict on a wrong claim (or the reverse) cannot pass.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from numeric import finite_difference_gradient

import matcalc
from matcalc.check import _dimension_names, _read_claim
from matcalc.cli import main
from matcalc.verify import dimension_sizes, evaluate, sample_inputs

SEED = "w'*w where w = sigmoid(X'*a)"
QUAD = "x'*A*x"
LOGREG = "sum(softplus(X*w)) - y'*X*w where p = sigmoid(X*w)"
SYM = {"symmetric": {"S"}}

# (expression, variable, claim, keyword arguments, diagnosis)
CLAIMS = [
    # the seed
    (SEED, "X", "2*a*(w.^2 - w.^3)'", {}, "right"),
    (SEED, "X", "2*a*(w.*(w - w.^2))'", {}, "right"),
    (SEED, "X", "2*a*(s.^2 - s.^3)' where s = sigmoid(X'*a)", {}, "right"),
    (SEED, "X", "2*(w.^2 - w.^3)*a'", {}, "transposed"),
    (SEED, "X", "a*(w.^2 - w.^3)'", {}, "factor"),
    (SEED, "X", "4*a*(w.^2 - w.^3)'", {}, "factor"),
    (SEED, "X", "-2*a*(w.^2 - w.^3)'", {}, "factor"),
    (SEED, "X", "2*a*(w.^2)'", {}, "missing-term"),
    (SEED, "X", "2*a*w'", {}, "wrong-terms"),
    (SEED, "X", "2*(w.^2 - w.^3)", {}, "shape"),
    # quadratic forms: the symmetric-A slip
    (QUAD, "x", "A*x + A'*x", {}, "right"),
    (QUAD, "x", "(A + A')*x", {}, "right"),
    (QUAD, "x", "2*A*x", {}, "needs-symmetric"),
    (QUAD, "x", "2*A'*x", {}, "needs-symmetric"),
    (QUAD, "x", "2*A*x", {"symmetric": {"A"}}, "right"),
    (QUAD, "x", "A*x", {}, "missing-term"),
    (QUAD, "x", "x'*(A + A')", {}, "transposed"),
    (QUAD + " + b'*x", "x", "A*x + A'*x", {}, "missing-term"),
    (QUAD + " + b'*x", "x", "A*x + A'*x + b + x", {}, "extra-term"),
    (QUAD + " + b'*x", "x", "A*x + A'*x - b", {}, "wrong"),
    # symmetric matrices: sym(G), not G + G' - diag(G), not G
    ("tr(S*A)", "S", "(A + A')/2", SYM, "right"),
    ("tr(S*A)", "S", "A", SYM, "unsymmetrised"),
    ("tr(S*A)", "S", "A + A' - diag(diag(A))", SYM, "symmetric-convention"),
    ("logdet(S) + x'*inv(S)*x", "S", "inv(S) - inv(S)*x*x'*inv(S)", SYM, "right"),
    ("logdet(S) + x'*inv(S)*x", "S", "2*G - diag(diag(G)) where G = inv(S) - inv(S)*x*x'*inv(S)",
     SYM, "symmetric-convention"),
    ("logdet(S)", "S", "inv(S)", SYM, "right"),
    ("logdet(S)", "S", "0.5*inv(S)", SYM, "factor"),
    # Matrix Cookbook
    ("logdet(X)", "X", "inv(X)'", {}, "right"),
    ("logdet(X)", "X", "inv(X)", {}, "transposed"),
    ("tr(A*X*B)", "X", "A'*B'", {}, "right"),
    ("tr(A*X*B)", "X", "(B*A)'", {}, "right"),
    ("tr(A*X*B)", "X", "B*A", {}, "transposed"),
    ("det(X)", "X", "det(X)*inv(X)'", {}, "right"),
    ("det(X)", "X", "det(X)*inv(X)", {}, "transposed"),
    ("norm2(x)^2", "x", "2*x", {}, "right"),
    ("norm2(x)^2", "x", "x", {}, "factor"),
    ("sum(exp(x))", "x", "exp(x)", {}, "right"),
    ("sum(exp(x))", "x", "exp(x)'", {}, "transposed"),
    # logistic regression
    ("sum(softplus(-y.*(X*w)))", "w", "-X'*(y.*sigmoid(-y.*(X*w)))", {}, "right"),
    ("sum(softplus(-y.*(X*w)))", "w", "X'*(y.*sigmoid(-y.*(X*w)))", {}, "factor"),
    (LOGREG, "w", "X'*(p - y)", {}, "right"),
    (LOGREG, "w", "X'*p", {}, "missing-term"),
    (LOGREG, "w", "(p - y)'*X", {}, "transposed"),
    # Jacobians
    ("softmax(x)", "x", "diag(s) - s*s' where s = softmax(x)", {}, "right"),
    ("softmax(x)", "x", "diag(s) where s = softmax(x)", {}, "missing-term"),
    ("A*x", "x", "A", {}, "right"),
    ("A*x", "x", "A'", {}, "transposed"),
    ("exp(x)", "x", "diag(exp(x))", {}, "right"),
    ("exp(x)", "x", "exp(x)", {}, "shape"),
    # Hessians
    (QUAD, "x", "A + A'", {"hessian": True}, "right"),
    (QUAD, "x", "2*A", {"hessian": True}, "needs-symmetric"),
    (QUAD, "x", "A", {"hessian": True}, "missing-term"),
    (LOGREG, "w", "X'*diag(p - p.^2)*X", {"hessian": True}, "right"),
    (LOGREG, "w", "X'*diag(p)*X", {"hessian": True}, "wrong-terms"),
    ("logdet(X)", "X", "-(inv(X)*dX*inv(X))'", {"hessian": True}, "right"),
    ("logdet(X)", "X", "-inv(X)*dX*inv(X)", {"hessian": True}, "transposed"),
]


def _fd_agrees(expr: str, wrt: str, claim: str, symmetric: set[str]) -> bool:
    """Independently of matcalc's derivative: is the claim ∇f by central differences of f?"""
    d = matcalc.derive(expr, wrt=wrt, symmetric=symmetric, verify=False)
    variables = d.problem.variables
    claimed = _read_claim(claim, d.problem, variables, _dimension_names(variables))
    rng = np.random.default_rng(3)
    sizes = dimension_sizes(variables, base=1)
    env = sample_inputs(variables, sizes, rng, symmetric=symmetric)
    env["__dims__"] = {**sizes, **{v: sizes[k] for k, v in _dimension_names(variables).items()}}

    def f(x: np.ndarray) -> float:
        return float(evaluate(d.problem.expr, dict(env, **{wrt: x}), d.problem.bindings)
                     .reshape(()))

    numeric = finite_difference_gradient(f, env[wrt])
    if wrt in symmetric:
        numeric = (numeric + numeric.T) / 2
    value = evaluate(claimed.expr, env, claimed.bindings)
    return value.shape == numeric.shape and bool(np.allclose(value, numeric, rtol=1e-6,
                                                             atol=1e-6))


@pytest.mark.parametrize("expr, wrt, claim, kwargs, diagnosis", CLAIMS,
                         ids=[f"{i}-{c[4]}" for i, c in enumerate(CLAIMS)])
def test_claim(expr, wrt, claim, kwargs, diagnosis):
    result = matcalc.check(expr, wrt, claim, **kwargs)
    assert result.diagnosis == diagnosis, str(result)
    assert result.correct == (diagnosis == "right")
    assert bool(result) == result.correct
    assert result.points >= 3
    if not kwargs.get("hessian") and result.kind == "gradient":
        assert _fd_agrees(expr, wrt, claim, kwargs.get("symmetric", set())) == result.correct


def test_enough_claims_of_every_kind():
    kinds = {c[4] for c in CLAIMS}
    assert len(CLAIMS) >= 40
    assert kinds >= {"right", "transposed", "factor", "symmetric-convention", "unsymmetrised",
                     "needs-symmetric", "missing-term", "extra-term", "wrong-terms", "shape",
                     "wrong"}


def test_diagnoses_say_what_is_wrong():
    r = matcalc.check(SEED, "X", "a*(w.^2 - w.^3)'")
    assert r.factor == pytest.approx(0.5) and "1/2 ×" in r.message
    r = matcalc.check(SEED, "X", "-2*a*(w.^2 - w.^3)'")
    assert "-1 ×" in r.message
    r = matcalc.check(QUAD + " + b'*x", "x", "A*x + A'*x")
    assert r.missing == ["b"] and "misses the term b" in r.message
    r = matcalc.check(QUAD + " + b'*x", "x", "A*x + A'*x + b + x")
    assert r.extra == ["x"]
    r = matcalc.check(QUAD, "x", "A*x")
    assert r.missing == ["A'*x"]
    r = matcalc.check(QUAD, "x", "2*A*x")
    assert "--sym A" in r.message
    r = matcalc.check("tr(S*A)", "S", "A + A' - diag(diag(A))", **SYM)
    assert "sym(G) = (G + G')/2" in r.message and "G + G' - diag(G)" in r.message
    r = matcalc.check("A*x", "x", "A'")
    assert "denominator layout" in r.message
    r = matcalc.check(SEED, "X", "2*(w.^2 - w.^3)")
    assert "shaped like X" in r.message
    r = matcalc.check(SEED, "X", "2*a*(w.^2 - w.^3)'")
    assert r.symbolic is True and r.difference == "0" and r.error < 1e-12


def test_cli_exit_status_and_json():
    runner = CliRunner()
    right = runner.invoke(main, ["check", SEED, "--wrt", "X", "--claim", "2*a*(w.^2 - w.^3)'"])
    assert right.exit_code == 0 and right.output.startswith("right: ")
    wrong = runner.invoke(main, ["check", QUAD, "--wrt", "x", "--claim", "2*A*x"])
    assert wrong.exit_code == 1 and wrong.output.startswith("wrong: ")
    assert "∂f/∂x = (A' + A)*x" in wrong.output
    payload = runner.invoke(main, ["check", "tr(S*A)", "--wrt", "S", "--sym", "S", "--claim", "A",
                                   "--format", "json"])
    assert payload.exit_code == 1
    data = json.loads(payload.output)
    assert data["schema"] == "matcalc.check/1"
    assert (data["correct"], data["diagnosis"]) == (False, "unsymmetrised")
    hessian = runner.invoke(main, ["check", QUAD, "--wrt", "x", "--hessian", "--claim", "A + A'"])
    assert hessian.exit_code == 0


@pytest.mark.parametrize("claim, message, column", [
    ("2*A*(x", "expected ')'", 6),
    ("2*A*y", "'y' is neither a variable nor a binding", 4),
    ("A*x'", "shape mismatch", 0),
])
def test_cli_bad_claim_is_a_user_error_with_a_caret(claim, message, column):
    result = CliRunner().invoke(main, ["check", QUAD, "--wrt", "x", "--claim", claim])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in result.output and "in the claim" in result.output
    lines = result.output.rstrip("\n").splitlines()
    assert lines[-2] == f"  {claim}" and lines[-1].index("^") == 2 + column


def test_cli_bad_expression_is_a_user_error():
    result = CliRunner().invoke(main, ["check", "x'*A*", "--wrt", "x", "--claim", "x"])
    assert result.exit_code == 2 and "^" in result.output
    result = CliRunner().invoke(main, ["check", QUAD, "--wrt", "z", "--claim", "x"])
    assert result.exit_code == 2 and "does not appear" in result.output
