"""The README's examples are executed, so the README cannot rot."""
import doctest
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcalc.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
CONSOLE = re.findall(r"```console\n\$ (.*?)\n(.*?)```", TEXT, re.DOTALL)


def test_python_examples():
    parser = doctest.DocTestParser()
    test = parser.get_doctest(TEXT, {}, "README.md", str(README), 0)
    assert test.examples, "the README has no >>> examples"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0


@pytest.mark.parametrize("command, expected", CONSOLE, ids=[c[:40] for c, _ in CONSOLE])
def test_console_examples(command, expected):
    args = shlex.split(command)
    assert args[0] == "matcalc"
    result = CliRunner().invoke(main, args[1:])
    assert result.output == expected


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"Install with the test extra.*?```\n(.*?)\n```", TEXT, re.DOTALL).group(1)
    assert command in ci


def _block_after(marker: str) -> str:
    start = TEXT.index("```python\n", TEXT.index(marker)) + len("```python\n")
    return TEXT[start:TEXT.index("```", start)]


def test_generated_code_shown_is_what_matcalc_generates():
    import matcalc
    seed = matcalc.derive("w'*w where w = sigmoid(X'*a)", wrt="X").source
    assert _block_after("The generated code (`--format numpy`) is O(m·n)") == seed
    hessian = matcalc.hessian("sum(softplus(-y.*(X*w)))", wrt="w", shapes={"X": ("N", "d")}).source
    assert _block_after("Its code never forms an N×N matrix") == hessian[hessian.index("def hessian"):]


def _python_blocks(heading: str) -> list[str]:
    """The ```python blocks of the README's section `heading` (a `## ` title)."""
    start = TEXT.index(heading)
    section = TEXT[start:TEXT.index("\n## ", start + 1)]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


@pytest.mark.parametrize("code", _python_blocks("## Other array libraries"),
                         ids=lambda c: c.split("\n")[0][:30])
def test_backend_examples_run(code):
    """Each backend's example runs where its libraries are installed (skipped otherwise), and
    ends by comparing its result with the NumPy code's."""
    assert "np.testing.assert_allclose(" in code.strip().splitlines()[-1]
    for module in re.findall(r"^(?:import|from) ([\w.]+)", code, re.MULTILINE):
        pytest.importorskip(module)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 — the README's own example


@pytest.mark.parametrize("code", _python_blocks("## From formula to optimizer"),
                         ids=lambda c: c.split("\n")[0][:30])
def test_optimizer_examples_run(code):
    """The SciPy example runs where SciPy is installed (the test extra installs it)."""
    pytest.importorskip("scipy")
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 — the README's own example
