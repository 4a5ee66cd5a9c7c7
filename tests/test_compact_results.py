"""Compact results (issue 17, item 5): like factors merge across transposes and powers, a
symmetric variable's gradient keeps no needless symmetrisation, quotients cancel, bindings keep
the user's order of terms. Each result is checked against central finite differences
(`check_gradient`, tests/numeric.py) before its printed form is compared; what each printed before
is in the comment beside it.
"""
from __future__ import annotations

import pytest
from numeric import check_gradient, check_hessian

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
