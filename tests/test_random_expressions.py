"""Random well-shaped expressions from the whole language, differentiated and checked numerically.

The CI profile runs 2,000 derandomized examples; `MATCALC_HYPOTHESIS_PROFILE=long python -m pytest
tests/test_random_expressions.py` runs 50,000 random ones.
"""
import os

import numpy as np
import pytest
from expression_strategy import SHAPES, SHAPES_NUMERIC, problems
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from numeric import check_gradient

import matcalc

# the default suite's share (it must stay near 3 minutes on 2 cores); "thorough" is what the
# default was before the language grew, "long" what a nightly job runs
settings.register_profile("ci", max_examples=800, derandomize=True, deadline=None,
                          suppress_health_check=list(HealthCheck), database=None)
settings.register_profile("thorough", max_examples=2000, derandomize=True, deadline=None,
                          suppress_health_check=list(HealthCheck), database=None)
settings.register_profile("long", max_examples=50_000, deadline=None,
                          suppress_health_check=list(HealthCheck), database=None)
PROFILE = os.environ.get("MATCALC_HYPOTHESIS_PROFILE", "ci")


@settings(settings.get_profile(PROFILE))
@given(problems(max_depth=5, extended=True), st.sampled_from([SHAPES, SHAPES_NUMERIC]))
def test_random_expression_gradients_match_finite_differences(problem, shapes):
    text, wrt = problem
    event("numeric dimensions" if shapes is SHAPES_NUMERIC else "symbolic dimensions")
    if " where " in text:
        event("with a binding")
    try:
        d = matcalc.derive(text, wrt=wrt, shapes=shapes)
    except matcalc.DifferentiationError as exc:  # any other exception is a bug and fails
        # a refusal is allowed; a result that failed its own check is a wrong derivative
        assert "failed its numeric check" not in str(exc), f"{text} d/d{wrt}: {exc}"
        event(f"refused: {str(exc).split(':')[0][:60]}")
        return
    event(f"derived: {d.kind}")
    if np.isnan(d.error):
        event("not checked: no finite sample point")
        return  # no point of the domain found for the self-check
    # the self-check passed (else derive had refused); check again at other random points
    check = d.check(trials=1, seed=7)
    assert np.isnan(check) or check < 1e-5, f"{text} d/d{wrt} = {d}: error {check:.2e}"


# Shrunk examples that were once wrong, kept as regressions.
REGRESSIONS = [
    ("tr((K*S)./exp(K'))", "K"),            # '*' inside '.*' printed without parentheses
    ("sum(softmax(x))", "x"),               # zero gradient judged against a relative error
    ("(3./(1 + exp(x)))'*y", "x"),          # '3./x' tokenized as '3.' '/' 'x'
    ("tr(exp(K))*0", "K"),                  # a zero differential had no Frobenius form
    ("sum(T*X)/(1 + exp(sum(T*X)))", "X"),  # matrix(a) + matrix(b) times T' printed as T.T @ scalar
]


def test_a_function_undefined_at_every_point_is_returned_unchecked():
    # inv of exp(S - S) = ones: singular everywhere; the result (0) is returned with a note
    d = matcalc.derive("sum(inv(u)) where u = exp(S - S)", wrt="S")
    assert np.isnan(d.error) and "not checked numerically" in d.notes[-1]


@pytest.mark.parametrize("text, wrt", REGRESSIONS)
def test_regressions(text, wrt):
    check_gradient(text, wrt)


def test_a_steep_composition_is_not_refused():
    # exp of norm2(S)^6: differences are good to about 1e-6 here; the tolerance is 1e-5
    d = matcalc.derive("exp(a'*a)/(1 + exp((norm2(S)^6 + alpha)*(b'*b - 0.5)))", wrt="S",
                       shapes={"S": ("n", "n"), "a": ("m",), "b": ("m",)})
    assert np.isnan(d.error) or d.error < 1e-5


def test_a_saturated_softmax_is_not_refused():
    # exp(exp(T)) ~ 1e64 at entries near n: the formula is right but loses all precision there
    d = matcalc.derive("diag(T)'*softmax(diag(exp(exp(T))))", wrt="T")
    assert np.isnan(d.error) or d.error < 1e-4


def test_a_function_too_steep_to_difference_is_not_refused():
    # at entries near n, exp(S.^2) ~ 1e20: the self-check must look elsewhere, not refuse
    d = matcalc.derive("exp(sum(sin(exp(S.*S))))", wrt="S", shapes={"S": ("n", "n")})
    assert np.isnan(d.error) or d.error < 1e-4
