"""Issue 17, item 8: a long matrix product's differential names its partial products
(matcalc/partial_products.py), so that its derivative, steps and code grow linearly with it.

Every derivative here is checked against central finite differences (tests/numeric.py); the
names' effects — the size of the result, the products the generated code multiplies — are
checked on top of that.
"""
from __future__ import annotations

import numpy as np
from numeric import check_gradient, check_hessian, check_jacobian, finite_difference_gradient
from test_round_trips import check_text_round_trip

import matcalc
from matcalc.partial_products import LONG
from matcalc.verify import dimension_sizes, evaluate, from_user, to_user


def trace_product(d: int, name: str = "A") -> str:
    return "tr(" + "*".join(f"{name}{i}*X" for i in range(d)) + ")"


def test_the_gradient_of_a_long_trace_product_is_right_and_linear_in_its_length():
    results = {}
    for d in (6, 12, 24):
        results[d] = check_gradient(trace_product(d), "X", seeds=(0,))
        assert results[d].result.op == "add" and len(results[d].result.args) == d
        # d terms L_i'*R_i' of two factors (the first and last of one), 2d - 2 definitions
        assert len(results[d].partial_names) == 2 * d - 2
    sizes = {d: r.result.size + sum(body.size for _, body in r.definitions())
             for d, r in results.items()}
    assert sizes[24] < 2.2 * sizes[12] and sizes[12] < 2.2 * sizes[6]     # Θ(d), not Θ(d²)
    d = results[6]
    assert str(d) == ("L2'*R2' + L3'*R3' + L4'*R4' + L5'*R5' + A0'*R1' + L6' where "
                      "L2 = A0*X*A1, L3 = L2*X*A2, L4 = L3*X*A3, L5 = L4*X*A4, L6 = L5*X*A5, "
                      "R5 = A5*X, R4 = A4*X*R5, R3 = A3*X*R4, R2 = A2*X*R3, R1 = A1*X*R2")
    product = next(s for s in d.steps if s.rule == "product")
    assert product.note.startswith("partial products named: L2 = A0*X*A1, ")
    assert check_text_round_trip(d) == "ok"     # the printed result, where clause and all


def test_a_short_product_is_written_out():
    """Terms of no more than LONG factors in all keep the product rule written out."""
    d = check_gradient("tr(A*X*B*X)", "X", seeds=(0,))
    assert d.partial_names == [] and str(d) == "A'*(B*X)' + B'*X'*A'"
    d = check_gradient(trace_product(4), "X", seeds=(0,))       # 4 terms of 8 factors
    assert 4 * 8 <= LONG and d.partial_names == [] and " where " not in str(d)


def test_the_generated_code_multiplies_linearly_many_matrices():
    """Each partial product is one product of three factors, computed once: a call of the code
    for d = 16 makes 74 matrix products (under 5d), where the written-out terms took d(2d - 2) =
    480."""
    def products(d: int) -> int:
        body = matcalc.derive(trace_product(d), wrt="X").code("numpy").split("def grad_X")[1]
        before, after = body.split("    if out is not None:")
        path = before + after.split("        return out")[1]        # the call without out=
        return path.count("@") + sum(len(call.split("]")[0].split(",")) - 1
                                     for call in path.split("_multi_dot([")[1:])
    assert products(16) <= 5 * 16 and products(32) <= 5 * 32


def test_the_names_avoid_the_users():
    """A variable called L2 or R1 moves the partial products to L_2, R_1, …"""
    expr = "tr(" + "*".join(f"{'L2' if i == 3 else f'A{i}'}*X" for i in range(8)) + ")"
    d = check_gradient(expr, "X", seeds=(0,))
    assert "L2" in d.problem.variables and d.partial_names
    assert all(n.startswith(("L_", "R_")) for n in d.partial_names)


def test_two_variables_share_one_module_with_distinct_names():
    """The gradients with respect to X and Y each name partial products; in one DerivationSet
    their names differ and the one generated function computes both (checked against finite
    differences of f)."""
    expr = "tr(" + "*".join(f"A{i}*X*B{i}*Y" for i in range(5)) + ")"
    both = matcalc.derive(expr, wrt=["X", "Y"])
    names = [set(d.partial_names) for d in both]
    assert names[0] and names[1] and not names[0] & names[1]
    variables = both.problem.variables
    sizes = dimension_sizes(variables, base=3)
    rng = np.random.default_rng(3)
    env = {n: rng.standard_normal(tuple(sizes.get(s, s) for s in shape))
           for n, shape in variables.items()}
    user = {n: to_user(env[n], variables[n]) for n in variables}
    gradients = both.numpy()(**user)
    for wrt, got in zip(["X", "Y"], gradients):
        def f(x, wrt=wrt):
            return float(evaluate(both.problem.expr, dict(env, **{wrt: x}, __dims__=sizes),
                                  both.problem.bindings).reshape(()))
        numeric = finite_difference_gradient(f, env[wrt])
        got = from_user(got, *env[wrt].shape)
        assert np.max(np.abs(got - numeric)) <= 1e-6 * max(1.0, np.max(np.abs(numeric)))


def test_second_derivatives_go_through_the_named_partial_products():
    """The Hessian (a linear map for a matrix X) and the Hessian-vector product derive through
    the names the gradient gave: their bindings are the derivation's."""
    h = check_hessian(trace_product(6), "X", seeds=(0,))
    assert h.kind == "hessian-map" and h.partial_names
    hv = matcalc.hvp(trace_product(6), wrt="X")
    assert hv.partial_names and hv.error is not None and hv.error < 1e-6
    assert hv.direction not in hv.partial_names


def test_a_vector_variable_keeps_its_products_written_out():
    """jacobian.rules cannot read the differential of a named row's transpose, so a vector's
    long products are not named: its Jacobian and Hessian are read off the written-out terms
    (diag(d(x))*b by jacobian-diag)."""
    expr = "u'*" + "*".join(f"diag(x)*M{i}" for i in range(1, 6)) + "*diag(x)*v"
    assert check_gradient(expr, "x", domain="normal", seeds=(0,)).partial_names == []
    assert check_hessian(expr, "x", seeds=(0,)).partial_names == []
    d = check_jacobian("*".join(f"A{i}*diag(x)" for i in range(6)) + "*A6*x", "x", seeds=(0,))
    assert d.partial_names == [] and "diag(" in str(d)


def test_the_partial_products_convert_to_sympy():
    d = matcalc.derive(trace_product(6), wrt="X")
    assert set(d.bindings) == set(d.partial_names)
    assert {str(s) for s in d.expr.free_symbols} >= {"L2", "R1"}


FACTORS_OF_X = ("X", "X'", "inv(X)", "tanh(X)", "X.^2", "(X + A0)'")


def _random_product(rng: np.random.Generator) -> str:
    """A product of 8 to 18 factors, constant or functions of X, in a random order, traced."""
    length = int(rng.integers(8, 19))
    factors = [str(rng.choice(FACTORS_OF_X)) if rng.random() < 0.5 else f"A{i}"
               for i in range(length)]
    factors[int(rng.integers(length))] = str(rng.choice(FACTORS_OF_X))   # X at least once
    return "tr(" + "*".join(factors) + ")"


def test_random_long_products_are_right_named_or_not():
    """Products with X, its transpose, its inverse and elementwise functions of it at random
    places: each gradient, its partial products named or its terms written out, against central
    differences of f (X square and diagonally dominant, inv(X) defined); most of them long
    enough to be named."""
    rng = np.random.default_rng(17)
    named = 0
    for _ in range(30):
        expr = _random_product(rng)
        d = check_gradient(expr, "X", shapes={"X": (3, 3)}, domain="positive", seeds=(0,),
                           rtol=1e-5)
        named += bool(d.partial_names)
        assert d.error is not None and d.error < 1e-6, (expr, d.error)
    assert named >= 15
