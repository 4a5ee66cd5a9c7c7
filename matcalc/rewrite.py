"""Rewrite strategies: where, and how often, the rules of rules/ are applied.

A rule says what may replace what (match.py matches its left side and builds its right side); a
strategy says where in an expression rules are tried and when to stop. Every rewrite pass of matcalc
is one of these schedules:

- `first_match(rules, ctx)`: at the root, the first rule in file order that applies (the Frobenius,
  Jacobian and Kronecker identities, one differential rule per operator, the clean-ups);
- `innermost(strategy)`: at the first node, children before parents and left to right, where the
  strategy applies (simplification);
- `fixpoint(strategy, expr, ...)`: repeatedly, until the strategy no longer applies, with a guard
  that stops a rule set that cycles (a `RuleError` naming the rules of the cycle);
- `replace_markers(expr, is_marker, replace)`: once at each marker node, such as d(·) or jac(·),
  where the replacement unfolds the marker by further rewrites (differentiation).

Each rewrite reports itself as a `Rewrite`: which rule fired, on what, and what it produced. The
derivation's steps are recorded from these reports, never by comparing printed text.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from fractions import Fraction

from . import algebra
from .errors import RuleError
from .match import (
    ALIASES,
    Context,
    cost,
    guards_hold,
    instantiate,
    match,
    may_match,
    pattern_names,
    sharing_parts,
)
from .ops import COMMUTATIVE, NARY, Node, const_value
from .rules import Pattern, Rule, load_rules


@dataclass(frozen=True)
class Rewrite:
    """One rewrite: `name` (a rule's name, or a built-in rewrite such as "binding") turned `before`
    into `after`, by rewriting its subexpression `site` into `result` (the whole expression, unless
    the rewrite is `lifted` from a part). `rule` is the rule when it came from a rules file; `note`
    qualifies the step."""
    name: str
    before: Node
    after: Node
    rule: Rule | None = None
    note: str = ""
    site: Node | None = None
    result: Node | None = None

    def __post_init__(self) -> None:
        if self.site is None:
            object.__setattr__(self, "site", self.before)
            object.__setattr__(self, "result", self.after)

    def lifted(self, before: Node, after: Node) -> Rewrite:
        """The same rewrite seen from an enclosing expression."""
        return Rewrite(self.name, before, after, self.rule, self.note, self.site, self.result)


Strategy = Callable[[Node], "Rewrite | None"]


def apply_rule(rule: Rule, node: Node, ctx: Context) -> Node | None:
    """`rule` applied at the root of `node`: its right side for the first match whose guards hold,
    or None. A `not_larger` rule does not apply where its result is larger, and no rule applies
    where its result is the expression itself. A binding met again (`A.*(B + C)` meets the
    two operands of `B + C` as (B, C) from either end) is not tried again: it fared the same."""
    tried: set[frozenset] = set()
    with sharing_parts():
        for env in match(rule.lhs, node):
            key = frozenset(env.items())
            if key in tried:
                continue
            tried.add(key)
            if not guards_hold(rule, env, ctx):
                continue
            result = instantiate(rule.rhs, env, ctx, node.shape)
            if rule.not_larger and cost(result) > cost(node):
                continue
            if result == node:
                continue
            return result
    return None


def first_match(rules: Iterable[Rule], ctx: Context) -> Strategy:
    """The first rule (in file order) that applies at the root.

    A two-operand pattern of a commutative operator also applies to any two operands of a longer
    one: exp(A)./(exp(A) + 1) = sigmoid(A) rewrites y.*exp(a)./(exp(a) + 1) to y.*sigmoid(a).
    """
    rules = tuple(rules)
    by_root: dict[str, tuple[Rule, ...]] = {}

    def strategy(node: Node) -> Rewrite | None:
        candidates = by_root.get(node.op)
        if candidates is None:      # the rules whose left side can have this operator at its root
            candidates = by_root[node.op] = tuple(r for r in rules if _may_match(r, node.op))
        found = _first_whole(candidates, node, ctx)
        if found is not None or node.op not in COMMUTATIVE or len(node.args) <= 2:
            return found
        return _first_pair(candidates, node, ctx)

    return strategy


def _may_match(rule: Rule, op: str) -> bool:
    root = rule.lhs
    if root.kind == "op":
        return op in ALIASES.get(str(root.value), (str(root.value),))
    return root.kind != "eye" or op == "eye"


def _first_whole(rules: tuple[Rule, ...], node: Node, ctx: Context) -> Rewrite | None:
    for rule in rules:
        result = apply_rule(rule, node, ctx)
        if result is not None:
            return Rewrite(rule.name, node, result, rule)
    return None


def _first_pair(rules: tuple[Rule, ...], node: Node, ctx: Context) -> Rewrite | None:
    """The first pair of operands (i < j, in order) and the first rule of two operands that
    applies to them. Only the pairs that can fit a rule are built and tried (`_fitting_pairs`)."""
    build = algebra.add if node.op == "add" else algebra.hadamard
    candidates = tuple(r for r in rules if r.lhs.kind == "op" and len(r.lhs.args) == 2
                       and node.op in ALIASES.get(str(r.lhs.value), (str(r.lhs.value),)))
    for (i, j), fitting in _fitting_pairs(candidates, node.args):
        pair = build(node.args[i], node.args[j])
        found = _first_whole(fitting, pair, ctx) if pair.op == node.op else None
        if found is not None:
            rest = [a for k, a in enumerate(node.args) if k not in (i, j)]
            return found.lifted(node, build(found.after, *rest))
    return None


def _fitting_pairs(rules: tuple[Rule, ...], operands: tuple[Node, ...]
                   ) -> list[tuple[tuple[int, int], tuple[Rule, ...]]]:
    """The pairs (i, j), i < j, of operands that can fit the left side `P + Q` of one of the
    rules (either way round), in order, each with those rules in file order.

    A join instead of every pair: each side of a rule is matched against each operand alone,
    which gives the values its variables can take there; a pair fits only if P's values on one
    operand and Q's on the other agree on the variables P and Q share (`A*C + B*C`: the same C).
    So n operands cost n matches per side and the pairs that agree, not n²/2 matches.
    """
    fitting: dict[tuple[int, int], set[int]] = {}
    for k, rule in enumerate(rules):
        p, q = rule.lhs.args
        if rule.lhs.value == "sub":     # P - Q: Q fits the negation of an operand
            q = Pattern("op", "neg", (q,))
        shared = sorted(pattern_names(p) & pattern_names(q))
        on_p = [_solo_values(p, a, shared) for a in operands]
        on_q = [_solo_values(q, a, shared) for a in operands]
        by_value: dict[tuple, list[int]] = {}
        for j, values in enumerate(on_q):
            for v in values:
                by_value.setdefault(v, []).append(j)
        for i, values in enumerate(on_p):
            for v in values:
                for j in by_value.get(v, ()):
                    if i != j:
                        fitting.setdefault((min(i, j), max(i, j)), set()).add(k)
    return [(pair, tuple(rules[k] for k in sorted(fitting[pair]))) for pair in sorted(fitting)]


def _solo_values(pattern: Pattern, node: Node, shared: list[str]) -> set[tuple]:
    """The values the `shared` variables take in the matches of `pattern` against `node` alone."""
    if not may_match(pattern, node, {}):
        return set()
    return {tuple(env[name] for name in shared) for env in match(pattern, node)}


def choice(*strategies: Strategy) -> Strategy:
    """The first of `strategies` that applies."""
    def strategy(node: Node) -> Rewrite | None:
        for s in strategies:
            found = s(node)
            if found is not None:
                return found
        return None

    return strategy


def innermost(strategy: Strategy) -> Strategy:
    """`strategy` at the first node, children before parents and left to right, where it applies;
    the enclosing expression is rebuilt (and re-canonicalised) around the result.

    `strategy` must depend on the node alone: a subtree where it applies nowhere is remembered
    (`settled`), so that a fixpoint, which starts again from the root after every rewrite, walks
    only the part the rewrite changed. For the same reason a rewrite applies wherever its
    subexpression occurs, in one step (`replace_everywhere`): a subexpression a result repeats —
    the σ'(u) of every term of a deep network's Hessian, whose tree has Θ(L²) nodes and whose DAG
    Θ(L) — is rewritten once, not once per occurrence."""
    settled: set[Node] = set()

    def at(node: Node) -> Rewrite | None:
        """The rewrite at the first node where `strategy` applies, as that node's own."""
        if node in settled:
            return None
        for a in node.args:
            found = at(a)
            if found is not None:
                return found
        found = strategy(node)
        if found is None:
            settled.add(node)
        return found

    def everywhere(root: Node) -> Rewrite | None:
        found = at(root)
        if found is None:
            return None
        # the enclosing expression rebuilt once, around every occurrence (`before` is the node the
        # strategy rewrote: a long sum where it rewrote a pair of its operands)
        after = replace_everywhere(root, found.before, found.after, settled)
        return Rewrite(found.name, root, after, found.rule, found.note, found.site, found.result)

    return everywhere


def replace_everywhere(expr: Node, site: Node, result: Node,
                       settled: AbstractSet[Node] = frozenset()) -> Node:
    """`expr` with every occurrence of `site` replaced by `result`, each node that contains one
    rebuilt (and re-canonicalised) once however often the tree repeats it. A `settled` node — one
    where no rewrite applies anywhere — cannot contain `site`, where one does."""
    done: dict[int, Node] = {}
    key = hash(site)

    def go(node: Node) -> Node:
        if node is site or (hash(node) == key and node == site):
            return result
        if node.size <= site.size or not site.deps <= node.deps or node in settled:
            return node                 # too small to hold it, without its variables, or done
        if id(node) not in done:
            args = tuple(go(a) for a in node.args)
            changed = any(new is not old for new, old in zip(args, node.args))
            done[id(node)] = algebra.rebuild(node, args) if changed else node
        return done[id(node)]

    return go(expr)


def fixpoint(strategy: Strategy, expr: Node, on_rewrite: Callable[[Rewrite], None],
             limit: int, what: str) -> Node:
    """Apply `strategy` until it no longer applies; report each rewrite to `on_rewrite`.

    The termination guard: an expression seen before means the rules cycle, and `limit` rewrites
    without settling means they do not terminate; either raises a RuleError naming the rules.
    """
    seen: dict[Node, int] = {expr: 0}
    fired: list[str] = []
    while True:
        found = strategy(expr)
        if found is None:
            return expr
        on_rewrite(found)
        fired.append(found.name)
        expr = found.after
        if expr in seen:
            raise RuleError(f"the rules {_names(fired[seen[expr]:])} cycle in the {what}: they "
                            f"rewrite an expression back to itself")
        if len(fired) >= limit:
            raise RuleError(f"the {what} did not settle after {limit} rewrites; the rules "
                            f"{_names(fired[-limit // 10:])} keep applying")
        seen[expr] = len(fired)


def _names(fired: list[str]) -> str:
    return ", ".join(sorted(set(fired)))


def canonical_identities(rules: Iterable[Rule]) -> dict[str, list[Callable[[Node], Node | None]]]:
    """The lines of canonical.rules as the constructors of algebra.py use them: by the operator
    at the root of the left side, each a function from a node to its rewrite (or None)."""
    table: dict[str, list[Callable[[Node], Node | None]]] = {}
    ctx = Context()
    for rule in rules:
        if rule.lhs.kind == "call-f":
            heads: tuple[str, ...] = (algebra.ELEMENTWISE,)
        else:
            heads = ALIASES.get(str(rule.lhs.value), (str(rule.lhs.value),))
        could_match = _operand_test(rule.lhs)
        for head in heads:
            table.setdefault(head, []).append(
                lambda node, rule=rule, could_match=could_match:
                apply_rule(rule, node, ctx) if could_match(node) else None)
    return table


def _operand_test(lhs: Pattern) -> Callable[[Node], bool]:
    """A cheap test that a node's operands can fit the left side's: each operand written as an
    operator must be that operator, each number that number. The constructors try the canonical
    rules on every node they build; this rejects most before the matcher runs."""
    if lhs.kind not in ("op", "call-f") or str(lhs.value) in NARY:
        return lambda node: True
    operators = tuple((i, ALIASES.get(str(a.value), (str(a.value),)) if a.kind == "op" else ("eye",))
                      for i, a in enumerate(lhs.args) if a.kind in ("op", "eye"))
    numbers = tuple((i, Fraction(str(a.value))) for i, a in enumerate(lhs.args) if a.kind == "num")

    def test(node: Node) -> bool:
        return all(node.args[i].op in ops for i, ops in operators) and all(
            const_value(_number_of(node.args[i])) == n for i, n in numbers)

    return test


def _number_of(node: Node) -> Node:
    """A fill's entry (a pattern's number matches a matrix of that number, as in match.py; a
    zero matrix is the number 0)."""
    if node.op == "zero":
        return algebra.ZERO
    return node.args[0] if node.op == "fill" else node


def replace_markers(expr: Node, is_marker: Callable[[Node], bool],
                    replace: Callable[[Node], Node]) -> Node:
    """`expr` with each marker node (d(·), jac(·), …) replaced by `replace(marker)`, once, the
    tree rebuilt (and re-canonicalised) around the replacements. Markers sit below `has_d` nodes:
    subtrees without a differential are kept as they are."""
    done: dict[int, Node] = {}          # a subtree the tree repeats: rebuilt once

    def go(node: Node) -> Node:
        if is_marker(node):
            return replace(node)
        if not node.has_d:
            return node
        if id(node) not in done:
            done[id(node)] = algebra.rebuild(node, tuple(go(a) for a in node.args))
        return done[id(node)]

    return go(expr)


algebra.CANONICAL.update(canonical_identities(load_rules().canonical))

__all__ = [
    "Rewrite",
    "Strategy",
    "apply_rule",
    "canonical_identities",
    "choice",
    "first_match",
    "fixpoint",
    "innermost",
    "replace_everywhere",
    "replace_markers",
]
