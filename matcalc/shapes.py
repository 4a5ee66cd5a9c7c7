"""Give every name a shape and turn the syntax tree into an expression tree.

Defaults by name: an upper-case initial is a matrix, a lower-case name a column vector, a Greek
letter (`alpha`, `lambda`, …) a scalar. Declarations override them (`{"X": ("m", "n"), "a": ("m",),
"t": ()}`, numbers allowed). Dimensions nobody declared are unknowns, unified across the expression
(`X'*a` forces rows(X) = len(a)); a declared symbolic dimension is rigid (`m` never equals `n`), and
an unknown never becomes 1 (a vector stays a vector). A mismatch raises ShapeError naming the
operator and both operands' shapes, with a caret under the expression.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from fractions import Fraction

from . import algebra
from .errors import ParseError, ShapeError
from .names import GREEK
from .operators import CONSTRUCTORS, infer_shape, known_functions, spellings
from .ops import SCALAR, Node, Shape, ShapeMismatch, leaf, var
from .parse import Ast, Program
from .rules import load_rules

MAX_NUMBER = 1e300          # literals are limited in magnitude, so that folding them stays exact
MIN_NUMBER = 1e-300
MAX_MATRIX_POWER = 32       # A^k differentiates into k terms

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


class DimVar:
    """An unknown dimension; `rigid` ones were declared by name and equal only themselves."""

    def __init__(self, name: str, rigid: bool = False):
        self.name = name
        self.rigid = rigid
        self.parent: DimVar | int | None = None

    def __repr__(self) -> str:
        return self.name


TDim = DimVar | int
TShape = tuple[TDim, TDim]


def _find(d: TDim) -> TDim:
    while isinstance(d, DimVar) and d.parent is not None:
        d = d.parent
    return d


def unify(a: TDim, b: TDim) -> None:
    a, b = _find(a), _find(b)
    if a is b or a == b:
        return
    if isinstance(a, int) and isinstance(b, int):
        raise ShapeMismatch(f"{a} ≠ {b}")
    if isinstance(a, int):
        a, b = b, a
    assert isinstance(a, DimVar)
    if isinstance(b, int):
        if a.rigid or b == 1:
            raise ShapeMismatch(f"{a} ≠ {b}")
        a.parent = b
        return
    if a.rigid and b.rigid:
        raise ShapeMismatch(f"{a} ≠ {b}")
    if a.rigid:
        b.parent = a
    else:
        a.parent = b


def resolve(d: TDim) -> int | str:
    d = _find(d)
    return d if isinstance(d, int) else d.name


def show(shape: TShape) -> str:
    r, c = (resolve(d) for d in shape)
    if (r, c) == (1, 1):
        return "a scalar"
    if c == 1:
        return f"a vector of length {r}"
    return f"{r}×{c}"


@dataclass
class Problem:
    """The user's input read into expression trees."""
    expr: Node
    bindings: dict[str, Node]                  # name -> body, in dependency order
    variables: dict[str, Shape]                # every free variable, in order of appearance
    text: str
    binding_order: list[str] = field(default_factory=list)
    symmetric: set[str] = field(default_factory=set)

    def variable(self, name: str) -> Node:
        """The expression node of a variable."""
        return var(name, self.variables[name], name in self.symmetric)


def declared_shape(name: str, dims: object, rigid: dict[str, DimVar]) -> TShape:
    if isinstance(dims, str):
        dims = () if dims.strip() in ("", "scalar") else tuple(d.strip() for d in dims.split(","))
    if not isinstance(dims, (tuple, list)) or len(dims) > 2:
        raise ShapeError(f"shape of {name!r} must be () for a scalar, (n,) for a vector or (m, n) "
                         f"for a matrix, got {dims!r}")
    out: list[TDim] = []
    for d in dims:
        if isinstance(d, str) and d.strip().isdigit():
            d = int(d)
        if isinstance(d, int) and not isinstance(d, bool):
            if d < 1:
                raise ShapeError(f"dimension {d} of {name!r} must be a positive integer")
            out.append(d)
        elif isinstance(d, str) and _IDENT.match(d.strip()):
            out.append(rigid.setdefault(d.strip(), DimVar(d.strip(), rigid=True)))
        else:
            raise ShapeError(f"dimension {d!r} of {name!r} must be a positive integer or a name")
    if len(out) == 0:
        return (1, 1)
    if len(out) == 1:
        return (out[0], 1)
    return (out[0], out[1])


def default_shape(name: str) -> TShape:
    if name in GREEK:
        return (1, 1)
    if name[0].isupper():
        return (DimVar(f"rows({name})"), DimVar(f"cols({name})"))
    return (DimVar(f"len({name})"), 1)


class _Checker:
    def __init__(self, program: Program, shapes: dict, symmetric: set[str]):
        self.text = program.text
        self.program = program
        self.rigid: dict[str, DimVar] = {}
        for n in shapes or {}:
            if not isinstance(n, str) or not _IDENT.match(n):
                raise ShapeError(f"shapes are declared by variable name; {n!r} is not a name")
        self.declared = {n: declared_shape(n, s, self.rigid) for n, s in (shapes or {}).items()}
        self.symmetric = set(symmetric or ())
        self.var_shapes: dict[str, TShape] = {}
        self.binding_shapes: dict[str, TShape] = {}
        self.info: dict[int, object] = {}     # per syntax node: what pass 2 must build
        self.shape: dict[int, TShape] = {}
        self.fresh = 0
        self.functions = known_functions()
        self.sized: list[tuple[Ast, TShape]] = []   # eye, vector(c), matrix(c): sized by context

    # -- pass 1: shapes ----------------------------------------------------------------------------
    def infer(self, node: Ast) -> TShape:
        shape = self._infer(node)
        self.shape[id(node)] = shape
        return shape

    def _fail(self, node: Ast, message: str) -> None:
        raise ShapeError(message, self.text, node.start, node.end)

    def _snippet(self, node: Ast) -> str:
        return self.text[node.start:node.end]

    def _apply(self, node: Ast, op: str, shapes: list[TShape], value: object = None,
               symbol: str | None = None) -> TShape:
        try:
            return infer_shape(op, shapes, unify, value)
        except ShapeMismatch as exc:
            operands = node.children
            symbol = symbol or op
            if len(operands) == 2:
                self._fail(node, f"shape mismatch in {self._snippet(node)}: operator '{symbol}' "
                                 f"cannot combine {self._snippet(operands[0])} "
                                 f"({show(shapes[0])}) with {self._snippet(operands[1])} "
                                 f"({show(shapes[1])})")
            detail = f" ({exc})" if str(exc) and "≠" not in str(exc) else ""
            self._fail(node, f"shape mismatch in {self._snippet(node)}: {symbol} cannot take "
                             f"{self._snippet(operands[0])} ({show(shapes[0])}){detail}")
        raise AssertionError("unreachable")

    def _fresh(self, prefix: str = "n") -> DimVar:
        self.fresh += 1
        return DimVar(f"{prefix}{self.fresh}")

    def _infer(self, node: Ast) -> TShape:
        kind = node.kind
        if kind == "number":
            value = float(str(node.value))
            written_zero = not any(c in "123456789" for c in str(node.value).split("e")[0]
                                   .split("E")[0])
            if not (MIN_NUMBER <= abs(value) <= MAX_NUMBER or written_zero):
                raise ParseError(f"the number {node.value} is out of range: write numbers between "
                                 f"{MIN_NUMBER:g} and {MAX_NUMBER:g} in magnitude", self.text,
                                 node.start, node.end)
            return (1, 1)
        if kind == "name":
            return self._name_shape(node)
        if kind == "neg":
            return self.infer(node.children[0])
        if kind == "transpose":
            return self._apply(node, "transpose", [self.infer(node.children[0])])
        if kind == "binop":
            return self._binop(node)
        if kind == "call":
            return self._call(node)
        raise ParseError(f"{kind} is not part of the input language", self.text, node.start)

    def _name_shape(self, node: Ast) -> TShape:
        name = str(node.value)
        if name in self.binding_shapes:
            return self.binding_shapes[name]
        if name == "eye":
            n = self._fresh()
            self.info[id(node)] = n
            self.sized.append((node, (n, n)))
            return (n, n)
        if name in self.functions:
            raise ParseError(f"{name} is a function: write {name}(...)", self.text, node.start,
                             node.end)
        if name not in self.var_shapes:
            shape = self.declared.get(name) or default_shape(name)
            if name in self.symmetric:
                try:
                    if _find(shape[1]) == 1:
                        raise ShapeMismatch("not a matrix")
                    unify(*shape)
                except ShapeMismatch:
                    raise ShapeError(f"{name} is declared symmetric but is {show(shape)}; only a "
                                     f"square matrix can be symmetric", self.text, node.start,
                                     node.end) from None
            self.var_shapes[name] = shape
        return self.var_shapes[name]

    def _binop(self, node: Ast) -> TShape:
        op = str(node.value)
        left, right = (self.infer(c) for c in node.children)
        if op in ("+", "-"):
            return self._apply(node, "add", [left, right], symbol=op)
        if op in (".*", "./"):
            return self._apply(node, "hadamard", [left, right], symbol=op)
        if op == "*":
            return self._apply(node, "matmul", [left, right], symbol=op)
        if op == "/":
            if not _scalar(right):
                self._fail(node, f"{self._snippet(node)}: '/' divides by a scalar, but "
                                 f"{self._snippet(node.children[1])} is {show(right)} "
                                 f"(use ./ for elementwise division, or inv)")
            return left
        if op in ("^", ".^"):
            if not _scalar(right):
                self._fail(node, f"{self._snippet(node)}: the exponent "
                                 f"{self._snippet(node.children[1])} must be a scalar, "
                                 f"not {show(right)}")
            if op == "^" and not _scalar(left):
                exponent = node.children[1]
                if not _is_integer_literal(exponent):
                    self._fail(node, f"{self._snippet(node)}: a matrix power needs an integer "
                                     f"exponent (use .^ for an elementwise power)")
                if abs(int(_number(_literal_text(exponent)))) > MAX_MATRIX_POWER:
                    self._fail(node, f"{self._snippet(node)}: matrix powers are limited to "
                                     f"|k| ≤ {MAX_MATRIX_POWER} (the derivative has k terms)")
                self.info[id(node)] = "matpow"
                return self._apply(node, "matpow", [left, right], symbol="^")
            return left
        raise ParseError(f"operator {op!r} is not part of the input language", self.text,
                         node.start)

    def _call(self, node: Ast) -> TShape:
        name = str(node.value)
        args = node.children
        if name not in self.functions:
            suggestion = difflib.get_close_matches(name, sorted(self.functions), n=1)
            hint = f" — did you mean {suggestion[0]}?" if suggestion else (
                f" (known: {', '.join(sorted(self.functions))})")
            raise ParseError(f"unknown function {name!r}{hint}", self.text, node.start,
                             node.start + len(name))
        candidates = spellings().get(name, [])
        allowed = CONSTRUCTORS.get(name) or sorted({o.arity for o in candidates})
        arity = len(args) if len(args) in allowed else allowed[0]
        candidates = [o for o in candidates if o.arity == arity]
        if len(args) != arity:
            raise ParseError(f"{name} takes {arity} argument{'s' if arity != 1 else ''}, got "
                             f"{len(args)}", self.text, node.start, node.end)
        if name == "eye":
            if not _is_integer_literal(args[0]):
                self._fail(node, "eye(n) takes a whole number n; write eye to size it by context")
            n = int(str(args[0].value))
            self.info[id(node)] = n
            return (n, n)
        shapes = [self.infer(a) for a in args]
        if name in ("vector", "matrix"):
            shape: TShape = (self._fresh(), 1) if name == "vector" else (self._fresh(),
                                                                          self._fresh())
            self.info[id(node)] = shape
            self.sized.append((node, shape))
            return self._apply(node, "fill", shapes, value=shape, symbol=name)
        resolved = [(_find(r), _find(c)) for r, c in shapes]
        op = next(o for o in candidates if o.accepts is None or o.accepts(resolved[0]))
        self.info[id(node)] = op.name
        return self._apply(node, op.name, shapes, symbol=name)

    # -- pass 2: expression trees --------------------------------------------------------------------
    def dim(self, d: TDim) -> int | str:
        return resolve(d)

    def tshape(self, shape: TShape) -> Shape:
        return (resolve(shape[0]), resolve(shape[1]))

    def build(self, node: Ast, refs: dict[str, Node]) -> Node:
        kind = node.kind
        kids = [self.build(c, refs) for c in node.children]
        if kind == "number":
            return algebra.number(_number(str(node.value)))
        if kind == "name":
            name = str(node.value)
            if name in refs:
                return refs[name]
            if name == "eye":
                return algebra.eye(self.dim(self.info[id(node)]))  # type: ignore[arg-type]
            return var(name, self.tshape(self.var_shapes[name]), name in self.symmetric)
        if kind == "neg":
            return algebra.neg(kids[0])
        if kind == "transpose":
            return algebra.transpose(kids[0])
        if kind == "binop":
            op = str(node.value)
            a, b = kids
            if op == "+":
                return algebra.add(a, b)
            if op == "-":
                return algebra.sub(a, b)
            if op == "*":
                return algebra.mul(a, b)
            if op == ".*":
                return algebra.hadamard(a, b)
            if op in ("/", "./"):
                return algebra.divide(a, b)
            if self.info.get(id(node)) == "matpow":
                return algebra.apply("matpow", a, b)
            return algebra.power(a, b)
        name = str(node.value)
        if name == "eye":
            n = self.info[id(node)]
            return algebra.eye(n)
        if name in ("vector", "matrix"):
            return algebra.fill(kids[0], self.tshape(self.info[id(node)]))  # type: ignore[arg-type]
        return algebra.apply(str(self.info[id(node)]), *kids)


def _literal_text(node: Ast) -> str:
    """The text of an integer literal, with its sign."""
    return "-" + _literal_text(node.children[0]) if node.kind == "neg" else str(node.value)


def _scalar(shape: TShape) -> bool:
    return _find(shape[0]) == 1 and _find(shape[1]) == 1


def _is_integer_literal(node: Ast) -> bool:
    if node.kind == "neg":
        return _is_integer_literal(node.children[0])
    return node.kind == "number" and _number(str(node.value)).denominator == 1


def _number(text: str) -> Fraction:
    return Fraction(text)


def _binding_order(program: Program, text: str) -> list[tuple[str, Ast]]:
    """Bindings sorted so that each comes after the ones it uses; cycles are an error."""
    defs: dict[str, Ast] = {}
    for name, body in program.bindings:
        if name in defs:
            raise ParseError(f"{name!r} is bound twice", text, body.start)
        defs[name] = body

    def uses(node: Ast) -> set[str]:
        found = {str(node.value)} if node.kind == "name" and node.value in defs else set()
        for c in node.children:
            found |= uses(c)
        return found

    order: list[tuple[str, Ast]] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " → ".join(chain[chain.index(name):] + [name])
            raise ParseError(f"bindings refer to each other in a cycle: {cycle}", text,
                             defs[name].start)
        state[name] = 1
        for used in sorted(uses(defs[name])):
            visit(used, chain + [name])
        state[name] = 2
        order.append((name, defs[name]))

    for name, _ in program.bindings:
        visit(name, [])
    return order


def build_problem(program: Program, shapes: dict | None = None,
                  symmetric: set[str] | None = None) -> Problem:
    """Infer every shape and build the expression trees of a parsed program."""
    load_rules()
    checker = _Checker(program, shapes or {}, symmetric or set())
    ordered = _binding_order(program, program.text)
    for name, body in ordered:
        if name in GREEK or name in checker.functions or name == "eye":
            raise ParseError(f"cannot bind {name!r}: it names a "
                             f"{'function' if name != 'eye' and name not in GREEK else 'constant'}"
                             f" of the language", program.text, body.start)
        checker.binding_shapes[name] = checker.infer(body)
    assert program.body is not None
    checker.infer(program.body)
    for name in checker.symmetric:
        if name not in checker.var_shapes:
            raise ShapeError(f"{name!r} is declared symmetric but does not appear in the "
                             f"expression")
    known = {resolve(d) for shape in checker.var_shapes.values() for d in shape}
    for node, shape in checker.sized:
        unknown = [resolve(d) for d in shape if not isinstance(resolve(d), int)
                   and resolve(d) not in known]
        if unknown:
            raise ShapeError(f"cannot infer the size of {checker._snippet(node)}: no variable "
                             f"fixes it; use it where a variable's shape determines it",
                             program.text, node.start, node.end)
    refs: dict[str, Node] = {}
    bindings: dict[str, Node] = {}
    for name, body in ordered:
        tree = checker.build(body, refs)
        bindings[name] = tree
        refs[name] = leaf("ref", tree.shape, name, tree.deps)
    expr = checker.build(program.body, refs)
    variables = {n: checker.tshape(s) for n, s in checker.var_shapes.items()}
    return Problem(expr, bindings, variables, program.text, [n for n, _ in ordered],
                   set(checker.symmetric))


__all__ = ["GREEK", "SCALAR", "Problem", "build_problem"]
