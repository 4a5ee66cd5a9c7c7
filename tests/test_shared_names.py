"""Subexpressions a result repeats are named once (`where t1 = …`) in text, LaTeX and steps.

Each printed form is read back and checked numerically: `matcalc.check(expr, wrt, str(d))` must
find the named form equal to the derivative (itself checked against finite differences), so a
naming that changed the mathematics cannot pass.
"""
from __future__ import annotations

import pytest

import matcalc

SEED = "w'*w where w = sigmoid(X'*a)"
LOGISTIC = "sum(softplus(-y.*(X*w)))"

# (expression, variable, hessian?, printed result)
NAMED = [
    (LOGISTIC, "w", True, "X'*diag((t1 - t1.^2).*y.^2)*X where t1 = sigmoid(-((X*w).*y))"),
    ("sum(exp(A*x)) + norm2(exp(A*x))^2", "x", False,
     "A'*(2*t1.^2 + t1) where t1 = exp(A*x)"),
    ("x'*A*x + sum(exp(A*x))", "x", True, None),
    (SEED, "X", False, "2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)"),     # nothing repeated
    ("sum(exp(X*a)) + u'*u where u = exp(X*a)", "a", False, None),         # the user's own name
]


@pytest.mark.parametrize("expr, wrt, hessian, printed", NAMED, ids=[n[0] for n in NAMED])
def test_named_form_is_the_derivative(expr, wrt, hessian, printed):
    d = (matcalc.hessian if hessian else matcalc.derive)(expr, wrt=wrt)
    if printed is not None:
        assert str(d) == printed
    for name, _ in d.definitions():
        assert str(d).count(f"{name} = ") == 1
    result = matcalc.check(expr, wrt, str(d), hessian=hessian)
    assert result.correct, str(result)


def test_named_in_steps_latex_and_json():
    d = matcalc.hessian(LOGISTIC, wrt="w")
    assert d.steps[-1].rule == "shared" and d.steps[-1].note == "t1 = sigmoid(-((X*w).*y))"
    assert d.steps_text().splitlines()[-1].endswith("[shared (t1 = sigmoid(-((X*w).*y)))]")
    assert r"\text{where } \mathrm{t1} = \sigma" in d.latex()
    assert r"\mathrm{t1} &= \sigma" in d.latex(steps=True)
    data = d.to_json()
    assert data["result"] == "X'*diag((t1 - t1.^2).*y.^2)*X"
    assert data["where"] == {"t1": "sigmoid(-((X*w).*y))"}
    # the result itself (SymPy, d.result) keeps the whole expression
    assert "t1" not in str(d.expr)


def test_seed_is_unchanged():
    d = matcalc.derive(SEED, wrt="X")
    assert str(d) == "2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)"
    assert len(d.steps) == 16 and all(s.rule != "shared" for s in d.steps)


def test_user_bindings_are_never_renamed():
    d = matcalc.derive("sum(exp(X*a)) + u'*u where u = exp(X*a)", wrt="a")
    assert [n for n, _ in d.definitions()] == ["u"]


def test_named_across_several_variables_once():
    ds = matcalc.derive("sum((W2*tanh(W1*x) - y).^2)", wrt=["W1", "W2"])
    assert str(ds) == ("∂f/∂W1 = 2*((1 - t1.^2).*(W2'*t2))*x' where t1 = tanh(W1*x), "
                       "t2 = W2*t1 - y\n"
                       "∂f/∂W2 = 2*t2*t1' where t1 = tanh(W1*x), t2 = W2*t1 - y")
    for d in ds:
        assert matcalc.check(ds.problem.text, d.wrt, str(d)).correct


def test_names_taken_by_the_user_are_skipped():
    d = matcalc.hessian("sum(softplus(-y.*(X*t1)))", wrt="t1")
    assert "t2 = sigmoid(" in str(d) and "t1 = " not in str(d)
    assert matcalc.check(d.problem.text, "t1", str(d), hessian=True).correct
