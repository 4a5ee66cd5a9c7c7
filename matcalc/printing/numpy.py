"""NumPy spellings of generated code (`d.numpy()`, `--format numpy`): the reference backend.

Only this backend writes into a caller's buffer (`out=`): NumPy's ufuncs and `copyto` work in place.
"""
from __future__ import annotations

from .backend import Backend

NUMPY = Backend(
    name="numpy",
    imports="import numpy as np",
    calls={
        "eye": "np.eye({0}{like})",
        "zeros": "np.zeros({0}{like})",
        "full": "np.full({0}, {1}{like})",
        "full_expr": "np.full({0}, {1}{like})",
        "sqrt": "np.sqrt({0})",
        "abs": "np.abs({0})",
        "sum": "np.sum({0})",
        "sum_axis": "np.sum({0}, axis={1})",
        "outer": "np.outer({0}, {1})",
        # a repeated column or row: one vector, broadcast, then a writable copy
        "repeat_column": "np.broadcast_to({0:atom}[:, None], {1}).copy()",
        "repeat_row": "np.broadcast_to({0}, {1}).copy()",
        "solve": "np.linalg.solve({0}, {1})",
        "matrix_power": "np.linalg.matrix_power({0}, {1})",
        "dot": "np.dot({0}, {1})",
        # a product of three or more matrices, in the cheapest order for the shapes at call time
        "multi_dot": "np.linalg.multi_dot([{0}])",
        # M'*W known to be symmetric (M'*M, M'*diag(v)*M): one triangle, mirrored
        "symmetric_product": "_symmetric_product({0}, {1})",
        "trace_product": 'np.einsum("ij,ji->", {0}, {1})',    # tr(A*B) without forming A*B
        "trace": "np.trace({0})",
        "det": "np.linalg.det({0})",
        "logdet": "np.linalg.slogdet({0})[1]",
        "inv": "np.linalg.inv({0})",
        "diag": "np.diag({0})",
        "diagonal": "np.diagonal({0})",
        "norm": "np.linalg.norm({0})",
        "kron": "np.kron({0}, {1})",                   # {0}, {1}: 2-D operands
        "vec": 'np.ravel({0}, order="F")',
        "commutation": "_commutation({0}, {1})",
        "function": "np.{name}({args})",
    },
    functions={"sigmoid": "_sigmoid({0})", "softplus": "np.logaddexp(0.0, {0})",
               "relu": "np.maximum({0}, 0.0)", "logsumexp": "_logsumexp({0})",
               "softmax": "_softmax({0})"},
    helpers={
        # NumPy only: SciPy's expit is faster (one pass), but importing scipy.special costs ~100 ms
        # on the first derivation and SciPy is not a dependency
        "_sigmoid": '''def _sigmoid(x):
    """Logistic sigmoid to 1 ulp: exp(-x) overflows only where σ(x) < 1e-308 (the result is 0)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))''',
        "_logsumexp": '''def _logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))''',
        "_softmax": '''def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)''',
        # OpenBLAS's syrk is no faster than gemm on the benchmark machine; row blocks of the upper
        # triangle, each one gemm, are (measured at 2000×2000: 0.66× the full product)
        "_symmetric_product": '''def _symmetric_product(m, w):
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
    return out''',
        "_commutation": '''def _commutation(rows, cols):
    """K with K @ vec(A) = vec(A.T) for A rows×cols (vec stacks columns)."""
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    k = np.zeros((rows * cols, rows * cols))
    k[(j + i * cols).ravel(), (i + j * rows).ravel()] = 1.0
    return k''',
    },
    multiply_into="np.multiply({0:atom}[:, None], {1:atom}[None, :], out={2})",
    in_place={
        "add": "{0} += {1}", "subtract": "{0} -= {1}", "multiply": "{0} *= {1}",
        "divide": "{0} /= {1}", "negative": "np.negative({0}, out={0})",
        "add_to": "np.add({1}, {2}, out={0})", "subtract_to": "np.subtract({1}, {2}, out={0})",
        "multiply_to": "np.multiply({1}, {2}, out={0})", "divide_to": "np.divide({1}, {2}, out={0})",
        "divide_into": "np.divide({1}, {0}, out={0})",
        "subtract_into": "np.subtract({1}, {0}, out={0})",
        "reciprocal": "np.divide(1.0, {0}, out={0})",
        "square": "np.square({1}, out={0})", "sqrt": "np.sqrt({1}, out={0})",
        "power": "np.power({1}, {2}, out={0})", "function": "np.{name}({1}, out={0})",
    },
    copy_into="np.copyto({1}, {0})",
)
