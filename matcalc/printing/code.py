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

from ..ops import Node, const_value, dim_factors
from .backend import Backend
from .chain import cheapest_order, gram_form, inverse_of, order_depends_on_sizes, span_node
from .inplace import in_place_lines
from .text import ADD, ATOM, MUL, NEG, POW, Printer, signed_terms, split_product


def _literal(value: Fraction | float) -> tuple[str, int]:
    if isinstance(value, Fraction) and value.denominator == 1:
        text = str(value.numerator)
    else:
        text = repr(float(value))
    return text, NEG if value < 0 else ATOM


class CodePrinter(Printer):
    """Prints one expression; `names` maps nodes already computed (bindings, temporaries)."""

    def __init__(self, backend: Backend, names: dict[Node, str], dims: dict[object, str],
                 like_array: str | None = None):
        self.backend = backend
        self.names = names
        self.dims = dims
        self.helpers: set[str] = set()
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
        factors = [str(f) if isinstance(f, int) else self.dims[f] for f in dim_factors(d)]
        return factors[0] if len(factors) == 1 else "(" + " * ".join(factors) + ")"

    def shape_text(self, node: Node) -> str:
        if node.is_column or node.is_row:
            return f"({self.dim(node.shape[0] if node.is_column else node.shape[1])},)"
        return f"({self.dim(node.shape[0])}, {self.dim(node.shape[1])})"

    def broadcast(self, node: Node, need: int) -> str:
        """An operand of an elementwise operation: a fill is just its scalar."""
        if node.op == "fill":
            return self.paren(node.args[0], need)
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
        return "".join(sign + self.broadcast(term, ADD + 1 if sign == " - " else ADD)
                       for sign, term in signed_terms(node)), ADD

    def _print_hadamard(self, node: Node) -> tuple[str, int]:
        _, num, den = split_product(node.args)
        # MUL + 1: a matrix product among the factors needs parentheses (`*` and `@` associate)
        text = " * ".join(self.broadcast(f, MUL + 1) for f in num) if num else "1.0"
        for d in den:
            text += " / " + self.broadcast(d, POW)
        return text, MUL

    def _print_power(self, node: Node) -> tuple[str, int]:
        base, exponent = node.args
        p = const_value(exponent)
        if p == Fraction(1, 2):
            return self.call("sqrt", base)
        if p == -1:
            return f"1.0 / {self.paren(base, POW)}", MUL
        if p in (3, 4):     # x*x*x: two multiplications instead of a call to pow
            factor = self.paren(base, POW + 1)
            return " * ".join([factor] * int(p)), MUL
        return f"{self.paren(base, POW + 1)} ** {self.paren(exponent, POW + 1)}", POW

    # -- products ---------------------------------------------------------------------------------
    def _print_matmul(self, node: Node) -> tuple[str, int]:
        from .. import algebra
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
        if gram is not None and self.backend.calls.get("symmetric_product"):
            m, weighted = gram          # M'*W with W = M or diag(v)*M: symmetric, one triangle
            text, prec, absorbed = (*self.call("symmetric_product", m, weighted), False)
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

    def _emit(self, tree: object, chain: list[Node], scale: Node | None) -> tuple[str, int, bool]:
        """Code for a subtree of the chain order: (code, precedence, scale absorbed?)."""
        if isinstance(tree, int):
            return (*self.print_with(chain[tree]), False)
        left_tree, right_tree = tree  # type: ignore[misc]
        left = span_node(left_tree, chain)
        right = span_node(right_tree, chain)
        if isinstance(left_tree, int) and chain[left_tree].op == "diagm":
            v = self.paren(chain[left_tree].args[0], ATOM)
            if isinstance(right_tree, int) and chain[right_tree].op == "fill":   # diag(v)*ones = v
                c = chain[right_tree].args[0]
                return (v, ATOM, False) if const_value(c) == 1 else \
                    (f"{self.paren(c, MUL)} * {v}", MUL, False)
            r, rprec, _ = self._emit(right_tree, chain, None)
            r = r if rprec > MUL else f"({r})"
            return (f"{v}[:, None] * {r}" if not right.is_vector else f"{v} * {r}", MUL, False)
        if isinstance(right_tree, int) and chain[right_tree].op == "diagm":
            v = self.paren(chain[right_tree].args[0], ATOM)
            lt, lprec, _ = self._emit(left_tree, chain, None)
            return f"{lt if lprec > MUL else f'({lt})'} * {v}", MUL, False
        inverse = inverse_of(chain[left_tree]) if isinstance(left_tree, int) else None
        if inverse is not None:       # inv(A)*B = solve(A, B); inv(A)'*B = solve(A', B)
            a, transposed = inverse
            r, _, _ = self._emit(right_tree, chain, None)
            a_text = f"{self.paren(a, ATOM)}.T" if transposed else self.doprint(a)
            return (*self.call("solve", a_text, r), False)
        inverse = inverse_of(chain[right_tree]) if isinstance(right_tree, int) else None
        if inverse is not None:       # B*inv(A) = solve(A', B')'
            a, transposed = inverse
            lt, _, _ = self._emit(left_tree, chain, None)
            a_text = self.doprint(a) if transposed else f"{self.paren(a, ATOM)}.T"
            if left.is_row:
                return (*self.call("solve", a_text, lt), False)
            return f"{self.call('solve', a_text, f'{_wrap(lt)}.T')[0]}.T", ATOM, False
        left_fill = chain[left_tree].args[0] if isinstance(left_tree, int) \
            and chain[left_tree].op == "fill" else None
        right_fill = chain[right_tree].args[0] if isinstance(right_tree, int) \
            and chain[right_tree].op == "fill" else None
        if left.is_column and right.is_row:
            shape = f"({self.dim(left.shape[0])}, {self.dim(right.shape[1])})"
            # an outer product with a constant vector repeats the other one: no vector of ones
            if right_fill is not None:
                lt, lprec, _ = self._emit(left_tree, chain, None)
                column = self._times(scale, *self._times(right_fill, lt, lprec))
                return (*self.call("repeat_column", column, shape), True)
            if left_fill is not None:
                rt, rprec, _ = self._emit(right_tree, chain, None)
                row = self._times(scale, *self._times(left_fill, rt, rprec))
                return (*self.call("repeat_row", row, shape), True)
            lt, lprec, _ = self._emit(left_tree, chain, None)
            rt, rprec, _ = self._emit(right_tree, chain, None)
            return (*self.call("outer", (lt, lprec), self._times(scale, rt, rprec)), True)
        if left_fill is not None and left.is_row:       # ones'*R: column sums
            rt, _, _ = self._emit(right_tree, chain, None)
            return (*self._times(left_fill, *self.call("sum_axis", rt, "0")), False)
        if right_fill is not None and right.is_column:  # L*ones: row sums
            lt, _, _ = self._emit(left_tree, chain, None)
            axis = "1" if not left.is_row else "0"
            return (*self._times(right_fill, *self.call("sum_axis", lt, axis)), False)
        lt, lprec, _ = self._emit(left_tree, chain, None)
        rt, rprec, _ = self._emit(right_tree, chain, None)
        if left.is_scalar or right.is_scalar:   # a sub-chain that reduced to a number scales
            return f"{lt if lprec > MUL else f'({lt})'} * {rt if rprec > MUL else f'({rt})'}", \
                MUL, False
        if isinstance(left_tree, int) and chain[left_tree].op == "fill":
            lt = self._print_fill(chain[left_tree])[0]
        if isinstance(right_tree, int) and chain[right_tree].op == "fill":
            rt = self._print_fill(chain[right_tree])[0]
        return f"{_wrap(lt) if lprec < MUL else lt} @ {_wrap(rt) if rprec < POW else rt}", \
            MUL, False

    def print_into(self, node: Node, target: str) -> list[str]:
        """Statements writing `node` into the array `target`: an outer product (the gradient of
        the seed) by one multiplication, an elementwise expression one operation at a time
        (inplace.py); anything else is computed, then copied in."""
        k = next((i for i, a in enumerate(node.args) if not a.is_scalar), len(node.args))
        chain = node.args[k:] if node.op == "matmul" else ()
        if len(chain) == 2 and chain[0].is_column and chain[1].is_row and \
                all(f.op not in ("fill", "diagm") and inverse_of(f) is None for f in chain):
            from .. import algebra
            scale = algebra.mul(*node.args[:k]) if k else None
            row = self._times(scale, *self.print_with(chain[1]))
            return [self.spell(self.backend.multiply_into, chain[0], row, target)[0]]
        return in_place_lines(self, node, target) or \
            [self.spell(self.backend.copy_into, node, target)[0]]

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

    def _print_matpow(self, node: Node) -> tuple[str, int]:
        return self.call("matrix_power", *node.args)

    # -- matrix functions -------------------------------------------------------------------------
    def _print_tr(self, node: Node) -> tuple[str, int]:
        a = node.args[0]
        if a.op == "matmul" and not a.args[0].is_scalar and len(a.args) >= 2:
            from .. import algebra
            left = algebra.mul(*a.args[:-1])
            right = a.args[-1]
            if left.is_column:
                return self.call("dot", left, right)
            return self.call("trace_product", left, right)
        if a.op == "eye":
            return self.dim(a.shape[0]), ATOM
        return self.call("trace", a)

    def _print_det(self, node: Node) -> tuple[str, int]:
        return self.call("det", node.args[0])

    def _print_logdet(self, node: Node) -> tuple[str, int]:
        return self.call("logdet", node.args[0])

    def _print_inv(self, node: Node) -> tuple[str, int]:
        return self.call("inv", node.args[0])

    def _print_sum(self, node: Node) -> tuple[str, int]:
        return self.call("sum", node.args[0])

    def _print_diagm(self, node: Node) -> tuple[str, int]:
        return self.call("diag", node.args[0], self.dim(node.shape[0]))

    def _print_diagv(self, node: Node) -> tuple[str, int]:
        return self.call("diagonal", node.args[0])

    def _print_norm2(self, node: Node) -> tuple[str, int]:
        return self.call("norm", node.args[0])

    def _print_norm1(self, node: Node) -> tuple[str, int]:
        return self.call("sum", self.call("abs", node.args[0]))

    def _print_kron(self, node: Node) -> tuple[str, int]:
        def as_2d(a: Node) -> str:     # vectors are 1-D here; a Kronecker product needs 2-D
            text = self.paren(a, ATOM)
            return f"{text}[:, None]" if a.is_column else f"{text}[None, :]" if a.is_row else text
        a, b = node.args
        text, _ = self.call("kron", as_2d(a), as_2d(b), self.dim(a.shape[0]), self.dim(a.shape[1]),
                            self.dim(b.shape[0]), self.dim(b.shape[1]))
        return self.call("vec", text) if node.is_vector else (text, ATOM)

    def _print_vec(self, node: Node) -> tuple[str, int]:
        return self.call("vec", node.args[0])

    def _print_commutation(self, node: Node) -> tuple[str, int]:
        rows, cols = node.value  # type: ignore[misc]
        return self.call("commutation", self.dim(rows), self.dim(cols))

    def _print_frob(self, node: Node) -> tuple[str, int]:
        product = f"{self.paren(node.args[0], MUL)} * {self.paren(node.args[1], MUL)}"
        return self.call("sum", (product, MUL))

    def _print_function(self, node: Node) -> tuple[str, int]:
        template = self.backend.functions.get(node.op)
        if template is not None:
            return self.spell(template, *node.args)
        return self.call("function", name=node.op,
                         args=", ".join(self.doprint(a) for a in node.args))


def constant_value(node: Node) -> float | None:
    """The value of a scalar expression of numbers alone (exp(0.5), softplus(2)^-1), if finite;
    None for a bare number and for anything with a variable or a dimension in it."""
    if node.op == "const" or not node.args or node.deps:
        return None
    if any(n.op == "ref" or not n.is_scalar for n in node.walk()):
        return None
    from ..verify import evaluate
    with np.errstate(all="ignore"):
        value = float(evaluate(node, {}, {}).reshape(()))
    return value if np.isfinite(value) else None


def _wrap(text: str) -> str:
    return f"({text})"


__all__ = ["CodePrinter", "constant_value"]
