"""Imported by every bench script before NumPy: with `--single-thread` on the command line, one
thread in every library (OpenBLAS, OpenMP and PyTorch's CPU pool, MKL, numba, XLA), set in the
environment before any of them reads it. On a machine shared with other work, one thread per
library keeps the ratios of a run comparable."""
import os
import sys

SINGLE = "--single-thread" in sys.argv

if SINGLE:
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMBA_NUM_THREADS"):
        os.environ[_name] = "1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()
