"""Adding an elementwise function is one line in rules/elementwise.rules."""
import shutil

import numpy as np

import matcalc
from matcalc import rules as rules_module
from numeric import check_gradient


def test_one_line_adds_an_elementwise_function(tmp_path, monkeypatch):
    folder = tmp_path / "rules"
    shutil.copytree(rules_module.rules_dir(), folder)
    with open(folder / "elementwise.rules", "a", encoding="utf-8") as f:
        f.write("asinh':    asinh'(x) = 1/sqrt(1 + x^2)\n")
    monkeypatch.setattr(rules_module, "rules_dir", lambda: folder)
    rules_module.load_rules.cache_clear()
    try:
        d = check_gradient("sum(asinh(A*x).^2)", "x", domain="normal",
                           expected=lambda A, x: A.T @ (2 * np.arcsinh(A @ x)
                                                        / np.sqrt(1 + (A @ x) ** 2)))
        assert "asinh(A*x)" in str(d) and "np.asinh(t1)" in d.source   # t1 = A @ x, computed once
        assert any(s.rule == "asinh'" for s in d.steps)
    finally:
        monkeypatch.undo()
        rules_module.load_rules.cache_clear()
        rules_module.ELEMENTWISE.pop("asinh", None)
        rules_module.load_rules()
    # without the line the name is unknown again
    try:
        matcalc.derive("sum(asinh(x))", wrt="x")
    except matcalc.ParseError as exc:
        assert "unknown function 'asinh'" in str(exc)
    else:
        raise AssertionError("asinh should be unknown without its rule")
