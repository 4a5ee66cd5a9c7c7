"""PyTorch spellings of generated code (`d.torch()`, `--format torch`).

Tensors in, a tensor out, on the inputs' device: every tensor the code creates (an identity, a
fill) takes the dtype and device of the first tensor argument, and scalar arguments become tensors
there too, so the same function runs on CPU and CUDA tensors.
"""
from __future__ import annotations

from .base import Backend
from .kronecker import kronecker_helpers
from .spectral import TORCH_EXPM, scipy_only, spectral_helpers

TORCH = Backend(
    name="torch",
    imports="import torch",
    calls={
        "eye": "torch.eye({0}{like})",
        "zeros": "torch.zeros({0}{like})",
        "full": "torch.full({0}, {1}{like})",
        "full_expr": "({1:atom} * torch.ones({0}{like}))",
        "sum_axis": "torch.sum({0}, dim={1})",
        "outer": "torch.outer({0}, {1})",
        "repeat_column": "{0:atom}[:, None].expand({1}).clone()",
        "repeat_row": "{0:atom}.expand({1}).clone()",
        "solve": "torch.linalg.solve({0}, {1})",
        "solve_triangular": "_solve_triangular({0}, {1}, lower={lower})",
        "dot": "torch.dot({0}, {1})",
        "multi_dot": "torch.linalg.multi_dot([{0}])",
        "trace_product": 'torch.einsum("ij,ji->", {0}, {1})',
        "trace": "torch.trace({0})",
        "diag": "torch.diag({0})",
        # torch.kron views its operands: a transposed (non-contiguous) one raises without the copy
        "kron": "torch.kron({0:atom}.contiguous(), {1:atom}.contiguous())",
        "commutation": "_commutation({0}, {1})",
        # a number made of sizes (sqrt(cols(X))) as a function's argument: the library's
        # functions take arrays only
        "size_array": "torch.as_tensor({0}{like})",
    },
    helpers={**scipy_only("PyTorch"), **spectral_helpers("torch"), **kronecker_helpers("torch"),
             **TORCH_EXPM,
             "_solve_triangular": '''def _solve_triangular(a, b, lower):
    """inv(A)*B for a triangular A (torch's solve takes a matrix right side)."""
    x = torch.linalg.solve_triangular(a, b[:, None] if b.ndim == 1 else b, upper=not lower)
    return x[:, 0] if b.ndim == 1 else x''',
             "_ismax": '''def _ismax(x):
    """1.0 at the (first) largest entry of x, 0.0 elsewhere."""
    return (torch.arange(x.numel(), device=x.device) == torch.argmax(x)).to(x.dtype).reshape(x.shape)''',
             "_ismin": '''def _ismin(x):
    """1.0 at the (first) smallest entry of x, 0.0 elsewhere."""
    return (torch.arange(x.numel(), device=x.device) == torch.argmin(x)).to(x.dtype).reshape(x.shape)''',
             "_commutation": '''def _commutation(rows, cols):
    """K with K @ vec(A) = vec(A.T) for A rows×cols (vec stacks columns)."""
    order = torch.arange(rows * cols).reshape(cols, rows).T.reshape(-1)
    return torch.eye(rows * cols, dtype=torch.float64)[order]'''},
    like=", dtype={0}.dtype, device={0}.device",
    scalar_input="torch.as_tensor({0}, dtype={1}.dtype, device={1}.device)",
    scalar_only_input="torch.as_tensor({0})",    # a tensor stays; a float: torch's default dtype
    doc="Vectors are 1-D tensors, scalars numbers or 0-d tensors; results on the inputs' device.",
)
