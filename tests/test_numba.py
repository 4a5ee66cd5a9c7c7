"""The fused backend (`d.numba()`) against the NumPy code, which tests/test_backends.py checks
against finite differences first.

numba compiles each loop on first use (a second or two per loop and dtype), so by default a few
problems run that cover what the fused printer does — an outer product, a vector broadcast into a
matrix beside a matrix product's result, a scalar input, a Gram Hessian's scaled rows — with
float32, out= and the on-disk cache. MATCALC_TEST_NUMBA=all runs every problem of the backend
tests and 120 random expressions as well (about a quarter of them have a loop).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_backends import DERIVATIONS, SEED, assert_agrees, reference

import matcalc

numba = pytest.importorskip("numba")
ALL = os.environ.get("MATCALC_TEST_NUMBA") == "all"


# a matrix loop beside a product's result and a scalar input; a Gram Hessian's scaled rows
DEFAULT = {"derive:c*sum(tanh(W*x)) + tr(A*W*B):W", "hessian:sum(log(1 + exp(-(X*w).*y))):w"}


def _chosen():
    for param in DERIVATIONS:
        if ALL or param.id in DEFAULT:
            yield param


@pytest.mark.parametrize("make", list(_chosen()))
def test_numba_matches_numpy(make):
    d, inputs, expected = reference(make)
    assert_agrees(d.numba()(**inputs), expected)


@pytest.mark.skipif(not ALL, reason="MATCALC_TEST_NUMBA=all")
def test_two_layer_network_fuses_and_matches_numpy():
    """Two results (∂/∂W1, ∂/∂W2), a tanh chain, an outer product with a vector computed once."""
    d = matcalc.derive("sum((W2*tanh(W1*x) - y).^2)", wrt=["W1", "W2"])
    assert "_parallel(" in d.code("numba") and "numba.prange" in d.code("numba")
    rng = np.random.default_rng(2)
    inputs = {"W1": rng.standard_normal((30, 20)), "W2": rng.standard_normal((10, 30)),
              "x": rng.standard_normal(20), "y": rng.standard_normal(10)}
    for got, want in zip(d.numba()(**inputs), d.numpy()(**inputs)):
        assert_agrees(got, want)


def test_seed_in_float32_and_into_a_buffer():
    """At 300×200 the parallel loop runs (the other tests' small arrays take the serial one)."""
    d = matcalc.derive(SEED, wrt="X")
    rng = np.random.default_rng(1)
    X, a = rng.standard_normal((300, 200)), rng.standard_normal(300)
    assert X.size >= 1 << 15 == d.numba().__wrapped__.__globals__["PARALLEL_SIZE"]
    want = d.numpy()(X=X, a=a)
    out = np.full_like(X, np.nan)
    assert d.numba()(X=X, a=a, out=out) is out
    np.testing.assert_array_equal(out, want)      # the same operations per entry: the same bits
    got32 = d.numba()(X=X.astype(np.float32), a=a.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=1e-5, atol=1e-5)
    out32 = np.empty((300, 200), dtype=np.float32)
    d.numba()(X=X.astype(np.float32), a=a.astype(np.float32), out=out32)
    np.testing.assert_array_equal(out32, got32)


def test_a_product_with_a_loop_operand_is_written_into_the_buffer_by_blas():
    """(A' + A)*X into `out`: the loop's sum goes to a scratch buffer and BLAS writes the
    product into `out` (no copy); the same bits as NumPy's code, with and without `out`."""
    d = matcalc.derive("tr(X'*A*X)", wrt="X")
    assert d.check() < 1e-6
    assert "np.matmul(_fused1(A.T, A, 's2'), X, out=out)" in d.code("numba")
    rng = np.random.default_rng(5)
    X, A = rng.standard_normal((300, 300)), rng.standard_normal((300, 300))
    want = d.numpy()(X=X, A=A)
    out = np.full_like(X, np.nan)
    assert d.numba()(X=X, A=A, out=out) is out
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(d.numba()(X=X, A=A), want)


def test_the_seed_is_one_loop_over_the_matrix():
    """The m×n result is one pass: the outer product's two vectors are computed first (once
    each, by NumPy), and no NumPy operation touches the matrix."""
    source = matcalc.derive(SEED, wrt="X").code("numba")
    body = source[source.index("def grad_X"):]
    assert "np.outer" not in body and "np.multiply" not in body
    assert "out[i, j] = (2.0 * v0[i] * v1[j])" in source and source.count("numba.prange") == 2
    # the loop and its serial twin; X'*a's parallel blocks (_transposed_matvec_parts)
    assert source.count("@numba.njit") == 3


def test_a_repeated_subexpression_is_a_local_of_the_loop():
    """exp(X) + exp(X).*X: NumPy's code names exp(X) (a pass of its own, an m×n temporary); the
    loop computes it once per entry instead, into a local, and the result is one pass."""
    d = matcalc.derive("sum(X.*exp(X))", wrt="X")
    assert "t1 = np.exp(X)" in d.code("numpy")
    source = d.code("numba")
    assert "e0 = _exp(v0[i, j])" in source and "out[i, j] = (e0 + (e0 * v0[i, j]))" in source
    assert "t1" not in source
    X = np.random.default_rng(4).standard_normal((7, 5))
    # the loop's exp is numba_helpers._exp, within an ulp or two of NumPy's
    np.testing.assert_allclose(d.numba()(X=X), d.numpy()(X=X), rtol=2e-15, atol=0)


def test_a_second_process_loads_the_compiled_loops_from_disk(tmp_path, monkeypatch):
    """This process compiles the loop into the cache directory; a new interpreter with the same
    derivative finds it there and compiles nothing (numba's own hit and miss counts)."""
    monkeypatch.setenv("MATCALC_CACHE_DIR", str(tmp_path))
    expr, x = "sum(exp(X).*X)", np.arange(6.0).reshape(2, 3)
    f = matcalc.derive(expr, wrt="X").numba()
    np.testing.assert_allclose(f(X=x), np.exp(x) * (1 + x))
    script = ("import sys, numpy as np, matcalc\n"
              f"f = matcalc.derive({expr!r}, wrt='X').numba()\n"
              "print(f(X=np.arange(6.0).reshape(2, 3)).tolist())\n"
              "module = vars(sys.modules[f.__wrapped__.__module__])\n"
              "loops = [v for k, v in module.items() if k.endswith(('_parallel', '_serial'))]\n"
              "print(sum(sum(loop.stats.cache_hits.values()) for loop in loops),"
              " sum(sum(loop.stats.cache_misses.values()) for loop in loops))\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env=dict(os.environ, MATCALC_CACHE_DIR=str(tmp_path)))
    values, counts = run.stdout.splitlines()
    assert values == str(f(X=x).tolist())
    hits, misses = map(int, counts.split())
    assert hits >= 1 and misses == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_openmp_loaded_before_the_first_module_is_a_warning_once(tmp_path):
    """GNU OpenMP loaded before the first numba module (as `import torch` does) has read
    OMP_WAIT_POLICY already: d.numba() says so, once, naming the variable to set. Without
    OpenMP loaded, or with the variable set, nothing is said."""
    import ctypes.util
    gomp = ctypes.util.find_library("gomp")
    if gomp is None:
        pytest.skip("no libgomp on this machine")
    script = ("import ctypes, json, sys, warnings, matcalc\n"
              "warnings.simplefilter('always')\n"
              f"if sys.argv[1] == 'loaded': ctypes.CDLL({gomp!r})\n"
              "with warnings.catch_warnings(record=True) as seen:\n"
              "    matcalc.derive('sum(exp(X).*X)', wrt='X').numba()\n"
              "    matcalc.derive('sum(tanh(X))', wrt='X').numba()\n"
              "print(json.dumps([str(w.message) for w in seen"
              " if issubclass(w.category, RuntimeWarning)]))\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["MATCALC_CACHE_DIR"] = str(tmp_path)

    def said(case: str, **extra: str) -> list[str]:
        run = subprocess.run([sys.executable, "-c", script, case], capture_output=True,
                             text=True, check=True, env={**env, **extra})
        return json.loads(run.stdout)

    warned = said("loaded")
    assert len(warned) == 1 and "OMP_WAIT_POLICY=PASSIVE" in warned[0]
    assert said("not loaded") == []
    assert said("loaded", OMP_WAIT_POLICY="PASSIVE") == []


def test_without_numba_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)       # `import numba` raises ImportError
    d = matcalc.derive("sum(exp(X))", wrt="X")
    assert "numba.njit" in d.code("numba")                # printing the code needs no numba
    with pytest.raises(ImportError, match=r'pip install "\.\[numba\]"'):
        d.numba()


@pytest.mark.skipif(not ALL, reason="compiles about 30 loops: MATCALC_TEST_NUMBA=all")
def test_random_problems_agree_with_numpy():
    from expression_strategy import SHAPES, problems
    from hypothesis import HealthCheck, given, settings
    from test_backends import _random_problem_inputs

    fused = []

    @settings(max_examples=120, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(problems(max_depth=5))
    def check(problem):
        text, wrt = problem
        try:
            d = matcalc.derive(text, wrt=wrt, shapes=SHAPES)
        except matcalc.DifferentiationError:
            return
        inputs = _random_problem_inputs(d)
        with np.errstate(all="ignore"):
            expected = np.asarray(d.numpy()(**inputs), dtype=float)
            if np.all(np.isfinite(expected)):
                assert_agrees(np.asarray(d.numba()(**inputs), dtype=float), expected)
                fused.append("numba.prange" in d.code("numba"))
    check()
    assert sum(fused) >= 10, f"only {sum(fused)} of the random problems have a loop"


# expressions (not derivatives) whose code is one loop each, against the interpreter: the index of
# each kind of operand (a matrix [i, j], a column [i], a row [j], diag(v) on either side, a scalar)
LOOPS = [
    ("A*diag(v) + diag(u)*B - 2*u*v'", True),
    ("exp(A).^2 - A./B + c*sigmoid(A - B)", True),
    ("relu(A - B).*tanh(B) + sqrt(abs(A)) + softplus(-A).^c", ALL),
    ("(A + A').*log(1 + B.^2) - sign(A)", ALL),
]


@pytest.mark.parametrize("text", [t for t, run in LOOPS if run])
def test_expressions_compiled_as_one_loop_compute_what_the_interpreter_does(text):
    from matcalc.api import _problem
    from matcalc.printing.backends import BACKENDS
    from matcalc.printing.backends.numba import load
    from matcalc.printing.codegen.module import generate_module
    from matcalc.verify import evaluate

    problem = _problem(text, {"A": ("n", "n"), "B": ("n", "n"), "u": ("n",), "v": ("n",),
                              "c": "scalar"}, None)
    source, _ = generate_module(problem.variables, problem.bindings, [("value", problem.expr)],
                                "value", text, BACKENDS["numba"])
    body = source[source.index("def value("):]
    assert source.count("numba.prange") == 1 and "np." not in body.split('"""')[-1], source
    rng = np.random.default_rng(5)
    env = {"A": rng.standard_normal((6, 6)), "B": rng.uniform(0.5, 1.5, (6, 6)),
           "u": rng.standard_normal((6, 1)), "v": rng.standard_normal((6, 1)),
           "c": np.array([[1.5]])}
    env = {n: x for n, x in env.items() if n in problem.variables}
    want = evaluate(problem.expr, dict(env, __dims__={"n": 6}), problem.bindings)
    value = load(source, "value").value
    args = {n: (x.item() if n == "c" else x.ravel() if x.shape[1] == 1 else x)
            for n, x in env.items()}
    np.testing.assert_allclose(value(**args), want, rtol=1e-12, atol=1e-12)


def test_softmax_along_rows_is_one_loop_with_what_follows():
    """The batched cross-entropy gradient (softmax(X*W', 2) - Y)'*X: softmax minus Y is one loop
    over the rows (maximum, exponentials and their sum, then each entry), no NumPy softmax; equal
    to the NumPy code in float64 and float32, finite at logits of ±1000."""
    d = matcalc.derive("sum(logsumexp(X*W', 2)) - tr(Y'*X*W')", wrt="W")
    source = d.code("numba")
    assert "_softmax_along" not in source and source.count("_exp(") == 2 + 1   # the twins, def
    rng = np.random.default_rng(3)
    X, W = rng.standard_normal((300, 20)), rng.standard_normal((7, 20))
    Y = np.eye(7)[rng.integers(0, 7, 300)]
    assert_agrees(d.numba()(W=W, X=X, Y=Y), d.numpy()(W=W, X=X, Y=Y))
    got32 = d.numba()(W=W.astype(np.float32), X=X.astype(np.float32), Y=Y.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, d.numpy()(W=W, X=X, Y=Y), rtol=1e-4, atol=1e-4)
    loud = 1000 * W / np.abs(X @ W.T).max()          # logits of ±1000
    assert np.all(np.isfinite(d.numba()(W=loud, X=X, Y=Y)))
    assert_agrees(d.numba()(W=loud, X=X, Y=Y), d.numpy()(W=loud, X=X, Y=Y))


def test_log_softmax_along_rows_and_attention_match_numpy():
    """logsoftmax(S, 2) as a loop entry; single-head attention's three gradients, where the loop
    of `(T*V').*P` is used twice: computed once into a temporary, `T*V'` once."""
    rng = np.random.default_rng(4)
    d = matcalc.derive("sum(Y.*logsoftmax(X*W', 2)) + sum(softmax(2*X*W', 2).^2)", wrt="W")
    X, W, Y = rng.standard_normal((50, 6)), rng.standard_normal((5, 6)), rng.random((50, 5))
    assert "_logsoftmax_along" not in d.code("numba")
    assert_agrees(d.numba()(W=W, X=X, Y=Y), d.numpy()(W=W, X=X, Y=Y))
    attention = matcalc.derive("sum(T.*(softmax(Q*K'/sqrt(cols(Wq)), 2)*V)) "
                               "where Q = X*Wq, K = X*Wk, V = X*Wv", wrt=["Wq", "Wk", "Wv"])
    assert attention.code("numba").count("_scratch_product(T, V.T, ") == 1
    assert "_fused1(_scratch_product(Q, K.T, " in attention.code("numba")   # scaled in the loop
    inputs = {"X": rng.standard_normal((40, 8)), "T": rng.standard_normal((40, 4)),
              **{w: rng.standard_normal((8, 4)) for w in ("Wq", "Wk", "Wv")}}
    for got, want in zip(attention.numba()(**inputs), attention.numpy()(**inputs)):
        assert_agrees(got, want)


ATTENTION = "sum(T.*(softmax(Q*K'/sqrt(cols(Wq)), 2)*V)) where Q = X*Wq, K = X*Wk, V = X*Wv"


def _attention_inputs(seed: int, n: int = 200) -> dict:
    rng = np.random.default_rng(seed)
    return {"X": rng.standard_normal((n, 8)), "T": rng.standard_normal((n, 4)),
            **{w: rng.standard_normal((8, 4)) for w in ("Wq", "Wk", "Wv")}}


def test_large_intermediates_are_scratch_buffers_that_no_result_shares():
    """At N = 200 attention's five N×N intermediates (40,000 entries, over PARALLEL_SIZE) are
    written into this thread's scratch buffers, kept from call to call. The gradients agree with
    the NumPy code's; a second call with other inputs leaves the first call's results as they
    were; a buffer is remade when the shape changes; a view of a buffer is copied before it is
    returned; arrays under PARALLEL_SIZE entries are never kept."""
    d = matcalc.derive(ATTENTION, wrt=["Wq", "Wk", "Wv"])
    f = d.numba()
    space = f.__wrapped__.__globals__
    first = f(**_attention_inputs(0))
    kept = [g.copy() for g in first]
    for got, want in zip(first, d.numpy()(**_attention_inputs(0))):
        assert_agrees(got, want)
    buffers = space["_SCRATCH"].__dict__
    assert sorted(b.shape for b in buffers.values()) == [(200, 200)] * 5
    again = f(**_attention_inputs(1))
    for got, was in zip(first, kept):
        np.testing.assert_array_equal(got, was)
    for got, want in zip(again, d.numpy()(**_attention_inputs(1))):
        assert_agrees(got, want)
    assert not any(np.may_share_memory(g, b) for g in first + again for b in buffers.values())
    bigger = f(**_attention_inputs(2, n=250))            # new shapes: new buffers
    assert sorted(b.shape for b in buffers.values()) == [(250, 250)] * 5
    for got, want in zip(bigger, d.numpy()(**_attention_inputs(2, n=250))):
        assert_agrees(got, want)
    site = next(iter(buffers))
    assert space["_scratch"](site, (250, 250), np.dtype(np.float64)) is buffers[site]
    view = space["_owned"](buffers[site].T)
    assert not np.may_share_memory(view, buffers[site])
    np.testing.assert_array_equal(view, buffers[site].T)
    space["_scratch"]("small", (100, 100), np.dtype(np.float64))
    assert "small" not in buffers
    # a result that is the transpose of a loop's output: the loop writes a new array
    d = matcalc.derive("tr(expm(S')*S)", wrt="S")
    assert "None).T)" in d.code("numba")
    S = np.random.default_rng(5).standard_normal((4, 4)) / 2
    assert_agrees(d.numba()(S=S), d.numpy()(S=S))


def test_threads_calling_at_once_each_have_their_own_scratch_buffers():
    """Eight calls on four threads at once, each with its own inputs: each gets what one call
    alone gets (the buffers are per thread; shared ones would mix the calls' intermediates)."""
    from concurrent.futures import ThreadPoolExecutor
    f = matcalc.derive(ATTENTION, wrt=["Wq", "Wk", "Wv"]).numba()
    alone = [f(**_attention_inputs(seed)) for seed in range(8)]
    if numba.threading_layer() == "workqueue":    # known once a parallel loop has run
        pytest.skip("numba's workqueue layer does not run parallel loops from two threads")
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda seed: f(**_attention_inputs(seed)), range(8)))
    for one, other in zip(alone, together):
        for a, b in zip(one, other):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_a_scaled_operand_of_a_row_function_is_scaled_in_the_loop():
    """softmax(c*S, 2) and logsoftmax(c*S, 2) read c times S's entries (no pass forming c*S):
    a negative scale -1/c (the row's maximum is then of the scaled entries), a c known only at
    the call, on both loops (serial and parallel)."""
    rng = np.random.default_rng(9)
    d = matcalc.derive("sum(Y.*softmax(-(X*W')/c, 2)) + sum(Y.*logsoftmax(c*X*W', 2))", wrt="W",
                       shapes={"c": ()})
    code = d.code("numba")
    assert "* (X @ W.T)" not in code and "_fused1(_scratch_product(X, W.T, " in code
    assert "m0 = _row_maximum(v0[i], -1.0 * v1)" in code      # the maximum of the scaled entries
    for n in (50, 3000):                             # 3000×12 entries: the parallel loop
        X, W, Y = rng.standard_normal((n, 6)), rng.standard_normal((12, 6)), rng.random((n, 12))
        for c in (0.7, 3.0):
            assert_agrees(d.numba()(W=W, X=X, Y=Y, c=c), d.numpy()(W=W, X=X, Y=Y, c=c))


def test_the_loops_exp_is_within_two_ulp_of_numpys_and_vectorised():
    """numba_helpers._exp, which every loop calls for exp: within 2 ulp of NumPy's exp across its
    whole range (subnormal results and the overflow threshold included), NaN, ±inf and the
    extremes as NumPy gives them; float32 entries rounded once; and vectorised by LLVM, the
    reason it exists (a loop calling np.exp keeps one entry at a time)."""
    from matcalc.printing.backends import numba_helpers

    @numba.njit(cache=False)
    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = numba_helpers._exp(x[i])
        return out

    rng = np.random.default_rng(11)
    x = np.concatenate([rng.uniform(-745.5, 709.8, 10 ** 6), rng.uniform(-1, 1, 10 ** 5),
                        rng.uniform(-746, -708, 10 ** 5), rng.uniform(709, 709.8, 10 ** 4)])
    with np.errstate(over="ignore"):
        got, want = loop(x, np.empty_like(x)), np.exp(x)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    normal = (want > np.finfo(float).tiny) & np.isfinite(want)
    ulps = np.abs(got[normal] - want[normal]) / np.spacing(want[normal])
    assert ulps.max() <= 2
    # a subnormal result: within a few units of the smallest subnormal, zero where NumPy's is
    tiny = (want <= np.finfo(float).tiny)
    assert np.all(np.abs(got[tiny] - want[tiny]) <= 4 * 5e-324)
    assert np.array_equal(got == 0, want == 0)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 709.78, 709.79, -745.1, -745.2,
                        1e300, -1e300])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(loop(special, np.empty_like(special)), np.exp(special))
    x32 = rng.uniform(-100, 80, 10 ** 4).astype(np.float32)
    np.testing.assert_array_equal(loop(x32, np.empty_like(x32)),
                                  np.exp(x32.astype(np.float64)).astype(np.float32))
    assert any("x double>" in ir for ir in loop.inspect_llvm().values())


def test_the_row_maximum_in_four_running_maxima_is_the_maximum():
    """numba_helpers._row_maximum, the maximum pass of every row-wise softmax and log-softmax
    loop: rows of every length modulo 4 (the remainder loop), -inf entries, a negative scale."""
    from matcalc.printing.backends import numba_helpers

    @numba.njit(cache=False)
    def loop(rows, scale, out):
        for i in range(rows.shape[0]):
            out[i] = numba_helpers._row_maximum(rows[i], scale)
        return out

    rng = np.random.default_rng(12)
    for n in range(1, 11):
        rows = rng.standard_normal((60, n))
        rows[::7, 0] = -np.inf
        for scale in (1.0, -0.3):
            with np.errstate(invalid="ignore"):
                want = (scale * rows).max(axis=1)
            np.testing.assert_array_equal(loop(rows, scale, np.empty(60)), want)


def test_a_tall_transposed_matrix_times_a_vector_is_summed_in_parallel_blocks():
    """_transposed_matvec(M, v) = M.T @ v: for a tall C-ordered M (20000×60, over 2²⁰ entries)
    the parallel loop over 16 blocks of rows, in float64 and float32; a strided M, a wide one and
    a small one go to BLAS (its result, bit for bit). The seed's numba code calls it for X'*a and agrees with the NumPy
    code (which the backend tests check against finite differences)."""
    d = matcalc.derive(SEED, wrt="X")
    code = d.code("numba")
    assert "_transposed_matvec(X, a)" in code
    space = d.numba().__wrapped__.__globals__
    matvec = space["_transposed_matvec"]
    rng = np.random.default_rng(13)
    M, v = rng.standard_normal((20000, 60)), rng.standard_normal(20000)
    np.testing.assert_allclose(matvec(M, v), M.T @ v, rtol=1e-12, atol=1e-12)
    assert space["_transposed_matvec_parts"].signatures         # the loop ran, not BLAS
    got32 = matvec(M.astype(np.float32), v.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, M.T @ v, rtol=1e-4, atol=1e-3)
    strided = rng.standard_normal((40000, 60))[::2]          # 20000×60, not C-ordered
    for m, u in ((strided, v), (M[:50], v[:50]), (M.T.copy(), v[:60])):   # … small, wide
        np.testing.assert_array_equal(matvec(m, u), m.T @ u)     # BLAS's own result
    a = rng.standard_normal(20000) / np.sqrt(20000)
    out = np.empty_like(M)
    assert d.numba()(X=M, a=a, out=out) is out
    assert_agrees(out, d.numpy()(X=M, a=a))
    assert_agrees(d.numba()(X=M, a=a), d.numpy()(X=M, a=a))
