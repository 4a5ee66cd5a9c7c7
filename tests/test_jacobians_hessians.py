"""Jacobians, Hessians, linear maps, symmetric matrices and several variables — all numerically."""
import numpy as np
import pytest
from numeric import check_gradient, check_hessian, check_jacobian, from_user

import matcalc


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


JACOBIANS = [
    pytest.param("softmax(x)", "x", None, lambda x: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x)),
                 id="softmax"),
    pytest.param("sigmoid(X'*a)", "a", None,
                 lambda X, a: (sigmoid(X.T @ a) * (1 - sigmoid(X.T @ a)))[:, None] * X.T,
                 id="sigmoid-Xa-wrt-a"),
    pytest.param("A*x", "x", {"A": ("m", "n")}, lambda A, x: A, id="linear"),
    pytest.param("exp(x)", "x", None, lambda x: np.diag(np.exp(x)), id="exp"),
    pytest.param("tanh(W*x)", "x", {"W": ("m", "n")},
                 lambda W, x: (1 - np.tanh(W @ x) ** 2)[:, None] * W, id="tanh-chain"),
    pytest.param("sin(exp(x)).*x", "x", None,
                 lambda x: np.diag(np.cos(np.exp(x)) * np.exp(x) * x + np.sin(np.exp(x))),
                 id="elementwise-chain"),
    pytest.param("(x'*a)*b", "x", {"a": ("n",), "b": ("m",)}, lambda x, a, b: np.outer(b, a),
                 id="scalar-times-vector"),
    pytest.param("alpha*x", "alpha", None, lambda alpha, x: x, id="wrt-scalar"),
    pytest.param("x/norm2(x)", "x", None,
                 lambda x: (np.eye(len(x)) - np.outer(x, x) / (x @ x)) / np.linalg.norm(x),
                 id="normalize"),
    pytest.param("inv(S)*x", "x", None, lambda S, x: np.linalg.inv(S), id="solve"),
    pytest.param("softmax(W*x)", "x", {"W": ("m", "n")},
                 lambda W, x: (np.diag(softmax(W @ x)) - np.outer(softmax(W @ x), softmax(W @ x))) @ W,
                 id="softmax-of-linear"),
]


@pytest.mark.parametrize("expr, wrt, shapes, expected", JACOBIANS)
def test_jacobian(expr, wrt, shapes, expected):
    check_jacobian(expr, wrt, shapes, expected)


def logistic_hessian(X, w, y):
    s = sigmoid(-y * (X @ w))
    return X.T @ (((s - s**2) * y**2)[:, None] * X)


HESSIANS = [
    pytest.param("sum(softplus(-y.*(X*w)))", "w", {"X": ("N", "d")}, logistic_hessian,
                 id="logistic-regression"),
    pytest.param("sum(log(exp(-y.*(X*w)) + vector(1)))", "w", {"X": ("N", "d")},
                 logistic_hessian, id="logistic-regression-log-exp"),
    pytest.param("x'*A*x", "x", None, lambda x, A: A + A.T, id="quadratic"),
    pytest.param("sum(exp(x))", "x", None, lambda x: np.diag(np.exp(x)), id="sum-exp"),
    pytest.param("logsumexp(x)", "x", None,
                 lambda x: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x)), id="logsumexp"),
    pytest.param("norm2(A*x - b)^2", "x", {"A": ("m", "n")}, lambda A, x, b: 2 * A.T @ A,
                 id="least-squares"),
    pytest.param("x'*A*x + sum(exp(x))", "x", None, lambda x, A: A + A.T + np.diag(np.exp(x)),
                 id="spec-example"),
    pytest.param("norm2(x)", "x", None,
                 lambda x: (np.eye(len(x)) - np.outer(x, x) / (x @ x)) / np.linalg.norm(x),
                 id="norm"),
    pytest.param("sum(tanh(W*x))", "x", {"W": ("m", "n")},
                 lambda W, x: W.T @ ((-2 * np.tanh(W @ x) * (1 - np.tanh(W @ x) ** 2))[:, None] * W),
                 id="tanh-layer"),
    pytest.param("alpha^3 + alpha*beta", "alpha", None, lambda alpha, beta: 6 * alpha, id="scalar"),
    pytest.param("logsumexp(W*x) - y'*W*x", "x", {"W": ("k", "n"), "y": ("k",)},
                 lambda W, x, y: W.T @ (np.diag(softmax(W @ x)) - np.outer(softmax(W @ x), softmax(W @ x))) @ W,
                 id="softmax-cross-entropy"),
    pytest.param("a'*inv(X)*b", "X", None, None, id="matrix-inverse-bilinear"),
    pytest.param("tr(X'*A*X)", "X", {"X": ("n", "m")}, None, id="matrix-trace-quadratic"),
    pytest.param("logdet(X)", "X", None, None, id="matrix-logdet"),
]


@pytest.mark.parametrize("expr, wrt, shapes, expected", HESSIANS)
def test_hessian(expr, wrt, shapes, expected):
    domain = "positive" if "logdet" in expr or "inv" in expr else "normal"
    check_hessian(expr, wrt, shapes, expected, domain=domain)


def test_logistic_hessian_is_compact_and_its_code_forms_no_N_by_N_array():
    d = matcalc.hessian("sum(softplus(-y.*(X*w)))", wrt="w", shapes={"X": ("N", "d")})
    assert d.result_text().startswith("X'*diag(") and d.result_text().endswith(")*X")
    assert "_weighted_gram(X, " in d.source and "np.diag(" not in d.source


def sigmoid_hessian(X, w):
    s = sigmoid(X @ w)
    return X.T @ (((s - s**2) * (1 - 2 * s))[:, None] * X)


@pytest.mark.parametrize("n, d", [(40, 3), (300, 99), (300, 101), (500, 257)])
def test_gram_hessians_are_exactly_symmetric_by_either_kernel(n, d):
    """X'*diag(s)*X and A'*A are symmetric whatever X, s, A. With weights proven >= 0 (the
    logistic σ(1 - σ)y², A'A's none) the code is one syrk, W'W with W = sqrt(s)[:, None] * X; with
    weights of either sign (σ'' = σ(1 - σ)(1 - 2σ)) the upper triangle in row blocks (1, 2 and 4
    blocks, uneven at d = 101 and 257), mirrored."""
    logistic = check_hessian("sum(softplus(-y.*(X*w)))", "w", {"X": ("N", "d")}, logistic_hessian)
    squares = check_hessian("norm2(A*x - b)^2", "x", {"A": ("m", "n")},
                            lambda A, x, b: 2 * A.T @ A)
    signed = check_hessian("sum(sigmoid(X*w))", "w", None, sigmoid_hessian)
    assert "_weighted_gram(X, " in logistic.source and "_symmetric_product" not in logistic.source
    assert "_gram(A)" in squares.source
    assert "_symmetric_product(X, " in signed.source and "_gram" not in signed.source
    rng = np.random.default_rng(d)
    X, w, y = rng.standard_normal((n, d)), rng.standard_normal(d) / np.sqrt(d), rng.standard_normal(n)
    for got, want in [(logistic.numpy()(X=X, w=w, y=y), logistic_hessian(X, w, y)),
                      (squares.numpy()(A=X, x=w, b=y), 2 * X.T @ X),
                      (signed.numpy()(X=X, w=w), sigmoid_hessian(X, w))]:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
        assert np.array_equal(got, got.T)
    H32 = logistic.numpy()(X=X.astype(np.float32), w=w.astype(np.float32), y=y.astype(np.float32))
    assert H32.dtype == np.float32


def test_hessian_wrt_matrix_is_a_linear_map_in_dX():
    d = matcalc.hessian("tr(X'*A*X)", wrt="X")
    assert d.kind == "hessian-map" and "d(X)" in str(d)


LINEAR_MAPS = [("A*X*B", "X"), ("inv(X)", "X"), ("X*x", "X"), ("X.*exp(X)", "X"), ("X'*X", "X")]


@pytest.mark.parametrize("expr, wrt", LINEAR_MAPS)
def test_linear_map_matches_finite_differences(expr, wrt):
    d = matcalc.derive(expr, wrt=wrt)
    assert d.kind == "linear-map"
    assert d.error < 1e-6
    assert d.check(trials=3, seed=11) < 1e-6


SYMMETRIC = [
    pytest.param("logdet(S)", lambda S: np.linalg.inv(S), id="logdet"),
    pytest.param("x'*inv(S)*x", lambda S, x: -np.linalg.inv(S) @ np.outer(x, x) @ np.linalg.inv(S),
                 id="inverse-quadratic"),
    pytest.param("tr(S*A)", lambda S, A: (A + A.T) / 2, id="trace-nonsymmetric-A"),
    pytest.param("x'*S*y", lambda S, x, y: (np.outer(x, y) + np.outer(y, x)) / 2,
                 id="bilinear"),
    pytest.param("sum(S.^2) + tr(A*S*B)", lambda S, A, B: 2 * S + (A.T @ B.T + B @ A) / 2,
                 id="mixed"),
]


@pytest.mark.parametrize("expr, expected", SYMMETRIC)
def test_symmetric_gradient(expr, expected):
    d = check_gradient(expr, "S", domain="positive", expected=expected, symmetric={"S"})
    assert d.kind == "gradient"


def test_symmetric_gradient_along_symmetric_perturbations():
    """G : E equals the directional derivative for every symmetric E (and not for others)."""
    d = matcalc.derive("tr(S*A) + x'*inv(S)*x", wrt="S", symmetric={"S"})
    rng = np.random.default_rng(3)
    n = 4
    S = rng.uniform(0.5, 1.5, (n, n))
    S = (S + S.T) / 2 + n * np.eye(n)
    A, x = rng.standard_normal((n, n)), rng.standard_normal(n)
    f = lambda S: np.trace(S @ A) + x @ np.linalg.solve(S, x)
    G = d.numpy()(S=S, A=A, x=x)
    for _ in range(3):
        E = rng.standard_normal((n, n))
        E = E + E.T
        numeric = (f(S + 1e-6 * E) - f(S - 1e-6 * E)) / 2e-6
        assert abs(np.sum(G * E) - numeric) < 1e-6 * max(1, abs(numeric))


def test_two_layer_network_both_weights_in_one_call():
    expr = "sum((W2*tanh(W1*x) - y).^2)"
    shapes = {"W1": ("h", "n"), "W2": ("k", "h"), "x": ("n",), "y": ("k",)}
    ds = matcalc.derive(expr, wrt=["W1", "W2"], shapes=shapes)
    assert ds.wrt == ["W1", "W2"] and ds.check() < 1e-6
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((5, 3)), rng.standard_normal((2, 5))
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    g1, g2 = ds.numpy()(W1=W1, W2=W2, x=x, y=y)
    # each against its own derivation and against central differences
    for wrt, g in (("W1", g1), ("W2", g2)):
        single = check_gradient(expr, wrt, shapes, domain="normal")
        assert np.allclose(g, single.numpy()(W1=W1, W2=W2, x=x, y=y))
    # shared subexpressions computed once: tanh(W1*x) appears in one assignment
    assert ds.source.count("np.tanh(W1 @ x)") == 1
    h = np.tanh(W1 @ x)
    r = W2 @ h - y
    assert np.allclose(g2, 2 * np.outer(r, h))
    assert np.allclose(g1, np.outer(2 * (1 - h**2) * (W2.T @ r), x))


def test_from_user_roundtrip_for_scalar_gradient():
    assert from_user(2.0, 1, 1).shape == (1, 1)


KRONECKER = [
    pytest.param("A*X*B", "X", lambda A, X, B: np.kron(B.T, A), id="AXB"),
    pytest.param("inv(X)", "X", lambda X: -np.kron(np.linalg.inv(X).T, np.linalg.inv(X)), id="inverse"),
    pytest.param("X'", "X", None, id="transpose-commutation"),
    pytest.param("X'*X", "X", None, id="gram"),
    pytest.param("X.*exp(X)", "X", lambda X: np.diag(np.ravel(np.exp(X) * (1 + X), order="F")),
                 id="hadamard"),
    pytest.param("(a'*X*b)*C", "X", lambda a, X, b, C: np.outer(np.ravel(C, order="F"),
                                                                np.ravel(np.outer(a, b), order="F")),
                 id="scalar-times-matrix"),
    pytest.param("X*x", "X", None, id="matrix-vector"),
]


@pytest.mark.parametrize("expr, wrt, expected", KRONECKER)
def test_kronecker_form(expr, wrt, expected):
    """vec(dF) = K*vec(dX) with column-major vec, checked column by column against differences."""
    d = matcalc.derive(expr, wrt=wrt).vec()
    assert d.kind == "kronecker"
    rng = np.random.default_rng(5)
    sizes = {"rows(X)": 3, "cols(X)": 4, "len(x)": 4, "len(a)": 3, "len(b)": 4, "rows(C)": 2,
             "cols(C)": 5, "rows(A)": 2, "cols(B)": 5}
    inputs = {}
    for name, shape in d.problem.variables.items():
        dims = [s if isinstance(s, int) else sizes.get(s, 3) for s in shape]
        inputs[name] = rng.uniform(0.5, 1.5, dims) if dims[1] != 1 else rng.uniform(0.5, 1.5, dims[0])
    if "X" in inputs and inputs["X"].ndim == 2 and expr in ("inv(X)",):
        inputs["X"] = rng.uniform(0.5, 1.5, (3, 3)) + 4 * np.eye(3)
    fn = {"A*X*B": lambda A, X, B: A @ X @ B, "inv(X)": lambda X: np.linalg.inv(X),
          "X'": lambda X: X.T, "X'*X": lambda X: X.T @ X, "X.*exp(X)": lambda X: X * np.exp(X),
          "(a'*X*b)*C": lambda a, X, b, C: (a @ X @ b) * C, "X*x": lambda X, x: X @ x}[expr]
    K = np.asarray(d.numpy()(**inputs))
    X = inputs[wrt]
    columns = []
    for k in range(X.size):
        E = np.zeros(X.size)
        E[k] = 1e-6
        E = E.reshape(X.shape, order="F")
        plus, minus = dict(inputs), dict(inputs)
        plus[wrt], minus[wrt] = X + E, X - E
        columns.append(np.ravel((fn(**plus) - fn(**minus)) / 2e-6, order="F"))
    numeric = np.column_stack(columns)
    assert K.shape == numeric.shape
    assert np.allclose(K, numeric, atol=1e-6 * max(1, np.max(np.abs(numeric))))
    if expected is not None:
        assert np.allclose(K, expected(**inputs))


def test_vec_of_a_gradient_is_refused():
    with pytest.raises(matcalc.DifferentiationError, match="linear maps"):
        matcalc.derive("x'*x", wrt="x").vec()


def test_hessian_kronecker_form_of_logdet():
    d = matcalc.hessian("logdet(X)", wrt="X").vec()
    assert d.kind == "hessian-kronecker" and d.error < 1e-6
    X = np.random.default_rng(1).uniform(0.5, 1.5, (3, 3)) + 3 * np.eye(3)
    Xi = np.linalg.inv(X)
    n = 3
    K = np.zeros((n * n, n * n))     # commutation: K vec(A) = vec(A')
    for i in range(n):
        for j in range(n):
            K[j + i * n, i + j * n] = 1
    assert np.allclose(d.numpy()(X=X), -K @ np.kron(Xi.T, Xi))
