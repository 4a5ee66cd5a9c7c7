"""Numeric checks: evaluate expressions with NumPy and compare gradients with central differences.

`evaluate` is a plain interpreter over expression trees (2-D arrays throughout, no cleverness), kept
apart from the code generator so that one checks the other. `derivative_check` compares a claimed
derivative with central differences of the function along random directions:

    (f(X + hV) - f(X - hV)) / 2h  ≈  sum(G .* V)

at random inputs. Inputs are drawn where the usual functions are defined (SAMPLERS): positive
entries for log and sqrt, square matrices diagonally dominant (invertible, det > 0). A point where
the differences at neighbouring step sizes disagree with each other is too steep to judge and is
replaced by another.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .operators import REGISTRY, lookup, shape_size
from .ops import Node, dim_factors, dim_value, smaller_parts

SIZES = (3, 4, 5, 2, 6, 7)   # distinct sizes for distinct unknown dimensions catch transposition bugs


def evaluate(node: Node, env: dict[str, np.ndarray], bindings: dict[str, Node],
             memo: dict | None = None) -> np.ndarray:
    """Value of `node` as a 2-D array; `env` maps variable names to 2-D arrays."""
    memo = {} if memo is None else memo
    if node in memo:
        return memo[node]
    op = node.op
    if op == "ref":
        value = evaluate(bindings[str(node.value)], env, bindings, memo)
    elif op == "var":
        value = env[str(node.value)]
    else:
        value = _apply(node, [evaluate(a, env, bindings, memo) for a in node.args], env)
    memo[node] = value
    return value


def _apply(node: Node, args: list[np.ndarray], env: dict) -> np.ndarray:
    evaluator = lookup(node.op).evaluate
    if evaluator is None:
        raise NotImplementedError(f"no numeric evaluation for {node.op!r}")
    return evaluator(args, node, env.get("__dims__", {}))


def _converged(estimates: list[tuple[np.ndarray, float, float]]) -> bool:
    """Do central differences at two step sizes agree with each other (relative to themselves)?"""
    return any(float(np.max(np.abs(a - b)))
               / max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), fa, fb) < 1e-6
               for i, (a, _, fa) in enumerate(estimates) for (b, _, fb) in estimates[i + 1:])


def dimension_sizes(variables: dict[str, tuple], rng: np.random.Generator | None = None,
                    base: int = 0) -> dict[str, int]:
    """A size for each unknown dimension, distinct where possible."""
    sizes: dict[str, int] = {}
    derived = []
    for shape in variables.values():
        for d in shape:
            if isinstance(d, int) or d in sizes:
                continue
            if smaller_parts(d) is None and "*" not in d:
                sizes[d] = SIZES[(len(sizes) + base) % len(SIZES)]
            else:
                derived.append(d)
    # min(m,n), of the singular values of an m×n matrix: from m and n; rows(A)*rows(B) (a
    # Kronecker product's): from its factors
    for d in derived:
        for f in dim_factors(d):
            if not isinstance(f, int) and f not in sizes and smaller_parts(f) is None:
                sizes[f] = SIZES[(len(sizes) + base) % len(SIZES)]
        sizes[d] = dim_value(d, sizes)
    return sizes


# (centre, spread, diagonal shift per row) of the kinds of input drawn in turn: positive entries,
# so that log and sqrt are defined; square matrices diagonally dominant, so inv/det/logdet are; the
# last kind is small, for functions too steep or too large to evaluate well at entries near n.
SAMPLERS = ((1.0, 0.5, 1.0), (1.0, 0.9, 1.0), (0.2, 0.15, 0.0))


def sample_inputs(variables: dict[str, tuple], sizes: dict[str, int], rng: np.random.Generator,
                  centre: float = 1.0, spread: float = 0.5, shift: float = 1.0,
                  symmetric: set[str] = frozenset(),
                  domains: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Random 2-D inputs: entries in [centre - spread, centre + spread], square matrices plus
    (shift·n + 1 - shift)·I (diagonally dominant). `domains` names the variables an operator needs
    in a domain of its own (`variable_domains`): "spd" ones are X*X'/n + centre·I,
    "positive-spectrum" ones (sqrtm, logm) are shifted until their eigenvalues have real parts
    of at least centre."""
    env: dict[str, np.ndarray] = {}
    for name, shape in variables.items():
        r, c = (d if isinstance(d, int) else sizes[d] for d in shape)
        x = rng.uniform(centre - spread, centre + spread, size=(r, c))
        if r == c and r > 1:
            x = x + (shift * r + 1 - shift) * np.eye(r)
        domain = (domains or {}).get(name) if r == c else None
        if domain == "spd":
            x = x @ x.T / r + centre * np.eye(r)
        elif domain == "positive-spectrum":     # eigenvalues moved right of 0 by at least centre
            lowest = float(np.min(np.linalg.eigvals(x).real))
            x = x + (max(0.0, -lowest) + centre) * np.eye(r)
        if name in symmetric:
            x = (x + x.T) / 2
        env[name] = x
    return env


# the domains of registry rows (`Operator.domain`) that sampling draws from directly; the others
# hold at the diagonally dominant points sample_inputs draws anyway, or almost surely (full rank)
SAMPLED_DOMAINS = ("spd", "positive-spectrum")


def variable_domains(function: Node, bindings: dict[str, Node]) -> dict[str, str]:
    """The variables that are the operand of an operator whose row asks for a sampled domain
    (chol(S): S positive definite; logm(A): no eigenvalue of A on (-inf, 0]), with that domain."""
    found: dict[str, str] = {}
    for body in (function, *bindings.values()):
        for node in body.distinct():
            row = REGISTRY.get(node.op)
            if row is not None and row.domain in SAMPLED_DOMAINS and node.args:
                operand = node.args[0].args[0] if node.args[0].op == "transpose" \
                    else node.args[0]
                if operand.op == "var":
                    found[str(operand.value)] = row.domain
    return found


def to_user(x: np.ndarray, shape: tuple) -> np.ndarray | float:
    """2-D interpreter value → the calling convention of generated code (1-D vectors, floats)."""
    if shape == (1, 1):
        return float(x.reshape(()))
    if shape[1] == 1:
        return x[:, 0].copy()
    return x


def from_user(x, r: int, c: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=float), (r, c)) if np.ndim(x) == 0 \
        else np.asarray(x, dtype=float).reshape(r, c)


Directional = Callable[[dict, np.ndarray, tuple], "np.ndarray | tuple[np.ndarray, float]"]

# Smaller inputs, tried only when no point of SAMPLERS told a derivative from zero: deep networks
# of sigmoid or tanh saturate at entries near 1 (the gradient of 16 tanh layers is about 1e-28
# there), and are not saturated near 0.
SCALED_DOWN = ((0.02, 0.015, 0.0), (0.002, 0.0015, 0.0))

NO_FINITE_POINT = "no sampled point where the function and the result are finite"
NEGLIGIBLE = ("at every sampled point, small inputs included, the derivative and the result are "
              "both below what central differences resolve (1e-6 of the function's size: the "
              "function saturates or its gradient vanishes there), so a comparison would be of "
              "zero with zero")


def derivative_check(function: Node, bindings: dict[str, Node], variables: dict[str, tuple],
                     wrt: str, directional: Directional, trials: int = 3, seed: int = 0,
                     symmetric: set[str] = frozenset()) -> tuple[float, str]:
    """(largest relative error between an analytic directional derivative and central
    differences, "") — or (nan, why no point could be used).

    `function` is the expression whose derivative is checked, `directional(inputs, V, shape)` the
    claimed derivative along V at `inputs` (calling convention of generated code; `shape` the
    function's numeric shape there) — an array of that shape, or (array, magnitude) where magnitude
    bounds the terms it summed.

    A point counts only where it can tell a wrong derivative from a right one: the differences
    converge there, and the derivative or the result is above the differences' resolution
    (1e-6 of the function's size). Where both are below it — a saturated sigmoid, whose
    derivative is 1e-28 — any result "agrees", and the point is passed over; when no point of
    the usual kinds is left, smaller inputs are tried (SCALED_DOWN), and failing those the answer
    is nan with the reason.
    """
    rng = np.random.default_rng(seed)
    worst: dict[int, float] = {}     # per kind of input point: the largest error seen
    found = negligible = 0
    domains = variable_domains(function, bindings)
    point = _PointCheck(function, bindings, variables, wrt, directional, symmetric, domains)
    for trial in range(max(trials, len(SAMPLERS)) * 4):
        if found >= trials and len(worst) == len(SAMPLERS):
            break
        kind = trial % len(SAMPLERS)
        error = point.error(rng, SAMPLERS[kind], trial)
        if error is NEGLIGIBLE:
            negligible += 1
        elif error is not None:
            worst[kind] = max(worst.get(kind, 0.0), error)  # type: ignore[arg-type]
            found += 1
    if not worst and negligible:
        for i, sampler in enumerate(SCALED_DOWN):
            for trial in range(trials * 2):
                error = point.error(rng, sampler, trial)
                if error is not None and error is not NEGLIGIBLE:
                    worst[len(SAMPLERS) + i] = max(worst.get(len(SAMPLERS) + i, 0.0),
                                                   error)  # type: ignore[arg-type]
            if worst:
                break
    # A wrong derivative is wrong at every kind of point; a right one evaluated where its formula
    # loses precision (exp(exp(8)) cancelling against itself) is wrong at one kind only.
    if worst:
        return min(worst.values()), ""
    return float("nan"), NEGLIGIBLE if negligible else NO_FINITE_POINT


class _PointCheck:
    """The comparison at one random point of one kind (a SAMPLERS row)."""

    def __init__(self, function: Node, bindings: dict[str, Node], variables: dict[str, tuple],
                 wrt: str, directional: Directional, symmetric: set[str],
                 domains: dict[str, str]):
        self.function, self.bindings, self.variables = function, bindings, variables
        self.wrt, self.directional, self.symmetric = wrt, directional, symmetric
        self.domains = domains

    def error(self, rng: np.random.Generator, sampler: tuple[float, float, float],
              trial: int) -> float | str | None:
        """The relative error at a new point; NEGLIGIBLE where the point cannot tell (both
        sides below the resolution); None where it cannot be used (not finite, too steep)."""
        wrt, variables = self.wrt, self.variables
        sizes = dimension_sizes(variables, base=trial)
        env = sample_inputs(variables, sizes, rng, *sampler, symmetric=self.symmetric,
                            domains=self.domains)
        env["__dims__"] = sizes  # type: ignore[assignment]
        r, c = env[wrt].shape
        direction = rng.standard_normal((r, c))
        if wrt in self.symmetric:
            direction = (direction + direction.T) / 2
        user = {n: to_user(env[n], variables[n]) for n in variables}
        fr, fc = shape_size(self.function, sizes)
        try:
            with np.errstate(all="ignore"):
                claimed = self.directional(user, direction, (fr, fc))
        except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError):
            return None    # a singular matrix, a division by zero, an overflow here: try another
        claimed, magnitude = claimed if isinstance(claimed, tuple) else (claimed, 0.0)
        analytic = from_user(claimed, fr, fc)
        if not np.all(np.isfinite(analytic)):
            return None
        estimates = self._estimates(env, direction, analytic, magnitude)
        if not estimates:
            return None
        error = min(float(np.max(np.abs(n - analytic))) / size for n, size, _ in estimates)
        if all(size == floor for _, size, floor in estimates):
            return NEGLIGIBLE
        if error > 1e-7 and not _converged(estimates):
            return None    # differences still move with the step: too steep here to judge
        return error

    def _estimates(self, env: dict, direction: np.ndarray, analytic: np.ndarray,
                   magnitude: float) -> list[tuple[np.ndarray, float, float]]:
        """(central differences, the size they are compared at, the resolution floor) at
        several steps: truncation error shrinks with h, rounding error grows; a right derivative
        agrees at one of them, a wrong one at none. Central differences at several steps, then
        the fourth-order five-point stencil (-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h))/12h for
        steep functions."""
        wrt = self.wrt
        scale = max(1.0, float(np.max(np.abs(env[wrt]))))

        def f_at(x: np.ndarray) -> np.ndarray:
            shifted = dict(env)
            shifted[wrt] = x
            with np.errstate(all="ignore"):
                return evaluate(self.function, shifted, self.bindings)

        estimates = []
        for h, order in ((1e-5, 2), (1e-6, 2), (1e-4, 2), (1e-7, 2), (1e-3, 4), (1e-4, 4)):
            h *= scale
            try:
                plus, minus = f_at(env[wrt] + h * direction), f_at(env[wrt] - h * direction)
            except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError):
                continue    # outside the function's domain here (a singular matrix)
            if not (np.all(np.isfinite(plus)) and np.all(np.isfinite(minus))):
                continue
            numeric = (plus - minus) / (2 * h)
            if order == 4:
                try:
                    plus2, minus2 = (f_at(env[wrt] + 2 * h * direction),
                                     f_at(env[wrt] - 2 * h * direction))
                except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError):
                    continue
                numeric = (4 * numeric - (plus2 - minus2) / (4 * h)) / 3
            # rounding makes central differences uncertain by about eps·|f|/h: below that scale
            # a derivative is indistinguishable from zero
            floor = 1e-6 * max(1.0, float(np.max(np.abs(plus))), float(np.max(np.abs(minus))))
            size = max(float(np.max(np.abs(numeric))), float(np.max(np.abs(analytic))),
                       magnitude, floor)
            estimates.append((numeric, size, floor))
            if float(np.max(np.abs(numeric - analytic))) / size < 1e-7:
                break
        return estimates
