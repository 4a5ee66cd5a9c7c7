"""The rewrite strategies of matcalc/rewrite.py, and rules that only some inputs reach.

Each rule of rules/ fires somewhere in the test suite; the derivations below are the ones that reach
the rules no other test does (the n-ary lines of canonical.rules are applied by the constructors'
own code, and tests/test_rules_files.py checks that they are). Each derivation checks itself
numerically before it is returned.
"""
from __future__ import annotations

import pytest

import matcalc
from matcalc import algebra, rewrite
from matcalc.errors import RuleError
from matcalc.ops import var
from matcalc.rewrite import Rewrite, fixpoint

# rule name, expression, variable, form ("" for derive, "vec" for the Kronecker form)
REACHED_HERE = [
    ("frobenius-fill", "x'*vector(alpha)", "alpha", ""),
    ("kron-fill", "A + sum(X)", "X", "vec"),
    ("trace-outer", "alpha*tr(x*y')", "alpha", ""),
    ("trace-transpose", "alpha*tr(X')", "alpha", ""),
    ("log-abs-det", "alpha*log(abs(det(X)))", "alpha", ""),
    ("softplus-of-exp", "alpha*sum(log(1 + exp(X*w)))", "alpha", ""),
    ("eigvecs-orthogonal", "sum(eigvals(S)) + tr(S*A)", "S", ""),      # U*U' = eye: tr(S)
    ("svd-polar", "sum(svdvals(X))", "X", ""),
]


@pytest.mark.parametrize("rule, expr, wrt, form", REACHED_HERE, ids=[r[0] for r in REACHED_HERE])
def test_rule_is_reached(rule: str, expr: str, wrt: str, form: str) -> None:
    d = matcalc.derive(expr, wrt=wrt)
    if form == "vec":
        d = d.vec()
    assert rule in [s.rule for s in d.steps], [str(s) for s in d.steps]
    assert d.check() < 1e-6


# canonical.rules lines no other test's input reaches: rule, expression, variable, shapes, form
CANONICAL_REACHED_HERE = [
    ("inverse-of-eye", "tr(inv(eye)*X)", "X", None, ""),
    ("matrix-power-zero", "tr(A*X^0) + tr(X)", "X", None, ""),
    ("power-of-fill", "sum(X.*matrix(alpha).^2)", "alpha", None, ""),
    ("kron-scalar-left", "A*X*b", "X", None, "vec"),      # kron(icols(b), A): b has one column
    ("kron-scalar-right", "X*A", "X", {"X": (1, "n")}, "vec"),
    ("vec-of-row", "sum(X)*A", "X", {"X": (1, "n")}, "vec"),  # the gradient of sum(X) is a row
]


@pytest.mark.parametrize("rule, expr, wrt, shapes, form", CANONICAL_REACHED_HERE,
                         ids=[r[0] for r in CANONICAL_REACHED_HERE])
def test_canonical_rule_is_reached(monkeypatch, rule, expr, wrt, shapes, form) -> None:
    fired: list[str] = []
    apply_rule = rewrite.apply_rule

    def recording(r, node, ctx):
        result = apply_rule(r, node, ctx)
        if result is not None:
            fired.append(r.name)
        return result

    monkeypatch.setattr(rewrite, "apply_rule", recording)
    d = matcalc.derive(expr, wrt=wrt, shapes=shapes)
    if form == "vec":
        d = d.vec()
    assert rule in fired, sorted(set(fired))
    assert d.check() < 1e-6


def test_a_cycle_is_a_rule_error_naming_its_rules() -> None:
    a, b = var("A", ("n", "n")), var("B", ("n", "n"))
    flip = {a: ("swap-in", b), b: ("swap-out", a)}

    def strategy(node):
        name, after = flip[node]
        return Rewrite(name, node, after)

    with pytest.raises(RuleError, match="swap-in, swap-out cycle in the test pass"):
        fixpoint(strategy, a, lambda r: None, 100, "test pass")


def test_a_rewrite_that_never_settles_is_a_rule_error() -> None:
    x = var("x", ("n", 1))

    def grow(node):
        return Rewrite("grow", node, algebra.add(node, x))

    with pytest.raises(RuleError, match="did not settle after 50 rewrites; the rules grow"):
        fixpoint(grow, x, lambda r: None, 50, "test pass")


def test_steps_come_from_the_rewrites() -> None:
    """1 : (2*w'*C) → 2 : (w'*C) leaves the differential's value unchanged: not a step."""
    d = matcalc.derive("w'*w where w = sigmoid(X'*a)", wrt="X")
    rules = [s.rule for s in d.steps]
    assert "frobenius-scale" not in rules
    assert rules[7:11] == ["frobenius-matmul-r", "frobenius-hadamard", "frobenius-matmul-l",
                           "frobenius-transpose"]
