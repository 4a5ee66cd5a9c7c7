"""Bring a raw gradient to the form a careful person would write, one named step at a time.

Three kinds of step, repeated until none applies:
- an elementwise derivative `f'(A)` is replaced by its line in elementwise.rules (`sigmoid'`), which
  writes it in terms of f itself;
- a subexpression equal to the body of one of the user's bindings is replaced by the binding's name
  (`sigmoid(X'*a)` → `w`), so results read in the user's own names;
- the clean-ups of simplify.rules, innermost first.
"""
from __future__ import annotations

from . import algebra
from .derivation import Step
from .differentiate import check_size
from .errors import DifferentiationError
from .match import Context, instantiate, rewrite_once
from .ops import Node, leaf
from .printing.readers.text import to_text
from .rules import Rule, RuleSet

MAX_REWRITES = 500


class Simplifier:
    def __init__(self, rules: RuleSet, bindings: dict[str, Node], steps: list[Step], label: str):
        self.rules = rules
        self.steps = steps
        self.label = label
        self.used: list[Rule] = []
        self.lifted = Context(lifted=True)
        self.plain = Context()
        # Fold the latest binding first: later bindings contain the earlier ones.
        self.folds = [(body, leaf("ref", body.shape, name, body.deps), f"{name} = {to_text(body)}")
                      for name, body in reversed(list(bindings.items()))]

    def run(self, expr: Node) -> Node:
        for _ in range(MAX_REWRITES):
            found = self._first_rewrite(expr)
            if found is None:
                return expr
            rule_name, path_result, note = found
            expr = check_size(path_result, "result")
            self.steps.append(Step(rule_name, self.label, expr, note))
        raise DifferentiationError(f"simplification did not settle after {MAX_REWRITES} rewrites")

    def _first_rewrite(self, expr: Node) -> tuple[str, Node, str] | None:
        """The innermost-first rewrite of `expr`, applied: (rule name, new expression, note)."""
        for i, a in enumerate(expr.args):
            found = self._first_rewrite(a)
            if found is not None:
                name, new_arg, note = found
                args = expr.args[:i] + (new_arg,) + expr.args[i + 1:]
                return name, algebra.rebuild(expr, args), note
        return self._rewrite_here(expr)

    def _rewrite_here(self, node: Node) -> tuple[str, Node, str] | None:
        if node.op == "fprime":
            rule = self.rules.elementwise.get(str(node.value))
            if rule is None:
                raise DifferentiationError(f"no derivative is known for the function {node.value!r}")
            self.used.append(rule)
            env = {"x": node.args[0]}
            return rule.name, instantiate(rule.rhs, env, self.lifted, node.shape), ""
        for body, ref, note in self.folds:
            if node == body:
                return "binding", ref, note
        result = rewrite_once(self.rules.simplify, node, self.plain)
        if result is None:
            return None
        rule, new = result
        self.used.append(rule)
        return rule.name, new, ""


def simplify(expr: Node, rules: RuleSet, bindings: dict[str, Node], steps: list[Step],
             label: str) -> tuple[Node, list[Rule]]:
    s = Simplifier(rules, bindings, steps, label)
    return s.run(expr), s.used
