"""NumPy implementations shared by the numeric check and the generated NumPy code.

Each function here is used twice: verify.py calls it to evaluate an expression, and the NumPy
backend copies its source into a generated module as a helper (printing/numpy.py), so the check
and the code compute the same formula. They are named as they appear in generated code.
"""
from __future__ import annotations

import numpy as np


def _sigmoid(x):
    """Logistic sigmoid to 1 ulp: exp(-x) overflows only where σ(x) < 1e-308 (the result is 0)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    """log(1 + exp(x)) without overflow."""
    return np.logaddexp(0.0, x)


def relu(x):
    return np.maximum(x, 0.0)


def _logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def _commutation(rows, cols):
    """K with K @ vec(A) = vec(A.T) for A rows×cols (vec stacks columns)."""
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    k = np.zeros((rows * cols, rows * cols))
    k[(j + i * cols).ravel(), (i + j * rows).ravel()] = 1.0
    return k


# OpenBLAS's syrk is no faster than gemm on the benchmark machine; row blocks of the upper
# triangle, each one gemm, are (measured at 2000×2000: 0.66× the full product)
def _symmetric_product(m, w):
    """m.T @ w, known to be symmetric: the upper triangle in row blocks, then mirrored."""
    d = m.shape[1]
    blocks = max(1, min(4, d // 50))        # about 5/8 of the multiplications with four blocks
    out = np.empty((d, d), dtype=np.result_type(m, w))
    edges = [d * i // blocks for i in range(blocks + 1)]
    for lo, hi in zip(edges, edges[1:]):
        out[lo:hi, lo:] = m[:, lo:hi].T @ w[:, lo:]
        out[hi:, lo:hi] = out[lo:hi, hi:].T          # below the diagonal block: mirrored
        block = out[lo:hi, lo:hi]
        out[lo:hi, lo:hi] = (block + block.T) / 2    # the diagonal block made exactly symmetric
    return out
