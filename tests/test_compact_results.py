"""Compact results (issue 17, item 5): like factors merge across transposes and powers, a
symmetric variable's gradient keeps no needless symmetrisation, quotients cancel, bindings keep
the user's order of terms — and a where clause restates each binding as its user wrote it. Each
result is checked against central finite differences (`check_gradient`, tests/numeric.py) before
its printed form is compared; what each printed before is in the comment beside it.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from numeric import check_gradient, check_hessian

import matcalc
from matcalc.cli import main
from matcalc.verify import dimension_sizes, evaluate

NMF = {"V": ("m", "n"), "W": ("m", "k"), "H": ("k", "n")}

# expression, variable, shapes, symmetric variables, the result as printed
CASES = [
    # (X^2)'*X' + 2*X'*(X^2)' + (X^3)'
    ("tr(X^4)", "X", None, (), "4*(X^3)'"),
    # 2*t1 - inv(X)'*(inv(X)^3)' where t1 = -((inv(X)^2)^2)'
    ("tr(X^-3)", "X", None, (), "-3*(inv(X)^4)'"),
    ("tr(X^3)", "X", None, (), "3*(X^2)'"),
    # A'*B' + (B*A)': like terms, one written as the transpose of a product
    ("tr(A*X*B) + tr(B'*X'*A')", "X", None, (), "2*(B*A)'"),
    # sigmoid(x) - 2*(t1 - sigmoid(x).^3) - t1 where t1 = sigmoid(x).^2: like terms inside 2*(…)
    ("sum(sigmoid(x) - sigmoid(x).^2)", "x", None, (), "2*sigmoid(x).^3 + sigmoid(x) - 3*sigmoid(x).^2"),
    # (A' + x*x')': a transpose of a sum with a symmetric term
    ("tr((A' + x*x')*X)", "X", None, (), "x*x' + A"),
    # 0.5*((C' + C - inv(X))' - inv(X))
    ("-logdet(X) + tr(C*X)", "X", None, ("X",), "0.5*(C' + C) - inv(X)"),
    # graphical lasso, 0.5*((C' + C - inv(T))' - inv(T)) + lambda*sign(T) with C not symmetric
    ("-logdet(T) + tr(C*T) + lambda*norm1(T)", "T", None, ("T", "C"), "lambda*sign(T) + C - inv(T)"),
    # Gaussian KL with respect to a covariance (S0 not declared symmetric): was
    # -0.5*inv(S1) - 0.25*inv(S1)*t2*inv(S1) - 0.25*(inv(S1)*t2*inv(S1))', t2 = t1*t1' + S0'
    ("0.5*(tr(inv(S1)*S0) + (m1 - m0)'*inv(S1)*(m1 - m0) - logdet(S1))", "S1", None, ("S1",),
     "(-0.25*inv(S1)*(S0' + S0) - 0.5*inv(S1)*t1*t1')*inv(S1) - 0.5*inv(S1) where t1 = m1 - m0"),
    # KL-NMF: (1 - V.^2./(V./(W*H))./(W*H).^2)*H'
    ("sum(V.*log(V./(W*H)) - V + W*H)", "W", NMF, (), "(1 - V./(W*H))*H'"),
    ("sum(V.*log(V./(W*H)) - V + W*H)", "H", NMF, (), "W'*(1 - V./(W*H))"),
    # -sum(2*z)/nu + 2*z where nu = len(x), z = -sum(x)/nu + x
    ("sum(z.^2) where nu = len(x), z = x - sum(x)/nu", "x", None, (),
     "2*z - sum(2*z)/nu where nu = len(x), z = x - sum(x)/nu"),
    # binary cross-entropy: X'*((1 - y).*(p - p.^2)./(1 - p)) - X'*(y - p.*y)
    ("-(y'*log(p) + (1-y)'*log(1-p)) where p = sigmoid(X*w)", "w", {"X": ("m", "n")}, (),
     "X'*(p - y) where p = sigmoid(X*w)"),
    # sigmoid(a) - exp(a).^2./(exp(a) + 1).^2
    ("sum(exp(a)./(exp(a) + 1))", "a", None, (), "sigmoid(a) - sigmoid(a).^2"),
    ("sum(log(1 - sigmoid(x)))", "x", None, (), "-sigmoid(x)"),
    ("log(abs(det(X)))", "X", None, (), "inv(X)'"),
]


@pytest.mark.parametrize("expr, wrt, shapes, symmetric, printed", CASES,
                         ids=[f"{c[0]} d/d{c[1]}" for c in CASES])
def test_compact_result(expr, wrt, shapes, symmetric, printed):
    d = check_gradient(expr, wrt, shapes, symmetric=set(symmetric))
    assert str(d) == printed


def test_layer_norm_gradient_has_no_cancelling_factors():
    """2*…/(2*sqrt(…))/sqrt(…)^2 was left in the gradient of layer norm."""
    d = check_gradient("g'*(xc/sqrt(xc'*xc/len(x) + epsilon)) where xc = x - mean(x)", "x",
                       domain="normal")
    assert "/(2*" not in str(d) and "^3" in str(d), str(d)


def test_cross_entropy_hessian_is_the_weighted_gram_matrix():
    """The Hessian of the cross-entropy written with log(p) and log(1-p) reduces to X'*diag(p.*(1-p))*X
    once (p - p.^2)./(1 - p) cancels to p."""
    h = check_hessian("-(y'*log(p) + (1-y)'*log(1-p)) where p = sigmoid(X*w)", "w",
                      {"X": ("m", "n")}, domain="positive")
    assert str(h) == "X'*diag(p - p.^2)*X where p = sigmoid(X*w)"


# A where clause restates each of the user's bindings as written: their order of terms and
# factors, their spelling (x.*x, 1./(…)), only spacing and parentheses normalised.
# expression, variable, the where clause as printed (what it printed before in the comment)
AS_WRITTEN = [
    # where h = W*x + b
    ("sum(tanh(h)) where h = b + W*x", "W", "h = b + W*x"),
    # where h = W*x + b - alpha*x
    ("sum(tanh(h)) where h = b - x*alpha + W*x", "W", "h = b - x*alpha + W*x"),
    # where u = alpha*beta*x
    ("sum(exp(u)) where u = beta*x*alpha", "x", "u = beta*x*alpha"),
    # where z = A*x + b, y = exp(z): z is in the clause because y uses it
    ("sum(y) where y = exp(z), z = b + A*x", "x", "z = b + A*x, y = exp(z)"),
    # where z = alpha*x + b, y = 2*z.^2
    ("y'*z where z = x*alpha + b, y = z.*z*2", "x", "z = x*alpha + b, y = (z.*z)*2"),
    # where p = (exp(-X*w) + 1).^-1
    ("-sum(log(p)) where p = 1./(1 + exp(-X*w))", "w", "p = 1./(1 + exp(-X*w))"),
    # where nu = len(x), z = -sum(x)/nu + x (issue 17's report), now also in the user's order
    ("sum(z.^2) where nu = len(x), z = x - sum(x)/nu", "x", "nu = len(x), z = x - sum(x)/nu"),
    # where v = 2*x: a binding the input does not use, which the result does (v = 2*x folded)
    ("sum(u) where u = x.*x + eps, v = x*2", "x", "v = x*2"),
    # where v = x: u is zero to the engine, and so is in no canonical body, but v uses it
    ("sum(exp(v)) where v = x + u, u = (A - A)*x", "x", "u = (A - A)*x, v = x + u"),
    # where u = x: a negated negation keeps its parentheses (not --x)
    ("sum(exp(u).*x) where u = -(-x)", "x", "u = -(-x)"),
]


def _where(d) -> str:
    return ", ".join(f"{name} = {body}" for name, body in d.where())


def _means_what_the_engine_computes(d) -> None:
    """Each binding as printed has the value of the canonical tree the engine differentiated."""
    problem = d.problem
    rng = np.random.default_rng(0)
    sizes = dimension_sizes(problem.variables, base=0)
    env = {n: rng.uniform(0.5, 1.5, tuple(d if isinstance(d, int) else sizes[d] for d in shape))
           for n, shape in problem.variables.items()}
    env["__dims__"] = sizes
    for name in d.binding_names:
        written = evaluate(problem.written[name], env, problem.bindings)
        canonical = evaluate(problem.bindings[name], env, problem.bindings)
        assert np.allclose(written, canonical, rtol=1e-12), name


@pytest.mark.parametrize("expr, wrt, where", AS_WRITTEN, ids=[c[0] for c in AS_WRITTEN])
def test_a_binding_is_printed_as_written(expr, wrt, where):
    d = check_gradient(expr, wrt)
    assert d.error < 1e-6                    # the self-check ran on the canonical form
    assert _where(d) == where
    assert str(d).endswith(f" where {where}")
    _means_what_the_engine_computes(d)
    assert matcalc.check(expr, wrt, str(d)).correct     # the text reads back as the derivative


def test_a_hessians_binding_is_printed_as_written():
    # X'*diag(sigmoid(s) - sigmoid(s).^2)*X where s = X*w + b
    h = check_hessian("sum(softplus(s)) where s = b + X*w", "w", {"X": ("m", "n")})
    assert str(h) == "X'*diag(sigmoid(s) - sigmoid(s).^2)*X where s = b + X*w"
    _means_what_the_engine_computes(h)


def test_several_variables_print_the_binding_as_written():
    ds = matcalc.derive("sum(tanh(h)) where h = b + W*x", wrt=["W", "b"])
    for wrt in ("W", "b"):
        check_gradient("sum(tanh(h)) where h = b + W*x", wrt)
    # where h = W*x + b, t1 = 1 - tanh(h).^2 (twice)
    assert str(ds) == ("∂f/∂W = t1*x' where h = b + W*x, t1 = 1 - tanh(h).^2\n"
                       "∂f/∂b = t1 where h = b + W*x, t1 = 1 - tanh(h).^2")
    assert ds.check() < 1e-6


def test_latex_json_text_and_steps_state_the_binding_as_written():
    expr = "sum(tanh(h)) where h = b - x*alpha + W*x"
    d = check_gradient(expr, "W")
    assert d.latex().endswith(r"\text{where } h = b - x \alpha + W x")
    assert r"h &= b - x \alpha + W x && \text{where}" in d.latex(steps=True)
    assert r"\text{where } h = b - x \alpha + W x$" in d.latex(standalone=True)
    # the binding step's note restates it as written; its right side is the engine's form, on
    # which the derivation continues
    assert "[binding (h = b - x*alpha + W*x)]" in d.steps_text()
    assert d.to_json()["where"] == {"h": "b - x*alpha + W*x"}
    result = CliRunner().invoke(main, ["derive", expr, "--wrt", "W"])
    assert "  where h = b - x*alpha + W*x\n" in result.output
    document = json.loads(CliRunner().invoke(main, ["derive", expr, "--wrt", "W",
                                                    "--format", "json"]).output)
    assert document["where"] == {"h": "b - x*alpha + W*x"} and document["check_error"] < 1e-6


def test_a_factorizations_parts_keep_the_engines_names():
    """Bindings matcalc introduces itself are not the user's: they print as before."""
    d = check_gradient("sum(log(eigvals(S)))", "S", symmetric={"S"})
    assert d.where() == [("U", "eigvecs(S)"), ("lambda", "eigvals(S)")]
