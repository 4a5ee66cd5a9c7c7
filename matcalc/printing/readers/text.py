"""Expression → the input language (what `str(d)` shows); parse(to_text(e)) reads it back.

A printer per target shares this module's skeleton: `Printer.doprint` dispatches on the operator to
`_print_<op>`, and `paren` wraps an operand whose precedence is lower than its context needs.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

from ... import algebra
from ...operators import lookup
from ...ops import Node, const_value, number

# Precedence, lowest first.
ADD, FROB, MUL, NEG, POW, POSTFIX, ATOM = 10, 15, 20, 25, 30, 40, 50
PRECEDENCE = {"add": ADD, "frob": FROB, "mul": MUL, "neg": NEG, "pow": POW, "postfix": POSTFIX,
              "atom": ATOM}
# A template's operand: {0}, or {0:postfix} for one parenthesised unless it binds at least as
# tightly as a postfix operator; other braces are the target language's own
_OPERAND = re.compile(r"\{(\d)(?::(\w+))?\}")


def format_number(value: Fraction | float) -> str:
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        d = value.denominator
        while d % 2 == 0:
            d //= 2
        while d % 5 == 0:
            d //= 5
        if d == 1:
            return repr(float(value))
        return f"{value.numerator}/{value.denominator}"
    return repr(float(value))


def number_precedence(value: Fraction | float) -> int:
    if value < 0:
        return NEG
    if isinstance(value, Fraction) and value.denominator != 1 and "/" in format_number(value):
        return MUL
    return ATOM


def signed_terms(node: Node) -> list[tuple[str, Node]]:
    """The terms of a sum as printed: (" - ", -t) for a term t with a negative coefficient
    after the first, else (" + ", t) — the first term's sign is ""."""
    out = []
    for i, term in enumerate(node.args):
        entry = term.args[0] if term.op == "fill" else term     # a broadcast scalar: its sign
        coefficient = const_value(entry.args[0]) if entry.op == "matmul" else const_value(entry)
        if i > 0 and coefficient is not None and coefficient < 0:
            out.append((" - ", _minus(term)))
        else:
            out.append(("" if i == 0 else " + ", term))
    return out


def _minus(term: Node) -> Node:
    """-term, for a term led by a negative number: the number's sign flipped where it stands.
    algebra.neg would rebuild the product in canonical order, and a binding is printed in the
    order its user wrote (b - x*alpha, not b - alpha*x)."""
    if term.op == "fill":
        return algebra.fill(_minus(term.args[0]), term.shape)
    if term.op == "const":
        return number(-term.value)  # type: ignore[operator]
    coefficient, *rest = term.args
    if coefficient.value != -1:
        rest = [number(-coefficient.value), *rest]  # type: ignore[operator]
    return rest[0] if len(rest) == 1 else Node(term.op, tuple(rest), term.shape)


def split_product(factors: tuple[Node, ...], elementwise: bool = True
                  ) -> tuple[str, list[Node], list[Node]]:
    """(sign, numerator, denominator) of a product: a leading -1 becomes the sign "-", and a
    factor with a negative constant exponent, s.^-p, goes below the line as s.^p."""
    sign = ""
    if len(factors) > 1 and const_value(factors[0]) == -1:
        sign, factors = "-", factors[1:]
    num, den = [], []
    for f in factors:
        p = const_value(f.args[1]) if f.op == "power" else None
        # in a matrix product only a scalar may go below the line: x.^-2 stays a factor
        if p is not None and p < 0 and (elementwise or f.is_scalar):
            den.append(f.args[0] if p == -1 else Node("power", (f.args[0], number(-p)), f.shape))
        else:
            num.append(f)
    return sign, num, den


def implicit_expansions(operands: Sequence[Node]) -> list[Node | None]:
    """For each operand of an elementwise operation as printed, the vector to write in place of
    it (`X + b'` for X + vector(1)*b'), or None. Read back left to right, `b'` expands only
    beside a matrix: an operand is written as its vector when a full-shape operand is printed
    before it or right after it."""
    def full(node: Node) -> bool:
        return not (node.is_scalar or node.is_vector or node.op == "fill"
                    or algebra.expanded_vector(node) is not None)

    out: list[Node | None] = []
    seen_full = False
    for i, node in enumerate(operands):
        expanded = algebra.expanded_vector(node)
        after = i + 1 < len(operands) and full(operands[i + 1])
        out.append(expanded[0] if expanded is not None and (seen_full or after) else None)
        seen_full = seen_full or full(node)
    return out


class Printer:
    """Base: dispatch and parenthesisation. Subclasses give the spelling of each operator."""

    def doprint(self, node: Node) -> str:
        return self.print_with(node)[0]

    def print_with(self, node: Node) -> tuple[str, int]:
        """(text, precedence of its outermost operator)."""
        method = getattr(self, f"_print_{node.op}", None)
        if method is None:
            return self._print_function(node)
        return method(node)

    def paren(self, node: Node, need: int) -> str:
        text, prec = self.print_with(node)
        return self.wrap(text) if prec < need else text

    def wrap(self, text: str) -> str:
        return f"({text})"

    def fill(self, template: str, operands: Sequence[Node]) -> str:
        """A registry template with its operands printed in place."""
        def operand(m: re.Match) -> str:
            need = PRECEDENCE[m.group(2)] if m.group(2) else 0
            return self.paren(operands[int(m.group(1))], need)
        return _OPERAND.sub(operand, template)


class TextPrinter(Printer):
    def _print_var(self, node: Node) -> tuple[str, int]:
        return str(node.value), ATOM

    _print_ref = _print_var

    def _print_const(self, node: Node) -> tuple[str, int]:
        return format_number(node.value), number_precedence(node.value)  # type: ignore[arg-type]

    def _print_eye(self, node: Node) -> tuple[str, int]:
        # a numeric size is kept (tr(eye(5)), not tr(eye)); a symbolic one comes from context
        n = node.shape[0]
        return (f"eye({n})" if isinstance(n, int) else "eye"), ATOM

    def _print_zero(self, node: Node) -> tuple[str, int]:
        return self._fill_text("0", node)

    def _print_fill(self, node: Node) -> tuple[str, int]:
        return self._fill_text(self.doprint(node.args[0]), node)

    def _fill_text(self, value: str, node: Node) -> tuple[str, int]:
        if node.is_column:
            return f"vector({value})", ATOM
        if node.is_row:
            return f"vector({value})'", POSTFIX
        return f"matrix({value})", ATOM

    def _print_add(self, node: Node) -> tuple[str, int]:
        parts = []
        terms = signed_terms(node)
        bare = implicit_expansions([t for _, t in terms])
        for (sign, term), vector in zip(terms, bare):
            if term.op == "fill":     # a scalar broadcasts in a sum: 1 - tanh(x).^2
                term = term.args[0]
            parts.append(sign + self.paren(vector or term, ADD + 1 if sign == " - " else ADD))
        return "".join(parts), ADD

    def _product(self, node: Node, times: str, over: str) -> tuple[str, int]:
        sign, num, den = split_product(node.args, elementwise=node.op == "hadamard")
        bare = implicit_expansions(num + den) if node.op == "hadamard" else [None] * len(num + den)
        text = times.join(self._factor(v or f, node.op) for f, v in zip(num, bare)) if num else "1"
        for d, v in zip(den, bare[len(num):]):
            text += over + self.paren(v or d, MUL + 1)
        if sign and text.startswith("-"):      # -(-x), not --x (a binding as its user wrote it)
            text = self.wrap(text)
        return sign + text, NEG if sign else MUL

    def _factor(self, f: Node, op: str) -> str:
        """A factor of a product; `*` and `.*` never mix without parentheses."""
        mixed = f.op in ("matmul", "hadamard") and f.op != op
        return self.paren(f, ATOM if mixed else MUL)

    def _print_matmul(self, node: Node) -> tuple[str, int]:
        return self._product(node, "*", "/")

    def _print_hadamard(self, node: Node) -> tuple[str, int]:
        return self._product(node, ".*", "./")

    def _print_power(self, node: Node) -> tuple[str, int]:
        base, exponent = node.args
        op = "^" if base.is_scalar else ".^"
        return f"{self.paren(base, POSTFIX)}{op}{self._exponent(exponent)}", POW

    def _exponent(self, exponent: Node) -> str:
        value = const_value(exponent)
        if value is not None and value < 0:
            return "-" + self.paren(number(-value), POSTFIX)
        return self.paren(exponent, POSTFIX)

    def _print_matpow(self, node: Node) -> tuple[str, int]:
        return f"{self.paren(node.args[0], POSTFIX)}^{self._exponent(node.args[1])}", POW

    def _print_transpose(self, node: Node) -> tuple[str, int]:
        return f"{self.paren(node.args[0], POSTFIX)}'", POSTFIX

    def _print_d(self, node: Node) -> tuple[str, int]:
        return f"d({self.doprint(node.args[0])})", ATOM

    def _print_fprime(self, node: Node) -> tuple[str, int]:
        return f"{node.value}'({self.doprint(node.args[0])})", ATOM

    def _print_frob(self, node: Node) -> tuple[str, int]:
        left, right = node.args
        if const_value(left) == 1:
            return self.print_with(right)
        if left.is_scalar and right.is_scalar:    # s : t is the product s*t
            return f"{self.paren(left, MUL)}*{self.paren(right, MUL)}", MUL
        return f"{self.paren(left, POSTFIX)} : {self.paren(right, POSTFIX)}", FROB

    def _print_commutation(self, node: Node) -> tuple[str, int]:
        rows, cols = node.value  # type: ignore[misc]
        return f"commutation({rows}, {cols})", ATOM

    def _print_function(self, node: Node) -> tuple[str, int]:
        """An operator of the registry, called by its name in the language (and a row along a
        dimension with the dimension: `sum(A, 2)`)."""
        op = lookup(node.op)
        args = [self.doprint(a) for a in node.args]
        args += [str(op.dimension)] if op.dimension is not None else []
        return f"{op.text}({', '.join(args)})", ATOM


def to_text(node: Node) -> str:
    """The expression in the input language.

    >>> from matcalc.ops import var
    >>> from matcalc import algebra
    >>> to_text(algebra.mul(algebra.transpose(var("X", ("m", "n"))), var("a", ("m", 1))))
    "X'*a"
    """
    return TextPrinter().doprint(node)
