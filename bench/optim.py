#!/usr/bin/env python
"""Benchmark rows for issue 14: value and gradient together, and Hessian-vector products.

    python bench/optim.py [--quick] [--single-thread]     (bench/run.py appends the same rows)

1. Value and gradient: matcalc's `d.numpy(value=True)` against its gradient alone (target ≤ 1.1×),
   `jax.jit(jax.value_and_grad(f))` and PyTorch (forward + `torch.autograd.grad`), for the seed
   and the two-layer network.
2. Hessian-vector products for logistic regression (float64, N rows, n features): `matcalc.hvp`
   against `jax.jit` of `jax.jvp(jax.grad(f))`, and against forming H with matcalc's Hessian code
   and multiplying; with the peak memory each allocates (tracemalloc, which sees NumPy's arrays).

Every output is compared with matcalc's (np.allclose) before it is timed. Timings are medians of
the repeats, each call preceded by an untimed one. Nothing here asserts a timing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import threads  # noqa: F401  (before NumPy: --single-thread sets one thread per library)

# isort: split

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matcalc

SEED = "w'*w where w = sigmoid(X'*a)"
NET = "sum((W2*tanh(W1*x) - y).^2)"
LOGREG = "sum(softplus(-y.*(X*w)))"

FULL = {"seed": (2000, 2000), "net": ((1000, 1000), 100), "hvp": [(10_000, 1_000), (10_000, 10_000)],
        "repeats": 7, "hessian_up_to": 10_000}
QUICK = {"seed": (300, 300), "net": ((200, 200), 50), "hvp": [(2_000, 100), (2_000, 1_000)],
         "repeats": 3, "hessian_up_to": 1_000}


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        fn()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_bytes(fn) -> int:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _close(got, want) -> bool:
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    return len(got) == len(want) and all(
        np.allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float), rtol=1e-6,
                    atol=1e-9 * max(1.0, float(np.max(np.abs(w))))) for g, w in zip(got, want))


def _frameworks():
    out = {}
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        out["jax"] = jax
    except ImportError:
        pass
    try:
        import torch
        if "--single-thread" in sys.argv:
            torch.set_num_threads(1)
        out["torch"] = torch
    except ImportError:
        pass
    return out


def value_rows(cfg: dict, fw: dict, rng: np.random.Generator) -> list[dict]:
    m, n = cfg["seed"]
    (h, d), o = cfg["net"]
    problems = [
        ("seed", SEED, "X", {"X": rng.standard_normal((m, n)), "a": rng.standard_normal(m)},
         f"{m}×{n}"),
        ("net", NET, ["W1", "W2"], {"W1": rng.standard_normal((h, d)) / np.sqrt(d),
                                    "W2": rng.standard_normal((o, h)) / np.sqrt(h),
                                    "x": rng.standard_normal(d), "y": rng.standard_normal(o)},
         f"W1 {h}×{d}, W2 {o}×{h}"),
    ]
    return [_value_row(cfg, fw, *problem) for problem in problems]


def _value_row(cfg: dict, fw: dict, name: str, expr: str, wrt, arrays: dict, shape: str) -> dict:
    der = matcalc.derive(expr, wrt=wrt)
    grad, both = der.numpy(), der.numpy(value=True)
    reference = both(**arrays)
    assert _close(reference[1:], grad(**arrays))
    row = {"problem": name, "shape": shape,
           "grad_s": median_time(lambda: grad(**arrays), cfg["repeats"]),
           "value_and_grad_s": median_time(lambda: both(**arrays), cfg["repeats"])}
    if "jax" in fw:
        jax, jnp = fw["jax"], fw["jax"].numpy
        if name == "seed":
            def f(X, a):
                w = jax.nn.sigmoid(X.T @ a)
                return w @ w
            vg = jax.jit(jax.value_and_grad(f))
            args = (jnp.asarray(arrays["X"]), jnp.asarray(arrays["a"]))
        else:
            def f(W1, W2, x, y):
                r = W2 @ jnp.tanh(W1 @ x) - y
                return jnp.sum(r * r)
            vg = jax.jit(jax.value_and_grad(f, argnums=(0, 1)))
            args = tuple(jnp.asarray(arrays[k]) for k in ("W1", "W2", "x", "y"))

        def run_jax():
            value, g = vg(*args)
            g = g if isinstance(g, tuple) else (g,)
            return (value.block_until_ready(), *(x.block_until_ready() for x in g))
        row["jax_ok"] = _close(tuple(np.asarray(x) for x in run_jax()), reference)
        row["jax_s"] = median_time(run_jax, cfg["repeats"])
    if "torch" in fw:
        torch = fw["torch"]
        t = {k: torch.from_numpy(v) for k, v in arrays.items()}
        params = [t[k].requires_grad_(True) for k in (wrt if isinstance(wrt, list) else [wrt])]

        def run_torch():
            if name == "seed":
                w = torch.sigmoid(t["X"].T @ t["a"])
                value = w @ w
            else:
                r = t["W2"] @ torch.tanh(t["W1"] @ t["x"]) - t["y"]
                value = torch.sum(r * r)
            return (value.detach(), *torch.autograd.grad(value, params))
        row["torch_ok"] = _close(tuple(x.numpy() for x in run_torch()), reference)
        row["torch_s"] = median_time(run_torch, cfg["repeats"])
    return row


def hvp_rows(cfg: dict, fw: dict, rng: np.random.Generator) -> list[dict]:
    product = matcalc.hvp(LOGREG, wrt="w").numpy()
    hessian = matcalc.hessian(LOGREG, wrt="w").numpy()
    return [_hvp_row(cfg, fw, rng, product, hessian, N, n) for N, n in cfg["hvp"]]


def _hvp_row(cfg: dict, fw: dict, rng: np.random.Generator, product, hessian, N: int,
             n: int) -> dict:
    X = rng.standard_normal((N, n))
    w = rng.standard_normal(n) / np.sqrt(n)
    y = np.sign(rng.standard_normal(N))
    v = rng.standard_normal(n)
    reference = product(X=X, w=w, y=y, v=v)
    row = {"N": N, "n": n,
           "hvp_s": median_time(lambda: product(X=X, w=w, y=y, v=v), cfg["repeats"]),
           "hvp_peak_bytes": peak_bytes(lambda: product(X=X, w=w, y=y, v=v)),
           "data_bytes": X.nbytes}
    if n <= cfg["hessian_up_to"]:
        def formed():
            return hessian(X=X, w=w, y=y) @ v
        row["formed_ok"] = _close(formed(), reference)
        t0 = time.perf_counter()
        peak = peak_bytes(formed)
        first = time.perf_counter() - t0
        row["formed_peak_bytes"] = peak
        # forming H costs N·n² multiply-adds: one timed call when it takes seconds
        row["formed_s"] = first if first > 5 else median_time(formed, cfg["repeats"])
    if "jax" in fw:
        jax, jnp = fw["jax"], fw["jax"].numpy

        def f(w, X, y):
            return jnp.sum(jax.nn.softplus(-y * (X @ w)))
        hvp = jax.jit(lambda w, v, X, y: jax.jvp(lambda u: jax.grad(f)(u, X, y), (w,),
                                                 (v,))[1])
        args = tuple(jnp.asarray(a) for a in (w, v, X, y))
        row["jax_ok"] = _close(np.asarray(hvp(*args)), reference)
        row["jax_s"] = median_time(lambda: hvp(*args).block_until_ready(), cfg["repeats"])
    return row


def markdown(report: dict) -> str:
    lines = ["## Value and gradient together (issue 14)", "",
             ("| problem | shape | gradient alone | value and gradient | ratio (target ≤ 1.1) "
              "| jax.jit(value_and_grad) | torch forward + grad |"),
             "|---|---|---|---|---|---|---|"]

    def ms(s):
        return "—" if s is None else f"{s * 1e3:.2f} ms"

    def vs(row, key, ok, base):
        if key not in row:
            return "not installed"
        if not row.get(ok, True):
            return "MISMATCH"
        return f"{ms(row[key])} (matcalc {row[key] / row[base]:.2f}× faster)" \
            if row[key] >= row[base] else \
            f"{ms(row[key])} (matcalc {row[base] / row[key]:.2f}× slower)"

    for r in report["value"]:
        lines.append(f"| {r['problem']} | {r['shape']} | {ms(r['grad_s'])} "
                     f"| {ms(r['value_and_grad_s'])} | {r['value_and_grad_s'] / r['grad_s']:.2f}× "
                     f"| {vs(r, 'jax_s', 'jax_ok', 'value_and_grad_s')} "
                     f"| {vs(r, 'torch_s', 'torch_ok', 'value_and_grad_s')} |")
    lines += ["", "## Hessian-vector products, logistic regression (issue 14)", "",
              ("| N × n | matcalc.hvp | jax.jvp of jax.grad | forming H, then H @ v "
               "| peak memory: hvp / forming H / X |"),
              "|---|---|---|---|---|"]
    for r in report["hvp"]:
        formed = "not run" if "formed_s" not in r else (
            "MISMATCH" if not r["formed_ok"] else
            f"{ms(r['formed_s'])} ({r['formed_s'] / r['hvp_s']:.0f}× the hvp)")
        jax_cell = "not installed" if "jax_s" not in r else (
            "MISMATCH" if not r["jax_ok"] else
            f"{ms(r['jax_s'])} (hvp {r['jax_s'] / r['hvp_s']:.2f}× faster)" if r["jax_s"] >= r["hvp_s"]
            else f"{ms(r['jax_s'])} (hvp {r['hvp_s'] / r['jax_s']:.2f}× slower)")
        mem = (f"{r['hvp_peak_bytes'] / 2**20:.1f} MB / "
               + (f"{r['formed_peak_bytes'] / 2**20:.0f} MB" if "formed_peak_bytes" in r
                  else "—") + f" / {r['data_bytes'] / 2**20:.0f} MB")
        lines.append(f"| {r['N']:,} × {r['n']:,} | {ms(r['hvp_s'])} | {jax_cell} | {formed} "
                     f"| {mem} |")
    return "\n".join(lines) + "\n"


def run(quick: bool = False) -> dict:
    cfg = QUICK if quick else FULL
    fw = _frameworks()
    rng = np.random.default_rng(0)
    return {"config": {k: v for k, v in cfg.items()}, "frameworks": sorted(fw),
            "value": value_rows(cfg, fw, rng), "hvp": hvp_rows(cfg, fw, rng)}


def command_line(doc: str, run_rows, report, argv: list[str] | None = None) -> int:
    """A bench script's command line: `--quick`, `--single-thread` (read by threads.py), then the
    rows' report printed as Markdown."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--single-thread", action="store_true")
    args = parser.parse_args(argv)
    print(report(run_rows(args.quick)))
    return 0


def main(argv: list[str] | None = None) -> int:
    return command_line(__doc__, run, markdown, argv)


if __name__ == "__main__":
    sys.exit(main())
