"""Every derivation the tests make also converts to SymPy (`d.expr`, `d.bindings`) — issue 17,
item 9: results holding `commutation(m, n)` raised IndexError there while their numbers were right.

Left out: the 2,000 random expressions (converting them would add about a third to that module's
time; the tables of the other modules cover every operator) and the hostile inputs, whose tests
time derive() itself.

MATCALC_RESULT_SIZES=path appends one JSON line per derivation made (the problem, the variable,
`len(str(d.expr))` and the result's text) to that file: the corpus for measuring how compact results
are (issue 17, item 5; `python tests/result_sizes.py path` summarises it).
"""
import json
import os

# before any test module imports PyTorch, which loads OpenMP: the numba modules' own setting would
# come too late (d.numba() warns then; tests/test_numba.py checks that warning in subprocesses)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from matcalc import api
from matcalc.printing.readers.text import to_text

_original_init = api.Derivation.__init__
UNCONVERTED = {"test_random_expressions", "test_hostile_input"}


SIZES = os.environ.get("MATCALC_RESULT_SIZES")


def _init_and_convert(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    self.expr          # noqa: B018 — the conversion is the test
    self.bindings      # noqa: B018
    if SIZES:
        with open(SIZES, "a", encoding="utf-8") as out:
            out.write(json.dumps({"problem": self.problem.text, "wrt": self.wrt, "kind": self.kind,
                                  "size": len(str(self.expr)), "result": to_text(self.result)}) + "\n")


@pytest.fixture(autouse=True)
def _every_result_converts_to_sympy(request, monkeypatch):
    if request.node.module is not None and \
            request.node.module.__name__.split(".")[-1] in UNCONVERTED:
        return
    monkeypatch.setattr(api.Derivation, "__init__", _init_and_convert)


@pytest.fixture(autouse=True, scope="session")
def _numba_cache_in_a_temporary_directory(tmp_path_factory):
    """d.numba() writes its modules and compiled loops under MATCALC_CACHE_DIR: the tests' own
    directory, not the user's ~/.cache/matcalc."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MATCALC_CACHE_DIR", str(tmp_path_factory.mktemp("numba-cache")))
    yield
    mp.undo()

