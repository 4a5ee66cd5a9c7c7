r"""Text → syntax tree, with source positions, for user input and for the lines of rules/ alike.

The grammar (lowest precedence first; MATLAB's conventions):

    program   :=  { NAME "=" expr ";" } expr [ "where" NAME "=" expr { "," NAME "=" expr } ] [";"]
    expr      :=  frob { ("+" | "-") frob }
    frob      :=  term { ":" term }                      (rules only: the Frobenius product)
    term      :=  unary { ("*" | "/" | "\\" | ".*" | "./") unary }    (A\B: solve(A, B))
    unary     :=  ("-" | "+") unary | power
    power     :=  postfix { ("^" | ".^") exponent }       exponent := ("-" | "+") exponent | postfix
    postfix   :=  primary { "'" }
    primary   :=  NUMBER | NAME | NAME "(" [expr {"," expr}] ")" | NAME "'" "(" expr ")" | "(" expr ")"

`NAME'(` — the derivative of a function — is accepted only in rules (pattern mode). Nothing here
knows what any function means; shapes.py and rules.py give the names their meaning.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .errors import ParseError

MAX_LENGTH = 20_000   # characters of input accepted
MAX_DEPTH = 64        # nesting depth of parentheses and prefix operators
# Operators inside one another (the operand of a call, a power, a transpose, a parenthesised
# operand). A chain of one precedence level, a + b - c + ... or A*B*C*..., is one level however
# long: it is stored as binary nodes down its left spine, and the passes over syntax trees walk
# that spine by iteration, not recursion.
MAX_TREE_DEPTH = 200

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+) | (?P<comment>\#[^\n]*)
  | (?P<number>(?:\d+(?:\.(?![*/^'])\d*)?|\.\d+)(?:[eE][+-]?\d+)?)   # 3./x is 3 ./ x
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\.\*|\./|\.\^|[-+*/\\^'(),;=:])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str      # "number", "name", "op", "end"
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + max(1, len(self.text))


@dataclass(frozen=True)
class Ast:
    """A syntax-tree node. kind: number, name, call, fprime, binop, neg, transpose."""
    kind: str
    value: object
    children: tuple[Ast, ...] = ()
    start: int = 0
    end: int = 0
    depth: int = 1            # operators inside one another; a chain's links do not count


@dataclass
class Program:
    """A parsed input: the bindings in the order written, and the function itself."""
    bindings: list[tuple[str, Ast]] = field(default_factory=list)
    body: Ast | None = None
    text: str = ""


def position(text: str, offset: int) -> str:
    """'column 7', or 'line 2, column 7' in multi-line text (both counted from 1)."""
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line + 1}, column {column}" if "\n" in text.rstrip("\n") else f"column {column}"


def tokenize(text: str, pattern: bool = False) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or (m.lastgroup == "op" and m.group() == ":" and not pattern):
            ch = text[pos]
            hint = ""
            if ch == '"':
                hint = " (write the expression without quotes)"
            elif not ch.isascii():
                hint = " (only ASCII names and operators are part of the language)"
            raise ParseError(f"unexpected character {ch!r} at {position(text, pos)}{hint}", text,
                             pos)
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, m.group(), pos))  # type: ignore[arg-type]
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, pattern: bool):
        if len(text) > MAX_LENGTH:
            raise ParseError(f"input of {len(text)} characters is longer than the limit of "
                             f"{MAX_LENGTH}")
        self.text = text
        self.pattern = pattern
        self.tokens = tokenize(text, pattern)
        self.i = 0
        self.depth = 0

    # -- token helpers --------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("op", "name") and self.tok.text in texts

    def take(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def expect(self, text: str, what: str) -> Token:
        if not self.at(text):
            self.fail(f"expected {what}")
        return self.take()

    def fail(self, message: str, token: Token | None = None) -> None:
        t = token or self.tok
        found = "the end of the input" if t.kind == "end" else repr(t.text)
        start = len(self.text.rstrip()) if t.kind == "end" else t.start
        raise ParseError(f"{message}, found {found} at {position(self.text, start)}", self.text,
                         start, start + max(1, len(t.text)))

    def node(self, kind: str, value: object, children: tuple[Ast, ...], start: int,
             end: int, chain: bool = False) -> Ast:
        """A syntax node. A `chain` link (the next operator of a + b + c or A*B*C) is as deep as
        its left operand, the chain so far, or one deeper than its right operand."""
        if chain:
            depth = max(children[0].depth, 1 + children[1].depth)
        else:
            depth = 1 + max((c.depth for c in children), default=0)
        if depth > MAX_TREE_DEPTH:
            raise ParseError(f"expression too deeply nested: more than {MAX_TREE_DEPTH} operators "
                             f"inside one another (bind parts to names)", self.text, start, end)
        return Ast(kind, value, children, start, end, depth)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than the limit of {MAX_DEPTH}", self.text,
                             self.tok.start)

    # -- grammar ----------------------------------------------------------------------------------
    def program(self) -> Program:
        prog = Program(text=self.text)
        if self.tok.kind == "end":
            raise ParseError("empty expression: write a function such as w'*w where w = "
                             "sigmoid(X'*a)", self.text, 0)
        while self.tok.kind == "name" and self.peek().text == "=" and self.peek().kind == "op":
            name = self.take()
            self.take()
            prog.bindings.append((self._binding_name(name), self.expr()))
            self.expect(";", "';' after a binding")
        prog.body = self.expr()
        if self.at("where"):
            self.take()
            while True:
                if self.tok.kind != "name":
                    self.fail("expected a name to bind after 'where'")
                name = self.take()
                self.expect("=", "'=' after the bound name")
                prog.bindings.append((self._binding_name(name), self.expr()))
                if not self.at(","):
                    break
                self.take()
        if self.at(";"):
            self.take()
        if self.tok.kind != "end":
            self.fail("expected an operator or the end of the expression")
        return prog

    def _binding_name(self, token: Token) -> str:
        if token.text == "where":
            self.fail("'where' cannot be bound", token)
        return token.text

    def expr(self) -> Ast:
        self._enter()
        left = self.frob()
        while self.at("+", "-"):
            op = self.take()
            right = self.frob()
            left = self.node("binop", op.text, (left, right), left.start, right.end, chain=True)
        self.depth -= 1
        return left

    def frob(self) -> Ast:
        left = self.term()
        while self.pattern and self.at(":"):
            self.take()
            right = self.term()
            left = self.node("binop", ":", (left, right), left.start, right.end)
        return left

    def term(self) -> Ast:
        left = self.unary()
        while self.at("*", "/", "\\", ".*", "./"):
            op = self.take()
            right = self.unary()
            left = self.node("binop", op.text, (left, right), left.start, right.end, chain=True)
        return left

    def unary(self) -> Ast:
        if self.at("-", "+"):
            op = self.take()
            self._enter()
            operand = self.unary()
            self.depth -= 1
            if op.text == "+":
                return operand
            return self.node("neg", None, (operand,), op.start, operand.end)
        return self.power()

    def power(self) -> Ast:
        base = self.postfix()
        while self.at("^", ".^"):
            op = self.take()
            exponent = self.exponent()
            base = self.node("binop", op.text, (base, exponent), base.start, exponent.end)
        return base

    def exponent(self) -> Ast:
        if self.at("-", "+"):
            op = self.take()
            self._enter()
            operand = self.exponent()
            self.depth -= 1
            return operand if op.text == "+" else self.node("neg", None, (operand,), op.start,
                                                      operand.end)
        return self.postfix()

    def postfix(self) -> Ast:
        node = self.primary()
        while self.at("'"):
            t = self.take()
            node = self.node("transpose", None, (node,), node.start, t.end)
        return node

    def primary(self) -> Ast:
        t = self.tok
        if t.kind == "number":
            self.take()
            return Ast("number", t.text, (), t.start, t.end)
        if t.kind == "name":
            if t.text == "where":
                self.fail("expected an expression before 'where'")
            self.take()
            if self.pattern and self.at("'") and self.peek().text == "(":
                self.take()
                self.take()
                arg = self.expr()
                close = self.expect(")", "')'")
                return self.node("fprime", t.text, (arg,), t.start, close.end)
            if self.at("("):
                self.take()
                args: list[Ast] = []
                if not self.at(")"):
                    args.append(self.expr())
                    while self.at(","):
                        self.take()
                        args.append(self.expr())
                close = self.expect(")", f"')' to close the call of {t.text}")
                return self.node("call", t.text, tuple(args), t.start, close.end)
            return Ast("name", t.text, (), t.start, t.end)
        if self.at("("):
            open_ = self.take()
            inner = self.expr()
            close = self.expect(")", "')'")
            return replace(inner, start=open_.start, end=close.end)   # the span shows the parens
        self.fail("expected a number, a name or '('")
        raise AssertionError("unreachable")


def left_spine(node: Ast) -> list[Ast]:
    """The binary operators down the left side of `node`, `node` first: the links of a chain
    a + b - c + ... (or of A*B*C*...), which passes over the tree walk by iteration."""
    spine = []
    while node.kind == "binop":
        spine.append(node)
        node = node.children[0]
    return spine


def walk(node: Ast) -> list[Ast]:
    """Every node of the tree (parents before children), without recursion."""
    found, pending = [], [node]
    while pending:
        n = pending.pop()
        found.append(n)
        pending.extend(reversed(n.children))
    return found


def parse(text: str) -> Program:
    """Parse user input.

    >>> p = parse("w'*w where w = sigmoid(X'*a)")
    >>> [name for name, _ in p.bindings], p.body.kind
    (['w'], 'binop')
    """
    if not isinstance(text, str):
        raise ParseError(f"expected the expression as a string, got {type(text).__name__}")
    return _Parser(text, pattern=False).program()


def parse_pattern(text: str) -> tuple[Ast, Ast]:
    """Parse `lhs = rhs` of a rule line (pattern mode: `:` and `f'(x)` allowed)."""
    p = _Parser(text, pattern=True)
    lhs = p.expr()
    p.expect("=", "'=' between the two sides of the rule")
    rhs = p.expr()
    if p.tok.kind != "end":
        p.fail("expected the end of the rule")
    return lhs, rhs
