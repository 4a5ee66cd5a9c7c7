#!/usr/bin/env python
"""Dump what matcalc makes of a fixed corpus of problems, to diff the engine before and after a change.

    python bench/corpus.py --out /tmp/before.txt [--limit N]
    ... change the engine ...
    python bench/corpus.py --out /tmp/after.txt && diff /tmp/before.txt /tmp/after.txt

`bench/corpus.json` holds the problems (expression, wrt, shapes, symmetric; `derive` or `hessian`):
every distinct call of `matcalc.derive` and `matcalc.hessian` with a string expression (of at
most 600 characters) made by 15 test modules (test_cookbook, test_jacobians_hessians, test_seed,
test_readme, test_batched, test_factorizations, test_numerical_stability, test_new_user,
test_numpy_codegen, test_backends, test_parse, test_extending, test_shapes, test_check,
test_latex_documents), errors included. For each
problem the dump holds `str(d)`, the numbered steps, the LaTeX of the result and of the steps, the
notes and the generated NumPy module — or the error's type and message. The numeric check's error
is left out (it is a float that a change of sampling may move in its last digits); whether the
check refused a result is in (the error message). The total time is printed on stderr, not dumped.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # the checkout's matcalc, not an installed copy

import matcalc

CORPUS = Path(__file__).with_name("corpus.json")


def dump_one(problem: dict) -> str:
    call = matcalc.hessian if problem["kind"] == "hessian" else matcalc.derive
    try:
        d = call(problem["expr"], problem["wrt"], problem["shapes"] or None,
                 problem["symmetric"] or None)
    except matcalc.MatcalcError as exc:
        return f"error {type(exc).__name__}: {exc}"
    parts = d.derivations if isinstance(d, matcalc.DerivationSet) else [d]
    out = [f"result: {d}"]
    for one in parts:
        out += [f"steps {one.wrt}:", one.steps_text(), f"latex: {one.latex()}",
                "latex steps:", one.latex(steps=True), f"notes: {one.notes}"]
    out += ["numpy:", d.source]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the file to write the dump to")
    parser.add_argument("--limit", type=int, default=0, help="the first N problems only")
    args = parser.parse_args()
    problems = json.loads(CORPUS.read_text(encoding="utf-8"))
    if args.limit:
        problems = problems[:args.limit]
    start = time.perf_counter()
    with open(args.out, "w", encoding="utf-8") as out:
        for i, problem in enumerate(problems):
            out.write(f"=== {i} {json.dumps(problem, ensure_ascii=False)}\n")
            out.write(dump_one(problem) + "\n")
    print(f"{len(problems)} problems in {time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
