"""Value and gradient together (`d.numpy(value=True)`), and Hessian-vector products (`matcalc.hvp`).

Every derivative here is first checked against central finite differences; then

- value=True must return f (as the interpreter evaluates the input) and the very derivative the
  plain function returns, on every installed backend;
- H·v must equal central differences of the gradient along v and, for a vector variable, H @ v
  with H from `matcalc.hessian` (for a matrix variable, the Hessian's linear map at dX = V), on
  every installed backend.
"""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from numeric import random_inputs

import matcalc
from matcalc.cli import main
from matcalc.verify import dimension_sizes, evaluate, to_user

SEED = "w'*w where w = sigmoid(X'*a)"
LOGREG = "sum(softplus(X*w)) - y'*X*w where p = sigmoid(X*w)"
RTOL = 1e-9

VALUE_PROBLEMS = [
    (SEED, "X"),
    (SEED, ["X", "a"]),
    ("sum(softplus(-y.*(X*w)))", "w"),
    ("logdet(X) - tr(inv(X)*A)", "X"),
    ("sum((W2*tanh(W1*x) - y).^2)", ["W1", "W2"]),
    ("logsumexp(W*x) + norm2(x)^2 + norm1(x)", "x"),
    ("-y'*log(softmax(W*x))", "W"),
    ("det(X) + c*sum(X)", "X"),
    ("softmax(x)", "x"),                                  # a Jacobian: (f, J)
]

HVP_PROBLEMS = [
    (LOGREG, "w", ()),
    ("sum(softplus(-y.*(X*w)))", "w", ()),
    ("x'*A*x + sum(exp(x))", "x", ()),
    ("-y'*log(softmax(W*x))", "x", ()),
    ("norm2(A*x - b)^2", "x", ()),
    ("logsumexp(W*x)", "x", ()),
    (SEED, "a", ()),
    (SEED, "X", ()),
    ("logdet(X)", "X", ()),
    ("logdet(S) + x'*inv(S)*x", "S", ("S",)),
]


def inputs_for(d, seed: int = 0, symmetric=()) -> tuple[dict, dict]:
    """(inputs in the generated code's convention, 2-D arrays for the interpreter)."""
    variables = d.problem.variables
    sizes = dimension_sizes(variables, base=seed)
    env = random_inputs(variables, sizes, np.random.default_rng(seed), "positive",
                        set(symmetric))
    env["__dims__"] = sizes
    return {n: to_user(env[n], variables[n]) for n in variables}, env


def close(got, want) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale)


BACKENDS = ["numpy", "array-api", "torch", "jax"]


def backend(name: str):
    """(to-array, call) for a backend, or None where its library is not installed; the
    libraries are imported when a test first asks (collection stays fast)."""
    if name == "numpy":
        return (lambda x: x), (lambda d, **kw: d.numpy(**kw))
    try:
        if name == "array-api":
            import array_api_strict as xps
            return xps.asarray, (lambda d, **kw: d.array_api(**kw))
        if name == "torch":
            import torch
            return torch.from_numpy, (lambda d, **kw: d.torch(**kw))
        import jax
        jax.config.update("jax_enable_x64", True)
        return jax.numpy.asarray, (lambda d, **kw: d.jax(**kw))
    except ImportError:
        return None


def _convert(inputs: dict, to_array) -> dict:
    return {n: to_array(v) if isinstance(v, np.ndarray) else v for n, v in inputs.items()}


# -- value and gradient ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("expr, wrt", VALUE_PROBLEMS, ids=[f"{e}:{w}" for e, w in VALUE_PROBLEMS])
def test_value_and_derivative_equal_f_and_the_derivative_alone(expr, wrt, name):
    if backend(name) is None:
        pytest.skip(f"{name} is not installed")
    to_array, call = backend(name)
    d = matcalc.derive(expr, wrt=wrt, shapes={"c": "scalar"})
    assert d.check() < 1e-6                      # the derivative itself, by finite differences
    inputs, env = inputs_for(d)
    alone = d.numpy()(**inputs)
    f = evaluate(d.problem.expr, env, d.problem.bindings)
    both = call(d, value=True)(**_convert(inputs, to_array))
    several = isinstance(wrt, list)
    assert isinstance(both, tuple) and len(both) == (1 + len(wrt) if several else 2)
    if f.shape == (1, 1):                        # f a scalar: a float or a 0-d array
        assert np.ndim(both[0]) == 0
        close(float(both[0]), f.reshape(()))
    else:
        close(both[0], to_user(f, d.problem.expr.shape))
    for got, want in zip(both[1:], alone if several else (alone,)):
        close(got, want)


def test_value_code_computes_shared_subexpressions_once():
    source = matcalc.derive(SEED, wrt="X").code("numpy", value=True)
    body = source[source.index("def value_and_grad_X"):]
    assert body.count("_sigmoid(") == 1 and "w = _sigmoid(X.T @ a)" in body
    assert "return (w @ w, np.outer(a, 2 * (w ** 2 - w * w * w)))" in body
    several = matcalc.derive("sum((W2*tanh(W1*x) - y).^2)", wrt=["W1", "W2"]).code(
        "numpy", value=True)
    assert several.count("np.tanh(") == 1 and "def value_and_gradients(" in several


@pytest.mark.parametrize("fmt", ["numpy", "jax", "torch", "array-api"])
def test_cli_value_for_every_code_format(fmt):
    result = CliRunner().invoke(main, ["derive", SEED, "--wrt", "X", "--format", fmt, "--value"])
    assert result.exit_code == 0, result.output
    assert "def value_and_grad_X(X, a):" in result.output
    assert "f and ∂f/∂X of f" in result.output
    hvp = CliRunner().invoke(main, ["hvp", LOGREG, "--wrt", "w", "--format", fmt, "--value"])
    assert hvp.exit_code == 0 and "def value_and_hvp_w(w, X, y, v):" in hvp.output


def test_cli_value_without_a_code_format_is_a_user_error():
    result = CliRunner().invoke(main, ["derive", SEED, "--wrt", "X", "--value"])
    assert result.exit_code == 2 and "--value is for the generated code" in result.output


# -- Hessian-vector products ----------------------------------------------------------------------

def test_logistic_regression_hvp_reads_as_by_hand():
    h = matcalc.hvp(LOGREG, wrt="w")
    assert str(h) == "X'*((p - p.^2).*(X*v)) where p = sigmoid(X*w)"
    assert str(h.label) == "∂²f/∂w²·v" and h.kind == "hvp"
    rules = [s.rule for s in h.steps]
    assert "hvp" in rules and "direction" in rules and rules.index("hvp") < rules.index(
        "direction")
    assert h.latex().startswith(r"\frac{\partial^2 f}{\partial w^2} \, v = X^\top")
    assert r"\begin{align*}" in h.latex(steps=True)
    assert "return X.T @ ((p - p ** 2) * (X @ v))" in h.source
    assert "diag" not in h.source and "_symmetric_product" not in h.source    # H is not formed


@pytest.mark.parametrize("expr, wrt, symmetric", HVP_PROBLEMS,
                         ids=[f"{e}:{w}" for e, w, _ in HVP_PROBLEMS])
def test_hvp_against_differences_of_the_gradient_and_the_hessian(expr, wrt, symmetric):
    h = matcalc.hvp(expr, wrt=wrt, symmetric=symmetric)
    g = matcalc.derive(expr, wrt=wrt, symmetric=symmetric)
    hess = matcalc.hessian(expr, wrt=wrt, symmetric=symmetric)
    assert g.check() < 1e-6 and h.check() < 1e-6 and hess.check() < 1e-6
    inputs, env = inputs_for(g, seed=1, symmetric=symmetric)
    rng = np.random.default_rng(5)
    shape = env[wrt].shape
    v = rng.standard_normal(shape)
    if symmetric:
        v = (v + v.T) / 2
    v_user = to_user(v, g.problem.variables[wrt])
    got = np.asarray(h.numpy()(**inputs, **{h.direction: v_user}), dtype=float)
    # central differences of the gradient along v
    step = 1e-6
    plus = dict(inputs, **{wrt: to_user(env[wrt] + step * v, g.problem.variables[wrt])})
    minus = dict(inputs, **{wrt: to_user(env[wrt] - step * v, g.problem.variables[wrt])})
    numeric = (np.asarray(g.numpy()(**plus)) - np.asarray(g.numpy()(**minus))) / (2 * step)
    scale = max(1.0, float(np.max(np.abs(numeric))))
    assert np.max(np.abs(got - numeric)) <= 1e-5 * scale
    # the Hessian, formed: H @ v, or its linear map at dX = V
    if hess.kind == "hessian":
        want = np.asarray(hess.numpy()(**inputs)) @ v_user
    else:
        want = hess.numpy()(**inputs, **{hess.direction: v_user})
    close(got, want)
    # every installed backend agrees with the NumPy code
    for to_array, call in filter(None, map(backend, BACKENDS[1:])):
        arrays = _convert(dict(inputs, **{h.direction: v_user}), to_array)
        close(np.asarray(call(h)(**arrays)), got)


def test_hvp_direction_names_and_errors():
    assert matcalc.hvp(SEED, wrt="X").direction == "V"
    assert matcalc.hvp("v'*v + sum(exp(v))", wrt="v").direction == "v_"
    assert str(matcalc.hvp("x'*x", wrt="x", direction="u")) == "2*u"
    with pytest.raises(matcalc.DifferentiationError, match="scalar functions"):
        matcalc.hvp("A*x", wrt="x")
    with pytest.raises(matcalc.DifferentiationError, match="new name"):
        matcalc.hvp("x'*A*x", wrt="x", direction="A")
    result = CliRunner().invoke(main, ["hvp", "x'*A*(x", "--wrt", "x"])
    assert result.exit_code == 2 and "^" in result.output and "Traceback" not in result.output


def test_cli_hvp_prints_the_product_and_its_steps():
    result = CliRunner().invoke(main, ["hvp", LOGREG, "--wrt", "w", "--steps", "--check"])
    assert result.exit_code == 0, result.output
    assert "∂²f/∂w²·v = X'*((p - p.^2).*(X*v))\n  where p = sigmoid(X*w)\n" in result.output
    assert "[direction (d(w) = v)]" in result.output and "check: largest relative" in result.output
