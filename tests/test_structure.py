"""The package's structure: no import cycles, and every module importable on its own.

The module-level imports of matcalc/ form a graph; a cycle in it means two modules that can only be
loaded in one order. Imports inside functions are allowed only for what is slow or optional to load
(SymPy for `d.expr`, JAX, the API from the command line), never to dodge a cycle.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import matcalc

PACKAGE = Path(matcalc.__file__).parent
# function-level imports that exist for load time or optional libraries, not for a cycle
LAZY = {"sympy", "jax", "matcalc.printing.readers.sympy", "matcalc.sympy_input", "matcalc.api",
        "matcalc.rules", "matcalc.check", "matcalc.hvp",
        "matcalc.web.server",   # `matcalc serve`: the optional web extra (Starlette, uvicorn)
        "scipy.linalg",         # expm, sqrtm, logm in kernels.py: the optional scipy extra
        "numba"}                # d.numba(): the optional numba extra


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = module.split(".")
    base = base if is_package else base[:-1]
    if node.level:
        base = base[:len(base) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    # `from . import algebra` imports a module; `from .ops import Node` the module ops
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix
            for a in node.names]


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(module: str, toplevel: bool) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    type_checking = {n for block in ast.walk(tree) if isinstance(block, ast.If)
                     and ast.unparse(block.test) == "TYPE_CHECKING" for n in ast.walk(block)}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node in type_checking:
            continue
        at_top = node in tree.body
        if at_top == toplevel:
            found |= set(_resolve(module, node, path.name == "__init__.py"))
    return found


def test_no_import_cycles():
    graph = {m: {i for i in _imports(m, toplevel=True) if i in MODULES and i != m}
             for m in MODULES}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == 2:
            return
        assert state.get(m) != 1, "import cycle: " + " → ".join(path[path.index(m):] + [m])
        state[m] = 1
        for n in sorted(graph[m]):
            visit(n, path + [m])
        state[m] = 2

    for m in sorted(MODULES):
        visit(m, [])


def test_function_level_imports_are_only_for_slow_or_optional_modules():
    for m in MODULES:
        inner = {i for i in _imports(m, toplevel=False) if not i.startswith("__future__")}
        assert inner <= LAZY, f"{m} imports {sorted(inner - LAZY)} inside a function"


IMPORT_EACH_ALONE = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "matcalc" or m.startswith("matcalc.")]:
        del sys.modules[loaded]          # nothing of matcalc loaded: this module comes first
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=-3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    """Each module imported first, before any other module of matcalc (third-party libraries
    stay loaded between them: only matcalc's own import order is under test). Two interpreters
    take half the modules each, at once: a machine of the tests has two cores."""
    names = sorted(MODULES)
    runs = [subprocess.Popen([sys.executable, "-c", IMPORT_EACH_ALONE, *names[i::2]],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(2)]
    for run in runs:
        out, err = run.communicate()
        assert run.returncode == 0, out + err


def _tool(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=PACKAGE.parent,
                          capture_output=True, text=True, check=False)


def test_no_dead_code():
    """vulture at 60% confidence with the repository's configuration (pyproject.toml)."""
    result = _tool("vulture")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_clean_on_the_whole_tree():
    result = _tool("ruff", "check", "matcalc", "tests", "bench", "cli.py")
    assert result.returncode == 0, result.stdout + result.stderr
