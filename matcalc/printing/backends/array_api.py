"""Array-API-standard spellings of generated code (`d.array_api()`, `--format array-api`).

One function for every library that implements the standard: the namespace `xp` is looked up from
the arguments by `array_api_compat`, so NumPy, CuPy, JAX, PyTorch and Dask arrays all work, and
nothing outside the standard (and its `linalg` extension) is called — no `outer`, `kron`, `einsum`
or `diag`, which are written with broadcasting and reshapes instead.
"""
from __future__ import annotations

from .base import Backend
from .kronecker import ARRAY_API_KRONECKER
from .spectral import ARRAY_API_EXPM, scipy_only, spectral_helpers

ARRAY_API = Backend(
    name="array-api",
    imports="from array_api_compat import array_namespace, device as _device",
    calls={
        "eye": "xp.eye({0}{like})",
        "zeros": "xp.zeros({0}{like})",
        "full": "xp.full({0}, {1}{like})",
        "full_expr": "({1:atom} * xp.ones({0}{like}))",
        "sum_axis": "xp.sum({0}, axis={1})",
        "outer": "({0:atom}[:, None] * {1:atom}[None, :])",
        "repeat_column": "xp.asarray(xp.broadcast_to({0:atom}[:, None], {1}), copy=True)",
        "repeat_row": "xp.asarray(xp.broadcast_to({0}, {1}), copy=True)",
        "solve": "xp.linalg.solve({0}, {1})",
        "dot": "xp.vecdot({0}, {1})",
        "trace_product": "xp.sum({0:atom} * {1:atom}.T)",     # tr(A*B) without forming A*B
        "trace": "xp.linalg.trace({0})",
        "diag": "({0:atom}[:, None] * xp.eye({1}{like}))",
        # kron(A, B) for A p×q, B r×s: entry (i*r + k, j*s + l) is A[i, j]*B[k, l]
        "kron": "xp.reshape({0:atom}[:, None, :, None] * {1:atom}[None, :, None, :], "
                "({2} * {4}, {3} * {5}))",
        "commutation": "_commutation(xp, {0}, {1})",
        # a number made of sizes (sqrt(cols(X))) as a function's argument: the library's
        # functions take arrays only
        "size_array": "xp.asarray({0}{like})",
    },
    helpers={**scipy_only("the array API standard"),
             **spectral_helpers("xp", "    xp = array_namespace(a)\n"), **ARRAY_API_EXPM,
             **ARRAY_API_KRONECKER,
        "_sigmoid": '''def _sigmoid(x):
    """Logistic sigmoid without overflow: exp(-log(1 + exp(-x)))."""
    xp = array_namespace(x)
    return xp.exp(-xp.logaddexp(xp.zeros_like(x), -x))''',
        "_softplus": '''def _softplus(x):
    """log(1 + exp(x)) without overflow."""
    xp = array_namespace(x)
    return xp.logaddexp(xp.zeros_like(x), x)''',
        "_relu": '''def _relu(x):
    xp = array_namespace(x)
    return xp.where(x > 0, x, xp.zeros_like(x))''',
        "_logsumexp": '''def _logsumexp(x):
    xp = array_namespace(x)
    m = xp.max(x)
    return m + xp.log(xp.sum(xp.exp(x - m)))''',
        "_softmax": '''def _softmax(x):
    xp = array_namespace(x)
    e = xp.exp(x - xp.max(x))
    return e / xp.sum(e)''',
        "_logsoftmax": '''def _logsoftmax(x):
    xp = array_namespace(x)
    shifted = x - xp.max(x)
    return shifted - xp.log(xp.sum(xp.exp(shifted)))''',
        # along an axis of a matrix, each line's maximum subtracted first (as kernels.py)
        "_softmax_along": '''def _softmax_along(x, axis):
    xp = array_namespace(x)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)''',
        "_logsumexp_along": '''def _logsumexp_along(x, axis):
    xp = array_namespace(x)
    m = xp.max(x, axis=axis, keepdims=True)
    return xp.squeeze(m, axis=axis) + xp.log(xp.sum(xp.exp(x - m), axis=axis))''',
        "_logsoftmax_along": '''def _logsoftmax_along(x, axis):
    xp = array_namespace(x)
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))''',
        "_ismax": '''def _ismax(x):
    """1.0 at the (first) largest entry of x, 0.0 elsewhere."""
    xp = array_namespace(x)
    flat = xp.reshape(x, (-1,))
    hit = xp.arange(flat.shape[0], device=_device(x)) == xp.argmax(flat)
    return xp.reshape(xp.astype(hit, x.dtype), x.shape)''',
        "_ismin": '''def _ismin(x):
    """1.0 at the (first) smallest entry of x, 0.0 elsewhere."""
    xp = array_namespace(x)
    flat = xp.reshape(x, (-1,))
    hit = xp.arange(flat.shape[0], device=_device(x)) == xp.argmin(flat)
    return xp.reshape(xp.astype(hit, x.dtype), x.shape)''',
        "_commutation": '''def _commutation(xp, rows, cols):
    """K with K @ vec(A) = vec(A.T) for A rows×cols (vec stacks columns)."""
    order = xp.reshape(xp.reshape(xp.arange(rows * cols), (cols, rows)).T, (-1,))
    return xp.take(xp.eye(rows * cols), order, axis=0)''',
    },
    like=", dtype={0}.dtype, device=_device({0})",
    prologue="xp = array_namespace({0})",
    scalar_input="xp.asarray({0}, dtype={1}.dtype, device=_device({1}))",
    doc="Vectors are 1-D; scalars numbers, or 0-d arrays if all inputs are; any array-API library.",
)
