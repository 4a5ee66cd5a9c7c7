"""The problem matcalc was born from, in the three spellings of the language, both variables."""
import numpy as np
import pytest
from numeric import check_gradient

import matcalc

SPELLINGS = [
    "w'*w where w = sigmoid(X'*a)",
    "w = sigmoid(X'*a); w'*w",
    "sum(sigmoid(X'*a).^2)",
]
SHAPES = {"X": ("m", "n"), "a": ("m",)}


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def textbook_dX(X, a):
    w = _sigmoid(X.T @ a)
    return np.outer(a, 2 * (w**2 - w**3))


def textbook_da(X, a):
    w = _sigmoid(X.T @ a)
    return X @ (2 * (w**2 - w**3))


@pytest.mark.parametrize("expr", SPELLINGS)
@pytest.mark.parametrize("shapes", [SHAPES, None], ids=["declared", "inferred"])
def test_seed_gradient_wrt_X(expr, shapes):
    check_gradient(expr, "X", shapes, expected=textbook_dX, domain="normal")


@pytest.mark.parametrize("expr", SPELLINGS)
def test_seed_gradient_wrt_a(expr):
    check_gradient(expr, "a", SHAPES, expected=textbook_da, domain="normal")


def test_seed_result_is_in_the_users_names():
    d = matcalc.derive(SPELLINGS[0], wrt="X", shapes=SHAPES)
    assert str(d) == "2*a*(w.^2 - w.^3)' where w = sigmoid(X'*a)"
    assert set(d.bindings) == {"w"}


def test_seed_steps_name_the_rules_in_order():
    d = matcalc.derive(SPELLINGS[0], wrt="X", shapes=SHAPES)
    rules = [s.rule for s in d.steps]
    # differentials first, then the Frobenius pass, then the clean-ups
    assert rules[:6] == ["product", "transpose", "binding", "elementwise-chain", "product",
                         "transpose"]
    assert "frobenius-hadamard" in rules and "frobenius-matmul-l" in rules
    assert rules.index("gradient") < rules.index("sigmoid'") < rules.index("hadamard-distribute")
    assert rules[-1] == "transpose-product"


def test_seed_generated_code_is_an_outer_product():
    d = matcalc.derive(SPELLINGS[0], wrt="X", shapes=SHAPES)
    assert "np.outer(a, 2 * (w ** 2 - w * w * w))" in d.source
    assert "np.diag(" not in d.source and "np.ones" not in d.source and "np.tile" not in d.source
