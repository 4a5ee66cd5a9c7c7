"""Adding an operator is one registry row plus its rules — shown with operators defined only here.

`softsign(x) = x/(1 + |x|)` is a new elementwise function: one `elementwise(...)` row and one line
in elementwise.rules. `sumsq(A) = sum(A.^2)` is a new matrix operator: one `Operator` row and one
line in differentials.rules. Each derives, prints text, LaTeX and `d.expr`, and runs on every
installed backend; every number is checked against central finite differences.
"""
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from numeric import check_gradient, sympy_value
from test_backends import _run

import matcalc
from matcalc import operators
from matcalc import rules as rules_module
from matcalc.operators import Operator, elementwise, scalar_shape
from matcalc.printing.readers.text import to_text

SOFTSIGN = elementwise(
    "softsign", lambda x: x / (1.0 + np.abs(x)), r"\operatorname{softsign}",
    lambda S, t: t / (1 + S.sympy.Abs(t)),
    code={"numpy": "({0:atom} / (1.0 + np.abs({0})))", "jax": "jax.nn.soft_sign({0})",
          "torch": "torch.nn.functional.softsign({0})",
          "array-api": "({0:atom} / (1.0 + xp.abs({0})))"})
SOFTSIGN_RULE = "softsign': softsign'(x) = 1/(1 + abs(x))^2   # d/dx x/(1+|x|), x ≠ 0 and at 0\n"

SUMSQ = Operator(
    "sumsq", scalar_shape, lambda args, node, dims: np.array([[np.sum(args[0] ** 2)]]),
    text="sumsq", latex=r"\operatorname{sumsq}\left({0}\right)",
    sympy=lambda S, args, node: S.sum_entries(S.sm.HadamardPower(args[0], 2),
                                              node.args[0].shape),
    code={"numpy": "np.sum({0:atom} ** 2)", "jax": "jnp.sum({0:atom} ** 2)",
          "torch": "torch.sum({0:atom} ** 2)", "array-api": "xp.sum({0:atom} ** 2)"},
    spelling="sumsq")
SUMSQ_RULE = "sumsq: d(sumsq(A)) = 2*(A : d(A))   # sum(A.^2) = A : A\n"


@pytest.fixture
def extended(tmp_path):
    """The registry with both rows, and the rules folder with both lines, for one test."""
    folder = tmp_path / "rules"
    shutil.copytree(rules_module.rules_dir(), folder)
    for name, line in (("elementwise", SOFTSIGN_RULE), ("differentials", SUMSQ_RULE)):
        with open(folder / f"{name}.rules", "a", encoding="utf-8") as f:
            f.write(line)
    original = rules_module.rules_dir
    operators.register(SOFTSIGN)
    operators.register(SUMSQ)
    rules_module.rules_dir = lambda: folder
    rules_module.load_rules.cache_clear()
    yield
    rules_module.rules_dir = original
    operators.unregister("softsign")
    operators.unregister("sumsq")
    rules_module.ELEMENTWISE.pop("softsign", None)
    rules_module.load_rules.cache_clear()
    rules_module.load_rules()


def _shapes(expr: str) -> dict:
    """Sizes declared as numbers (so that SymPy can evaluate d.expr): matrices 3×3, vectors 3."""
    return {n: (3, 3) if n.isupper() else (3,) for n in "AXxab" if n in expr}


def _inputs(d, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(tuple(s[:1]) if s[1] == 1 else s)
            for n, s in d.problem.variables.items()}


PROBLEMS = [
    # (expression, variable, the name the result must keep, its LaTeX)
    ("sum(softsign(A*x).^2)", "x", "softsign(A*x)", r"\operatorname{softsign}"),
    ("sumsq(A*x - b)", "x", None, None),
    ("sumsq(X)*sumsq(x)", "x", "sumsq(X)", r"\operatorname{sumsq}"),
    ("sumsq(softsign(X'*a))", "a", "softsign(X'*a)", r"\operatorname{softsign}"),
]


@pytest.mark.parametrize("expr, wrt, kept, latex", PROBLEMS)
def test_a_new_operator_derives_and_prints(extended, expr, wrt, kept, latex):
    d = check_gradient(expr, wrt, shapes=_shapes(expr), domain="normal")
    assert d.check() < 1e-6
    if kept is not None:
        assert kept in to_text(d.result)    # the whole result: str(d) names a repeated X'*a t1
        assert latex in d.latex()
    inputs = _inputs(d, 5)
    reference = np.asarray(d.numpy()(**inputs), dtype=float)
    np.testing.assert_allclose(sympy_value(d, inputs).reshape(reference.shape), reference,
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch", "array-api"])
@pytest.mark.parametrize("expr, wrt", [(p[0], p[1]) for p in PROBLEMS])
def test_a_new_operator_runs_on_every_installed_backend(extended, expr, wrt, backend):
    d = check_gradient(expr, wrt, shapes=_shapes(expr), domain="normal")
    inputs = _inputs(d, 6)
    expected = np.asarray(d.numpy()(**inputs), dtype=float)
    np.testing.assert_allclose(np.asarray(_run(backend, d, inputs), dtype=float), expected,
                               rtol=1e-6, atol=1e-9)


def test_the_steps_name_the_new_rules(extended):
    d = matcalc.derive("sumsq(softsign(X'*a))", wrt="a")
    rules = [s.rule for s in d.steps]
    assert "sumsq" in rules and "softsign'" in rules


def test_a_row_without_its_rule_is_refused_when_differentiated():
    operators.register(SOFTSIGN)
    try:
        with pytest.raises(matcalc.DifferentiationError, match="softsign"):
            matcalc.derive("sum(softsign(x))", wrt="x")
    finally:
        operators.unregister("softsign")
    with pytest.raises(matcalc.ParseError, match="unknown function 'softsign'"):
        matcalc.derive("sum(softsign(x))", wrt="x")


def test_a_rule_line_without_its_row_is_a_rule_error(tmp_path, monkeypatch):
    folder = tmp_path / "rules"
    shutil.copytree(rules_module.rules_dir(), folder)
    with open(folder / "elementwise.rules", "a", encoding="utf-8") as f:
        f.write(SOFTSIGN_RULE)
    monkeypatch.setattr(rules_module, "rules_dir", lambda: folder)
    rules_module.load_rules.cache_clear()
    try:
        with pytest.raises(matcalc.RuleError, match="no row in the operator registry"):
            rules_module.load_rules()
    finally:
        monkeypatch.undo()
        rules_module.load_rules.cache_clear()
        rules_module.load_rules()


def test_the_readme_example_of_a_new_elementwise_function(tmp_path, monkeypatch):
    """README, 'An operator is one row': its row and its rule line, exactly as printed there."""
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start = text.index("**An operator is one row.**")
    python = re.search(r"```python\n# matcalc/operators.py\n(.*?)```", text[start:], re.DOTALL)
    rules = re.search(r"```\n# rules/elementwise.rules\n(.*?)```", text[start:], re.DOTALL)
    row = eval(python.group(1).strip().rstrip(","), {"elementwise": elementwise, "np": np})
    folder = tmp_path / "rules"
    shutil.copytree(rules_module.rules_dir(), folder)
    with open(folder / "elementwise.rules", "a", encoding="utf-8") as f:
        f.write(rules.group(1))
    operators.register(row)
    monkeypatch.setattr(rules_module, "rules_dir", lambda: folder)
    rules_module.load_rules.cache_clear()
    try:
        d = check_gradient("sum(log1p(A*x).^2)", "x",
                           expected=lambda A, x: A.T @ (2 * np.log1p(A @ x) / (1 + A @ x)))
        assert "log1p(A*x)" in str(d) and any(s.rule == "log1p'" for s in d.steps)
    finally:
        monkeypatch.undo()
        operators.unregister("log1p")
        rules_module.ELEMENTWISE.pop("log1p", None)
        rules_module.load_rules.cache_clear()
        rules_module.load_rules()
