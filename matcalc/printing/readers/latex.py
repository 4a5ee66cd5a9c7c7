"""Expression → LaTeX: Hadamard product as ∘, Frobenius product as :, transpose as ^\\top."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...names import GREEK
from ...operators import APPLIED, lookup
from ...ops import Node, const_value
from .text import (
    ADD,
    ATOM,
    FROB,
    MUL,
    NEG,
    POSTFIX,
    POW,
    PRECEDENCE,
    Printer,
    format_number,
    signed_terms,
    split_product,
)

if TYPE_CHECKING:
    from ...derivation import Derivation

def _name(name: str) -> str:
    if name == "omicron":       # the one Greek letter LaTeX writes as a Latin one
        return "o"
    if name in GREEK:
        return "\\" + name
    if len(name) == 1:
        return name
    base, _, sub = name.partition("_")
    if sub and base:
        return f"{_name(base)}_{{{sub}}}"
    return rf"\mathrm{{{name}}}" if len(name) > 1 else name


class LatexPrinter(Printer):
    def wrap(self, text: str) -> str:
        return rf"\left({text}\right)"

    def _print_var(self, node: Node) -> tuple[str, int]:
        return _name(str(node.value)), ATOM

    _print_ref = _print_var

    def _print_const(self, node: Node) -> tuple[str, int]:
        value = node.value
        text = format_number(value)  # type: ignore[arg-type]
        if "/" in text:
            sign = "-" if value < 0 else ""  # type: ignore[operator]
            num, den = text.lstrip("-").split("/")
            return rf"{sign}\frac{{{num}}}{{{den}}}", NEG if sign else ATOM
        return text, NEG if value < 0 else ATOM  # type: ignore[operator]

    def _print_eye(self, node: Node) -> tuple[str, int]:
        return "I", ATOM

    def _print_zero(self, node: Node) -> tuple[str, int]:
        return r"\mathbf{0}", ATOM

    def _print_fill(self, node: Node) -> tuple[str, int]:
        c = node.args[0]
        ones = r"\mathbf{1}" + (r"^\top" if node.is_row else "")
        if const_value(c) == 1:
            return ones, ATOM
        return f"{self.paren(c, MUL)} {ones}", MUL

    def _print_add(self, node: Node) -> tuple[str, int]:
        return "".join(sign + self.paren(term, ADD + 1 if sign == " - " else ADD)
                       for sign, term in signed_terms(node)), ADD

    def _product(self, node: Node, sep: str) -> tuple[str, int]:
        sign, num, den = split_product(node.args, elementwise=node.op == "hadamard")
        text = sep.join(self.paren(f, ATOM if f.op in ("matmul", "hadamard") else MUL)
                        for f in num) if num else "1"
        if den:
            bottom = sep.join(self.paren(d, MUL + 1) for d in den)
            text = rf"{text} \oslash {bottom}" if node.op == "hadamard" else \
                rf"\frac{{{text}}}{{{bottom}}}"
        return sign + text, NEG if sign else MUL

    def _print_matmul(self, node: Node) -> tuple[str, int]:
        return self._product(node, " ")

    def _print_hadamard(self, node: Node) -> tuple[str, int]:
        return self._product(node, r" \circ ")

    def _print_power(self, node: Node) -> tuple[str, int]:
        base, exponent = node.args
        exp = self.doprint(exponent)
        if base.is_scalar:
            return f"{self.paren(base, POSTFIX)}^{{{exp}}}", POW
        return rf"{self.paren(base, POSTFIX)}^{{\circ {exp}}}", POW

    def _print_matpow(self, node: Node) -> tuple[str, int]:
        return f"{self.paren(node.args[0], POSTFIX)}^{{{self.doprint(node.args[1])}}}", POW

    def _print_transpose(self, node: Node) -> tuple[str, int]:
        inner = node.args[0]
        if inner.op == "inv":
            return rf"{self.paren(inner.args[0], POSTFIX)}^{{-\top}}", POSTFIX
        return rf"{self.paren(inner, POSTFIX)}^\top", POSTFIX

    def _print_d(self, node: Node) -> tuple[str, int]:
        inner, prec = self.print_with(node.args[0])
        return (rf"\mathrm{{d}}{inner}" if prec >= ATOM else rf"\mathrm{{d}}\left({inner}\right)",
                ATOM)

    def _print_fprime(self, node: Node) -> tuple[str, int]:
        name = lookup(str(node.value)).latex.removesuffix(APPLIED)   # \exp of \exp\left({0}\right)
        return rf"{name}'\left({self.doprint(node.args[0])}\right)", ATOM

    def _print_frob(self, node: Node) -> tuple[str, int]:
        left, right = node.args
        if const_value(left) == 1:
            return self.print_with(right)
        return f"{self.paren(left, POSTFIX)} : {self.paren(right, POSTFIX)}", FROB

    def _print_commutation(self, node: Node) -> tuple[str, int]:
        rows, cols = node.value  # type: ignore[misc]
        return f"K_{{{_name(str(rows))},{_name(str(cols))}}}", ATOM

    def _print_function(self, node: Node) -> tuple[str, int]:
        """An operator of the registry, by its LaTeX template."""
        op = lookup(node.op)
        return self.fill(op.latex, node.args), PRECEDENCE[op.latex_precedence]


def to_latex(node: Node) -> str:
    return LatexPrinter().doprint(node)


def _lhs(label: str) -> str:
    """A step's or result's label (`∂f/∂X`, `∂²f/∂x²`, `df`, `d(∂f/∂X)`, `∂vec(f)/∂vec(X)`)."""
    m = re.fullmatch(r"(∂²f/∂\w+²)(?:·(\w+)|\[(\w+)\])", label)     # a Hessian-vector product
    if m:
        along = rf" \, {_name(m[2])}" if m[2] else rf"\left[{_name(m[3])}\right]"
        return _lhs(m[1]) + along
    m = re.fullmatch(r"∂(²?)(f|vec\(f\)|vec\(∂f/∂(\w+)\))/∂(vec\()?(\w+)\)?²?", label)
    if m:
        order, top, inner, vec, x = m.groups()
        x_tex = _name(x.rstrip("²"))
        if top == "f":
            top_tex = "f"
        elif top == "vec(f)":
            top_tex = r"\operatorname{vec} f"
        else:
            top_tex = rf"\operatorname{{vec}} \frac{{\partial f}}{{\partial {_name(inner)}}}"
        if order:
            return rf"\frac{{\partial^2 f}}{{\partial {x_tex}^2}}"
        bottom = rf"\operatorname{{vec}} {x_tex}" if vec else x_tex
        return rf"\frac{{\partial {top_tex}}}{{\partial {bottom}}}"
    if label.startswith("d(∂f/∂") and label.endswith(")"):
        return rf"\mathrm{{d}}\frac{{\partial f}}{{\partial {_name(label[6:-1])}}}"
    if label.startswith("d"):
        return rf"\mathrm{{d}}{label[1:]}"
    return label


def _rule(name: str) -> str:
    return rf"\text{{{name.replace('_', chr(92) + '_')}}}"


def result_latex(d: Derivation) -> str:
    text = f"{_lhs(d.label)} = {to_latex(d.named_result)}"
    where = [f"{_name(n)} = {to_latex(body)}" for n, body in d.definitions()]
    if where:
        text += r", \quad \text{where } " + ", ".join(where)
    return text


def standalone_document(d: Derivation) -> str:
    """A complete LaTeX document: the problem, the derivation and the result."""
    problem = d.problem.text.strip().replace("\\", r"\textbackslash{}")
    for ch in "#$%&_{}":
        problem = problem.replace(ch, "\\" + ch)
    return "\n".join([
        r"\documentclass{article}",
        r"\usepackage{amsmath,amssymb}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\begin{document}",
        rf"\section*{{${_lhs(d.label)}$}}",
        rf"\noindent Input: \texttt{{{problem}}}, with respect to ${_name(d.wrt)}$.",
        "",
        r"\subsection*{Derivation}",
        r"{\small",
        derivation_latex(d),
        "}",
        r"\subsection*{Result}",
        r"\[",
        result_latex(d),
        r"\]",
        *([rf"\noindent Note: {n}." for n in d.notes]),
        r"\end{document}",
        "",
    ])


def derivation_latex(d: Derivation) -> str:
    lines = [r"\begin{align*}"]
    for s in d.steps:
        lhs = _lhs(s.lhs) if isinstance(s.lhs, str) else to_latex(s.lhs)
        lines.append(rf"  {lhs} &= {to_latex(s.rhs)} && {_rule(s.rule)} \\")
    where = [f"{_name(n)} &= {to_latex(body)} && \\text{{where}} \\\\"
             for n, body in d.definitions()]
    lines.extend("  " + w for w in where)
    lines[-1] = lines[-1].rstrip(" \\")
    lines.append(r"\end{align*}")
    return "\n".join(lines)
