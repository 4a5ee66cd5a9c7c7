"""The input language (SPEC §1): the parser's trees, table-driven, and how bad input is reported.

Every operator and function of the language table is parsed into the expected tree and accepted by
`matcalc.derive` end to end (each derivative checked against central finite differences). Bad input
raises `matcalc.ParseError` whose message shows the offending line with a caret under the column;
pathological input (deep nesting, huge text) raises a `MatcalcError` quickly, never RecursionError.
"""
from __future__ import annotations

import time
from fractions import Fraction

import pytest
from messages import caret
from numeric import check_gradient

import matcalc
from matcalc.parse import Ast, parse

# -- helpers ------------------------------------------------------------------------------------------

def sx(node: Ast):
    """A syntax tree as nested tuples: ("op", left, right), ("neg", x), ("'", x), ("f()", args…)."""
    if node.kind == "number":
        return Fraction(str(node.value))
    if node.kind == "name":
        return node.value
    if node.kind == "neg":
        return ("neg", sx(node.children[0]))
    if node.kind == "transpose":
        return ("'", sx(node.children[0]))
    if node.kind == "binop":
        return (node.value, sx(node.children[0]), sx(node.children[1]))
    if node.kind == "call":
        return (f"{node.value}()",) + tuple(sx(c) for c in node.children)
    raise AssertionError(f"unexpected node kind {node.kind}")


def body(text: str):
    return sx(parse(text).body)




F = Fraction


# -- every operator of the language table -------------------------------------------------------------

OPERATORS = [
    # syntax                    tree
    ("A*B",                     ("*", "A", "B")),
    ("A.*B",                    (".*", "A", "B")),
    ("A./B",                    ("./", "A", "B")),
    ("A + B",                   ("+", "A", "B")),
    ("A - B",                   ("-", "A", "B")),
    ("-A",                      ("neg", "A")),
    ("+A",                      "A"),
    ("A/s",                     ("/", "A", "s")),
    ("A/2",                     ("/", "A", F(2))),
    ("A.^p",                    (".^", "A", "p")),
    ("A.^2",                    (".^", "A", F(2))),
    ("s^2",                     ("^", "s", F(2))),
    ("A^3",                     ("^", "A", F(3))),
    ("A^-1",                    ("^", "A", ("neg", F(1)))),
    ("A'",                      ("'", "A")),
    ("A''",                     ("'", ("'", "A"))),
    # precedence and associativity (MATLAB's)
    ("a + b*c",                 ("+", "a", ("*", "b", "c"))),
    ("(a + b)*c",               ("*", ("+", "a", "b"), "c")),
    ("a - b - c",               ("-", ("-", "a", "b"), "c")),
    ("a/b*c",                   ("*", ("/", "a", "b"), "c")),
    ("a.*b./c",                 ("./", (".*", "a", "b"), "c")),
    ("-a^2",                    ("neg", ("^", "a", F(2)))),
    ("a^-2",                    ("^", "a", ("neg", F(2)))),
    ("2^3^2",                   ("^", ("^", F(2), F(3)), F(2))),
    ("-x'",                     ("neg", ("'", "x"))),
    ("a'*b",                    ("*", ("'", "a"), "b")),
    ("(a + b)'",                ("'", ("+", "a", "b"))),
    ("x'*A*x",                  ("*", ("*", ("'", "x"), "A"), "x")),
    ("A^2*B",                   ("*", ("^", "A", F(2)), "B")),
    ("x.^2.*y",                 (".*", (".^", "x", F(2)), "y")),
    ("2./x",                    ("./", F(2), "x")),
    ("2.*x",                    (".*", F(2), "x")),
    ("2. * x",                  ("*", F(2), "x")),
    ("-y.*z",                   (".*", ("neg", "y"), "z")),
    ("--x",                     ("neg", ("neg", "x"))),
]


@pytest.mark.parametrize("text, tree", OPERATORS, ids=[t for t, _ in OPERATORS])
def test_operator_trees(text, tree):
    assert body(text) == tree


FUNCTIONS = ["exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "sqrt", "abs", "sign",
             "relu", "norm1", "vector", "matrix", "eye", "sum", "tr", "det", "logdet", "inv", "diag",
             "norm2", "logsumexp", "softmax"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_call_trees(name):
    assert body(f"{name}(x)") == (f"{name}()", "x")
    assert body(f"2*{name}(x' + y)") == ("*", F(2), (f"{name}()", ("+", ("'", "x"), "y")))


def test_eye_without_argument_is_a_name_and_nested_calls_parse():
    assert body("eye") == "eye"
    assert body("eye(3)") == ("eye()", F(3))
    assert body("sum(log(exp(-y.*(X*w)) + vector(1)))") == (
        "sum()", ("log()", ("+", ("exp()", (".*", ("neg", "y"), ("*", "X", "w"))),
                            ("vector()", F(1)))))


NUMBERS = [("2", F(2)), ("0.5", F(1, 2)), ("1e-3", F(1, 1000)), (".5", F(1, 2)), ("1.", F(1)),
           ("1E+3", F(1000)), ("2.5e2", F(250)), ("007", F(7)), ("1e0", F(1))]


@pytest.mark.parametrize("text, value", NUMBERS, ids=[t for t, _ in NUMBERS])
def test_numbers(text, value):
    node = parse(text).body
    assert node.kind == "number" and Fraction(str(node.value)) == value
    assert body(f"{text} * x") == ("*", value, "x")
    assert body(f"x.^{text}") == (".^", "x", value)


def test_source_positions_cover_the_operands():
    text = "a + sigmoid(X'*b)"
    node = parse(text).body
    assert (node.start, node.end) == (0, len(text))
    call = node.children[1]
    assert text[call.start:call.end] == "sigmoid(X'*b)"


# -- bindings and comments ------------------------------------------------------------------------------

def test_where_binding():
    p = parse("w'*w where w = sigmoid(X'*a)")
    assert sx(p.body) == ("*", ("'", "w"), "w")
    assert [(n, sx(b)) for n, b in p.bindings] == [("w", ("sigmoid()", ("*", ("'", "X"), "a")))]


def test_semicolon_binding():
    p = parse("w = sigmoid(X'*a); w'*w")
    assert sx(p.body) == ("*", ("'", "w"), "w")
    assert [(n, sx(b)) for n, b in p.bindings] == [("w", ("sigmoid()", ("*", ("'", "X"), "a")))]


def test_several_bindings_in_both_spellings():
    where = parse("u'*v where u = exp(x), v = log(y) + u")
    first = parse("u = exp(x); v = log(y) + u; u'*v;")
    for p in (where, first):
        assert sx(p.body) == ("*", ("'", "u"), "v")
        assert [(n, sx(b)) for n, b in p.bindings] == [("u", ("exp()", "x")),
                                                        ("v", ("+", ("log()", "y"), "u"))]


def test_bindings_may_be_mixed_and_used_before_definition():
    p = parse("u = X'*a; w'*w where w = tanh(u)")
    assert [n for n, _ in p.bindings] == ["u", "w"]
    d = matcalc.derive("u = X'*a; w'*w where w = tanh(u)", wrt="X")
    assert str(d) == "2*a*(w - w.^3)' where u = X'*a, w = tanh(u)"


def test_comments():
    text = """
    # the seed problem, bindings first
    w = sigmoid(X'*a);   # activations
    w'*w                 # squared norm  ; not parsed: x $ ( *
    """
    p = parse(text)
    assert sx(p.body) == ("*", ("'", "w"), "w") and [n for n, _ in p.bindings] == ["w"]
    assert body("x'*x # a comment") == ("*", ("'", "x"), "x")
    assert body("x'*x # a comment\n + sum(x)") == ("+", ("*", ("'", "x"), "x"), ("sum()", "x"))
    assert sx(parse("w'*w where # comment\n w = x").body) == ("*", ("'", "w"), "w")


SEED_SPELLINGS = [
    "w'*w where w = sigmoid(X'*a)",
    "w = sigmoid(X'*a); w'*w",
    "w = sigmoid(X'*a); w'*w;",
    "w = sigmoid(X'*a);\nw'*w   # comment",
    "  w'*w   where   w=sigmoid( X' * a )  ",
]


@pytest.mark.parametrize("text", SEED_SPELLINGS)
def test_binding_spellings_give_the_seed_result(text):
    d = matcalc.derive(text, wrt="X")
    assert str(d) == "2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)"


# -- every operator and function end to end (derivative checked numerically) --------------------------

END_TO_END = [
    ("sum(A*B)", "A"), ("sum(A.*B)", "B"), ("sum(A./B)", "B"), ("sum(A + B)", "A"),
    ("sum(A - B)", "B"), ("sum(-A)", "A"), ("sum(A/lambda)", "lambda"), ("sum(A/2)", "A"),
    ("sum(A.^3)", "A"), ("sum(A.^alpha)", "alpha"), ("alpha^3", "alpha"), ("sum(A^3)", "A"),
    ("sum(A^-2)", "A"), ("sum(A'*B)", "A"), ("x'*y", "x"),
    ("sum(exp(x))", "x"), ("sum(log(x))", "x"), ("sum(sin(x))", "x"), ("sum(cos(x))", "x"),
    ("sum(tan(x))", "x"), ("sum(tanh(x))", "x"), ("sum(sigmoid(x))", "x"),
    ("sum(softplus(x))", "x"), ("sum(sqrt(x))", "x"), ("sum(abs(x))", "x"), ("sum(sign(x).*x)", "x"),
    ("sum(relu(x))", "x"), ("norm1(x)", "x"), ("sum(vector(2).*x)", "x"),
    ("sum(log(exp(-y.*(X*w)) + vector(1)))", "w"), ("sum(matrix(3).*X)", "X"),
    ("x'*eye*x", "x"), ("tr(eye(3)*X)", "X"), ("tr(A*X)", "X"), ("det(X)", "X"),
    ("logdet(X)", "X"), ("sum(inv(X))", "X"), ("sum(diag(v)*X)", "v"), ("sum(diag(X).^2)", "X"),
    ("norm2(x)", "x"), ("norm2(X)", "X"), ("norm2(x)^2", "x"), ("logsumexp(x)", "x"),
    ("a'*softmax(x)", "x"), ("1e-3*x'*x + .5*sum(x) + 0.5", "x"),
    ("log(det(X)) + tr(A*inv(X)*B) - lambda*norm2(x)^2", "X"),
]


@pytest.mark.parametrize("expr, wrt", END_TO_END, ids=[f"{e} d/d{w}" for e, w in END_TO_END])
def test_every_operator_and_function_differentiates(expr, wrt):
    check_gradient(expr, wrt, seeds=(0,))


def test_nonsmooth_functions_say_so():
    for expr in ("sum(abs(x))", "norm1(x)", "sum(relu(x))"):
        d = matcalc.derive(expr, wrt="x")
        assert any("almost everywhere" in n for n in d.notes), (expr, d.notes)
    assert matcalc.derive("sum(exp(x))", wrt="x").notes == []


# -- bad input: ParseError with a caret under the right column ----------------------------------------

BAD = [
    # text,                     column, width, words in the message
    ("a + * b",                 4, 1, ["expected a number, a name or '('", "'*'"]),
    ("(a + b",                  6, 1, ["')'", "end of the input"]),
    ("sum(x'*x",                8, 1, ["')' to close the call of sum"]),
    ("a $ b",                   2, 1, ["unexpected character '$'"]),
    ("x where",                 7, 1, ["after 'where'"]),
    ("x'*x where",              10, 1, ["after 'where'"]),
    ("x'*x where w =",          14, 1, ["expected a number"]),
    ("x'*x where w = x,",       17, 1, ["after 'where'"]),
    ("x'*x where 3 = x",        11, 1, ["after 'where'"]),
    ("x'*x where w x",          13, 1, ["'='"]),
    ("a +",                     3, 1, ["end of the input"]),
    ("2 x",                     2, 1, ["expected an operator"]),
    (")",                       0, 1, ["')'"]),
    ("sum(x,)",                 6, 1, ["')'"]),
    ("x..*y",                   1, 1, ["unexpected character '.'"]),
    ("x'*x;;",                  5, 1, ["';'"]),
    ("w = x w'*w",              6, 1, ["';' after a binding"]),
    ("w = x; ",                 6, 1, ["end of the input"]),   # just after the last character
    ("where = x; where'*where", 0, 5, ["'where' cannot be bound"]),
    ('"x\'*x"',                 0, 1, ["without quotes"]),
    ("x ≠ y",                   2, 1, ["ASCII"]),
    ("x'*x : y",                5, 1, ["':'"]),
    ("x & y",                   2, 1, ["'&'"]),
]


@pytest.mark.parametrize("text, column, width, words", BAD, ids=[b[0] for b in BAD])
def test_parse_errors_point_at_the_column(text, column, width, words):
    with pytest.raises(matcalc.ParseError) as info:
        parse(text)
    line, col, w = caret(info.value)
    assert line == text
    assert (col, w) == (column, width), str(info.value)
    for word in words:
        assert word in str(info.value)
    assert info.value.start == column
    # derive reports the very same error
    with pytest.raises(matcalc.ParseError) as again:
        matcalc.derive(text, wrt="x")
    assert str(again.value) == str(info.value)


def test_parse_errors_are_matcalc_errors():
    assert issubclass(matcalc.ParseError, matcalc.MatcalcError)
    with pytest.raises(matcalc.MatcalcError):
        parse("a + * b")


def test_caret_on_the_right_line_of_multiline_input():
    text = "w = sigmoid(X'*a);\nw'*w + * 2"
    with pytest.raises(matcalc.ParseError) as info:
        parse(text)
    assert caret(info.value) == ("w'*w + * 2", 7, 1)


def test_caret_at_end_of_multiline_input_with_trailing_newline():
    text = "w = sigmoid(X'*a);\nw'*w +\n"
    with pytest.raises(matcalc.ParseError) as info:
        parse(text)
    line, column, _ = caret(info.value)
    assert line == "w'*w +" and column == 6


@pytest.mark.parametrize("text", ["", "   ", "# only a comment", "\n\n"])
def test_empty_input_is_a_parse_error(text):
    with pytest.raises(matcalc.ParseError, match="empty expression"):
        parse(text)
    with pytest.raises(matcalc.ParseError, match="empty expression"):
        matcalc.derive(text, wrt="x")


def test_empty_input_error_has_a_caret():
    with pytest.raises(matcalc.ParseError) as info:
        parse("")
    assert caret(info.value) == ("", 0, 1)


def test_unknown_function_suggests_the_closest():
    with pytest.raises(matcalc.ParseError) as info:
        matcalc.derive("sigmod(x)'*x", wrt="x")
    message = str(info.value)
    assert "did you mean sigmoid" in message and "'sigmod'" in message
    assert caret(info.value) == ("sigmod(x)'*x", 0, 6)
    with pytest.raises(matcalc.ParseError) as info:
        matcalc.derive("x'*tanhh(x)", wrt="x")
    assert "did you mean tanh" in str(info.value)
    assert caret(info.value) == ("x'*tanhh(x)", 3, 5)


def test_unknown_function_without_a_close_match_lists_the_known_ones():
    with pytest.raises(matcalc.ParseError) as info:
        matcalc.derive("x'*foo(x)", wrt="x")
    assert "'foo'" in str(info.value) and "sigmoid" in str(info.value)


SEMANTIC_PARSE_ERRORS = [
    ("tr(x, x)", "takes 1 argument"),
    ("sum(x, x)", "the dimension is written 1 (down the columns) or 2"),   # sum(A, 2)'s
    ("exp'*x", "exp is a function"),
    ("w'*w where w = v, v = w", "cycle"),
    ("w = x; w'*w where w = y", "bound twice"),
    ("exp = x; exp'*exp", "cannot bind 'exp'"),
]


@pytest.mark.parametrize("text, words", SEMANTIC_PARSE_ERRORS,
                         ids=[t for t, _ in SEMANTIC_PARSE_ERRORS])
def test_semantic_errors_are_parse_errors_with_a_caret(text, words):
    with pytest.raises(matcalc.ParseError) as info:
        matcalc.derive(text, wrt="x")
    assert words in str(info.value)
    line, column, _ = caret(info.value)
    assert line == text and 0 <= column < len(text)


# -- derive's other errors -----------------------------------------------------------------------------

def test_wrt_must_be_a_variable():
    with pytest.raises(matcalc.DifferentiationError, match="'y' does not appear"):
        matcalc.derive("x'*x", wrt="y")
    with pytest.raises(matcalc.DifferentiationError, match="'w' is a binding"):
        matcalc.derive("w'*w where w = sigmoid(X'*a)", wrt="w")


def test_non_string_input():
    with pytest.raises(matcalc.ParseError):
        parse(3)  # type: ignore[arg-type]
    with pytest.raises(matcalc.MatcalcError):
        matcalc.derive(None, wrt="x")  # type: ignore[arg-type]


def test_error_hierarchy():
    for cls in (matcalc.ParseError, matcalc.ShapeError, matcalc.DifferentiationError):
        assert issubclass(cls, matcalc.MatcalcError)


def test_sympy_input_is_accepted():
    import sympy
    X = sympy.MatrixSymbol("X", 3, 3)
    d = matcalc.derive(sympy.Trace(X), wrt=X)
    assert "eye" in str(d) or "I" in str(d)


# -- pathological input: a MatcalcError, quickly, never RecursionError ---------------------------------

def _raises_matcalc_error_quickly(text: str, seconds: float = 2.0) -> matcalc.MatcalcError:
    start = time.perf_counter()
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.derive(text, wrt="x")
    assert time.perf_counter() - start < seconds
    return info.value


def test_deeply_nested_parentheses():
    error = _raises_matcalc_error_quickly("(" * 1000 + "x" + ")" * 1000)
    assert isinstance(error, matcalc.ParseError) and "nested" in str(error)


def test_deeply_nested_calls_and_negations():
    _raises_matcalc_error_quickly("sum(" * 1000 + "x" + ")" * 1000)
    _raises_matcalc_error_quickly("-" * 1000 + "x'*x")


def test_very_long_input():
    error = _raises_matcalc_error_quickly("x + " * 25_000)     # 100000 characters
    assert "longer than the limit" in str(error)
    _raises_matcalc_error_quickly("x'*x + " + "y" * 100_000)


def test_a_flat_chain_is_not_nesting():
    """Issue 17, item 8: a sum or product of many terms is one level, however long; operators
    truly inside one another past the limit are still refused with a clear message."""
    two_thousand = " + ".join(f"a{i}'*x" for i in range(1800)) + " - " + " - ".join(
        f"b{i}" for i in range(200))
    depth = parse(two_thousand).body.depth
    assert depth == 3       # the sum, each term a'*x, its transpose a' (a name is depth 1)
    depth = parse(" + ".join(f"tr(A{i}*X*B{i})" for i in range(200))).body.depth
    assert depth == 4
    assert parse("*".join(f"A{i}" for i in range(1000))).body.depth == 2
    for deep in ("x" + "'" * 250, "x" + ".^2" * 250):
        with pytest.raises(matcalc.ParseError, match="more than 200 operators inside one"):
            parse(deep)


def test_moderate_nesting_still_works():
    assert str(matcalc.derive("(" * 30 + "x'*x" + ")" * 30, wrt="x")) == "2*x"


def _no_recursion_error(text: str, seconds: float = 5.0) -> None:
    start = time.perf_counter()
    try:
        matcalc.derive(text, wrt="x")
    except matcalc.MatcalcError:
        pass
    assert time.perf_counter() - start < seconds


def test_many_transposes():
    _no_recursion_error("sum(x" + "''" * 500 + ")")


def test_long_chain_of_powers():
    _no_recursion_error("sum(x" + ".^1" * 2000 + ")")


def test_long_flat_sum():
    _no_recursion_error("x'*x" + " + x'*x" * 2000)
