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


def _logsoftmax(x):
    """x - logsumexp(x), with the maximum subtracted first (no overflow at logits of ±1000)."""
    shifted = x - np.max(x)
    return shifted - np.log(np.sum(np.exp(shifted)))


# Along a dimension of a matrix (axis 0: down the columns, MATLAB's dimension 1; axis 1: along
# the rows, dimension 2), each with that line's maximum subtracted first
# (one new array, then exp and the division in place: an N×C softmax is one allocation)
def _softmax_along(x, axis):
    e = x - np.max(x, axis=axis, keepdims=True)
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _logsumexp_along(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = x - m
    np.exp(e, out=e)
    return np.squeeze(m, axis=axis) + np.log(np.sum(e, axis=axis))


def _logsoftmax_along(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _ismax(x):
    """1.0 at the (first) largest entry of x, 0.0 elsewhere: indices compared, never values."""
    return (np.arange(x.size) == np.argmax(x)).astype(x.dtype).reshape(x.shape)


def _ismin(x):
    """1.0 at the (first) smallest entry of x, 0.0 elsewhere."""
    return (np.arange(x.size) == np.argmin(x)).astype(x.dtype).reshape(x.shape)


def _commutation(rows, cols):
    """K with K @ vec(A) = vec(A.T) for A rows×cols (vec stacks columns)."""
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    k = np.zeros((rows * cols, rows * cols))
    k[(j + i * cols).ravel(), (i + j * rows).ravel()] = 1.0
    return k


# OpenBLAS's syrk is no faster than gemm on the benchmark machine; row blocks of the upper
# triangle, each one gemm, are (measured at 2000×2000: 0.66× the full product)
# Kronecker and Khatri–Rao products and the adjoints of their factors (the gradients of
# G : kron(A, B) with respect to A and to B), on 2-D arrays; the adjoints contract G's blocks
# without forming any array larger than G (Van Loan 2000, J. Comput. Appl. Math. 123:85, §3:
# the blocks of kron(A, B) are a_ij*B; Kolda & Bader 2009, SIAM Review 51:455, §2.6)
def _khatrirao(a, b):
    """The column-wise Kronecker product: column r is kron(a[:, r], b[:, r])."""
    return (a[:, None, :] * b[None, :, :]).reshape(-1, a.shape[1])


def _kron_left(g, b):
    """Entry (i, j): the Frobenius product of g's block (i, j), of b's size, with b."""
    p, q = b.shape
    return np.einsum("ipjq,pq->ij", g.reshape(g.shape[0] // p, p, g.shape[1] // q, q), b)


def _kron_right(g, a):
    """The sum of g's blocks, block (i, j) weighted by a[i, j]."""
    m, n = a.shape
    return np.einsum("ipjq,ij->pq", g.reshape(m, g.shape[0] // m, n, g.shape[1] // n), a)


def _khatrirao_left(g, b):
    """Column r: g's column r as a matrix (rows of b's length, column-major) times b's column r."""
    return np.einsum("ijr,jr->ir", g.reshape(-1, b.shape[0], b.shape[1]), b)


def _khatrirao_right(g, a):
    """Column r: g's column r as a matrix, transposed, times a's column r."""
    return np.einsum("ijr,ir->jr", g.reshape(a.shape[0], -1, a.shape[1]), a)


def _symmetric_product(m, w, out=None):
    """m.T @ w, known to be symmetric: the upper triangle in row blocks, then mirrored. Into
    `out` when it has the product's dtype (else computed, then copied in: the diagonal blocks
    are averaged in the product's precision)."""
    d = m.shape[1]
    blocks = max(1, min(4, d // 50))        # about 5/8 of the multiplications with four blocks
    dtype = np.result_type(m, w)
    into = out if out is not None and out.dtype == dtype else np.empty((d, d), dtype=dtype)
    edges = [d * i // blocks for i in range(blocks + 1)]
    for lo, hi in zip(edges, edges[1:]):
        into[lo:hi, lo:] = m[:, lo:hi].T @ w[:, lo:]
        into[hi:, lo:hi] = into[lo:hi, hi:].T          # below the diagonal block: mirrored
        block = into[lo:hi, lo:hi]
        into[lo:hi, lo:hi] = (block + block.T) / 2    # the diagonal block made exactly symmetric
    if out is not None and into is not out:
        np.copyto(out, into)
        return out
    return into


def _gram(m, out=None):
    """m.T @ m: NumPy sees one array and its transpose and calls BLAS syrk (one triangle, half
    the multiplications of a general product), exactly symmetric; into `out` if given."""
    return np.matmul(m.T, m, out=out)


def _weighted_gram(m, s, out=None):
    """m.T @ diag(s) @ m for weights s proven >= 0, as w.T @ w with w = sqrt(s)[:, None] * m: one
    syrk. max(s, 0) only undoes rounding (s - s**2 may round to -1e-17 where it is 0)."""
    return _gram(np.sqrt(np.maximum(s, 0))[:, None] * m, out)


# -- factorizations, spectral functions and matrix functions -------------------------------------
# lambdamax(A), eigvecmax(A), … are those of the symmetric part (A + A')/2: the same as A's for a
# symmetric A, and a function of every entry of any square A (eigh reads one triangle only).

def _lambdamax(a):
    """The largest eigenvalue of (A + A')/2 (see _extreme_eigenpair)."""
    return _extreme_eigenpair(a, -1, False)


def _lambdamin(a):
    """The smallest eigenvalue of (A + A')/2 (see _extreme_eigenpair)."""
    return _extreme_eigenpair(a, 0, False)


def _eigvecmax(a):
    """A unit eigenvector of (A + A')/2 for its largest eigenvalue (its sign is LAPACK's)."""
    return _extreme_eigenpair(a, -1, True)


def _eigvecmin(a):
    """A unit eigenvector of (A + A')/2 for its smallest eigenvalue (its sign is LAPACK's)."""
    return _extreme_eigenpair(a, 0, True)


def _extreme_eigenpair(a, which, vector):
    """The eigenvalue of (A + A')/2 at `which` (0 the smallest, -1 the largest), or its unit
    eigenvector: that one pair alone by SciPy's eigh (LAPACK's dsyevr) where SciPy is installed —
    15 ms against 44 ms for NumPy's eigh of every pair at n = 500 — else NumPy's."""
    s = (a + a.T) / 2
    try:
        from scipy.linalg import eigh
    except ImportError:
        eigh = None
    if eigh is None or not len(s) or not _finite(s):     # NumPy's answer to nan and inf
        return np.linalg.eigh(s)[1][:, which] if vector else np.linalg.eigvalsh(s)[which]
    k = which % len(s)
    found = eigh(s, subset_by_index=[k, k], eigvals_only=not vector, check_finite=False)
    return found[1][:, 0] if vector else found[0]


def _eigvals(a):
    """The eigenvalues of (A + A')/2, ascending."""
    return np.linalg.eigvalsh((a + a.T) / 2)


def _eigvecs(a):
    """Orthonormal eigenvectors of (A + A')/2, as columns, in the order of _eigvals."""
    return _eigh(a)[1]


def _eigh(a):
    """(eigenvalues ascending, orthonormal eigenvectors as columns) of (A + A')/2: the one
    factorization generated code computes for all the parts of A it uses (eigvals, eigvecmax…)."""
    return np.linalg.eigh((a + a.T) / 2)


def _svd(a):
    """(U, s descending, V') of the thin SVD A = U*diag(s)*V': the one factorization generated
    code computes for all the parts of A it uses (svdu, svdv, svdvals, normop)."""
    return np.linalg.svd(a, full_matrices=False)


def _svdu(a):
    """U of the thin SVD A = U*diag(s)*V', s descending (min(m, n) columns)."""
    return _svd(a)[0]


def _svdv(a):
    """V of the thin SVD A = U*diag(s)*V' (the same LAPACK call as _svdu: signs that pair)."""
    return _svd(a)[2].T


def _polar(a):
    """U*V' of the thin SVD A = U*diag(s)*V': the orthogonal factor of the polar decomposition."""
    u, _, vt = _svd(a)
    return u @ vt


def _svdtop(a):
    """u1*v1' for the top singular pair of A (the signs of u1 and v1 cancel)."""
    u, _, vt = _svd(a)
    return np.outer(u[:, 0], vt[0])


def _expm(a):
    """exp(A), by SciPy's scaling and squaring (Al-Mohy & Higham 2009)."""
    if not _finite(a):
        return np.full(np.shape(a), np.nan)    # as NumPy's arithmetic would
    return _scipy_linalg("expm").expm(a)


def _expm_frechet(a, e):
    """L(A, E), the Fréchet derivative of exp at A along E.

    The upper right block of exp([[A, E], [0, A]]) (Higham 2008, Functions of Matrices, (3.16)),
    computed from A's blocks alone as Al-Mohy & Higham (2009a, SIMAX 30(4), Algorithm 6.4) do: the
    [13/13] Padé approximant r = (V - U)⁻¹(V + U) and its derivative, then L ← R*L + L*R through
    the squarings (exp(A) itself is never formed); NumPy only.
    The number of squarings s is the one Al-Mohy & Higham (2009b, SIMAX 31(3), Algorithm 5.1)
    choose for that block matrix T, with E first scaled by a power of two to ‖A‖₁ so that T's
    backward error bounds E's as well as A's: from d4 = ‖T⁴‖^¼ and d6 = ‖T⁶‖^⅙ (bounding its d8 and
    d10 from above), often much smaller than ‖T‖ (θ13 = 4.25, SciPy's more cautious value than the
    paper's 5.37), then the ℓ(T, 13) correction, exact here as the largest column sum of |T|^27.
    The four polynomials of A's powers (and of their derivatives) are one small matrix product
    each, with the scaling's powers of c in their coefficients (no pass to scale a power).
    Products that share a right factor are one BLAS call on two blocks stacked, [X; Y]*Z (8.1 ms
    against 2 × 4.6 at n = 500): a polynomial in A commutes with A's powers, so A⁶*W1 is taken as
    W1*A⁶ and the derivative of W1*A⁶, LW1*A⁶ + W1*M⁶, beside it. Everything lives in one
    workspace of 16 blocks, filled in an order that keeps each stacked pair adjacent: one
    allocation (32 MB at n = 500), which glibc serves from pages already touched on the next call
    while it is within its 32 MB adaptive mmap threshold, where a dozen separate arrays took 7000
    page faults a call in a fresh process (a new 2 MB array: 500 faults, 1.7 ms on this machine)."""
    a_in, e_in = np.asarray(a), np.asarray(e)
    n = len(a_in)
    # (float32 input computed in float64, as before)
    work = np.empty((16, n, n), dtype=np.result_type(a_in, e_in, np.float64))

    def two(k):                                # blocks k and k + 1 as one 2n×n matrix
        return work[k:k + 2].reshape(2 * n, n)

    a, se = work[0], work[1]                   # A and scale·E, stacked for [A; sE]*A
    a[...] = a_in
    se[...] = e_in
    abs_a, abs_e = np.abs(a, out=work[12]), np.abs(se, out=work[13])   # kept for ℓ below
    a_cols, e_cols = np.sum(abs_a, axis=0), np.sum(abs_e, axis=0)
    a_norm, e_norm = np.max(a_cols, initial=0.0), np.max(e_cols, initial=0.0)
    # finite norms mean finite entries; an infinite norm may be a finite sum that overflowed
    if not np.isfinite(a_norm + e_norm) and not (np.all(np.isfinite(a))
                                                 and np.all(np.isfinite(se))):
        return np.full(np.shape(e_in), np.nan)    # as NumPy's arithmetic would
    if e_norm == 0:
        return np.zeros_like(e_in)
    # past ‖A‖₁ = 2^60 squarings taken up front, so that A⁶ and |T|^27 stay finite
    presquarings = max(0, int(np.ceil(np.log2(max(a_norm, 1.0)))) - 60)
    shrink = 2.0 ** -presquarings
    if presquarings:
        work[0:2] *= shrink
        a_cols, e_cols = a_cols * shrink, e_cols * shrink
        a_norm, e_norm = a_norm * shrink, e_norm * shrink
    ratio = np.log2(a_norm / e_norm) if a_norm > 0 else 0.0
    scale = 2.0 ** np.round(ratio) if abs(ratio) < 600 else 1.0    # E's factor, undone at the end
    se *= scale

    # blocks 2-7: A², M², A⁴, M⁴, A⁶, M⁶ (M^k = L(x^k, A, scale·E), T^k's upper right block)
    a2, m2, a4, m4, a6, m6 = work[2:8]
    np.matmul(two(0), a, out=two(2))           # A², sE·A
    m2 += np.matmul(a, se, out=work[8])
    np.matmul(two(2), a2, out=two(4))          # A⁴, M²·A²
    m4 += np.matmul(a2, m2, out=work[8])
    np.matmul(two(4), a2, out=two(6))          # A⁶, M⁴·A²
    m6 += np.matmul(a4, m2, out=work[8])

    def colsums(x):                            # column sums of |x|
        return np.sum(np.abs(x, out=work[8]), axis=0)

    t4, t6 = np.max(colsums(a4) + colsums(m4)), np.max(colsums(a6) + colsums(m6))
    eta = min(max(t4 ** 0.25, t6 ** (1 / 6)), max(t4 ** 0.25, (t4 * t6) ** 0.1))  # d8, d10 bounds
    s = max(int(np.ceil(np.log2(eta / 4.25))), 0) if eta > 0 else 0
    abs_a *= shrink * 2.0 ** -s
    abs_e *= shrink * scale * 2.0 ** -s
    left, right = np.ones(n), np.ones(n)       # 1'|2^-s T|^k, T's two column blocks
    for _ in range(27):
        left, right = left @ abs_a, left @ abs_e + right @ abs_a
    t1 = np.max(a_cols + scale * e_cols)
    alpha = max(left.max(), right.max()) / (t1 * 2.0 ** -s * 1.1325077560602111e35)
    if not np.isfinite(alpha):                  # |T|^27 overflowed: bound by ‖T‖₁ itself
        s = max(s, int(np.ceil(np.log2(t1 / 4.25))))
    elif alpha > 0:
        s += max(int(np.ceil(np.log2(alpha / 2.0 ** -53) / 26)), 0)

    c = 2.0 ** -s                               # T scaled by c: its powers here, A and E below
    b = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.)
    # W1 = b13 A⁶ + b11 A⁴ + b9 A², W2, Z1, Z2 (Alg. 6.4) of the scaled c·A, all four from one
    # product with the three powers, c^k folded into the coefficients; W1 and Z1 carry A⁶'s c⁶
    # too, so that W1·A⁶ needs the unscaled A⁶ (and W1·M⁶ the unscaled M⁶). Blocks 8-15:
    # Z1, W1, Z2, W2 from A's powers, LW2, LZ2, LW1, LZ1 from M's
    c2, c4, c6 = c ** 2, c ** 4, c ** 6
    w1 = [b[9] * c2 * c6, b[11] * c4 * c6, b[13] * c6 * c6]
    w2 = [b[3] * c2, b[5] * c4, b[7] * c6]
    z1 = [b[8] * c2 * c6, b[10] * c4 * c6, b[12] * c6 * c6]
    z2 = [b[2] * c2, b[4] * c4, b[6] * c6]
    np.matmul(np.array([z1, w1, z2, w2]), work[2:8:2].reshape(3, n * n),
              out=work[8:12].reshape(4, n * n))
    np.matmul(np.array([w2, z2, w1, z1]), work[3:8:2].reshape(3, n * n),
              out=work[12:16].reshape(4, n * n))
    v, w, lw, lv = work[10:14]
    product, other = work[2], work[3]           # A's and M's powers are done with
    np.matmul(two(8), a6, out=two(2))           # Z1·A⁶, W1·A⁶
    v += product
    w += other                                  # W = W1·c⁶A⁶ + W2
    np.matmul(two(14), a6, out=two(2))          # LW1·A⁶, LZ1·A⁶
    np.add(lw, product, out=lw)                 # (LW is read below as block 12, by two(11))
    lv += other
    np.matmul(two(8), m6, out=two(2))           # Z1·M⁶, W1·M⁶
    lv += product
    np.add(lw, other, out=lw)                   # LW = LW1·c⁶A⁶ + W1·c⁶M⁶ + LW2
    diagonal = np.s_[::n + 1]
    w.flat[diagonal] += b[1]
    v.flat[diagonal] += b[0]
    np.matmul(two(11), a, out=two(2))           # W·A, LW·A: U = c·W·A, LU = c(W·sE + LW·A)
    u, lu = product, other
    u *= c
    lu += np.matmul(w, se, out=work[4])
    lu *= c
    # r = q⁻¹p and its derivative q⁻¹(Lu + Lv + (Lu - Lv)*r), q = V - U, p = V + U: two solves
    # of n right-hand sides each (one of 3n, q⁻¹[p, Lu + Lv, Lu - Lv], costs the same), in
    # NumPy's LAPACK (SciPy's brings its own OpenBLAS, whose threads then compete with NumPy's
    # still spinning after the products: its LU took 4 to 65 ms here)
    q = np.subtract(v, u, out=work[4])
    lp = np.add(lu, lv, out=work[5])
    r = np.linalg.solve(q, np.add(v, u, out=work[6]))
    lp += np.matmul(np.subtract(lu, lv, out=work[7]), r, out=work[8])
    frechet = np.linalg.solve(q, lp)
    s += presquarings
    if s:                                       # L(2A, 2E) = R*L + L*R with R = exp(A)
        pair, spare = work[0:2], work[2:4]
        pair[0], pair[1] = r, frechet
        for _ in range(s - 1):
            np.matmul(pair.reshape(2 * n, n), pair[0], out=spare.reshape(2 * n, n))   # R², L·R
            spare[1] += np.matmul(pair[0], pair[1], out=work[4])
            pair, spare = spare, pair
        frechet = pair[1] @ pair[0]            # a new array: the workspace is not kept alive
        frechet += np.matmul(pair[0], pair[1], out=work[4])
    frechet /= scale
    return frechet


def _chol(a):
    """The lower Cholesky factor L of (A + A')/2 = L*L' (positive definite). SciPy's where it is
    installed: the triangular solves that follow a factor run in SciPy's own OpenBLAS, and after
    NumPy's factorization its threads compete with NumPy's, still spinning (a 500×500 factor
    then two solves with it: 29 ms, against 15 ms all in SciPy)."""
    s = (a + a.T) / 2
    try:
        from scipy.linalg import cholesky
    except ImportError:
        return np.linalg.cholesky(s)
    if not _finite(s):
        return np.linalg.cholesky(s)            # NumPy's answer to nan and inf
    return cholesky(s, lower=True, check_finite=False)


def _trilhalf(a):
    """Φ(A) of Murray (2016): the lower triangle of A with its diagonal halved, in the one array
    np.tril makes, with the same bits as tril(A) - diag(diag(A))/2, which made four (500×500
    alone: 0.5 against 2.8 ms; no difference measurable in the whole Cholesky gradient)."""
    out = np.tril(a)
    diagonal = np.arange(min(out.shape))
    out[diagonal, diagonal] *= 0.5
    return out


def _sqrtm(a):
    """The principal square root of A (SciPy; A without eigenvalues on the closed negative axis)."""
    if not _finite(a):
        return np.full(np.shape(a), np.nan)    # as NumPy's arithmetic would
    return _scipy_linalg("sqrtm").sqrtm(a)


def _sqrtm_frechet(a, e):
    """L(A, E) of the principal square root: the X with sqrtm(A)*X + X*sqrtm(A) = E (SciPy)."""
    if not _finite(a, e):
        return np.full(np.shape(e), np.nan)    # as NumPy's arithmetic would
    linalg = _scipy_linalg("sqrtm")
    root = linalg.sqrtm(a)
    return linalg.solve_sylvester(root, root, e)


def _logm(a):
    """The principal logarithm of A (SciPy; A without eigenvalues on the closed negative axis)."""
    if not _finite(a):
        return np.full(np.shape(a), np.nan)    # as NumPy's arithmetic would
    return _scipy_linalg("logm").logm(a)


def _logm_frechet(a, e):
    """L(A, E) of the principal logarithm: the upper right block of logm([[A, E], [0, A]])
    (Higham 2008, Functions of Matrices, ch. 3; SciPy)."""
    if not _finite(a, e):
        return np.full(np.shape(e), np.nan)    # as NumPy's arithmetic would
    n = a.shape[0]
    return _scipy_linalg("logm").logm(np.block([[a, e], [np.zeros_like(a), a]]))[:n, n:]


def _solve_triangular(a, b, lower):
    """inv(A)*B for a triangular A (a Cholesky factor): SciPy's triangular solve, O(n²) per
    column; NumPy's general solve where SciPy is not installed."""
    try:
        from scipy.linalg import solve_triangular
    except ImportError:
        return np.linalg.solve(a, b)
    return solve_triangular(a, b, lower=lower, check_finite=False)   # nan in, nan out


def _finite(*arrays):
    """Are all entries finite (SciPy's matrix functions raise on others)?"""
    return all(np.all(np.isfinite(x)) for x in arrays)


def _scipy_linalg(function):
    """scipy.linalg, imported when a matrix function needs it (SciPy is an optional extra)."""
    try:
        import scipy.linalg
    except ImportError:
        raise ImportError(f'{function} needs SciPy: pip install "matcalc-symbolic[scipy]"') \
            from None
    return scipy.linalg


def _multi_dot(arrays, out=None):
    """A product of matrices in the cheapest order for their shapes, as np.linalg.multi_dot
    multiplies it (the same dynamic programme, the same order on ties), the order found once per
    tuple of shapes and kept: multi_dot searches again at every call, in time cubic in the chain's
    length (1.6 ms for 32 matrices), where a gradient is called again and again with one shape.
    The last product is written into `out` if given."""
    if len(arrays) < 3 or any(np.ndim(a) != 2 for a in arrays):
        result = np.linalg.multi_dot(arrays)     # (its out= takes only an exact C-ordered array)
        if out is None:
            return result
        np.copyto(out, result)
        return out
    dims = (arrays[0].shape[0],) + tuple(a.shape[1] for a in arrays)
    orders = _multi_dot.__dict__.setdefault("orders", {})
    split = orders.get(dims)
    if split is None:
        n = len(arrays)
        cost = [[0] * n for _ in range(n)]
        split = [[0] * n for _ in range(n)]
        for length in range(1, n):
            for i in range(n - length):
                j = i + length
                cost[i][j] = None
                for k in range(i, j):
                    c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                    if cost[i][j] is None or c < cost[i][j]:
                        cost[i][j], split[i][j] = c, k
        if len(orders) >= 256:      # shapes that keep changing: a bounded memory
            orders.clear()
        orders[dims] = split

    def product(i, j, into=None):
        if i == j:
            return arrays[i]
        return _dot(product(i, split[i][j]), product(split[i][j] + 1, j), into)

    return product(0, len(arrays) - 1, out)


def _dot(a, b, out=None):
    """a @ b for matrices, as (b' @ a')' where a is a transposed view and b has two or more
    columns but at most an eighth as many as a has rows: OpenBLAS multiplies a transposed left
    operand much slower than the same product transposed (measured on a 2-core Xeon with AVX-512:
    1024×1024 by 64 columns 3.7 against 2.5 ms, 1000×4000 by 50 14.2 against 7.3 ms, 2000×2000 by
    100 17.7 against 10.9 ms; a square b gains nothing, one column neither, so they are left
    alone). The result is then the transposed view of a C-ordered array; into `out` if given
    (its transpose takes the transposed product)."""
    if a.flags.f_contiguous and not a.flags.c_contiguous and 1 < b.shape[1] <= a.shape[0] // 8:
        if out is None:
            return (b.T @ a.T).T
        np.matmul(b.T, a.T, out=out.T)
        return out
    return np.matmul(a, b, out=out)
