"""Issue 17, items 8 and 8b: large expressions derive, and the self-check cannot pass vacuously.

How the time grows with size is measured in bench/growth.py, never here: these tests check that
long sums derive and are right, and that a check which can only compare zero with zero does not
say it passed.
"""
from __future__ import annotations

import gc
import math
from fractions import Fraction

import numpy as np
import pytest
from numeric import check_gradient

import matcalc
from matcalc import algebra, api
from matcalc.collector import paused
from matcalc.derivation import NOT_CHECKED
from matcalc.ops import number
from matcalc.verify import NEGLIGIBLE, derivative_check


def _network(layers: int, function: str) -> str:
    inner = "x"
    for i in range(1, layers + 1):
        inner = f"{function}(W{i}*{inner})"
    return f"sum({inner})"


def test_a_200_term_sum_derives_and_is_right():
    expr = " + ".join(f"tr(A{i}*X*B{i})" for i in range(200))
    d = check_gradient(expr, "X", seeds=(0,))
    assert len(d.result.args) == 200 and d.result.op == "add"
    assert d.error is not None and d.error < 1e-8


def test_a_flat_product_of_many_factors_derives():
    d = check_gradient("tr(" + "*".join(f"A{i}*X" for i in range(12)) + ")", "X", seeds=(0,))
    assert d.result.op == "add" and len(d.result.args) == 12


@pytest.fixture
def perturbed(monkeypatch):
    """The engine's results multiplied by 1.001 after simplification: a wrong derivative."""
    simplify = api.simplify

    def wrong(result, *args, **kwargs):
        out, used = simplify(result, *args, **kwargs)
        return algebra.mul(number(Fraction(1001, 1000)), out), used

    monkeypatch.setattr(api, "simplify", wrong)


def test_a_wrong_result_of_16_tanh_layers_is_refused(perturbed):
    """At the usual points 16 tanh layers saturate (the gradient is about 1e-28 and a wrong one
    compared with central differences looks like zero against zero); the check finds points
    where the derivative is resolvable and refuses the result."""
    with pytest.raises(matcalc.DifferentiationError, match="failed its numeric check"):
        matcalc.derive(_network(16, "tanh"), wrt="W1")
    with pytest.raises(matcalc.DifferentiationError, match="failed its numeric check"):
        matcalc.derive(_network(16, "tanh"), wrt="x")


def test_the_right_result_of_16_tanh_layers_is_checked():
    d = matcalc.derive(_network(16, "tanh"), wrt="W1")
    assert d.error < 1e-8
    assert not any(n.startswith(NOT_CHECKED) for n in d.notes)


def test_a_check_of_zero_against_zero_is_not_a_pass(perturbed):
    """16 sigmoid layers: the gradient is below what central differences resolve at every
    point tried, small inputs included. Even a wrong result is then not refused — and not
    reported as checked either: the error is nan and a note says why."""
    d = matcalc.derive(_network(16, "sigmoid"), wrt="W1")
    assert math.isnan(d.error)
    assert any(n.startswith(NOT_CHECKED) and "zero with zero" in n for n in d.notes), d.notes
    assert "zero with zero" in d.json()


def test_derivative_check_passes_over_points_where_both_sides_are_negligible():
    """The check itself, on a function flat at every point it draws: a claimed derivative of
    zero is neither passed nor refused."""
    d = matcalc.derive("sum(exp(-1000*x.^2 - 1000))", wrt="x", verify=False)

    def zero(inputs, v, shape):
        return np.zeros(shape)

    error, why = derivative_check(d.function, d.problem.bindings, d.problem.variables, "x",
                                  zero, trials=2)
    assert math.isnan(error) and why == NEGLIGIBLE


def _every(d: matcalc.Derivation, op: str) -> set:
    """The nodes of operator `op` in a derivation's steps and its result."""
    return {n for tree in [*(s.rhs for s in d.derivation_steps), d.result]
            for n in tree.distinct() if n.op == op}


@pytest.mark.parametrize("expr, wrt", [
    (" + ".join(f"tr(A{i}*X*B{i})" for i in range(6)), "X"),
    ("x'*A*x + 2*b'*x - 3*sum(exp(x)) + alpha*sum(x) + x'*x", "x"),
    ("sum(diag(a)*x) + tr(diag(x)*S) - 2*sum(x.^2) + sum(x)", "x"),
    ("logdet(X) + tr(A*X*B) - tr(X'*X) + 0.5*sum(X) + norm2(X*b)^2", "X"),
])
def test_a_part_of_a_canonical_sum_is_its_sum(expr, wrt):
    """algebra.without builds the terms of a sum but one as they stand when the sum is canonical
    (the matcher splits long sums this way): it must be what `add` makes of them, for every
    sum in the derivation."""
    checked = 0
    for total in _every(matcalc.derive(expr, wrt=wrt), "add"):
        total = algebra.add(*total.args)    # as `add` makes it (a step may show a raw sum)
        if total.op != "add":
            continue
        for i in range(len(total.args)):
            rest = total.args[:i] + total.args[i + 1:]
            assert algebra.without(total, i) == (algebra.add(*rest) if len(rest) > 1
                                                 else rest[0])
            checked += 1
    assert checked >= 4


@pytest.mark.parametrize("expr, wrt", [
    ("tr(" + "*".join(f"A{i}*X" for i in range(6)) + ")", "X"),
    ("2*alpha*a'*X*X*b + tr(diag(x)*A*diag(y)*B)*beta", "X"),
    ("norm2(kron(A, B)*kron(A', B')*x - y)^2 + 3*x'*X*X'*x", "x"),
    ("tr(inv(X)*A*inv(X)*B) - 0.5*logdet(X'*X) + c'*X^3*X'*c", "X"),
    ("sum(softmax(Q*K', 2)*V) + tr(W*matrix(2)*W')", "Q"),
])
def test_a_run_of_a_canonical_product_is_its_product(expr, wrt):
    """algebra.factors builds a run of a canonical product's factors as it stands (the matcher
    splits long products this way): it must be what `mul` makes of them, for every product in
    the derivation and every run of two or more of its factors."""
    checked = 0
    for product in _every(matcalc.derive(expr, wrt=wrt), "matmul"):
        product = algebra.mul(*product.args)    # as `mul` makes it (a step may show a raw one)
        if product.op != "matmul":
            continue
        n = len(product.args)
        for start in range(n):
            for stop in range(start + 2, n + 1):
                assert algebra.factors(product, start, stop) == \
                    algebra.mul(*product.args[start:stop]), (product, start, stop)
                checked += 1
    assert checked >= 10


@pytest.mark.parametrize("enabled", [True, False])
def test_a_derivation_leaves_the_garbage_collector_as_it_found_it(enabled):
    """Derivations pause Python's cyclic collector (matcalc/collector.py) and restore its state
    when they return or raise, nested or not."""
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        matcalc.derive("x'*A*x", wrt="x")
        matcalc.hessian("sum(exp(x))", wrt="x")
        matcalc.hvp("x'*x", wrt="x")
        assert gc.isenabled() == enabled
        with pytest.raises(matcalc.ShapeError):
            matcalc.derive("x + A", wrt="x", shapes={"x": (2, 1), "A": (3, 3)})
        assert gc.isenabled() == enabled
        with paused():
            with paused():
                assert not gc.isenabled()
            assert not gc.isenabled()
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_distribution_is_tried_only_where_a_factor_can_merge():
    """hadamard-distribute (`A.*(B + C)`, if meets(A, B, C), not_larger): a product of d sums
    has d² pairs, and building each distributed pair to find it larger made a 40-deep sigmoid
    chain quadratic. `meets` is what the `.*` constructor can merge: a common base, or a number."""
    from matcalc.match import _meets
    from matcalc.ops import var as variable
    x, y = variable("x", ("n", 1)), variable("y", ("n", 1))
    s = algebra.apply("sigmoid", x)
    one = algebra.fill(number(1), x.shape)
    assert _meets(x, [algebra.power(x, number(2))])                       # x.*x.^2 = x.^3
    assert _meets(algebra.hadamard(x, y), [algebra.mul(number(2), y)])    # (x.*y).*(2*y)
    assert _meets(s, [one])                                               # σ.*1 = σ
    assert _meets(x, [algebra.add(y, x)])                  # C, the rest of a sum: its terms
    complement = algebra.sub(s, algebra.power(s, number(2)))
    t = algebra.apply("sigmoid", s)
    assert not _meets(complement, [t, algebra.power(t, number(2))])
    d = check_gradient("sum(" + "sigmoid(" * 5 + "x" + ")" * 5 + ")", "x", seeds=(0,))
    assert d.error is not None and d.error < 1e-8
    d = matcalc.derive("sum(" + "sigmoid(" * 40 + "x" + ")" * 40 + ")", "x")  # σ'^40: unresolvable
    assert d.result.op == "hadamard" and len(d.result.args) == 40
    d = check_gradient("w'*w where w = sigmoid(X'*a)", "X", seeds=(0,))   # w.*(w - w.^2)
    assert "hadamard-distribute" in [s.rule for s in d.steps]
    assert str(d) == "2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)"


def test_a_split_whose_repeated_variable_cannot_recur_is_not_built():
    """(C*A)*C against a long product: C's run on the right must recur on the left, so splits
    whose right run starts with a factor the left lacks are passed over — and the matches that
    remain are all of them: C = S*T*S (and C = S) in S*T*S*A*S*T*S."""
    from matcalc.match import match
    from matcalc.ops import var as variable
    from matcalc.rules import load_rules
    sandwich = next(r for r in load_rules().simplify if r.name == "transpose-sandwich")
    S, T, A = (variable(n, ("n", "n")) for n in "STA")
    product = algebra.mul(S, T, S, A, S, T, S)
    found = {(str(env["C"]), str(env["A"])) for env in match(sandwich.lhs.args[0], product)}
    assert {c for c, _ in found} == {repr(algebra.mul(S, T, S)), repr(S)}
    other = algebra.mul(*(variable(f"B{i}", ("n", "n")) for i in range(12)))
    assert not list(match(sandwich.lhs.args[0], other))      # no factor recurs: nothing built
    assert not any(key[0] == "chain" and key[1] == 0 and key[2] > 1
                   for key in (other.memo or {}))
