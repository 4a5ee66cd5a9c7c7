"""The command line (SPEC §4), through click's CliRunner, and `python cli.py` once for real.

User errors print one paragraph (a caret under the column for parse errors) and exit 2 — never a
traceback.
"""
from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED = "w'*w where w = sigmoid(X'*a)"
SEED_RESULT = "∂f/∂X = 2*a*(w.^2 - w.^3)'"


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    return result


def assert_user_error(result) -> str:
    """Exit status 2, a message, no traceback, no stray exception; returns the whole output."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result.output


def generated_function(source: str):
    """The one public function a generated module defines."""
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)   # noqa: S102 (matcalc's own output)
    functions = [v for k, v in namespace.items()
                 if isinstance(v, types.FunctionType) and not k.startswith("_")]
    assert len(functions) == 1, list(namespace)
    return functions[0]


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


# -- (a) the seed with --steps --------------------------------------------------------------------------

def test_seed_steps():
    result = run("derive", SEED, "--wrt", "X", "--steps")
    assert result.exit_code == 0, result.output
    out = result.stdout
    step_lines = [line for line in out.splitlines() if re.match(r"\s*\d+\s", line)]
    numbers = [int(line.split()[0]) for line in step_lines]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 6
    for rule in ("product", "elementwise-chain", "frobenius-hadamard", "sigmoid'"):
        assert any(f"[{rule}" in line for line in step_lines), rule
    assert SEED_RESULT in out
    assert "where w = sigmoid(X'*a)" in out
    # the result comes after the steps
    assert out.index(SEED_RESULT) > out.index(step_lines[-1])


def test_seed_without_steps_is_just_the_result():
    result = run("derive", SEED, "--wrt", "X")
    assert result.exit_code == 0
    # the shapes line (issue 17, item 3): what the defaults made of the names
    assert result.stdout.splitlines() == [
        SEED_RESULT, "  where w = sigmoid(X'*a)",
        "shapes: a len(a)×1, X len(a)×cols(X) (by default); w cols(X)×1 (bindings)"]


# -- (b) (c) (l) user errors -----------------------------------------------------------------------------

def test_parse_error_exits_2_with_a_caret():
    result = run("derive", "a + * b", "--wrt", "a")
    out = assert_user_error(result)
    assert "parse error" in out
    assert "  a + * b\n      ^\n" in out
    assert result.stdout == ""                    # the message goes to stderr


def test_unknown_function_exits_2_with_suggestion():
    out = assert_user_error(run("derive", "sum(sigmod(x))", "--wrt", "x"))
    assert "did you mean sigmoid" in out and "^^^^^^" in out


def test_shape_error_exits_2_and_names_both_shapes():
    out = assert_user_error(run("derive", "X*a", "--wrt", "X", "--shape", "X=m,n",
                                "--shape", "a=m"))
    assert "shape error" in out
    assert "'*'" in out and "m×n" in out and "length m" in out
    assert "  X*a\n  ^^^" in out


def test_unknown_wrt_exits_2_with_a_clear_message():
    out = assert_user_error(run("derive", "x'*x", "--wrt", "X"))
    assert "'X' does not appear in the expression" in out and "x" in out
    out = assert_user_error(run("derive", SEED, "--wrt", "w"))
    assert "'w' is a binding" in out


def test_missing_wrt_exits_2():
    out = assert_user_error(run("derive", "x'*x"))
    assert "--wrt" in out


@pytest.mark.parametrize("args", [["x'*x", "--wrt", "x", "--sym", "x"],
                                  ["sum(X)", "--wrt", "X", "--shape", "X=2,3", "--sym", "X"]])
def test_bad_symmetric_declaration_is_a_user_error(args):
    assert_user_error(run("derive", *args))


# -- (d) json ---------------------------------------------------------------------------------------------

def test_json_format():
    result = run("derive", SEED, "--wrt", "X", "--format", "json", "--shape", "X=m,n",
                 "--shape", "a=m")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("schema", "result", "steps", "numpy", "where"):
        assert key in data, key
    assert data["schema"] == "matcalc.derivation/1"
    assert data["result"] == "2*a*(w.^2 - w.^3)'"
    assert data["where"] == {"w": "sigmoid(X'*a)"}
    assert data["wrt"] == "X" and data["variables"] == {"X": ["m", "n"], "a": ["m", "1"]}
    assert [s["rule"] for s in data["steps"]][:2] == ["product", "transpose"]
    assert all({"rule", "lhs", "rhs"} <= set(s) for s in data["steps"])
    assert "import numpy as np" in data["numpy"] and "np.outer(" in data["numpy"]
    assert generated_function(data["numpy"]).__name__ in data["numpy"]


def test_json_with_check_reports_the_error():
    data = json.loads(run("derive", "x'*A*x", "--wrt", "x", "--format", "json", "--check").stdout)
    assert data["check_error"] is not None and data["check_error"] < 1e-6


# -- (e) numpy ---------------------------------------------------------------------------------------------

def test_numpy_format_is_a_working_module():
    result = run("derive", SEED, "--wrt", "X", "--format", "numpy")
    assert result.exit_code == 0, result.output
    function = generated_function(result.stdout)
    rng = np.random.default_rng(3)
    X, a = rng.standard_normal((5, 4)), rng.standard_normal(5)
    w = _sigmoid(X.T @ a)
    got = function(X=X, a=a)
    assert got.shape == (5, 4)
    assert np.allclose(got, np.outer(a, 2 * (w * w - w * w * w)), rtol=1e-12, atol=1e-14)


# -- (f) latex ---------------------------------------------------------------------------------------------

def test_latex_format():
    result = run("derive", SEED, "--wrt", "X", "--format", "latex")
    assert result.exit_code == 0
    assert r"\circ" in result.stdout and r"\top" in result.stdout
    assert r"\begin{align*}" not in result.stdout


def test_latex_quotients_read_left_to_right_as_the_text_does():
    """x./y./z is (x./y)./z: LaTeX writes each divisor after its own ⊘, never x ⊘ y ∘ z, which
    reads as (x ⊘ y) ∘ z; the numbers are the text's."""
    d = matcalc.derive("sum(x./y./z.*w)", wrt="w")
    assert str(d) == "x./y./z"
    assert d.latex().endswith(r"= x \oslash y \oslash z")
    rng = np.random.default_rng(0)
    x, y, z, w = rng.uniform(1, 2, (4, 3))
    np.testing.assert_allclose(d.numpy()(w=w, x=x, y=y, z=z), x / y / z, rtol=1e-14)


def test_latex_with_steps_is_an_align_environment():
    result = run("derive", SEED, "--wrt", "X", "--format", "latex", "--steps")
    assert result.exit_code == 0
    out = result.stdout
    assert r"\begin{align*}" in out and r"\end{align*}" in out
    assert r"\circ" in out and r"\top" in out and "frobenius-hadamard" in out


# -- (g) --check -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [[SEED, "--wrt", "X"], ["x'*A*x + sum(exp(x))", "--wrt", "x"],
                                  ["logdet(X) + tr(A*inv(X)*B)", "--wrt", "X"]])
def test_check_prints_a_small_error(args):
    result = run("derive", *args, "--check")
    assert result.exit_code == 0, result.output
    match = re.search(r"check: .*error.*: ([0-9.eE+-]+)\s*$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    assert float(match.group(1)) < 1e-6


def test_no_verify_still_derives():
    result = run("derive", SEED, "--wrt", "X", "--no-verify")
    assert result.exit_code == 0 and SEED_RESULT in result.stdout


# -- (h) rules ---------------------------------------------------------------------------------------------

def test_rules_lists_names_and_files():
    result = run("rules")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for name in ("product:", "sigmoid':", "elementwise-chain:", "frobenius-hadamard:",
                 "transpose-product:", "logdet:"):
        assert re.search(rf"^\s+{re.escape(name)}", out, re.MULTILINE), name
    for stem in ("differentials.rules", "elementwise.rules", "frobenius.rules", "simplify.rules"):
        assert re.search(rf"^{re.escape(stem)}$", out, re.MULTILINE), stem


# -- (i) --shape -------------------------------------------------------------------------------------------

def test_shape_declarations():
    result = run("derive", SEED, "--wrt", "X", "--shape", "X=m,n", "--shape", "a=m")
    assert result.exit_code == 0, result.output
    assert SEED_RESULT in result.stdout
    data = json.loads(run("derive", "t*x'*A*x", "--wrt", "x", "--shape", "t=scalar",
                          "--shape", "A=3,3", "--format", "json").stdout)
    assert data["variables"] == {"t": ["1", "1"], "x": ["3", "1"], "A": ["3", "3"]}


@pytest.mark.parametrize("bad", ["X", "=m,n", "2X=m", "X m,n"])
def test_malformed_shape_exits_2(bad):
    out = assert_user_error(run("derive", SEED, "--wrt", "X", "--shape", bad))
    assert "--shape" in out and "NAME=DIMS" in out


@pytest.mark.parametrize("bad, words", [("X=m,n,k", "must be () for a scalar"),
                                        ("a=0", "positive integer"),
                                        ("a=m+1", "a positive integer or a name")])
def test_invalid_shape_dims_exit_2(bad, words):
    out = assert_user_error(run("derive", SEED, "--wrt", "X", "--shape", bad))
    assert words in out


# -- (j) help ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], ["derive"], ["hessian"], ["rules"]])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(command, flag):
    result = run(*command, flag)
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) >= 4


def test_help_text_content():
    out = run("--help").output
    assert "derive" in out and "hessian" in out and "rules" in out
    out = run("derive", "--help").output
    for option in ("--wrt", "--shape", "--sym", "--steps", "--format", "--check", "--no-verify"):
        assert option in out
    assert "text|latex|numpy|jax|torch|array-api|numba|json" in out


def test_hessian_command():
    result = run("hessian", "x'*A*x + sum(exp(x))", "--wrt", "x")
    assert result.exit_code == 0, result.output
    assert "exp(x)" in result.stdout
    source = run("hessian", "x'*A*x + sum(exp(x))", "--wrt", "x", "--format", "numpy").stdout
    rng = np.random.default_rng(4)
    A, x = rng.standard_normal((4, 4)), rng.standard_normal(4)
    H = generated_function(source)(x=x, A=A)
    assert np.allclose(H, np.diag(np.exp(x)) + A + A.T)
    out = assert_user_error(run("hessian", "x'*", "--wrt", "x"))
    assert "parse error" in out and "^" in out


DISTRIBUTION = "matcalc-symbolic"     # "matcalc" on PyPI is an unrelated project (issue 17)


def _installed() -> bool:
    try:
        importlib.metadata.version(DISTRIBUTION)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and "0.1.0" in result.output


def test_the_distribution_name_is_not_the_import_name():
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION and project["scripts"] == {"matcalc": "matcalc.cli:main"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # every install line names the clone (".") or the distribution, never PyPI's other "matcalc"
    readme = readme.replace("`pip install matcalc` installs somebody else's", "")  # the warning
    targets = re.findall(r'pip install (?:-q )?("[^"]+"|[^\s`]+)', readme)
    assert len(targets) >= 8
    for target in targets:
        assert target.strip('"').startswith((".", DISTRIBUTION)), target
    if _installed():
        assert importlib.metadata.version(DISTRIBUTION) == "0.1.0"


# -- (k) python cli.py -------------------------------------------------------------------------------------

def test_python_cli_py_matches_the_runner():
    args = ["derive", SEED, "--wrt", "X", "--steps"]
    proc = subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == run(*args).stdout
    assert SEED_RESULT in proc.stdout


def test_latex_standalone_is_a_complete_document():
    result = run("derive", "w'*w where w = sigmoid(X'*a)", "--wrt", "X", "--format", "latex",
                 "--standalone")
    assert result.exit_code == 0
    out = result.output
    assert out.startswith("\\documentclass{article}") and out.rstrip().endswith("\\end{document}")
    # steps in a list of inline formulas that may break (issue 17, item 1; was align*)
    assert "\\begin{enumerate}" in out and "\\circ" in out
    assert "\\texttt{w'*\\allowbreak{}w where w =\\allowbreak{} sigmoid(" in out
    assert out.count("\\begin{") == out.count("\\end{")
