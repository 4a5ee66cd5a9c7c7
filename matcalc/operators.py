"""The operator registry: every operator of the language, defined once.

A row (`Operator`) says everything the rest of matcalc needs to know about one operator:

- how the input language spells it (`spelling`, `arity`) and which shapes it takes (`shape`);
- how to evaluate it with NumPy (`evaluate`, used by the self-check in verify.py);
- how readers see it: the input language (`text`), LaTeX (`latex`) and SymPy (`sympy`);
- how generated code spells it, one template per backend (`code`), or `LOWERED` where the code
  printer (printing/code.py) chooses among several forms (a contraction for `tr(A*B)`, …);
- its properties: elementwise, linear, symmetric result, the domain its argument must lie in.

The parser, the shape checker, the printers, the code generator and the numeric check all read
this table; none of them names an operator of the table itself. `tests/test_registry.py` walks the
table and fails for a row that lacks what a printer or a backend needs.

Adding an elementwise function is one row here (`elementwise(...)`) and one line in
`rules/elementwise.rules`; a new matrix operator is one row and its lines in the rules files
(`tests/test_extending.py` shows both).

The operators written with symbols (`+`, `*`, `.*`, `.^`, `^`, `'`) and the rule-only forms (`d`,
`f'`, `:`) are rows too, with `spelling=None`: their syntax is the grammar's (parse.py), and each
printer spells them with its own method, since their precedence rules are the printer's business.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from . import kernels
from .ops import (
    SCALAR,
    Node,
    Shape,
    ShapeMismatch,
    dim_product,
    dim_quotient,
    dim_value,
    smaller_dim,
)

Unify = Callable[[object, object], None]
ShapeRule = Callable[[list[Shape], Unify, object], Shape]
# (operands' values as 2-D arrays, the node, the sizes of named dimensions) → a 2-D array
Evaluator = Callable[[list[np.ndarray], Node, dict], np.ndarray]
# (the SymPy toolkit of printing/sympy.py, the operands in SymPy, the node) → a SymPy expression
SympyForm = Callable[[object, list, Node], object]

BACKEND_NAMES = ("numpy", "jax", "torch", "array-api")
LOWERED = "lowered"          # `code` of an operator that printing/code.py spells by a method
NAMED = "named"              # `code` of a leaf the module gives a name: a variable, a binding,
                             # the direction d(X) a linear map takes as an argument
NO_CODE = "none"             # `code` of f'(A): rewritten by elementwise.rules before any result
SYNTAX = "syntax"            # `text`/`latex` of an operator a printer spells by a method
APPLIED = r"\left({0}\right)"  # a function's LaTeX: its name, then its argument in parentheses
LIBRARY_PREFIX = {"numpy": "np", "jax": "jnp", "torch": "torch", "array-api": "xp"}


@dataclass(frozen=True)
class Operator:
    """One operator of the language and everything matcalc needs to know about it."""

    name: str                                   # the operator of expression trees (`Node.op`)
    shape: ShapeRule
    evaluate: Evaluator | None                  # None for leaves and rule-only forms
    text: str                                   # call name in the input language, or SYNTAX
    latex: str                                  # template over the operands, or SYNTAX
    sympy: SympyForm | None
    code: dict[str, str] | str = LOWERED        # backend → template, LOWERED, NAMED or NO_CODE
    spelling: str | None = None                 # how the input language calls it (None: syntax)
    arity: int = 1
    accepts: Callable[[Shape], bool] | None = None   # of several rows with one spelling, which
    latex_precedence: str = "atom"              # precedence of the LaTeX template's result
    elementwise: bool = False                   # f(A)_ij = f(A_ij)
    linear: bool = False                        # L(aA + bB) = aL(A) + bL(B)
    symmetric_result: bool = False              # its value is a symmetric matrix
    keeps_symmetry: bool = False                # symmetric argument → symmetric result
    domain: str = "real"                        # "positive" (log, sqrt), "square", "invertible",
                                                # "symmetric" (of its symmetric part), "full-rank",
                                                # "spd" (positive definite symmetric part),
                                                # "positive-spectrum" (eigenvalues off (-inf, 0])
    almost_everywhere: bool = False             # nonsmooth: derivatives hold almost everywhere
    # an interval holding every value it takes (exp: [0, inf], floats underflowing to 0), for the
    # code printer's sign analysis (printing/codegen/signs.py); None: unbounded
    image: tuple[float, float] | None = None
    # where its derivative formula holds, when that is not everywhere in its domain (a simple
    # eigenvalue, full rank): derivations that use its differential rule say so in a note
    condition: str = ""
    # backends whose library lacks it: their code is a helper that raises NotImplementedError
    # saying so (and which backends have it) — never a silent hole
    refused_by: tuple[str, ...] = ()
    rule_only: bool = False                     # written by rules, never part of a result
    # its value is a triangular matrix ("lower"): generated code solves with it by substitution
    triangular: str = ""
    # a part of a factorization a result names in its where clause (eigvecs: "U"), shared.py
    part: str = ""
    # its value read off a factorization's result (a helper of every backend returning a tuple):
    # ("_eigh", "[1][:, -1]") — generated code computes the factorization once for all the parts
    # of one operand it uses (printing/codegen/module.py), and calls `code` where it uses one
    factor: tuple[str, str] | None = None
    # The dimension a row works along, MATLAB's: 1 down the columns, 2 along the rows. Such a row
    # is called with the dimension as a last, literal argument (`sum(A, 2)`), which picks it among
    # the rows of its spelling; the node holds the operand alone. One row per dimension keeps
    # each row static: its shape rule, evaluation, forms and code need no argument, and the rules
    # files tell `sum(A, 1)` from `sum(A, 2)` by the operator, as they tell any two operators.
    dimension: int | None = None
    # its generated code takes 2-D arrays: vector operands are lifted (x[:, None]) and a vector
    # result raveled (printing/codegen/code.py)
    matrix_operands: bool = False
    # why the input language refuses a call with these operand shapes ("" where it does not);
    # rules may still build it (kron(s, A) in kronecker.rules, canonical as s*A)
    refuses: Callable[[list[Shape]], str] | None = None

    @property
    def call_arity(self) -> int:
        """How many arguments a call of it takes (the dimension counts)."""
        return self.arity + (self.dimension is not None)

    @property
    def numpy_ufunc(self) -> str | None:
        """The NumPy ufunc that computes this elementwise function, if its spelling is one."""
        if self.elementwise and self.code != LOWERED and \
                self.code["numpy"] == f"np.{self.name}({{0}})":  # type: ignore[index]
            return self.name
        return None


REGISTRY: dict[str, Operator] = {}
# the constructors the parser reads itself, with the argument counts they take: eye / eye(n),
# vector(c), matrix(c) — sized by what they are combined with
CONSTRUCTORS = {"eye": (0, 1), "vector": (1,), "matrix": (1,)}


def register(op: Operator) -> Operator:
    """Add a row to the registry (replacing one of the same name) and return it."""
    REGISTRY[op.name] = op
    return op


def unregister(name: str) -> None:
    """Remove a row (tests that define an operator of their own clean up with this)."""
    REGISTRY.pop(name, None)


def lookup(name: str) -> Operator:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no operator {name!r} in the registry") from None


def spellings() -> dict[str, list[Operator]]:
    """Call name of the input language → the operators it may mean (`diag`: two)."""
    out: dict[str, list[Operator]] = {}
    for op in REGISTRY.values():
        if op.spelling is not None:
            out.setdefault(op.spelling, []).append(op)
    return out


def operator_for_call(spelling: str, count: int, dimension: int | None = None) -> Operator | None:
    """The row a call of `spelling` with `count` arguments means, before shapes are known: the
    first row taking that many; of rows along a dimension, the one of `dimension` (the literal
    written last), None if there is none. Rows told apart by shape (diag) share the first.

    >>> operator_for_call("sum", 2, dimension=2).name
    'sum2'
    """
    rows = [o for o in spellings().get(spelling, ()) if o.call_arity == count]
    if any(o.dimension is not None for o in rows):
        rows = [o for o in rows if o.dimension == dimension]
    return rows[0] if rows else None


def known_functions() -> set[str]:
    """Every name the input language calls as a function."""
    return set(spellings()) | set(CONSTRUCTORS)


def conditions(names: Iterable[object]) -> list[str]:
    """Notes for the operators `names` whose derivative formulas hold under a condition.

    >>> conditions(["lambdamax", "tr"])
    ['lambdamax: holds where the largest eigenvalue is simple']
    """
    return [f"{n}: {REGISTRY[n].condition}" for n in sorted(set(map(str, names)))
            if n in REGISTRY and REGISTRY[n].condition]


def is_elementwise(name: str) -> bool:
    op = REGISTRY.get(name)
    return op is not None and op.elementwise


# -- shape rules --------------------------------------------------------------------------------

def _same(a: Shape, b: Shape, unify: Unify) -> None:
    unify(a[0], b[0])
    unify(a[1], b[1])


def broadcast_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """Shape of `+`/`.*`: equal shapes, where a scalar operand broadcasts."""
    full = [s for s in shapes if s != SCALAR]
    if not full:
        return SCALAR
    for s in full[1:]:
        _same(full[0], s, unify)
    return full[0]


def matmul_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    result: Shape | None = None
    for s in shapes:
        if s == SCALAR:
            continue
        if result is None:
            result = s
        else:
            unify(result[1], s[0])
            result = (result[0], s[1])
    return result or SCALAR


def first_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """The shape of the (first) operand: elementwise functions, d(·), f'(·)."""
    return shapes[0]


def scalar_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    return SCALAR


def square_to_scalar(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    unify(shapes[0][0], shapes[0][1])
    return SCALAR


def square_to_square(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    unify(shapes[0][0], shapes[0][1])
    return shapes[0]


def power_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    if shapes[1] != SCALAR:
        raise ShapeMismatch("the exponent must be a scalar")
    return shapes[0]


def matpow_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    power_shape(shapes, unify)
    return square_to_square(shapes, unify)


def transpose_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    return (shapes[0][1], shapes[0][0])


def value_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """Leaves and fills carry their shape: the builder passes it as `value`."""
    if shapes and shapes[0] != SCALAR:
        raise ShapeMismatch("the fill value must be a scalar")
    return value  # type: ignore[return-value]


def column_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    if shapes[0][1] != 1:
        raise ShapeMismatch("it takes a column vector")
    return shapes[0]


def column_to_scalar(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    column_shape(shapes, unify)
    return SCALAR


def along_shape(dimension: int, reduces: bool) -> ShapeRule:
    """The shape rule of a row along `dimension` of a matrix: a reduction leaves that dimension
    1 (`sum(A, 1)` is a row), a function along it keeps the shape (`softmax(A, 2)`)."""
    def rule(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
        r, c = shapes[0]
        if r == 1 or c == 1:
            raise ShapeMismatch("it takes a matrix along a dimension; a vector along its length "
                                "is written without one")
        if not reduces:
            return shapes[0]
        return (1, c) if dimension == 1 else (r, 1)
    return rule


def vector_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    if shapes[0][0] != 1 and shapes[0][1] != 1:
        raise ShapeMismatch("it takes a vector")
    return shapes[0]


def vector_to_scalar(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    if shapes[0][0] != 1 and shapes[0][1] != 1:
        raise ShapeMismatch("it takes a vector")
    return SCALAR


def diagm_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    n = shapes[0][0] if shapes[0][1] == 1 else shapes[0][1]
    return (n, n)


def diagv_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    unify(shapes[0][0], shapes[0][1])
    return (shapes[0][0], 1)


def kron_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    (r1, c1), (r2, c2) = shapes
    return (dim_product(r1, r2), dim_product(c1, c2))


def khatrirao_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """khatrirao(A, B): as many columns each, the rows multiplied."""
    (r1, c1), (r2, c2) = shapes
    unify(c1, c2)
    return (dim_product(r1, r2), c1)


def kron_adjoint_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """kronleft(G, B) / kronright(G, A): G's blocks have the second operand's shape; one entry
    (kronleft) or one block (kronright) per block: G's shape divided by the operand's."""
    (g0, g1), (b0, b1) = shapes
    return (dim_quotient(g0, b0), dim_quotient(g1, b1))


def khatrirao_adjoint_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """khatriraoleft(G, B) / khatriraoright(G, A): a column per column of G."""
    (g0, g1), (b0, b1) = shapes
    unify(g1, b1)
    return (dim_quotient(g0, b0), g1)


def _no_scalar(name: str) -> Callable[[list[Shape]], str]:
    def refuses(shapes: list[Shape]) -> str:
        if SCALAR in shapes:
            return (f"{name} takes matrices or vectors, not a scalar (a scalar s times A is "
                    f"s*A)")
        return ""
    return refuses


def vec_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    return (dim_product(*shapes[0]), 1)


def _square_matrix(shape: Shape, unify: Unify) -> None:
    """A square matrix, not a scalar (a 1×1 argument would be a float in generated code)."""
    if shape == SCALAR:
        raise ShapeMismatch("it takes a square matrix, not a scalar")
    unify(shape[0], shape[1])


def solve_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """solve(A, B) = inv(A)*B: A square, B with as many rows."""
    try:
        _square_matrix(shapes[0], unify)
    except ShapeMismatch:
        raise ShapeMismatch("it solves A*X = B, and A must be a square matrix") from None
    try:
        unify(shapes[0][1], shapes[1][0])
    except ShapeMismatch:
        raise ShapeMismatch("it solves A*X = B, and B must have as many rows as A") from None
    return shapes[1]


def square_matrix_to_scalar(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    _square_matrix(shapes[0], unify)
    return SCALAR


def square_matrix_to_square(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    _square_matrix(shapes[0], unify)
    return shapes[0]


def pinv_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    return transpose_shape([matrix_only(shapes, unify)], unify)


def matrix_only(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """A matrix function of a matrix that is not a vector or a scalar."""
    if 1 in shapes[0]:
        raise ShapeMismatch("it takes a matrix, not a vector or a scalar")
    return shapes[0]


def matrix_to_scalar(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """A norm of a matrix (for a vector, the norm is norm2)."""
    if 1 in shapes[0]:
        raise ShapeMismatch("it takes a matrix, not a vector or a scalar (for a vector: norm2)")
    return SCALAR


def svdvals_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """The singular values of an m×n matrix: a vector of length min(m, n)."""
    r, c = matrix_only(shapes, unify)
    return (smaller_dim(r, c), 1)  # type: ignore[arg-type]


def svdu_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """U of the thin SVD of an m×n matrix: m×min(m, n)."""
    r, c = matrix_only(shapes, unify)
    return (r, smaller_dim(r, c))  # type: ignore[arg-type]


def svdv_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """V of the thin SVD of an m×n matrix: n×min(m, n)."""
    r, c = matrix_only(shapes, unify)
    return (c, smaller_dim(r, c))  # type: ignore[arg-type]


def square_to_column(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    _square_matrix(shapes[0], unify)
    return (shapes[0][0], 1)


def frechet_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """expmfrechet(A, E): A and the direction E square, of one shape."""
    _same(shapes[0], shapes[1], unify)
    return square_matrix_to_square(shapes[:1], unify)


def marker_shape(shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """jac(E)/kvec(E) are made with their shape by the pass that reads a linear map off."""
    raise ShapeMismatch("the shape of jac(E) or kvec(E) is set by its pass (differentiate.py)")


def infer_shape(op: str, shapes: list[Shape], unify: Unify, value: object = None) -> Shape:
    """The shape of `op` applied to operands of `shapes`; raises ShapeMismatch.

    `value` carries what some operators need besides their operands (the shape of a fill).
    """
    return lookup(op).shape(shapes, unify, value)


# -- properties ---------------------------------------------------------------------------------

def is_symmetric(node: Node) -> bool:
    """Known to equal its transpose (a symmetric variable, eye, a diagonal, their inverses)."""
    if node.op == "var":
        return getattr(node.value, "symmetric", False)
    op = REGISTRY.get(node.op)
    if op is None:
        return False
    if op.symmetric_result:
        return True
    if op.keeps_symmetry:
        return is_symmetric(node.args[0])
    if node.op in ("add", "hadamard"):
        return all(is_symmetric(a) for a in node.args if not a.is_scalar)
    if node.op == "matmul":     # a palindrome: A*x*x'*A' with the middle symmetric
        chain = [a for a in node.args if not a.is_scalar]
        return node.is_square and all(_transposes(chain[i], chain[-1 - i])
                                      for i in range((len(chain) + 1) // 2))
    return False


def _transposes(a: Node, b: Node) -> bool:
    """Is b the transpose of a (structurally)?"""
    if a == b:
        return is_symmetric(a)
    return (b.op == "transpose" and b.args[0] == a) or (a.op == "transpose" and a.args[0] == b)


# -- NumPy evaluation helpers -------------------------------------------------------------------

def _size(d: object, dims: dict) -> int:
    return dim_value(d, dims)  # type: ignore[arg-type]


def shape_size(node: Node, dims: dict) -> tuple[int, int]:
    """The numeric shape of a node, given the sizes of its named dimensions."""
    return (_size(node.shape[0], dims), _size(node.shape[1], dims))


def _cell(x: float) -> np.ndarray:
    """A number as the 1×1 array the interpreter uses for scalars."""
    return np.array([[x]])


def _scalar(x: np.ndarray) -> np.ndarray:
    return x.reshape(()) if x.shape == (1, 1) else x


def _matmul(args: list[np.ndarray], node: Node, dims: dict) -> np.ndarray:
    out = args[0]
    for a in args[1:]:
        out = out * a if (out.shape == (1, 1) or a.shape == (1, 1)) else out @ a
    return out


def _hadamard(args: list[np.ndarray], node: Node, dims: dict) -> np.ndarray:
    out = args[0]
    for a in args[1:]:
        out = out * a
    return out


def _logdet(args: list[np.ndarray], node: Node, dims: dict) -> np.ndarray:
    sign, logabs = np.linalg.slogdet(args[0])
    return _cell(logabs if sign > 0 else np.nan)


def _chol(args: list[np.ndarray], node: Node, dims: dict) -> np.ndarray:
    """chol outside its domain is nan (as logdet's), a point the numeric checks pass over."""
    try:
        return kernels._chol(args[0])
    except np.linalg.LinAlgError:
        return np.full(args[0].shape, np.nan)


def _real(kernel: Callable[..., np.ndarray]) -> Evaluator:
    """A matrix function's value where it is real; nan where it is not (a logarithm of a matrix
    with a negative eigenvalue), as logdet's: a point the numeric checks pass over."""
    def evaluate(args: list[np.ndarray], node: Node, dims: dict) -> np.ndarray:
        value = kernel(*args)
        if np.iscomplexobj(value):
            if np.max(np.abs(value.imag)) > 1e-12 * max(1.0, float(np.max(np.abs(value)))):
                return np.full(value.shape, np.nan)
            value = value.real
        return value
    return evaluate


def _commutation(args: list[np.ndarray], node: Node, dims: dict) -> np.ndarray:
    rows, cols = (d if isinstance(d, int) else dims[d] for d in node.value)  # type: ignore[union-attr]
    return kernels._commutation(rows, cols)


def _length(args: list[np.ndarray], node: Node, dims: dict) -> np.ndarray:
    return _cell(float(args[0].size))


def _maximum_form(S: object, args: list, node: Node, larger: bool) -> object:
    """max(A, B) = A + relu(B - A), min(A, B) = A - relu(A - B), a scalar operand broadcast."""
    if node.shape == SCALAR:
        a, b = (S.scalar(x) for x in args)  # type: ignore[attr-defined]
        return S.sympy.Max(a, b) if larger else S.sympy.Min(a, b)  # type: ignore[attr-defined]
    a, b = (S.scalar(x) * S.ones(*node.shape) if n.shape == SCALAR else x  # type: ignore[attr-defined]
            for x, n in zip(args, node.args))
    if larger:
        return a + S.function("relu", b - a, node)  # type: ignore[attr-defined]
    return a - S.function("relu", a - b, node)  # type: ignore[attr-defined]


def _reduce_form(S: object, arg: object, node: Node, dimension: int) -> object:
    """The sums of a matrix along `dimension`: ones'*A (dimension 1) or A*ones (dimension 2)."""
    r, c = node.args[0].shape
    return S.ones(1, r) * arg if dimension == 1 else arg * S.ones(c, 1)  # type: ignore[attr-defined]


def _logsumexp_form(S: object, arg: object, node: Node, dimension: int) -> object:
    exp = S.function("exp", arg, node.args[0])  # type: ignore[attr-defined]
    return S.function("log", _reduce_form(S, exp, node, dimension), node)  # type: ignore[attr-defined]


def _softmax_form(S: object, arg: object, node: Node, dimension: int) -> object:
    """exp(A) with each column (1) or row (2) divided by its sum: a diagonal scaling."""
    exp = S.function("exp", arg, node)  # type: ignore[attr-defined]
    sums = _reduce_form(S, exp, node, dimension)
    if dimension == 1:
        return exp * S.sm.DiagMatrix(S.sm.HadamardPower(S.sm.Transpose(sums), -1))  # type: ignore[attr-defined]
    return S.sm.DiagMatrix(S.sm.HadamardPower(sums, -1)) * exp  # type: ignore[attr-defined]


def _logsoftmax_form(S: object, arg: object, node: Node, dimension: int) -> object:
    """A minus the logsumexp of its column (1) or row (2), repeated along it."""
    r, c = node.shape
    lse = _logsumexp_form(S, arg, node, dimension)
    return arg - (S.ones(r, 1) * lse if dimension == 1 else lse * S.ones(1, c))  # type: ignore[attr-defined]


def _axis_code(call: dict[str, str], dimension: int) -> dict[str, str]:
    """Per-backend templates of a call along a dimension: {axis} is the array axis (dimension - 1)."""
    return {b: t.replace("{axis}", str(dimension - 1)) for b, t in call.items()}


def along(name: str, dimension: int, reduces: bool, evaluate: Evaluator, sympy: SympyForm,
          code: dict[str, str], latex: str | None = None, linear: bool = False,
          latex_precedence: str = "atom") -> Operator:
    """The row of `name(A, dimension)`: a reduction (`reduces`) or a function along a dimension."""
    return Operator(
        name=f"{name}{dimension}", spelling=name, dimension=dimension,
        shape=along_shape(dimension, reduces), evaluate=evaluate, text=name,
        latex=latex or rf"\operatorname{{{name}}}\left({{0}}, {dimension}\right)",
        sympy=sympy, code=_axis_code(code, dimension), linear=linear,
        latex_precedence=latex_precedence)


def _along_rows() -> list[Operator]:
    """sum, mean, softmax, logsumexp and logsoftmax along dimension 1 and 2 of a matrix."""
    rows = []
    for k in (1, 2):
        axis = k - 1
        keep = (lambda a: a[None, :]) if k == 1 else (lambda a: a[:, None])
        rows += [
            along("sum", k, True, lambda args, node, dims, axis=axis:
                  np.sum(args[0], axis=axis, keepdims=True),
                  lambda S, args, node, k=k: _reduce_form(S, args[0], node, k),
                  {"numpy": "np.sum({0}, axis={axis})", "jax": "jnp.sum({0}, axis={axis})",
                   "torch": "torch.sum({0}, {axis})", "array-api": "xp.sum({0}, axis={axis})"},
                  latex=r"\mathbf 1^\top {0:postfix}" if k == 1 else r"{0:postfix} \mathbf 1",
                  linear=True, latex_precedence="mul"),
            along("mean", k, True, lambda args, node, dims, axis=axis:
                  np.mean(args[0], axis=axis, keepdims=True),
                  lambda S, args, node, k=k: _reduce_form(S, args[0], node, k)
                  / S.dim(node.args[0].shape[k - 1]),
                  {"numpy": "np.mean({0}, axis={axis})", "jax": "jnp.mean({0}, axis={axis})",
                   "torch": "torch.mean({0}, {axis})", "array-api": "xp.mean({0}, axis={axis})"},
                  linear=True),
            along("softmax", k, False, lambda args, node, dims, axis=axis:
                  kernels._softmax_along(args[0], axis),
                  lambda S, args, node, k=k: _softmax_form(S, args[0], node, k),
                  {"numpy": "_softmax_along({0}, {axis})", "jax": "jax.nn.softmax({0}, axis={axis})",
                   "torch": "torch.softmax({0}, {axis})",
                   "array-api": "_softmax_along({0}, {axis})"}),
            along("logsumexp", k, True, lambda args, node, dims, axis=axis, keep=keep:
                  keep(kernels._logsumexp_along(args[0], axis)),
                  lambda S, args, node, k=k: _logsumexp_form(S, args[0], node, k),
                  {"numpy": "_logsumexp_along({0}, {axis})",
                   "jax": "jax.nn.logsumexp({0}, axis={axis})",
                   "torch": "torch.logsumexp({0}, {axis})",
                   "array-api": "_logsumexp_along({0}, {axis})"}),
            along("logsoftmax", k, False, lambda args, node, dims, axis=axis:
                  kernels._logsoftmax_along(args[0], axis),
                  lambda S, args, node, k=k: _logsoftmax_form(S, args[0], node, k),
                  {"numpy": "_logsoftmax_along({0}, {axis})",
                   "jax": "jax.nn.log_softmax({0}, axis={axis})",
                   "torch": "torch.log_softmax({0}, {axis})",
                   "array-api": "_logsoftmax_along({0}, {axis})"}),
        ]
    return rows


def _extremum(name: str, larger: bool) -> list[Operator]:
    """max(A, B) / min(A, B) entry by entry (a scalar operand broadcasts), and max(x) / min(x),
    the largest / smallest entry of a vector. Nonsmooth: derivatives hold almost everywhere."""
    numpy, reduce = ("maximum", "max") if larger else ("minimum", "min")
    return [
        Operator(numpy, broadcast_shape,
                 lambda args, node, dims: getattr(np, numpy)(args[0], args[1]),
                 name, rf"\{name}\left({{0}}, {{1}}\right)",
                 lambda S, args, node: _maximum_form(S, args, node, larger), spelling=name,
                 arity=2, keeps_symmetry=True, almost_everywhere=True,
                 code={"numpy": f"np.{numpy}({{0}}, {{1}})", "jax": f"jnp.{numpy}({{0}}, {{1}})",
                       # torch.maximum takes tensors only: a number operand becomes one
                       "torch": f"torch.{numpy}(torch.as_tensor({{0}}), torch.as_tensor({{1}}))",
                       "array-api": f"xp.{numpy}({{0}}, {{1}})"}),
        # the derivative of max(x): 1 at the first largest entry (indices compared, so that no
        # recomputation of x can lose the equality of max(x) with its entry)
        Operator(f"is{name}", vector_shape,
                 lambda args, node, dims: getattr(kernels, f"_is{name}")(args[0]),
                 f"is{name}", rf"\operatorname{{is{name}}}\left({{0}}\right)",
                 lambda S, args, node: S.opaque(node), spelling=f"is{name}",
                 code={b: f"_is{name}({{0}})" for b in BACKEND_NAMES}, almost_everywhere=True),
        Operator(name, vector_to_scalar,
                 lambda args, node, dims: _cell(getattr(np, reduce)(args[0])),
                 name, rf"\{name}\left({{0}}\right)",
                 lambda S, args, node: S.opaque(node), spelling=name,
                 code=_same_everywhere(reduce), almost_everywhere=True),
    ]


def _same_everywhere(name: str) -> dict[str, str]:
    """The spelling of a function every library names alike: np.exp, jnp.exp, torch.exp, xp.exp."""
    return {b: f"{prefix}.{name}({{0}})" for b, prefix in LIBRARY_PREFIX.items()}


# the backends whose libraries lack a principal matrix square root or logarithm usable here
_SCIPY_ONLY = ("jax", "torch", "array-api")


def _helper(name: str) -> dict[str, str]:
    """The spelling of an operator every backend computes with a helper function of its own
    (kernels.py for NumPy; printing/jax.py, torch.py, array_api.py for the others)."""
    return {b: f"{name}({{0}})" for b in LIBRARY_PREFIX}


def elementwise(name: str, kernel: Callable[[np.ndarray], np.ndarray], latex: str,
                sympy: Callable[[object, object], object], code: dict[str, str] | None = None,
                domain: str = "real", almost_everywhere: bool = False,
                image: tuple[float, float] | None = None) -> Operator:
    """The row of an elementwise function f, applied entry by entry.

    `kernel` evaluates it on an array (NumPy); `latex` is the function's name in LaTeX (`\\exp`);
    `sympy(S, t)` is its value at a scalar SymPy expression t (S: the toolkit of printing/sympy.py);
    `code` spells it per backend (default: the same name in every library).
    """
    return Operator(
        name=name, spelling=name, shape=first_shape,
        evaluate=lambda args, node, dims: kernel(args[0]),
        text=name, latex=latex + APPLIED,
        sympy=lambda S, args, node: S.elementwise(lambda t: sympy(S, t), args[0], node),
        code=code or _same_everywhere(name), elementwise=True, keeps_symmetry=True,
        domain=domain, almost_everywhere=almost_everywhere, image=image)


_NONNEGATIVE = (0.0, math.inf)
_UNIT = (-1.0, 1.0)


# -- the table ----------------------------------------------------------------------------------

_ROWS = [
    # leaves: a variable, a binding's name, a number, the identity, a zero, the commutation matrix
    Operator("var", value_shape, None, SYNTAX, SYNTAX, None, code=NAMED),
    Operator("ref", value_shape, None, SYNTAX, SYNTAX, None, code=NAMED),
    Operator("const", value_shape, lambda args, node, dims: _cell(float(node.value)),
             SYNTAX, SYNTAX, None),
    Operator("eye", value_shape, lambda args, node, dims: np.eye(shape_size(node, dims)[0]),
             SYNTAX, SYNTAX, lambda S, args, node: S.sm.Identity(S.dim(node.shape[0])),
             symmetric_result=True),
    Operator("zero", value_shape, lambda args, node, dims: np.zeros(shape_size(node, dims)),
             SYNTAX, SYNTAX, lambda S, args, node: S.sm.ZeroMatrix(*map(S.dim, node.shape))),
    # K with K*vec(A) = vec(A') (Magnus & Neudecker, ch. 3 sec. 7); value = (rows, cols) of A
    Operator("commutation", value_shape, _commutation, SYNTAX, SYNTAX,
             lambda S, args, node: S.commutation(*node.value)),
    # a matrix of equal entries: vector(c), matrix(c) (spelled by the parser, sized by context)
    Operator("fill", value_shape,
             lambda args, node, dims: np.full(shape_size(node, dims), float(args[0].reshape(()))),
             SYNTAX, SYNTAX, lambda S, args, node: S.scalar(args[0]) * S.ones(*node.shape),
             linear=True),

    # the operators written with symbols
    Operator("add", broadcast_shape, lambda args, node, dims: sum(args[1:], args[0]),
             SYNTAX, SYNTAX, lambda S, args, node: S.add(args, node), arity=2, linear=True),
    Operator("matmul", matmul_shape, _matmul, SYNTAX, SYNTAX,
             lambda S, args, node: S.matmul(args, node), arity=2),
    Operator("hadamard", broadcast_shape, _hadamard, SYNTAX, SYNTAX,
             lambda S, args, node: S.sm.HadamardProduct(*args), arity=2),
    Operator("power", power_shape, lambda args, node, dims: args[0] ** _scalar(args[1]),
             SYNTAX, SYNTAX, lambda S, args, node: S.power(args, node), arity=2,
             keeps_symmetry=True),
    Operator("matpow", matpow_shape,
             lambda args, node, dims: np.linalg.matrix_power(args[0], int(args[1].reshape(()))),
             SYNTAX, SYNTAX, lambda S, args, node: S.sm.MatPow(args[0], S.scalar(args[1])),
             code={"numpy": "np.linalg.matrix_power({0}, {1})",
                   "jax": "jnp.linalg.matrix_power({0}, {1})",
                   "torch": "torch.linalg.matrix_power({0}, {1})",
                   "array-api": "xp.linalg.matrix_power({0}, {1})"},
             arity=2, keeps_symmetry=True, domain="square"),
    Operator("transpose", transpose_shape, lambda args, node, dims: args[0].T, SYNTAX, SYNTAX,
             lambda S, args, node: S.sm.Transpose(args[0]), linear=True, keeps_symmetry=True),

    # rule-only forms: a differential d(A), the derivative f'(A) of an elementwise f (its name in
    # `value`), the Frobenius product A : B = sum(A.*B)
    Operator("d", first_shape, None, SYNTAX, SYNTAX, lambda S, args, node: S.differential(node),
             code=NAMED, linear=True, keeps_symmetry=True, rule_only=True),
    Operator("fprime", first_shape, None, SYNTAX, SYNTAX,
             lambda S, args, node: S.function(f"{node.value}'", args[0], node), code=NO_CODE,
             rule_only=True),
    # jac(E): the matrix J with E = J*d(x) (jacobian.rules); kvec(E): the K with
    # vec(E) = K*vec(d(X)) (kronecker.rules). Seen in the steps of those passes only.
    Operator("jac", marker_shape, None, "jac", r"\operatorname{jac}\left({0}\right)",
             lambda S, args, node: S.opaque(node), code=NO_CODE, rule_only=True),
    Operator("kvec", marker_shape, None, "kvec", r"\operatorname{kvec}\left({0}\right)",
             lambda S, args, node: S.opaque(node), code=NO_CODE, rule_only=True),
    Operator("frob", scalar_shape,
             lambda args, node, dims: _cell(np.sum(args[0] * args[1])), SYNTAX, SYNTAX,
             lambda S, args, node: S.frobenius(args, node), arity=2),

    # functions of matrices
    Operator("tr", square_to_scalar, lambda args, node, dims: _cell(np.trace(args[0])),
             "tr", r"\operatorname{tr}\left({0}\right)",
             lambda S, args, node: S.sm.Trace(args[0]), spelling="tr", linear=True,
             domain="square"),
    Operator("det", square_to_scalar, lambda args, node, dims: _cell(np.linalg.det(args[0])),
             "det", r"\det\left({0}\right)",
             lambda S, args, node: S.sm.Determinant(args[0]), spelling="det",
             code={"numpy": "np.linalg.det({0})", "jax": "jnp.linalg.det({0})",
                   "torch": "torch.linalg.det({0})", "array-api": "xp.linalg.det({0})"},
             domain="square"),
    # log|det A| through slogdet; its derivative holds wherever det A ≠ 0
    Operator("logdet", square_to_scalar, _logdet, "logdet", r"\log\det\left({0}\right)",
             lambda S, args, node: S.sympy.log(S.sm.Determinant(args[0])), spelling="logdet",
             code={"numpy": "np.linalg.slogdet({0})[1]", "jax": "jnp.linalg.slogdet({0})[1]",
                   "torch": "torch.linalg.slogdet({0})[1]",
                   "array-api": "xp.linalg.slogdet({0})[1]"},
             domain="invertible"),
    Operator("inv", square_to_square, lambda args, node, dims: np.linalg.inv(args[0]),
             "inv", r"{0:postfix}^{-1}", lambda S, args, node: S.sm.Inverse(args[0]),
             spelling="inv", latex_precedence="postfix",
             code={"numpy": "np.linalg.inv({0})", "jax": "jnp.linalg.inv({0})",
                   "torch": "torch.linalg.inv({0})", "array-api": "xp.linalg.inv({0})"},
             keeps_symmetry=True, domain="invertible"),
    Operator("sum", scalar_shape, lambda args, node, dims: _cell(np.sum(args[0])),
             "sum", r"\operatorname{sum}\left({0}\right)",
             lambda S, args, node: S.sum_entries(args[0], node.args[0].shape), spelling="sum",
             code={"numpy": "np.sum({0})", "jax": "jnp.sum({0})", "torch": "torch.sum({0})",
                   "array-api": "xp.sum({0})"},
             linear=True),
    Operator("diagm", diagm_shape, lambda args, node, dims: np.diag(args[0].ravel()),
             "diag", r"\operatorname{diag}\left({0}\right)",
             lambda S, args, node: S.sm.DiagMatrix(args[0]), spelling="diag",
             accepts=lambda shape: shape[1] == 1 or shape[0] == 1,
             linear=True, symmetric_result=True),
    Operator("diagv", diagv_shape, lambda args, node, dims: np.diag(args[0]).reshape(-1, 1),
             "diag", r"\operatorname{diag}\left({0}\right)",
             lambda S, args, node: S.sm.DiagonalOf(args[0]), spelling="diag",
             code={"numpy": "np.diagonal({0})", "jax": "jnp.diagonal({0})",
                   "torch": "torch.diagonal({0})", "array-api": "xp.linalg.diagonal({0})"},
             linear=True, domain="square"),
    Operator("norm2", scalar_shape, lambda args, node, dims: _cell(np.linalg.norm(args[0])),
             "norm2", r"\left\lVert {0} \right\rVert_2",
             lambda S, args, node: S.norm2(args[0], node.args[0].shape), spelling="norm2",
             code={"numpy": "np.linalg.norm({0})", "jax": "jnp.linalg.norm({0})",
                   "torch": "torch.linalg.norm({0})",
                   "array-api": "xp.linalg.vector_norm({0})"}),
    Operator("norm1", scalar_shape, lambda args, node, dims: _cell(np.sum(np.abs(args[0]))),
             "norm1", r"\left\lVert {0} \right\rVert_1",
             lambda S, args, node: S.sum_entries(S.function("abs", args[0], node.args[0]),
                                                 node.args[0].shape),
             spelling="norm1",
             code={"numpy": "np.sum(np.abs({0}))", "jax": "jnp.sum(jnp.abs({0}))",
                   "torch": "torch.sum(torch.abs({0}))", "array-api": "xp.sum(xp.abs({0}))"},
             almost_everywhere=True),
    Operator("logsumexp", column_to_scalar,
             lambda args, node, dims: _cell(kernels._logsumexp(args[0])),
             "logsumexp", r"\operatorname{logsumexp}\left({0}\right)",
             lambda S, args, node: S.sympy.log(S.sum_entries(
                 S.function("exp", args[0], node.args[0]), node.args[0].shape)),
             spelling="logsumexp",
             code={"numpy": "_logsumexp({0})", "jax": "jax.nn.logsumexp({0})",
                   "torch": "torch.logsumexp({0}, 0)", "array-api": "_logsumexp({0})"}),
    Operator("softmax", column_shape, lambda args, node, dims: kernels._softmax(args[0]),
             "softmax", r"\operatorname{softmax}\left({0}\right)",
             lambda S, args, node: S.softmax(args[0], node), spelling="softmax",
             code={"numpy": "_softmax({0})", "jax": "jax.nn.softmax({0})",
                   "torch": "torch.softmax({0}, 0)", "array-api": "_softmax({0})"}),
    Operator("kron", kron_shape, lambda args, node, dims: np.kron(args[0], args[1]),
             "kron", r"{0:postfix} \otimes {1:postfix}",
             lambda S, args, node: S.kron(args), arity=2, spelling="kron",
             latex_precedence="frob", refuses=_no_scalar("kron")),
    Operator("vec", vec_shape, lambda args, node, dims: args[0].reshape(-1, 1, order="F"),
             "vec", r"\operatorname{vec}\left({0}\right)",
             lambda S, args, node: S.vec(args[0], node), spelling="vec",
             code={"numpy": 'np.ravel({0}, order="F")', "jax": 'jnp.ravel({0}, order="F")',
                   "torch": "{0:atom}.T.reshape(-1)",        # column-major: the transpose, by rows
                   "array-api": "xp.reshape({0:atom}.T, (-1,))"},
             linear=True),
    # the column-wise Kronecker product, and the adjoints of a factor of kron and khatrirao: the
    # gradients of G : kron(A, B) and G : khatrirao(A, B) with respect to A (…left) and B (…right)
    Operator("khatrirao", khatrirao_shape,
             lambda args, node, dims: kernels._khatrirao(args[0], args[1]),
             "khatrirao", r"{0:postfix} \odot {1:postfix}", lambda S, args, node: S.opaque(node),
             spelling="khatrirao", arity=2, latex_precedence="frob",
             code={b: "_khatrirao({0}, {1})" for b in BACKEND_NAMES}, matrix_operands=True,
             refuses=_no_scalar("khatrirao")),
    *(Operator(name, shape, lambda args, node, dims, kernel=kernel: kernel(args[0], args[1]),
               name, rf"\operatorname{{{name}}}\left({{0}}, {{1}}\right)",
               lambda S, args, node: S.opaque(node), spelling=name, arity=2,
               code={b: f"{kernel.__name__}({{0}}, {{1}})" for b in BACKEND_NAMES},
               matrix_operands=True)
      for name, shape, kernel in (("kronleft", kron_adjoint_shape, kernels._kron_left),
                                  ("kronright", kron_adjoint_shape, kernels._kron_right),
                                  ("khatriraoleft", khatrirao_adjoint_shape,
                                   kernels._khatrirao_left),
                                  ("khatriraoright", khatrirao_adjoint_shape,
                                   kernels._khatrirao_right))),

    # means, the log of a softmax; reductions and functions along a dimension (_along_rows);
    # elementwise and vector extrema (_extremum); sizes
    Operator("mean", scalar_shape, lambda args, node, dims: _cell(np.mean(args[0])),
             "mean", r"\operatorname{mean}\left({0}\right)",
             lambda S, args, node: S.sum_entries(args[0], node.args[0].shape)
             / (S.dim(node.args[0].shape[0]) * S.dim(node.args[0].shape[1])), spelling="mean",
             code={"numpy": "np.mean({0})", "jax": "jnp.mean({0})", "torch": "torch.mean({0})",
                   "array-api": "xp.mean({0})"},
             linear=True),
    Operator("logsoftmax", column_shape, lambda args, node, dims: kernels._logsoftmax(args[0]),
             "logsoftmax", r"\operatorname{logsoftmax}\left({0}\right)",
             lambda S, args, node: args[0] - S.sympy.log(S.sum_entries(
                 S.function("exp", args[0], node.args[0]), node.shape)) * S.ones(*node.shape),
             spelling="logsoftmax",
             code={"numpy": "_logsoftmax({0})", "jax": "jax.nn.log_softmax({0})",
                   "torch": "torch.log_softmax({0}, 0)", "array-api": "_logsoftmax({0})"}),
    *_along_rows(),
    *_extremum("max", larger=True),
    *_extremum("min", larger=False),
    # the sizes of an operand, as scalars: generated code reads them off the inputs' shapes
    # (printing/codegen/code.py), never computing the operand
    Operator("rows", scalar_shape, lambda args, node, dims: _cell(float(args[0].shape[0])),
             "rows", r"\operatorname{rows}\left({0}\right)",
             lambda S, args, node: S.dim(node.args[0].shape[0]), spelling="rows"),
    Operator("cols", scalar_shape, lambda args, node, dims: _cell(float(args[0].shape[1])),
             "cols", r"\operatorname{cols}\left({0}\right)",
             lambda S, args, node: S.dim(node.args[0].shape[1]), spelling="cols"),
    Operator("len", vector_to_scalar, _length, "len", r"\operatorname{len}\left({0}\right)",
             lambda S, args, node: S.dim(max(node.args[0].shape, key=lambda d: d != 1)),
             spelling="len"),

    # factorizations, spectral functions and matrix functions; their derivatives are in
    # differentials.rules (and frobenius.rules for the adjoint of the Fréchet derivative of expm)
    Operator("solve", solve_shape, lambda args, node, dims: np.linalg.solve(args[0], args[1]),
             "solve", r"\operatorname{solve}\left({0}, {1}\right)",
             lambda S, args, node: S.sm.MatMul(S.sm.Inverse(args[0]), args[1]),
             spelling="solve", arity=2,     # code: a solve, triangular for chol (printing/code.py)
             domain="invertible"),
    # the Moore–Penrose inverse; differentiable where the rank of A is locally constant
    Operator("pinv", pinv_shape, lambda args, node, dims: np.linalg.pinv(args[0]),
             "pinv", r"{0:postfix}^{+}", lambda S, args, node: S.opaque(node),
             spelling="pinv", latex_precedence="postfix",
             code={"numpy": "np.linalg.pinv({0})", "jax": "jnp.linalg.pinv({0})",
                   "torch": "torch.linalg.pinv({0})", "array-api": "xp.linalg.pinv({0})"},
             keeps_symmetry=True, domain="full-rank",
             condition="holds where its argument has full rank (more generally, locally constant "
                       "rank)"),
    # eigenvalues and eigenvectors of the symmetric part (A + A')/2 (kernels.py): A's own for a
    # symmetric A
    Operator("lambdamax", square_matrix_to_scalar,
             lambda args, node, dims: _cell(kernels._lambdamax(args[0])),
             "lambdamax", r"\lambda_{\max}\left({0}\right)",
             lambda S, args, node: S.opaque(node), spelling="lambdamax",
             code=_helper("_lambdamax"), domain="symmetric", factor=("_eigh", "[0][-1]"),
             condition="holds where the largest eigenvalue is simple"),
    Operator("lambdamin", square_matrix_to_scalar,
             lambda args, node, dims: _cell(kernels._lambdamin(args[0])),
             "lambdamin", r"\lambda_{\min}\left({0}\right)",
             lambda S, args, node: S.opaque(node), spelling="lambdamin",
             code=_helper("_lambdamin"), domain="symmetric", factor=("_eigh", "[0][0]"),
             condition="holds where the smallest eigenvalue is simple"),
    Operator("eigvecmax", square_to_column,
             lambda args, node, dims: kernels._eigvecmax(args[0]).reshape(-1, 1),
             "eigvecmax", r"u_{\max}\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="eigvecmax", part="u", code=_helper("_eigvecmax"), domain="symmetric",
             factor=("_eigh", "[1][:, -1]")),
    Operator("eigvecmin", square_to_column,
             lambda args, node, dims: kernels._eigvecmin(args[0]).reshape(-1, 1),
             "eigvecmin", r"u_{\min}\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="eigvecmin", part="u", code=_helper("_eigvecmin"), domain="symmetric",
             factor=("_eigh", "[1][:, 0]")),
    # all the eigenvalues (ascending, as eigvalsh) and their orthonormal eigenvectors U (columns,
    # in the same order), of the symmetric part; the singular values (descending, as NumPy's svd)
    # and U, V of the thin SVD A = U*diag(s)*V', min(m, n) of each
    Operator("eigvals", square_to_column,
             lambda args, node, dims: kernels._eigvals(args[0]).reshape(-1, 1),
             "eigvals", r"\lambda\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="eigvals", part="lambda", code=_helper("_eigvals"), domain="symmetric",
             factor=("_eigh", "[0]"),
             condition="holds where the eigenvalues are distinct"),
    Operator("eigvecs", square_matrix_to_square,
             lambda args, node, dims: kernels._eigvecs(args[0]),
             "eigvecs", r"U_{\lambda}\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="eigvecs", part="U", code=_helper("_eigvecs"), domain="symmetric",
             factor=("_eigh", "[1]")),
    Operator("svdvals", svdvals_shape,
             lambda args, node, dims: np.linalg.svd(args[0], compute_uv=False).reshape(-1, 1),
             "svdvals", r"\sigma\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="svdvals", part="sigma", factor=("_svd", "[1]"),
             code={"numpy": "np.linalg.svd({0}, compute_uv=False)",
                   "jax": "jnp.linalg.svd({0}, compute_uv=False)",
                   "torch": "torch.linalg.svdvals({0})", "array-api": "_svdvals({0})"},
             condition="holds where the singular values are distinct and nonzero"),
    Operator("svdu", svdu_shape, lambda args, node, dims: kernels._svdu(args[0]),
             "svdu", r"U_{\sigma}\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="svdu", part="U", code=_helper("_svdu"), factor=("_svd", "[0]")),
    Operator("svdv", svdv_shape, lambda args, node, dims: kernels._svdv(args[0]),
             "svdv", r"V_{\sigma}\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="svdv", part="V", code=_helper("_svdv"), factor=("_svd", "[2].T")),
    # the nuclear norm (sum of singular values) and the spectral norm (the largest one)
    Operator("normnuc", matrix_to_scalar,
             lambda args, node, dims: _cell(np.linalg.norm(args[0], "nuc")),
             "normnuc", r"\left\lVert {0} \right\rVert_*",
             lambda S, args, node: S.opaque(node), spelling="normnuc",
             code={"numpy": 'np.linalg.norm({0}, "nuc")', "jax": 'jnp.linalg.norm({0}, "nuc")',
                   "torch": 'torch.linalg.matrix_norm({0}, "nuc")',
                   "array-api": 'xp.linalg.matrix_norm({0}, ord="nuc")'},
             domain="full-rank", condition="holds where its argument has full rank"),
    Operator("normop", matrix_to_scalar,
             lambda args, node, dims: _cell(np.linalg.norm(args[0], 2)),
             "normop", r"\left\lVert {0} \right\rVert_{\mathrm{op}}",
             lambda S, args, node: S.opaque(node), spelling="normop",
             code={"numpy": "np.linalg.norm({0}, 2)", "jax": "jnp.linalg.norm({0}, 2)",
                   "torch": "torch.linalg.matrix_norm({0}, 2)",
                   "array-api": "xp.linalg.matrix_norm({0}, ord=2)"},
             factor=("_svd", "[1][0]"),
             condition="holds where the largest singular value is simple"),
    # U*V' of the thin SVD A = U*diag(s)*V' (the polar factor), and u1*v1' of its top pair
    Operator("polar", matrix_only, lambda args, node, dims: kernels._polar(args[0]),
             "polar", r"\operatorname{polar}\left({0}\right)",
             lambda S, args, node: S.opaque(node), spelling="polar", code=_helper("_polar")),
    Operator("svdtop", matrix_only, lambda args, node, dims: kernels._svdtop(args[0]),
             "svdtop", r"u_1 v_1^\top\left({0}\right)",
             lambda S, args, node: S.opaque(node), spelling="svdtop", code=_helper("_svdtop")),
    # the lower Cholesky factor of (A + A')/2 (positive definite), and Φ(A) of its derivative:
    # the lower triangle of A with its diagonal halved (Murray 2016)
    Operator("chol", square_matrix_to_square, _chol,
             "chol", r"\operatorname{chol}\left({0}\right)",
             lambda S, args, node: S.opaque(node), spelling="chol",
             code={"numpy": "_chol({0})", "jax": "_chol({0})", "torch": "_chol({0})",
                   "array-api": "_chol({0})"},
             domain="spd", triangular="lower"),
    Operator("trilhalf", square_matrix_to_square,
             lambda args, node, dims: kernels._trilhalf(args[0]),
             "trilhalf", r"\Phi\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="trilhalf", code=_helper("_trilhalf"), linear=True, domain="square"),
    # the principal square root and logarithm (of a matrix without eigenvalues on the closed
    # negative real axis) and their Fréchet derivatives; SciPy in NumPy code, refused elsewhere
    Operator("sqrtm", square_matrix_to_square, _real(kernels._sqrtm),
             "sqrtm", r"{0:postfix}^{\frac12}", lambda S, args, node: S.opaque(node),
             spelling="sqrtm", latex_precedence="postfix", code=_helper("_sqrtm"),
             keeps_symmetry=True, domain="positive-spectrum", refused_by=_SCIPY_ONLY),
    Operator("sqrtmfrechet", frechet_shape, _real(kernels._sqrtm_frechet),
             "sqrtmfrechet", r"L_{\sqrt{\cdot}}\left({0}, {1}\right)",
             lambda S, args, node: S.opaque(node), spelling="sqrtmfrechet", arity=2,
             code={b: "_sqrtm_frechet({0}, {1})" for b in LIBRARY_PREFIX},
             domain="positive-spectrum", refused_by=_SCIPY_ONLY),
    Operator("logm", square_matrix_to_square, _real(kernels._logm),
             "logm", r"\log\left({0}\right)", lambda S, args, node: S.opaque(node),
             spelling="logm", code=_helper("_logm"), keeps_symmetry=True,
             domain="positive-spectrum", refused_by=_SCIPY_ONLY),
    Operator("logmfrechet", frechet_shape, _real(kernels._logm_frechet),
             "logmfrechet", r"L_{\log}\left({0}, {1}\right)",
             lambda S, args, node: S.opaque(node), spelling="logmfrechet", arity=2,
             code={b: "_logm_frechet({0}, {1})" for b in LIBRARY_PREFIX},
             domain="positive-spectrum", refused_by=_SCIPY_ONLY),
    # the matrix exponential and its Fréchet derivative L(A, E) (SciPy in NumPy code)
    Operator("expm", square_matrix_to_square, lambda args, node, dims: kernels._expm(args[0]),
             "expm", r"\operatorname{expm}\left({0}\right)",
             lambda S, args, node: S.opaque(node), spelling="expm",
             code={"numpy": "_expm({0})", "jax": "_expm({0})",
                   "torch": "torch.linalg.matrix_exp({0})", "array-api": "_expm({0})"},
             keeps_symmetry=True, domain="square", refused_by=("array-api",)),
    Operator("expmfrechet", frechet_shape,
             lambda args, node, dims: kernels._expm_frechet(args[0], args[1]),
             "expmfrechet", r"L_{\exp}\left({0}, {1}\right)",
             lambda S, args, node: S.opaque(node), spelling="expmfrechet", arity=2,
             code={"numpy": "_expm_frechet({0}, {1})", "jax": "_expm_frechet({0}, {1})",
                   "torch": "_expm_frechet({0}, {1})", "array-api": "_expm_frechet({0}, {1})"},
             domain="square", refused_by=("array-api",)),

    # elementwise functions; their derivatives are in rules/elementwise.rules
    elementwise("exp", np.exp, r"\exp", lambda S, t: S.sympy.exp(t), image=_NONNEGATIVE),
    elementwise("log", np.log, r"\log", lambda S, t: S.sympy.log(t), domain="positive"),
    elementwise("sin", np.sin, r"\sin", lambda S, t: S.sympy.sin(t), image=_UNIT),
    elementwise("cos", np.cos, r"\cos", lambda S, t: S.sympy.cos(t), image=_UNIT),
    elementwise("tan", np.tan, r"\tan", lambda S, t: S.sympy.tan(t)),
    elementwise("tanh", np.tanh, r"\tanh", lambda S, t: S.sympy.tanh(t), image=_UNIT),
    elementwise("sqrt", np.sqrt, r"\operatorname{sqrt}", lambda S, t: S.sympy.sqrt(t),
                domain="positive", image=_NONNEGATIVE),
    elementwise("abs", np.abs, r"\operatorname{abs}", lambda S, t: S.sympy.Abs(t),
                almost_everywhere=True, image=_NONNEGATIVE),
    elementwise("sign", np.sign, r"\operatorname{sign}", lambda S, t: S.sympy.sign(t),
                almost_everywhere=True, image=_UNIT),
    # σ(x) = 1/(1 + exp(-x)); one formula (kernels._sigmoid) for the check and the NumPy code
    elementwise("sigmoid", kernels._sigmoid, r"\sigma",
                lambda S, t: 1 / (1 + S.sympy.exp(-t)),
                code={"numpy": "_sigmoid({0})", "jax": "jax.nn.sigmoid({0})",
                      "torch": "torch.sigmoid({0})", "array-api": "_sigmoid({0})"},
                image=(0.0, 1.0)),
    elementwise("softplus", kernels.softplus, r"\operatorname{softplus}",
                lambda S, t: S.sympy.log(1 + S.sympy.exp(t)),
                code={"numpy": "np.logaddexp(0.0, {0})", "jax": "jax.nn.softplus({0})",
                      "torch": "torch.nn.functional.softplus({0})",
                      "array-api": "_softplus({0})"}, image=_NONNEGATIVE),
    elementwise("relu", kernels.relu, r"\operatorname{relu}",
                lambda S, t: S.sympy.Max(t, 0),
                code={"numpy": "np.maximum({0}, 0.0)", "jax": "jax.nn.relu({0})",
                      "torch": "torch.relu({0})", "array-api": "_relu({0})"},
                almost_everywhere=True, image=_NONNEGATIVE),
]

for _row in _ROWS:
    register(_row)


__all__ = [
    "BACKEND_NAMES",
    "CONSTRUCTORS",
    "LOWERED",
    "NAMED",
    "NO_CODE",
    "REGISTRY",
    "SYNTAX",
    "Operator",
    "conditions",
    "elementwise",
    "infer_shape",
    "is_elementwise",
    "is_symmetric",
    "known_functions",
    "lookup",
    "operator_for_call",
    "register",
    "shape_size",
    "spellings",
    "unregister",
]
