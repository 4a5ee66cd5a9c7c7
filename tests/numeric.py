"""The one numeric helper every derivative test goes through (import it: `from numeric import …`).

`check_gradient` differentiates, runs the generated NumPy code at random inputs, and compares it
entry by entry with central finite differences of the input expression (float64). Where a test
knows the textbook answer it passes `expected`, a NumPy function of the inputs, compared too.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
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
                   seeds: tuple[int, ...] = (0, 1), rtol: float = RTOL) -> matcalc.Derivation:
    """Differentiate and check the generated gradient numerically; returns the derivation."""
    d = matcalc.derive(expr, wrt=wrt, shapes=shapes)
    variables = d.problem.variables
    gradient = d.numpy()
    for seed in seeds:
        rng = np.random.default_rng(seed)
        sizes = dimension_sizes(variables, base=seed)
        env = random_inputs(variables, sizes, rng, domain)
        user = {n: to_user(env[n], variables[n]) for n in variables}
        g = from_user(gradient(**user), *env[wrt].shape)

        def f(x: np.ndarray) -> float:
            shifted = dict(env, __dims__=sizes)
            shifted[wrt] = x
            return float(evaluate(d.problem.expr, shifted, d.problem.bindings).reshape(()))

        numeric = finite_difference_gradient(f, env[wrt])
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

