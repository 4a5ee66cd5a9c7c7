"""Helper functions of the spectral operators and matrix functions, for the backends other than
NumPy (whose helpers are kernels.py's own functions, copied).

lambdamax, eigvecmax, … are those of the symmetric part (A + A')/2 (operators.py); polar(A) is
U*V' of the thin SVD, svdtop(A) is u1*v1'. The Fréchet derivative of expm, L(A, E), is the upper
right block of expm([[A, E], [0, A]]) (Higham 2008, Functions of Matrices, ch. 3) where a library
has no function for it. The array API standard has no matrix exponential: its helpers refuse.
"""
from __future__ import annotations

# The spectral helpers in the spelling of a library: `{xp}` its namespace, `{ns}` the first line
# of a body that needs one (the array API looks it up from the argument).
_SPECTRAL = {
    "_lambdamax": '''def _lambdamax(a):
    """The largest eigenvalue of (A + A')/2."""
{ns}    return {xp}.linalg.eigvalsh((a + a.T) / 2)[-1]''',
    "_lambdamin": '''def _lambdamin(a):
    """The smallest eigenvalue of (A + A')/2."""
{ns}    return {xp}.linalg.eigvalsh((a + a.T) / 2)[0]''',
    "_eigvecmax": '''def _eigvecmax(a):
    """A unit eigenvector of (A + A')/2 for its largest eigenvalue."""
    return _eigh(a)[1][:, -1]''',
    "_eigvecmin": '''def _eigvecmin(a):
    """A unit eigenvector of (A + A')/2 for its smallest eigenvalue."""
    return _eigh(a)[1][:, 0]''',
    "_eigvals": '''def _eigvals(a):
    """The eigenvalues of (A + A')/2, ascending."""
{ns}{eigvalsh}    return {xp}.linalg.eigvalsh((a + a.T) / 2)''',
    "_eigvecs": '''def _eigvecs(a):
    """Orthonormal eigenvectors of (A + A')/2, as columns, eigenvalues ascending."""
    return _eigh(a)[1]''',
    "_svdu": '''def _svdu(a):
    """U of the thin SVD A = U*diag(s)*V', s descending."""
    return _svd(a)[0]''',
    "_svdv": '''def _svdv(a):
    """V of the thin SVD A = U*diag(s)*V' (the same call as _svdu: signs that pair)."""
    return _svd(a)[2].T''',
    "_polar": '''def _polar(a):
    """U*V' of the thin SVD A = U*diag(s)*V'."""
    u, _, vt = _svd(a)
    return u @ vt''',
    "_svdtop": '''def _svdtop(a):
    """u1*v1' for the top singular pair of A."""
    u, _, vt = _svd(a)
    return u[:, 0:1] @ vt[0:1, :]''',
    "_eigh": '''def _eigh(a):
    """(eigenvalues ascending, eigenvectors as columns) of (A + A')/2, for all its parts."""
{ns}{eigh}    return {xp}.linalg.eigh((a + a.T) / 2)''',
    "_svd": '''def _svd(a):
    """(U, s descending, V') of the thin SVD A = U*diag(s)*V', for all its parts."""
{ns}{svd}    return {xp}.linalg.svd(a, full_matrices=False)''',
    "_chol": '''def _chol(a):
    """The lower Cholesky factor L of (A + A')/2 = L*L'."""
{ns}    return {xp}.linalg.cholesky((a + a.T) / 2)''',
}

# Φ(A): the lower triangle of A with its diagonal halved (the array API has no tril)
_TRILHALF = '''def _trilhalf(a):
    """The lower triangle of A with its diagonal halved."""
    return {xp}.tril(a) - {xp}.diag({xp}.diagonal(a)) / 2'''
_TRILHALF_ARRAY_API = '''def _trilhalf(a):
    """The lower triangle of A with its diagonal halved."""
    xp = array_namespace(a)
    i = xp.arange(a.shape[0])
    below = xp.astype(i[:, None] > i[None, :], a.dtype)
    on = xp.astype(i[:, None] == i[None, :], a.dtype)
    return a * (below + on / 2)'''


# the array API's linalg extension is optional, and a library may implement part of it: a helper
# that needs a function the namespace lacks says so, naming it
_PRESENT = '''    if not hasattr(getattr(xp, "linalg", None), "{function}"):
        raise NotImplementedError("this array library has no linalg.{function} (an optional part "
                                  "of the array API standard): use the NumPy, JAX or PyTorch code")
'''


def spectral_helpers(xp: str, namespace_line: str = "") -> dict[str, str]:
    """The helpers above for the library whose namespace is called `xp` in generated code; for
    the array API (`namespace_line` given), each first checks that the library has its function."""
    checks = {key: _PRESENT.format(function=key) if namespace_line else ""
              for key in ("eigvalsh", "eigh", "svd")}
    helpers = {name: source.format(xp=xp, ns=namespace_line, **checks)
               for name, source in _SPECTRAL.items()}
    helpers["_svdvals"] = '''def _svdvals(a):
    """The singular values of A, descending."""
{ns}{check}    return {xp}.linalg.svdvals(a)'''.format(
        xp=xp, ns=namespace_line,
        check=_PRESENT.format(function="svdvals") if namespace_line else "")
    helpers["_trilhalf"] = _TRILHALF_ARRAY_API if namespace_line else _TRILHALF.format(xp=xp)
    return helpers


JAX_EXPM = {
    "_expm": '''def _expm(a):
    """exp(A) (jax.scipy.linalg.expm)."""
    from jax.scipy.linalg import expm
    return expm(a)''',
    "_expm_frechet": '''def _expm_frechet(a, e):
    """L(A, E), the Fréchet derivative of exp at A along E (jax.scipy.linalg.expm_frechet)."""
    from jax.scipy.linalg import expm_frechet
    return expm_frechet(a, e, compute_expm=False)''',
}

TORCH_EXPM = {
    "_expm_frechet": '''def _expm_frechet(a, e):
    """L(A, E), the Fréchet derivative of exp at A along E: the upper right block of
    exp([[A, E], [0, A]]) (Higham 2008, Functions of Matrices, ch. 3)."""
    n = a.shape[0]
    block = torch.cat([torch.cat([a, e], 1), torch.cat([torch.zeros_like(a), a], 1)], 0)
    return torch.linalg.matrix_exp(block)[:n, n:]''',
}

def _refusal(name: str, args: str, library: str, what: str) -> str:
    return (f'''def {name}({args}):
    """{what}: not in {library}."""
    raise NotImplementedError("{library} has no {what}: use the NumPy (SciPy) code for it")''')


def scipy_only(library: str) -> dict[str, str]:
    """Helpers that refuse sqrtm and logm, which `library` lacks (they need SciPy)."""
    return {
        "_sqrtm": _refusal("_sqrtm", "a", library, "principal matrix square root"),
        "_sqrtm_frechet": _refusal("_sqrtm_frechet", "a, e", library,
                                   "principal matrix square root"),
        "_logm": _refusal("_logm", "a", library, "principal matrix logarithm"),
        "_logm_frechet": _refusal("_logm_frechet", "a, e", library, "principal matrix logarithm"),
    }


_NO_EXPM = ("raise NotImplementedError(\"the array API standard has no matrix exponential: "
            "use the NumPy (SciPy), JAX or PyTorch code for expm\")")
ARRAY_API_EXPM = {
    "_expm": f'''def _expm(a):
    """exp(A): not in the array API standard."""
    {_NO_EXPM}''',
    "_expm_frechet": f'''def _expm_frechet(a, e):
    """L(A, E), the Fréchet derivative of exp: not in the array API standard."""
    {_NO_EXPM}''',
}

__all__ = ["ARRAY_API_EXPM", "JAX_EXPM", "TORCH_EXPM", "scipy_only", "spectral_helpers"]
