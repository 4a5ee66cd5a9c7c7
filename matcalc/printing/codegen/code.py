"""Expressions → Python code a person would be glad to have written, for any array library.

CodePrinter decides which operation each node needs and asks a Backend (backend.py) how its library
spells it: NumPy (numpy.py), JAX (jax.py), PyTorch (torch.py) or the array-API standard
(array_api.py). Vectors are 1-D arrays and scalars are Python floats (or 0-d arrays); matrices are
2-D. Nothing larger than the result is formed:

- `diag(v)*M` is `v[:, None] * M`, never a materialised diagonal; `vector(c)` broadcasts as `c`;
- a column times a row is an outer product, scalars are folded into its smaller side;
- `inv(A)*B` is a solve, `logdet` goes through `slogdet`, `tr(A*B)` is a contraction;
- matrix chains are multiplied in the cheapest order for their shapes (chain.py): vectors first;
  three or more matrices of unknown sizes in the order best for the arrays at call time
  (`multi_dot`, where the library has it); M'*diag(v)*M one triangle at a time;
- a scalar made of numbers alone (exp(0.5)) is printed as its value.

The module around the printed expressions — names, temporaries, `out=` — is module.py's.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ... import algebra
from ...operators import REGISTRY, lookup
from ...ops import Node, const_value, dim_factors, smaller_parts
from ...verify import evaluate
from ..backends.base import Backend
from ..readers.text import ADD, ATOM, MUL, NEG, POW, Printer, signed_terms, split_product
from .chain import cheapest_order, gram_form, inverse_of, order_depends_on_sizes, span_node
from .inplace import in_place_lines
from .signs import nonnegative


def _full(node: Node) -> bool:
    """An operand with the shape of the elementwise operation it is in: not a scalar, a fill or
    a vector repeated over the matrix."""
    return not (node.is_scalar or node.op == "fill" or node.is_vector
                or algebra.expanded_vector(node) is not None)


def _broadcasts_to_full(operands: list[Node] | tuple[Node, ...]) -> bool:
    """Do the operands, repeated vectors written as vectors, broadcast to the full shape? Yes
    if one has it, or if a repeated column meets a repeated row."""
    kinds = {e[1] for e in map(algebra.expanded_vector, operands) if e is not None}
    return any(_full(a) for a in operands) or len(kinds) == 2


def _sizes_only(node: Node) -> bool:
    """A scalar computed from the sizes of arrays and numbers alone: a Python number in code."""
    if node.op in ("rows", "cols", "len", "const"):
        return True
    return node.is_scalar and bool(node.args) and node.op not in ("var", "ref") and \
        all(_sizes_only(a) for a in node.args)


def _literal(value: Fraction | float) -> tuple[str, int]:
    if isinstance(value, Fraction) and value.denominator == 1:
        text = str(value.numerator)
    else:
        text = repr(float(value))
    return text, NEG if value < 0 else ATOM


class CodePrinter(Printer):
    """Prints one expression; `names` maps nodes already computed (bindings, temporaries)."""

    def __init__(self, backend: Backend, names: dict[Node, str], dims: dict[object, str],
                 like_array: str | None = None, bindings: dict[str, Node] | None = None):
        self.backend = backend
        self.bindings = bindings or {}      # the user's bindings, for the sign analysis
        self.names = names
        self.dims = dims
        self.helpers: set[str] = set()
        self.lowerings: set[str] = set()        # the names of LOWERINGS this printer used
        self.kernels: dict[str, str] = {}       # functions written for this module (fused.py)
        # arrays made from nothing (eye, full, zeros) take an input's dtype (and device):
        # float32 stays float32, a CUDA tensor's derivative stays on the GPU
        self.like = backend.like.format(like_array) if like_array else ""

    def call(self, op: str, *args: Node | tuple[str, int] | str, **named: str) -> tuple[str, int]:
        """The backend's spelling of the operation `op` (an atom)."""
        return self.spell(self.backend.calls[op], *args, **named)

    def spell(self, template: str, *args: Node | tuple[str, int] | str,
              **named: str) -> tuple[str, int]:
        """A template filled in; operands are nodes, printed (text, precedence) pairs or text."""
        printed = [self.print_with(a) if isinstance(a, Node) else a for a in args]
        text = self.backend.format(template, *printed, like=self.like, **named)
        self.helpers |= self.backend.helpers_in(text)
        return text, ATOM

    def print_result(self, node: Node) -> str:
        """A result of the generated function, as its return statement prints it."""
        return self.doprint(node)

    def print_with(self, node: Node) -> tuple[str, int]:
        if node in self.names:
            return self.names[node], ATOM
        number = constant_value(node)
        if number is not None:      # exp(0.5) → 1.6487212707001282: torch.exp and the array API
            return _literal(number)  # take arrays only, and a number is cheaper anyway
        return super().print_with(node)

    def dim(self, d: object) -> str:
        if isinstance(d, int):
            return str(d)
        factors = [self._factor(f) for f in dim_factors(d)]
        return factors[0] if len(factors) == 1 else "(" + " * ".join(factors) + ")"

    def _factor(self, f: object) -> str:
        """One factor of a dimension: a number, a size read off an input, or min(a, b) of two."""
        if isinstance(f, int):
            return str(f)
        if f in self.dims:
            return self.dims[f]
        parts = smaller_parts(f)
        if parts is None:
            raise KeyError(f)
        a, b = (int(p) if p.isdigit() else p for p in parts)
        return f"min({self.dim(a)}, {self.dim(b)})"

    def shape_text(self, node: Node) -> str:
        if node.is_column or node.is_row:
            return f"({self.dim(node.shape[0] if node.is_column else node.shape[1])},)"
        return f"({self.dim(node.shape[0])}, {self.dim(node.shape[1])})"

    def broadcast(self, node: Node, need: int, expand: bool = True) -> str:
        """An operand of an elementwise operation: a fill is just its scalar, and a vector
        repeated over the matrix (`vector(1)*b'`, implicit expansion) is the vector, broadcast
        by the library — a 1-D row along the last axis, a column as `c[:, None]` — never the
        repeated matrix. `expand` is False where no operand has the full shape (the vector would
        broadcast to less than the result)."""
        if node.op == "fill":
            return self.paren(node.args[0], need)
        expanded = algebra.expanded_vector(node) if expand else None
        if expanded is not None:
            vector, kind = expanded
            if kind == "row":
                return self.paren(vector, need)
            return f"{self.paren(vector, ATOM)}[:, None]"
        return self.paren(node, need)

    # -- leaves -----------------------------------------------------------------------------------
    def _print_var(self, node: Node) -> tuple[str, int]:
        return self.names[node], ATOM

    _print_ref = _print_var

    def _print_const(self, node: Node) -> tuple[str, int]:
        return _literal(node.value)  # type: ignore[arg-type]

    def _print_eye(self, node: Node) -> tuple[str, int]:
        return self.call("eye", self.dim(node.shape[0]))

    def _print_zero(self, node: Node) -> tuple[str, int]:
        return self.call("zeros", self.shape_text(node))

    def _print_fill(self, node: Node) -> tuple[str, int]:
        value = node.args[0]
        op = "full" if value.op == "const" else "full_expr"
        return self.call(op, self.shape_text(node), value)

    # -- elementwise ------------------------------------------------------------------------------
    def _print_add(self, node: Node) -> tuple[str, int]:
        expand = _broadcasts_to_full(node.args)
        return "".join(sign + self.broadcast(term, ADD + 1 if sign == " - " else ADD, expand)
                       for sign, term in signed_terms(node)), ADD

    def _print_hadamard(self, node: Node) -> tuple[str, int]:
        _, num, den = split_product(node.args)
        expand = _broadcasts_to_full(num)
        # MUL + 1: a matrix product among the factors needs parentheses (`*` and `@` associate)
        text = " * ".join(self.broadcast(f, MUL + 1, expand) for f in num) if num else "1.0"
        for d in den:
            text += " / " + self.broadcast(d, POW, expand)
        return text, MUL

    def _print_power(self, node: Node) -> tuple[str, int]:
        base, exponent = node.args
        p = const_value(exponent)
        if p == Fraction(1, 2):
            return self.spell(self.template("sqrt"), self.call("size_array", base)
                              if _sizes_only(base) else base)
        if p == -1:
            return f"1.0 / {self.paren(base, POW)}", MUL
        if p in (3, 4):     # x*x*x: two multiplications instead of a call to pow
            factor = self.paren(base, POW + 1)
            return " * ".join([factor] * int(p)), MUL
        return f"{self.paren(base, POW + 1)} ** {self.paren(exponent, POW + 1)}", POW

    # -- products ---------------------------------------------------------------------------------
    def _print_matmul(self, node: Node) -> tuple[str, int]:
        k = next((i for i, a in enumerate(node.args) if not a.is_scalar), len(node.args))
        scalars, chain = node.args[:k], list(node.args[k:])
        if not chain:
            return self._scalar_product(scalars)
        # (A + B)*x → A*x + B*x: a sum of matrices times a vector is never formed
        if len(chain) > 1 and 1 in node.shape:
            for i, f in enumerate(chain):
                if f.op == "add" and not f.is_vector:
                    terms = [algebra.mul(*scalars, *chain[:i], t, *chain[i + 1:]) for t in f.args]
                    return self.print_with(algebra.add(*terms))
        scale = algebra.mul(*scalars) if scalars else None
        # a matrix of equal entries is c * ones * ones': products with it become sums
        expanded: list[Node] = []
        for f in chain:
            if f.op == "fill" and not f.is_vector and len(chain) > 1:
                r, c = f.shape
                scale = algebra.mul(scale, f.args[0]) if scale is not None else f.args[0]
                scale = None if const_value(scale) == 1 else scale
                expanded += [algebra.fill(algebra.ONE, (r, 1)), algebra.fill(algebra.ONE, (1, c))]
            else:
                expanded.append(f)
        return self._chain(expanded, scale)

    def _scalar_product(self, factors: tuple[Node, ...]) -> tuple[str, int]:
        sign, num, den = split_product(factors)
        text = " * ".join(self.paren(f, MUL + 1) for f in num) if num else "1.0"
        for d in den:
            text += " / " + self.paren(d, POW)
        return sign + text, NEG if sign else MUL

    def _chain(self, chain: list[Node], scale: Node | None) -> tuple[str, int]:
        """Multiply a matrix chain in its cheapest order; `scale` is absorbed where cheapest.

        Where the order depends on dimensions known only when the code runs, a backend that can
        choose it then (`multi_dot`) does; elsewhere unknown dimensions count as large and equal.
        """
        gram = gram_form(chain)
        gram_code = self._gram_call(*gram) if gram is not None else None
        if gram_code is not None:
            text, prec, absorbed = (*gram_code, False)
        elif self.backend.calls.get("multi_dot") and order_depends_on_sizes(chain):
            factors = ", ".join(self.doprint(f) for f in chain)
            text, prec, absorbed = (*self.call("multi_dot", factors), False)
        else:
            text, prec, absorbed = self._emit(cheapest_order(chain), chain, scale)
        if scale is not None and not absorbed:
            if const_value(scale) == -1:
                return f"-{text if prec >= POW else f'({text})'}", NEG
            # parenthesised: `2 * A.T @ y` would scale the matrix, `2 * (A.T @ y)` the vector
            text = f"{self.paren(scale, MUL)} * {text if prec > MUL else f'({text})'}"
            prec = MUL
        return text, prec

    def computed_in_loops(self, node: Node) -> bool:
        """Whether generated loops compute `node` wherever it is used (fused.py), so that a
        repeated `node` needs no temporary array."""
        return False

    def _gram_call(self, m: Node, diagonal: Node | None,
                   into: str | None = None) -> tuple[str, int] | None:
        """M'*M or M'*diag(v)*M, symmetric: one symmetric rank-k update (syrk) where the weights
        are provably non-negative (M'*diag(v)*M = W'*W with W = diag(sqrt(v))*M; signs.py), one
        triangle of the product elsewhere; written into the array `into` if given. None where
        the backend has neither (or no spelling writing into an array)."""
        if diagonal is None:
            return self._call_into("gram", into, m) or \
                self._call_into("symmetric_product", into, m, m)
        v = diagonal.args[0]
        if nonnegative(v, self.bindings):
            code = self._call_into("weighted_gram", into, m, v)
            if code is not None:
                return code
        return self._call_into("symmetric_product", into, m, algebra.mul(diagonal, m))

    def _call_into(self, op: str, into: str | None, *args: Node) -> tuple[str, int] | None:
        """The backend's call `op` of `args`, or its `op_into` spelling writing into the array
        `into`; None where the backend has no such spelling."""
        name = f"{op}_into" if into is not None else op
        if not self.backend.calls.get(name):
            return None
        return self.call(name, *args, *([into] if into is not None else []))

    def _emit(self, tree: object, chain: list[Node], scale: Node | None) -> tuple[str, int, bool]:
        """Code for a subtree of the chain order: (code, precedence, scale absorbed?).

        A product of two sub-chains is spelled by the first lowering of LOWERINGS that applies.
        """
        if isinstance(tree, int):
            return (*self.print_with(chain[tree]), False)
        product = _Product(tree, chain)      # type: ignore[arg-type]
        for name, _, method in LOWERINGS:
            code = getattr(self, method.__name__)(product, scale)     # a subclass may refine it
            if code is not None:
                self.lowerings.add(name)
                return code
        raise AssertionError("the matrix product applies to every product")

    def _sub(self, tree: object, chain: list[Node]) -> tuple[str, int]:
        """A sub-chain's code, unscaled."""
        text, prec, _ = self._emit(tree, chain, None)
        return text, prec

    # -- the lowerings of a product L*R (see LOWERINGS) --------------------------------------------
    def _diagonal_left(self, p: _Product, scale: Node | None) -> tuple[str, int, bool] | None:
        diagonal = p.factor("left", "diagm")
        if diagonal is None:
            return None
        v = self.paren(diagonal.args[0], ATOM)
        ones = p.factor("right", "fill")
        if ones is not None:                 # diag(v)*ones = v
            c = ones.args[0]
            return (v, ATOM, False) if const_value(c) == 1 else \
                (f"{self.paren(c, MUL)} * {v}", MUL, False)
        r, rprec = self._sub(p.right_tree, p.chain)
        r = r if rprec > MUL else f"({r})"
        return (f"{v}[:, None] * {r}" if not p.right.is_vector else f"{v} * {r}", MUL, False)

    def _diagonal_right(self, p: _Product, scale: Node | None) -> tuple[str, int, bool] | None:
        diagonal = p.factor("right", "diagm")
        if diagonal is None:
            return None
        lt, lprec = self._sub(p.left_tree, p.chain)
        return f"{lt if lprec > MUL else f'({lt})'} * {self.paren(diagonal.args[0], ATOM)}", \
            MUL, False

    def solve(self, a: Node, transposed: bool, b: Node | str | tuple[str, int]) -> tuple[str, int]:
        """inv(A)*B (inv(A')*B if `transposed`) as a solve: a triangular one where A is a
        triangular factor (its row's `triangular`, chol's "lower") and the library has one."""
        a_text = f"{self.paren(a, ATOM)}.T" if transposed else self.doprint(a)
        side = lookup(a.op).triangular if a.op in REGISTRY else ""
        if side and "solve_triangular" in self.backend.calls:
            lower = (side == "lower") != transposed
            return self.call("solve_triangular", a_text, b, lower=str(lower))
        return self.call("solve", a_text, b)

    def _print_inv(self, node: Node) -> tuple[str, int]:
        """inv(L) of a triangular factor, where the inverse itself is needed (an operand of .*):
        a triangular solve against the identity; any other inverse by the row's template."""
        a = node.args[0]
        if a.op in REGISTRY and lookup(a.op).triangular and \
                "solve_triangular" in self.backend.calls:
            return self.solve(a, False, self.call("eye", self.dim(a.shape[0])))
        return self._print_function(node)

    def _print_solve(self, node: Node) -> tuple[str, int]:
        a, b = node.args
        if a.op == "transpose":         # solve(chol(S)', b): an upper triangular solve
            return self.solve(a.args[0], True, b)
        return self.solve(a, False, b)

    def _solve_left(self, p: _Product, scale: Node | None) -> tuple[str, int, bool] | None:
        inverse = inverse_of(p.chain[p.left_tree]) if isinstance(p.left_tree, int) else None
        if inverse is None:
            return None
        a, transposed = inverse
        r, _ = self._sub(p.right_tree, p.chain)
        return (*self.solve(a, transposed, r), False)

    def _solve_right(self, p: _Product, scale: Node | None) -> tuple[str, int, bool] | None:
        inverse = inverse_of(p.chain[p.right_tree]) if isinstance(p.right_tree, int) else None
        if inverse is None:
            return None
        a, transposed = inverse
        lt, _ = self._sub(p.left_tree, p.chain)
        if p.left.is_row:       # B*inv(A) = (inv(A')*B')'
            return (*self.solve(a, not transposed, lt), False)
        return f"{self.solve(a, not transposed, f'{_wrap(lt)}.T')[0]}.T", ATOM, False

    def _outer(self, p: _Product, scale: Node | None) -> tuple[str, int, bool] | None:
        if not (p.left.is_column and p.right.is_row):
            return None
        shape = f"({self.dim(p.left.shape[0])}, {self.dim(p.right.shape[1])})"
        # an outer product with a constant vector repeats the other one: no vector of ones
        right_fill, left_fill = p.factor("right", "fill"), p.factor("left", "fill")
        if right_fill is not None:
            column = self._times(scale, *self._times(right_fill.args[0],
                                                     *self._sub(p.left_tree, p.chain)))
            return (*self.call("repeat_column", column, shape), True)
        if left_fill is not None:
            row = self._times(scale, *self._times(left_fill.args[0],
                                                  *self._sub(p.right_tree, p.chain)))
            return (*self.call("repeat_row", row, shape), True)
        lt = self._sub(p.left_tree, p.chain)
        rt = self._sub(p.right_tree, p.chain)
        return (*self.call("outer", lt, self._times(scale, *rt)), True)

    def _column_sums(self, p: _Product, scale: Node | None) -> tuple[str, int, bool] | None:
        ones = p.factor("left", "fill")
        if ones is None or not p.left.is_row:
            return None
        rt, _ = self._sub(p.right_tree, p.chain)
        return (*self._times(ones.args[0], *self.call("sum_axis", rt, "0")), False)

    def _row_sums(self, p: _Product, scale: Node | None) -> tuple[str, int, bool] | None:
        ones = p.factor("right", "fill")
        if ones is None or not p.right.is_column:
            return None
        lt, _ = self._sub(p.left_tree, p.chain)
        axis = "1" if not p.left.is_row else "0"
        return (*self._times(ones.args[0], *self.call("sum_axis", lt, axis)), False)

    def _scaling(self, p: _Product, scale: Node | None) -> tuple[str, int, bool] | None:
        if not (p.left.is_scalar or p.right.is_scalar):
            return None
        lt, lprec = self._sub(p.left_tree, p.chain)
        rt, rprec = self._sub(p.right_tree, p.chain)
        return f"{lt if lprec > MUL else f'({lt})'} * {rt if rprec > MUL else f'({rt})'}", \
            MUL, False

    def _matrix_product(self, p: _Product, scale: Node | None) -> tuple[str, int, bool]:
        lt, lprec = self._sub(p.left_tree, p.chain)
        rt, rprec = self._sub(p.right_tree, p.chain)
        for side in ("left", "right"):       # a constant matrix as a product's operand
            fill = p.factor(side, "fill")
            if fill is not None:
                lt, rt = (self._print_fill(fill)[0], rt) if side == "left" else \
                    (lt, self._print_fill(fill)[0])
        return f"{_wrap(lt) if lprec < MUL else lt} @ {_wrap(rt) if rprec < POW else rt}", \
            MUL, False

    def print_into(self, node: Node, target: str) -> list[str]:
        """Statements writing `node` into the array `target`: an outer product (the gradient of
        the seed) by one multiplication, a product of matrices by its kernel (_product_into),
        an elementwise expression one operation at a time (inplace.py); anything else is
        computed, then copied in."""
        product = self._product_into(node, target)
        if product is not None:
            return [product]
        k = next((i for i, a in enumerate(node.args) if not a.is_scalar), len(node.args))
        chain = node.args[k:] if node.op == "matmul" else ()
        if len(chain) == 2 and chain[0].is_column and chain[1].is_row and \
                all(f.op not in ("fill", "diagm") and inverse_of(f) is None for f in chain):
            scale = algebra.mul(*node.args[:k]) if k else None
            row = self._times(scale, *self.print_with(chain[1]))
            return [self.spell(self.backend.multiply_into, chain[0], row, target)[0]]
        return in_place_lines(self, node, target) or \
            [self.spell(self.backend.copy_into, node, target)[0]]

    def _product_into(self, node: Node, target: str) -> str | None:
        """A product of matrices (no scalar factor) whose kernel writes its last product into
        `target` — a Gram product's syrk, a chain ordered at call time, a product of two — as
        `_chain` would compute it: no new array, no copy ((A' + A)*X took 0.72× the time of the
        copied-in form at 500×500 and 0.88× at 2000×2000, medians of interleaved calls). None
        where the backend has no such spelling or the product is printed otherwise."""
        calls = self.backend.calls
        if node.op != "matmul" or any(a.is_scalar for a in node.args):
            return None
        chain = list(node.args)
        gram = gram_form(chain)
        if gram is not None:
            code = self._gram_call(*gram, into=target)
            return code[0] if code is not None else None
        if calls.get("multi_dot_into") and order_depends_on_sizes(chain):
            factors = ", ".join(self.doprint(f) for f in chain)
            return self.call("multi_dot_into", factors, target)[0]
        if calls.get("matmul_into") and two_matrices(node):
            return self.call("matmul_into", *chain, target)[0]
        return None

    def _times(self, factor: Node | None, text: str, prec: int) -> tuple[str, int]:
        """`factor * text`, leaving out a factor of 1 and writing -1 as a sign."""
        value = const_value(factor) if factor is not None else 1
        if value == 1:
            return text, prec
        if value == -1:
            return f"-{text if prec >= POW else f'({text})'}", NEG
        return f"{self.paren(factor, MUL)} * {text if prec > MUL else f'({text})'}", MUL

    def _print_transpose(self, node: Node) -> tuple[str, int]:
        inner = node.args[0]
        if inner.is_vector:
            return self.print_with(inner)
        return f"{self.paren(inner, ATOM)}.T", ATOM

    def _print_tr(self, node: Node) -> tuple[str, int]:
        a = node.args[0]
        if a.op == "matmul" and not a.args[0].is_scalar and len(a.args) >= 2:
            left = algebra.mul(*a.args[:-1])
            right = a.args[-1]
            if left.is_column:
                return self.call("dot", left, right)
            return self.call("trace_product", left, right)
        if a.op == "eye":
            return self.dim(a.shape[0]), ATOM
        return self.call("trace", a)

    def _print_diagm(self, node: Node) -> tuple[str, int]:
        return self.call("diag", node.args[0], self.dim(node.shape[0]))

    def _print_kron(self, node: Node) -> tuple[str, int]:
        def as_2d(a: Node) -> str:     # vectors are 1-D here; a Kronecker product needs 2-D
            text = self.paren(a, ATOM)
            return f"{text}[:, None]" if a.is_column else f"{text}[None, :]" if a.is_row else text
        a, b = node.args
        text, _ = self.call("kron", as_2d(a), as_2d(b), self.dim(a.shape[0]), self.dim(a.shape[1]),
                            self.dim(b.shape[0]), self.dim(b.shape[1]))
        return self.spell(self.template("vec"), text) if node.is_vector else (text, ATOM)

    def _print_commutation(self, node: Node) -> tuple[str, int]:
        rows, cols = node.value  # type: ignore[misc]
        return self.call("commutation", self.dim(rows), self.dim(cols))

    # sizes: read off the inputs' shapes (X.shape[0]), never by computing the operand
    def _print_rows(self, node: Node) -> tuple[str, int]:
        return self.dim(node.args[0].shape[0]), ATOM

    def _print_cols(self, node: Node) -> tuple[str, int]:
        return self.dim(node.args[0].shape[1]), ATOM

    def _print_len(self, node: Node) -> tuple[str, int]:
        r, c = node.args[0].shape
        return self.dim(r if c == 1 else c), ATOM

    def _print_frob(self, node: Node) -> tuple[str, int]:
        product = f"{self.paren(node.args[0], MUL)} * {self.paren(node.args[1], MUL)}"
        return self.spell(self.template("sum"), (product, MUL))

    def _print_function(self, node: Node) -> tuple[str, int]:
        """An operator of the registry, by its row's template for this backend; a function of
        a number made of sizes alone (sqrt(cols(X))) takes it as an array of the inputs' kind."""
        op = lookup(node.op)
        if op.elementwise and _sizes_only(node.args[0]):
            value = self.spell(self.template(node.op), self.call("size_array", node.args[0]))
            return self.call("size_scalar", value) if "size_scalar" in self.backend.calls \
                else value
        if op.matrix_operands:       # 2-D in, and a vector result 1-D again
            text, _ = self.spell(self.template(node.op), *map(self._as_matrix, node.args))
            return self.spell(self.template("vec"), text) if node.is_vector else (text, ATOM)
        return self.spell(self.template(node.op), *node.args)

    def _as_matrix(self, node: Node) -> str:
        """An operand as a 2-D array: a vector (1-D here) as a column or a row."""
        text = self.paren(node, ATOM)
        return f"{text}[:, None]" if node.is_column else f"{text}[None, :]" if node.is_row else text

    def template(self, op: str) -> str:
        """How this backend spells the registry's operator `op`."""
        code = lookup(op).code
        return code.get(self.backend.name) or code[self.backend.spells_as]  # type: ignore[union-attr]


class _Product:
    """A product L*R of two sub-chains of a matrix chain, as the lowerings see it."""

    def __init__(self, tree: tuple[object, object], chain: list[Node]):
        self.left_tree, self.right_tree = tree
        self.chain = chain
        self.left = span_node(self.left_tree, chain)
        self.right = span_node(self.right_tree, chain)

    def factor(self, side: str, op: str) -> Node | None:
        """The side's factor if that side is one factor with operator `op`."""
        tree = self.left_tree if side == "left" else self.right_tree
        if isinstance(tree, int) and self.chain[tree].op == op:
            return self.chain[tree]
        return None


def two_matrices(node: Node) -> bool:
    """A product A*B of two matrices as they are stored or computed (no scalar, vector, diagonal,
    inverse or constant factor: those are printed as scalings, solves and sums)."""
    return node.op == "matmul" and len(node.args) == 2 and all(
        not a.is_scalar and not a.is_vector and inverse_of(a) is None
        and a.op not in ("diagm", "fill", "eye", "zero") for a in node.args)


# How generated code spells a product L*R of two sub-chains: the first lowering that applies, in
# this order. (name, the identity it uses, the CodePrinter method); tests/test_lowerings.py checks
# each numerically on problems that use it.
LOWERINGS = (
    ("diagonal-scaling-left", "diag(v)*M = v[:, None] * M (diag(v)*ones = v)",
     CodePrinter._diagonal_left),
    ("diagonal-scaling-right", "M*diag(v) = M * v[None, :]", CodePrinter._diagonal_right),
    ("solve-left", "inv(A)*B = solve(A, B)", CodePrinter._solve_left),
    ("solve-right", "B*inv(A) = solve(A', B')'", CodePrinter._solve_right),
    ("outer-product", "u*v' = outer(u, v) (a constant u or v: the other one repeated)",
     CodePrinter._outer),
    ("column-sums", "c*ones'*R = c*sum(R, axis=0)", CodePrinter._column_sums),
    ("row-sums", "L*ones*c = c*sum(L, axis=1)", CodePrinter._row_sums),
    ("scaling", "a sub-chain that reduces to 1×1 scales the other", CodePrinter._scaling),
    ("matrix-product", "A*B = A @ B", CodePrinter._matrix_product),
)


def constant_value(node: Node) -> float | None:
    """The value of a scalar expression of numbers alone (exp(0.5), softplus(2)^-1), if finite;
    None for a bare number and for anything with a variable or a dimension in it."""
    if node.op == "const" or not node.args or node.deps:
        return None
    if any(n.op == "ref" or not n.is_scalar for n in node.distinct()):
        return None
    with np.errstate(all="ignore"):
        value = float(evaluate(node, {}, {}).reshape(()))
    return value if np.isfinite(value) else None


def _wrap(text: str) -> str:
    return f"({text})"


__all__ = ["LOWERINGS", "CodePrinter", "constant_value", "two_matrices"]
