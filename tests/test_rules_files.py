"""Every line of every rules file, checked numerically — one test id per rule name.

Herbie's test-rules.rkt checks each rewrite rule at sampled points; this file does the same for
rules/*.rules. A rule's pattern variables are bound to fresh variables of every shape in a small set
(scalar, column, square, both rectangles), function variables (`f`, `g`) to every elementwise
function of elementwise.rules, `p`-style constants to a symbolic constant and to a few numbers. The
left side built from such a binding is matched by the rule, and the rule applied, as the engine
would: every match whose guards hold (`guards_hold`, wrt a variable no instance uses) is an
instance, and its right side must build. Every rule needs at least one instance. Then, by file:

- frobenius.rules, simplify.rules: both sides are evaluated at random inputs and must agree. A
  variable under a `symmetric` guard is a square variable declared symmetric, sampled symmetric; one
  under a `fill` guard is a fill `matrix(s)` of every shape, s an unknown scalar. A
  variable under a `has_d` guard is bound to the differential d(V) of a fresh variable, evaluated
  as an independent random matrix (the input dV). `A : B` is the Frobenius product of two operands
  of one shape: the engine never builds a broadcast `s : M` (its Frobenius pass starts from
  `1 : df` with df scalar, the rules keep the operands' shapes equal, `+` wraps a scalar term as
  matrix(s) and `.*` pulls scalars out into a product), and several rules are false for a
  broadcast one, so instances whose left side has one are not used.
- differentials.rules: `d(P) = R` says that the derivative of P along a perturbation of its
  variables is R with each d(V) replaced by V's perturbation dV. Every variable outside a `const`
  guard is perturbed, V + t*dV, and central differences of P are compared with R. A d(·) of a
  compound operand on the right side (d(A^(p-1))) is evaluated by central differences too, and
  f'(A) by central differences of f — independently of elementwise.rules.
- elementwise.rules: f'(x), the rule's right side lifted to a vector, is compared with central
  differences of f in f's domain (positive where the rule says positive(x), away from 0 elsewhere,
  which is where the almost_everywhere derivatives exist).
- canonical.rules: the left side is built as it reads (each operand canonical, the root not), and
  must equal the right side at random inputs; and the constructors of algebra.py must apply the
  rule: building the left side canonically gives exactly the right side.
- jacobian.rules: jac(E) is the matrix M with E = M*d(x). E is linear in d(x), so M is read off
  exactly, column j being E at d(x) = e_j. A pattern variable outside a `no_d` guard is bound to
  J*d(x) for a fresh matrix J.

A rule that is wrong, or that nothing instantiates, keeps its test, marked xfail(strict=True) with
the reason in KNOWN_PROBLEMS.

The last tests check the files themselves (unique names, every rule line loaded, `file:line`
pointing at the rule's line) and that a built wheel ships them as matcalc/rules/*.rules.
"""
from __future__ import annotations

import itertools
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from matcalc import algebra
from matcalc.errors import MatcalcError
from matcalc.match import Context, guards_hold, instantiate, match
from matcalc.operators import infer_shape
from matcalc.ops import Node, ShapeMismatch, dim_factors, dim_product, leaf, number, var
from matcalc.rules import FUNCTION, SCALAR, VARIABLE_KINDS, Pattern, Rule, load_rules, rules_dir
from matcalc.verify import evaluate

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules()
FUNCTIONS = sorted(RULES.elementwise)

SIZES = {"n": 3, "m": 4, "k": 2}          # distinct sizes, so a transposition cannot hide
SHAPES = [(1, 1), ("n", 1), ("n", "n"), ("n", "m"), ("m", "n")]
ROWS = [(1, "n"), (1, "m")]               # for rules no other shape instantiates
# Values tried for a `p`-style scalar: a symbolic constant, and numbers for integer/sign guards.
CONSTANTS = [None, 2, 3, 1, -1, -2, Fraction(1, 2)]
WRT = "X"                                  # no instance names a variable X: every variable is
CTX = Context(wrt=WRT)                     # constant for `const`, unless it holds a d(·)
RTOL = 1e-9
FD_RTOL = 1e-6
POINTS = 3                                 # random points per instance

# Rules that are known to be wrong or that cannot be instantiated: name -> reason.
KNOWN_PROBLEMS: dict[str, str] = {}


# -- building instances ---------------------------------------------------------------------------

def pattern_variables(p: Pattern) -> list[str]:
    """The pattern variables of `p` in order of first appearance (function variables included)."""
    out: list[str] = []

    def walk(q: Pattern) -> None:
        if (q.kind == "var" or (q.kind in ("call-f", "fprime") and
                                VARIABLE_KINDS.get(str(q.value)) == FUNCTION)) \
                and q.value not in out:
            out.append(str(q.value))
        for a in q.args:
            walk(a)

    walk(p)
    return out


def guarded(rule: Rule, guard: str) -> set[str]:
    return {name for g, names in rule.guards if g == guard for name in names}


def has_placeholder(p: Pattern) -> bool:
    """`eye`, `matrix(s)`, `0`: constants sized by their context."""
    return (p.kind == "eye" or (p.kind == "op" and p.value == "fill")
            or (p.kind == "num" and str(p.value) == "0") or any(has_placeholder(a) for a in p.args))


def choices(name: str, rule: Rule, shapes: list) -> list:
    """What pattern variable `name` may stand for in an instance: a function name, a shape, or a
    number (for a scalar constant whose guards need one)."""
    kind = VARIABLE_KINDS[name]
    if kind == FUNCTION:
        return FUNCTIONS
    if kind == SCALAR:
        if name == "p" or name in guarded(rule, "integer") | guarded(rule, "positive") \
                | guarded(rule, "negative"):
            return [(1, 1) if c is None else number(c) for c in CONSTANTS]
        return [(1, 1)]
    return shapes


def assignments(rule: Rule, names: list[str], shapes: list):
    """Every combination of choices for the pattern variables `names`."""
    for combo in itertools.product(*(choices(n, rule, shapes) for n in names)):
        yield dict(zip(names, combo))


def d_node(v: Node) -> Node:
    return Node("d", (v,), v.shape)


def frob_broadcasts(node: Node) -> bool:
    return any(n.op == "frob" and n.args[0].shape != n.args[1].shape for n in node.walk())


def well_formed(node: Node) -> bool:
    """The user-language shape rules that the tree's own shape rules do not enforce (shapes.py
    rejects logsumexp of anything but a column; ops.infer_shape accepts it)."""
    return all(n.args[0].is_column for n in node.walk() if n.op in ("logsumexp", "softmax"))


def build(rule: Rule, bind, ctx_rhs: Context, failures: list[str], shapes: list = SHAPES,
          wrap=lambda body: body, usable=lambda body: True):
    """Instances of `rule`: (env, lhs, rhs) — the rule applied as the engine applies it.

    Each assignment of choices to the pattern variables (`bind(name, choice)` makes the node a
    variable stands for) instantiates the left side's body (inside `d(·)`/`jac(·)`, which `wrap`
    puts back); the rule is then matched against it and applied with every binding whose guards
    hold. An assignment that canonicalises away from the rule's form (a scalar factor of `.*`
    becomes a product) no longer matches and is not an instance: the engine never applies the
    rule there. A right side that does not build is a failure: the engine would stop with an
    internal ShapeError.
    """
    lhs_pattern = rule.lhs.args[0] if rule.lhs.kind == "op" and rule.lhs.value in ("d", "jac", "kvec") \
        else rule.lhs
    names = pattern_variables(rule.lhs)
    expects = SHAPES if has_placeholder(lhs_pattern) else [None]
    seen = set()
    for assignment in assignments(rule, names, shapes):
        env = {n: c if VARIABLE_KINDS[n] == FUNCTION else bind(n, c)
               for n, c in assignment.items()}
        if any(v is None for v in env.values()):
            continue
        for expect in expects:
            try:
                body = instantiate(lhs_pattern, env, Context(), expect)
            except (MatcalcError, ShapeMismatch):
                continue
            if not (well_formed(body) and usable(body)):
                continue
            target = wrap(body)
            for matched in match(rule.lhs, target):
                if not guards_hold(rule, matched, CTX):
                    continue
                try:
                    rhs = instantiate(rule.rhs, matched, ctx_rhs, target.shape)
                except (MatcalcError, ShapeMismatch) as exc:
                    failures.append(f"{body!r}: the right side does not build: {exc}")
                    continue
                if (body, rhs) not in seen:
                    seen.add((body, rhs))
                    yield matched, body, rhs


# -- sampling and evaluation ----------------------------------------------------------------------

def dims(shape) -> tuple[int, int]:
    return tuple(int(np.prod([SIZES[f] if isinstance(f, str) else f for f in dim_factors(d)]))
                 for d in shape)  # type: ignore[return-value]


def sample(shape, rng: np.random.Generator, signed: bool) -> np.ndarray:
    """Entries of size 0.5..1.5 (random signs if `signed`); a square matrix is I plus a small such
    matrix: diagonally dominant, so invertible with det > 0, and its entries stay below π/2."""
    r, c = dims(shape)
    x = rng.uniform(0.5, 1.5, (r, c))
    if signed:
        x *= rng.choice([-1.0, 1.0], (r, c))
    if r == c and r > 1:
        x = np.eye(r) + x / (2 * r)
    return x


def variables(*nodes: Node) -> dict[str, tuple]:
    return {str(n.value): n.shape for node in nodes for n in node.walk() if n.op == "var"}


def inputs(names: dict[str, tuple], rng: np.random.Generator, signed: bool) -> dict:
    env: dict = {n: sample(s, rng, signed) for n, s in sorted(names.items())}
    env["__dims__"] = SIZES
    return env


def kernel_derivative(fname: str, x: np.ndarray) -> np.ndarray:
    """f'(x) by central differences of f itself."""
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    node = Node(fname, (var("x", x.shape),), x.shape)
    with np.errstate(all="ignore"):
        plus = evaluate(node, {"x": x + h, "__dims__": SIZES}, {})
        minus = evaluate(node, {"x": x - h, "__dims__": SIZES}, {})
    return (plus - minus) / (2 * h)


def value(node: Node, env: dict, special=None) -> np.ndarray:
    """Evaluate `node` at the inputs `env`. The rule-only nodes verify.evaluate does not know are
    given their values first: f'(A) by central differences of f; d(V) of a variable as the input
    named dV; other d(·) and jac(·) nodes by `special(node)`."""
    memo: dict = {}

    def prepare(n: Node) -> None:
        if n in memo:
            return
        if n.op == "fprime":
            memo[n] = kernel_derivative(str(n.value), value(n.args[0], env, special))
        elif n.op == "d" and special is None:
            memo[n] = env["d" + str(n.args[0].value)]
        elif n.op in ("d", "jac", "kvec"):
            memo[n] = special(n)
        else:
            for a in n.args:
                prepare(a)

    prepare(node)
    with np.errstate(all="ignore"):
        return evaluate(node, env, {}, memo)


def close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    scale = max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=rtol * scale))


def finite(*arrays: np.ndarray) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


# -- the checks, one per rules file ---------------------------------------------------------------

def check_identity(rule: Rule) -> tuple[int, list[str]]:
    """frobenius.rules, simplify.rules: lhs == rhs at random inputs. → (instances, failures)"""
    has_d = guarded(rule, "has_d")
    symmetric = guarded(rule, "symmetric")
    fills = guarded(rule, "fill")

    def bind(name: str, choice):
        if isinstance(choice, Node):
            return choice
        if name in fills:       # a fill of every shape, of an unknown entry: matrix(s_B)
            return algebra.fill(var("s_" + name, (1, 1)), choice)
        v = var(name, choice, symmetric=name in symmetric and choice[0] == choice[1] != 1)
        return d_node(v) if name in has_d else v

    failures: list[str] = []
    count = 0
    # a rule whose operands must be rows (A : sum(B, 1), A a 1×n row) is instantiated with them
    shapes = SHAPES if any(True for _ in build(rule, bind, Context(), [], usable=lambda body:
                                               not frob_broadcasts(body))) else SHAPES + ROWS
    for seed, (env, lhs, rhs) in enumerate(build(rule, bind, Context(), failures, shapes,
                                                 usable=lambda body: not frob_broadcasts(body))):
        count += 1
        names = variables(lhs, rhs)
        names.update({"d" + k: s for k, s in list(names.items())})
        rng = np.random.default_rng(seed)
        for point in range(POINTS):
            x = inputs(names, rng, signed=point > 0)
            for name in symmetric & set(names):     # a variable declared symmetric: S' = S
                x[name] = (x[name] + x[name].T) / 2
            left, right = value(lhs, x), value(rhs, x)
            if point > 0 and not finite(left, right):
                continue        # a signed point outside the domain of a log or a sqrt
            if not close(left, right, RTOL):
                failures.append(f"{lhs!r} = {rhs!r}: {left.ravel()[:4]} vs {right.ravel()[:4]}")
                break
    return count, failures


def check_differential(rule: Rule) -> tuple[int, list[str]]:
    """differentials.rules: d(P) along a random perturbation == R (central differences)."""
    assert rule.lhs.kind == "op" and rule.lhs.value == "d", "a differential rule reads d(…) = …"
    constant = guarded(rule, "const")

    def bind(name: str, choice):
        return choice if isinstance(choice, Node) else var(name, choice)

    def on_d(node: Node) -> Node:
        return var("d" + str(node.value), node.shape) if node.op == "var" else d_node(node)

    failures: list[str] = []
    count = 0
    for seed, (env, lhs, rhs) in enumerate(build(rule, bind, Context(wrt=WRT, on_d=on_d),
                                                 failures, wrap=d_node)):
        count += 1
        names = variables(lhs)
        fixed = {n for c in constant if isinstance(env.get(c), Node) for n in variables(env[c])}
        rng = np.random.default_rng(seed)
        for point in range(POINTS):
            x = inputs(names, rng, signed=point > 0)
            for n, s in names.items():
                x["d" + n] = np.zeros(dims(s)) if n in fixed else rng.standard_normal(dims(s))

            def along(node: Node, h: float, x: dict = x, names: dict = names) -> np.ndarray:
                """Central difference of `node` along the perturbation."""
                plus = {**x, **{n: x[n] + h * x["d" + n] for n in names}}
                minus = {**x, **{n: x[n] - h * x["d" + n] for n in names}}
                return (value(node, plus) - value(node, minus)) / (2 * h)

            if not finite(value(lhs, x)):
                if point == 0:
                    failures.append(f"{lhs!r} is not finite at a positive point")
                continue     # a signed point outside the domain
            right = value(rhs, x, special=lambda n, x=x: along(n.args[0], 1e-5)
                          if n.args[0].op != "var" else x["d" + str(n.args[0].value)])
            if not finite(right):
                failures.append(f"d({lhs!r}) = {rhs!r} is not finite where {lhs!r} is")
                break
            # truncation error shrinks with h, rounding error grows: a right rule agrees at one
            numeric = [along(lhs, h) for h in (1e-5, 1e-4, 1e-6)]
            if not any(finite(v) and close(v, right, FD_RTOL) for v in numeric):
                failures.append(f"d({lhs!r}) = {rhs!r}: central differences give "
                                f"{numeric[0].ravel()[:4]}, the rule {right.ravel()[:4]}")
                break
    return count, failures


def check_elementwise(rule: Rule) -> tuple[int, list[str]]:
    """elementwise.rules: f'(x) from the rule == central differences of f, in f's domain."""
    fname = str(rule.lhs.value)
    failures: list[str] = []
    count = 0
    for seed, shape in enumerate([(1, 1), ("n", 1)]):
        x_node = var("x", shape)
        env = {"x": x_node}
        if not guards_hold(rule, env, Context(lifted=True)):
            continue
        rhs = instantiate(rule.rhs, env, Context(lifted=True), shape)
        count += 1
        rng = np.random.default_rng(seed)
        for _ in range(POINTS):
            x = rng.uniform(0.2, 1.4, dims(shape))   # |x| < π/2, away from 0
            if not guarded(rule, "positive"):
                x *= rng.choice([-1.0, 1.0], x.shape)
            claimed = value(rhs, {"x": x, "__dims__": SIZES})
            numeric = kernel_derivative(fname, x)
            if not (finite(claimed) and close(claimed, numeric, FD_RTOL)):
                failures.append(f"{fname}'({x.ravel()}) = {claimed.ravel()}, "
                                f"central differences give {numeric.ravel()}")
                break
    return count, failures


def check_jacobian(rule: Rule) -> tuple[int, list[str]]:
    """jacobian.rules: jac(E) = R, where jac(E) is the M with E = M*d(x), read off exactly."""
    assert rule.lhs.kind == "op" and rule.lhs.value == "jac", "a Jacobian rule reads jac(…) = …"
    x_var = var("x", ("k", 1))
    dx = d_node(x_var)
    k = SIZES["k"]
    no_d = guarded(rule, "no_d")
    inside_d = {str(a.value) for p in _walk(rule.lhs) if p.kind == "op" and p.value == "d"
                for a in p.args if a.kind == "var"}

    def bind(name: str, choice):
        if isinstance(choice, Node):
            return choice
        if name in inside_d:
            return x_var if choice == x_var.shape else None
        if name in no_d:
            return var(name, choice) if choice != x_var.shape else None
        if choice[1] != 1 or choice == x_var.shape:
            return None          # a part of E, linear in d(x): J*d(x), a column or a scalar
        return Node("matmul", (var("J" + name, (choice[0], "k")), dx), choice)

    def on_form(node: Node) -> Node:
        return Node("jac", (node,), (node.shape[0], "k"))

    def jacobian(e: Node, x: dict) -> np.ndarray:
        """E is linear in d(x): its j-th column is E at d(x) = e_j."""
        unit = np.eye(k)
        return np.hstack([value(e, x, special=lambda n, j=j: unit[:, [j]]) for j in range(k)])

    def usable(body: Node) -> bool:
        return body.shape[1] == 1 and body.has_d and all(
            n.args[0] == x_var for n in body.walk() if n.op == "d")

    return _check_linear_form(rule, bind, x_var, on_form, usable, jacobian, "jac")


def check_kronecker(rule: Rule) -> tuple[int, list[str]]:
    """kronecker.rules: kvec(E) = R, where kvec(E) is the K with vec(E) = K*vec(d(X)) (vec stacks
    columns), read off exactly: column j of K is vec(E) at d(X) = the j-th unit matrix."""
    assert rule.lhs.kind == "op" and rule.lhs.value == "kvec", "a Kronecker rule reads kvec(…) = …"
    x_var = var("Z", ("k", "m"))
    dx = d_node(x_var)
    size = SIZES["k"] * SIZES["m"]
    no_d = guarded(rule, "no_d")
    inside_d = {str(a.value) for p in _walk(rule.lhs) if p.kind == "op" and p.value == "d"
                for a in p.args if a.kind == "var"}

    def bind(name: str, choice):
        if isinstance(choice, Node):
            return choice
        if name in inside_d:
            return x_var if choice == x_var.shape else None
        if name in no_d:
            return var(name, choice)
        # a part of E, linear in d(X): A*d(X)*B of the chosen shape
        return algebra.mul(var("L" + name, (choice[0], "k")), dx, var("R" + name, ("m", choice[1])))

    def on_form(node: Node) -> Node:
        return Node("kvec", (node,), (dim_product(*node.shape), "k*m"))

    def kron_matrix(e: Node, x: dict) -> np.ndarray:
        columns = []
        for j in range(size):
            unit = np.zeros(size)
            unit[j] = 1.0
            unit = unit.reshape((SIZES["k"], SIZES["m"]), order="F")
            columns.append(np.ravel(value(e, x, special=lambda n, u=unit: u if n.op == "d"
                                          else kron_matrix(n.args[0], x)), order="F"))
        return np.column_stack(columns)

    def usable(body: Node) -> bool:
        return body.has_d and all(n.args[0] == x_var for n in body.walk() if n.op == "d")

    return _check_linear_form(rule, bind, x_var, on_form, usable, kron_matrix, "kvec")


def _check_linear_form(rule: Rule, bind, x_var: Node, on_form, usable, matrix,
                       label: str) -> tuple[int, list[str]]:
    """The loop check_jacobian and check_kronecker share: at each instantiation of the rule and
    each signed point, the matrix `matrix` reads off the left side must equal the right side
    (where a nested form `label(E)` is evaluated by the same `matrix`)."""
    failures: list[str] = []
    count = 0
    context = Context(wrt=str(x_var.value), on_form=on_form)
    for seed, (env, lhs, rhs) in enumerate(build(rule, bind, context, failures,
                                                 SHAPES + [x_var.shape], wrap=on_form,
                                                 usable=usable)):
        count += 1
        names = variables(lhs, rhs)
        rng = np.random.default_rng(seed)
        for _ in range(POINTS):
            x = inputs(names, rng, signed=True)
            want = matrix(lhs, x)
            got = value(rhs, x, special=lambda n, x=x: matrix(n.args[0], x))
            if not close(want, got, RTOL):
                failures.append(f"{label}({lhs!r}) = {rhs!r}: {want.ravel()[:4]} vs "
                                f"{got.ravel()[:4]}")
                break
    return count, failures


def _walk(p: Pattern):
    yield p
    for a in p.args:
        yield from _walk(a)


def _strict(a, b) -> None:
    if a != b:
        raise ShapeMismatch(f"{a} ≠ {b}")


def as_written(p: Pattern, env: dict, expect) -> Node:
    """The expression a pattern describes, built node by node with no canonical identity applied
    (the way a rule's left side reads before a constructor sees it)."""
    if p.kind == "var":
        return env[str(p.value)]
    if p.kind == "num":
        return number(Fraction(str(p.value)))
    if p.kind == "eye":
        return leaf("eye", expect if expect and expect[0] == expect[1] != 1 else ("n", "n"))
    args = tuple(as_written(a, env, expect) for a in p.args)
    if p.kind == "call-f":
        return Node(str(env[str(p.value)]), args, args[0].shape)
    op = str(p.value)
    if op == "fill":
        if expect is None or expect == (1, 1):
            raise ShapeMismatch("a fill needs a matrix shape")
        return Node("fill", args, expect, expect)
    if op == "diag":
        op = "diagm" if args[0].is_vector else "diagv"
    return Node(op, args, infer_shape(op, [a.shape for a in args], _strict))


def constructed(node: Node) -> Node:
    """`node` rebuilt by the constructors of algebra.py from its operands."""
    if node.op == "fill":
        return algebra.fill(node.args[0], node.shape)
    return algebra.apply(node.op, *node.args, value=node.value)


def canonical_operands(node: Node) -> bool:
    """Every proper subexpression is as the constructors build it: an expression the engine holds."""
    return all(not a.args or (constructed(a) == a and canonical_operands(a)) for a in node.args)


def check_canonical(rule: Rule) -> tuple[int, list[str]]:
    """canonical.rules: lhs == rhs at random inputs, and the constructors apply the rule."""
    n_ary = next(title for title, rules in RULES.sections["canonical"] if rule in rules
                 ).startswith(("products", "sums"))

    def bind(name: str, choice):
        return choice if isinstance(choice, Node) else var(name, choice)

    failures: list[str] = []
    count = 0
    names = pattern_variables(rule.lhs)
    seen = set()
    for assignment in assignments(rule, names, SHAPES + [(1, "n")]):    # and a row: vec-of-row
        env = {n: c if VARIABLE_KINDS[n] == FUNCTION else bind(n, c) for n, c in assignment.items()}
        # fills of every shape, rows too (a row repeated down a matrix: power-of-repeated-row)
        for expect in (SHAPES + ROWS if has_placeholder(rule.lhs) else [None]):
            try:
                lhs = as_written(rule.lhs, env, expect)
            except (ShapeMismatch, KeyError):
                continue
            if lhs in seen or not canonical_operands(lhs):
                continue
            seen.add(lhs)
            matched = next((m for m in match(rule.lhs, lhs) if guards_hold(rule, m, CTX)), None)
            if matched is None:
                continue
            rhs = instantiate(rule.rhs, matched, Context(), lhs.shape)
            count += 1
            # n-ary identities: the constructor of +, * or .* applies them to the operands it merges
            # (diag(A)^p: as a factor of a product)
            built = algebra.mul(lhs) if n_ary and lhs.op == "matpow" else constructed(lhs)
            if built != rhs:
                failures.append(f"the constructors build {lhs!r} as {built!r}, not as {rhs!r}")
            rng = np.random.default_rng(count)
            for point in range(POINTS):
                x = inputs(variables(lhs, rhs), rng, signed=point > 0)
                left, right = value(lhs, x), value(rhs, x)
                if point > 0 and not finite(left, right):
                    continue
                if not close(left, right, RTOL):
                    failures.append(f"{lhs!r} = {rhs!r}: {left.ravel()[:4]} vs {right.ravel()[:4]}")
                    break
    return count, failures


CHECKS = {"canonical": check_canonical, "frobenius": check_identity, "simplify": check_identity,
          "differentials": check_differential, "elementwise": check_elementwise,
          "jacobian": check_jacobian, "kronecker": check_kronecker}


def _cases():
    for stem, rules in RULES.files.items():
        for rule in rules:
            marks = ([pytest.mark.xfail(strict=True, reason=KNOWN_PROBLEMS[rule.name])]
                     if rule.name in KNOWN_PROBLEMS else [])
            yield pytest.param(stem, rule, id=rule.name, marks=marks)


@pytest.mark.parametrize("stem, rule", list(_cases()))
def test_rule(stem: str, rule: Rule) -> None:
    assert stem in CHECKS, f"no numeric check for {stem}.rules: add one to {__file__}"
    count, failures = CHECKS[stem](rule)
    assert count > 0, f"{rule.file}:{rule.line}: no shape assignment instantiates {rule.name!r}"
    assert not failures, f"{rule.file}:{rule.line} {rule.text}\n" + "\n".join(failures[:5])


# -- the files themselves -------------------------------------------------------------------------

def test_rule_names_unique_and_located() -> None:
    seen: dict[str, str] = {}
    for stem, rules in RULES.files.items():
        lines = (rules_dir() / f"{stem}.rules").read_text(encoding="utf-8").splitlines()
        rule_lines = [i for i, line in enumerate(lines, 1)
                      if line.strip() and not line.lstrip().startswith("#")]
        assert rule_lines == [r.line for r in rules], f"{stem}.rules: a line that is not a rule"
        for rule in rules:
            where = f"{rule.file}:{rule.line}"
            assert rule.name not in seen, f"{rule.name!r} at {where} and at {seen[rule.name]}"
            seen[rule.name] = where
            line = (rules_dir() / rule.file).read_text(encoding="utf-8").splitlines()[rule.line - 1]
            assert line.startswith(f"{rule.name}:"), f"{where} reads {line!r}, not rule {rule.name}"
    assert {p.name for p in (ROOT / "rules").glob("*.rules")} == {
        f"{stem}.rules" for stem in RULES.files}, "a rules file the loader does not read"


def test_wheel_ships_the_rules(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("matcalc_symbolic-*.whl")    # the distribution name (issue 17)
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".rules")}
    expected = {f"matcalc/rules/{p.name}" for p in (ROOT / "rules").glob("*.rules")}
    assert len(expected) >= 4
    assert expected <= shipped, f"missing from the wheel: {sorted(expected - shipped)}"
