"""The fused backend (`d.numba()`, `--format numba`): NumPy code whose elementwise regions are
parallel loops compiled by numba (printing/codegen/fused.py), BLAS through NumPy for the products.

Same signature and `out=` contract as the NumPy code; float32 and float64. Large intermediate
arrays live in per-thread buffers the module keeps between calls (fused.py's scratch call sites,
numba_helpers._scratch); no result is one of them. The kernels are compiled
with `cache=True`, which needs them in a file: `load` writes the module once, under a name that is
the hash of its source, in the cache directory (`MATCALC_CACHE_DIR`, else
`$XDG_CACHE_HOME/matcalc`, else `~/.cache/matcalc`; a directory under the system's temporary one
where that cannot be made), and numba keeps the machine code beside it, so a second process with
the same derivative compiles nothing.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

from .base import Backend
from .numpy import NUMPY


def _helper_sources() -> dict[str, str]:
    """{name: source} of each function of numba_helpers.py, read without importing numba."""
    path = Path(__file__).with_name("numba_helpers.py")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    sources = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            sources[node.name] = "\n".join(lines[first - 1:node.end_lineno])
    return sources


NUMBA = Backend(
    name="numba",
    # OMP_WAIT_POLICY: OpenMP's threads (numba's default layer) sleep between two loops instead of
    # spinning on the cores the BLAS calls between them need: attention's gradient took 67 ms with
    # them spinning, 42 ms without. The user's own setting stands; libgomp reads it when numba
    # starts its threads. PARALLEL_SIZE: a loop over fewer entries runs on one thread (fused.py).
    # _SCRATCH: this thread's buffers for intermediate arrays (numba_helpers._scratch).
    imports=("import os\nimport threading\n\n"
             "import llvmlite.ir\nimport numba\nimport numpy as np\n\n"
             "os.environ.setdefault(\"OMP_WAIT_POLICY\", \"PASSIVE\")"
             "   # see matcalc's numba backend\n"
             "PARALLEL_SIZE = 1 << 15\n_SCRATCH = threading.local()"),
    calls=NUMPY.calls,
    helpers={**NUMPY.helpers, **_helper_sources()},
    multiply_into=NUMPY.multiply_into,
    copy_into=NUMPY.copy_into,
    in_place=NUMPY.in_place,
    spells_as="numpy",
    fuses=True,
    # how a loop computes one entry of an elementwise function of the registry ({0}: the entry);
    # a function not here is computed by NumPy. Nothing that needs fastmath; exp is
    # numba_helpers._exp, within 1 ulp of NumPy's and vectorised by LLVM where np.exp is not.
    entries={
        "exp": "_exp({0})", "log": "np.log({0})", "sin": "np.sin({0})", "cos": "np.cos({0})",
        "tan": "np.tan({0})", "tanh": "np.tanh({0})", "sqrt": "np.sqrt({0})", "abs": "abs({0})",
        "sign": "np.sign({0})", "sigmoid": "(1.0 / (1.0 + _exp(-{0})))",
        "softplus": "np.logaddexp(0.0, {0})", "relu": "np.maximum({0}, 0.0)",
    },
    doc="Vectors are 1-D arrays, scalars floats; elementwise parts are compiled numba loops.",
)

INSTALL = 'pip install ".[numba]"'     # from a clone; "matcalc-symbolic[numba]" once published


def require_numba() -> None:
    """Raise a clear ImportError naming the extra when numba is not installed."""
    try:
        import numba  # noqa: F401
    except ImportError:
        raise ImportError(f"the numba backend needs numba, which is not installed: {INSTALL} "
                          "(the numba extra)") from None


def cache_directory() -> Path:
    if os.environ.get("MATCALC_CACHE_DIR"):
        return Path(os.environ["MATCALC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "matcalc"


def _openmp_loaded() -> bool:
    """Whether GNU OpenMP is in this process already (read off /proc/self/maps; False where
    there is none). PyTorch loads it when imported; NumPy, SciPy, JAX and numba do not."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            return any("libgomp" in line for line in maps)
    except OSError:
        return False


SPINNING = ("OpenMP was loaded (by PyTorch, for one) before matcalc's numba code could ask its "
            "threads to sleep between loops (OMP_WAIT_POLICY=PASSIVE, read once, when OpenMP "
            "loads): they will spin on the cores the matrix products between the loops need "
            "(attention's gradient at N = 1024 took 31-34 ms against 22-26 ms). Set "
            "OMP_WAIT_POLICY=PASSIVE in the environment before Python starts.")


def load(source: str, function_name: str) -> ModuleType:
    """The generated module, imported from a file named by the hash of its source (written once:
    an unchanged file keeps the timestamp numba's cache index is keyed on). The first one warns
    if OpenMP is loaded already and OMP_WAIT_POLICY is not set: the module's own setting
    (NUMBA.imports) comes too late, and sets it, so that the warning comes once."""
    require_numba()
    if "OMP_WAIT_POLICY" not in os.environ and _openmp_loaded():
        warnings.warn(SPINNING, RuntimeWarning, stacklevel=3)
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    name = f"matcalc_{function_name}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    directory = cache_directory()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:             # no writable home: the loops are cached for this machine's session
        directory = Path(tempfile.gettempdir()) / f"matcalc-{getattr(os, 'getuid', str)()}"
        directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    if not path.exists() or path.read_text(encoding="utf-8") != source:
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(temporary, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)      # type: ignore[arg-type]
    spec.loader.exec_module(module)                      # type: ignore[union-attr]
    sys.modules[name] = module
    return module
