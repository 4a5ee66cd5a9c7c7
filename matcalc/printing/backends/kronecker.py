"""Helper functions of the Khatri–Rao product and of the adjoints of Kronecker and Khatri–Rao
factors, for the backends other than NumPy (whose helpers are kernels.py's own functions, copied).

JAX and PyTorch contract with `einsum`, as NumPy does; the array API standard has no einsum: its
helpers contract with `tensordot` and `vecdot`. None forms an array larger than its first operand.
"""
from __future__ import annotations

_EINSUM = {
    "_khatrirao": '''def _khatrirao(a, b):
    """The column-wise Kronecker product: column r is kron(a[:, r], b[:, r])."""
    return (a[:, None, :] * b[None, :, :]).reshape(-1, a.shape[1])''',
    "_kron_left": '''def _kron_left(g, b):
    """Entry (i, j): the Frobenius product of g's block (i, j), of b's size, with b."""
    p, q = b.shape
    return {xp}.einsum("ipjq,pq->ij", g.reshape(g.shape[0] // p, p, g.shape[1] // q, q), b)''',
    "_kron_right": '''def _kron_right(g, a):
    """The sum of g's blocks, block (i, j) weighted by a[i, j]."""
    m, n = a.shape
    return {xp}.einsum("ipjq,ij->pq", g.reshape(m, g.shape[0] // m, n, g.shape[1] // n), a)''',
    "_khatrirao_left": '''def _khatrirao_left(g, b):
    """Column r: g's column r as a matrix (rows of b's length, column-major) times b's column r."""
    return {xp}.einsum("ijr,jr->ir", g.reshape(-1, b.shape[0], b.shape[1]), b)''',
    "_khatrirao_right": '''def _khatrirao_right(g, a):
    """Column r: g's column r as a matrix, transposed, times a's column r."""
    return {xp}.einsum("ijr,ir->jr", g.reshape(a.shape[0], -1, a.shape[1]), a)''',
}

ARRAY_API_KRONECKER = {
    "_khatrirao": '''def _khatrirao(a, b):
    """The column-wise Kronecker product: column r is kron(a[:, r], b[:, r])."""
    xp = array_namespace(a, b)
    return xp.reshape(a[:, None, :] * b[None, :, :], (-1, a.shape[1]))''',
    "_kron_left": '''def _kron_left(g, b):
    """Entry (i, j): the Frobenius product of g's block (i, j), of b's size, with b."""
    xp = array_namespace(g, b)
    p, q = b.shape
    blocks = xp.reshape(g, (g.shape[0] // p, p, g.shape[1] // q, q))
    return xp.tensordot(blocks, b, axes=([1, 3], [0, 1]))''',
    "_kron_right": '''def _kron_right(g, a):
    """The sum of g's blocks, block (i, j) weighted by a[i, j]."""
    xp = array_namespace(g, a)
    m, n = a.shape
    blocks = xp.reshape(g, (m, g.shape[0] // m, n, g.shape[1] // n))
    return xp.tensordot(a, blocks, axes=([0, 1], [0, 2]))''',
    "_khatrirao_left": '''def _khatrirao_left(g, b):
    """Column r: g's column r as a matrix (rows of b's length, column-major) times b's column r."""
    xp = array_namespace(g, b)
    return xp.vecdot(xp.reshape(g, (-1, b.shape[0], b.shape[1])), b[None, :, :], axis=-2)''',
    "_khatrirao_right": '''def _khatrirao_right(g, a):
    """Column r: g's column r as a matrix, transposed, times a's column r."""
    xp = array_namespace(g, a)
    return xp.vecdot(xp.reshape(g, (a.shape[0], -1, a.shape[1])), a[:, None, :], axis=-3)''',
}


def kronecker_helpers(xp: str) -> dict[str, str]:
    """The helpers in the spelling of a library with einsum (`jnp`, `torch`)."""
    return {name: source.replace("{xp}", xp) for name, source in _EINSUM.items()}


__all__ = ["ARRAY_API_KRONECKER", "kronecker_helpers"]
