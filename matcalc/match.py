"""Match a rule's pattern against an expression; instantiate a rule's template.

Generic over operators: nothing here knows what `tr` or `sigmoid` mean. Associative operators
(`+`, `*`, `.*`) hold any number of operands; a binary pattern `B*C` matches a product at every split
point (B = first i factors, C = the rest), and `B.*C` / `B + C` match any one operand against either
side. Matching yields every way a pattern fits, so guards can choose among them.

What it costs: a split's part of several operands is a node of its own, built only when the other
side can match the operand it faces (`may_match`, a test of the operator at the root and of bound
variables), and kept on the node it was split from (`Node.memo`), so a long sum or product is not
rebuilt for every rule and every pass that looks at it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

from . import algebra
from .errors import RuleError
from .operators import is_elementwise, is_symmetric
from .ops import COMMUTATIVE, NARY, Node, Shape, const_value, number
from .rules import ANY, FUNCTION, SCALAR, VARIABLE_KINDS, Pattern, Rule

Env = dict[str, object]

# Pattern operator → the tree operators it stands for.
ALIASES = {"diag": ("diagm", "diagv"), "sub": ("add",)}


@dataclass
class Context:
    """What guards and templates need to know about the derivation in progress."""
    wrt: str = ""
    on_d: Callable[[Node], Node] | None = None     # how to instantiate d(·) in a template
    on_form: Callable[[Node], Node] | None = None  # how to instantiate jac(·)/kvec(·) in a template
    lifted: bool = False                           # instantiate elementwise.rules formulas


def match(pattern: Pattern, node: Node, env: Env | None = None) -> Iterator[Env]:
    """Every binding of the pattern variables under which `pattern` is `node` (extending `env`)."""
    matcher = _MATCHERS.get(pattern.kind)
    if matcher is None:
        raise RuleError(f"a {pattern.kind} cannot appear on the left side of a rule")
    return matcher(pattern, node, dict(env or {}))


def _match_num(pattern: Pattern, node: Node, env: Env) -> Iterator[Env]:
    """A number, or a matrix of that number (the 1 of exp(A) + 1 broadcasts)."""
    value = const_value(node.args[0] if node.op == "fill" else node)
    value = 0 if node.op == "zero" else value       # a zero matrix is the number 0 too
    if value is not None and value == _fraction(str(pattern.value)):
        yield env


def _match_eye(pattern: Pattern, node: Node, env: Env) -> Iterator[Env]:
    if node.op == "eye":
        yield env


def _match_function(pattern: Pattern, node: Node, env: Env) -> Iterator[Env]:
    """f(A) for a function variable f: any elementwise function, the same one at each f."""
    if is_elementwise(node.op) and env.setdefault(str(pattern.value), node.op) == node.op:
        yield from _match_args(pattern.args, node.args, env)


def _match_var(pattern: Pattern, node: Node, env: Env) -> Iterator[Env]:
    name = str(pattern.value)
    if VARIABLE_KINDS[name] == SCALAR and not node.is_scalar:
        return
    if env.setdefault(name, node) == node:
        yield env


def _match_op(pattern: Pattern, node: Node, env: Env) -> Iterator[Env]:
    op = str(pattern.value)
    if op in _SIGNED:
        yield from _SIGNED[op](pattern, node, env)
        return
    if node.op not in ALIASES.get(op, (op,)):
        return
    if _splits_apply(op, len(pattern.args), len(node.args)):
        yield from _match_splits(pattern.args, node, env)
    elif len(pattern.args) == len(node.args):
        yield from _match_args(pattern.args, node.args, env)


def _match_neg(pattern: Pattern, node: Node, env: Env) -> Iterator[Env]:
    """-A matches any expression: A is its negation (`exp(-A)` matches exp(-x) with A = x, and
    exp(x) with A = -x)."""
    yield from match(pattern.args[0], algebra.neg(node), env)


def _match_sub(pattern: Pattern, node: Node, env: Env) -> Iterator[Env]:
    """A - B matches a sum at every term written with a minus sign (a negative coefficient), B its
    negation, A the rest (`1 - sigmoid(a)` is the sum of 1 and -1*sigmoid(a)). The term is tried
    first: the rest is built only for a term whose negation fits B."""
    if node.op != "add":
        return
    minuend, subtrahend = pattern.args
    if len(node.args) > 2 and minuend.kind != "var" and \
            not (minuend.kind == "op" and minuend.value in ("add", "sub", "neg")):
        return              # the rest of a canonical sum is a sum: it cannot fit the minuend
    for i, term in enumerate(node.args):
        coefficient, monomial = algebra.split_coefficient(_entry(term))
        if not coefficient < 0:
            continue        # a minus sign matches a term written with one
        if term.op == "fill":
            negated = algebra.fill(algebra.scale(-coefficient, monomial), term.shape)
        else:
            negated = monomial if coefficient == -1 else algebra.scale(-coefficient, monomial)
        for env2 in match(subtrahend, negated, env):
            yield from match(minuend, algebra.without(node, i), env2)


def _entry(term: Node) -> Node:
    """A broadcast scalar's entry (its sign is the term's), else the term."""
    return term.args[0] if term.op == "fill" else term


# Patterns with a minus sign: the tree has no such operator (a - b is a + (-1)*b).
_SIGNED = {"neg": _match_neg, "sub": _match_sub}

def _splits_apply(op: str, patterns: int, operands: int) -> bool:
    """Does a pattern of `op` with this many operands match by splits of the node's operands?"""
    return patterns == 2 and (op in NARY and operands > 2 or op in COMMUTATIVE)


def may_match(pattern: Pattern, node: Node, env: Env) -> bool:
    """A necessary condition for `match(pattern, node, env)` to yield, cheap to test: the operator
    at the root, the arity, a variable's kind and bound value. (A match under more bindings is a
    match under fewer, so testing with part of the bindings is safe.)"""
    kind = pattern.kind
    if kind == "var":
        name = str(pattern.value)
        if VARIABLE_KINDS[name] == SCALAR and not node.is_scalar:
            return False
        return name not in env or env[name] == node
    if kind == "op":
        op = str(pattern.value)
        if op in _SIGNED:           # -A fits anything; A - B, a sum
            return op == "neg" or node.op == "add"
        return node.op in ALIASES.get(op, (op,)) and (
            len(pattern.args) == len(node.args)
            or _splits_apply(op, len(pattern.args), len(node.args)))
    if kind == "call-f":
        return is_elementwise(node.op) and env.get(str(pattern.value), node.op) == node.op
    if kind == "eye":
        return node.op == "eye"
    return True


_MATCHERS = {"var": _match_var, "num": _match_num, "eye": _match_eye, "call-f": _match_function,
             "op": _match_op}


@cache
def _fraction(text: str) -> Fraction:
    return Fraction(text)


def _match_args(patterns: tuple[Pattern, ...], nodes: tuple[Node, ...], env: Env) -> Iterator[Env]:
    if not patterns:
        yield env
        return
    for env2 in match(patterns[0], nodes[0], env):
        yield from _match_args(patterns[1:], nodes[1:], env2)


_BUILD = {"add": algebra.add, "matmul": algebra.mul, "hadamard": algebra.hadamard}


def _match_splits(patterns: tuple[Pattern, ...], node: Node, env: Env) -> Iterator[Env]:
    """A binary pattern against every way to see an n-ary node as (left op right): for `+` and
    `.*` one operand on either side and the others on the other, for `*` the first i factors and
    the rest. A split whose one-operand side cannot match is passed over without building the
    other side. Of two operands, the second gives the same two splits as the first, in the other
    order: they are not matched twice."""
    left_p, right_p = patterns
    args = node.args
    if node.op in COMMUTATIVE:
        for i, a in enumerate(args[:1] if len(args) == 2 else args):
            if may_match(right_p, a, env):
                yield from _match_args(patterns, (_part(node, i), a), env)
            if may_match(left_p, a, env):
                yield from _match_args(patterns, (a, _part(node, i)), env)
        return
    last = len(args) - 1
    # (C*A)*C: the right side a variable the left binds first, so the right run of factors must
    # occur among the left's — its first factor at least (a product's splits of splits otherwise
    # cost the square of its length)
    repeated = right_p.kind == "var" and str(right_p.value) not in env \
        and str(right_p.value) in pattern_names(left_p)
    for i in range(1, len(args)):
        if (i == 1 and not may_match(left_p, args[0], env)) or (
                i == last and not may_match(right_p, args[last], env)):
            continue
        if repeated and args[i] not in args[:i]:
            continue
        yield from _match_args(patterns, (_chain(node, 0, i), _chain(node, i, len(args))), env)


@cache
def pattern_names(pattern: Pattern) -> frozenset[str]:
    """The pattern variables (and function variables) a pattern binds."""
    own = {str(pattern.value)} if pattern.kind in ("var", "call-f") else set()
    return frozenset(own.union(*(pattern_names(a) for a in pattern.args)))


def _part(node: Node, i: int) -> Node:
    """The operands of a commutative node but the i-th, as one node."""
    def make() -> Node:
        if node.op == "add":
            return algebra.without(node, i)
        rest = node.args[:i] + node.args[i + 1:]
        return rest[0] if len(rest) == 1 else _BUILD[node.op](*rest)
    return node.remember(("part", i), make)  # type: ignore[return-value]


def _chain(node: Node, start: int, stop: int) -> Node:
    """Factors start..stop-1 of a product, as one node (the only non-commutative n-ary operator)."""
    if stop - start == 1:
        return node.args[start]
    return node.remember(("chain", start, stop),  # type: ignore[return-value]
                         lambda: algebra.factors(node, start, stop))


# -- guards ---------------------------------------------------------------------------------------

def guards_hold(rule: Rule, env: Env, ctx: Context) -> bool:
    for guard, names in rule.guards:
        values = [env[n] for n in names if n in env]
        if not _guard(guard, values, ctx):
            return False
    return True


def _guard(guard: str, values: list, ctx: Context) -> bool:
    if guard in ("almost_everywhere", "not_larger"):
        return True   # a note, and a check made after instantiation
    if guard == "positive" and ctx.lifted:
        return True   # a domain note for elementwise functions
    node = values[0]
    if guard == "const":
        return ctx.wrt not in node.deps and not node.has_d
    if guard == "has_d":
        return node.has_d
    if guard == "no_d":
        return not node.has_d
    if guard == "scalar":
        return node.is_scalar
    if guard == "not_scalar":
        return not node.is_scalar
    if guard == "column":
        return node.is_column
    if guard == "row":
        return node.is_row
    if guard == "conform":
        return node.shape[1] == values[1].shape[0]
    if guard == "same_shape":
        return node.shape == values[1].shape
    if guard == "fill":
        return node.op == "fill"
    if guard == "square":
        return node.is_square
    if guard == "symmetric":
        return not node.is_scalar and is_symmetric(node)
    if guard == "meets":
        return _meets(node, values[1:])
    value = const_value(node)
    if value is None:
        return False
    if guard == "integer":
        return float(value).is_integer()
    if guard == "positive":
        return value > 0
    if guard == "negative":
        return value < 0
    raise RuleError(f"unknown guard {guard!r}")


def _meets(a: Node, terms: list[Node]) -> bool:
    """Whether the Hadamard product of `a` with one of `terms` can come out smaller than the two
    side by side: a factor of one is a power of a factor of the other (x.*x.^2 = x.^3), or one
    of them is a number or a matrix of one (A.*1 = A). What the `.*` constructor merges; where
    nothing merges, a distributed product repeats `a` and is larger."""
    def plain(n: Node) -> bool:
        return n.is_scalar or n.op in ("fill", "zero", "const")

    terms = [u for t in terms for u in (t.args if t.op == "add" else (t,))]   # C: the rest of a sum

    if plain(a) or any(plain(t) for t in terms):
        return True
    mine = _hadamard_bases(a)
    return any(not mine.isdisjoint(_hadamard_bases(t)) for t in terms)


def _hadamard_bases(node: Node) -> set[Node]:
    """The bases of a Hadamard product's factors, numbers left out: 2*x.*y.^3 → {x, y}."""
    factors = node.args if node.op == "hadamard" else (node,)
    bases = set()
    for f in factors:
        if f.op == "matmul" and f.args[0].is_scalar:    # (2*A).*B = 2*(A.*B)
            f = algebra.mul(*(a for a in f.args if not a.is_scalar))
        if f.op == "hadamard":
            bases |= _hadamard_bases(f)
            continue
        bases.add(f.args[0] if f.op == "power" else f)
    return bases


def cost(node: Node) -> int:
    """Size as a reader sees it: nodes, not counting numbers and the -1 of a negation."""
    if node.op == "const":
        return 0
    return node.remember("cost", lambda: (  # type: ignore[return-value]
        0 if node.op == "matmul" and const_value(node.args[0]) is not None else 1) + sum(
        cost(a) for a in node.args))


# -- templates ------------------------------------------------------------------------------------

def _is_placeholder(t: Pattern) -> bool:
    return (t.kind == "eye" or (t.kind == "op" and t.value == "fill")
            or (t.kind == "num" and str(t.value) == "0"))


def instantiate(t: Pattern, env: Env, ctx: Context, expect: Shape | None = None) -> Node:
    """Build the expression a template describes, with pattern variables replaced from `env`.

    `expect` is the shape the result must have; it sizes the shape-less constants of templates
    (`eye`, `matrix(s)`, `0`) from their context.
    """
    kind = t.kind
    if kind == "var":
        value = env[str(t.value)]
        assert isinstance(value, Node)
        return value
    if kind == "num":
        n = number(Fraction(str(t.value)))
        return algebra.zero(expect) if n.value == 0 and expect is not None else n
    if kind == "eye":
        if expect is None:
            raise RuleError("cannot size 'eye' in this template")
        return algebra.eye(expect[0])
    if kind == "fprime":
        fname = env.get(str(t.value), t.value)
        arg = instantiate(t.args[0], env, ctx)
        return Node("fprime", (arg,), arg.shape, fname)
    if kind == "call-f":
        arg = instantiate(t.args[0], env, ctx, expect)
        return algebra.apply(str(env[str(t.value)]), arg)
    op = str(t.value)
    if op == "d":
        arg = instantiate(t.args[0], env, ctx, expect)
        if ctx.on_d is None:
            return algebra.apply("d", arg)
        return ctx.on_d(arg)
    if op in ("jac", "kvec"):
        if ctx.on_form is None:
            raise RuleError(f"{op}(·) is only meaningful in jacobian.rules and kronecker.rules")
        return ctx.on_form(instantiate(t.args[0], env, ctx))
    if op in ("icols", "irows", "commutation"):
        arg = instantiate(t.args[0], env, ctx)
        r, c = arg.shape
        return {"icols": lambda: algebra.eye(c), "irows": lambda: algebra.eye(r),
                "commutation": lambda: algebra.commutation(r, c)}[op]()
    if op == "fill":
        if expect is None:
            raise RuleError("cannot size 'matrix(·)' in this template")
        return algebra.fill(instantiate(t.args[0], env, ctx), expect)
    args = _instantiate_args(op, t.args, env, ctx, expect)
    if op == "neg":
        return algebra.neg(args[0])
    if op == "sub":
        return algebra.sub(*args)
    if op == "div":
        return algebra.divide(*args)
    if op == "diag":
        return algebra.apply("diagm" if args[0].is_vector else "diagv", *args)
    return _apply(op, args)


# Operator applications built while `sharing_parts` is on: (op, operand ids) → (operands, node).
_shared: dict[tuple, tuple[list[Node], Node]] | None = None


@contextmanager
def sharing_parts() -> Iterator[None]:
    """Within: `instantiate` builds an operator once for the same operand objects. The matches
    of one rule bind the same operands again and again (A.*(B + C) meets a sum's two terms as
    (B, C) and as (C, B): A.*B and A.*C are built for both); a node depends on its operands
    alone, so the second is the first."""
    global _shared
    if _shared is not None:         # a rule applied while building another's right side
        yield
        return
    _shared = {}
    try:
        yield
    finally:
        _shared = None


def _apply(op: str, args: list[Node]) -> Node:
    if _shared is None:
        return algebra.apply(op, *args)
    key = (op, *map(id, args))
    found = _shared.get(key)
    if found is None:               # the operands are kept with it: their ids stay theirs
        found = _shared[key] = (args, algebra.apply(op, *args))
    return found[1]


def _instantiate_args(op: str, templates: tuple[Pattern, ...], env: Env, ctx: Context,
                      expect: Shape | None) -> list[Node]:
    """Instantiate operands, sizing a placeholder operand from its siblings (or from `expect`)."""
    same_shape = op in ("add", "sub", "hadamard", "frob", "neg")
    out: list[Node | None] = [None] * len(templates)
    for i, t in enumerate(templates):
        if not _has_placeholder(t):
            out[i] = instantiate(t, env, ctx, expect if same_shape and op != "frob" else None)
    # a bare placeholder last: it is sized by its siblings, and a sibling holding one (sum of a
    # fill) by `expect` — so in matrix(t)*sum(matrix(s), 1) the sum is sized first
    for i in sorted(range(len(templates)), key=lambda k: _is_placeholder(templates[k])):
        t = templates[i]
        if out[i] is None:
            siblings = [o for o in out if o is not None]
            shape = expect
            if same_shape and siblings:
                shape = next((s.shape for s in siblings if not s.is_scalar), siblings[0].shape)
            elif op == "matmul" and expect is not None and len(templates) == 2 \
                    and not all(s.is_scalar for s in siblings):
                other = siblings[0]     # a product of two: the placeholder fits the other side
                shape = (expect[0], other.shape[0]) if i == 0 else (other.shape[1], expect[1])
            out[i] = instantiate(t, env, ctx, shape)
    return out  # type: ignore[return-value]


def _has_placeholder(t: Pattern) -> bool:
    return _is_placeholder(t) or any(_has_placeholder(a) for a in t.args)


__all__ = [
    "ANY",
    "FUNCTION",
    "Context",
    "cost",
    "guards_hold",
    "instantiate",
    "match",
    "may_match",
    "pattern_names",
]
