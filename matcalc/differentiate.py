"""Differentiate by differentials: d(f) by the rules of differentials.rules, then df = G : d(X).

Two phases, each a schedule of rewrite.py over a rules file:

1. `Differentiator.d` walks the expression. At each node that depends on the variable it applies the
   first differential rule that matches (product, inverse, elementwise-chain, …), with `d(·)` of the
   operands left as markers, and records the step; then it replaces each marker by that operand's
   own differential (`replace_markers`). Bindings are differentiated once and their names kept:
   d(w) for w = sigmoid(v). A long matrix product's differential names its partial products
   (partial_products.py) rather than write out Θ(n²) factors.
2. `to_gradient` writes the scalar differential as 1 : df and applies frobenius.rules to its first
   pending term until every term reads G_i : d(X) (`fixpoint`); the gradient is the sum of the G_i.
   For a vector or matrix function, `LinearFormPass` reads the matrix of the linear map instead: the
   Jacobian (df = J*d(x), by jacobian.rules) or the Kronecker form (vec(dF) = K*vec(d(X)), by
   kronecker.rules).

This module never names an operator of the language; the rules files do.
"""
from __future__ import annotations

from collections.abc import Generator

from . import algebra
from .derivation import Label, Step
from .errors import DifferentiationError
from .match import Context
from .ops import NARY, SCALAR, Node, const_value, dim_product
from .partial_products import PartialNames, partial_products
from .printing.readers.text import to_text
from .rewrite import Rewrite, Strategy, first_match, fixpoint, replace_markers
from .rules import Rule, RuleSet

MAX_STEPS = 2_000
MAX_SIZE = 20_000     # nodes in one expression (as a tree): derivatives that blow up stop here
MAX_REWRITES = 10 * MAX_STEPS   # the Frobenius pass's guard; unshown rewrites count too
# Levels of nesting in a differential: the printers and the code generator recurse about five Python
# frames per level, and Python stops at 1,000 frames, so a deeper result could not be printed.
MAX_DEPTH = 180


def check_size(node: Node, what: str) -> Node:
    if node.size > MAX_SIZE:
        raise DifferentiationError(
            f"the {what} grows beyond {MAX_SIZE:,} terms (the expression's derivative blows up in "
            f"size); bind repeated parts to names, or differentiate a smaller expression")
    return node


def check_depth(node: Node, what: str) -> Node:
    depths: dict[int, int] = {}
    for n in node.distinct():       # children before parents
        depths[id(n)] = 1 + max((depths[id(a)] for a in n.args), default=0)
        if depths[id(n)] > MAX_DEPTH:
            raise DifferentiationError(
                f"the {what} nests more than {MAX_DEPTH} levels deep (the expression is too large "
                f"to differentiate symbolically); bind repeated parts to names, or use smaller "
                f"matrix powers")
    return node


def check_steps(steps: list[Step]) -> None:
    if len(steps) > MAX_STEPS:
        raise DifferentiationError(f"the derivation exceeded {MAX_STEPS} steps; the expression "
                                   f"is too large to differentiate symbolically")


def marker(node: Node) -> Node:
    """The differential d(node), unevaluated."""
    return Node("d", (node,), node.shape)


def is_marker(node: Node) -> bool:
    return node.op == "d"


class Differentiator:
    """d(·) of expressions, with respect to the variable `wrt`, recording every rule applied."""

    def __init__(self, rules: RuleSet, wrt: str, bindings: dict[str, Node], steps: list[Step],
                 written: dict[str, Node] | None = None, partials: PartialNames | None = None):
        self.wrt = wrt
        self.bindings = bindings
        # given: a long product's partial products are named (partial_products.py) and defined
        # there, beside the bindings
        self.partials = partials
        # the bindings as their user wrote them (Problem.written): what a step's note restates
        self.written = written or bindings
        self.steps = steps
        self.used: list[Rule] = []
        self.memo: dict[Node, Node] = {}
        self.ctx = Context(wrt=wrt, on_d=self._on_d)
        self.differential = first_match(rules.differentials, self.ctx)

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
        check_steps(self.steps)
        if node.op == "ref":
            body = self.bindings[str(node.value)]
            self.steps.append(Step("binding", marker(node), marker(body),
                                   f"{node.value} = {to_text(self.written[str(node.value)])}"))
            result = self.d(body)
        else:
            rule, expanded, note = self.expand(node)
            self.used.append(rule)
            self.steps.append(Step(rule.name, marker(node), expanded, note))
            result = check_size(replace_markers(expanded, is_marker, self._differential_of),
                                "differential")
        self.memo[node] = result
        return result

    def _differential_of(self, d_node: Node) -> Node:
        inner = d_node.args[0]
        return d_node if inner.op == "var" else self.d(inner)

    def expand(self, node: Node) -> tuple[Rule, Node, str]:
        """Apply the differential rule for `node`'s operator, leaving d(operand) markers; with
        the step's note.

        For an associative operator the rule is written for two operands (d(A*B) = d(A)*B + A*d(B));
        a longer chain binds B to the rest, and d(rest) is expanded by the same rule in the same
        step, so d(A*B*C) reads as one application of `product`. A long matrix product's
        expansion names its partial products instead (partial_products.py), where asked to.
        """
        found = self.differential(marker(node))
        if found is None or found.rule is None:
            raise DifferentiationError(f"no differential rule applies to {to_text(node)} "
                                       f"(operator {node.op!r})")
        if node.op in NARY and self.partials is not None:
            named = partial_products(node, self.wrt, self.partials.is_matrix,
                                     self.partials.taken(), marker)
            if named is not None:
                expanded, definitions = named
                self.partials.define(definitions)
                note = "partial products named: " + ", ".join(
                    f"{name} = {to_text(body)}" for name, body in definitions)
                return found.rule, expanded, note
        expanded = found.after
        if node.op in NARY:
            expanded = self._expand_nested(expanded, node.op, first_match((found.rule,), self.ctx))
        return found.rule, expanded, ""

    @staticmethod
    def _expand_nested(expr: Node, op: str, same_rule: Strategy) -> Node:
        """`expr` with each d(·) of an `op` node expanded by the same rule, and so on inside the
        expansion (as `replace_markers` would, the tree rebuilt around each expansion). A sum
        of n terms is n expansions inside one another: they run from an explicit stack, not by
        recursion, so that n is not bounded by Python's recursion limit."""
        def replace(node: Node) -> Generator[Generator, Node, Node]:
            if node.op == "d" and node.args[0].op == op:
                found = same_rule(node)
                return node if found is None else (yield replace(found.after))
            if not node.has_d:
                return node
            args = []
            for a in node.args:
                args.append((yield replace(a)))
            return algebra.rebuild(node, tuple(args))

        return _unrecursed(replace(expr))


def _unrecursed(call: Generator[Generator, Node, Node]) -> Node:
    """Run a recursive function written as a generator — it yields the generator of each call it
    would make, and is sent that call's result — from a stack of its own."""
    stack = [call]
    value: Node | None = None
    while stack:
        try:
            stack.append(stack[-1].send(value))  # type: ignore[arg-type]
            value = None
        except StopIteration as done:
            stack.pop()
            value = done.value
    assert value is not None
    return value


def frobenius_terms(expr: Node) -> list[Node]:
    return list(expr.args) if expr.op == "add" else ([] if algebra.is_zero(expr) else [expr])


def to_gradient(df: Node, variable: Node, rules: RuleSet, steps: list[Step],
                what: str = "f") -> Node:
    """From a scalar differential df, linear in d(variable), the gradient G with df = G : d(X).

    `what` names the function in the steps (`df`, `∂f/∂X`).
    """
    if not df.is_scalar:
        raise DifferentiationError("only scalar functions have a gradient")
    check_depth(df, "differential")
    terminal = marker(variable)
    frobenius = first_match(rules.frobenius, Context(wrt=variable.value))  # type: ignore[arg-type]

    # the state this pass made last, and how many of its first terms read G : d(X): a rewrite
    # replaces the first pending term, so the next one is not before it
    settled: list = [None, 0]

    def pending_term(state: Node) -> Rewrite | None:
        """The first Frobenius identity applied to the first term not yet G : d(X)."""
        terms = frobenius_terms(state)
        start = settled[1] if state is settled[0] else 0
        pending = next((i for i in range(start, len(terms)) if terms[i].args[1] != terminal),
                       None)
        if pending is None:
            return None
        found = frobenius(terms[pending])
        if found is None:
            raise DifferentiationError(
                f"cannot bring {to_text(terms[pending].args[1])} into the form G : d("
                f"{variable.value}): no Frobenius identity applies (operator "
                f"{terms[pending].args[1].op!r}); the differential may not be linear in "
                f"d({variable.value})")
        terms[pending:pending + 1] = frobenius_terms(found.after)
        settled[:] = [_sum_of_terms(terms), pending]
        return found.lifted(state, settled[0])

    def record(rewrite: Rewrite) -> None:
        if reading(rewrite.site) != reading(rewrite.result):  # type: ignore[arg-type]
            steps.append(Step(rewrite.name, Label("differential", of=what), rewrite.after))
            check_steps(steps)

    start = _sum_of_terms([Node("frob", (algebra.ONE, df), SCALAR)] if not algebra.is_zero(df)
                          else [])
    done = fixpoint(pending_term, start, record, MAX_REWRITES, "Frobenius pass")
    terms = frobenius_terms(done)
    gradient = algebra.add(*(t.args[0] for t in terms)) if terms else algebra.zero(variable.shape)
    if gradient.shape != variable.shape:   # 1 : d(x) for a scalar x seen through a fill
        gradient = algebra.fill(gradient, variable.shape)
    steps.append(Step("gradient", Label("gradient", str(variable.value), of=what), gradient,
                      f"d{what} = G : d({variable.value})"))
    return gradient


def reading(node: Node) -> Node:
    """A term of the Frobenius pass as it reads: `1 : X` reads X, and `s : t` of two scalars the
    product s*t, in that order. A rewrite that leaves the reading unchanged (1 : (A + B) →
    1 : A + 1 : B, 1 : (2*B) → 2 : B) only moves the pass along: not a step a reader needs."""
    if node.op == "frob":
        left, right = node.args
        if const_value(left) == 1:
            return reading(right)
        if left.is_scalar and right.is_scalar:
            return Node("matmul", _factors(reading(left)) + _factors(reading(right)), SCALAR)
    if node.op == "add":
        return Node("add", tuple(t for a in node.args for t in _terms(reading(a))), SCALAR)
    return node


def _factors(node: Node) -> tuple[Node, ...]:
    """The factors of a product of scalars; a 1×1 chain such as w'*v is one factor, as in
    algebra.mul."""
    return node.args if node.op == "matmul" and all(a.is_scalar for a in node.args) else (node,)


def _terms(node: Node) -> tuple[Node, ...]:
    return node.args if node.op == "add" else (node,)


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
        self.frobenius = frobenius
        self.steps = steps
        self.op = op
        self.cols = variable.shape[0] if op == "jac" else dim_product(*variable.shape)
        self.identity = first_match(rules, Context(wrt=str(variable.value),
                                                   on_form=self._marker))
        # op(E) of each E met: a differential repeats its parts (a deep network's Hessian, Θ(L²)
        # occurrences of Θ(L) distinct ones), each found and recorded as a step once
        self._forms: dict[Node, Node] = {}

    def _rows(self, node: Node) -> object:
        return node.shape[0] if self.op == "jac" else dim_product(*node.shape)

    def _marker(self, node: Node) -> Node:
        if not node.has_d:
            return algebra.zero((self._rows(node), self.cols))
        return Node(self.op, (node,), (self._rows(node), self.cols))

    def form(self, expr: Node) -> Node:
        if expr not in self._forms:
            self._forms[expr] = self._form(expr)
        return self._forms[expr]

    def _form(self, expr: Node) -> Node:
        if not expr.has_d:
            return algebra.zero((self._rows(expr), self.cols))
        if expr.is_scalar:
            gradient = to_gradient(expr, self.variable, self.frobenius, self.steps,
                                   what=f"({to_text(expr)})")
            return algebra.transpose(algebra.apply("vec", gradient))
        found = self.identity(self._marker(expr))
        if found is None:
            raise DifferentiationError(
                f"cannot write {to_text(expr)} as a matrix times d({self.variable.value}): no "
                f"identity of {self.op} applies (operator {expr.op!r})")
        self.steps.append(Step(found.name, found.before, found.after))
        return replace_markers(found.after, lambda n: n.op == self.op,
                               lambda n: self.form(n.args[0]))


def _sum_of_terms(terms: list[Node]) -> Node:
    if not terms:
        return algebra.ZERO
    if len(terms) == 1:
        return terms[0]
    return Node("add", tuple(terms), SCALAR)
