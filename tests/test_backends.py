"""Generated code for JAX, PyTorch, the array-API standard and Dask, checked against NumPy.

The NumPy code of every problem is first checked against central finite differences (d.check());
each other backend's code is then run on its own arrays at the same inputs and must agree with it
entry by entry. A backend whose library is not installed is skipped; array-api-strict (the
standard and nothing more) and Dask are in the `test` extra, so CI always runs those.
"""
from __future__ import annotations

import numpy as np
import pytest
from expression_strategy import SHAPES, SHAPES_NUMERIC, problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numeric import random_inputs

import matcalc
from matcalc.operators import REGISTRY
from matcalc.verify import dimension_sizes, to_user

SEED = "w'*w where w = sigmoid(X'*a)"

# (expression, variable, hessian?): every operation a backend table spells, each used at least once
PROBLEMS = [
    (SEED, "X", False),                                            # outer product, sigmoid
    (SEED, "a", False),
    ("sum(log(1 + exp(-(X*w).*y)))", "w", True),                  # logistic Hessian: scalings
    ("x'*A*x + sum(exp(x))", "x", True),                           # diag(v) materialised
    ("logdet(X)", "X", False),                                     # slogdet, inv
    ("log(det(X)) + tr(inv(X)*A)", "X", False),                    # det, solve
    ("a'*inv(X)*b", "X", False),                                   # solve with a transpose
    ("-y'*log(softmax(W*x))", "W", False),                         # softmax
    ("-y'*log(softmax(W*x))", "x", True),
    ("logsumexp(W*x)", "x", False),                                # logsumexp
    ("sum(relu(X*a)) + sum(softplus(X*a)) + norm1(a)", "a", False),  # relu, softplus, abs
    ("sqrt(x'*x) + norm2(A*x)", "x", False),                       # sqrt, norm
    ("c*sum(tanh(W*x)) + tr(A*W*B)", "W", False),                  # a scalar input, tr(A*B)
    ("tr(X^3) + sum(X)", "X", False),                              # matrix power, a fill
    ("sum(X*a)", "X", False),                                      # a repeated row
    ("a'*X*b + sum(diag(X).^2)", "X", False),                      # diagonal
    ("tr(A*X*B*C*D)", "X", False),                                 # multi_dot (unknown sizes)
    ("norm2(A*x - b)^2", "x", True),                               # symmetric product A'*A
]
KRONECKER = [("A*X*B", "X"), ("X'", "X"), ("inv(X)", "X")]        # kron, vec, commutation

RTOL = 1e-10


def _derivations():
    for expr, wrt, is_hessian in PROBLEMS:
        compute = matcalc.hessian if is_hessian else matcalc.derive
        yield pytest.param(lambda e=expr, w=wrt, c=compute: c(e, wrt=w, shapes={"c": "scalar"}),
                           id=f"{'hessian' if is_hessian else 'derive'}:{expr}:{wrt}")
    for expr, wrt in KRONECKER:
        yield pytest.param(lambda e=expr, w=wrt: matcalc.derive(e, wrt=w).vec(),
                           id=f"vec:{expr}:{wrt}")


DERIVATIONS = list(_derivations())


def reference(make, seed: int = 0):
    """(derivation, NumPy inputs by name, NumPy result); the NumPy code checked numerically."""
    d = make()
    assert d.check() < 1e-6, f"the NumPy reference itself is wrong: {d}"
    rng = np.random.default_rng(seed)
    variables = dict(d.problem.variables)
    sizes = dimension_sizes(variables, base=seed)
    env = random_inputs(variables, sizes, rng, domain="positive")
    inputs = {name: to_user(x, variables[name]) for name, x in env.items()}
    if d.direction is not None:         # a linear map takes the direction d(X) as an argument
        shape = variables[d.wrt]
        inputs[d.direction] = to_user(rng.standard_normal(env[d.wrt].shape), shape)
    return d, inputs, np.asarray(d.numpy()(**inputs))


def assert_agrees(got, expected: np.ndarray) -> None:
    got = np.asarray(got, dtype=float)
    assert got.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * scale)


# -- array API: array-api-strict (only the standard), NumPy through array_api_compat -------------

@pytest.mark.parametrize("make", DERIVATIONS)
def test_array_api_strict_matches_numpy(make):
    xps = pytest.importorskip("array_api_strict")
    d, inputs, expected = reference(make)
    arrays = {n: xps.asarray(v) if isinstance(v, np.ndarray) else v for n, v in inputs.items()}
    got = d.array_api()(**arrays)
    assert isinstance(got, type(xps.asarray(0.0))), "array-api code left the strict namespace"
    assert_agrees(np.asarray(got), expected)


@pytest.mark.parametrize("make", DERIVATIONS[:4])
def test_array_api_code_runs_on_numpy_arrays(make):
    pytest.importorskip("array_api_compat")
    d, inputs, expected = reference(make)
    assert_agrees(d.array_api()(**inputs), expected)


@pytest.mark.parametrize("library", ["torch", "jax.numpy"])
@pytest.mark.parametrize("make", DERIVATIONS)
def test_array_api_code_runs_on_torch_and_jax_arrays(make, library, request):
    """The one array-API function, given PyTorch tensors or JAX arrays, computes with them."""
    pytest.importorskip("array_api_compat")
    module = pytest.importorskip(library)
    if library == "jax.numpy":
        request.getfixturevalue("jax64")
    d, inputs, expected = reference(make)
    arrays = {n: module.asarray(v) if isinstance(v, np.ndarray) else v for n, v in inputs.items()}
    got = d.array_api()(**arrays)
    assert type(got).__module__.split(".")[0] in {"torch": {"torch"},
                                                   "jax.numpy": {"jax", "jaxlib"}}[library]
    assert_agrees(np.asarray(got), expected)


def test_array_api_keeps_dtype_and_device():
    xps = pytest.importorskip("array_api_strict")
    d = matcalc.hessian("x'*A*x + sum(exp(x))", wrt="x")      # creates an identity
    device = xps.Device("device1")
    x = xps.asarray([0.5, 1.0, 1.5], dtype=xps.float32, device=device)
    a = xps.asarray(np.eye(3), dtype=xps.float32, device=device)
    h = d.array_api()(x=x, A=a)
    assert h.dtype == xps.float32 and h.device == device


# -- JAX -------------------------------------------------------------------------------------------

@pytest.fixture
def jax64():
    jax = pytest.importorskip("jax")
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", previous)


@pytest.mark.parametrize("make", DERIVATIONS)
def test_jax_matches_numpy(make, jax64):
    d, inputs, expected = reference(make)
    arrays = {n: jax64.numpy.asarray(v) if isinstance(v, np.ndarray) else v
              for n, v in inputs.items()}
    assert_agrees(d.jax()(**arrays), expected)                   # under jax.jit
    assert_agrees(d.jax(jit=False)(**arrays), expected)


def test_jax_code_composes_with_jax_transformations(jax64):
    """The generated gradient is a jax function: vmap maps it over a batch of vectors a."""
    d = matcalc.derive(SEED, wrt="X")
    rng = np.random.default_rng(1)
    x, batch = rng.standard_normal((5, 3)), rng.standard_normal((4, 5))
    code = d.jax(jit=False).__wrapped__
    got = jax64.jit(jax64.vmap(code, in_axes=(None, 0)))(x, batch)
    expected = np.stack([d.numpy()(X=x, a=a) for a in batch])
    assert_agrees(got, expected)


# -- PyTorch ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", DERIVATIONS)
def test_torch_matches_numpy(make):
    torch = pytest.importorskip("torch")
    d, inputs, expected = reference(make)
    tensors = {n: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
               for n, v in inputs.items()}
    got = d.torch()(**tensors)
    assert isinstance(got, torch.Tensor)
    assert_agrees(got.numpy(), expected)


def test_torch_results_stay_on_the_inputs_device_and_dtype():
    """Tensors the code creates take the inputs' device: checked on the `meta` device, which
    has no data (a CUDA machine would show the same with device="cuda")."""
    torch = pytest.importorskip("torch")
    d = matcalc.hessian("x'*A*x + sum(exp(x)) + c*x'*x", wrt="x", shapes={"c": "scalar"})
    x = torch.ones(3, dtype=torch.float32, device="meta")
    a = torch.ones((3, 3), dtype=torch.float32, device="meta")
    h = d.torch()(x=x, A=a, c=2.0)
    assert h.device.type == "meta" and h.dtype == torch.float32 and h.shape == (3, 3)


# -- Dask: the seed gradient over a matrix chunked by rows ----------------------------------------

def test_seed_gradient_on_dask_chunked_by_rows():
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")
    d = matcalc.derive(SEED, wrt="X")
    rng = np.random.default_rng(2)
    m, n, rows = 20_000, 50, 2_000
    x, a = rng.standard_normal((m, n)), rng.standard_normal(m)
    big_x = da.from_array(x, chunks=(rows, n))
    big_a = da.from_array(a, chunks=rows)
    lazy = d.array_api()(X=big_x, a=big_a)
    assert isinstance(lazy, da.Array)
    assert lazy.chunks[0] == big_x.chunks[0], "the gradient is not chunked like X"
    assert_agrees(lazy.compute(), d.numpy()(X=x, a=a))


# -- the CLI ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "jax", "torch", "array-api", "numba"])
def test_cli_prints_each_backend(backend):
    from click.testing import CliRunner

    from matcalc.cli import main
    result = CliRunner().invoke(main, ["derive", SEED, "--wrt", "X", "--format", backend])
    assert result.exit_code == 0, result.output
    d = matcalc.derive(SEED, wrt="X")
    assert result.output == d.code(backend)
    compile(result.output, backend, "exec")


def test_unknown_backend_is_a_clear_error():
    d = matcalc.derive(SEED, wrt="X")
    with pytest.raises(ValueError, match="numpy, jax, torch, array-api, numba"):
        d.code("tensorflow")


# -- names: a user's variable never shadows what the generated code calls -------------------------

CALL_ROOTS = {"numpy": {"np"}, "jax": {"jnp", "jax"}, "torch": {"torch"},
              "array-api": {"xp", "array_namespace", "_device"},
              "numba": {"np", "numba", "os", "threading", "llvmlite"}}


def _calls_only(source: str, roots: set[str]) -> None:
    """Every call goes to the library's namespace or to a helper the module defines."""
    import ast
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            while isinstance(func, (ast.Attribute, ast.Subscript, ast.Call)):
                func = func.value if not isinstance(func, ast.Call) else func.func
            assert isinstance(func, ast.Name) and (func.id in roots | defined), \
                f"the generated code calls {ast.unparse(node.func)}"


def _run(backend: str, d, inputs: dict):
    """d's code for `backend` at NumPy inputs, converted to the backend's arrays and back."""
    if backend == "jax":
        jnp = pytest.importorskip("jax.numpy")
        return np.asarray(d.jax()(**{n: jnp.asarray(v) for n, v in inputs.items()}))
    if backend == "torch":
        torch = pytest.importorskip("torch")
        # as_tensor: a result that is a size alone (rows(X)) is a Python int
        return torch.as_tensor(d.torch()(**{n: torch.from_numpy(v)
                                            for n, v in inputs.items()})).numpy()
    if backend == "array-api":
        pytest.importorskip("array_api_compat")
        return np.asarray(d.array_api()(**inputs))
    if backend == "numba":
        pytest.importorskip("numba")
        return d.numba()(**inputs)
    return d.numpy()(**inputs)


@pytest.mark.parametrize("backend", list(CALL_ROOTS))
@pytest.mark.parametrize("name", ["xp", "jnp", "jax", "torch", "np", "array_namespace", "_device",
                                  "_sigmoid", "t1", "lambda", "numba", "_fused1"])
def test_names_of_every_backend_are_renamed(name, backend):
    text = f"{name}'*x + sum(sigmoid({name}.*x).^2)"
    d = matcalc.derive(text, wrt="x", shapes={name: ("n",), "x": ("n",)})
    rng = np.random.default_rng(3)
    inputs = {name: rng.standard_normal(4), "x": rng.standard_normal(4)}
    _calls_only(d.code(backend), CALL_ROOTS[backend])
    got = _run(backend, d, inputs)
    rtol = 1e-5 if backend == "jax" else 1e-12       # JAX computes in float32 unless x64 is on
    np.testing.assert_allclose(got, d.numpy()(**inputs), rtol=rtol)


def test_import_and_code_generation_need_no_optional_library():
    """`import matcalc` and printing every backend's code import none of the optional libraries
    (a fresh interpreter, so that other tests' imports do not count)."""
    import subprocess
    import sys
    script = ("import sys, matcalc\n"
              "d = matcalc.derive(\"w'*w where w = sigmoid(X'*a)\", wrt='X')\n"
              "for b in ('numpy', 'jax', 'torch', 'array-api', 'numba'):\n"
              "    d.code(b)\n"
              "heavy = ('jax', 'torch', 'dask', 'array_api_compat', 'array_api_strict', 'scipy',"
              " 'numba')\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_jax_function_is_jitted_once_per_derivation(jax64):
    d = matcalc.derive(SEED, wrt="X")
    assert d.jax() is d.jax()


@pytest.mark.parametrize("backend", list(CALL_ROOTS))
def test_a_problem_with_only_scalars(backend):
    """No array to take the namespace, dtype or device from: JAX and NumPy take floats, PyTorch
    turns them into tensors, the array-API code takes its namespace from 0-d arrays."""
    d = matcalc.derive("exp(t)*s + sqrt(t)", wrt="t", shapes={"t": "scalar", "s": "scalar"})
    want = np.exp(1.5) * 2.0 + 0.5 / np.sqrt(1.5)
    if backend == "array-api":
        pytest.importorskip("array_api_compat")
        got = d.array_api()(t=np.asarray(1.5), s=np.asarray(2.0))
    elif backend == "torch":
        pytest.importorskip("torch")
        got = d.torch()(t=1.5, s=2.0).item()          # float32: torch's default dtype
    elif backend == "jax":
        pytest.importorskip("jax")
        got = d.jax()(t=1.5, s=2.0)
    elif backend == "numba":
        pytest.importorskip("numba")
        got = d.numba()(t=1.5, s=2.0)
    else:
        got = d.numpy()(t=1.5, s=2.0)
    np.testing.assert_allclose(float(got), want, rtol=1e-6)


# -- random problems: every backend agrees with NumPy -----------------------------------------------

def _random_problem_inputs(d):
    variables = dict(d.problem.variables)
    rng = np.random.default_rng(0)
    env = random_inputs(variables, dimension_sizes(variables), rng, domain="positive")
    inputs = {name: to_user(x, variables[name]) for name, x in env.items()}
    if d.direction is not None:
        inputs[d.direction] = to_user(rng.standard_normal(env[d.wrt].shape), variables[d.wrt])
    return inputs


def _refused_by(d, backend: str) -> bool:
    """Does the code of `d` compute an operator whose row says `backend`'s library lacks it?"""
    pending, seen = [d.result], set()
    while pending:
        node = pending.pop()
        for n in node.walk():
            if n.op == "ref" and n.value not in seen:
                seen.add(n.value)
                pending.append(d.problem.bindings[str(n.value)])
            elif backend in getattr(REGISTRY.get(n.op), "refused_by", ()):
                return True
    return False


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(problems(max_depth=5, extended=True), st.sampled_from([SHAPES, SHAPES_NUMERIC]))
def test_random_problems_agree_with_numpy_in_every_backend(problem, shapes):
    """Random expressions of the whole language (tests/expression_strategy.py): the array-API code
    on array-api-strict, and the JAX and PyTorch code where installed, against the NumPy code."""
    xps = pytest.importorskip("array_api_strict")
    text, wrt = problem
    try:
        d = matcalc.derive(text, wrt=wrt, shapes=shapes)
    except matcalc.DifferentiationError:
        return
    inputs = _random_problem_inputs(d)
    with np.errstate(all="ignore"):
        expected = np.asarray(d.numpy()(**inputs), dtype=float)
    if not np.all(np.isfinite(expected)):
        return
    only_scalars = all(np.ndim(v) == 0 for v in inputs.values())
    wrap = {"array-api": lambda v: xps.asarray(v) if np.ndim(v) or only_scalars else v}
    run = {"array-api": d.array_api}
    try:
        import torch
        wrap["torch"] = lambda v: torch.tensor(v, dtype=torch.float64) if np.ndim(v) or only_scalars \
            else v
        run["torch"] = d.torch
    except ImportError:
        pass
    try:
        import jax
        wrap["jax"] = jax.numpy.asarray
        run["jax"] = d.jax
        x64 = jax.config.jax_enable_x64
        jax.config.update("jax_enable_x64", True)
    except ImportError:
        x64 = None
    try:
        for backend, code in run.items():
            arguments = {n: wrap[backend](v) for n, v in inputs.items()}
            if _refused_by(d, backend):     # its library lacks an operator: a clear refusal
                with pytest.raises(NotImplementedError, match=" has no "):
                    code()(**arguments)
                continue
            got = code()(**arguments)
            assert_agrees(np.asarray(got, dtype=float), expected)
    finally:
        if x64 is not None:
            jax.config.update("jax_enable_x64", x64)
