"""Batched models in closed form: reductions and vector functions along a dimension, extrema,
sizes — each problem differentiated by matcalc and checked against central finite differences.

Every row goes through `check_gradient` (tests/numeric.py): the generated NumPy gradient is
compared entry by entry with central differences of the input expression at random inputs, and,
where the textbook gradient is known, with that formula written out in NumPy (`expected`).

A bias is added to every row of a batch by implicit expansion, `X*W' + b'` (MATLAB's: a row
beside a matrix is repeated down it, a column across it); the explicit outer products
`vector(1)*b'` of before mean the same and are kept in some rows.

Every problem is also run on every installed backend (JAX, PyTorch, the array API) at the
inputs of the finite-difference check, against the NumPy code that check verified.

Shapes: a batch is N×d (N samples of d features), a weight matrix C×d (C classes), Y N×C targets.
"""
import importlib
import importlib.util

import numpy as np
import pytest
from numeric import check_gradient, check_hessian, check_jacobian, random_inputs, sympy_value
from test_backends import _run

import matcalc
from matcalc.verify import dimension_sizes, to_user

P = pytest.param


def _softmax_rows(S):
    e = np.exp(S - S.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _khatrirao(A, B):
    """Column r is kron(A[:, r], B[:, r])."""
    return np.stack([np.kron(A[:, r], B[:, r]) for r in range(A.shape[1])], axis=1)


def _softmax_cols(S):
    return _softmax_rows(S.T).T


BATCH = {"X": ("N", "d"), "W": ("C", "d"), "Y": ("N", "C")}
ATTENTION = {"X": ("N", "d"), "Wq": ("d", "k"), "Wk": ("d", "k"), "Wv": ("d", "v"),
             "T": ("N", "v")}
ATTENTION_TEXT = "sum(T.*(softmax(Q*K'/2, 2)*V)) where Q = X*Wq, K = X*Wk, V = X*Wv"
UNSCALED = "sum(T.*(softmax(Q*K', 2)*V)) where Q = X*Wq, K = X*Wk, V = X*Wv"
BIAS = {**BATCH, "b": ("C",)}
NETWORK = {"X": ("N", "d"), "W1": ("h", "d"), "b1": ("h",), "W2": ("C", "h"), "b2": ("C",),
           "T": ("N", "C")}
NETWORK_TEXT = "H = tanh(X*W1' + b1'); sum(T.*(H*W2' + b2'))"
KRON = {"A": ("m", "n"), "B": ("p", "q")}
CP_TEXT = "norm2(X - A*khatrirao(C, B)')^2"
CP = {"A": ("I", "R"), "B": ("J", "R"), "C": ("K", "R")}
NORM = {"X": ("N", "d"), "T": ("N", "d"), "g": ("d",), "b": ("d",), "eps": ()}

PROBLEMS = [
    # batched softmax cross-entropy: the sum over samples of logsumexp(s_i) - y_i's*s_i
    P("sum(logsumexp(X*W', 2)) - tr(Y'*X*W')", "W", BATCH,
      lambda X, W, Y, **_: (_softmax_rows(X @ W.T) - Y).T @ X, "normal", id="cross-entropy-W"),
    P("sum(logsumexp(X*W', 2)) - tr(Y'*X*W')", "X", BATCH,
      lambda X, W, Y, **_: (_softmax_rows(X @ W.T) - Y) @ W, "normal", id="cross-entropy-X"),
    # multinomial logistic regression with a bias (broadcast as an outer product), per sample
    P("mean(logsumexp(S, 2) - sum(Y.*S, 2)) where S = X*W' + vector(1)*b'", "b",
      {**BATCH, "b": ("C",)},
      lambda X, W, Y, b, **_: (_softmax_rows(X @ W.T + b) - Y).mean(axis=0), "normal",
      id="logistic-regression-bias"),
    P("-sum(Y.*logsoftmax(X*W' + vector(1)*b', 2))", "W", {**BATCH, "b": ("C",)},
      lambda X, W, Y, b, **_: (_softmax_rows(X @ W.T + b) * Y.sum(axis=1, keepdims=True)
                               - Y).T @ X, "normal", id="logsoftmax-nll-W"),
    # the same model with samples as columns: softmax down each column (dimension 1)
    P("sum(logsumexp(W*Z, 1)) - tr(Y'*W*Z)", "W", {"Z": ("d", "N"), "W": ("C", "d"),
                                                   "Y": ("C", "N")},
      lambda Z, W, Y, **_: (_softmax_cols(W @ Z) - Y) @ Z.T, "normal", id="cross-entropy-dim1"),
    P("-y'*logsoftmax(W*x)", "W", {"W": ("C", "d"), "x": ("d",), "y": ("C",)},
      lambda W, x, y, **_: np.outer(_softmax_rows((W @ x)[None, :])[0] * y.sum() - y, x),
      "normal", id="logsoftmax-vector"),
    # single-head attention, scaled by 1/2, with respect to each weight matrix
    P(ATTENTION_TEXT, "Wq", ATTENTION, None, "normal", id="attention-Wq"),
    P(ATTENTION_TEXT, "Wk", ATTENTION, None, "normal", id="attention-Wk"),
    P(ATTENTION_TEXT, "Wv", ATTENTION,
      lambda X, Wq, Wk, T, **_: X.T @ _softmax_rows(X @ Wq @ (X @ Wk).T / 2).T @ T, "normal",
      id="attention-Wv"),
    # layer norm of one sample (its size from len(x)), then a linear read-out
    P("a'*(xc/sqrt(xc'*xc/len(x) + eps)) where xc = x - mean(x)", "x",
      {"x": ("n",), "a": ("n",), "eps": ()}, None, "positive", id="layer-norm"),
    # batch norm: each column standardised over the batch (dimension 1), then a loss
    P("Xc = X - vector(1)*mean(X, 1); Z = Xc./(vector(1)*sqrt(mean(Xc.^2, 1) + eps)); "
      "sum(T.*Z)", "X", {"X": ("N", "d"), "T": ("N", "d"), "eps": ()}, None, "positive",
      id="batch-norm"),
    # statistics: the total variance of the columns, and centring with rows(X)
    P("sum(mean((X - vector(1)*mean(X, 1)).^2, 1))", "X", {"X": ("N", "d")},
      lambda X, **_: 2 * (X - X.mean(axis=0)) / X.shape[0], "normal", id="total-variance"),
    P("norm2(X - vector(1)*sum(X, 1)/rows(X))^2 + sum(sum(X, 2).^2)/cols(X)", "X",
      {"X": ("N", "d")},
      lambda X, **_: 2 * (X - X.mean(axis=0)) + 2 * np.repeat(X.sum(axis=1, keepdims=True),
                                                               X.shape[1], 1) / X.shape[1],
      "normal", id="centring-sizes"),
    # Poisson regression: the mean negative log-likelihood
    P("mean(exp(X*w) - y.*(X*w))", "w", {"X": ("N", "d"), "w": ("d",), "y": ("N",)},
      lambda X, w, y, **_: X.T @ (np.exp(X @ w) - y) / X.shape[0], "normal", id="poisson"),
    # nonsmooth: the hinge loss of a linear SVM, max pooling, clipping
    P("sum(max(1 - y.*(X*w), 0)) + lambda*w'*w", "w", {"X": ("N", "d"), "w": ("d",),
                                                       "y": ("N",)},
      lambda X, w, y, **kw: -X.T @ (y * (1 - y * (X @ w) > 0)) + 2 * kw["lambda"] * w, "normal",
      id="hinge"),
    P("max(W*x) - min(W*x)", "W", {"W": ("m", "n"), "x": ("n",)},
      lambda W, x, **_: np.outer(np.eye(W.shape[0])[np.argmax(W @ x)]
                                 - np.eye(W.shape[0])[np.argmin(W @ x)], x), "normal",
      id="max-pool"),
    P("sum(min(X*W, 1).^2) + sum(max(X, Y))", "X", {"X": ("m", "n"), "W": ("n", "n"),
                                                    "Y": ("m", "n")}, None, "normal",
      id="clip-and-maximum"),
    # implicit expansion: multinomial logistic regression with a bias row b' added to each row
    P("sum(logsumexp(X*W' + b', 2)) - tr(Y'*(X*W' + b'))", "b", BIAS,
      lambda X, W, Y, b, **_: (_softmax_rows(X @ W.T + b) - Y).sum(axis=0), "normal",
      id="broadcast-bias-b"),
    P("sum(logsumexp(X*W' + b', 2)) - tr(Y'*(X*W' + b'))", "W", BIAS,
      lambda X, W, Y, b, **_: (_softmax_rows(X @ W.T + b) - Y).T @ X, "normal",
      id="broadcast-bias-W"),
    # a 2-layer network with a broadcast bias in each layer
    P(NETWORK_TEXT, "W1", NETWORK,
      lambda X, W1, b1, W2, T, **_: ((T @ W2) * (1 - np.tanh(X @ W1.T + b1) ** 2)).T @ X,
      "normal", id="network-W1"),
    P(NETWORK_TEXT, "b1", NETWORK,
      lambda X, W1, b1, W2, T, **_: ((T @ W2) * (1 - np.tanh(X @ W1.T + b1) ** 2)).sum(axis=0),
      "normal", id="network-b1"),
    P(NETWORK_TEXT, "b2", NETWORK, lambda T, **_: T.sum(axis=0), "normal", id="network-b2"),
    # a column expanded across a matrix, and an expanded row in a quotient
    P("sum(T.*(X - c).^2)", "c", {"X": ("N", "d"), "T": ("N", "d"), "c": ("N",)},
      lambda X, T, c, **_: -2 * (T * (X - c[:, None])).sum(axis=1), "normal",
      id="broadcast-column"),
    P("sum(T.*(X./b'))", "b", {"X": ("N", "d"), "T": ("N", "d"), "b": ("d",)},
      lambda X, T, b, **_: -(T * X).sum(axis=0) / b ** 2, "positive", id="broadcast-quotient"),
    # layer norm over a batch (each row standardised), batch norm (each column) with a gain g
    # and a shift b, written with implicit expansion
    P("Xc = X - mean(X, 2); sum(T.*(Xc./sqrt(mean(Xc.^2, 2) + eps)))", "X", NORM, None,
      "positive", id="layer-norm-batch"),
    P("Xc = X - mean(X, 1); Z = Xc./sqrt(mean(Xc.^2, 1) + eps); sum(T.*(Z.*g' + b'))", "X",
      NORM, None, "positive", id="batch-norm-X"),
    P("Xc = X - mean(X, 1); Z = Xc./sqrt(mean(Xc.^2, 1) + eps); sum(T.*(Z.*g' + b'))", "g",
      NORM, lambda X, T, eps, **_: (T * (X - X.mean(axis=0)) / np.sqrt(
          ((X - X.mean(axis=0)) ** 2).mean(axis=0) + eps)).sum(axis=0), "positive",
      id="batch-norm-gain"),
    # single-head attention without scaling, and scaled by 1/sqrt(k) with k = cols(Wq)
    P(UNSCALED, "Wq", ATTENTION, None, "normal", id="attention-unscaled-Wq"),
    P(UNSCALED, "Wk", ATTENTION, None, "normal", id="attention-unscaled-Wk"),
    P(UNSCALED, "Wv", ATTENTION,
      lambda X, Wq, Wk, T, **_: X.T @ _softmax_rows(X @ Wq @ (X @ Wk).T).T @ T, "normal",
      id="attention-unscaled-Wv"),
    P("sum(T.*(softmax(Q*K'/sqrt(cols(Wq)), 2)*V)) where Q = X*Wq, K = X*Wk, V = X*Wv", "Wq",
      ATTENTION, None, "normal", id="attention-sqrt-k-Wq"),
    # Kronecker least squares (Van Loan 2000): from the blocks of M, never an mp×nq product
    P("norm2(M - kron(A, B))^2", "A", KRON, lambda M, A, B, **_: 2 * (
        np.sum(B * B) * A - np.einsum("ipjq,pq->ij", M.reshape(A.shape[0], B.shape[0],
                                                              A.shape[1], B.shape[1]), B)),
      "normal", id="kron-least-squares-A"),
    P("norm2(M - kron(A, B))^2", "B", KRON, None, "normal", id="kron-least-squares-B"),
    # a CP decomposition of a tensor unfolded as X (I×JK): each factor (Kolda & Bader 2009)
    P(CP_TEXT, "A", CP, lambda X, A, B, C, **_: 2 * (A @ ((C.T @ C) * (B.T @ B))
                                                     - X @ _khatrirao(C, B)), "normal",
      id="cp-factor-A"),
    P(CP_TEXT, "B", CP, None, "normal", id="cp-factor-B"),
    P(CP_TEXT, "C", CP, None, "normal", id="cp-factor-C"),
]


@pytest.mark.parametrize("expr, wrt, shapes, expected, domain", PROBLEMS)
def test_batched_problem_matches_finite_differences(expr, wrt, shapes, expected, domain):
    d = check_gradient(expr, wrt, shapes=shapes, expected=expected, domain=domain)
    _every_backend_computes_what_numpy_computes(d, domain)


def _every_backend_computes_what_numpy_computes(d: matcalc.Derivation, domain: str) -> None:
    """The JAX, PyTorch and array-API code of d at the inputs check_gradient drew (its first
    seed), against the NumPy code it verified by finite differences."""
    variables = d.problem.variables
    env = random_inputs(variables, dimension_sizes(variables), np.random.default_rng(0), domain)
    # scalars as 0-d arrays: torch.from_numpy takes arrays only
    inputs = {n: np.asarray(to_user(x, variables[n])) for n, x in env.items()}
    expected = np.asarray(d.numpy()(**inputs), dtype=float)
    for backend in ("jax", "torch", "array-api"):
        if importlib.util.find_spec(backend.replace("-", "_") if backend != "array-api"
                                    else "array_api_compat") is None:
            continue
        if backend == "jax":       # float64, as NumPy
            importlib.import_module("jax").config.update("jax_enable_x64", True)
        got = np.asarray(_run(backend, d, inputs), dtype=float)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=backend)


def test_layer_norm_as_the_issue_writes_it():
    """Its Jacobian, with the size of x written len(x) inside the expression."""
    check_jacobian("xc = x - mean(x); xc/sqrt(xc'*xc/len(x) + eps)", "x", shapes={"eps": ()},
                   domain="positive")


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("mean(exp(X*w))", "w", {"X": ("N", "d")}),                   # X'*diag(exp(X*w))*X/rows(X)
    ("sum(logsumexp(X*W', 2))", "W", BATCH),                       # a map dW ↦ …, N×C at most
])
def test_second_derivatives_through_the_new_operators(expr, wrt, shapes):
    check_hessian(expr, wrt, shapes=shapes)


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("sum(logsumexp(X*W', 2)) - tr(Y'*X*W')", "W", {"X": (4, 3), "W": (2, 3), "Y": (4, 2)}),
    ("sum(T.*softmax(W*Z, 1))", "W", {"W": (2, 3), "Z": (3, 4), "T": (2, 4)}),
    ("sum(sum(X, 1).^2) + mean(X, 2)'*mean(X, 2) + mean(exp(X*w))", "X", {"X": (4, 3), "w": (3,)}),
    ("-y'*logsoftmax(W*x) + sum(logsoftmax(Z, 2).*Y)", "x",
     {"W": (3, 2), "x": (2,), "y": (3,), "Z": (3, 3), "Y": (3, 3)}),
    ("sum(logsumexp(X, 1)) + sum(max(X, Y)) + sum(min(X, 0.5))", "X", {"X": (3, 4), "Y": (3, 4)}),
    ("sum(X)/(rows(X)*cols(X)) + x'*x/len(x)", "X", {"X": (3, 4), "x": (3,)}),
])
def test_the_sympy_form_computes_what_the_code_computes(expr, wrt, shapes):
    """d.expr, evaluated by SymPy itself: the SymPy forms of the new rows are right."""
    d = matcalc.derive(expr, wrt=wrt, shapes=shapes)
    rng = np.random.default_rng(0)
    inputs = {n: rng.standard_normal(s) for n, s in shapes.items()}
    expected = np.asarray(d.numpy()(**inputs), dtype=float)
    np.testing.assert_allclose(sympy_value(d, inputs).reshape(expected.shape), expected,
                               rtol=1e-9, atol=1e-12)


def test_cross_entropy_reads_as_a_careful_person_writes_it():
    d = matcalc.derive("sum(logsumexp(X*W', 2)) - tr(Y'*X*W')", wrt="W", shapes=BATCH)
    assert str(d) == "(softmax(X*W', 2) - Y)'*X"
    rules = [s.rule for s in d.steps]
    for name in ("logsumexp-rows", "frobenius-sum-rows-fill", "frobenius-hadamard", "gradient"):
        assert name in rules, rules
    assert r"\operatorname{softmax}\left(X W^\top, 2\right)" in d.latex()
    assert "_softmax_along(X @ W.T, 1)" in d.code("numpy")


def test_row_softmax_jacobian_is_a_linear_map_not_a_tensor():
    d = matcalc.derive("softmax(S, 2)", wrt="S", shapes={"S": ("N", "C")})
    assert d.kind == "linear-map"
    # P.*(dS - sum(P.*dS, 2)), P = softmax(S, 2), the row sums expanded: N×C, never N×C×C
    assert str(d) == "(d(S) - sum(d(S).*softmax(S, 2), 2)).*softmax(S, 2)"
    rng = np.random.default_rng(0)
    S, V = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    P_ = _softmax_rows(S)
    got = d.numpy()(S=S, dS=V)
    np.testing.assert_allclose(got, P_ * (V - (P_ * V).sum(axis=1, keepdims=True)), rtol=1e-12)
    h = 1e-6
    numeric = (_softmax_rows(S + h * V) - _softmax_rows(S - h * V)) / (2 * h)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-9)
    assert d.check() < 1e-6


@pytest.mark.parametrize("text, wrt, shapes", [
    ("logsumexp(S, 1)", "S", {"S": ("C", "N")}),
    ("logsoftmax(S, 2)", "S", {"S": ("N", "C")}),
    ("mean(S, 2)", "S", {"S": ("N", "C")}),
    ("max(S, R)", "S", {"S": ("N", "C"), "R": ("N", "C")}),
])
def test_linear_maps_of_the_new_operators_check_numerically(text, wrt, shapes):
    d = matcalc.derive(text, wrt=wrt, shapes=shapes)
    assert d.kind == "linear-map"
    assert d.check() < 1e-6


def test_nonsmooth_results_say_so():
    d = matcalc.derive("max(W*x)", wrt="x")
    assert any("almost everywhere" in n for n in d.notes), d.notes


def test_a_vector_along_its_length_is_the_vector_function():
    for text, same in (("softmax(x, 1)", "softmax(x)"), ("sum(x', 2)", "sum(x)"),
                       ("logsumexp(x, 1)", "logsumexp(x)"), ("mean(x, 1)", "mean(x)")):
        d = matcalc.derive(f"sum(({text}).^2)", wrt="x")
        assert str(d) == str(matcalc.derive(f"sum(({same}).^2)", wrt="x")), text


def test_batched_gradients_are_stable_at_large_logits():
    d = matcalc.derive("sum(logsumexp(X*W', 2)) - tr(Y'*X*W')", wrt="W", shapes=BATCH)
    rng = np.random.default_rng(1)
    X, W = 1000 * np.sign(rng.standard_normal((6, 4))), rng.standard_normal((3, 4))
    Y = np.eye(3)[rng.integers(0, 3, 6)]
    G = d.numpy()(X=X, W=W, Y=Y)
    assert np.all(np.isfinite(G))
    np.testing.assert_allclose(G, (_softmax_rows(X @ W.T) - Y).T @ X, rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch", "array-api"])
@pytest.mark.parametrize("expr, wrt, shapes", [   # (every row of PROBLEMS runs on each too)
    ("sum(max(1 - y.*(X*w), 0)) - logsoftmax(X*w)'*y", "w", {"X": ("N", "d"), "y": ("N",)}),
])
def test_batched_gradients_run_on_every_installed_backend(expr, wrt, shapes, backend):
    if backend == "jax":       # float64, as NumPy
        pytest.importorskip("jax").config.update("jax_enable_x64", True)
    d = matcalc.derive(expr, wrt=wrt, shapes=shapes)
    rng = np.random.default_rng(2)
    sizes = {"N": 5, "d": 4, "C": 3, "k": 2, "v": 3}
    inputs = {n: (rng.standard_normal(tuple(sizes[str(x)] for x in s if x != 1)) if s != (1, 1)
                  else np.array(0.1)) for n, s in d.problem.variables.items()}
    expected = d.numpy()(**inputs)
    np.testing.assert_allclose(np.asarray(_run(backend, d, inputs), dtype=float), expected,
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("text, shapes, error, message, column", [
    ("softmax(A, 3)", {}, matcalc.ParseError, "dimension is written 1", 11),
    ("sum(A, 0)", {}, matcalc.ParseError, "dimension is written 1", 7),
    ("sum(A, k)", {}, matcalc.ParseError, "dimension is written 1", 7),
    ("mean(A, 1.5)", {}, matcalc.ParseError, "dimension is written 1", 8),
    ("sum(x, 2)", {}, matcalc.ShapeError, "dimension 2 of x (a vector of length", 0),
    ("logsumexp(A, 2, 1)", {}, matcalc.ParseError, "takes 1 or 2 arguments, got 3", 0),
    ("sum(max(A, B))", {"A": ("m", "n"), "B": ("n", "m")}, matcalc.ShapeError,
     "operator 'max' cannot combine A (m×n) with B (n×m)", 4),
    ("len(X)", {}, matcalc.ShapeError, "len cannot take X", 0),
    ("max(X)", {}, matcalc.ShapeError, "it takes a vector", 0),
    # the new forms: a row beside a column, an expanded row of the wrong length, kron of a
    # scalar, Khatri–Rao factors with different column counts, blocks that cannot be known
    ("sum(b' + x)", {}, matcalc.ShapeError, "not expanded into a matrix", 4),
    ("sum(X*W' + b')", {"X": ("N", "d"), "W": ("C", "d"), "b": ("d",)}, matcalc.ShapeError,
     "cannot combine X*W' (N×C) with b' (1×d)", 4),
    ("sum(kron(alpha, A))", {}, matcalc.ShapeError, "kron takes matrices or vectors, not a scalar",
     4),
    ("sum(khatrirao(A, B))", {"A": ("m", "r"), "B": ("n", "s")}, matcalc.ShapeError,
     "operator 'khatrirao' cannot combine A (m×r) with B (n×s)", 4),
    ("sum(kron(A, B) + M)", {"M": ("r", "s")}, matcalc.ShapeError,
     "declare the shapes of the Kronecker factors", 4),
])
def test_bad_dimension_arguments_get_a_clear_error(text, shapes, error, message, column):
    with pytest.raises(error) as info:
        matcalc.derive(text, wrt=text[text.index("(") + 1], shapes=shapes)
    assert message in str(info.value)
    assert info.value.start == column
    assert "^" in str(info.value)


@pytest.mark.parametrize("dimension, size", [(2, "cols"), (1, "rows")])
def test_sum_of_logsoftmax_text_is_self_contained(dimension, size):
    """A row's entries counted as cols(S) (fill-row-sums-expanded), not as sum(matrix(1), 2),
    which no variable sizes when the text is read back."""
    from test_round_trips import check_text_round_trip

    d = check_gradient(f"sum(logsoftmax(S, {dimension}))", "S", shapes={"S": ("N", "C")},
                       domain="normal")
    assert str(d) == f"1 - {size}(S)*softmax(S, {dimension})"
    assert check_text_round_trip(d) == "ok"


def test_generated_code_broadcasts_and_contracts_blocks():
    """A bias row is added by the library's broadcasting (no ones, no repeated matrix) in every
    backend; the Kronecker least-squares gradient contracts M's blocks (no kron product)."""
    d = matcalc.derive("sum(logsumexp(X*W' + b', 2)) - tr(Y'*(X*W' + b'))", wrt="W", shapes=BIAS)
    for backend in ("numpy", "jax", "torch", "array-api"):
        code = d.code(backend)
        assert "b + X @ W.T" in code, code
        assert "broadcast_to" not in code and "ones" not in code and "expand" not in code, code
    d = matcalc.derive("Xc = X - mean(X, 2); sum(T.*Xc)", wrt="X", shapes=NORM)
    assert str(d) == "T - sum(T, 2)/cols(X)"        # the row sums expanded across each row
    assert "np.sum(T, axis=1))[:, None]" in d.code("numpy")
    assert "broadcast_to" not in d.code("numpy")
    k = matcalc.derive("norm2(M - kron(A, B))^2", wrt="A", shapes=KRON)
    assert str(k) == "-2*(kronleft(M, B) - sum(B.^2)*A)"
    assert "_kron_left(M, B)" in k.code("numpy") and "np.kron" not in k.code("numpy")
