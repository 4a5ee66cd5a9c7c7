"""Imported by every bench script before NumPy: with `--single-thread` on the command line, one
thread in every library (OpenBLAS, OpenMP and PyTorch's CPU pool, MKL, numba, XLA), set in the
environment before any of them reads it. On a machine shared with other work, one thread per
library keeps the ratios of a run comparable.

Always (unless the environment already says otherwise): OpenBLAS's worker threads sleep as soon as
a call ends (`OPENBLAS_THREAD_TIMEOUT=4`, 2⁴ cycles) instead of spinning for its default 2²⁸
cycles, about 0.1 s. Spinning, they hold a core against whatever runs next in the process: numba's
parallel loops right after a product (the fused seed at 1000×1000: 8.02 ms with the default,
1.43 ms with the short timeout, hand-written NumPy 2.49 and 2.25 ms), SciPy's own OpenBLAS, JAX's
and PyTorch's pools. The report's machine block names it."""
import os
import sys

SINGLE = "--single-thread" in sys.argv
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

if SINGLE:
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMBA_NUM_THREADS"):
        os.environ[_name] = "1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()
