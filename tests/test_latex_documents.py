"""The standalone LaTeX documents compile with a real TeX engine (issue 17, item 1).

Every standalone document of the README's examples and 32 random problems — their names renamed
to carry underscores, their input a comment full of TeX's specials — are typeset by pdflatex, with
no error and no line running into the margin. The documents share one preamble, so their bodies go
into one document and pdflatex runs once (a few seconds); a failure is then narrowed down to the
problem that caused it.

pdflatex comes from Debian's texlive-latex-base (+ texlive-latex-extra); `.ci/run` installs them
when absent and sets MATCALC_REQUIRE_TEX=1, so that in CI these tests run instead of skipping.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from expression_strategy import SHAPES, problems
from hypothesis import HealthCheck, given, settings

import matcalc
from matcalc.parse import parse
from matcalc.printing.readers.latex import PREAMBLE

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
PDFLATEX = shutil.which("pdflatex")
if PDFLATEX is None and os.environ.get("MATCALC_REQUIRE_TEX"):
    raise RuntimeError("MATCALC_REQUIRE_TEX is set but pdflatex is not installed "
                       "(apt-get install texlive-latex-base texlive-latex-extra)")
pytestmark = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")

HEAD = "\n".join(PREAMBLE) + "\n"
TAIL = "\\end{document}\n"
MAX_OVERFULL_PT = 1.0     # TeX's own tolerance for an overfull line is 0.1 pt; we allow 1 pt


def readme_problems() -> list[tuple[str, str, str, dict]]:
    """(derive | hessian, expression, wrt, shapes) of every example in the README."""
    found = []
    for command, expr, rest in re.findall(r'matcalc (derive|hessian) "([^"]+)"((?: --\w+ \S+)*)',
                                           README):
        if expr == "EXPR":
            continue
        wrt = re.findall(r"--wrt (\w+)", rest)
        shapes = {n: tuple(d.split(",")) for n, d in re.findall(r"--shape (\w+)=(\S+)", rest)}
        found.append((command, expr, wrt if len(wrt) > 1 else wrt[0], shapes))
    for function, expr, wrt in re.findall(
            r'matcalc\.(derive|hessian)\("([^"]+)", wrt=("\w+"|\[[^\]]+\])', README):
        found.append((function, expr, eval(wrt), {}))  # a literal from our README
    language = README[README.index("## The language"):]
    start = language.index("```\n") + 4
    block = language[start:language.index("\n```", start)]
    found += [("derive", line.split("#")[0].strip(), "X", {}) for line in block.splitlines()]
    for example in PROSE_EXAMPLES:
        assert f"`{example[1]}`" in README, example
    found += PROSE_EXAMPLES
    unique = {(c, e, str(w)): (c, e, w, s) for c, e, w, s in found if _parses(e)}
    return list(unique.values())


# examples the README gives in its prose ("Symmetric matrices"), with the options it names there
PROSE_EXAMPLES = [("derive-sym", "logdet(S) + x'*inv(S)*x", "S", {}),
                  ("derive-sym", "tr(S*A)", "S", {}),
                  ("derive-vec", "A*X*B", "X", {})]


def _parses(text: str) -> bool:
    """False for the README's example of a parse error."""
    try:
        parse(text)
    except matcalc.ParseError:
        return False
    return True


RENAMES = {"x": "x_long_name", "S": "S_1", "X": "X_data", "alpha": "alpha_2"}


def random_problems(count: int) -> list[tuple[str, str, dict]]:
    """`count` random problems that derive, renamed to use underscores, with a comment of specials."""
    out: list[tuple[str, str, dict]] = []

    @settings(max_examples=4 * count, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(problems(max_depth=4))
    def collect(problem):
        if len(out) < count:
            text, wrt = problem
            for old, new in RENAMES.items():
                text = re.sub(rf"\b{old}\b", new, text)
            shapes = {RENAMES.get(n, n): s for n, s in SHAPES.items()}
            out.append((text + "  # 100% of {x_1}^2 & ~$\\#", RENAMES.get(wrt, wrt), shapes))

    collect()
    return out


def _documents() -> list[tuple[str, str]]:
    """(what, standalone document) for the README's examples and the random problems."""
    docs = []
    for command, expr, wrt, shapes in readme_problems():
        if command == "hessian":
            d = matcalc.hessian(expr, wrt=wrt, shapes=shapes)
        else:
            d = matcalc.derive(expr, wrt=wrt, shapes=shapes,
                               symmetric={wrt} if command == "derive-sym" else None)
        if command == "derive-vec":
            d = d.vec()
        assert np.isnan(d.check()) or d.check() < 1e-5       # checked numerically
        docs.append((f"{command} {expr} --wrt {wrt}", d.latex(standalone=True)))
    docs.append(("vec", matcalc.derive("X'*X", wrt="X").vec().latex(standalone=True)))
    for text, wrt, shapes in random_problems(32):
        try:
            d = matcalc.derive(text, wrt=wrt, shapes=shapes)
        except matcalc.DifferentiationError:
            continue
        assert np.isnan(d.error) or d.error < 1e-5     # derivatives checked numerically
        docs.append((f"{text} --wrt {wrt}", d.latex(standalone=True)))
    return docs


def _compile(source: str, workdir: Path, name: str) -> tuple[int, str]:
    (workdir / f"{name}.tex").write_text(source, encoding="utf-8")
    proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                          cwd=workdir, capture_output=True, timeout=300, check=False)
    log = (workdir / f"{name}.log").read_text(encoding="latin-1")
    return proc.returncode, log


def _overfull(log: str) -> list[float]:
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]


def test_readme_examples_cover_the_documented_commands():
    problems_ = readme_problems()
    expressions = {e for _, e, _, _ in problems_}
    assert "w'*w where w = sigmoid(X'*a)" in expressions
    assert "sum(softplus(-y.*(X*w)))" in expressions
    assert "log(det(X)) + tr(A*inv(X)*B) - lambda*norm2(x)^2" in expressions
    assert len(problems_) >= 10


def test_every_standalone_document_compiles_with_pdflatex(tmp_path):
    docs = _documents()
    assert sum(1 for what, _ in docs if "# 100%" in what) >= 30
    bodies = []
    for what, doc in docs:
        assert doc.startswith(HEAD) and doc.endswith(TAIL), what
        bodies.append(doc[len(HEAD):-len(TAIL)])
    returncode, log = _compile(HEAD + "\n\\clearpage\n".join(bodies) + TAIL, tmp_path, "all")
    if returncode != 0 or max(_overfull(log), default=0.0) > MAX_OVERFULL_PT:
        for i, (what, doc) in enumerate(docs):      # which problem: compile them one by one
            returncode, log = _compile(doc, tmp_path, f"doc{i}")
            errors = re.findall(r"^! .*(?:\n.*){0,3}", log, re.MULTILINE)
            assert returncode == 0, f"{what}: pdflatex failed:\n{''.join(errors)}\n{doc}"
            assert max(_overfull(log), default=0.0) <= MAX_OVERFULL_PT, \
                f"{what}: a line runs into the margin by {max(_overfull(log))} pt:\n{doc}"
        pytest.fail("the combined document failed, but each alone compiles")
    assert (tmp_path / "all.pdf").stat().st_size > 10_000


def test_the_issue_examples_compile(tmp_path):
    """`sum(x.^2)` and `norm2(X - U*V')^2` stopped pdflatex with "Missing $ inserted"."""
    doc = matcalc.derive("sum(x.^2)", wrt="x").latex(standalone=True)
    assert r"\texttt{sum(\allowbreak{}x.\char94{}2)" in doc
    assert "Shapes: $x \\in \\mathbb{R}^{\\operatorname{len}(x)}$ (by default)" in doc
    d = matcalc.derive("norm2(X_data - U*V')^2", wrt="U", shapes={"X_data": ("m", "n")})
    returncode, log = _compile(d.latex(standalone=True), tmp_path, "norm")
    assert returncode == 0, log[-2000:]


def test_a_long_product_with_its_partial_products_compiles(tmp_path):
    """The gradient of a 16-factor product names 30 partial products: its where clause and the
    product step's note break into lines within the margin."""
    d = matcalc.derive("tr(" + "*".join(f"A{i}*X" for i in range(16)) + ")", wrt="X")
    assert len(d.partial_names) == 30
    returncode, log = _compile(d.latex(standalone=True), tmp_path, "partial")
    assert returncode == 0, log[-2000:]
    assert max(_overfull(log), default=0.0) <= MAX_OVERFULL_PT, log[-2000:]
