"""NumPy spellings of generated code (`d.numpy()`, `--format numpy`): the reference backend.

Only this backend writes into a caller's buffer (`out=`): NumPy's ufuncs and `copyto` work in place.
"""
from __future__ import annotations

import inspect

from ... import kernels
from .base import Backend

NUMPY = Backend(
    name="numpy",
    imports="import numpy as np",
    calls={
        "eye": "np.eye({0}{like})",
        "zeros": "np.zeros({0}{like})",
        "full": "np.full({0}, {1}{like})",
        "full_expr": "np.full({0}, {1}{like})",
        "sum_axis": "np.sum({0}, axis={1})",
        "outer": "np.outer({0}, {1})",
        # a repeated column or row: one vector, broadcast, then a writable copy
        "repeat_column": "np.broadcast_to({0:atom}[:, None], {1}).copy()",
        "repeat_row": "np.broadcast_to({0}, {1}).copy()",
        "solve": "np.linalg.solve({0}, {1})",
        # inv(L)*B for a triangular factor (chol): SciPy's triangular solve where it is installed
        "solve_triangular": "_solve_triangular({0}, {1}, lower={lower})",
        "dot": "np.dot({0}, {1})",
        # a product of three or more matrices, in the cheapest order for the shapes at call time
        # (found once per shape: kernels._multi_dot)
        "multi_dot": "_multi_dot([{0}])",
        # M'*W known to be symmetric (M'*M, M'*diag(v)*M): one triangle, mirrored
        "symmetric_product": "_symmetric_product({0}, {1})",
        # M'*M and M'*diag(s)*M with s proven >= 0 (codegen/signs.py): BLAS syrk
        "gram": "_gram({0})",
        "weighted_gram": "_weighted_gram({0}, {1})",
        # the same products written into a caller's buffer (out=): BLAS writes the last product
        "matmul_into": "np.matmul({0}, {1}, out={2})",
        "multi_dot_into": "_multi_dot([{0}], out={1})",
        "symmetric_product_into": "_symmetric_product({0}, {1}, out={2})",
        "gram_into": "_gram({0}, out={1})",
        "weighted_gram_into": "_weighted_gram({0}, {1}, out={2})",
        "trace_product": 'np.einsum("ij,ji->", {0}, {1})',    # tr(A*B) without forming A*B
        "trace": "np.trace({0})",
        "diag": "np.diag({0})",
        "kron": "np.kron({0}, {1})",                   # {0}, {1}: 2-D operands
        "commutation": "_commutation({0}, {1})",
        # a number made of sizes (sqrt(cols(X))) as a function's argument: a number does
        "size_array": "{0}",
        "size_scalar": "float({0})",
    },
    # the NumPy helpers are the functions the numeric check evaluates with (kernels.py), copied
    helpers={f.__name__: inspect.getsource(f).rstrip() for f in (
        kernels._sigmoid, kernels._logsumexp, kernels._softmax, kernels._symmetric_product,
        kernels._gram, kernels._weighted_gram,
        kernels._commutation, kernels._logsoftmax, kernels._softmax_along,
        kernels._logsumexp_along, kernels._logsoftmax_along, kernels._ismax, kernels._ismin,
        kernels._lambdamax, kernels._lambdamin, kernels._eigvecmax,
        kernels._eigvecmin, kernels._eigvals, kernels._eigvecs, kernels._svdu,
        kernels._svdv, kernels._polar, kernels._svdtop, kernels._expm, kernels._expm_frechet,
        kernels._chol, kernels._trilhalf, kernels._sqrtm, kernels._sqrtm_frechet, kernels._logm,
        kernels._logm_frechet, kernels._solve_triangular, kernels._finite, kernels._scipy_linalg,
        kernels._khatrirao, kernels._kron_left, kernels._kron_right, kernels._khatrirao_left,
        kernels._khatrirao_right, kernels._multi_dot, kernels._dot, kernels._eigh, kernels._svd,
        kernels._extreme_eigenpair)},
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
