"""Match a rule's pattern against an expression; instantiate a rule's template.

Generic over operators: nothing here knows what `tr` or `sigmoid` mean. Associative operators
(`+`, `*`, `.*`) hold any number of operands; a binary pattern `B*C` matches a product at every split
point (B = first i factors, C = the rest), and `B.*C` / `B + C` match any one operand against either
side. Matching yields every way a pattern fits, so guards can choose among them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

from . import algebra
from .errors import RuleError
from .operators import is_elementwise
from .ops import COMMUTATIVE, NARY, Node, Shape, const_value, number
from .rules import ANY, FUNCTION, SCALAR, VARIABLE_KINDS, Pattern, Rule

Env = dict[str, object]

# Pattern operator → the tree operators it stands for.
ALIASES = {"diag": ("diagm", "diagv")}


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
    if node.op not in ALIASES.get(op, (op,)):
        return
    if op in NARY and len(pattern.args) == 2 and len(node.args) > 2 or (
            op in COMMUTATIVE and len(pattern.args) == 2):
        for left, right in _splits(node):
            yield from _match_args(pattern.args, (left, right), env)
    elif len(pattern.args) == len(node.args):
        yield from _match_args(pattern.args, node.args, env)


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


def _splits(node: Node) -> Iterator[tuple[Node, Node]]:
    """Every way to see an n-ary node as (left op right)."""
    args = node.args
    build = {"add": algebra.add, "matmul": algebra.mul, "hadamard": algebra.hadamard}[node.op]
    if node.op in COMMUTATIVE:
        for i, a in enumerate(args):
            rest = args[:i] + args[i + 1:]
            rest_node = rest[0] if len(rest) == 1 else build(*rest)
            yield rest_node, a
            yield a, rest_node
    else:
        for i in range(1, len(args)):
            left = args[:i]
            right = args[i:]
            yield (left[0] if len(left) == 1 else build(*left),
                   right[0] if len(right) == 1 else build(*right))


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
    if guard == "square":
        return node.is_square
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


def cost(node: Node) -> int:
    """Size as a reader sees it: nodes, not counting numbers and the -1 of a negation."""
    if node.op == "const":
        return 0
    return (0 if node.op == "matmul" and const_value(node.args[0]) is not None else 1) + sum(
        cost(a) for a in node.args)


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
    return algebra.apply(op, *args)


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
]
