"""Random well-shaped expressions of the whole language, as text, for property-based tests.

Types are shapes over three dimensions m, n, k (`"mn"` is m×n, `"m"` a vector of length m, `"s"` a
scalar). `expressions(draw, type, depth)` builds an expression of that type; every function's
argument is drawn from its domain (log and sqrt of positive expressions, inv/det/logdet of
diagonally dominant square leaves, tan of values in (0, 1)), so a derivative that fails its check is
a bug, not bad luck. `problems` sometimes binds a variable to an expression (`… where u = …`).
Dimensions are symbolic (SHAPES) or numbers (SHAPES_NUMERIC).
"""
from __future__ import annotations

from hypothesis import strategies as st

VARIABLES = {
    "X": "mn", "Y": "mn", "A": "nm", "S": "nn", "T": "mm", "B": "nk", "C": "mk", "D": "km",
    "E": "kn", "K": "kk", "a": "m", "b": "m", "x": "n", "y": "n", "z": "k", "alpha": "s",
    "beta": "s",
}
SHAPES = {name: (tuple(t) if t != "s" else ()) for name, t in VARIABLES.items()}
# the same problems with numbers for dimensions
SHAPES_NUMERIC = {name: tuple({"m": 3, "n": 4, "k": 2}[d] for d in shape)
                  for name, shape in SHAPES.items()}
SMOOTH = ["exp", "sin", "cos", "tanh", "sigmoid", "softplus"]
NONSMOOTH = ["abs", "relu"]     # derivatives almost everywhere: random points miss the kinks
SQUARE_LEAVES = {"nn": ["S", "S'"], "mm": ["T", "T'"], "kk": ["K", "K'"]}
# functions of a square or a matrix leaf, where random inputs are in their domain almost surely:
# simple extreme eigenvalues, full rank, a simple top singular value, distinct eigenvalues and
# singular values
SPECTRAL = ["lambdamax", "lambdamin", "normnuc", "normop", "expm", "eigvals", "svdvals"]


def _vars_of(t: str) -> list[str]:
    return [n for n, tt in VARIABLES.items() if tt == t]


def _transpose_type(t: str) -> str | None:
    if len(t) == 2:
        return t[::-1]
    return None


@st.composite
def expression(draw, t: str, depth: int, extended: bool = True) -> str:
    """Text of an expression of type t."""
    if depth <= 0 or draw(st.integers(0, 9)) == 0:
        return draw(_leaf(t))
    choices = ["unary", "add", "hadamard", "scale", "product", "transpose", "divide", "power"]
    if t == "s":
        choices += ["reduce", "reduce", "inner", "function"]
    if t in ("nn", "mm"):
        choices += ["inverse", "diag", "matpow"]
    if t in ("m", "n"):
        choices += ["softmax", "diagv", "along"]
    if len(t) == 2:
        choices += ["along"] + (["expand"] if extended else [])
    if t == "s":
        choices += ["batched"]
    if t != "s" and t[0] * 2 in SQUARE_LEAVES:
        choices += ["solve"]
    kind = draw(st.sampled_from(choices))
    sub = lambda tt: draw(expression(tt, depth - 1, extended))
    if kind == "unary":
        f = draw(st.sampled_from(SMOOTH + NONSMOOTH + ["neg", "abs_smooth", "tan"]))
        if f == "neg":
            return f"-({sub(t)})"
        if f == "abs_smooth":
            return f"sqrt(softplus({sub(t)}))"
        if f == "tan":      # tan on (0, 1), away from its poles
            return f"tan(sigmoid({sub(t)}))"
        return f"{f}({sub(t)})"
    if kind == "add":
        fill = {1: "vector(0.5)", 2: "matrix(0.5)"}.get(len(t), "0.5") if t != "s" else "0.5"
        other = draw(st.sampled_from([sub(t), sub(t), fill]))
        return f"({sub(t)} {draw(st.sampled_from(['+', '-']))} {other})"
    if kind == "hadamard":
        op = "*" if t == "s" else ".*"
        return f"(({sub(t)}){op}({sub(t)}))"
    if kind == "scale":
        return f"(({sub('s')})*({sub(t)}))"
    if kind == "divide":
        op = "/" if t == "s" else "./"
        return f"(({sub(t)}){op}(1 + exp({sub(t)})))"
    if kind == "power":
        p = draw(st.sampled_from(["2", "3", "0.5", "-1"]))
        op = "^" if t == "s" else ".^"
        base = f"softplus({sub(t)})" if p in ("0.5", "-1") else sub(t)
        return f"({base}){op}{p}"
    if kind == "transpose":
        tt = _transpose_type(t)
        if tt is None:
            return draw(_leaf(t))
        return f"({sub(tt)})'"
    if kind == "product":
        return draw(_product(t, depth, extended))
    if kind == "reduce":
        inner = draw(st.sampled_from(["mn", "nm", "nn", "m", "n"]))
        r = draw(st.sampled_from(["sum", "norm2", "tr", "logsumexp", "norm1sq", "norm1"]))
        if r == "tr":
            inner = draw(st.sampled_from(["nn", "mm", "kk"]))
        if r == "logsumexp":
            inner = draw(st.sampled_from(["m", "n"]))
        if r == "norm1sq":
            return f"norm2({sub(inner)})^2"
        if r == "norm1":
            return f"norm1({sub(draw(st.sampled_from(['m', 'n'])))})"
        return f"{r}({sub(inner)})"
    if kind == "inner":
        v = draw(st.sampled_from(["m", "n"]))
        return f"(({sub(v)})'*({sub(v)}))"
    if kind == "function":
        f = draw(st.sampled_from(["log", "sqrt", "det", "logdet"] + SPECTRAL))
        if f in ("log", "sqrt"):
            return f"{f}(1 + {sub('s')}^2)"
        if f in ("normnuc", "normop"):     # of a matrix leaf: full rank, simple σ1 almost surely
            return f"{f}({draw(st.sampled_from(['X', 'Y', 'A', 'B', 'X', 'C']))})"
        if f == "eigvals":        # all the eigenvalues, weighted by a vector of their number
            leaf = draw(st.sampled_from([n for names in SQUARE_LEAVES.values() for n in names]))
            return f"(eigvals({leaf})'*({sub(VARIABLES[leaf[0]][0])}))"
        if f == "svdvals":        # min(m, n) of them: reduced to a scalar
            leaf = draw(st.sampled_from(['X', 'Y', 'A', 'B', 'C']))
            return draw(st.sampled_from([f"sum(svdvals({leaf}))", f"norm2(svdvals({leaf}))^2",
                                         f"sum(log(svdvals({leaf})))"]))
        if f == "expm":
            return f"tr(expm({draw(st.sampled_from(SQUARE_LEAVES['nn']))})*{sub('nn')})"
        leaf = draw(st.sampled_from([n for names in SQUARE_LEAVES.values() for n in names]))
        return f"{f}({leaf})"
    if kind == "inverse":
        leaf = draw(st.sampled_from(SQUARE_LEAVES[t]))
        return f"inv({leaf})"
    if kind == "matpow":
        return f"({sub(t)})^{draw(st.sampled_from(['2', '3']))}"
    if kind == "diag":
        return f"diag({sub(t[0])})"
    if kind == "diagv":
        return f"diag({sub(t + t)})"
    if kind == "softmax":
        return f"softmax({sub(t)})"
    if kind == "along":
        return draw(_along(t, depth, extended))
    if kind == "batched":
        return draw(_batched(depth, extended))
    if kind == "expand":
        return draw(_expansion(t, depth, extended))
    if kind == "solve":     # solve(S, ·) of a diagonally dominant square leaf: invertible
        leaf = draw(st.sampled_from(SQUARE_LEAVES[t[0] * 2]))
        if draw(st.booleans()):
            return f"({leaf}\\({sub(t)}))"          # MATLAB's left division, S\B
        return f"solve({leaf}, {sub(t)})"
    raise AssertionError(kind)


@st.composite
def _along(draw, t: str, depth: int, extended: bool = True) -> str:
    """A vector or matrix of type t from the operators along a dimension, logsoftmax, and max/min
    entry by entry (nonsmooth: random points miss the kinks)."""
    sub = lambda tt: draw(expression(tt, depth - 1, extended))
    if len(t) == 1:     # an m-vector: a reduction along the rows of an m×? matrix
        other = draw(st.sampled_from([c for c in "mnk" if c != t]))
        f = draw(st.sampled_from(["sum", "mean", "logsumexp", "logsoftmax", "max", "min"]))
        if f == "logsoftmax":   # weighted (see below)
            return f"({sub(t)}.*logsoftmax({sub(t)}))"
        if f in ("max", "min"):
            return f"{f}({sub(t)}, {draw(st.sampled_from([sub(t), '0.5']))})"
        if draw(st.booleans()):
            return f"{f}({sub(t + other)}, 2)"
        return f"{f}({sub(other + t)}, 1)'"
    f = draw(st.sampled_from(["softmax", "logsoftmax", "max", "min"]))
    if f in ("max", "min"):
        return f"{f}({sub(t)}, {draw(st.sampled_from([sub(t), '0.5']))})"
    k = draw(st.sampled_from(["1", "2"]))
    if f == "logsoftmax":     # weighted by an expression of variables
        return f"({sub(t)}.*logsoftmax({sub(t)}, {k}))"
    return f"{f}({sub(t)}, {k})"


@st.composite
def _expansion(draw, t: str, depth: int, extended: bool = True) -> str:
    """Implicit expansion: a column combined with every column of a matrix of type t, or a row
    b' with every row, by + - .* or ./ (of a positive denominator)."""
    sub = lambda tt: draw(expression(tt, depth - 1, extended))
    column = draw(st.booleans())
    vector = f"({sub(t[0])})" if column else f"({sub(t[1])})'"
    op = draw(st.sampled_from(["+", "-", ".*", "./"]))
    if op == "./":
        vector = f"(1 + exp({vector}))"
    matrix = f"({sub(t)})"
    return f"({vector} {op} {matrix})" if op != "./" and draw(st.booleans()) else \
        f"({matrix} {op} {vector})"


@st.composite
def _kronecker(draw, depth: int, extended: bool = True) -> str:
    """A scalar of Kronecker and Khatri–Rao products (not of vec: the gradient through vec is
    refused, README "Limits")."""
    sub = lambda tt: draw(expression(tt, depth - 1, extended))
    kind = draw(st.sampled_from(["kron", "khatrirao"]))
    if kind == "kron":
        a, b = draw(st.sampled_from(["mn", "nm", "mk", "m", "n"])), \
            draw(st.sampled_from(["nk", "kn", "m", "n"]))
        return f"sum(kron({sub(a)}, {sub(b)}).*kron({sub(a)}, {sub(b)}))"
    a, b = draw(st.sampled_from(["mk", "nk"])), draw(st.sampled_from(["mk", "nk"]))
    return f"sum(khatrirao({sub(a)}, {sub(b)}).^2)"


@st.composite
def _batched(draw, depth: int, extended: bool = True) -> str:
    """A scalar from means, the extrema of a vector, sizes, and (extended) Kronecker products."""
    sub = lambda tt: draw(expression(tt, depth - 1, extended))
    kind = draw(st.sampled_from(["mean", "extremum", "size"] + (["kronecker"] if extended else [])))
    if kind == "kronecker":
        return draw(_kronecker(depth, extended))
    if kind == "mean":
        return f"mean({sub(draw(st.sampled_from(['mn', 'nm', 'm', 'n'])))})"
    if kind == "extremum":
        return f"{draw(st.sampled_from(['max', 'min']))}({sub(draw(st.sampled_from(['m', 'n'])))})"
    size = draw(st.sampled_from(["len(a)", "len(x)", "rows(X)", "cols(X)", "rows(B)"]))
    return f"(({sub('s')})/{size})"


@st.composite
def _product(draw, t: str, depth: int, extended: bool = True) -> str:
    """A matrix product whose result has type t, through a random inner dimension."""
    sub = lambda tt: draw(expression(tt, depth - 1, extended))
    if t == "s":
        v = draw(st.sampled_from(["m", "n"]))
        return f"(({sub(v)})'*({sub(v)}))"
    rows = t[0]
    cols = t[1] if len(t) == 2 else ""
    inner = draw(st.sampled_from(["m", "n", "k"]))
    left = rows + inner
    right = inner + cols if cols else inner
    return f"(({sub(left)})*({sub(right)}))"


@st.composite
def _leaf(draw, t: str) -> str:
    names = _vars_of(t)
    if t == "s":
        return draw(st.sampled_from(names + ["2", "0.5"]))
    if len(t) == 2 and t[0] != t[1] and draw(st.booleans()):
        names = names + [f"{n}'" for n in _vars_of(t[::-1])]
    return draw(st.sampled_from(names))


@st.composite
def problems(draw, max_depth: int = 4, extended: bool = False) -> tuple[str, str]:
    """(expression text, variable) with the variable appearing in the expression. `extended`:
    also implicit expansion and Kronecker products (issue 12). Without them the draws are those
    the strategy made before they were added: tests/test_latex_documents.py typesets 32 drawn
    problems, and other draws include nested softmax Jacobians whose steps overfill a line by
    600 pt (also with the code of before), a typesetting limit not yet fixed."""
    depth = draw(st.integers(2, max_depth))
    text = draw(expression("s", depth, extended))
    # square leaves keep their names: inv/det/logdet are drawn only of diagonally dominant ones
    bound = [n for n in VARIABLES if _mentions(text, n) and n not in ("alpha", "beta", "S", "T", "K")
             and f"nuc({n})" not in text and f"op({n})" not in text]  # normnuc(X): of a leaf
    if bound and draw(st.booleans()):
        # a binding: one variable of the body becomes a name for an expression of its type
        name = draw(st.sampled_from(bound))
        import re
        body = draw(expression(VARIABLES[name], 2, extended))
        text = re.sub(rf"(?<![A-Za-z_]){name}(?![A-Za-z0-9_(])", "u", text)
        text = f"{text} where u = {body}"
    present = [n for n in VARIABLES if _mentions(text, n)]
    if not present:
        text = f"{text} + sum(X)"
        present = ["X"]
    wrt = draw(st.sampled_from(present))
    return text, wrt


def _mentions(text: str, name: str) -> bool:
    import re
    return re.search(rf"(?<![A-Za-z_]){name}(?![A-Za-z0-9_(])", text) is not None
