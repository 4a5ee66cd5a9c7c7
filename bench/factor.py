#!/usr/bin/env python
"""Benchmark rows for issue 13: gradients through matrix functions and factorizations.

    python bench/factor.py [--quick] [--single-thread] [--n 500]     (bench/run.py appends them)

Three gradients at n = 500 (float64), each computed three ways in one run on the same arrays:
matcalc's generated NumPy code (`d.numpy()`), `jax.jit(jax.grad(f))` and PyTorch autograd
(forward pass + `torch.autograd.grad`, inside the timing as for every framework):

1. tr(expm(A)*B) by A: matcalc's adjoint Fréchet derivative `expmfrechet(A', B')` (its own
   Padé-13 kernel, `_expm_frechet` in matcalc/kernels.py), against differentiating through
   `jax.scipy.linalg.expm` and `torch.linalg.matrix_exp`;
2. lambdamax(S) by a symmetric S: `eigvecmax(S)*eigvecmax(S)'`, against differentiating
   `eigvalsh`;
3. the Gaussian negative log-likelihood through the Cholesky factor,
   2*sum(log(diag(chol(S)))) + norm2(chol(S)\\(y - mu))^2 by a symmetric S (triangular solves in
   matcalc's code), against differentiating through `cholesky` and `solve_triangular`.

The frameworks differentiate f((S + S')/2), whose gradient is the symmetric gradient matcalc gives
for a variable declared symmetric; every output is compared with matcalc's (np.allclose) before it
is timed. Each implementation is called once untimed before each timed call, in interleaved rounds;
the medians are reported with their ratio to matcalc's (above 1: slower than matcalc). Nothing here
asserts a timing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import threads  # noqa: F401  (before NumPy: --single-thread sets one thread per library)

# isort: split

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matcalc

EXPM = "tr(expm(A)*B)"
LAMBDAMAX = "lambdamax(S)"
GAUSSIAN = "2*sum(log(diag(chol(S)))) + norm2(chol(S)\\(y - mu))^2"


def _inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    X = rng.standard_normal((n, n))
    return {"A": rng.standard_normal((n, n)) / np.sqrt(n),      # ‖A‖ about 2: expm well scaled
            "B": rng.standard_normal((n, n)),
            "S": X @ X.T / n + np.eye(n),                         # positive definite
            "y": rng.standard_normal(n), "mu": rng.standard_normal(n)}


def problems(arrays: dict[str, np.ndarray]) -> list[dict]:
    """Each problem: its matcalc derivation, its variable, and the framework functions f."""
    return [
        {"label": "∂tr(expm(A)*B)/∂A", "expr": EXPM, "wrt": "A", "symmetric": set(),
         "args": ("A", "B"),
         "jax": lambda jnp, jsl: lambda A, B: jnp.trace(jsl.expm(A) @ B),
         "torch": lambda torch: lambda A, B: torch.trace(torch.linalg.matrix_exp(A) @ B)},
        {"label": "∂lambdamax(S)/∂S", "expr": LAMBDAMAX, "wrt": "S", "symmetric": {"S"},
         "args": ("S",),
         "jax": lambda jnp, jsl: lambda S: jnp.linalg.eigvalsh((S + S.T) / 2)[-1],
         "torch": lambda torch: lambda S: torch.linalg.eigvalsh((S + S.T) / 2)[-1]},
        {"label": "∂(Gaussian NLL through chol)/∂S", "expr": GAUSSIAN, "wrt": "S",
         "symmetric": {"S"}, "args": ("S", "y", "mu"),
         "jax": lambda jnp, jsl: lambda S, y, mu: _jax_gaussian(jnp, jsl, S, y, mu),
         "torch": lambda torch: lambda S, y, mu: _torch_gaussian(torch, S, y, mu)},
    ]


def _jax_gaussian(jnp, jsl, S, y, mu):
    L = jnp.linalg.cholesky((S + S.T) / 2)
    z = jsl.solve_triangular(L, y - mu, lower=True)
    return 2 * jnp.sum(jnp.log(jnp.diag(L))) + z @ z


def _torch_gaussian(torch, S, y, mu):
    L = torch.linalg.cholesky((S + S.T) / 2)
    z = torch.linalg.solve_triangular(L, (y - mu)[:, None], upper=False)[:, 0]
    return 2 * torch.sum(torch.log(torch.diagonal(L))) + z @ z


def implementations(problem: dict, arrays: dict) -> dict[str, object]:
    """name → a zero-argument callable returning the gradient (or the reason it is missing)."""
    d = matcalc.derive(problem["expr"], wrt=problem["wrt"], symmetric=problem["symmetric"])
    grad = d.numpy()
    used = {k: arrays[k] for k in d.problem.variables}
    impls: dict[str, object] = {"matcalc": lambda: grad(**used)}
    args = [arrays[k] for k in problem["args"]]
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import jax.scipy.linalg as jsl
        g = jax.jit(jax.grad(problem["jax"](jnp, jsl)))
        jargs = [jnp.asarray(a) for a in args]
        impls["jax.jit(jax.grad)"] = lambda: g(*jargs).block_until_ready()
    except ImportError:
        impls["jax.jit(jax.grad)"] = "not installed"
    try:
        import torch
        f = problem["torch"](torch)
        targs = [torch.from_numpy(a) for a in args]

        def run_torch():
            x = targs[0].clone().requires_grad_(True)
            return torch.autograd.grad(f(x, *targs[1:]), x)[0]
        impls["torch autograd"] = run_torch
    except ImportError:
        impls["torch autograd"] = "not installed"
    return impls


def _numpy(x) -> np.ndarray:
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def run_problem(problem: dict, arrays: dict, repeats: int) -> dict:
    impls = implementations(problem, arrays)
    live = {k: v for k, v in impls.items() if callable(v)}
    reference = _numpy(live["matcalc"]())
    rows: dict[str, dict] = {k: {"status": v} for k, v in impls.items() if not callable(v)}
    for name, fn in list(live.items()):
        got = _numpy(fn())                                  # also the warm-up (jit compiles)
        if not np.allclose(got, reference, rtol=1e-6, atol=1e-8 * np.max(np.abs(reference))):
            rows[name] = {"status": f"differs from matcalc by {np.max(np.abs(got - reference)):.2e}"}
            del live[name]
    times: dict[str, list[float]] = {k: [] for k in live}
    names = list(live)
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:              # the order rotates from round to round
            live[name]()
            t0 = time.perf_counter()
            live[name]()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["matcalc"])
    for name, ts in times.items():
        med = statistics.median(ts)
        rows[name] = {"status": "ok", "median_ms": med * 1e3, "ratio_to_matcalc": med / base}
    return {"label": problem["label"], "expr": problem["expr"], "rows": rows}


def run(quick: bool = False, n: int | None = None) -> dict:
    n = n or (100 if quick else 500)
    repeats = 3 if quick else 7
    arrays = _inputs(n, np.random.default_rng(0))
    results = []
    for problem in problems(arrays):
        print(f"  {problem['label']} n={n}", flush=True)
        results.append(run_problem(problem, arrays, repeats))
    versions = {"numpy": np.__version__}
    for name in ("scipy", "jax", "torch"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "not installed"
    return {"n": n, "repeats": repeats, "results": results, "versions": versions,
            "single_thread": "--single-thread" in sys.argv}


def markdown(report: dict) -> str:
    lines = [(f"## Gradients through matrix functions and factorizations (issue 13), "
              f"n = {report['n']}"),
             "",
             ("Median of the timed calls in milliseconds; in parentheses the time relative to "
              "matcalc's generated NumPy code (above 1×: slower than matcalc)."),
             "",
             ("Medians of " + str(report["repeats"]) + " calls, "
              + ("one thread per library (--single-thread); " if report.get("single_thread")
                 else "")
              + ", ".join(f"{k} {v}" for k, v in report.get("versions", {}).items()) + "."),
             "",
             "| gradient | matcalc `d.numpy()` | `jax.jit(jax.grad(f))` | PyTorch autograd |",
             "|---|---|---|---|"]
    for res in report["results"]:
        cells = []
        for name in ("matcalc", "jax.jit(jax.grad)", "torch autograd"):
            row = res["rows"].get(name, {"status": "—"})
            if row["status"] != "ok":
                cells.append(row["status"])
            else:
                cells.append(f"{row['median_ms']:.1f} ms ({row['ratio_to_matcalc']:.2f}×)")
        lines.append(f"| {res['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--single-thread", action="store_true")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--out", default=None, help="write the table to this Markdown file")
    args = parser.parse_args()
    report = run(args.quick, args.n)
    text = markdown(report)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
