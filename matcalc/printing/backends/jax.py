"""JAX spellings of generated code (`d.jax()`, `--format jax`): `jax.numpy`, jit-compatible.

NumPy's spellings with `jnp` for `np`, except where JAX differs: arrays are immutable (no `out=`,
no copies of broadcasts), the activations come from `jax.nn`, the commutation matrix is built
without assignment into an array, and symmetric products are left to XLA. Shapes are static under
`jax.jit`, so dimensions read from `X.shape` are plain integers.
"""
from __future__ import annotations

from .base import Backend
from .kronecker import kronecker_helpers
from .numpy import NUMPY
from .spectral import JAX_EXPM, scipy_only, spectral_helpers

JAX = Backend(
    name="jax",
    imports="import jax\nimport jax.numpy as jnp\nimport jax.scipy.linalg",
    calls={**{op: template.replace("np.", "jnp.") for op, template in NUMPY.calls.items()
              if op not in ("symmetric_product", "gram", "weighted_gram",   # XLA schedules
                            "solve_triangular", "size_scalar")},   # the product; jnp.sqrt(64)
                                                    # is weakly typed, and float() of it
                                                    # fails under jit
           "solve_triangular": "jax.scipy.linalg.solve_triangular({0}, {1}, lower={lower})",
           "multi_dot": "jnp.linalg.multi_dot([{0}])",    # under jit the order is chosen once
           "repeat_column": "jnp.broadcast_to({0:atom}[:, None], {1})",
           "repeat_row": "jnp.broadcast_to({0}, {1})"},
    helpers={**scipy_only("JAX"), **spectral_helpers("jnp"), **kronecker_helpers("jnp"),
             **JAX_EXPM,
             "_ismax": '''def _ismax(x):
    """1.0 at the (first) largest entry of x, 0.0 elsewhere."""
    return (jnp.arange(x.size) == jnp.argmax(x)).astype(x.dtype).reshape(x.shape)''',
             "_ismin": '''def _ismin(x):
    """1.0 at the (first) smallest entry of x, 0.0 elsewhere."""
    return (jnp.arange(x.size) == jnp.argmin(x)).astype(x.dtype).reshape(x.shape)''',
             "_commutation": '''def _commutation(rows, cols):
    """K with K @ vec(A) = vec(A.T) for A rows×cols (vec stacks columns)."""
    order = jnp.arange(rows * cols).reshape(cols, rows).T.ravel()
    return jnp.eye(rows * cols)[order]'''},
    doc="Vectors are 1-D arrays, scalars floats; jit-compatible.",
)
