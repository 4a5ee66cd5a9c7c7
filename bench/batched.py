#!/usr/bin/env python
"""Benchmark rows for issue 12: batched models.

    python bench/batched.py [--quick] [--single-thread]     (bench/run.py appends the same rows)

1. The batched softmax cross-entropy gradient with respect to the weight matrix W (C×d) over N
   samples, `sum(logsumexp(X*W', 2)) - tr(Y'*X*W')`, N = 100,000, C = 100, d = 256.
2. The gradient of single-head attention `sum(T.*(softmax(Q*K'/sqrt(k), 2)*V))` with respect to
   its three weight matrices in one call (Q = X*Wq, K = X*Wk, V = X*Wv), N = 1,024, d = k = 64.

Each against the closed form written by hand in NumPy (in place where that saves a pass), against
matcalc's fused numba code (`d.numba()`, where numba is installed: row-wise softmax and what follows
it as one loop), `jax.jit(jax.grad(f))` and PyTorch autograd (forward pass + `torch.autograd.grad`), float64. Every
output is compared with the hand-written one (np.allclose) before it is timed; timings are medians
of the repeats, each call preceded by an untimed one. The peak memory of matcalc's code and of the
hand-written code (tracemalloc, which sees NumPy's arrays) is given against the inputs' size, and
matcalc's gradient is evaluated at logits of about ±1000 (finite or not). Nothing here asserts a
timing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import threads  # noqa: F401  (before NumPy: --single-thread sets one thread per library)

# isort: split

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optim import _close, _frameworks, command_line, median_time, peak_bytes

import matcalc

CROSS_ENTROPY = "sum(logsumexp(X*W', 2)) - tr(Y'*X*W')"
ATTENTION = "sum(T.*(softmax(Q*K'/sqrt(cols(Wq)), 2)*V)) where Q = X*Wq, K = X*Wk, V = X*Wv"

FULL = {"cross_entropy": (100_000, 100, 256), "attention": (1024, 64), "repeats": 7}
QUICK = {"cross_entropy": (5_000, 20, 32), "attention": (128, 16), "repeats": 3}


def _softmax_rows_in_place(S: np.ndarray) -> np.ndarray:
    S -= S.max(axis=1, keepdims=True)
    np.exp(S, out=S)
    S /= S.sum(axis=1, keepdims=True)
    return S


def cross_entropy_row(cfg: dict, fw: dict, rng: np.random.Generator) -> dict:
    N, C, d = cfg["cross_entropy"]
    X = rng.standard_normal((N, d)) / np.sqrt(d)
    W = rng.standard_normal((C, d))                  # logits X*W' ~ N(0, 1)
    Y = np.eye(C)[rng.integers(0, C, N)]
    derived = matcalc.derive(CROSS_ENTROPY, wrt="W",
                             shapes={"X": ("N", "d"), "W": ("C", "d"), "Y": ("N", "C")})
    grad = derived.numpy()

    def hand():
        S = _softmax_rows_in_place(X @ W.T)
        S -= Y
        return S.T @ X

    def matcalc_code():
        return grad(W=W, X=X, Y=Y)

    impls = {"numba": _fused(derived, W=W, X=X, Y=Y), "jax": None, "torch": None}
    if "jax" in fw:
        jax, jnp = fw["jax"], fw["jax"].numpy

        def f(W, X, Y):
            S = X @ W.T
            return jnp.sum(jax.nn.logsumexp(S, axis=1)) - jnp.sum(Y * S)
        g = jax.jit(jax.grad(f))
        Xj, Wj, Yj = jnp.asarray(X), jnp.asarray(W), jnp.asarray(Y)
        impls["jax"] = lambda: g(Wj, Xj, Yj).block_until_ready()
    if "torch" in fw:
        torch = fw["torch"]
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        Wt = torch.from_numpy(W).requires_grad_(True)

        def torch_grad():
            S = Xt @ Wt.T
            loss = torch.logsumexp(S, 1).sum() - (Yt * S).sum()
            return torch.autograd.grad(loss, Wt)[0]
        impls["torch"] = torch_grad
    # stability: logits of about ±1000
    big = 1000 * np.sign(rng.standard_normal((min(N, 1000), d)))
    Wb = np.sign(rng.standard_normal((C, d))) / np.sqrt(d)
    finite = bool(np.all(np.isfinite(grad(W=Wb, X=big, Y=Y[:big.shape[0]]))))
    return _timed("softmax cross-entropy ∂/∂W", f"N {N:,}, C {C}, d {d}", hand, matcalc_code,
                  impls, cfg, X.nbytes + W.nbytes + Y.nbytes, finite)


def attention_row(cfg: dict, fw: dict, rng: np.random.Generator) -> dict:
    N, d = cfg["attention"]
    X = rng.standard_normal((N, d))
    Wq, Wk, Wv = (rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(3))
    T = rng.standard_normal((N, d))
    shapes = {"X": ("N", "d"), "Wq": ("d", "k"), "Wk": ("d", "k"), "Wv": ("d", "v"),
              "T": ("N", "v")}
    derived = matcalc.derive(ATTENTION, wrt=["Wq", "Wk", "Wv"], shapes=shapes)
    grads = derived.numpy()
    scale = 1 / np.sqrt(d)

    def hand():
        Q, K, V = X @ Wq, X @ Wk, X @ Wv
        P = _softmax_rows_in_place((Q @ K.T) * scale)
        dP = T @ V.T
        dP -= (P * dP).sum(axis=1, keepdims=True)
        dP *= P                                       # dS, the softmax's adjoint row by row
        dP *= scale
        return X.T @ (dP @ K), X.T @ (dP.T @ Q), X.T @ (P.T @ T)

    def matcalc_code():
        return grads(Wq=Wq, Wk=Wk, Wv=Wv, X=X, T=T)

    impls = {"numba": _fused(derived, Wq=Wq, Wk=Wk, Wv=Wv, X=X, T=T), "jax": None,
             "torch": None}
    if "jax" in fw:
        jax, jnp = fw["jax"], fw["jax"].numpy

        def f(Wq, Wk, Wv, X, T):
            S = (X @ Wq) @ (X @ Wk).T / jnp.sqrt(Wq.shape[1])
            return jnp.sum(T * (jax.nn.softmax(S, axis=1) @ (X @ Wv)))
        g = jax.jit(jax.grad(f, argnums=(0, 1, 2)))
        args = [jnp.asarray(a) for a in (Wq, Wk, Wv, X, T)]
        impls["jax"] = lambda: tuple(r.block_until_ready() for r in g(*args))
    if "torch" in fw:
        torch = fw["torch"]
        Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
        Ws = [torch.from_numpy(w).requires_grad_(True) for w in (Wq, Wk, Wv)]

        def torch_grad():
            S = (Xt @ Ws[0]) @ (Xt @ Ws[1]).T / d ** 0.5
            loss = (Tt * (torch.softmax(S, 1) @ (Xt @ Ws[2]))).sum()
            return torch.autograd.grad(loss, Ws)
        impls["torch"] = torch_grad
    big = X * 1000 / np.abs(X).max()                 # logits up to about ±1000·d/√d
    finite = all(bool(np.all(np.isfinite(g)))
                 for g in grads(Wq=Wq, Wk=Wk, Wv=Wv, X=big, T=T))
    inputs = sum(a.nbytes for a in (X, Wq, Wk, Wv, T))
    return _timed("attention ∂/∂(Wq, Wk, Wv)", f"N {N:,}, d {d}", hand, matcalc_code, impls,
                  cfg, inputs, finite)


def _fused(derived, **arrays):
    """matcalc's numba code as a call on `arrays`, or None without numba (as run.numba_impl:
    d.numba() raises ImportError). It compiles on the call that checks its output (_timed)."""
    try:
        f = derived.numba()
    except ImportError:
        return None
    return lambda: f(**arrays)


def _timed(problem: str, shape: str, hand, mine, impls: dict, cfg: dict, inputs: int,
           finite: bool) -> dict:
    want = hand()
    row = {"problem": problem, "shape": shape, "input_bytes": inputs, "finite_at_1000": finite,
           "matcalc_ok": _close(mine(), want)}
    row["hand_s"] = median_time(hand, cfg["repeats"])
    row["matcalc_s"] = median_time(mine, cfg["repeats"])
    row["hand_peak_bytes"] = peak_bytes(hand)
    row["matcalc_peak_bytes"] = peak_bytes(mine)
    for name, fn in impls.items():
        if fn is not None:
            row[f"{name}_ok"] = _close(fn(), want)
            row[f"{name}_s"] = median_time(fn, cfg["repeats"])
    return row


def markdown(report: dict) -> str:
    lines = ["## Batched models (issue 12)", "",
             ("matcalc's ratios are to the hand-written NumPy (target ≤ 1.1); jax.jit's and "
              "PyTorch's are to the faster of matcalc's two backends (target: matcalc faster "
              "than jax.jit)."), "",
             ("| problem | shape | hand-written NumPy | matcalc NumPy | matcalc numba "
              "| jax.jit(jax.grad) | torch autograd | peak memory: matcalc / hand / inputs "
              "| finite at logits ±1000 |"),
             "|---|---|---|---|---|---|---|---|---|"]

    def ms(s):
        return f"{s * 1e3:.1f} ms"

    def mine(row, key):
        if f"{key}_s" not in row:
            return "not installed"
        if not row[f"{key}_ok"]:
            return "MISMATCH"
        return f"{ms(row[f'{key}_s'])} ({row[f'{key}_s'] / row['hand_s']:.2f}×)"

    def other(row, key):
        if f"{key}_s" not in row:
            return "not installed"
        if not row[f"{key}_ok"]:
            return "MISMATCH"
        ratio = row[f"{key}_s"] / fastest(row)
        return f"{ms(row[f'{key}_s'])} (matcalc {ratio:.2f}× faster)" if ratio >= 1 else \
            f"{ms(row[f'{key}_s'])} (matcalc {1 / ratio:.2f}× slower)"

    def fastest(row):
        return min(row[f"{k}_s"] for k in ("matcalc", "numba")
                   if f"{k}_s" in row and row[f"{k}_ok"])

    for r in report["rows"]:
        mem = (f"{r['matcalc_peak_bytes'] / 2**20:.0f} MB / {r['hand_peak_bytes'] / 2**20:.0f} MB"
               f" / {r['input_bytes'] / 2**20:.0f} MB")
        lines.append(f"| {r['problem']} | {r['shape']} | {ms(r['hand_s'])} | {mine(r, 'matcalc')} "
                     f"| {mine(r, 'numba')} | {other(r, 'jax')} | {other(r, 'torch')} | {mem} "
                     f"| {'yes' if r['finite_at_1000'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def run(quick: bool = False) -> dict:
    cfg = QUICK if quick else FULL
    fw = _frameworks()
    rng = np.random.default_rng(0)
    return {"config": dict(cfg), "frameworks": sorted(fw),
            "rows": [cross_entropy_row(cfg, fw, rng), attention_row(cfg, fw, rng)]}


def main(argv: list[str] | None = None) -> int:
    return command_line(__doc__, run, markdown, argv)


if __name__ == "__main__":
    sys.exit(main())
