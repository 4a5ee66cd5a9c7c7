"""Shapes (SPEC §1): naming defaults, declarations, unification, and ShapeError messages.

A ShapeError names the operator and both operands' shapes and carries a caret block under the
offending subexpression. Every derivative computed here is checked against finite differences.
"""
from __future__ import annotations

import numpy as np
import pytest
from messages import caret
from numeric import check_gradient

import matcalc


def is_symbolic(d) -> bool:
    return not isinstance(d, int)


# -- naming defaults -----------------------------------------------------------------------------------

def test_defaults_by_name():
    d = check_gradient("sum(X) + x'*x + lambda*alpha + beta*mu*sigma", "x")
    v = d.problem.variables
    assert is_symbolic(v["X"][0]) and is_symbolic(v["X"][1])        # a matrix of unknown size
    assert is_symbolic(v["x"][0]) and v["x"][1] == 1                 # a column vector
    for greek in ("lambda", "alpha", "beta", "mu", "sigma"):
        assert v[greek] == (1, 1), greek
    assert str(d) == "2*x"


def test_defaults_are_by_exact_name_and_initial():
    d = check_gradient("sum(Lambda) + lambda2'*x + sum(Alpha_1)*x'*x", "x")
    v = d.problem.variables
    assert is_symbolic(v["Lambda"][1]) and is_symbolic(v["Alpha_1"][1])   # upper-case: matrices
    assert v["lambda2"][1] == 1 and is_symbolic(v["lambda2"][0])          # not Greek: a vector


def test_default_matrix_is_never_collapsed_to_a_vector():
    # X'*X is square, so sum(X'*X) is fine, and X keeps two unknown dimensions
    d = check_gradient("sum(X'*X)", "X")
    rows, cols = d.problem.variables["X"]
    assert is_symbolic(rows) and is_symbolic(cols) and rows != cols


# -- declarations ---------------------------------------------------------------------------------------

def test_symbolic_declarations():
    d = check_gradient("w'*w where w = sigmoid(X'*a)", "X", {"X": ("m", "n"), "a": ("m",)})
    assert d.problem.variables == {"X": ("m", "n"), "a": ("m", 1)}
    assert d.shape == ("m", "n")


def test_numeric_declarations_propagate():
    d = check_gradient("a'*X*b", "X", {"X": (3, 4)}, expected=lambda a, X, b: np.outer(a, b))
    assert d.problem.variables == {"a": (3, 1), "X": (3, 4), "b": (4, 1)}
    assert d.shape == (3, 4)


def test_mixed_numeric_and_symbolic_dims():
    d = check_gradient("sum(X'*a)", "X", {"X": (3, "n")})
    assert d.problem.variables == {"X": (3, "n"), "a": (3, 1)}


@pytest.mark.parametrize("scalar", [(), "scalar", "", []])
def test_scalar_declarations(scalar):
    d = check_gradient("t*x'*x", "x", {"t": scalar})
    assert d.problem.variables["t"] == (1, 1)
    assert str(d) == "2*t*x"
    g = d.numpy()(t=0.25, x=np.array([1.0, 2.0, 3.0]))
    assert np.allclose(g, [0.5, 1.0, 1.5])


def test_string_declarations_as_from_the_command_line():
    d = matcalc.derive("a'*X*b", wrt="X", shapes={"X": "m, 4", "a": "m", "b": " 4 "})
    assert d.problem.variables == {"a": ("m", 1), "X": ("m", 4), "b": (4, 1)}


def test_declaration_overrides_the_default_by_name():
    d = check_gradient("sum(x)*lambda'*y", "y", {"lambda": ("n",), "x": ()})
    assert d.problem.variables["lambda"] == ("n", 1)
    assert d.problem.variables["x"] == (1, 1)


BAD_DECLARATIONS = [
    ({"x": ("m", "n", "k")}, "must be () for a scalar"),
    ({"x": (0,)}, "positive integer"),
    ({"x": (-3,)}, "positive integer"),
    ({"x": ("m+1",)}, "a positive integer or a name"),
    ({"x": (2.5,)}, "a positive integer or a name"),
    ({"x": (True,)}, "a positive integer or a name"),
    ({"x": None}, "must be () for a scalar"),
    ({"x": 3}, "must be () for a scalar"),
]


@pytest.mark.parametrize("shapes, words", BAD_DECLARATIONS, ids=[str(s) for s, _ in BAD_DECLARATIONS])
def test_bad_declarations(shapes, words):
    with pytest.raises(matcalc.ShapeError) as info:
        matcalc.derive("x'*x", wrt="x", shapes=shapes)
    assert words in str(info.value) and "'x'" in str(info.value)


def test_bad_declaration_key():
    with pytest.raises(matcalc.MatcalcError):
        matcalc.derive("x'*x", wrt="x", shapes={3: (3,)})


# -- unification ----------------------------------------------------------------------------------------

def test_transpose_product_unifies_rows_with_length():
    d = check_gradient("sum(X'*a)", "X")
    v = d.problem.variables
    assert v["X"][0] == v["a"][0]                  # X'*a forces rows(X) = len(a)
    assert v["X"][1] != v["a"][0]


def test_bilinear_form_without_declarations():
    d = check_gradient("a'*X*b", "X", expected=lambda a, X, b: np.outer(a, b))
    v = d.problem.variables
    assert v["a"][0] == v["X"][0] and v["X"][1] == v["b"][0]
    assert v["a"][1] == v["b"][1] == 1
    assert v["a"][0] != v["b"][0]                  # nothing forces len(a) = len(b)
    assert str(d) == "a*b'"
    assert d.shape == v["X"]


def test_unification_is_transitive_and_reaches_declared_names():
    d = check_gradient("x'*A*y + y'*B*z", "A", {"z": ("k",)})
    v = d.problem.variables
    assert v["B"] == (v["y"][0], "k") and v["A"] == (v["x"][0], v["y"][0])


def test_unification_through_bindings():
    d = check_gradient("w'*w where w = sigmoid(X'*a)", "X", {"a": ("m",)})
    assert d.problem.variables["X"][0] == "m"


def test_square_by_inference():
    d = check_gradient("logdet(X) + a'*X*a", "X")
    rows, cols = d.problem.variables["X"]
    assert rows == cols == d.problem.variables["a"][0]


def test_fill_and_eye_are_sized_by_context():
    d = check_gradient("x'*eye*x + sum(vector(2).*x)", "x", {"x": (4,)})
    assert d.problem.variables == {"x": (4, 1)}


@pytest.mark.parametrize("expr, span", [("tr(eye) + x'*x", (3, 3)),
                                        ("sum(vector(1)) + x'*x", (4, 9))])
def test_unsized_fill_is_a_shape_error(expr, span):
    with pytest.raises(matcalc.ShapeError) as info:
        matcalc.derive(expr, wrt="x")
    assert "cannot infer the size" in str(info.value)
    line, column, width = caret(info.value)
    assert line == expr and (column, width) == span


# -- ShapeError: operator, both shapes, caret ------------------------------------------------------------

MISMATCHES = [
    # expr,          wrt, shapes,                              words in the message,       caret
    ("X*a", "X", {"X": ("m", "n"), "a": ("m",)}, ["'*'", "m×n", "length m"], (0, 3)),
    # implicit expansion: a column over the columns of A needs as many entries as A has rows
    ("sum(A + x)", "x", {"A": ("m", "n"), "x": ("n",)}, ["'+'", "m×n", "length n"], (4, 5)),
    ("sum(A - x)", "x", {"A": ("m", "n"), "x": ("n",)}, ["'-'", "m×n", "length n"], (4, 5)),
    ("sum(A + x')", "x", {"A": ("m", "n"), "x": ("m",)}, ["'+'", "m×n", "1×m", "columns"],
     (4, 6)),
    # a row and a column are not expanded into an outer sum
    ("sum(x + y')", "x", None, ["'+'", "x (a vector of length", "y' (1×len(y))", "outer sum"],
     (4, 6)),
    ("tr(X)", "X", {"X": (2, 3)}, ["tr", "X (2×3)"], (0, 5)),
    ("tr(X)", "X", {"X": ("m", "n")}, ["tr", "X (m×n)"], (0, 5)),
    ("sum(inv(X))", "X", {"X": ("m", "n")}, ["inv", "X (m×n)"], (4, 6)),
    ("sum(inv(X))", "X", {"X": (2, 3)}, ["inv", "X (2×3)"], (4, 6)),
    ("det(X)", "X", {"X": ("m", "n")}, ["det", "m×n"], (0, 6)),
    ("logdet(X)", "X", {"X": (3, 2)}, ["logdet", "3×2"], (0, 9)),
    ("sum(diag(X))", "X", {"X": ("m", "n")}, ["diag", "m×n"], (4, 7)),
    ("x*y", "x", None, ["'*'", "x (a vector of length len(x))", "y (a vector of length len(y))"],
     (0, 3)),
    ("sum(x*y)", "x", {"x": (3,), "y": (3,)}, ["'*'", "length 3"], (4, 3)),
    ("x'*y", "x", {"x": (3,), "y": (4,)}, ["'*'", "1×3", "length 4"], (0, 4)),
    ("x'*y", "x", {"x": ("m",), "y": ("n",)}, ["'*'", "1×m", "length n"], (0, 4)),
    ("x'*A*x", "x", {"A": (3, 3), "x": (4,)}, ["'*'", "1×4", "3×3"], (0, 4)),
    ("a'*X*a", "X", {"X": ("m", "n")}, ["'*'", "1×n", "length m"], (0, 6)),
    ("sum(X*X)", "X", {"X": ("m", "n")}, ["'*'", "m×n"], (4, 3)),
    ("sum(X.*Y)", "X", {"X": ("m", "n"), "Y": ("n", "m")}, ["'.*'", "m×n", "n×m"], (4, 4)),
    ("sum(X./Y)", "X", {"X": ("m", "n"), "Y": ("n", "m")}, ["'./'", "m×n", "n×m"], (4, 4)),
    ("sum(X - Y)", "X", {"X": ("m", "n"), "Y": ("n", "m")}, ["'-'", "m×n", "n×m"], (4, 5)),
    ("sum(X + Y)", "X", {"X": ("m", "n"), "Y": ("n",)}, ["'+'", "m×n", "length n"], (4, 5)),
    ("sum(x + y)", "x", {"x": (3,), "y": (4,)}, ["'+'", "length 3", "length 4"], (4, 5)),
    ("sum(X'*Y)", "X", {"X": (3, 2), "Y": ("m", 2)}, ["'*'", "2×3", "m×2"], (4, 4)),
    ("sum(X*Y)", "X", {"X": ("m", "n"), "Y": ("m", "k")}, ["'*'", "m×n", "m×k"], (4, 3)),
    ("sum(X'*a)", "X", {"X": ("m", "n"), "a": (3,)}, ["'*'", "n×m", "length 3"], (4, 4)),
    ("sum(X/y)", "X", None, ["'/'", "a vector"], (4, 3)),
    ("sum(X.^y)", "X", None, ["exponent", "a vector"], (4, 4)),
    ("sum(X^2)", "X", {"X": ("m", "n")}, ["'^'", "m×n"], (4, 3)),
    ("sum(X^0.5)", "X", None, ["integer exponent"], (4, 5)),
    ("logsumexp(X)", "X", None, ["logsumexp", "column vector"], (0, 12)),
    ("w'*w where w = X*a", "X", {"X": ("m", "n"), "a": ("m",)}, ["'*'", "m×n", "length m"],
     (15, 3)),
]


@pytest.mark.parametrize("expr, wrt, shapes, words, span", MISMATCHES,
                         ids=[f"{m[0]} {m[2]}" for m in MISMATCHES])
def test_shape_errors_name_the_operator_and_both_shapes(expr, wrt, shapes, words, span):
    with pytest.raises(matcalc.ShapeError) as info:
        matcalc.derive(expr, wrt=wrt, shapes=shapes)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in:\n{message}"
    line, column, width = caret(info.value)
    assert line == expr
    assert (column, width) == span, message
    assert isinstance(info.value, matcalc.MatcalcError)


def test_shape_error_message_of_the_brief():
    with pytest.raises(matcalc.ShapeError) as info:
        matcalc.derive("X*a", wrt="X", shapes={"X": ("m", "n"), "a": ("m",)})
    message = str(info.value)
    assert "'*'" in message and "m×n" in message and "length m" in message
    assert message.splitlines()[-2:] == ["  X*a", "  ^^^"]


def test_rigid_symbolic_dims_never_unify():
    with pytest.raises(matcalc.ShapeError):
        matcalc.derive("x'*y", wrt="x", shapes={"x": ("m",), "y": ("n",)})
    with pytest.raises(matcalc.ShapeError):
        matcalc.derive("x'*y", wrt="x", shapes={"x": ("m",), "y": (3,)})


def test_declared_equal_dims_do_unify():
    d = check_gradient("x'*A*y", "A", {"x": ("m",), "y": ("n",), "A": ("m", "n")},
                       expected=lambda x, A, y: np.outer(x, y))
    assert d.shape == ("m", "n")


# -- symmetric declarations -----------------------------------------------------------------------------

def test_symmetric_name_must_appear():
    with pytest.raises(matcalc.ShapeError, match="'Y' is declared symmetric"):
        matcalc.derive("sum(X)", wrt="X", shapes={"X": ("m", "m")}, symmetric={"Y"})


def test_symmetric_non_square_is_a_shape_error():
    with pytest.raises(matcalc.ShapeError):
        matcalc.derive("sum(X)", wrt="X", shapes={"X": (2, 3)}, symmetric={"X"})


def test_symmetric_vector_is_a_shape_error():
    with pytest.raises(matcalc.ShapeError):
        matcalc.derive("x'*x", wrt="x", symmetric={"x"})


def test_symmetric_gradient_is_symmetrised():
    """SPEC §1: the gradient with respect to a symmetric S is sym(G) = (G + G')/2."""
    d = matcalc.derive("sum(S*x)", wrt="S", symmetric={"S"})
    rng = np.random.default_rng(0)
    S = rng.standard_normal((4, 4))
    S = S + S.T
    x = rng.standard_normal(4)
    G = d.numpy()(S=S, x=x)
    ones = np.ones(4)
    assert np.allclose(G, (np.outer(ones, x) + np.outer(x, ones)) / 2)
