"""Results display themselves in Jupyter: the repr methods, tested directly."""
import matcalc


def test_derivation_repr_latex_is_display_math():
    d = matcalc.derive("w'*w where w = sigmoid(X'*a)", wrt="X")
    latex = d._repr_latex_()
    assert latex.startswith("$$") and latex.endswith("$$")
    assert "\\frac{\\partial f}{\\partial X}" in latex and "\\circ" in latex and "\\sigma" in latex


def test_derivation_repr_markdown_has_the_result_and_notes():
    d = matcalc.derive("sum(relu(W*x))", wrt="W")
    md = d._repr_markdown_()
    assert "$$" in md and str(d) in md and "almost everywhere" in md


def test_steps_on_request():
    d = matcalc.derive("x'*A*x", wrt="x")
    view = d.with_steps()
    assert view._repr_latex_().startswith("\\begin{align*}")
    assert "product" in view._repr_latex_()
    assert str(view) == d.steps_text()


def test_labels_follow_the_kind_of_result():
    assert "\\partial^2 f}{\\partial x^2}" in matcalc.hessian("x'*A*x", wrt="x").latex()
    assert "\\mathrm{d}\\frac{\\partial f}{\\partial X}" in matcalc.hessian("logdet(X)", wrt="X").latex()
    assert "\\operatorname{vec} X" in matcalc.derive("A*X*B", wrt="X").vec().latex()


def test_derivation_set_reprs():
    ds = matcalc.derive("sum((W2*tanh(W1*x) - y).^2)", wrt=["W1", "W2"])
    assert ds._repr_latex_().count("\\partial") == 4
    assert "W1" in ds._repr_markdown_() and "W2" in ds._repr_markdown_()
