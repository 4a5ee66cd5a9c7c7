"""The sign analysis behind the NumPy code's syrk (printing/codegen/signs.py): a weight proven
non-negative is non-negative at random inputs, one that can be negative is not proven, and the
Hessians whose Gram weights are proven compute W'W, checked against the interpreter."""
import numpy as np
import pytest
from numeric import check_hessian

from matcalc.api import _problem
from matcalc.printing.codegen.signs import bounds, nonnegative
from matcalc.verify import evaluate

# (expression of a vector x, proven >= 0?): the weights of Gram Hessians and their near misses
WEIGHTS = [
    ("exp(x)", True),
    ("x.^2", True),
    ("x.^4 + 3*x.^2", True),
    ("sigmoid(x) - sigmoid(x).^2", True),                  # σ' = σ(1 - σ)
    ("(sigmoid(x) - sigmoid(x).^2).*y.^2", True),          # the logistic Hessian's weights
    ("sigmoid(x).*(1 - sigmoid(x))", True),
    ("1 - tanh(x).^2", True),                              # tanh'
    ("sigmoid(x) - 3*sigmoid(x).^2 + 2*sigmoid(x).^3", False),   # σ'' changes sign at x = 0
    ("tanh(x) - tanh(x).^3", False),
    ("sigmoid(x) - 2*sigmoid(x).^2 + sigmoid(x).^3", True),      # σ(1 - σ)² ≥ 0
    ("sigmoid(x).^2 - sigmoid(x) + 0.25", True),           # (σ - 1/2)²: a double root at 1/2
    ("sigmoid(x).^2 - sigmoid(x) + 0.24", False),
    ("exp(x).*(y - 0.5)", False),
    ("softplus(x) + abs(y) + relu(x)", True),
    ("sqrt(exp(x))./(1 + exp(x))", True),
    ("x.*y", False),
    ("-exp(x)", False),
    ("exp(x) - sigmoid(x)", False),   # ≥ 0 indeed (σ = exp/(1 + exp)), not proven: stays safe
]


@pytest.mark.parametrize("expr, proven", WEIGHTS)
def test_sign_analysis_proves_only_what_holds(expr, proven):
    program = _problem(expr, {"x": ("n",), "y": ("n",)}, None)
    node = program.expr
    assert nonnegative(node, program.bindings) == proven
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(200) * 4, [-30.0, 0.0, 30.0]])[:, None]
    y = rng.standard_normal(x.shape)
    value = evaluate(node, {"x": x, "y": y, "__dims__": {"n": len(x)}}, program.bindings)
    lo, hi = bounds(node, program.bindings)
    assert np.all(value >= lo - 1e-12) and np.all(value <= hi + 1e-12)
    if not proven and expr != "exp(x) - sigmoid(x)":
        assert np.min(value) < 0        # the near misses do take negative values


HESSIANS = [
    ("sum(exp(X*w))", lambda X, w: X.T @ (np.exp(X @ w)[:, None] * X)),
    ("sum((X*w).^4)", lambda X, w: 12 * X.T @ (((X @ w) ** 2)[:, None] * X)),
    ("sum(log(1 + exp(X*w)))", None),
    ("sum(cosh_like) where cosh_like = exp(X*w) + exp(-(X*w))", None),
]


@pytest.mark.parametrize("expr, expected", HESSIANS)
def test_hessians_with_nonnegative_weights_take_one_syrk(expr, expected):
    d = check_hessian(expr, "w", {"X": ("N", "d")}, expected)
    assert "_weighted_gram(X, " in d.source, d.source
    rng = np.random.default_rng(1)
    X, w = rng.standard_normal((300, 40)), rng.standard_normal(40) / 8
    H = d.numpy()(X=X, w=w)
    interpreted = evaluate(d.result, {"X": X, "w": w[:, None], "__dims__": {}},
                           d.problem.bindings)
    np.testing.assert_allclose(H, interpreted, rtol=1e-10, atol=1e-10)
    assert np.array_equal(H, H.T)
