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
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from types import ModuleType

from . import algebra, as_written
from .errors import ParseError, ShapeError
from .names import GREEK
from .operators import CONSTRUCTORS, infer_shape, known_functions, operator_for_call, spellings
from .ops import (
    SCALAR,
    DimProduct,
    DimVar,
    Node,
    Shape,
    ShapeMismatch,
    SmallerDim,
    dim_factors_of,
    dim_product,
    find_dim,
    fmt_shape,
    leaf,
    var,
)
from .parse import Ast, Program, left_spine, walk
from .rules import load_rules

MAX_NUMBER = 1e300          # literals are limited in magnitude, so that folding them stays exact
MIN_NUMBER = 1e-300
MAX_MATRIX_POWER = 32       # A^k differentiates into k terms

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


TDim = DimVar | DimProduct | int
TShape = tuple[TDim, TDim]


def _find(d: TDim) -> TDim:
    return find_dim(d)


def _unify_product(a: TDim, b: TDim) -> None:
    """Unify where one side is a product: an unknown takes it as its value; anything else must
    spell the same product once resolved."""
    if isinstance(a, DimProduct):
        a, b = b, a
    if isinstance(a, DimVar) and not a.rigid and not _occurs(a, b):
        a.parent = b
        return
    if resolve(a) == resolve(b):
        return
    unknown = [f for d in (a, b) for f in dim_factors_of(d)
               if isinstance(_find(f), DimVar) and not _find(f).rigid]  # type: ignore[union-attr]
    hint = "; declare the shapes of the Kronecker factors" if unknown else ""
    raise ShapeMismatch(f"{resolve(a)} ≠ {resolve(b)}{hint}")


def _occurs(v: DimVar, d: TDim) -> bool:
    return any(_find(f) is v for f in dim_factors_of(_find(d)))


def unify(a: TDim, b: TDim) -> None:
    a, b = (_settled(_find(d)) for d in (a, b))
    if a is b or a == b or (isinstance(a, SmallerDim) and isinstance(b, SmallerDim)
                            and a.name == b.name):
        return
    if isinstance(a, DimProduct) or isinstance(b, DimProduct):
        _unify_product(a, b)
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


def _settled(d: TDim) -> TDim:
    """A smaller-of dimension whose parts are numbers is their minimum."""
    if isinstance(d, SmallerDim) and isinstance(d.name, int):
        return d.name
    return d


def resolve(d: TDim) -> int | str:
    d = _find(d)
    if isinstance(d, DimProduct):
        out: int | str = 1
        for f in d.factors:
            out = dim_product(out, resolve(f))
        return out
    return d if isinstance(d, int) else d.name  # a SmallerDim of two numbers: their minimum


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
    declared: set[str] = field(default_factory=set)      # variables whose shape was declared
    warnings: list[str] = field(default_factory=list)    # where a default may not be what is meant
    program: Program | None = None
    shapes: dict = field(default_factory=dict)           # the declarations, as given
    # bindings the input does not use: {name: its text}; a result may still use them (its names)
    unused_bindings: dict[str, str] = field(default_factory=dict)
    # name -> body as the user wrote it (as_written.py): what a where-clause shows of a binding,
    # never what the engine computes with
    written: dict[str, Node] = field(default_factory=dict)
    # names a derivation gave the partial products of a long matrix product (partial_products.py),
    # in dependency order: bindings (in `bindings` and `written`), never the user's
    partials: list[str] = field(default_factory=list)

    def shape_sources(self) -> dict[str, tuple[Shape, str]]:
        """{name: (shape, "declared" | "default" | "binding")}: variables, then bindings."""
        out = {n: (s, "declared" if n in self.declared else "default")
               for n, s in self.variables.items()}
        out.update({n: (self.bindings[n].shape, "binding") for n in self.binding_order})
        return out

    def shapes_text(self) -> str:
        """The shapes used, in one line (`X m×n, a m×1 (declared); mu scalar (by default)`).

        >>> from matcalc.parse import parse
        >>> build_problem(parse("mu*x'*A*x"), {"A": ("n", "n")}).shapes_text()
        'A n×n (declared); mu scalar, x n×1 (by default)'
        """
        groups: dict[str, list[str]] = {"declared": [], "default": [], "binding": []}
        for name, (shape, source) in self.shape_sources().items():
            groups[source].append(f"{name} {fmt_shape(shape)}")
        label = {"declared": "declared", "default": "by default", "binding": "bindings"}
        return "; ".join(f"{', '.join(sorted(items, key=str.lower))} ({label[k]})"
                         for k, items in groups.items() if items)

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
        self.constants: dict[int, float | None] = {}   # per binop: its value if all literals
        self.fresh = 0
        self.functions = known_functions()
        self.sized: list[tuple[Ast, TShape]] = []   # eye, vector(c), matrix(c): sized by context
        self.greek_broadcasts: list[tuple[str, Ast, Ast]] = []   # (name, operation, other side)

    def agree(self, name: str, body: Ast, shape: TShape) -> None:
        """A declared shape for a bound name must be its binding's."""
        declared = self.declared[name]
        try:
            unify(declared[0], shape[0])
            unify(declared[1], shape[1])
        except ShapeMismatch:
            self._fail(body, f"{name} is declared {show(declared)}, but its binding "
                             f"{self._snippet(body)} is {show(shape)}")

    # -- pass 1: shapes ----------------------------------------------------------------------------
    def infer(self, node: Ast) -> TShape:
        # The links of a chain a + b - c + ... from the innermost out, by iteration: each link's
        # left operand is the link before it (in self.shape), its right one is inferred in turn.
        for link in reversed(left_spine(node)[1:]):
            self.shape[id(link)] = self._infer(link)
        shape = self._infer(node)
        self.shape[id(node)] = shape
        return shape

    def _operand(self, node: Ast, i: int) -> TShape:
        """The shape of an operator's operand: a chain's earlier link is already inferred."""
        child = node.children[i]
        if i == 0 and node.kind == "binop" and child.kind == "binop":
            return self.shape[id(child)]
        return self.infer(child)

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
            detail = f" ({exc})" if str(exc) and "≠" not in str(exc) else ""
            if len(operands) == 2:
                # a hint after "; " (declare the shapes of Kronecker factors) is kept
                hint = f"; {str(exc).split('; ', 1)[1]}" if "; " in str(exc) else ""
                self._fail(node, f"shape mismatch in {self._snippet(node)}: operator '{symbol}' "
                                 f"cannot combine {self._snippet(operands[0])} "
                                 f"({show(shapes[0])}) with {self._snippet(operands[1])} "
                                 f"({show(shapes[1])}){detail or hint}")
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
            shape = self._binop(node)
            value = _constant(node, self.constants)
            if value is not None and not (value == 0 or MIN_NUMBER <= abs(value) <= MAX_NUMBER):
                raise ParseError(f"{self._snippet(node)} is out of range: numbers (also computed "
                                 f"ones) must lie between {MIN_NUMBER:g} and {MAX_NUMBER:g} in "
                                 f"magnitude", self.text, node.start, node.end)
            return shape
        if kind == "call":
            return self._call(node)
        raise ParseError(f"{kind} is not part of the input language", self.text, node.start)

    def _greek_default(self, name: str) -> bool:
        return name in GREEK and name not in self.declared and name not in self.binding_shapes

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
        left, right = self._operand(node, 0), self._operand(node, 1)
        if op in ("+", "-", ".*", "./"):
            a, b = node.children
            for side, other, other_shape in ((a, b, right), (b, a, left)):
                if side.kind == "name" and self._greek_default(str(side.value)) \
                        and not _scalar(other_shape):
                    self.greek_broadcasts.append((str(side.value), node, other))
        if op in ("+", "-", ".*", "./"):
            expanded = self._expansion(node, left, right)
            if expanded is not None:
                return expanded
            return self._apply(node, "add" if op in ("+", "-") else "hadamard", [left, right],
                               symbol=op)
        if op == "*":
            return self._apply(node, "matmul", [left, right], symbol=op)
        if op == "\\":         # MATLAB's left division: A\B = solve(A, B)
            return self._apply(node, "solve", [left, right], symbol="\\")
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
                if _find(left[1]) == 1 or _find(left[0]) == 1:
                    self._fail(node, f"{self._snippet(node)}: {self._snippet(node.children[0])} is "
                                     f"{show(left)}, and ^ is the power of a square matrix; "
                                     f"use .^ for an elementwise power")
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

    def _expansion(self, node: Ast, left: TShape, right: TShape) -> TShape | None:
        """MATLAB's implicit expansion: a column vector combined with every column of a matrix,
        a row with every row (`X*W' + b'`). The vector's length must be the matrix's matching
        dimension; the shape is the matrix's. None when neither operand is a matrix with a
        vector beside it (equal shapes, a scalar: the ordinary rules). A row and a column are
        not expanded into an outer sum: that is refused as a mismatch, with a hint.

        An unknown dimension never becomes 1, so whether an operand is a vector is known here and
        never changes later."""
        kinds = [_kind(s) for s in (left, right)]
        if sorted(kinds) == ["column", "row"]:
            a, b = node.children
            self._fail(node, f"shape mismatch in {self._snippet(node)}: operator "
                             f"'{node.value}' cannot combine {self._snippet(a)} ({show(left)}) "
                             f"with {self._snippet(b)} ({show(right)}): a row and a column are "
                             f"not expanded into a matrix (implicit expansion combines a vector "
                             f"with a matrix); for an outer sum write x*vector(1)' + "
                             f"vector(1)*y'")
        if "matrix" not in kinds or not {"column", "row"} & set(kinds):
            return None
        side = kinds.index("matrix")
        matrix, vector = (left, right) if side == 0 else (right, left)
        along = 0 if kinds[1 - side] == "column" else 1
        try:
            unify(matrix[along], vector[along])
        except ShapeMismatch:
            a, b = node.children
            what = "rows" if along == 0 else "columns"
            self._fail(node, f"shape mismatch in {self._snippet(node)}: operator "
                             f"'{node.value}' cannot combine {self._snippet(a)} ({show(left)}) "
                             f"with {self._snippet(b)} ({show(right)}): a "
                             f"{kinds[1 - side]} vector is expanded over a matrix with as many "
                             f"{what} as it has entries")
        self.info[id(node)] = ("expand", 1 - side, kinds[1 - side])
        return matrix

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
        allowed = CONSTRUCTORS.get(name) or sorted({o.call_arity for o in candidates})
        arity = len(args) if len(args) in allowed else allowed[0]
        candidates = [o for o in candidates if o.call_arity == arity]
        if len(args) != arity:
            counts = " or ".join(map(str, allowed))
            raise ParseError(f"{name} takes {counts} argument{'s' if allowed != [1] else ''}, "
                             f"got {len(args)}", self.text, node.start, node.end)
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
        if any(o.dimension is not None for o in candidates):
            return self._along(node, name, candidates, shapes[0])
        resolved = [(_find(r), _find(c)) for r, c in shapes]
        op = next(o for o in candidates if o.accepts is None or o.accepts(resolved[0]))
        refusal = op.refuses(resolved) if op.refuses is not None else ""  # type: ignore[arg-type]
        if refusal:
            self._fail(node, f"{self._snippet(node)}: {refusal}")
        self.info[id(node)] = op.name
        return self._apply(node, op.name, shapes, symbol=name)

    def _along(self, node: Ast, name: str, rows: list, shape: TShape) -> TShape:
        """A call along a dimension, `sum(A, 2)`: the last argument, a literal 1 (down the
        columns) or 2 (along the rows), picks the row. A vector along its length takes the row
        without a dimension (`softmax(x, 1)` is `softmax(x)`, `sum(x', 2)` is `sum(x')`)."""
        operand, literal = node.children
        if literal.kind != "number" or str(literal.value) not in ("1", "2"):
            raise ParseError(f"{name}({self._snippet(operand)}, {self._snippet(literal)}): the "
                             f"dimension is written 1 (down the columns) or 2 (along the rows)",
                             self.text, literal.start, literal.end)
        dimension = int(str(literal.value))
        r, c = (_find(d) for d in shape)
        length, across = (r, c) if dimension == 1 else (c, r)
        if length == 1:
            self._fail(node, f"{self._snippet(node)}: dimension {dimension} of "
                             f"{self._snippet(operand)} ({show(shape)}) has length 1, so there "
                             f"is nothing to take the {name} along"
                             + (f"; write {name}({self._snippet(operand)}) for the {name} along "
                                f"its length" if across != 1 else ""))
        if across == 1:                 # a vector along its length
            vector = operator_for_call(name, 1)
            assert vector is not None, name
            transposed = r == 1
            self.info[id(node)] = (vector.name, transposed)
            out = self._apply(node, vector.name, [(c, r) if transposed else (r, c)],
                              symbol=name)
            return (out[1], out[0]) if transposed else out
        row = next(o for o in rows if o.dimension == dimension)
        self.info[id(node)] = (row.name, False)
        return self._apply(node, row.name, [shape], symbol=name)

    # -- pass 2: expression trees --------------------------------------------------------------------
    def dim(self, d: TDim) -> int | str:
        return resolve(d)

    def tshape(self, shape: TShape) -> Shape:
        return (resolve(shape[0]), resolve(shape[1]))

    def build(self, node: Ast, refs: dict[str, Node], make: ModuleType = algebra) -> Node:
        """The expression tree of a syntax node; a chain's links from the innermost out, by
        iteration (see infer). `make` holds the constructors: algebra's, for the canonical tree
        the engine works on, or as_written's, for a binding's tree as the user wrote it."""
        spine = left_spine(node)
        if spine and spine[0].value in ("+", "-"):     # a sum: its terms added at once
            terms = []
            for link in spine:
                if link.value not in ("+", "-"):
                    break
                right = self.build(link.children[1], refs, make)
                terms.append(right if link.value == "+" else make.neg(right))
                node = link.children[0]
            terms = [self.build(node, refs, make), *reversed(terms)]
            shape = self.tshape(self.shape[id(spine[0])])
            if 1 not in shape:      # vectors beside a matrix: each expanded (_expansion), as
                terms = [expand(t, shape, "column" if t.is_column else "row")  # the sum is linear
                         if t.is_vector else t for t in terms]
            return make.add(*terms)
        built = self._build(spine[-1], refs, None, make) if spine else \
            self._build(node, refs, None, make)
        for link in reversed(spine[:-1]):
            built = self._build(link, refs, built, make)
        return built

    def _build(self, node: Ast, refs: dict[str, Node], first: Node | None,
               make: ModuleType) -> Node:
        """`node` built, with `first` its first operand when that is already built."""
        kind = node.kind
        kids = [first if i == 0 and first is not None else self.build(c, refs, make)
                for i, c in enumerate(node.children)]
        if kind == "number":
            return make.number(_number(str(node.value)))
        if kind == "name":
            name = str(node.value)
            if name in refs:
                return refs[name]
            if name == "eye":
                return make.eye(self.dim(self.info[id(node)]))  # type: ignore[arg-type]
            return var(name, self.tshape(self.var_shapes[name]), name in self.symmetric)
        if kind == "neg":
            return make.neg(kids[0])
        if kind == "transpose":
            return make.transpose(kids[0])
        if kind == "binop":
            op = str(node.value)
            a, b = kids
            expansion = self.info.get(id(node))
            if isinstance(expansion, tuple):     # implicit expansion (_expansion)
                _, side, vector_kind = expansion
                a, b = (expand(a, b.shape, vector_kind), b) if side == 0 else \
                    (a, expand(b, a.shape, vector_kind))
            if op == "+":
                return make.add(a, b)
            if op == "-":
                return make.sub(a, b)
            if op == "*":
                return make.mul(a, b)
            if op == ".*":
                return make.hadamard(a, b)
            if op in ("/", "./"):
                return make.divide(a, b)
            if op == "\\":
                return make.apply("solve", a, b)
            if self.info.get(id(node)) == "matpow":
                return make.apply("matpow", a, b)
            return make.power(a, b)
        name = str(node.value)
        if name == "eye":
            n = self.info[id(node)]
            return make.eye(n)
        if name in ("vector", "matrix"):
            return make.fill(kids[0], self.tshape(self.info[id(node)]))  # type: ignore[arg-type]
        info = self.info[id(node)]
        if isinstance(info, tuple):     # along a dimension: the operand alone (_along)
            op, transposed = info
            if transposed:
                # how the tree holds a row's f(r), whoever builds it: not written by the user
                return algebra.transpose(make.apply(op, algebra.transpose(kids[0])))
            return make.apply(op, kids[0])
        return make.apply(str(info), *kids)


def _kind(shape: TShape) -> str:
    """"scalar", "column", "row" or "matrix": what an operand is, known once inferred."""
    r, c = (_find(d) for d in shape)
    if r == 1:
        return "scalar" if c == 1 else "row"
    return "column" if c == 1 else "matrix"


def expand(vector: Node, shape: Shape, kind: str) -> Node:
    """A vector repeated to `shape`: a column c as c*vector(1)', a row b' as vector(1)*b'. The
    outer product with ones is the tree's form of implicit expansion; the printers write it back
    as the vector alone where it is combined with a matrix, and generated code broadcasts it."""
    if kind == "column":
        return algebra.mul(vector, algebra.fill(algebra.ONE, (1, shape[1])))
    return algebra.mul(algebra.fill(algebra.ONE, (shape[0], 1)), vector)


def _constant(node: Ast, known: dict[int, float | None]) -> float | None:
    """The value of an expression of number literals (`2^1000`), inf where it overflows; None
    for anything else. The value of each operator is kept in `known` (by id), so that a chain
    of n links costs n steps, not n²/2."""
    if node.kind == "number":
        return float(str(node.value))
    if node.kind == "neg":
        inner = _constant(node.children[0], known)
        return None if inner is None else -inner
    if node.kind != "binop":
        return None
    if id(node) not in known:
        known[id(node)] = _binop_constant(node, *(
            known[id(c)] if id(c) in known else _constant(c, known) for c in node.children))
    return known[id(node)]


def _binop_constant(node: Ast, a: float | None, b: float | None) -> float | None:
    """A binary operator applied to the values of its operands (None: not all numbers)."""
    if a is None or b is None:
        return None
    op = str(node.value)
    try:
        if op in ("+", "-"):
            return a + b if op == "+" else a - b
        if op in ("*", ".*", "/", "./"):
            value = a * b if op in ("*", ".*") else a / b
        else:
            value = float(abs(a) ** b) if a != 0 else 0.0
    except OverflowError:
        return float("inf")
    except (ZeroDivisionError, ValueError):
        return None
    return float("nan") if value == 0 and a != 0 and b != 0 else value    # underflow


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
        return {str(n.value) for n in walk(node) if n.kind == "name" and n.value in defs}

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
    _infer_shapes(checker, program, ordered)
    refs: dict[str, Node] = {}
    bindings: dict[str, Node] = {}
    for name, body in ordered:
        tree = checker.build(body, refs)
        bindings[name] = tree
        # a binding built as a zero (u = X.*Y*(S - S)) stands for no variable: used as itself, so
        # that it folds away, rather than as a name whose text no variable sizes (u = matrix(0))
        refs[name] = tree if tree.op == "zero" else leaf("ref", tree.shape, name, tree.deps)
    assert program.body is not None
    expr = checker.build(program.body, refs)
    variables = {n: checker.tshape(s) for n, s in checker.var_shapes.items()}
    warnings = _warnings(checker, shapes or {}, ordered, expr, bindings, variables)
    used = {n.value for tree in [expr, *bindings.values()] for n in tree.distinct() if n.op == "ref"}
    used |= {name for name, tree in bindings.items() if tree.op == "zero"}
    unused = {name: checker._snippet(body) for name, body in ordered if name not in used}
    return Problem(expr, bindings, variables, program.text, [n for n, _ in ordered],
                   set(checker.symmetric), set(checker.declared) & set(variables),
                   warnings, program, dict(shapes or {}), unused,
                   _written(checker, ordered, bindings))


def _written(checker: _Checker, ordered: list[tuple[str, Ast]],
             bindings: dict[str, Node]) -> dict[str, Node]:
    """Each binding's body as the user wrote it, naming every binding it uses — also one whose
    canonical tree folded to zero and so appears in no canonical body (u = X.*Y*(S - S))."""
    names = {n: leaf("ref", tree.shape, n, tree.deps) for n, tree in bindings.items()}
    return {name: checker.build(body, names, as_written) for name, body in ordered}


def _infer_shapes(checker: _Checker, program: Program, ordered: list[tuple[str, Ast]]) -> None:
    """Pass 1 over the bindings and the body; every declaration and every size checked."""
    for name, body in ordered:
        if name in checker.functions or name == "eye":
            raise ParseError(f"cannot bind {name!r}: it names a "
                             f"{'function' if name != 'eye' else 'constant'} of the language",
                             program.text, body.start)
        # a binding defines its name's shape, whatever the name (mu = W1*x + b1 is a vector)
        checker.binding_shapes[name] = checker.infer(body)
        if name in checker.declared:
            checker.agree(name, body, checker.binding_shapes[name])
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


def _warnings(checker: _Checker, shapes: dict, ordered: list[tuple[str, Ast]], expr: Node,
              bindings: dict[str, Node], variables: dict[str, Shape]) -> list[str]:
    """Greek defaults applied entry by entry, declarations of absent names, unused bindings."""
    warnings = [f"{name} is a scalar by default (a Greek name), so {checker._snippet(node)} "
                f"applies it to every entry of {checker._snippet(other)} "
                f"({show(checker.shape[id(other)])}); if {name} is a vector, declare its shape "
                f"(--shape {name}=n, shapes={{'{name}': ('n',)}})"
                for name, node, other in checker.greek_broadcasts]
    seen = set(variables) | set(bindings)
    warnings += [f"a shape is declared for {name}, which does not appear in the expression"
                 for name in shapes if name not in seen]
    return list(dict.fromkeys(warnings))


def shape_warnings(problem: Problem, wrt: str, named: Iterable[str] = ()) -> list[str]:
    """Sentences about default shapes that may not be what was meant (README, Shapes), and about
    bindings used neither by the input nor by the result (`named`: the bindings a result uses)."""
    non_scalar = non_scalar_warning(problem, {wrt})
    unused = [f"the binding {name} = {text} is not used"
              for name, text in problem.unused_bindings.items() if name not in set(named)]
    return problem.warnings + ([non_scalar] if non_scalar else []) + unused


def non_scalar_warning(problem: Problem, wrt: set[str]) -> str | None:
    """If f is not a scalar only because of a default shape — an undeclared lower-case name taken
    for a vector (`n/2*logdet(S)`) — the sentence that says so, else None.

    >>> from matcalc.parse import parse
    >>> non_scalar_warning(build_problem(parse("n/2*logdet(S)")), {"S"})[:45]
    'f is a vector of length len(n), not a scalar:'
    """
    if problem.expr.is_scalar or problem.program is None:
        return None
    for name, shape in problem.variables.items():
        if name in problem.declared or name in wrt or shape == SCALAR:
            continue
        try:
            trial = build_problem(problem.program, {**problem.shapes, name: ()},
                                  problem.symmetric - {name})
        except (ShapeError, ParseError):
            continue
        if trial.expr.is_scalar:
            r, c = problem.expr.shape
            what = f"a vector of length {r}" if c == 1 else fmt_shape(problem.expr.shape)
            kind = "vector" if shape[1] == 1 else "matrix"
            return (f"f is {what}, not a scalar: {name} is a {kind} by default (an undeclared "
                    f"{'lower' if kind == 'vector' else 'upper'}-case name); if {name} is a "
                    f"number, declare it (--shape {name}=scalar, shapes={{'{name}': ()}}) and f "
                    f"is a scalar")
    return None


__all__ = ["GREEK", "SCALAR", "Problem", "build_problem", "non_scalar_warning", "shape_warnings"]
