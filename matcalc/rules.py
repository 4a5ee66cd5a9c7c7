"""Load rules/*.rules: each line a named rewrite, written in the input language.

    name:  lhs = rhs  [if guard, guard]  [# why]

Lines are parsed by parse.py in pattern mode and turned into `Pattern` trees (match.py matches and
instantiates them). A malformed line raises RuleError with file:line and a caret under the column.
The rules ship inside the installed package (matcalc/rules); in a source checkout they are read from
the repository's top-level rules/ folder.
"""
from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import MatcalcError, RuleError
from .operators import REGISTRY, is_elementwise, operator_for_call
from .parse import Ast, parse_pattern

RULE_FILES = ("canonical", "elementwise", "differentials", "frobenius", "jacobian", "kronecker",
              "simplify")

# Pattern variables by the letter that names them: what each may match.
ANY = "any"
SCALAR = "scalar"
FUNCTION = "function"
VARIABLE_KINDS = {**{c: ANY for c in "ABCDEFGH"}, "s": SCALAR, "t": SCALAR, "p": SCALAR,
                  "q": SCALAR, "x": ANY, "f": FUNCTION, "g": FUNCTION}

GUARDS = {"const", "has_d", "no_d", "scalar", "not_scalar", "column", "row", "square", "conform",
          "symmetric", "same_shape", "fill", "integer", "positive", "negative", "almost_everywhere",
          "not_larger", "meets"}

_GUARD = re.compile(r"[\w']+(?:\([^)]*\))?")   # a guard: name, or name(args); commas between

# Input-language operator → tree operator; "lifted" is how elementwise.rules reads a scalar formula.
BINARY_OPS = {"+": "add", "-": "sub", "*": "matmul", ".*": "hadamard", "/": "div", "./": "div",
              "^": "matpow", ".^": "power", ":": "frob"}
LIFTED_OPS = {**BINARY_OPS, "*": "hadamard", "^": "power"}
# Calls a rule may write besides the operators of the language: fills, differentials, and the
# forms of the linear-form passes (jac, kvec, icols, irows, kron, vec in jacobian/kronecker.rules;
# kron and vec are not yet part of the input language: their shapes need products of unknown
# dimensions). `diag` stays `diag` in a pattern, matching either of its operators (match.py).
RULE_CALLS = {"vector": "fill", "matrix": "fill", "d": "d", "jac": "jac", "kvec": "kvec",
              "icols": "icols", "irows": "irows", "commutation": "commutation", "diag": "diag",
              "kron": "kron", "vec": "vec"}
# Elementwise function name → its derivative rule (elementwise.rules), filled in by load_rules.
ELEMENTWISE: dict[str, Rule] = {}


def call_operator(name: str, count: int = 1, dimension: int | None = None) -> str | None:
    """The tree operator a call in a rule means (by its argument count, and for a row along a
    dimension by the literal written last), or None if the name is not a function."""
    if name in RULE_CALLS:
        return RULE_CALLS[name]
    op = operator_for_call(name, count, dimension) or operator_for_call(name, 1)
    return op.name if op else None


@dataclass(frozen=True)
class Pattern:
    """A rule side: kind is var, num, op, call-f (f(A) for a function variable), fprime, or eye."""
    kind: str
    value: object = None
    args: tuple[Pattern, ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    lhs: Pattern
    rhs: Pattern
    guards: tuple[tuple[str, tuple[str, ...]], ...]
    why: str
    file: str
    line: int
    text: str = field(compare=False)

    @property
    def almost_everywhere(self) -> bool:
        return any(g == "almost_everywhere" for g, _ in self.guards)

    @property
    def not_larger(self) -> bool:
        return any(g == "not_larger" for g, _ in self.guards)


@dataclass
class RuleSet:
    files: dict[str, list[Rule]]
    sections: dict[str, list[tuple[str, list[Rule]]]]

    @property
    def canonical(self) -> list[Rule]:
        return self.files["canonical"]

    @property
    def differentials(self) -> list[Rule]:
        return self.files["differentials"]

    @property
    def elementwise(self) -> dict[str, Rule]:
        return {r.lhs.value: r for r in self.files["elementwise"]}  # type: ignore[misc]

    @property
    def frobenius(self) -> list[Rule]:
        return self.files["frobenius"]

    @property
    def jacobian(self) -> list[Rule]:
        return self.files["jacobian"]

    @property
    def kronecker(self) -> list[Rule]:
        return self.files["kronecker"]

    @property
    def simplify(self) -> list[Rule]:
        return self.files["simplify"]


def rules_dir() -> Path:
    """Where the rules live: inside the installed package, else the source checkout's rules/."""
    packaged = importlib.resources.files("matcalc") / "rules"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "rules"


@lru_cache(maxsize=1)
def load_rules() -> RuleSet:
    """Read and check every rules file (cached: the files are read once per process)."""
    folder = rules_dir()
    files: dict[str, list[Rule]] = {}
    sections: dict[str, list[tuple[str, list[Rule]]]] = {}
    names: dict[str, str] = {}
    for stem in RULE_FILES:
        path = folder / f"{stem}.rules"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MatcalcError(f"cannot read rules file {path}: {exc}") from None
        files[stem], sections[stem] = [], [("", [])]
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("##"):
                sections[stem].append((stripped.lstrip("#").strip(), []))
                continue
            if not stripped or stripped.startswith("#"):
                continue
            rule = _parse_rule_line(line, f"{path.name}", number, lifted=stem == "elementwise")
            if rule.name in names:
                raise RuleError(f"{path.name}:{number}: rule name {rule.name!r} is already used "
                                f"in {names[rule.name]}")
            names[rule.name] = f"{path.name}:{number}"
            files[stem].append(rule)
            sections[stem][-1][1].append(rule)
            if stem == "elementwise":
                if not is_elementwise(str(rule.lhs.value)):
                    raise RuleError(f"{path.name}:{number}: {rule.lhs.value!r} has no row in the "
                                    f"operator registry (matcalc/operators.py): add one with "
                                    f"elementwise(...)", line, 0)
                ELEMENTWISE[rule.lhs.value] = rule  # type: ignore[index]
        sections[stem] = [(title, rs) for title, rs in sections[stem] if rs]
    return RuleSet(files, sections)


def _parse_rule_line(line: str, file: str, number: int, lifted: bool) -> Rule:
    where = f"{file}:{number}"
    name, sep, rest = line.partition(":")
    name = name.strip()
    if not sep or not name or not all(c.isalnum() or c in "-'_" for c in name):
        raise RuleError(f"{where}: a rule line starts with its name and a colon, as in "
                        f"'product: d(A*B) = d(A)*B + A*d(B)'", line, 0)
    offset = len(name) + 1 + (len(rest) - len(rest.lstrip()))
    body = rest.strip()
    why = ""
    if " #" in body:
        body, _, why = body.partition(" #")
        why = why.strip()
    guards_text = ""
    if " if " in body:
        body, _, guards_text = body.partition(" if ")
    try:
        lhs_ast, rhs_ast = parse_pattern(body)
    except MatcalcError as exc:
        start = None if exc.start is None else exc.start + offset
        raise RuleError(f"{where}: {exc.message}", line, start, None) from None
    guards = []
    for g in _GUARD.findall(guards_text):
        head, _, arglist = g.partition("(")
        if head not in GUARDS:
            raise RuleError(f"{where}: unknown guard {head!r} (known: {', '.join(sorted(GUARDS))})",
                            line, line.find(g))
        guards.append((head, tuple(a.strip() for a in arglist.rstrip(")").split(",") if a.strip())))
    try:
        lhs = to_pattern(lhs_ast, lifted)
        rhs = to_pattern(rhs_ast, lifted)
    except RuleError as exc:
        raise RuleError(f"{where}: {exc.message}", line,
                        None if exc.start is None else exc.start + offset) from None
    return Rule(name, lhs, rhs, tuple(guards), why, file, number, line.strip())


def _call_pattern(node: Ast, lifted: bool) -> Pattern:
    """A call in a rule: a function variable, an operator (sum(A, 2): a row of its dimension), or
    an elementwise function."""
    name = str(node.value)
    args = tuple(to_pattern(c, lifted) for c in node.children)
    if VARIABLE_KINDS.get(name) == FUNCTION:
        return Pattern("call-f", name, args)
    last = node.children[-1] if node.children else None
    dimension = int(str(last.value)) if last is not None and last.kind == "number" and \
        str(last.value) in ("1", "2") else None
    op = call_operator(name, len(args), dimension)
    if op is not None and op in REGISTRY and REGISTRY[op].dimension is not None:
        return Pattern("op", op, args[:-1])     # sum(A, 2): the operand alone
    if op is not None and not is_elementwise(op):
        return Pattern("op", op, args)
    if is_elementwise(name) or lifted:
        return Pattern("op", name, args)
    raise RuleError(f"unknown function {name!r} in a rule", start=node.start)


def to_pattern(node: Ast, lifted: bool = False) -> Pattern:
    """Syntax tree of a rule side → Pattern."""
    ops = LIFTED_OPS if lifted else BINARY_OPS
    if node.kind == "number":
        return Pattern("num", node.value)
    if node.kind == "name":
        name = str(node.value)
        if name in VARIABLE_KINDS:
            return Pattern("var", name)
        if name == "eye":
            return Pattern("eye")
        raise RuleError(f"unknown name {name!r}: pattern variables are A-H, s, t, p, q, x, f, g",
                        start=node.start)
    if node.kind == "neg":
        return Pattern("op", "neg", (to_pattern(node.children[0], lifted),))
    if node.kind == "transpose":
        return Pattern("op", "transpose", (to_pattern(node.children[0], lifted),))
    if node.kind == "binop":
        op = ops[str(node.value)]
        left, right = (to_pattern(c, lifted) for c in node.children)
        if op == "div" and str(node.value) == "./":
            # A./B is A.*B.^-1 in expression trees, so a pattern must say so to match one
            return Pattern("op", "hadamard", (left, Pattern("op", "power",
                                                            (right, Pattern("num", "-1")))))
        return Pattern("op", op, (left, right))
    if node.kind == "fprime":
        return Pattern("fprime", node.value, (to_pattern(node.children[0], lifted),))
    if node.kind == "call":
        return _call_pattern(node, lifted)
    raise RuleError(f"cannot use {node.kind} in a rule", start=node.start)
