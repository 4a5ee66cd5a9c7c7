"""Hostile input: the parser, the library and the CLI must answer every input with a result or a
`MatcalcError` (exit status 2 at the command line) — never another exception, a traceback, a hang
or a MemoryError.

Fuzzing: 1,500 derandomized inputs through `matcalc.derive(text, wrt="x")` (arbitrary unicode
text, sequences of the language's tokens, and mutations of valid expressions), 200 through the CLI,
then specific cases and expressions whose derivative could blow up.

Tests that found a defect are kept, marked `xfail(strict=True)` with the reason.
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from expression_strategy import problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matcalc
from matcalc.cli import main

CALL_LIMIT = 2.0       # seconds for one call on fuzzed or specific input
BLOWUP_LIMIT = 10.0    # seconds for an expression whose derivative could be huge

FUZZ = {"derandomize": True, "deadline": None, "database": None,
        "suppress_health_check": list(HealthCheck)}

# -- the language's tokens, and a few that are not -----------------------------------------------
NAMES = ["x", "y", "X", "A", "a", "w", "S", "alpha", "lambda", "where", "sum", "exp", "log", "tr",
         "det", "inv", "logdet", "diag", "eye", "vector", "matrix", "softmax", "logsumexp", "norm2",
         "norm1", "sigmoid", "softplus", "relu", "abs", "sign", "sqrt", "tanh", "d", "jac", "foo",
         "x1", "_x", "X_2", "commutation", "frob", "hadamard", "matmul", "fill", "ref", "var",
         "__import__", "lambda_", "np"]
NUMBERS = ["0", "1", "2", "0.5", "1e3", "3.", ".5", "1e-3", "0e0", "1.5e+2", "007", "1e309",
           "1e400", "1e-400", "99999999999999999999999999999999"]
OPERATORS = ["+", "-", "*", "/", "^", ".*", "./", ".^", "'", "(", ")", ",", ";", "=", ":", "#",
             "\n", ".", "!", "@", "[", "]", "{", "}", "\\", "&", "|", "<", ">", "%", "$", "~", "**"]
QUOTES = ['"', "`", "'", "''", '"x"', "'''", '"""']
UNICODE = ["é", "\u2212", "×", "λ", "\x00", "\ufeff", "∂", "·", "\u200b", "😀", "Ａ", "ß", "\t",
           "\r", "\u202e", "\ud7ff", "ℯ", "²"]
TOKENS = NAMES + NUMBERS + OPERATORS + QUOTES + UNICODE
LANGUAGE = NAMES + NUMBERS[:9] + ["+", "-", "*", "/", "^", ".*", "./", ".^", "'", "(", ")", ",",
                                  ";", "=", " where ", "#"]

token_soup = st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(["", "", " "])),
                      max_size=30).map(lambda ts: "".join(t + s for t, s in ts))


@st.composite
def mutated_expressions(draw):
    """A valid random expression with one to three tokens inserted, deleted or replaced."""
    text, _ = draw(problems(max_depth=3, extended=True))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        token = draw(st.sampled_from(LANGUAGE))
        if kind == "insert":
            text = text[:i] + token + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 4)):]
        else:
            text = text[:i] + token + text[i + 1:]
    # x is the variable of the fuzz calls: make it likely to appear
    return text.replace("y", "x") if draw(st.booleans()) else text


class Timeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """Raise Timeout in the main thread after `seconds` (a pure-Python loop is interrupted).
    Outside the main thread (no SIGALRM there) only the elapsed-time assertions apply."""
    if threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def handler(signum, frame):
        raise Timeout(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def derive_or_error(text: str, wrt: str = "x", limit: float = CALL_LIMIT, **kw):
    """derive(); returns the Derivation or the MatcalcError. Anything else fails the test, as does
    taking longer than `limit` seconds."""
    start = time.perf_counter()
    try:
        with time_limit(limit + 1.0):
            try:
                return matcalc.derive(text, wrt=wrt, **kw)
            except matcalc.MatcalcError as exc:
                assert str(exc).strip(), f"{text!r}: {type(exc).__name__} with an empty message"
                return exc
            except Timeout:
                raise
            except BaseException as exc:
                raise AssertionError(f"derive({text!r:.200}, wrt={wrt!r}) raised "
                                     f"{type(exc).__name__}: {exc}") from exc
    finally:
        elapsed = time.perf_counter() - start
        assert elapsed < limit, f"derive({text!r:.200}) took {elapsed:.1f} s"


# -- fuzzing the library ------------------------------------------------------------------------

def _fuzz(text: str, wrt: str = "x") -> None:
    derive_or_error(text, wrt)


@settings(max_examples=700, **FUZZ)
@given(st.text(max_size=60))
def test_arbitrary_text_is_a_result_or_a_matcalc_error(text):
    _fuzz(text)


@settings(max_examples=500, **FUZZ)
@given(token_soup)
def test_token_soup_is_a_result_or_a_matcalc_error(text):
    _fuzz(text)


@settings(max_examples=300, **FUZZ)
@given(mutated_expressions())
def test_mutated_expressions_are_a_result_or_a_matcalc_error(text):
    _fuzz(text)


# -- fuzzing the command line -------------------------------------------------------------------

def check_cli(args: list[str]) -> None:
    start = time.perf_counter()
    result = CliRunner().invoke(main, args)
    elapsed = time.perf_counter() - start
    assert elapsed < CALL_LIMIT, f"matcalc {args!r}: {elapsed:.1f} s"
    assert result.exit_code in (0, 2), (
        f"matcalc {args!r}: exit {result.exit_code}, {type(result.exception).__name__}: "
        f"{result.exception}")
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stderr.strip(), f"matcalc {args!r}: exit 2 without a message"
    else:
        assert result.stdout.strip()


@settings(max_examples=100, **FUZZ)
@given(st.text(max_size=40), st.sampled_from(["text", "json", "numpy", "latex"]))
def test_cli_on_arbitrary_text(text, fmt):
    check_cli(["derive", text, "--wrt", "x", "--format", fmt])


@settings(max_examples=100, **FUZZ)
@given(st.one_of(token_soup, mutated_expressions()), st.sampled_from(["derive", "hessian"]),
       st.sampled_from([[], ["--steps"], ["--format", "json"], ["--check"], ["--no-verify"],
                        ["--shape", "x=n"], ["--sym", "X"], ["--shape", "x=é"]]))
def test_cli_on_token_soup(text, command, options):
    check_cli([command, text, "--wrt", "x", *options])


# -- specific cases -----------------------------------------------------------------------------

SPECIFIC = {
    "100,000 characters": "x'*x + " * 14_285 + "x'*x",
    "1,000-deep parentheses": "(" * 1000 + "x'*x" + ")" * 1000,
    "1,000 nested calls": "exp(" * 1000 + "sum(x)" + ")" * 1000,
    "1,000 prefix minus signs": "-" * 1000 + "x'*x",
    "1,000 transposes": "x" + "'" * 1000 + "*x",
    "5,000-term sum": "sum(" + " + ".join(["x"] * 5000) + ")",
    "unknown function": "sum(sigmod(x))",
    "unknown function 2": "x'*x + sum(softmx(x))",
    "non-ASCII": "x'*x + é",
    "non-ASCII name": "x'*x + sum(xé)",
    "unicode minus": "x'*x \u2212 sum(x)",
    "empty": "",
    "whitespace": " \t\n ",
    "only a comment": "# nothing here",
    "where without bindings": "x'*x where",
    "where with a comma only": "x'*x where ,",
    "where with no body": "x'*x where w =",
    "binding cycle": "a = b; b = a; a'*a",
    "self-reference": "a = a + x; a'*a",
    "binding a function name": "exp = x; exp'*exp",
    "binding a function name after where": "sum'*x where sum = x",
    "binding eye": "eye = x; x'*x",
    "bound twice": "w = x; w = x; w'*w",
    "call with no arguments": "sum()",
    "call with two arguments": "sum(x, x)",
    "unbalanced": "sum(x))",
    "quotes": "\"x'*x\"",
    "python": "__import__('os').system('true')",
    "a lone operator": "*",
    "a dangling operator": "x'*x +",
    "assignment only": "w = x",
    "NUL": "x'*x\x00",
    "exponent without a base": "^2",
    "number followed by name": "2x'*x",
}


# Large but legal: a result or a MatcalcError, quickly.
LARGE_BUT_LEGAL = {
    "1,500 bindings": "; ".join(f"b{i} = x" for i in range(1500)) + "; x'*x",
    "1,500 chained bindings": "b0 = x; " + "; ".join(f"b{i} = b{i - 1}" for i in range(1, 1500))
                              + "; b1499'*b1499",
    "199-term sum": " + ".join(["x'*x"] * 199),
    # a flat chain is one level of nesting however long (issue 17, item 8): 5000*x.^4999
    "5,000-factor product": "sum(" + ".*".join(["x"] * 5000) + ")",
    "19,999 characters": "x'*x" + " " * 19_991 + "+x'*x",
    "64-deep parentheses": "(" * 63 + "x'*x" + ")" * 63,
}


@pytest.mark.parametrize("text", LARGE_BUT_LEGAL.values(), ids=LARGE_BUT_LEGAL.keys())
def test_large_legal_inputs_end_quickly(text):
    derive_or_error(text)


@pytest.mark.parametrize("text", SPECIFIC.values(), ids=SPECIFIC.keys())
def test_specific_hostile_inputs_are_matcalc_errors(text):
    outcome = derive_or_error(text)
    assert isinstance(outcome, matcalc.MatcalcError), \
        f"{text[:60]!r} was accepted: {outcome}"


def test_unknown_function_suggests_the_right_one():
    outcome = derive_or_error("sum(sigmod(x))")
    assert isinstance(outcome, matcalc.ParseError)
    assert "did you mean sigmoid" in str(outcome)


def test_non_ascii_points_at_the_character():
    outcome = derive_or_error("x'*x + é")
    assert isinstance(outcome, matcalc.ParseError)
    assert "'é'" in str(outcome) and "column 8" in str(outcome)


def test_cycle_names_the_cycle():
    outcome = derive_or_error("a = b; b = a; a'*a")
    assert isinstance(outcome, matcalc.ParseError) and "a → b → a" in str(outcome)


@pytest.mark.parametrize("text", ["1e400*x'*x", "99999999999999999999999999999999*x'*x",
                                  "x'*x + 1e400", "1e-400*x'*x", "1e308*x'*x*10"])
def test_huge_numeric_literals_are_a_result_or_a_matcalc_error(text):
    derive_or_error(text)


@pytest.mark.parametrize("text", ["1e400*x'*x", "x'*x + 1e400"])
def test_huge_literal_message_points_at_the_literal(text):
    outcome = derive_or_error(text)
    if isinstance(outcome, matcalc.MatcalcError):
        assert "bug in matcalc" not in str(outcome) and "1e400" in str(outcome)


@pytest.mark.parametrize("text, wrt", [("alpha^1e400", "alpha"), ("sum(x.^1e400)", "x"),
                                       ("(x'*x)^1e400", "x"), ("sum(exp(1e400*x))", "x"),
                                       ("sum(x)^0.1e400", "x"), ("1e40000*x'*x", "x")])
def test_huge_exponent_literals_are_user_errors(text, wrt):
    derive_or_error(text, wrt)


def test_tiny_literal_is_quick():
    derive_or_error("1e-40000*x'*x")


@pytest.mark.parametrize("text, wrt", [("sum(diag(x'*x))", "x"), ("tr(diag(alpha))", "alpha"),
                                       ("diag(alpha)^2", "alpha")])
def test_diag_of_a_scalar_is_not_an_internal_error(text, wrt):
    outcome = derive_or_error(text, wrt)
    if isinstance(outcome, matcalc.MatcalcError):
        assert "bug in matcalc" not in str(outcome), str(outcome)


def test_cli_huge_exponent_literal():
    check_cli(["derive", "alpha^1e400", "--wrt", "alpha"])


def test_shape_error_quotes_balanced_text():
    outcome = derive_or_error("(X + Y)*b'", wrt="X")
    assert isinstance(outcome, matcalc.ShapeError)
    quoted = str(outcome).split("shape mismatch in ", 1)[1].split(": operator", 1)[0]
    assert quoted.count("(") == quoted.count(")"), quoted


def test_cli_specific_cases():
    for text in ["", "# only a comment", "a = b; b = a; a'*a", "x'*x + é", "sum(sigmod(x))",
                 "(" * 1000 + "x" + ")" * 1000, "-x'*x", "--help-me", "x'*x where"]:
        check_cli(["derive", text, "--wrt", "x"])


# -- blow-ups -----------------------------------------------------------------------------------

def _nested(function: str, depth: int, inner: str = "x") -> str:
    return f"{function}(" * depth + inner + ")" * depth


BLOWUPS = {
    "exp 60 deep": ("sum(" + _nested("exp", 60) + ")", "x"),
    "x'*A^150*x as a product": ("x'*" + "A*" * 150 + "x", "x"),
    "x'*A^150*x as a power": ("x'*A^150*x", "x"),
    "product of 60 sums": ("*".join(["sum(exp(x))"] * 60), "x"),
    "x.*(x.*(...)) 60 deep": ("sum(" + "x.*(" * 60 + "x" + ")" * 60 + ")", "x"),
    "inv 30 deep": ("tr(" + _nested("inv", 30, "X") + ")", "X"),
    "x*(x'*(...)) 40 deep": ("sum(" + "x*(x'*" * 40 + "x" + ")" * 40 + ")", "x"),
    "sigmoid 30 deep": ("sum(" + _nested("sigmoid", 30) + ")", "x"),
    "softmax 4 deep": ("sum(" + _nested("softmax", 4) + ")", "x"),
}


@pytest.mark.parametrize("text, wrt", BLOWUPS.values(), ids=BLOWUPS.keys())
def test_blowups_end_quickly(text, wrt):
    derive_or_error(text, wrt, limit=BLOWUP_LIMIT)


@pytest.mark.parametrize("text", ["tr(X^200)", "tr(X^100)", "tr(" + "*".join(["X"] * 100) + ")",
                                  "tr(" + "*".join(["inv(X)"] * 100) + ")", "X^99999999999"],
                         ids=["tr(X^200)", "tr(X^100)", "tr(X*...*X) 100 factors",
                              "tr(inv(X)*...) 100 factors", "X^99999999999"])
def test_long_matrix_products_do_not_overflow_the_stack(text):
    derive_or_error(text, "X", limit=BLOWUP_LIMIT)


def test_nested_softmax_ends_within_the_limit():
    derive_or_error("sum(" + _nested("softmax", 8) + ")", "x", limit=BLOWUP_LIMIT)
