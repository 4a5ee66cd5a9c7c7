#!/usr/bin/env python
"""How derivation time grows with the size of the expression (issue 17, item 8).

    python bench/growth.py [--quick]

Five families of expressions, each at four sizes; for each, the time of `matcalc.derive` (or
`matcalc.hessian`), numeric self-check included, and the exponent p of time ≈ c·size^p fitted by
least squares on log(time) against log(size):

- sums of k trace terms `tr(A0*X*B0) + tr(A1*X*B1) + …`, ∂/∂X;
- products of depth d `tr(A0*X*A1*X*…*A{d-1}*X)`, ∂/∂X;
- networks of L layers `sum(tanh(W{L}*tanh(…tanh(W1*x))))`: the gradient ∂/∂W1, and the Hessian
  ∂²/∂x² (an n×n matrix);
- elementwise chains d deep `sum(sigmoid(sigmoid(…(x))))`, ∂/∂x.

Each time is the best of five rounds, each round every size of every family once, in CPU seconds
of the process (`time.process_time`: derivation is single-threaded Python, so on a quiet machine
this is the wall time, and on a shared one it is not inflated by waiting for a core; the wall
times are in the JSON). A size whose derivation raises is reported with its error and left out of the fit. The target is p ≤ 1.3
for every family, and at most a second for 200 terms and for depth 30. bench/run.py appends the
table to its report. Timings are not tests: nothing here asserts one.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # the checkout's matcalc, not an installed copy

import matcalc
from matcalc.ops import Node

TARGET_P = 1.3
ROUNDS = 5


def trace_sum(k: int) -> str:
    return " + ".join(f"tr(A{i}*X*B{i})" for i in range(k))


def trace_product(d: int) -> str:
    return "tr(" + "*".join(f"A{i}*X" for i in range(d)) + ")"


def network(layers: int) -> str:
    inner = "x"
    for i in range(1, layers + 1):
        inner = f"tanh(W{i}*{inner})"
    return f"sum({inner})"


def chain(d: int) -> str:
    return "sum(" + "sigmoid(" * d + "x" + ")" * d + ")"


# name → (what it is, size's name, expression of the size, wrt, hessian?, sizes, quick sizes)
FAMILIES: dict[str, tuple[str, str, Callable[[int], str], str, bool, tuple, tuple]] = {
    "sum": ("sum of k terms tr(Ai*X*Bi), ∂/∂X", "k", trace_sum, "X", False,
            (25, 50, 100, 200), (10, 20, 40, 80)),
    "product": ("tr(A0*X*A1*X*…*A{d-1}*X), ∂/∂X", "d", trace_product, "X", False,
                (8, 16, 32, 64), (2, 4, 6, 8)),
    "network": ("sum(tanh(WL*…tanh(W1*x))), ∂/∂W1", "L", network, "W1", False,
                (2, 4, 8, 16), (2, 4, 6, 8)),
    "network-hessian": ("sum(tanh(WL*…tanh(W1*x))), ∂²/∂x²", "L", network, "x", True,
                        (2, 4, 8, 16), (2, 3, 4, 6)),
    "chain": ("sum(sigmoid(sigmoid(…(x)))) d deep, ∂/∂x", "d", chain, "x", False,
              (10, 20, 30, 40), (5, 10, 15, 20)),
}


def distinct_nodes(*roots: Node) -> int:
    """The nodes of trees counted once however often they occur: their size as a DAG. A chain
    d deep has a result of Θ(d²) nodes as a tree (each σ'(u) repeats u) but Θ(d) distinct ones."""
    seen, pending = set(roots), list(roots)
    while pending:
        for a in pending.pop().args:
            if a not in seen:
                seen.add(a)
                pending.append(a)
    return len(seen)


def time_one(expr: str, wrt: str, hessian: bool) -> dict:
    """{seconds: CPU time, wall_seconds, result_size: nodes of the result as a tree, distinct: its
    distinct nodes, error: ""} of one derivation; the times None and the error said where the
    derivation raises."""
    call = matcalc.hessian if hessian else matcalc.derive
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        d = call(expr, wrt)
    except matcalc.MatcalcError as exc:
        return {"seconds": None, "wall_seconds": None, "result_size": None,
                "distinct": None, "error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    # the partial products a long product's derivative names are part of its result
    parts = [d.result] + [d.problem.bindings[n] for n in d.partial_names]
    return {"seconds": time.process_time() - cpu, "wall_seconds": time.perf_counter() - wall,
            "result_size": sum(p.size for p in parts), "distinct": distinct_nodes(*parts),
            "error": ""}


def fit_exponent(sizes: list[int], times: list[float]) -> float | None:
    """The slope of log(time) against log(size), by least squares."""
    if len(sizes) < 2:
        return None
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def run(quick: bool = False, rounds: int = ROUNDS) -> dict:
    """Every size of every family once per round, `rounds` rounds; each size's best round.

    Interleaved rounds rather than repeats in a row: on a shared virtual machine the speed drifts
    by up to 2× over seconds, and a slow spell then costs one round of several sizes instead of
    every repeat of one size (which would bend its family's exponent)."""
    matcalc.derive("x'*x", "x")            # the rules loaded and the code paths warm
    rounds = 2 if quick else rounds
    best: dict[tuple[str, int], dict] = {}
    for round_ in range(rounds):
        for name, (label, size_name, make, wrt, hessian, sizes, quick_sizes) in FAMILIES.items():
            for n in quick_sizes if quick else sizes:
                row = time_one(make(n), wrt, hessian)
                known = best.get((name, n))
                if known is None or (row["seconds"] is not None
                                     and row["seconds"] < known["seconds"]):
                    best[name, n] = row
        print(f"  round {round_ + 1} of {rounds} done", flush=True)
    out = {}
    for name, (label, size_name, make, wrt, hessian, sizes, quick_sizes) in FAMILIES.items():
        rows = [{"size": n, **best[name, n]} for n in (quick_sizes if quick else sizes)]
        for row in rows:
            print(f"  {name} {size_name}={row['size']}: "
                  + (f"{row['seconds']:.3f} s CPU, {row['wall_seconds']:.3f} s wall, result "
                     f"of {row['result_size']} nodes ({row['distinct']} distinct)"
                     if row["seconds"] is not None else row["error"]), flush=True)
        timed = [r for r in rows if r["seconds"] is not None]
        times = [r["seconds"] for r in timed]
        out[name] = {"label": label, "size_name": size_name, "rows": rows,
                     "p": fit_exponent([r["size"] for r in timed], times),
                     "p_result": fit_exponent([r["result_size"] for r in timed], times),
                     "p_distinct": fit_exponent([r["distinct"] for r in timed], times)}
    return out


def markdown(result: dict) -> str:
    lines = ["## Growth of derivation time with expression size (issue 17, item 8)", "",
             (f"CPU time of one derivation, numeric self-check included (the best of {ROUNDS} "
              f"interleaved rounds); p: "
              f"the exponent of time ≈ c·size^p, least squares on log-log. Target p ≤ "
              f"{TARGET_P}."), "",
             ("p (result): the same exponent against the size of the result (its nodes as a "
              "tree, with the definitions of the partial products it names), which for a "
              "Hessian grows faster than the input."), "",
             ("distinct: the result's nodes counted once however often they occur (its size "
              "as a DAG); p (distinct): the exponent against that."), "",
             "| family | sizes | seconds | result nodes | distinct | p | p (result) | p (distinct) |",
             "|---|---|---|---|---|---|---|---|"]
    for family in result.values():
        rows = family["rows"]
        sizes = ", ".join(f"{family['size_name']}={r['size']}" for r in rows)
        times = ", ".join(f"{r['seconds']:.3f}" if r["seconds"] is not None else "error"
                          for r in rows)
        nodes, distinct = (", ".join(str(r[k]) if r[k] else "–" for r in rows)
                           for k in ("result_size", "distinct"))
        p, pr, pd = ("n/a" if family[k] is None else f"{family[k]:.2f}"
                     for k in ("p", "p_result", "p_distinct"))
        lines.append(f"| {family['label']} | {sizes} | {times} | {nodes} | {distinct} | {p} | "
                     f"{pr} | {pd} |")
    errors = [f"- {f['label']}, {f['size_name']}={r['size']}: {r['error']}"
              for f in result.values() for r in f["rows"] if r["error"]]
    if errors:
        lines += ["", "Errors (left out of the fit):", *errors]
    return "\n".join(lines) + "\n"


def main() -> None:
    result = run("--quick" in sys.argv)
    print()
    print(markdown(result))


if __name__ == "__main__":
    main()
