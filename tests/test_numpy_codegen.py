"""Properties of the generated NumPy code (SPEC §6): memory, solve instead of inv, slogdet, no
materialised diagonals or ones-matrices, safe names, and the calling convention (SPEC §3).

Every gradient here is also checked against central finite differences (tests/numeric.py).
Peak memory is measured with tracemalloc, to which NumPy reports its array allocations.
"""
from __future__ import annotations

import gc
import keyword
import re
import tracemalloc

import numpy as np
import pytest
from expression_strategy import SHAPES, SHAPES_NUMERIC, problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numeric import check_gradient, random_inputs

import matcalc
from matcalc.verify import dimension_sizes, to_user

SEED = "w'*w where w = sigmoid(X'*a)"
BIG = 2000


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def peak_memory(function, **arrays):
    """(result, peak bytes allocated during the call, the result included)."""
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        out = function(**arrays)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if started:
            tracemalloc.stop()
    return out, peak - before


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    return {"X": rng.standard_normal((BIG, BIG)), "a": rng.standard_normal(BIG),
            "x": rng.standard_normal(BIG), "v": rng.standard_normal(BIG)}


def test_tracemalloc_sees_numpy_allocations():
    _, peak = peak_memory(lambda: np.ones((500, 400)))
    assert peak >= 500 * 400 * 8


# -- memory: nothing larger than needed ---------------------------------------------------------------

def test_seed_gradient_allocates_only_the_result(big):
    d = check_gradient(SEED, "X", expected=lambda X, a: np.outer(
        a, 2 * (_sigmoid(X.T @ a) ** 2 - _sigmoid(X.T @ a) ** 3)), domain="normal")
    f = d.numpy()
    X, a = big["X"], big["a"]
    out, peak = peak_memory(f, X=X, a=a)
    assert out.shape == (BIG, BIG)
    assert peak < 1.5 * BIG * BIG * 8, f"peak {peak / (BIG * BIG * 8):.2f} × m·n·8 bytes"
    w = _sigmoid(X.T @ a)
    assert np.allclose(out[:, :7], np.outer(a, 2 * (w * w - w * w * w))[:, :7])


def test_seed_gradient_wrt_a_allocates_no_matrix(big):
    d = check_gradient(SEED, "a", domain="normal")
    out, peak = peak_memory(d.numpy(), X=big["X"], a=big["a"])
    assert out.shape == (BIG,)
    assert peak < 0.05 * BIG * BIG * 8, f"peak {peak / (BIG * 8):.0f} × m·8 bytes"


def _no_square_temporary(expr: str, wrt: str, big, **extra) -> None:
    d = check_gradient(expr, wrt)
    names = {"A": big["X"], "x": big["x"], "v": big["v"], **extra}
    arrays = {n: names[n] for n in d.problem.variables}
    out, peak = peak_memory(d.numpy(), **arrays)
    assert out.shape == (BIG,)
    assert peak < 0.05 * BIG * BIG * 8, (
        f"{expr}: peak {peak / (BIG * 8):.0f} × n·8 bytes; code:\n{d.source}")


@pytest.mark.parametrize("expr, wrt", [
    pytest.param("x'*A*x", "x"),
    pytest.param("2*x'*A*x", "x"),
    pytest.param("x'*A'*A*x", "x"),
    pytest.param("lambda*x'*A*x", "x"),
    pytest.param("x'*diag(v)*A*x", "x"),
    pytest.param("x'*diag(v)*x", "v"),
    pytest.param("sum(diag(v)*A*x)", "v"),
    ("sum(A*x)", "x"),
    ("x'*diag(v)*x", "x"),
])
def test_vector_gradients_form_no_square_temporary(expr, wrt, big):
    _no_square_temporary(expr, wrt, big, **{"lambda": 0.5})


# -- inv(A)*B as solve --------------------------------------------------------------------------------

def test_inverse_times_vector_uses_solve():
    d = check_gradient("a'*inv(X)*b", "X")
    assert "inv(X)*b" in str(d)
    assert "np.linalg.solve(X, b)" in d.source


NO_INVERSE = [
    ("c'*inv(A)*b", "c"),
    ("sum(x'*inv(A))", "x"),
    pytest.param("a'*inv(X)*b", "X"),
    pytest.param("x'*inv(A)*x", "x"),
    pytest.param("sum(inv(A)*x)", "x"),
    pytest.param("sum(inv(A)*B)", "B"),
    pytest.param("tr(A*inv(X)*B)", "X"),
]


@pytest.mark.parametrize("expr, wrt", NO_INVERSE)
def test_products_with_an_inverse_use_solve(expr, wrt):
    d = check_gradient(expr, wrt)
    assert "np.linalg.solve(" in d.source
    assert "np.linalg.inv(" not in d.source, d.source


def test_bare_inverse_result_may_use_inv():
    d = check_gradient("logdet(X)", "X", expected=lambda X: np.linalg.inv(X).T)
    assert str(d) == "inv(X)'"


# -- logdet through slogdet ---------------------------------------------------------------------------

def _overflowing_det(n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(5)
    X = 10.0 * np.eye(n) + 0.01 * rng.standard_normal((n, n))     # det ≈ 10^400: overflows
    with np.errstate(all="ignore"):
        assert not np.isfinite(np.linalg.det(X))
    return X


def test_logdet_plus_sum_gradient():
    d = check_gradient("logdet(X) + sum(X)", "X", expected=lambda X: np.linalg.inv(X).T + 1)
    assert "np.linalg.det(" not in d.source and "np.log(" not in d.source
    X = _overflowing_det()
    with np.errstate(all="raise"):
        g = d.numpy()(X=X)
    assert np.allclose(g, np.linalg.inv(X).T + 1)


def test_logdet_in_a_result_goes_through_slogdet():
    d = check_gradient("logdet(X)*x'*x", "x",
                       expected=lambda X, x: 2 * np.linalg.slogdet(X)[1] * x)
    assert "slogdet(" in d.source and "np.linalg.det(" not in d.source
    X, x = _overflowing_det(), np.arange(1.0, 401.0) / 400
    g = d.numpy()(X=X, x=x)
    assert np.all(np.isfinite(g)) and np.allclose(g, 2 * np.linalg.slogdet(X)[1] * x)


def test_log_det_in_a_result_does_not_overflow():
    d = check_gradient("log(det(X))*x'*x", "x")
    X, x = _overflowing_det(), np.arange(1.0, 401.0) / 400
    with np.errstate(all="ignore"):
        g = d.numpy()(X=X, x=x)
    assert np.all(np.isfinite(g)) and np.allclose(g, 2 * np.linalg.slogdet(X)[1] * x)


# -- no materialised diagonals, no ones-matrices ---------------------------------------------------------

DIAGONALS = [
    ("sum(diag(v)*X)", "X"),
    ("sum(X*diag(v))", "X"),
    ("a'*diag(v)*X*b", "X"),
    ("a'*X*diag(v)*b", "X"),
    ("x'*diag(v)*x", "x"),
    ("sum(diag(v)*A*x)", "x"),
    pytest.param("x'*diag(v)*A*x", "x"),
]


@pytest.mark.parametrize("expr, wrt", DIAGONALS)
def test_diag_products_do_not_materialise_the_diagonal(expr, wrt):
    d = check_gradient(expr, wrt)
    assert "np.diag(" not in d.source, d.source


_ONES_MATRIX = re.compile(r"np\.(?:full|ones)\(\([^()]*,[^()]*\)")
ONES = [
    ("w'*w where w = sigmoid(X'*a)", "X"),
    ("sum(X)*x'*x", "x"),
    pytest.param("sum(diag(v)*X)", "X"),
    pytest.param("sum(X'*Y)", "X"),
    pytest.param("sum(A*X)", "X"),
]


@pytest.mark.parametrize("expr, wrt", ONES)
def test_no_ones_matrices(expr, wrt):
    d = check_gradient(expr, wrt)
    assert not _ONES_MATRIX.search(d.source), d.source
    assert "np.tile(" not in d.source


# -- names that are Python keywords, builtins, or clash with the generated code --------------------------

def test_lambda_is_a_keyword_argument():
    d = check_gradient("lambda*x'*x + sum(x)", "x", expected=lambda x, **kw: 1 + 2 * kw["lambda"] * x)
    x = np.array([1.0, -2.0, 3.0])
    g = d.numpy()(**{"lambda": 0.5, "x": x})
    assert np.allclose(g, 1 + x)
    d = check_gradient("lambda*x'*x + sum(x)", "lambda")
    assert np.isclose(d.numpy()(**{"lambda": 0.5, "x": x}), x @ x)


NAMES = [
    ("np'*sum_ + print'*np", "np"),
    ("print'*class + sum(np.*sum_)", "class"),
    ("print'*class + sum(np.*sum_)", "np"),
    ("if'*def + sum(exp(_x))", "_x"),
    ("x_'*x_ + __x'*x_", "__x"),
    ("t1'*t1 + sum(t1)*sum(t1)", "t1"),
    ("sum(exp(t1)) + sum(exp(t1))*sum(t1)", "t1"),
    ("d_dx'*x + grad_x'*x", "x"),
    ("x'*True*x", "x"),
    ("x'*None*x", "x"),
    ("float'*int + sum(exp(float))", "float"),
    ("match'*case + sum(type)", "case"),
    ("w'*w where w = sigmoid(X'*np)", "np"),
    ("np'*np where np = sigmoid(X'*a)", "X"),
    ("print'*print where print = sigmoid(X'*a)", "X"),
    ("sum(sigmoid(_sigmoid))", "_sigmoid"),
    ("sum(sigmoid(sigmoid_)) + sum(_sigmoid)", "sigmoid_"),
    ("sum(exp(lambda*x)) + lambda_'*x", "x"),
]


@pytest.mark.parametrize("expr, wrt", NAMES, ids=[f"{e} d/d{w}" for e, w in NAMES])
def test_awkward_names_are_renamed_safely(expr, wrt):
    d = check_gradient(expr, wrt)
    header = re.search(r"^def ([A-Za-z]\w*)\(([^)]*)\):", d.source, re.MULTILINE)
    assert header, d.source
    params = [p.strip() for p in header.group(2).split(",") if p.strip() != "out=None"]
    assert len(params) == len(set(params)) == len(d.problem.variables)
    for p in params:
        assert p.isidentifier() and not keyword.iskeyword(p) and p != "np", p
    compile(d.source, "<generated>", "exec")


# -- calling convention ----------------------------------------------------------------------------------

def test_every_variable_is_accepted_even_if_unused():
    d = check_gradient("a'*x + b'*b", "x", expected=lambda a, x, b: a)
    a, x, b = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    assert np.allclose(d.numpy()(a=a, x=x, b=b), a)
    d = check_gradient("sum(exp(X)) + x'*x", "x", expected=lambda X, x: 2 * x)
    assert np.allclose(d.numpy()(X=np.ones((2, 3)), x=x), 2 * x)


def test_missing_or_unknown_variable_is_a_type_error():
    f = matcalc.derive("a'*x + b'*b", wrt="x").numpy()
    a = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="b"):
        f(a=a, x=a)
    with pytest.raises(TypeError, match="c"):
        f(a=a, x=a, b=a, c=a)


def test_declared_but_unused_name_is_not_required():
    try:
        d = matcalc.derive("x'*x", wrt="x", shapes={"y": (3,)})
    except matcalc.MatcalcError:
        return                                    # rejecting the declaration is fine too
    assert np.allclose(d.numpy()(x=np.ones(3)), 2 * np.ones(3))


def test_scalars_may_be_floats_and_vectors_one_dimensional():
    d = check_gradient("alpha*sum(exp(x)) + beta*x'*A*x", "x")
    x = np.array([0.1, 0.2, 0.3])
    A = np.arange(9.0).reshape(3, 3)
    g = d.numpy()(alpha=2.0, beta=0.5, x=x, A=A)
    assert g.shape == (3,)
    assert np.allclose(g, 2.0 * np.exp(x) + 0.5 * (A + A.T) @ x)


def test_check_agrees():
    for expr, wrt in [(SEED, "X"), ("logdet(X) + sum(X)", "X"), ("lambda*x'*x + sum(x)", "x")]:
        assert matcalc.derive(expr, wrt=wrt).check() < 1e-6


def test_out_buffer_is_written_in_place_for_the_seed():
    d = check_gradient(SEED, "X", domain="normal")
    rng = np.random.default_rng(2)
    X, a = rng.standard_normal((50, 40)), rng.standard_normal(50)
    G = np.empty((50, 40))
    assert d.numpy()(X=X, a=a, out=G) is G
    assert np.allclose(G, d.numpy()(X=X, a=a))
    assert "np.multiply(a[:, None]" in d.source and "out=out" in d.source


def test_out_buffer_for_other_results_and_a_variable_named_out():
    d = check_gradient("x'*A*x", "x")
    x, A = np.arange(3.0), np.eye(3) + 1
    buf = np.empty(3)
    assert d.numpy()(x=x, A=A, out=buf) is buf and np.allclose(buf, (A + A.T) @ x)
    d = check_gradient("out'*x", "x", expected=lambda out, x: out)
    assert np.allclose(d.numpy()(out=np.ones(3), x=x), 1)   # the user's variable, not a buffer


def test_chain_order_is_chosen_at_call_time_for_unknown_dimensions():
    """tr(A*X*B*C*D) has the gradient A'*(B*C*D)': with m, n, p, q unknown the best order of
    B*C*D depends on the arrays, so the code chooses it when called (_multi_dot)."""
    expected = lambda A, X, B, C, D: A.T @ (B @ C @ D).T
    d = check_gradient("tr(A*X*B*C*D)", "X", expected=expected)
    assert "_multi_dot([B, C, D])" in d.source
    rng = np.random.default_rng(0)
    for p, q, r in [(2, 300, 2), (300, 2, 300)]:     # (B*C)*D best, then B*(C*D) best
        A, X = rng.standard_normal((4, 5)), rng.standard_normal((5, p))
        B, C, D = (rng.standard_normal(s) for s in [(p, q), (q, r), (r, 4)])
        assert np.allclose(d.numpy()(A=A, X=X, B=B, C=C, D=D), expected(A, X, B, C, D))


def test_chain_order_of_known_dimensions_is_fixed_when_generated():
    shapes = {"B": (2, 300), "C": (300, 2), "D": (2, 4), "A": (4, 5), "X": (5, 2)}
    d = check_gradient("tr(A*X*B*C*D)", "X", shapes=shapes,
                       expected=lambda A, X, B, C, D: A.T @ (B @ C @ D).T)
    # (B @ C) @ D, the cheaper order here (Python's @ associates to the left)
    assert "multi_dot" not in d.source and "A.T @ (B @ C @ D).T" in d.source


def test_a_chain_of_one_unknown_size_is_multiplied_as_written():
    """Square factors all n×n: every order costs the same, so the code does not pay for
    multi_dot's search at each call."""
    square = {name: ("n", "n") for name in "ABCD"}
    d = check_gradient("tr(A*X*B*C*D)", "X", shapes=square,
                       expected=lambda A, X, B, C, D: A.T @ (B @ C @ D).T)
    assert "multi_dot" not in d.source


def _assert_written_into_buffers(write, fresh):
    """write(buf) fills and returns buf: into a C-ordered buffer the bits of `fresh` (the same
    computation), into an F-ordered one the same to rounding (BLAS asked for the transpose)."""
    for order in "CF":
        buf = np.full(fresh.shape, np.nan, order=order)
        assert write(buf) is buf
        np.testing.assert_allclose(buf, fresh, rtol=0 if order == "C" else 1e-13, atol=0)


PRODUCT_RESULTS = [        # (kind, f, wrt, the kernel writing into out)
    ("derive", "tr(X'*A*X)", "X", "np.matmul(A.T + A, X, out=out)"),
    ("derive", "tr(X*A*X')", "X", "np.matmul(X, A.T + A, out=out)"),
    ("derive", "tr(A*X*B)", "X", "np.matmul(A.T, B.T, out=out)"),
    ("derive", "sum(tanh(A*X))", "X", "np.matmul(A.T, 1 - np.tanh(A @ X) ** 2, out=out)"),
    ("derive", "tr(A*B*X*C)", "X", "_multi_dot([B.T, A.T, C.T], out=out)"),
    ("hessian", "sum((X*w).^2)/2", "w", "_gram(X, out=out)"),
    ("hessian", "sum(softplus(-y.*(X*w)))", "w", "_weighted_gram(X, "),
    ("hessian", "sum(sin(X*w))", "w", "_symmetric_product(X, "),
]


@pytest.mark.parametrize("kind, expr, wrt, kernel", PRODUCT_RESULTS)
def test_out_buffer_takes_a_product_of_matrices_from_its_kernel(kind, expr, wrt, kernel):
    """The kernel of a product writes into `out` itself — BLAS's product or syrk, a chain's
    last product, the one-triangle product — where it would return a new array: no copy. Into
    a C-ordered buffer the same computation as without `out`, so the same bits; into an
    F-ordered one the same to rounding (BLAS is asked for the transposed product); a float32
    buffer takes the float64 result rounded, as np.copyto would give it."""
    d = getattr(matcalc, kind)(expr, wrt)
    assert d.check() < 1e-6                                   # central differences
    into = d.source[d.source.rindex("if out is not None:"):]
    assert kernel in into.splitlines()[1] and "out=out" in into and "np.copyto" not in into
    rng = np.random.default_rng(3)
    args = {n: rng.standard_normal((70, 7) if kind == "hessian" and n == "X" else
                                   70 if n == "y" else 7 if n == "w" else (7, 7))
            for n in d.problem.variables}
    fresh = d.numpy()(**args)
    _assert_written_into_buffers(lambda buf: d.numpy()(**args, out=buf), fresh)
    buf32 = np.empty(fresh.shape, dtype=np.float32)
    d.numpy()(**args, out=buf32)
    np.testing.assert_array_equal(buf32, fresh.astype(np.float32))


def test_the_kernels_write_their_last_product_into_out():
    """_dot's transposed route writes the transposed product into out's transpose; _multi_dot
    of two arrays or of vectors (np.linalg.multi_dot's own route) copies in. The same bits as
    without `out` in a C-ordered buffer, the same to rounding in an F-ordered one."""
    from matcalc.kernels import _dot, _multi_dot
    rng = np.random.default_rng(8)
    A, B = rng.standard_normal((96, 80)), rng.standard_normal((96, 10))
    for arrays in ([A.T, B], [A.T, B[:, :1]], [A, rng.standard_normal((80, 3))]):
        _assert_written_into_buffers(lambda buf, arrays=arrays: _dot(*arrays, out=buf),
                                     _dot(*arrays))
    chains = ([rng.standard_normal((5, 6)), rng.standard_normal((6, 3))],
              [rng.standard_normal(4), rng.standard_normal((4, 5)), rng.standard_normal((5, 2))],
              [A.T, B, B.T], [B.T, A, A.T])
    for chain in chains:
        _assert_written_into_buffers(lambda buf, chain=chain: _multi_dot(chain, out=buf),
                                     _multi_dot(chain))


ELEMENTWISE_RESULTS = [
    ("sum(log(1 + X.^2))", "X"),               # 2*(X./(1 + X.^2)): the chain is in the denominator
    ("sum(tanh(X).*A)", "X"),                  # A - tanh(X).^2.*A: a - (chain)
    ("sum(exp(X).*sin(X))", "X"),
    ("sum(X./(A + X.^2))", "X"),
    ("-sum(sqrt(X))", "X"),                    # -(2*sqrt(X)).^-1
    ("sum(softplus(X).^2)", "X"),              # helpers as operands
    ("sum(X.^3)/3 - sum(abs(X))", "X"),
    ("x'*x + sum(exp(x))", "x"),               # a vector result
]


@pytest.mark.parametrize("expr, wrt", ELEMENTWISE_RESULTS)
def test_out_buffer_takes_elementwise_results_one_operation_at_a_time(expr, wrt):
    d = check_gradient(expr, wrt, domain="positive")
    into = d.source[d.source.index("if out is not None:"):d.source.index("return out")]
    assert "np.copyto" not in into and "out=out" in into
    rng = np.random.default_rng(1)
    args = {n: rng.uniform(0.5, 1.5, (6, 5) if n in ("X", "A") else 5) for n in d.problem.variables}
    fresh = d.numpy()(**args)
    buf = np.full_like(fresh, np.nan)
    assert d.numpy()(**args, out=buf) is buf
    np.testing.assert_allclose(buf, fresh, rtol=1e-14)


@settings(max_examples=150, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(problems(max_depth=5, extended=True), st.sampled_from([SHAPES, SHAPES_NUMERIC]))
def test_out_buffer_agrees_with_a_fresh_result_on_random_problems(problem, shapes):
    """Every way of writing into `out` (outer products, elementwise chains, copies) gives what the
    function returns without `out`, on random expressions of the whole language."""
    text, wrt = problem
    try:
        d = matcalc.derive(text, wrt=wrt, shapes=shapes)
    except matcalc.DifferentiationError:
        return
    if d.result.is_scalar or d.direction is not None:
        return
    variables = d.problem.variables
    env = random_inputs(variables, dimension_sizes(variables), np.random.default_rng(0))
    args = {n: to_user(x, variables[n]) for n, x in env.items()}
    with np.errstate(all="ignore"):
        fresh = np.asarray(d.numpy()(**args))
        buf = np.full(fresh.shape, np.nan)
        d.numpy()(**args, out=buf)
    np.testing.assert_allclose(buf, fresh, rtol=1e-12, atol=1e-300, equal_nan=True)


def test_functions_of_numbers_are_printed_as_their_values():
    """exp(0.5), tanh(2): numbers in the code (the array API and PyTorch take arrays only), never
    a temporary, even when repeated."""
    expr = "exp(0.5)*x'*A*x + tanh(2)*sum(exp(x)) + tanh(2)*sum(x)"
    d = check_gradient(expr, "x", expected=lambda x, A: np.exp(0.5) * (A + A.T) @ x
                       + np.tanh(2) * (np.exp(x) + 1))
    body = d.source[d.source.index('"""\n', d.source.index("def grad_x")):]
    assert "np.exp(0.5)" not in body and "np.tanh(2)" not in body and "t1 =" not in body
    assert repr(float(np.tanh(2))) in body


@pytest.mark.parametrize("expr, wrt", [
    ("sum(T.*(softmax(Q*K'/sqrt(cols(Wq)), 2)*V)) where Q = X*Wq, K = X*Wk, V = X*Wv", "Wq"),
    ("sum(log(x))*sqrt(rows(A)) + sum(x)/log(len(x) + 1)", "x"),
])
def test_a_number_made_of_sizes_keeps_float32_results_float32(expr, wrt):
    """np.sqrt(64) is a float64 scalar, which turns a float32 array into float64: a function of
    sizes alone is a Python float in the generated code. Checked against float64 inputs too."""
    d = matcalc.derive(expr, wrt=wrt)
    rng = np.random.default_rng(5)
    inputs = {n: rng.random(tuple(6 for _ in shape)) for n, shape in d.problem.variables.items()}
    want = d.numpy()(**inputs)
    got = d.numpy()(**{n: v.astype(np.float32) for n, v in inputs.items()})
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_a_chain_is_multiplied_as_numpys_multi_dot_multiplies_it_its_order_kept():
    """kernels._multi_dot: bit for bit np.linalg.multi_dot on random chains of 1 to 8 matrices,
    the order of each chain of three or more searched once per tuple of shapes."""
    from matcalc.kernels import _multi_dot
    rng = np.random.default_rng(6)
    _multi_dot.__dict__.pop("orders", None)
    shapes = set()
    for _ in range(120):
        dims = rng.integers(1, 30, rng.integers(3, 10))
        arrays = [rng.standard_normal((dims[i], dims[i + 1])) for i in range(len(dims) - 1)]
        assert np.array_equal(_multi_dot(arrays), np.linalg.multi_dot(arrays))
        if len(arrays) >= 3:
            shapes.add(tuple(dims))
    assert set(_multi_dot.orders) == shapes
    vector_ends = [rng.standard_normal(4), rng.standard_normal((4, 5)), rng.standard_normal((5, 6)),
                   rng.standard_normal((6, 3)), rng.standard_normal(3)]
    assert np.allclose(_multi_dot(vector_ends), np.linalg.multi_dot(vector_ends))


def test_a_transposed_left_operand_is_multiplied_as_the_transposed_product():
    """kernels._dot: A' @ B with B thin is computed as (B' @ A)' (OpenBLAS is slow with the
    transposed operand); the product is the same to rounding, in the chains of the gradients."""
    from matcalc.kernels import _dot, _multi_dot
    rng = np.random.default_rng(7)
    A, B = rng.standard_normal((96, 80)), rng.standard_normal((96, 10))
    product = _dot(A.T, B)
    assert product.flags.f_contiguous and not product.flags.c_contiguous   # the transposed route
    np.testing.assert_allclose(product, A.T.copy() @ B, rtol=1e-12, atol=1e-12)
    square = rng.standard_normal((96, 96))
    assert _dot(A.T, square[:, :80]).flags.c_contiguous      # a wide B: the plain product
    assert _dot(A, B[:80]).flags.c_contiguous                # an untransposed A: the plain product
    X, K = rng.standard_normal((96, 8)), rng.standard_normal((96, 8))
    chain = [X.T, square.T, K]                   # X' * S' * K, S' a transposed view
    np.testing.assert_allclose(_multi_dot(chain), X.T @ square.T.copy() @ K, rtol=1e-12)
