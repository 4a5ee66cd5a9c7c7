"""Summarise the sizes of results recorded by `MATCALC_RESULT_SIZES=path pytest` (tests/conftest.py):
the median and the largest `len(str(d.expr))` over the distinct problems, and the largest ones.

    MATCALC_RESULT_SIZES=/tmp/sizes.jsonl python -m pytest -q
    python tests/result_sizes.py /tmp/sizes.jsonl [--top 20] [--compare /tmp/before.jsonl]
"""
from __future__ import annotations

import argparse
import json
import statistics


def read(path: str) -> dict[tuple[str, str, str], dict]:
    """{(problem, variable, kind): record}, one record per distinct derivation."""
    out: dict[tuple[str, str, str], dict] = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            out[(r["problem"], r["wrt"], r["kind"])] = r
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--compare", help="an earlier record: figures over the problems in both")
    args = parser.parse_args()
    after = read(args.path)
    sizes = [r["size"] for r in after.values()]
    print(f"{len(sizes)} derivations: median {statistics.median(sizes)}, largest {max(sizes)}")
    if args.compare:
        before = read(args.compare)
        common = sorted(set(before) & set(after))
        b = [before[k]["size"] for k in common]
        a = [after[k]["size"] for k in common]
        print(f"{len(common)} in both: median {statistics.median(b)} -> {statistics.median(a)}, "
              f"largest {max(b)} -> {max(a)}, total {sum(b)} -> {sum(a)}; "
              f"{sum(x < y for x, y in zip(a, b))} shorter, {sum(x > y for x, y in zip(a, b))} longer")
        changed = sorted(common, key=lambda k: after[k]["size"] - before[k]["size"])
        for k in changed[:args.top] + changed[-args.top:]:
            print(f"{before[k]['size']:5d} -> {after[k]['size']:5d}  {k[0]}  d/d{k[1]}")
        return
    for r in sorted(after.values(), key=lambda r: -r["size"])[:args.top]:
        print(f"{r['size']:5d}  {r['problem']}  d/d{r['wrt']}: {r['result'][:150]}")


if __name__ == "__main__":
    main()
