"""The one numeric helper every derivative test goes through (import it: `from numeric import …`).

`check_gradient` differentiates, runs the generated NumPy code at random inputs, and compares it
entry by entry with central finite differences of the input expression (float64). Where a test
knows the textbook answer it passes `expected`, a NumPy function of the inputs, compared too.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import sympy
import matcalc
from matcalc.verify import dimension_sizes, evaluate, from_user, to_user

RTOL = 1e-6


def finite_difference_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                               h: float = 1e-6) -> np.ndarray:
    """Central differences, entry by entry."""
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def random_inputs(variables: dict, sizes: dict, rng: np.random.Generator,
                  domain: str = "positive", symmetric: set[str] = frozenset()) -> dict:
    """2-D arrays per variable. domain: 'positive' (entries in [0.5, 1.5], square matrices
    diagonally dominant), 'normal' (standard normal; square matrices diagonally dominant)."""
    env = {}
    for name, shape in variables.items():
        r, c = (d if isinstance(d, int) else sizes[d] for d in shape)
        x = rng.uniform(0.5, 1.5, (r, c)) if domain == "positive" else rng.standard_normal((r, c))
        if r == c and r > 1:
            x = x + (r + 1) * np.eye(r)
        if name in symmetric:
            x = (x + x.T) / 2
        env[name] = x
    return env


def check_gradient(expr: str, wrt: str, shapes: dict | None = None,
                   expected: Callable | None = None, domain: str = "positive",
                   seeds: tuple[int, ...] = (0, 1), rtol: float = RTOL,
                   symmetric: set[str] = frozenset()) -> matcalc.Derivation:
    """Differentiate and check the generated gradient numerically; returns the derivation.

    For a variable declared symmetric the check is along symmetric perturbations E (the gradient
    G must satisfy G : E = directional derivative for every symmetric E) and G must be symmetric.
    """
    d = matcalc.derive(expr, wrt=wrt, shapes=shapes, symmetric=symmetric)
    variables = d.problem.variables
    gradient = d.numpy()
    for seed in seeds:
        rng = np.random.default_rng(seed)
        sizes = dimension_sizes(variables, base=seed)
        env = random_inputs(variables, sizes, rng, domain, symmetric)
        user = {n: to_user(env[n], variables[n]) for n in variables}
        g = from_user(gradient(**user), *env[wrt].shape)

        def f(x: np.ndarray) -> float:
            shifted = dict(env, __dims__=sizes)
            shifted[wrt] = x
            return float(evaluate(d.problem.expr, shifted, d.problem.bindings).reshape(()))

        numeric = finite_difference_gradient(f, env[wrt])
        if wrt in symmetric:
            # along symmetric E = e_ij + e_ji only: the symmetric part of the unconstrained one
            numeric = (numeric + numeric.T) / 2
            assert np.allclose(g, g.T), f"{expr}: gradient with respect to symmetric {wrt} is not symmetric"
        scale = max(1.0, float(np.max(np.abs(numeric))))
        assert np.all(np.isfinite(g)), f"{expr}: non-finite gradient"
        assert np.max(np.abs(g - numeric)) <= rtol * scale * 10, (
            f"{expr} d/d{wrt} = {d}: differs from finite differences by "
            f"{np.max(np.abs(g - numeric)):.3e}")
        if expected is not None:
            want = from_user(expected(**user), *env[wrt].shape)
            assert np.allclose(g, want, rtol=1e-9, atol=1e-9 * scale), (
                f"{expr} d/d{wrt} = {d}: differs from the textbook formula by "
                f"{np.max(np.abs(g - want)):.3e}")
    return d



def _setup(d: matcalc.Derivation, seed: int, domain: str, symmetric: set[str] = frozenset()):
    variables = d.problem.variables
    rng = np.random.default_rng(seed)
    sizes = dimension_sizes(variables, base=seed)
    env = random_inputs(variables, sizes, rng, domain, symmetric)
    user = {n: to_user(env[n], variables[n]) for n in variables}
    return rng, sizes, env, user


def _evaluator(node, d: matcalc.Derivation, env: dict, sizes: dict, wrt: str):
    def value(x: np.ndarray) -> np.ndarray:
        shifted = dict(env, __dims__=sizes)
        shifted[wrt] = x
        return evaluate(node, shifted, d.problem.bindings)
    return value


def check_jacobian(expr: str, wrt: str, shapes: dict | None = None, expected: Callable | None = None,
                   domain: str = "normal", seeds: tuple[int, ...] = (0, 1)) -> matcalc.Derivation:
    """J of a vector function against central differences, column by column."""
    d = matcalc.derive(expr, wrt=wrt, shapes=shapes)
    assert d.kind == "jacobian", d.kind
    for seed in seeds:
        _, sizes, env, user = _setup(d, seed, domain)
        f = _evaluator(d.problem.expr, d, env, sizes, wrt)
        x = env[wrt]
        J = np.asarray(d.numpy()(**user), dtype=float).reshape(-1, x.shape[0])
        numeric = np.column_stack([((f(x + 1e-6 * e) - f(x - 1e-6 * e)) / 2e-6).ravel()
                                   for e in np.eye(x.shape[0])[:, :, None]])
        scale = max(1.0, float(np.max(np.abs(numeric))))
        assert np.max(np.abs(J - numeric)) <= 1e-5 * scale, f"{expr}: J = {d} is wrong"
        if expected is not None:
            want = np.asarray(expected(**user), dtype=float).reshape(J.shape)
            assert np.allclose(J, want, rtol=1e-9, atol=1e-9 * scale), f"{expr}: J = {d}"
    return d


def check_hessian(expr: str, wrt: str, shapes: dict | None = None, expected: Callable | None = None,
                  domain: str = "normal", seeds: tuple[int, ...] = (0, 1)) -> matcalc.Derivation:
    """H with respect to a vector: second central differences of f itself, entry by entry.
    With respect to a matrix: H[V] against central differences of the gradient along V (the
    gradient being checked against f by check_gradient first)."""
    d = matcalc.hessian(expr, wrt=wrt, shapes=shapes)
    g = check_gradient(expr, wrt, shapes, domain=domain, seeds=seeds[:1])
    for seed in seeds:
        rng, sizes, env, user = _setup(d, seed, domain)
        f = _evaluator(d.problem.expr, d, env, sizes, wrt)
        x = env[wrt]
        if d.kind == "hessian":
            n = x.shape[0]
            H = np.asarray(d.numpy()(**user), dtype=float).reshape(n, n)
            h = 1e-4
            E = np.eye(n)[:, :, None] * h
            numeric = np.array([[(f(x + E[i] + E[j]) - f(x + E[i] - E[j])
                                  - f(x - E[i] + E[j]) + f(x - E[i] - E[j])).item() / (4 * h * h)
                                 for j in range(n)] for i in range(n)])
            scale = max(1.0, float(np.max(np.abs(numeric))))
            assert np.max(np.abs(H - numeric)) <= 1e-5 * scale, f"{expr}: H = {d} is wrong"
            assert np.allclose(H, H.T, atol=1e-9 * scale), f"{expr}: H is not symmetric"
            got = H
        else:
            assert d.kind == "hessian-map", d.kind
            V = rng.standard_normal(x.shape)
            grad = g.numpy()

            def grad_at(y: np.ndarray) -> np.ndarray:
                args = dict(user)
                args[wrt] = y
                return np.asarray(grad(**args), dtype=float)

            numeric = (grad_at(x + 1e-6 * V) - grad_at(x - 1e-6 * V)) / 2e-6
            got = np.asarray(d.numpy()(**user, **{d.direction: V}), dtype=float)
            scale = max(1.0, float(np.max(np.abs(numeric))))
            assert np.max(np.abs(got - numeric)) <= 1e-5 * scale, f"{expr}: H[dX] = {d} is wrong"
        if expected is not None:
            want = np.asarray(expected(**user), dtype=float).reshape(got.shape)
            assert np.allclose(got, want, rtol=1e-9, atol=1e-9), f"{expr}: H = {d}"
    return d


def sympy_value(d, inputs: dict) -> np.ndarray:
    """d.expr evaluated by SymPy itself at the inputs: the SymPy form computes the same numbers."""
    subs = {s: sympy.ImmutableMatrix(np.reshape(inputs[s.name], s.shape)) if hasattr(s, "shape")
            else inputs[s.name] for s in d.expr.free_symbols}
    value = d.expr.xreplace({k: sympy.ImmutableMatrix(v) if hasattr(k, "shape") else v
                             for k, v in subs.items()})
    # SymPy leaves special matrices and Hadamard powers of explicit matrices unevaluated
    value = value.replace(lambda e: isinstance(e, (sympy.OneMatrix, sympy.Identity)),
                          lambda e: e.as_explicit())
    value = value.replace(lambda e: isinstance(e, sympy.HadamardPower),
                          lambda e: sympy.ImmutableMatrix(e.base.doit()).applyfunc(
                              lambda t: t ** e.exp)).doit()
    return np.array(sympy.N(value.as_explicit() if hasattr(value, "as_explicit") else value),
                    dtype=float)
