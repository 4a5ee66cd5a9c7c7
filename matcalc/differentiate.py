"""Differentiate by differentials: d(f) by the rules of differentials.rules, then df = G : d(X).

Two phases, each a loop over rules and nothing else:

1. `Differentiator.d` walks the expression. At each node that depends on the variable it applies the
   one differential rule that matches (product, inverse, elementwise-chain, …), with `d(·)` of the
   operands left as markers, and records the step; then it replaces each marker by that operand's
   own differential. Bindings are differentiated once and their names kept: d(w) for w = sigmoid(v).
2. `to_gradient` writes the scalar differential as 1 : df and applies frobenius.rules until every
   term reads G_i : d(X); the gradient is the sum of the G_i. For a vector or matrix function,
   `LinearFormPass` reads the matrix of the linear map instead: the Jacobian (df = J*d(x), by
   jacobian.rules) or the Kronecker form (vec(dF) = K*vec(d(X)), by kronecker.rules).

This module never names an operator of the language; the rules files do.
"""
from __future__ import annotations

from . import algebra
from .derivation import Step
from .errors import DifferentiationError
from .match import Context, guards_hold, instantiate, match, rewrite_once
from .ops import NARY, SCALAR, Node, dim_product
from .printing.readers.text import to_text
from .rules import Rule, RuleSet

MAX_STEPS = 2_000
MAX_SIZE = 20_000     # nodes in one expression (as a tree): derivatives that blow up stop here


def check_size(node: Node, what: str) -> Node:
    if node.size > MAX_SIZE:
        raise DifferentiationError(
            f"the {what} grows beyond {MAX_SIZE:,} terms (the expression's derivative blows up in "
            f"size); bind repeated parts to names, or differentiate a smaller expression")
    return node


def marker(node: Node) -> Node:
    """The differential d(node), unevaluated."""
    return Node("d", (node,), node.shape)


class Differentiator:
    """d(·) of expressions, with respect to the variable `wrt`, recording every rule applied."""

    def __init__(self, rules: RuleSet, wrt: str, bindings: dict[str, Node], steps: list[Step]):
        self.rules = rules
        self.wrt = wrt
        self.bindings = bindings
        self.steps = steps
        self.used: list[Rule] = []
        self.memo: dict[Node, Node] = {}
        self.ctx = Context(wrt=wrt, on_d=self._on_d)

    def _on_d(self, node: Node) -> Node:
        return algebra.zero(node.shape) if self.wrt not in node.deps else marker(node)

    def d(self, node: Node) -> Node:
        """The differential of `node`: an expression whose only differentials are d(wrt)."""
        if self.wrt not in node.deps:
            return algebra.zero(node.shape)
        if node.op == "var":
            return marker(node)
        if node in self.memo:
            return self.memo[node]
        if len(self.steps) > MAX_STEPS:
            raise DifferentiationError(f"the derivation exceeded {MAX_STEPS} steps; the expression "
                                       f"is too large to differentiate symbolically")
        if node.op == "ref":
            body = self.bindings[str(node.value)]
            self.steps.append(Step("binding", marker(node), marker(body),
                                   f"{node.value} = {to_text(body)}"))
            result = self.d(body)
        else:
            rule, expanded = self.expand(node)
            self.used.append(rule)
            self.steps.append(Step(rule.name, marker(node), expanded))
            result = check_size(self.substitute(expanded), "differential")
        self.memo[node] = result
        return result

    def expand(self, node: Node) -> tuple[Rule, Node]:
        """Apply the differential rule for `node`'s operator, leaving d(operand) markers.

        For an associative operator the rule is written for two operands (d(A*B) = d(A)*B + A*d(B));
        a longer chain binds B to the rest, and d(rest) is expanded by the same rule in the same
        step, so d(A*B*C) reads as one application of `product`.
        """
        target = marker(node)
        for rule in self.rules.differentials:
            for env in match(rule.lhs, target):
                if guards_hold(rule, env, self.ctx):
                    expanded = instantiate(rule.rhs, env, self.ctx, node.shape)
                    if node.op in NARY:
                        expanded = self._expand_nested(expanded, node.op, rule)
                    return rule, expanded
        raise DifferentiationError(f"no differential rule applies to {to_text(node)} "
                                   f"(operator {node.op!r})")

    def _expand_nested(self, expr: Node, op: str, rule: Rule) -> Node:
        if expr.op == "d" and expr.args[0].op == op:
            inner = expr.args[0]
            for env in match(rule.lhs, expr):
                if guards_hold(rule, env, self.ctx):
                    return self._expand_nested(instantiate(rule.rhs, env, self.ctx, inner.shape),
                                               op, rule)
        if not expr.args:
            return expr
        return algebra.rebuild(expr, tuple(self._expand_nested(a, op, rule) for a in expr.args))

    def substitute(self, expr: Node) -> Node:
        """Replace every marker d(C) by the differential of C."""
        if expr.op == "d":
            inner = expr.args[0]
            return marker(inner) if inner.op == "var" else self.d(inner)
        if not expr.has_d:
            return expr
        return algebra.rebuild(expr, tuple(self.substitute(a) for a in expr.args))


def frobenius_terms(expr: Node) -> list[Node]:
    return list(expr.args) if expr.op == "add" else ([] if algebra.is_zero(expr) else [expr])


def to_gradient(df: Node, variable: Node, rules: RuleSet, steps: list[Step],
                what: str = "f") -> Node:
    """From a scalar differential df, linear in d(variable), the gradient G with df = G : d(X).

    `what` names the function in the steps (`df`, `∂f/∂X`).
    """
    if not df.is_scalar:
        raise DifferentiationError("only scalar functions have a gradient")
    terminal = marker(variable)
    ctx = Context(wrt=variable.value)  # type: ignore[arg-type]
    terms = [Node("frob", (algebra.ONE, df), SCALAR)] if not algebra.is_zero(df) else []
    while True:
        pending = next((i for i, t in enumerate(terms) if t.args[1] != terminal), None)
        if pending is None:
            break
        term = terms[pending]
        result = rewrite_once(rules.frobenius, term, ctx)
        if result is None:
            raise DifferentiationError(
                f"cannot bring {to_text(term.args[1])} into the form G : d({variable.value}): no "
                f"Frobenius identity applies (operator {term.args[1].op!r}); the differential may "
                f"not be linear in d({variable.value})")
        rule, new = result
        new_terms = frobenius_terms(new)
        terms[pending:pending + 1] = new_terms
        # 1 : X prints as X, so 1 : (A + B) → 1 : A + 1 : B reads the same: not a step to show
        if to_text(term) != to_text(_sum_of_terms(new_terms)):
            steps.append(Step(rule.name, f"d{what}", _sum_of_terms(terms)))
        if len(steps) > MAX_STEPS:
            raise DifferentiationError(f"the derivation exceeded {MAX_STEPS} steps")
    gradient = algebra.add(*(t.args[0] for t in terms)) if terms else algebra.zero(variable.shape)
    if gradient.shape != variable.shape:   # 1 : d(x) for a scalar x seen through a fill
        gradient = algebra.fill(gradient, variable.shape)
    steps.append(Step("gradient", f"∂{what}/∂{variable.value}", gradient,
                      f"d{what} = G : d({variable.value})"))
    return gradient


class LinearFormPass:
    """From a differential linear in d(x), the matrix of the linear map, by a rules file.

    `op` "jac" (jacobian.rules): df = J*d(x) for a column f and a vector x — the Jacobian.
    `op` "kvec" (kronecker.rules): vec(dF) = K*vec(d(X)) with the column-major vec.
    The rules rewrite op(E) — "the M with (vec) E = M*d(x)" — until only op(d(x)) = eye is left;
    a scalar part s of E is read off by the Frobenius pass, op(s) = vec(∂s/∂x)'.
    """

    def __init__(self, variable: Node, rules: list[Rule], frobenius: RuleSet, steps: list[Step],
                 op: str = "jac"):
        self.variable = variable
        self.rules = rules
        self.frobenius = frobenius
        self.steps = steps
        self.op = op
        self.cols = variable.shape[0] if op == "jac" else dim_product(*variable.shape)
        self.ctx = Context(wrt=str(variable.value), on_form=self._marker)

    def _rows(self, node: Node) -> object:
        return node.shape[0] if self.op == "jac" else dim_product(*node.shape)

    def _marker(self, node: Node) -> Node:
        if not node.has_d:
            return algebra.zero((self._rows(node), self.cols))
        return Node(self.op, (node,), (self._rows(node), self.cols))

    def form(self, expr: Node) -> Node:
        if not expr.has_d:
            return algebra.zero((self._rows(expr), self.cols))
        if expr.is_scalar:
            gradient = to_gradient(expr, self.variable, self.frobenius, self.steps,
                                   what=f"({to_text(expr)})")
            return algebra.transpose(algebra.apply("vec", gradient))
        target = self._marker(expr)
        result = rewrite_once(self.rules, target, self.ctx)
        if result is None:
            raise DifferentiationError(
                f"cannot write {to_text(expr)} as a matrix times d({self.variable.value}): no "
                f"identity of {self.op} applies (operator {expr.op!r})")
        rule, expanded = result
        self.steps.append(Step(rule.name, target, expanded))
        return self._substitute(expanded)

    def _substitute(self, expr: Node) -> Node:
        if expr.op == self.op:
            return self.form(expr.args[0])
        if not any(n.op == self.op for n in expr.walk()):
            return expr
        return algebra.rebuild(expr, tuple(self._substitute(a) for a in expr.args))


def _sum_of_terms(terms: list[Node]) -> Node:
    if not terms:
        return algebra.ZERO
    if len(terms) == 1:
        return terms[0]
    return Node("add", tuple(terms), SCALAR)
