"""Expression → LaTeX: Hadamard product as ∘, Frobenius product as :, transpose as ^\\top."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...names import GREEK
from ...operators import APPLIED, lookup
from ...ops import Node, const_value
from .text import (
    _OPERAND,
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
    from ...derivation import Derivation, Label

def _name(name: str) -> str:
    r"""A name in math mode: Greek letters as such, `x_1` and `x_long_name` subscripted, other
    long names upright.

    >>> print(*(_name(n) for n in ("lambda", "x_1", "x_long_name", "W1", "my_var")))
    \lambda x_{1} x_{\mathrm{long\_name}} \mathrm{W1} \mathrm{my\_var}
    """
    if name == "omicron":       # the one Greek letter LaTeX writes as a Latin one
        return "o"
    if name in GREEK:
        return "\\" + name
    if len(name) == 1:
        return name
    base, _, sub = name.partition("_")
    if sub and (len(base) == 1 or base in GREEK):
        sub_tex = sub if sub.isdigit() or len(sub) == 1 or sub in GREEK else \
            rf"\mathrm{{{sub.replace('_', chr(92) + '_')}}}"
        return f"{_name(base)}_{{{_name(sub_tex) if sub in GREEK else sub_tex}}}"
    return rf"\mathrm{{{name.replace('_', chr(92) + '_')}}}"


# Text (notes, rule names) and verbatim (the input) in a document: TeX's specials escaped, the
# symbols matcalc prints (∂, ×, σ, ↦, …) set in math, anything else non-ASCII replaced by '?'.
_TEXT_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$",
                  "%": r"\%", "&": r"\&", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "<": "$<$",
                  ">": "$>$", "|": "$|$"}
_VERBATIM_SPECIALS = {"\\": r"\char92{}", "{": r"\char123{}", "}": r"\char125{}",
                      "^": r"\char94{}", "~": r"\char126{}", "_": r"\char95{}", "#": r"\#",
                      "$": r"\$", "%": r"\%", "&": r"\&"}
_UNICODE_MATH = {"∂": r"\partial", "×": r"\times", "σ": r"\sigma", "²": "^2", "↦": r"\mapsto",
                 "→": r"\to", "≠": r"\neq", "≤": r"\leq", "≥": r"\geq", "≈": r"\approx",
                 "·": r"\cdot", "∘": r"\circ", "⊗": r"\otimes", "−": "-", "…": r"\dots",
                 "ᵀ": r"^\top"}
_UNICODE_TEXT = {"—": "---", "–": "--", "§": r"\S{}", "\n": " ", "\t": " "}


def tex_text(text: str) -> str:
    r"""Plain text for a LaTeX document, every special escaped.

    >>> print(tex_text("f is 3×1: shapes={'n': ()} — x_1^2 ∂f/∂x"))
    f is 3$\times$1: shapes=\{'n': ()\} --- x\_1\^{}2 $\partial$f/$\partial$x
    """
    out = []
    for ch in text:
        if ch in _TEXT_SPECIALS:
            out.append(_TEXT_SPECIALS[ch])
        elif ch in _UNICODE_MATH:
            out.append(f"${_UNICODE_MATH[ch]}$")
        elif ch in _UNICODE_TEXT:
            out.append(_UNICODE_TEXT[ch])
        else:
            out.append(ch if ch.isascii() else "?")
    return "".join(out)


def tex_verbatim(text: str) -> str:
    r"""Input text for \texttt: specials escaped, and a line may break after an operator.

    >>> print(tex_verbatim("sum(x.^2) # c_1"))
    \texttt{sum(\allowbreak{}x.\char94{}2)\allowbreak{} \# c\char95{}1}
    """
    out = []
    for ch in text.strip():
        out.append(_VERBATIM_SPECIALS.get(ch) or _UNICODE_TEXT.get(ch)
                   or (ch if ch.isascii() else "?"))
        if ch in "(+-*/,;=)":
            out.append(r"\allowbreak{}")
    return rf"\texttt{{{''.join(out)}}}"


def _dim(d: object) -> str:
    """A dimension in math mode: 3, m, len(x), m*n."""
    factors = []
    for f in str(d).split("*"):
        m = re.fullmatch(r"(\w+)\((\w+)\)", f)
        factors.append(rf"\operatorname{{{m.group(1)}}}({_name(m.group(2))})" if m else
                       f if f.isdigit() else _name(f))
    return r" \, ".join(factors)


def shape_tex(shape: tuple) -> str:
    r"""R, R^n or R^{m×n}.

    >>> print(shape_tex((1, 1)), shape_tex(("m", 1)), shape_tex(("len(x)", "n")))
    \mathbb{R} \mathbb{R}^{m} \mathbb{R}^{\operatorname{len}(x) \times n}
    """
    r, c = shape
    if (r, c) == (1, 1):
        return r"\mathbb{R}"
    if c == 1:
        return rf"\mathbb{{R}}^{{{_dim(r)}}}"
    return rf"\mathbb{{R}}^{{{_dim(r)} \times {_dim(c)}}}"


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
        if den and node.op == "hadamard":      # x ⊘ y ⊘ z, as x./y./z: read left to right
            text = " ".join([text] + [rf"\oslash {self.paren(d, MUL + 1)}" for d in den])
        elif den:
            text = rf"\frac{{{text}}}{{{' '.join(self.paren(d, MUL + 1) for d in den)}}}"
        if sign and text.startswith("-"):      # -(-x), not --x
            text = self.wrap(text)
        return sign + text, NEG if sign else MUL

    def _print_matmul(self, node: Node) -> tuple[str, int]:
        return self._product(node, " ")

    def _print_hadamard(self, node: Node) -> tuple[str, int]:
        return self._product(node, r" \circ ")

    def fill(self, template: str, operands) -> str:
        """A registry template; an operand that takes a superscript there goes through base()."""
        def operand(m: re.Match) -> str:
            node = operands[int(m.group(1))]
            if template[m.end():].startswith("^"):
                return self.base(node)
            return self.paren(node, PRECEDENCE[m.group(2)] if m.group(2) else 0)
        return _OPERAND.sub(operand, template)

    def base(self, node: Node) -> str:
        """An operand that takes a superscript: in parentheses if it has one itself (T^⊤ to the
        power −1 is (T^⊤)^{-1}; T^⊤^{-1} is a TeX error)."""
        text, prec = self.print_with(node)
        if prec < POSTFIX or node.op in ("transpose", "inv", "power", "matpow"):
            return self.wrap(text)
        return text

    def _print_power(self, node: Node) -> tuple[str, int]:
        base, exponent = node.args
        exp = self.doprint(exponent)
        if base.is_scalar:
            return f"{self.base(base)}^{{{exp}}}", POW
        return rf"{self.base(base)}^{{\circ {exp}}}", POW

    def _print_matpow(self, node: Node) -> tuple[str, int]:
        return f"{self.base(node.args[0])}^{{{self.doprint(node.args[1])}}}", POW

    def _print_transpose(self, node: Node) -> tuple[str, int]:
        inner = node.args[0]
        if inner.op == "inv":
            return rf"{self.base(inner.args[0])}^{{-\top}}", POSTFIX
        return rf"{self.base(inner)}^\top", POSTFIX

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


class BreakableLatexPrinter(LatexPrinter):
    """For running text (the standalone document): plain parentheses instead of \\left…\\right,
    so that TeX may break a long formula after any +, −, ∘ or = inside them, and between the
    factors of a product of more than four (a 32-factor product ran 277 pt into the margin) —
    where it must: at a penalty of 900, above the 700 of a break after + or −."""

    def wrap(self, text: str) -> str:
        return f"({text})"

    def _print_matmul(self, node: Node) -> tuple[str, int]:
        return self._product(node, r" \penalty900 " if len(node.args) > 4 else " ")

    def fill(self, template: str, operands) -> str:
        for sized, plain in _UNSIZED.items():
            template = template.replace(sized, plain)
        return super().fill(template, operands)

    def _print_d(self, node: Node) -> tuple[str, int]:
        inner, prec = self.print_with(node.args[0])
        return (rf"\mathrm{{d}}{inner}" if prec >= ATOM else rf"\mathrm{{d}}({inner})", ATOM)

    def _print_fprime(self, node: Node) -> tuple[str, int]:
        text, prec = super()._print_fprime(node)
        for sized, plain in _UNSIZED.items():
            text = text.replace(sized, plain)
        return text, prec


_UNSIZED = {r"\left(": "(", r"\right)": ")", r"\left\lVert": r"\lVert",
            r"\right\rVert": r"\rVert"}


def _breakable(node: Node) -> str:
    return BreakableLatexPrinter().doprint(node)


def _function_tex(of: str) -> str:
    """The function of a label: f, or a scalar part read off on the way, `(…)`, as text."""
    return "f" if of == "f" else rf"\text{{{tex_text(of)}}}"


# A label's LaTeX by its kind ({f} the function, {x} the variable, both typeset)
LABEL_LATEX = {
    "differential": r"\mathrm{{d}}{f}", "linear-map": r"\mathrm{{d}}{f}",
    "gradient": r"\frac{{\partial {f}}}{{\partial {x}}}",
    "jacobian": r"\frac{{\partial {f}}}{{\partial {x}}}",
    "hessian": r"\frac{{\partial^2 {f}}}{{\partial {x}^2}}",
    "hessian-map": r"\mathrm{{d}}\frac{{\partial {f}}}{{\partial {x}}}",
    "kronecker": r"\frac{{\partial \operatorname{{vec}} {f}}}{{\partial \operatorname{{vec}} {x}}}",
    "hessian-kronecker": r"\frac{{\partial \operatorname{{vec}} \frac{{\partial {f}}}"
                         r"{{\partial {x}}}}}{{\partial \operatorname{{vec}} {x}}}",
    "hvp": r"\frac{{\partial^2 {f}}}{{\partial {x}^2}} \, {v}",
    "hvp-map": r"\frac{{\partial^2 {f}}}{{\partial {x}^2}}\left[{v}\right]",
}


def _lhs(label: Label) -> str:
    """A step's or result's label, from its parts (`∂f/∂X`, `∂²f/∂x²`, `df`, …)."""
    return LABEL_LATEX[label.kind].format(f=_function_tex(label.of), x=_name(label.wrt),
                                          v=_name(label.along) if label.along else "")


def _rule(name: str) -> str:
    return rf"\text{{{tex_text(name)}}}"


def result_latex(d: Derivation, printer=to_latex) -> str:
    text = f"{_lhs(d.label)} = {printer(d.named_result)}"
    where = [f"{_name(n)} = {printer(body)}" for n, body in d.definitions()]
    if where:
        text += r", \quad \text{where } " + ", ".join(where)
    return text


PREAMBLE = [
    r"\documentclass{article}",
    r"\usepackage{amsmath,amssymb}",
    r"\usepackage[margin=2cm]{geometry}",
    r"\emergencystretch=4em",       # a long formula breaks rather than overfilling its line
    # a formula has no stretchable space, so a line broken inside it is "bad" by TeX's measure;
    # at the default tolerance (200) TeX may prefer a line 26 pt into the margin
    r"\tolerance=1000",
    r"\begin{document}",
]


def shapes_latex(d: Derivation) -> str:
    """The shapes used, one sentence: `$X \\in \\mathbb{R}^{m \\times n}$ (declared); …`."""
    groups: dict[str, list[str]] = {"declared": [], "default": [], "binding": []}
    for name, (shape, source) in d.problem.shape_sources().items():
        groups[source].append(rf"${_name(name)} \in {shape_tex(shape)}$")
    label = {"declared": "declared", "default": "by default", "binding": "bindings"}
    return "; ".join(f"{', '.join(items)} ({label[k]})" for k, items in groups.items() if items)


def _document_body(d: Derivation) -> list[str]:
    lines = [
        rf"\section*{{${_lhs(d.label)}$}}",
        rf"\noindent Input: {tex_verbatim(d.problem.text)}, with respect to ${_name(d.wrt)}$.",
        "",
        rf"\noindent Shapes: {shapes_latex(d)}.",
        "",
    ]
    if d.steps:
        lines += [r"\subsection*{Derivation}", r"{\small", r"\begin{enumerate}"]
        for s in d.steps:
            lhs = _breakable(s.lhs) if isinstance(s.lhs, Node) else _lhs(s.lhs)
            lines.append(rf"  \item ${lhs} = {_breakable(s.rhs)}$ \quad [{_rule(s.rule)}]")
        lines += [r"\end{enumerate}", "}"]
    lines += [r"\subsection*{Result}", rf"\noindent $\displaystyle {result_latex(d, _breakable)}$",
              ""]
    lines += [rf"\noindent Note: {tex_text(n)}." + "\n" for n in d.notes]
    return lines


def standalone_document(derivations: list[Derivation]) -> str:
    """A complete LaTeX document: for each derivation the problem, its shapes, the steps and the
    result. Only the LaTeX base and amsmath are needed (pdflatex compiles it)."""
    body = [line for i, d in enumerate(derivations)
            for line in ([r"\bigskip"] if i else []) + _document_body(d)]
    return "\n".join([*PREAMBLE, *body, r"\end{document}", ""])


def derivation_latex(d: Derivation) -> str:
    lines = [r"\begin{align*}"]
    for s in d.steps:
        lhs = to_latex(s.lhs) if isinstance(s.lhs, Node) else _lhs(s.lhs)
        lines.append(rf"  {lhs} &= {to_latex(s.rhs)} && {_rule(s.rule)} \\")
    where = [f"{_name(n)} &= {to_latex(body)} && \\text{{where}} \\\\"
             for n, body in d.definitions()]
    lines.extend("  " + w for w in where)
    lines[-1] = lines[-1].rstrip(" \\")
    lines.append(r"\end{align*}")
    return "\n".join(lines)
