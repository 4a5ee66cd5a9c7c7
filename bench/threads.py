"""Imported by every bench script before NumPy: with `--single-thread` on the command line, one
thread in every library (OpenBLAS, OpenMP and PyTorch's CPU pool, MKL, numba, XLA), set in the
environment before any of them reads it. On a machine shared with other work, one thread per
library keeps the ratios of a run comparable.

Always (unless the environment already says otherwise): OpenBLAS's worker threads sleep as soon as
a call ends (`OPENBLAS_THREAD_TIMEOUT=4`, 2⁴ cycles) instead of spinning for its default 2²⁸
cycles, about 0.1 s. Spinning, they hold a core against whatever runs next in the process: numba's
parallel loops right after a product (the fused seed at 1000×1000: 8.02 ms with the default,
1.43 ms with the short timeout, hand-written NumPy 2.49 and 2.25 ms), SciPy's own OpenBLAS, JAX's
and PyTorch's pools. The report's machine block names it.

Always (unless set): OpenMP's threads sleep between parallel loops (`OMP_WAIT_POLICY=PASSIVE`).
matcalc's numba modules ask for it themselves, but GNU OpenMP reads the variable once, when it is
loaded, and `import torch` loads it before any of them: attention's numba gradient (N = 1024)
then took 31–34 ms with its threads spinning against the products, 22–26 ms with them asleep;
PyTorch's own time did not change (19–20 ms either way). d.numba() warns a user in that case."""
import os
import sys

SINGLE = "--single-thread" in sys.argv
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if SINGLE:
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMBA_NUM_THREADS"):
        os.environ[_name] = "1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()
