"""Bring a raw gradient to the form a careful person would write, one named step at a time.

Three kinds of step, at the innermost node first, repeated until none applies (rewrite.py's
`fixpoint(innermost(...))`):
- an elementwise derivative `f'(A)` is replaced by its line in elementwise.rules (`sigmoid'`), which
  writes it in terms of f itself;
- a subexpression equal to the body of one of the user's bindings is replaced by the binding's name
  (`sigmoid(X'*a)` → `w`), so results read in the user's own names;
- the clean-ups of simplify.rules, innermost first.
"""
from __future__ import annotations

from .derivation import Label, Step
from .differentiate import check_size
from .errors import DifferentiationError
from .match import Context, instantiate
from .ops import Node, leaf
from .printing.readers.text import to_text
from .rewrite import Rewrite, choice, first_match, fixpoint, innermost
from .rules import Rule, RuleSet

MAX_REWRITES = 500


class Simplifier:
    def __init__(self, rules: RuleSet, bindings: dict[str, Node], steps: list[Step], label: Label,
                 written: dict[str, Node] | None = None):
        self.elementwise = rules.elementwise
        self.steps = steps
        self.label = label
        self.used: list[Rule] = []
        self.lifted = Context(lifted=True)
        cleanups = first_match(rules.simplify, Context())
        # Fold the latest binding first: later bindings contain the earlier ones. A body is also
        # folded in the form the clean-ups give it, since they rewrite its parts before the fold
        # sees the whole (a./(1 + exp(a)) is a.*sigmoid(-a) by then).
        # body → (its name, the note): the first binding to claim a body keeps it
        self.folds: dict[Node, tuple[Node, str]] = {}
        for name, body in reversed(list(bindings.items())):
            ref = leaf("ref", body.shape, name, body.deps)
            note = f"{name} = {to_text((written or bindings)[name])}"   # as the user wrote it
            self.folds.setdefault(body, (ref, note))
            cleaned = fixpoint(innermost(cleanups), body, lambda _: None, MAX_REWRITES,
                               "simplification of a binding")
            if cleaned != body:
                self.folds.setdefault(cleaned, (ref, note))
        self.strategy = innermost(choice(self._derivative, self._fold, cleanups))

    def run(self, expr: Node) -> Node:
        return fixpoint(self.strategy, expr, self._record, MAX_REWRITES, "simplification")

    def _record(self, rewrite: Rewrite) -> None:
        if rewrite.rule is not None:
            self.used.append(rewrite.rule)
        check_size(rewrite.after, "result")
        self.steps.append(Step(rewrite.name, self.label, rewrite.after, rewrite.note))

    def _derivative(self, node: Node) -> Rewrite | None:
        """f'(A) by its line in elementwise.rules."""
        if node.op != "fprime":
            return None
        rule = self.elementwise.get(str(node.value))
        if rule is None:
            raise DifferentiationError(f"no derivative is known for the function {node.value!r}")
        after = instantiate(rule.rhs, {"x": node.args[0]}, self.lifted, node.shape)
        return Rewrite(rule.name, node, after, rule)

    def _fold(self, node: Node) -> Rewrite | None:
        """A subexpression equal to a binding's body → the binding's name."""
        found = self.folds.get(node)
        return None if found is None else Rewrite("binding", node, found[0], note=found[1])


def simplify(expr: Node, rules: RuleSet, bindings: dict[str, Node], steps: list[Step],
             label: Label, written: dict[str, Node] | None = None) -> tuple[Node, list[Rule]]:
    s = Simplifier(rules, bindings, steps, label, written)
    return s.run(expr), s.used
