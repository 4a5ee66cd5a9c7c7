#!/usr/bin/env python
"""The matcalc benchmark suite (issue 5, item 1).

    python bench/run.py [--quick] [--out bench/results]

For every problem it times, in one run and on the same arrays: matcalc's generated NumPy code and
its fused numba code (d.numba(), where numba is installed), the hand-written NumPy closed form, jax.jit(grad / hessian), torch autograd, HIPS autograd, and a
bandwidth floor (np.copyto of an array the size of the result into a preallocated buffer). Every
framework's output is checked against the hand-written one (np.allclose) before it is timed; a
mismatch is printed loudly and reported instead of a ratio. Frameworks that are not installed are
skipped and the table says "not installed". It also times matcalc's derivation of each expression.

It writes <out>.md (Markdown tables) and <out>.json (every measurement, the machine, the versions).
Benchmarks are not tests: nothing here asserts a timing. See bench/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import threads  # noqa: F401  (before NumPy: --single-thread sets one thread per library)

# isort: split

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # benchmark the checkout's matcalc, not an installed copy

import matcalc

FRAMEWORKS = ("jax", "torch", "autograd")
COLUMNS = ("matcalc", "numba", "jax", "torch", "autograd", "floor")
HEADINGS = {"hand": "hand-written", "matcalc": "matcalc", "numba": "matcalc numba",
            "jax": "jax.jit", "torch": "torch", "autograd": "HIPS autograd", "floor": "copy floor"}
RTOL = 1e-6                            # np.allclose tolerance against the hand-written result
# Each timed call is preceded by an untimed call of the same implementation: PyTorch's OpenMP and
# JAX's Eigen worker threads spin-wait for a while after a call, taking a core from whatever runs
# next (the hand-written seed at 1000×1000 took 2.8 ms right after a PyTorch call, 0.8 ms
# otherwise), and a pause instead would measure their wake-up (PyTorch 8 ms instead of 1.9 ms).
# The timed call is the second of two back to back, as in a loop that computes the derivative.

# -- the expressions matcalc derives ---------------------------------------------------------------
SEED = {"expr": "w'*w where w = sigmoid(X'*a)", "wrt": "X",
        "shapes": {"X": ("m", "n"), "a": ("m",)}}
TRACE = {"expr": "tr(X'*A*X)", "wrt": "X"}
NET = {"expr": "sum((W2*tanh(W1*x) - y).^2)", "wrt": ["W1", "W2"]}
LOGREG = {"expr": "sum(softplus(-y.*(X*w)))", "wrt": "w", "shapes": {"X": ("N", "d")},
          "hessian": True}
_KINDS = ["tr(A{k}*X)", "a{k}'*X*b{k}", "sum(sigmoid(X*b{k}))", "a{k}'*tanh(X*b{k})"]
FORTY = {"expr": " + ".join(_KINDS[k % 4].format(k=k) for k in range(1, 41)), "wrt": "X"}
EXPRESSIONS = {"seed": SEED, "trace": TRACE, "net": NET, "logreg": LOGREG, "forty": FORTY}
EXPRESSION_LABELS = {"seed": "seed ∂(w'*w)/∂X", "trace": "∂tr(X'*A*X)/∂X",
                     "net": "two-layer network, ∂/∂W1 and ∂/∂W2",
                     "logreg": "logistic-regression Hessian ∂²/∂w²",
                     "forty": "40-term sum (bench-defined, see JSON)"}

# -- sizes and repeats -----------------------------------------------------------------------------
# Repeats are fixed per row (rounds in which every implementation runs once, interleaved);
# `budget` (seconds) caps a single cell: it leaves the rounds once its runs add up to more than the
# budget (at least one run; the count is in the JSON, ¹ in the table). The check call is the
# warm-up; a second warm-up call is made when the first took less than the budget.
FULL = SimpleNamespace(
    seed=[((1000, 1000), 40, True), ((4000, 4000), 11, True), ((100000, 100), 15, False),
          ((100, 100000), 15, False)],
    trace=[(2000, 5)],
    net=[((1000, 1000), (100, 1000), 30)],
    logreg=[((10000, 100), 20), ((10000, 1000), 5), ((2000, 2000), 5)],
    derive_repeats=5, cli_repeats=3, budget=4.0)
QUICK = SimpleNamespace(
    seed=[((200, 200), 5, True), ((800, 800), 3, True), ((5000, 50), 3, False),
          ((50, 5000), 3, False)],
    trace=[(300, 3)],
    net=[((200, 200), (50, 200), 5)],
    logreg=[((1000, 50), 3), ((1000, 200), 3), ((300, 300), 3)],
    derive_repeats=2, cli_repeats=1, budget=0.5)


# -- frameworks ------------------------------------------------------------------------------------

def load_frameworks() -> dict[str, Any]:
    """{name: namespace of modules, or the string saying why it is unavailable}."""
    fw: dict[str, Any] = {}
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        fw["jax"] = SimpleNamespace(jax=jax, jnp=jnp)
    except ImportError:
        fw["jax"] = "not installed"
    try:
        import torch
        import torch.func
        fw["torch"] = SimpleNamespace(torch=torch)
    except ImportError:
        fw["torch"] = "not installed"
    try:
        import autograd
        import autograd.numpy as anp
        fw["autograd"] = SimpleNamespace(autograd=autograd, anp=anp)
    except ImportError:
        fw["autograd"] = "not installed"
    return fw


def _jax_out(x):
    return x.block_until_ready() if not isinstance(x, tuple) else tuple(
        y.block_until_ready() for y in x)


def _to_numpy(x):
    if isinstance(x, (tuple, list)):
        return tuple(_to_numpy(y) for y in x)
    if hasattr(x, "detach"):                 # torch
        return x.detach().numpy()
    return np.asarray(x)


# -- one cell --------------------------------------------------------------------------------------

@dataclass
class Impl:
    """One implementation of one problem: a zero-argument callable to time."""
    thunk: Callable[[], Any] | None
    api: str = ""
    status: str = "ok"           # ok | not installed | error: … | not supported
    checked: bool = True         # compare with the hand-written result before timing


@dataclass
class Case:
    problem: str                 # key of EXPRESSIONS
    label: str
    shape: str
    repeats: int
    hand: Impl
    impls: dict[str, Impl]
    refs: dict[str, Impl] = field(default_factory=dict)   # reference forms (own rows)
    sizes: dict[str, Any] = field(default_factory=dict)


# The BLAS call a closed form cannot avoid, timed alone on an operand made beforehand: the one
# product (A + A')*X, the one Gram product W'*W (syrk). A matcalc row near it has nothing left to
# fuse or skip. (The seed has none: its floor is the copy floor, one read of X and one write.)
KERNEL_FLOOR = "operation floor: its one BLAS call alone"


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _fw_impl(fw: dict, name: str, build: Callable[[Any], tuple[Callable, str]]) -> Impl:
    if isinstance(fw[name], str):
        return Impl(None, status=fw[name])
    try:
        thunk, api = build(fw[name])
    except Exception as exc:  # noqa: BLE001 — a framework that cannot build this problem
        return Impl(None, status=f"error: {type(exc).__name__}: {exc}")
    return Impl(thunk, api)


def numba_impl(derivation, arrays: dict[str, Any]) -> Impl:
    """matcalc's fused backend (d.numba()): compiled on the check call, loaded from disk after."""
    try:
        f = derivation.numba()
    except ImportError:
        return Impl(None, status="not installed")
    return Impl(lambda: f(**arrays), "Derivation.numba()")


def generated_code_refs(fw: dict, derivation, arrays: dict[str, Any]) -> dict[str, Impl]:
    """Reference rows for matcalc's generated JAX and PyTorch code (d.jax(), d.torch()): the closed
    form inside the framework, against the framework's own autodiff in the main table."""
    def build_jax(ns):
        f = derivation.jax()
        args = {k: ns.jnp.asarray(v) for k, v in arrays.items()}
        return (lambda: _jax_out(f(**args))), "Derivation.jax()"

    def build_torch(ns):
        f = derivation.torch()
        args = {k: ns.torch.from_numpy(v) for k, v in arrays.items()}
        return (lambda: f(**args)), "Derivation.torch()"

    return {"matcalc's JAX code, jit (d.jax())": _fw_impl(fw, "jax", build_jax),
            "matcalc's PyTorch code (d.torch())": _fw_impl(fw, "torch", build_torch)}


# -- the problems ----------------------------------------------------------------------------------

def seed_case(m, n, repeats, with_ad, rng, fw, derived) -> Case:
    X = rng.standard_normal((m, n))
    a = rng.standard_normal(m) / np.sqrt(m)      # X'*a ~ N(0, 1): sigmoid not saturated

    def hand():
        w = _sigmoid(X.T @ a)
        return np.outer(a, 2 * (w * w - w * w * w))

    G = np.empty((m, n))

    def hand_out():
        w = _sigmoid(X.T @ a)
        np.multiply(a[:, None], (2 * (w * w - w * w * w))[None, :], out=G)
        return G

    def entrywise_ad():
        w = _sigmoid(X.T @ a)
        return (a[:, None] * np.ones((m, n))) @ np.diag(2 * w * (w * (1 - w)))

    grad = derived["seed"].numpy()
    impls = {"matcalc": Impl(lambda: grad(X=X, a=a), "Derivation.numpy()"),
             "numba": numba_impl(derived["seed"], {"X": X, "a": a})}

    def build_jax(ns):
        jax, jnp = ns.jax, ns.jnp
        def f(X, a):
            w = jax.nn.sigmoid(X.T @ a)
            return w @ w
        g = jax.jit(jax.grad(f))
        Xj, aj = jnp.asarray(X), jnp.asarray(a)
        return (lambda: _jax_out(g(Xj, aj))), "jax.jit(jax.grad(f))"

    def build_torch(ns):
        torch = ns.torch
        Xt = torch.from_numpy(X).requires_grad_(True)
        at = torch.from_numpy(a)

        def run():
            w = torch.sigmoid(Xt.T @ at)
            return torch.autograd.grad(w @ w, Xt)[0]
        return run, "torch.autograd.grad"

    def build_autograd(ns):
        anp = ns.anp
        def f(X):
            w = 1.0 / (1.0 + anp.exp(-(X.T @ a)))
            return anp.dot(w, w)
        g = ns.autograd.grad(f)
        return (lambda: g(X)), "autograd.grad"

    impls["jax"] = _fw_impl(fw, "jax", build_jax)
    impls["torch"] = _fw_impl(fw, "torch", build_torch)
    impls["autograd"] = _fw_impl(fw, "autograd", build_autograd)
    buf = np.empty_like(X)
    impls["floor"] = Impl(lambda: np.copyto(buf, X), "np.copyto(buf, X)", checked=False)

    refs = {"hand-written, out= (preallocated G)": Impl(hand_out, "np.multiply(..., out=G)")}
    Gm = np.empty((m, n))
    refs["matcalc, out="] = Impl(lambda: grad.__wrapped__(X, a, out=Gm), "out=")
    Gn = np.empty((m, n))
    fused = numba_impl(derived["seed"], {"X": X, "a": a, "out": Gn})
    refs["matcalc numba, out="] = fused if fused.thunk is None else Impl(fused.thunk, "out=")
    if with_ad:
        refs["entry-wise A·D form"] = Impl(entrywise_ad, "(a 1ᵀ) @ diag(2σσ')")
    refs.update(generated_code_refs(fw, derived["seed"], {"X": X, "a": a}))
    return Case("seed", "seed ∂(w'*w)/∂X", f"{m}×{n}", repeats, Impl(hand, "np.outer"), impls,
                refs, {"m": m, "n": n})


def trace_case(n, repeats, rng, fw, derived) -> Case:
    X = rng.standard_normal((n, n))
    A = rng.standard_normal((n, n))

    def hand():
        return (A + A.T) @ X

    grad = derived["trace"].numpy()
    impls = {"matcalc": Impl(lambda: grad(X=X, A=A), "Derivation.numpy()"),
             "numba": numba_impl(derived["trace"], {"X": X, "A": A})}

    def build_jax(ns):
        jax, jnp = ns.jax, ns.jnp
        f = jax.jit(jax.grad(lambda X, A: jnp.trace(X.T @ A @ X)))
        Xj, Aj = jnp.asarray(X), jnp.asarray(A)
        return (lambda: _jax_out(f(Xj, Aj))), "jax.jit(jax.grad(f))"

    def build_torch(ns):
        torch = ns.torch
        Xt = torch.from_numpy(X).requires_grad_(True)
        At = torch.from_numpy(A)
        return (lambda: torch.autograd.grad(torch.trace(Xt.T @ At @ Xt), Xt)[0]), \
            "torch.autograd.grad"

    def build_autograd(ns):
        anp = ns.anp
        g = ns.autograd.grad(lambda X: anp.trace(anp.dot(anp.dot(X.T, A), X)))
        return (lambda: g(X)), "autograd.grad"

    impls["jax"] = _fw_impl(fw, "jax", build_jax)
    impls["torch"] = _fw_impl(fw, "torch", build_torch)
    impls["autograd"] = _fw_impl(fw, "autograd", build_autograd)
    buf = np.empty_like(X)
    impls["floor"] = Impl(lambda: np.copyto(buf, X), "np.copyto(buf, X)", checked=False)
    refs = {KERNEL_FLOOR: Impl(lambda S=A + A.T: S @ X, "S @ X, S = A + A.T made beforehand",
                               checked=False)}
    refs.update(generated_code_refs(fw, derived["trace"], {"X": X, "A": A}))
    return Case("trace", "∂tr(X'*A*X)/∂X", f"{n}×{n}", repeats, Impl(hand, "(A + A.T) @ X"),
                impls, refs, {"n": n})


def net_case(s1, s2, repeats, rng, fw, derived) -> Case:
    (h, d), (o, _) = s1, s2
    W1 = rng.standard_normal((h, d)) / np.sqrt(d)
    W2 = rng.standard_normal((o, h)) / np.sqrt(h)
    x = rng.standard_normal(d)
    y = rng.standard_normal(o)

    def hand():
        t = np.tanh(W1 @ x)
        r2 = 2 * (W2 @ t - y)
        return np.outer((1 - t * t) * (W2.T @ r2), x), np.outer(r2, t)

    grads = derived["net"].numpy()
    impls = {"matcalc": Impl(lambda: grads(W1=W1, W2=W2, x=x, y=y), "DerivationSet.numpy()"),
             "numba": numba_impl(derived["net"], {"W1": W1, "W2": W2, "x": x, "y": y})}

    def build_jax(ns):
        jax, jnp = ns.jax, ns.jnp

        def f(W1, W2, x, y):
            r = W2 @ jnp.tanh(W1 @ x) - y
            return jnp.sum(r * r)
        g = jax.jit(jax.grad(f, argnums=(0, 1)))
        args = [jnp.asarray(v) for v in (W1, W2, x, y)]
        return (lambda: _jax_out(g(*args))), "jax.jit(jax.grad(f, argnums=(0, 1)))"

    def build_torch(ns):
        torch = ns.torch
        W1t = torch.from_numpy(W1).requires_grad_(True)
        W2t = torch.from_numpy(W2).requires_grad_(True)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def run():
            r = W2t @ torch.tanh(W1t @ xt) - yt
            return torch.autograd.grad(torch.sum(r * r), (W1t, W2t))
        return run, "torch.autograd.grad"

    def build_autograd(ns):
        anp = ns.anp

        def f(params):
            r = anp.dot(params[1], anp.tanh(anp.dot(params[0], x))) - y
            return anp.sum(r * r)
        g = ns.autograd.grad(f)
        return (lambda: g((W1, W2))), "autograd.grad over (W1, W2)"

    impls["jax"] = _fw_impl(fw, "jax", build_jax)
    impls["torch"] = _fw_impl(fw, "torch", build_torch)
    impls["autograd"] = _fw_impl(fw, "autograd", build_autograd)
    b1, b2 = np.empty_like(W1), np.empty_like(W2)
    impls["floor"] = Impl(lambda: (np.copyto(b1, W1), np.copyto(b2, W2)),
                          "np.copyto of W1 and W2", checked=False)
    refs = generated_code_refs(fw, derived["net"], {"W1": W1, "W2": W2, "x": x, "y": y})
    return Case("net", "two-layer net ∂/∂(W1, W2)", f"W1 {h}×{d}, W2 {o}×{h}", repeats,
                Impl(hand, "two np.outer"), impls, refs, {"W1": [h, d], "W2": [o, h]})


def logreg_case(N, d, repeats, rng, fw, derived) -> Case:
    X = rng.standard_normal((N, d))
    w = rng.standard_normal(d) / np.sqrt(d)      # X*w ~ N(0, 1)
    y = rng.choice([-1.0, 1.0], N)

    def hand():
        p = _sigmoid(-y * (X @ w))
        s = p * (1 - p) * y * y
        return X.T @ (s[:, None] * X)

    hess = derived["logreg"].numpy()
    impls = {"matcalc": Impl(lambda: hess(X=X, w=w, y=y), "Derivation.numpy()"),
             "numba": numba_impl(derived["logreg"], {"X": X, "w": w, "y": y})}

    def build_jax(ns):
        jax, jnp = ns.jax, ns.jnp
        h = jax.jit(jax.hessian(lambda w, X, y: jnp.sum(jax.nn.softplus(-y * (X @ w)))))
        args = [jnp.asarray(v) for v in (w, X, y)]
        return (lambda: _jax_out(h(*args))), "jax.jit(jax.hessian(f))"

    def build_torch(ns):
        torch = ns.torch
        Xt, yt, wt = (torch.from_numpy(v) for v in (X, y, w))
        def f(w):
            return torch.nn.functional.softplus(-yt * (Xt @ w)).sum()
        h = torch.func.jacrev(torch.func.jacrev(f))
        return (lambda: h(wt)), "torch.func.jacrev(torch.func.jacrev(f))"

    def build_autograd(ns):
        anp = ns.anp
        h = ns.autograd.hessian(lambda w: anp.sum(anp.logaddexp(0.0, -y * anp.dot(X, w))))
        return (lambda: h(w)), "autograd.hessian"

    impls["jax"] = _fw_impl(fw, "jax", build_jax)
    impls["torch"] = _fw_impl(fw, "torch", build_torch)
    impls["autograd"] = _fw_impl(fw, "autograd", build_autograd)
    src = np.empty((d, d))
    src[:] = rng.standard_normal((d, d))
    buf = np.empty((d, d))
    impls["floor"] = Impl(lambda: np.copyto(buf, src), "np.copyto of a d×d array", checked=False)

    W = np.sqrt(rng.random(N))[:, None] * X
    refs = {KERNEL_FLOOR: Impl(lambda: W.T @ W, "W.T @ W (BLAS syrk), W made beforehand",
                               checked=False)}
    try:
        from scipy.linalg.blas import dsyrk

        def hand_syrk():
            p = _sigmoid(-y * (X @ w))
            Z = np.sqrt(p * (1 - p) * y * y)[:, None] * X
            U = dsyrk(1.0, Z.T)                  # Z' Z, upper triangle only (Z.T is F-ordered)
            iu = np.tril_indices(d, -1)
            U[iu] = U.T[iu]
            return U
        refs["hand-written, one triangle (scipy dsyrk)"] = Impl(hand_syrk, "dsyrk + mirror")
    except ImportError:
        refs["hand-written, one triangle (scipy dsyrk)"] = Impl(
            None, status="not installed (scipy)")
    refs.update(generated_code_refs(fw, derived["logreg"], {"X": X, "w": w, "y": y}))
    return Case("logreg", "logistic-regression Hessian", f"{N}×{d}", repeats,
                Impl(hand, "X.T @ (s[:, None] * X)"), impls, refs, {"N": N, "d": d})


# -- measuring -------------------------------------------------------------------------------------

def compare(out, ref) -> tuple[bool, float, str]:
    """(allclose, largest error relative to the largest entry of ref, note)."""
    outs = out if isinstance(out, tuple) else (out,)
    refs = ref if isinstance(ref, tuple) else (ref,)
    if len(outs) != len(refs):
        return False, float("inf"), f"{len(outs)} results, expected {len(refs)}"
    ok, worst = True, 0.0
    for o, r in zip(outs, refs):
        o = np.asarray(o)
        if o.shape != r.shape:
            return False, float("inf"), f"shape {o.shape}, expected {r.shape}"
        if o.dtype != np.float64:
            return False, float("inf"), f"dtype {o.dtype}, expected float64"
        scale = max(float(np.max(np.abs(r))), np.finfo(float).tiny)
        worst = max(worst, float(np.max(np.abs(o - r))) / scale)
        ok = ok and bool(np.allclose(o, r, rtol=RTOL, atol=RTOL * 1e-3 * scale))
    return ok, worst, ""


def time_calls(fn: Callable, repeats: int, budget: float = float("inf")) -> list[float]:
    """`repeats` timings of fn(), garbage collector off; stops early once `budget` s are spent."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        times: list[float] = []
        while len(times) < repeats and sum(times) < budget:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return times


def _fail(row: dict, name: str, where: str, exc: Exception) -> dict:
    row["status"] = f"error: {type(exc).__name__}: {exc}"
    print(f"\n!!!!!!!! ERROR: {name} on {where}: {row['status']}\n", file=sys.stderr, flush=True)
    return row


def prepare(name: str, impl: Impl, ref, budget: float, where: str) -> dict:
    """Check against ref (the first call doubles as warm-up), then warm up once more if cheap."""
    row: dict[str, Any] = {"api": impl.api, "status": impl.status}
    if impl.thunk is None:
        return row
    try:
        t0 = time.perf_counter()
        out = impl.thunk()
        first = time.perf_counter() - t0
        row["first_call_ms"] = first * 1e3
        if impl.checked:
            ok, err, note = compare(_to_numpy(out), ref)
            row["max_rel_err"] = err
            if not ok:
                row["status"] = "MISMATCH"
                row["mismatch"] = note or f"max relative error {err:.2e} (rtol {RTOL})"
                print(f"\n!!!!!!!! MISMATCH: {name} on {where}: {row['mismatch']} !!!!!!!!\n",
                      file=sys.stderr, flush=True)
                return row
        del out
        if first < budget:
            impl.thunk()                       # warm-up (the first call may have compiled)
    except Exception as exc:  # noqa: BLE001 — reported in the table, the run goes on
        return _fail(row, name, where, exc)
    return row


def run_case(case: Case, budget: float) -> dict:
    """Check and warm up every implementation, then time them in interleaved rounds.

    Round r calls each implementation once (the order rotates from round to round), so that a
    change in the machine's load during the row affects every column alike; an implementation
    leaves the rounds once its timed runs add up to more than `budget` seconds. Each timed call
    follows an untimed one of the same implementation (see the note at the top).
    """
    where = f"{case.label} {case.shape}"
    print(f"  {where}: check", end="", flush=True)
    ref = case.hand.thunk()
    ref = tuple(np.array(r, copy=True) for r in ref) if isinstance(ref, tuple) else np.array(ref)
    entries = [("hand", "hand-written", case.hand)]
    entries += [("impls", name, impl) for name, impl in case.impls.items()]
    entries += [("refs", name, impl) for name, impl in case.refs.items()]
    rows = {}
    for group, name, impl in entries:
        print(f", {name}", end="", flush=True)
        rows[group, name] = prepare(name, impl, ref, budget, where)
    print("; timing", end="", flush=True)
    live = [(g, n, i) for g, n, i in entries if rows[g, n]["status"] == "ok"]
    times: dict[tuple, list[float]] = {(g, n): [] for g, n, _ in live}
    enabled = gc.isenabled()
    try:
        for r in range(case.repeats):
            todo = [e for e in live if sum(times[e[0], e[1]]) < budget]
            if not todo:
                break
            k = r % len(todo)
            gc.collect()
            gc.disable()
            for group, name, impl in todo[k:] + todo[:k]:
                try:
                    impl.thunk()                # untimed: see the note at the top
                    t0 = time.perf_counter()
                    impl.thunk()
                    times[group, name].append(time.perf_counter() - t0)
                except Exception as exc:  # noqa: BLE001
                    _fail(rows[group, name], name, where, exc)
                    live.remove((group, name, impl))
            if enabled:
                gc.enable()
    finally:
        if enabled:
            gc.enable()
    for (group, name), ts in times.items():
        if rows[group, name]["status"] == "ok" and ts:
            rows[group, name].update(repeats=len(ts), times_ms=[t * 1e3 for t in ts],
                                     median_ms=statistics.median(ts) * 1e3)
    result = {"problem": case.problem, "label": case.label, "shape": case.shape,
              "sizes": case.sizes, "repeats": case.repeats, "hand": rows["hand", "hand-written"],
              "impls": {n: rows["impls", n] for n in case.impls},
              "refs": {n: rows["refs", n] for n in case.refs}}
    base = result["hand"].get("median_ms")
    floor = result["impls"]["floor"].get("median_ms")
    for row in list(result["impls"].values()) + list(result["refs"].values()):
        if base and "median_ms" in row:
            row["ratio_to_hand"] = row["median_ms"] / base
        if floor and "median_ms" in row:
            row["ratio_to_floor"] = row["median_ms"] / floor
    print(flush=True)
    return result


# -- derivation time -------------------------------------------------------------------------------

def _derive(spec: dict):
    kwargs = {k: v for k, v in spec.items() if k in ("wrt", "shapes")}
    if spec.get("hessian"):
        return matcalc.hessian(spec["expr"], **kwargs)
    return matcalc.derive(spec["expr"], **kwargs)


FRESH = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
spec = json.loads(sys.argv[2])
t0 = time.perf_counter()
import matcalc
t1 = time.perf_counter()
kw = {k: v for k, v in spec.items() if k in ("wrt", "shapes")}
(matcalc.hessian if spec.get("hessian") else matcalc.derive)(spec["expr"], **kw)
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_derive_ms": (t2 - t1) * 1e3}))
"""


def derivation_times(repeats: int) -> dict:
    out = {}
    for key, spec in EXPRESSIONS.items():
        print(f"  derive {key}", flush=True)
        row: dict[str, Any] = {"expr": spec["expr"], "wrt": spec["wrt"],
                               "shapes": spec.get("shapes"), "hessian": bool(spec.get("hessian"))}
        try:
            fresh = subprocess.run([sys.executable, "-c", FRESH, str(ROOT), json.dumps(spec)],
                                   capture_output=True, text=True, check=True, timeout=600)
            row.update(json.loads(fresh.stdout.strip().splitlines()[-1]))
        except Exception as exc:  # noqa: BLE001
            row["fresh_error"] = str(getattr(exc, "stderr", "") or exc)[-500:]
        try:
            _derive(spec)                                    # warm-up
            times = time_calls(lambda spec=spec: _derive(spec), repeats)
            row.update(warm_median_ms=statistics.median(times) * 1e3,
                       times_ms=[t * 1e3 for t in times], repeats=repeats)
        except Exception as exc:  # noqa: BLE001
            row["error"] = f"{type(exc).__name__}: {exc}"
        out[key] = row
    return out


def cli_times(repeats: int) -> dict:
    """The whole `matcalc derive … --steps` process against `python -c "import sympy, numpy"`."""
    seed = [sys.executable, "cli.py", "derive", SEED["expr"], "--wrt", "X", "--shape", "X=m,n",
            "--shape", "a=m", "--steps"]
    base = [sys.executable, "-c", "import sympy, numpy"]

    def run(cmd):
        times = []
        for _ in range(repeats + 1):                      # the first run warms the disk cache
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True, timeout=600)
            times.append(time.perf_counter() - t0)
        return statistics.median(times[1:]) * 1e3
    print("  CLI", flush=True)
    try:
        cli, imp = run(seed), run(base)
    except Exception as exc:  # noqa: BLE001
        return {"error": str(exc)}
    return {"command": "python cli.py derive \"" + SEED["expr"] + "\" --wrt X --shape X=m,n "
                       "--shape a=m --steps", "cli_ms": cli, "import_sympy_numpy_ms": imp,
            "ratio": cli / imp, "repeats": repeats}


# -- the machine -----------------------------------------------------------------------------------

def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine(fw: dict) -> dict:
    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 2**20:.1f} GiB"
    info: dict[str, Any] = {
        "cpu": cpu or platform.processor() or None,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {"numpy": np.__version__, "scipy": _version("scipy"),
                     "matcalc": matcalc.__version__, "sympy": _version("sympy"),
                     "jax": _version("jax"), "jaxlib": _version("jaxlib"),
                     "torch": _version("torch"), "autograd": _version("autograd"),
                     "numba": _version("numba")},
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "XLA_")) and k != "OPENBLAS_VERBOSE"},
    }
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=False,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "matcalc", "rules"],
                               cwd=ROOT, check=False, capture_output=True, text=True).stdout.strip()
        info["matcalc_commit"] = commit + (" (matcalc/ or rules/ modified)" if dirty else "")
    if not isinstance(fw.get("torch"), str):
        info["torch_threads"] = fw["torch"].torch.get_num_threads()
    if not isinstance(fw.get("jax"), str):
        with contextlib.suppress(Exception):
            info["jax_devices"] = [str(d) for d in fw["jax"].jax.devices()]
    try:
        import threadpoolctl
        info["blas"] = [{k: p.get(k) for k in ("user_api", "internal_api", "version",
                                                "num_threads", "threading_layer", "architecture")}
                        for p in threadpoolctl.threadpool_info()]
        info["blas_source"] = "threadpoolctl"
    except ImportError:
        try:
            deps = np.show_config(mode="dicts")["Build Dependencies"]
            info["blas"] = [{x: deps[k].get(x) for x in ("name", "version",
                                                         "openblas configuration")}
                            for k in ("blas", "lapack") if k in deps]
        except Exception:  # noqa: BLE001 — older NumPy: the printed form
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                np.show_config()
            info["blas"] = buf.getvalue()
        info["blas_source"] = "numpy.show_config"
    return info


def machine_lines(m: dict) -> list[str]:
    v = m["versions"]
    blas = m.get("blas")
    if isinstance(blas, list):
        blas_text = "; ".join(", ".join(f"{k}={x}" for k, x in b.items() if x is not None)
                              for b in blas)
    else:
        blas_text = str(blas).strip().replace("\n", " ")[:300]
    lines = [
        f"- CPU: {m.get('cpu')}, {m.get('cores')} cores ({m.get('usable_cores')} usable), "
        f"memory {m.get('memory')}, no GPU used" if not any(
            "gpu" in d.lower() or "cuda" in d.lower() for d in m.get("jax_devices", []))
        else f"- CPU: {m.get('cpu')}, {m.get('cores')} cores, devices {m.get('jax_devices')}",
        f"- {m['platform']}, Python {m['python']}",
        "- " + ", ".join(f"{k} {x}" for k, x in v.items() if x) + (
            f"; torch threads {m['torch_threads']}" if "torch_threads" in m else ""),
        f"- BLAS ({m.get('blas_source')}): {blas_text}",
    ]
    if m.get("env"):
        lines.append("- environment: " + ", ".join(f"{k}={x}" for k, x in m["env"].items()))
    if m.get("matcalc_commit"):
        lines.append(f"- matcalc at commit {m['matcalc_commit']}")
    if m.get("loadavg"):
        lines.append(f"- load average (1 min) at start / end: {m['loadavg'][0]:.2f} / "
                     f"{m['loadavg'][1]:.2f}")
    return lines


# -- targets (issue 5) -----------------------------------------------------------------------------

def _r(row: dict, key: str = "ratio_to_hand") -> float | None:
    return row.get(key) if row.get("status") == "ok" else None


def targets(cases: list[dict], derivations: dict, cli: dict) -> list[dict]:
    out = []

    def add(group, text, values, ok, note=""):
        out.append({"group": group, "target": text, "measured": values, "met": ok, "note": note})

    def by(problem):
        return [c for c in cases if c["problem"] == problem]

    def fmt(x, suffix="×"):
        return "—" if x is None else f"{x:.2f}{suffix}"

    def per_shape(cases, values):
        return ", ".join(f"{c['shape']}: {fmt(v)}" for c, v in zip(cases, values))

    def speedup(c, other):
        a, b = c["impls"][other], c["impls"]["matcalc"]
        if a.get("status") != "ok" or b.get("status") != "ok":
            return None
        return a["median_ms"] / b["median_ms"]

    def verdict(values, test):
        vals = [v for v in values if v is not None]
        return None if len(vals) < len(values) or not vals else all(test(v) for v in vals)

    seed = by("seed")
    if seed:
        vals = [_r(c["impls"]["matcalc"]) for c in seed]
        add("seed", "generated code ≤ 1.0× hand-written np.outer at every shape",
            per_shape(seed, vals),
            verdict(vals, lambda v: v <= 1.0))
        vals = [_r(c["refs"]["matcalc, out="], "ratio_to_floor") for c in seed]
        add("seed", "≤ 1.6× the copy floor with out=", per_shape(seed, vals),
            verdict(vals, lambda v: v <= 1.6))
        square = [c for c in seed if c["sizes"]["m"] == c["sizes"]["n"]]
        vals = [speedup(c, "jax") for c in square]
        add("seed", "≥ 2× faster than jax.jit(grad) at the square shapes "
            "(jax.jit time / matcalc time)",
            per_shape(square, vals),
            verdict(vals, lambda v: v >= 2.0))
    lr = by("logreg")
    if lr:
        vals = [_r(c["impls"]["matcalc"]) for c in lr]
        add("logreg", "generated code ≤ 1.1× hand-written",
            per_shape(lr, vals),
            verdict(vals, lambda v: v <= 1.1))
        vals = [speedup(c, "jax") for c in lr]
        add("logreg", "≥ 3× faster than jax.jit(hessian) (jax.jit time / matcalc time)",
            per_shape(lr, vals),
            verdict(vals, lambda v: v >= 3.0))
        syrk = []
        for c in lr:
            j, s = c["impls"]["jax"], c["refs"].get("hand-written, one triangle (scipy dsyrk)", {})
            syrk.append(j["median_ms"] / s["median_ms"]
                        if j.get("status") == "ok" and s.get("status") == "ok" else None)
        add("logreg", "with a symmetric (one-triangle) product, ≥ 5× faster than "
            "jax.jit(hessian)",
            "matcalc's code is one syrk (_weighted_gram): "
            + per_shape(lr, vals)
            + "; jax.jit time / hand-written dsyrk time: "
            + per_shape(lr, syrk),
            verdict(vals, lambda v: v >= 5.0))
    net = by("net")
    if net:
        vals = [_r(c["impls"]["matcalc"]) for c in net]
        add("net", "generated code ≤ 1.1× hand-written",
            per_shape(net, vals),
            verdict(vals, lambda v: v <= 1.1))
        vals = [speedup(c, "jax") for c in net]
        add("net", "faster than jax.jit(grad) (jax.jit time / matcalc time > 1)",
            per_shape(net, vals),
            verdict(vals, lambda v: v > 1.0))
    s = derivations.get("seed", {})
    v = s.get("first_derive_ms")
    add("derivation", "the seed derives in ≤ 100 ms after import (first call, fresh process)",
        fmt(v, " ms"), None if v is None else v <= 100)
    if "ratio" in cli:
        add("derivation", "`matcalc derive … --steps` whole run ≤ 2× `python -c \"import sympy, "
            "numpy\"`", f"{cli['cli_ms']:.0f} ms vs {cli['import_sympy_numpy_ms']:.0f} ms = "
            f"{cli['ratio']:.2f}×", cli["ratio"] <= 2.0)
    f = derivations.get("forty", {})
    v = f.get("first_derive_ms")
    add("derivation", "a 40-term expression derives in under a second (first call, fresh process)",
        fmt(v, " ms"), None if v is None else v < 1000)
    return out


MATCALC_BACKENDS = ("matcalc", "numba", "matcalc's JAX code, jit (d.jax())",
                    "matcalc's PyTorch code (d.torch())")
PEERS = ("jax", "torch")


def _fastest(c: dict, names: tuple[str, ...]) -> tuple[float, str] | None:
    rows = {**c["impls"], **c["refs"], "hand-written": c["hand"]}
    timed = [(rows[n]["median_ms"], n) for n in names
             if n in rows and rows[n].get("status") == "ok" and "median_ms" in rows[n]]
    return min(timed) if timed else None


def targets_fused(cases: list[dict]) -> list[dict]:
    """The targets of issue 16 (fused backend, syrk), from the same run's medians."""
    out = []

    def add(text, measured, ok):
        out.append({"group": "issue 16", "target": text, "measured": measured, "met": ok,
                    "note": ""})

    def bound(c: dict, base: float) -> str:
        """The operation floor against the same base: how low the ratio can go on this machine."""
        row = c["refs"].get(KERNEL_FLOOR, {})
        return f"; its operation floor {row['median_ms'] / base:.2f}×" \
            if row.get("status") == "ok" and "median_ms" in row else ""

    gradients = [c for c in cases if c["problem"] in ("seed", "trace", "net")]
    parts, oks = [], []
    for c in gradients:
        mine, peer = _fastest(c, MATCALC_BACKENDS), _fastest(c, PEERS + ("hand-written",))
        if mine is None or peer is None:
            parts.append(f"{c['label']} {c['shape']}: —")
            oks.append(None)
            continue
        ratio = mine[0] / peer[0]
        parts.append(f"{c['label']} {c['shape']}: {ratio:.2f}× ({mine[1]} / {peer[1]}"
                     f"{bound(c, peer[0]) if c['problem'] == 'trace' else ''})")
        oks.append(ratio <= 0.9)
    add("every gradient row: the fastest matcalc backend ≤ 0.9× the fastest of jax.jit, "
        "PyTorch and hand-written NumPy", "; ".join(parts),
        None if None in oks or not oks else all(oks))

    parts, oks = [], []
    for c in (c for c in cases if c["problem"] == "seed"):
        floor = c["impls"]["floor"].get("median_ms")
        mine = _fastest(c, ("matcalc, out=", "matcalc numba, out="))
        if mine is None or not floor:
            parts.append(f"{c['shape']}: —")
            oks.append(None)
            continue
        parts.append(f"{c['shape']}: {mine[0] / floor:.2f}× ({mine[1]})")
        oks.append(mine[0] / floor <= 1.25)
    add("seed gradient with out= ≤ 1.25× the copy floor at all four shapes", "; ".join(parts),
        None if None in oks or not oks else all(oks))

    parts, oks = [], []
    for c in (c for c in cases if c["problem"] == "logreg"):
        mine, hand = _fastest(c, MATCALC_BACKENDS), c["hand"].get("median_ms")
        if mine is None or not hand:
            parts.append(f"{c['shape']}: —")
            continue
        parts.append(f"{c['shape']}: {mine[0] / hand:.2f}× ({mine[1]}{bound(c, hand)})")
        if c["sizes"]["d"] >= 1000:
            oks.append(mine[0] / hand <= 0.6)
    add("logistic Hessian ≤ 0.6× the hand-written full product at 10000×1000 and 2000×2000",
        "; ".join(parts), None if not oks else all(oks))
    return out


# -- reporting -------------------------------------------------------------------------------------

def cell(row: dict, hand: bool = False, floor_ratio: bool = False) -> str:
    status = row.get("status", "")
    if status == "MISMATCH":
        return f"**MISMATCH** ({row.get('mismatch')})"
    if status != "ok":
        return status.split(":")[0] if status.startswith("error") else status
    ms = row["median_ms"]
    text = f"{ms:.0f} ms" if ms >= 100 else f"{ms:.3g} ms"
    if row.get("repeats", 0) == 1:
        text += "¹"
    if not hand and "ratio_to_hand" in row:
        text += f" ({row['ratio_to_hand']:.2f}×)"
    if floor_ratio and "ratio_to_floor" in row:
        text += f", {row['ratio_to_floor']:.2f}× floor"
    return text


def markdown(report: dict) -> str:
    L = []
    cfg = report["config"]
    L.append(f"# matcalc benchmark{' (--quick)' if cfg['quick'] else ''}")
    L.append("")
    L.append(f"Run {report['started']} with `{cfg['command']}` ({report['elapsed_s']:.0f} s). "
             "float64 throughout; every output checked against the hand-written one before "
             "timing; medians of `time.perf_counter` timings after warm-up, the implementations "
             "of a row interleaved round by round; (×) = ratio to the hand-written NumPy closed "
             "form of the same row (lower is faster). ¹ = one timed run only (a single call "
             "exceeds the per-cell budget of "
             f"{cfg['budget_s']:g} s).")
    L.append("")
    L.append("## Machine")
    L.append("")
    L += machine_lines(report["machine"])
    L.append("")
    L.append("## Generated code, hand-written form, autodiff, bandwidth floor")
    L.append("")
    L.append("| problem | shape | " + " | ".join(HEADINGS[k] for k in ("hand",) + COLUMNS) + " |")
    L.append("|---" * (3 + len(COLUMNS)) + "|")
    for c in report["cases"]:
        cells = [cell(c["hand"], hand=True)] + [cell(c["impls"][k]) for k in COLUMNS]
        L.append(f"| {c['label']} | {c['shape']} | " + " | ".join(cells) + " |")
    L.append("")
    refs = [(c, name, row) for c in report["cases"] for name, row in c["refs"].items()]
    if refs:
        L.append("## Reference forms")
        L.append("")
        L.append("| problem | shape | form | median (× hand-written), × copy floor |")
        L.append("|---|---|---|---|")
        for c, name, row in refs:
            L.append(f"| {c['label']} | {c['shape']} | {name} | {cell(row, floor_ratio=True)} |")
        L.append("")
    L.append("## Targets (issue 5)")
    L.append("")
    L.append("| | target | measured | met |")
    L.append("|---|---|---|---|")
    for t in report["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        if t["note"]:
            met += f" ({t['note']})"
        L.append(f"| {t['group']} | {t['target']} | {t['measured']} | {met} |")
    L.append("")
    L.append("## Targets (issue 16: the fused backend, syrk)")
    L.append("")
    L.append("| target | measured (ratio: fastest matcalc form / reference) | met |")
    L.append("|---|---|---|")
    for t in report.get("targets_fused", []):
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        L.append(f"| {t['target']} | {t['measured']} | {met} |")
    L.append("")
    L.append("## Derivation time (matcalc)")
    L.append("")
    L.append("| expression | wrt | first call after import, fresh process | warm median "
             "| import matcalc |")
    L.append("|---|---|---|---|---|")
    for key, d in report["derivations"].items():
        def ms(x):
            return "—" if x is None else f"{x:.1f} ms"
        what = EXPRESSION_LABELS[key]
        expr = d["expr"] if key != "forty" else d["expr"][:40] + " …"
        wrt = ", ".join(d["wrt"]) if isinstance(d["wrt"], list) else d["wrt"]
        warm = ms(d.get("warm_median_ms")) if "error" not in d else f"error: {d['error']}"
        L.append(f"| {what}: `{expr}` | {wrt} | {ms(d.get('first_derive_ms'))} | {warm} | "
                 f"{ms(d.get('import_ms'))} |")
    cli = report.get("cli", {})
    if "ratio" in cli:
        L.append("")
        L.append(f"Whole CLI run `{cli['command']}`: {cli['cli_ms']:.0f} ms; "
                 f"`python -c \"import sympy, numpy\"`: {cli['import_sympy_numpy_ms']:.0f} ms "
                 f"({cli['ratio']:.2f}×; medians of {cli['repeats']} after one warm-up run).")
    L.append("")
    L.append("## Generated code timed above")
    L.append("")
    for key, src in report["sources"].items():
        body = src.split('"""Generated by matcalc."""', 1)[-1].strip()
        L.append(f"{EXPRESSION_LABELS[key]}:")
        L.append("")
        L.append("```python")
        L.append(body)
        L.append("```")
        L.append("")
    return "\n".join(L).rstrip() + "\n"


# -- main ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few repeats: checks that every row works (< 1 min)")
    parser.add_argument("--single-thread", action="store_true",
                        help="one thread in every library (OpenBLAS, OpenMP/torch, XLA); use it on "
                             "a machine shared with other work")
    parser.add_argument("--out", default=None,
                        help="output stem: writes OUT.md and OUT.json (default bench/results, "
                             "or bench/results-quick with --quick)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    out = Path(args.out or ("bench/results-quick" if args.quick else "bench/results"))
    if not out.is_absolute():
        out = Path.cwd() / out
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t_start = time.perf_counter()

    print("matcalc derivations", flush=True)
    derived = {k: _derive(s) for k, s in EXPRESSIONS.items() if k != "forty"}
    derivations = derivation_times(cfg.derive_repeats)
    cli = cli_times(cfg.cli_repeats)

    fw = load_frameworks()
    if args.single_thread and not isinstance(fw["torch"], str):
        fw["torch"].torch.set_num_threads(1)
    print("frameworks: " + ", ".join(f"{k} {'ok' if not isinstance(v, str) else v}"
                                     for k, v in fw.items()), flush=True)
    rng = np.random.default_rng(0)
    builders = ([lambda s=s, r=r, ad=ad: seed_case(*s, r, ad, rng, fw, derived)
                 for s, r, ad in cfg.seed]
                + [lambda n=n, r=r: trace_case(n, r, rng, fw, derived) for n, r in cfg.trace]
                + [lambda a=a, b=b, r=r: net_case(a, b, r, rng, fw, derived) for a, b, r in cfg.net]
                + [lambda s=s, r=r: logreg_case(*s, r, rng, fw, derived) for s, r in cfg.logreg])
    print("timing", flush=True)
    cases = []
    for build in builders:
        case = build()
        cases.append(run_case(case, cfg.budget))
        del case
        gc.collect()

    info = machine(fw)
    info["loadavg"] = [load_start, os.getloadavg()[0]] if load_start is not None else None
    report = {
        "schema": "matcalc.bench/1",
        "started": started,
        "elapsed_s": time.perf_counter() - t_start,
        "config": {"quick": args.quick, "command": "python bench/run.py"
                   + (" --quick" if args.quick else "")
                   + (" --single-thread" if args.single_thread else "")
                   + (f" --out {args.out}" if args.out else ""),
                   "single_thread": args.single_thread,
                   "budget_s": cfg.budget, "rtol": RTOL, "dtype": "float64"},
        "machine": info,
        "frameworks": {k: ("ok" if not isinstance(v, str) else v) for k, v in fw.items()},
        "cases": cases,
        "derivations": derivations,
        "cli": cli,
        "sources": {k: d.source for k, d in derived.items()},
        "numba_sources": {k: d.code("numba") for k, d in derived.items()},
    }
    report["targets"] = targets(cases, derivations, cli)
    report["targets_fused"] = targets_fused(cases)
    print("value and gradient, Hessian-vector products", flush=True)
    import optim  # bench/optim.py beside this script: the rows of issue 14
    report["optim"] = optim.run(args.quick)
    print("growth of derivation time with expression size", flush=True)
    import growth  # bench/growth.py beside this script: issue 17, item 8
    report["growth"] = growth.run(args.quick)
    print("gradients through matrix functions and factorizations", flush=True)
    import factor  # bench/factor.py beside this script: the rows of issue 13
    report["factor"] = factor.run(args.quick)
    print("batched models", flush=True)
    import batched  # bench/batched.py beside this script: the rows of issue 12
    report["batched"] = batched.run(args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    md = (markdown(report) + "\n" + optim.markdown(report["optim"]) + "\n"
          + growth.markdown(report["growth"]) + "\n" + factor.markdown(report["factor"]) + "\n"
          + batched.markdown(report["batched"]))
    md_path, json_path = out.parent / (out.name + ".md"), out.parent / (out.name + ".json")
    md_path.write_text(md)
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print()
    print(md)
    print(f"wrote {md_path} and {json_path} ({report['elapsed_s']:.0f} s)")
    mismatches = [(c["label"], c["shape"], k) for c in cases
                  for k, r in {**c["impls"], **c["refs"]}.items() if r.get("status") == "MISMATCH"]
    if mismatches:
        print("MISMATCHES: " + "; ".join(" ".join(m) for m in mismatches), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
