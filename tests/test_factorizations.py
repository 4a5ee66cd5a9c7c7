"""Factorizations, spectral functions and matrix functions (issue 13): solve, pinv, lambdamax,
lambdamin, normnuc, normop, expm, chol, sqrtm, logm — a dozen real problems per family, each differentiated and
checked entry by entry against central finite differences at random points of its domain
(`numeric.check_gradient`), and against the textbook formula where there is one.

The domains: solve needs an invertible A (the inputs' square matrices are diagonally dominant),
chol a positive definite symmetric part (so are theirs; the self-check draws chol's operand as
X*X'/n + I, by the row's domain "spd");
pinv and normnuc a full-rank matrix, normop a simple top singular value, lambdamax/lambdamin a
simple extreme eigenvalue (random inputs have them almost surely); expm any square matrix; sqrtm
and logm one without eigenvalues on (-inf, 0] (the self-check shifts their operand there, by the
rows' domain "positive-spectrum"). Where a
derivative would need more than the rules give (the derivative of an eigenvector, the second
Fréchet derivative of expm, the Kronecker form of expm's), matcalc refuses.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from numeric import check_gradient, check_hessian

import matcalc


def _sym(a):
    return (a + a.T) / 2


def _top(a, k=-1):
    return np.linalg.eigh(_sym(a))[1][:, k]


def _outer_top(a, k=-1):
    u = _top(a, k)
    return np.outer(u, u)


def _polar(a):
    """U*V' written another way than matcalc's kernel: A*(A'*A)^(-1/2) at full column rank, or
    ((A*A')^(-1/2)*A) at full row rank."""
    if a.shape[0] >= a.shape[1]:
        return a @ np.linalg.inv(scipy.linalg.sqrtm(a.T @ a)).real
    return np.linalg.inv(scipy.linalg.sqrtm(a @ a.T)).real @ a


def _svdtop(a):
    """u1*v1' from the top eigenvector of A'*A (not from an SVD, as matcalc's kernel)."""
    v = np.linalg.eigh(a.T @ a)[1][:, -1]
    u = a @ v
    return np.outer(u / np.linalg.norm(u), v)


def _frechet_adjoint(a, g):
    """The gradient of tr(G'*expm(A)): L(A', G) (the adjoint Fréchet derivative)."""
    return scipy.linalg.expm_frechet(a.T, g, compute_expm=False)


# (expression, variable, shapes, symmetric variables, textbook gradient or None)
SOLVE = [
    ("sum(solve(A, b))", "b", None, (), lambda A, b: np.linalg.solve(A.T, np.ones(len(b)))),
    ("norm2(solve(A, b))^2", "b", None, (), None),
    ("norm2(solve(A, b))^2", "A", None, (), None),
    ("c'*solve(A, b)", "A", None, (),
     lambda A, b, c: -np.outer(np.linalg.solve(A.T, c), np.linalg.solve(A, b))),
    ("tr(solve(A, B))", "A", {"A": ("n", "n"), "B": ("n", "n")}, (), None),
    ("tr(solve(A, B))", "B", {"A": ("n", "n"), "B": ("n", "n")}, (),
     lambda A, B: np.linalg.inv(A).T),
    ("sum(solve(A, X).^2)", "X", None, (), None),
    # the Gaussian negative log-likelihood in its covariance S, and in its mean
    ("logdet(S) + (y - mu)'*solve(S, y - mu)", "S", {"mu": ("n",), "y": ("n",)}, {"S"},
     lambda S, mu, y: np.linalg.inv(S) - np.outer(np.linalg.solve(S, y - mu),
                                                  np.linalg.solve(S, y - mu))),
    ("logdet(S) + (y - mu)'*solve(S, y - mu)", "mu", {"mu": ("n",), "y": ("n",)}, {"S"},
     lambda S, mu, y: -2 * np.linalg.solve(S, y - mu)),
    # least squares through the pseudo-inverse, and plain functions of it (X tall, full rank)
    ("norm2(pinv(X)*y - z)^2", "X", {"X": ("m", "n")}, (), None),
    ("sum(pinv(X))", "X", {"X": ("m", "n")}, (), None),
    ("tr(pinv(X)*A)", "X", {"X": ("m", "n"), "A": ("m", "n")}, (), None),
    ("norm2(X*pinv(X)*y)^2", "y", {"X": ("m", "n")}, (), None),
]

SPECTRAL = [
    ("lambdamax(S)", "S", None, {"S"}, lambda S: _outer_top(S)),
    ("lambdamin(S)", "S", None, {"S"}, lambda S: _outer_top(S, 0)),
    ("lambdamax(X'*X)", "X", None, (), lambda X: 2 * X @ _outer_top(X.T @ X)),
    ("lambdamax(A)", "A", None, (), lambda A: _outer_top(A)),      # of (A + A')/2
    ("lambdamax(S) - lambdamin(S)", "S", None, {"S"},
     lambda S: _outer_top(S) - _outer_top(S, 0)),
    # a least-squares fit with a λmax regulariser
    ("norm2(A*X - B)^2 + alpha*lambdamax(X'*X)", "X", {"alpha": ()}, (), None),
    ("lambdamax(S + x*x')", "x", None, {"S"}, None),
    ("lambdamin(X'*X + eye)", "X", None, (), None),
    ("lambdamax(A*S*A')", "A", None, {"S"}, None),
    ("exp(lambdamax(S))", "S", None, {"S"}, None),
    ("lambdamax(S)^2", "S", None, {"S"}, lambda S: 2 * _lambda(S) * _outer_top(S)),
    ("lambdamin(inv(S))", "S", None, {"S"}, None),
    ("x'*S*x/(x'*x) - lambdamax(S)", "x", None, {"S"}, None),
]

NORMS = [
    ("normnuc(X)", "X", None, (), lambda X: _polar(X)),
    ("normop(X)", "X", None, (), lambda X: _svdtop(X)),
    # matrix completion / low-rank regression with a nuclear-norm regulariser
    ("norm2(X - Y)^2 + alpha*normnuc(X)", "X", {"alpha": ()}, (), None),
    ("normnuc(A*X)", "X", {"A": ("m", "m"), "X": ("m", "n")}, (), None),
    # a spectral-norm penalty on a weight matrix
    ("norm2(W*x - y)^2 + alpha*normop(W)^2", "W", {"alpha": ()}, (), None),
    ("normop(X*B)", "X", None, (), None),
    ("normnuc(X')", "X", None, (), lambda X: _polar(X)),
    ("normnuc(X - Y)", "Y", None, (), lambda X, Y: -_polar(X - Y)),
    ("normop(S)", "S", None, {"S"}, None),
    ("log(normnuc(X))", "X", None, (), None),
    ("normop(X*inv(A))", "A", {"X": ("m", "n"), "A": ("n", "n")}, (), None),
    ("normnuc(X)*normop(X)", "X", None, (), None),
]

def _eig(S):
    """Eigenvalues (ascending) and eigenvectors of the symmetric part, by eig (not eigh) sorted."""
    w, u = np.linalg.eig(_sym(S))
    order = np.argsort(w.real)
    return w.real[order], u.real[:, order]


def _eig_gradient(S, weights):
    """U*diag(∂g/∂λ)*U' for the gradient ∂g/∂λ = weights(λ) (Magnus 1985)."""
    w, u = _eig(S)
    return u @ np.diag(weights(w)) @ u.T


# all the eigenvalues of a symmetric S (ascending) and the singular values of A (descending)
EIGVALS = [
    ("sum(eigvals(S).^2)", "S", None, {"S"}, lambda S: _eig_gradient(S, lambda w: 2 * w)),
    ("sum(eigvals(S).^2)", "S", None, (), lambda S: 2 * _sym(S)),      # = norm2(S)^2 of (S+S')/2
    ("sum(log(eigvals(S)))", "S", None, {"S"}, lambda S: np.linalg.inv(S)),    # = logdet(S)
    ("eigvals(S)'*w", "S", None, {"S"}, lambda S, w: _eig_gradient(S, lambda _: w)),
    ("sum(exp(eigvals(S)))", "S", None, {"S"}, lambda S: scipy.linalg.expm(S)),   # tr(expm(S))
    ("eigvals(X'*X)'*w", "X", None, (), None),
    ("sum(svdvals(A))", "A", {"A": ("m", "n")}, (), lambda A: _polar(A)),   # the nuclear norm
    ("sum(svdvals(A))", "A", {"A": ("n", "m")}, (), lambda A: _polar(A)),
    ("svdvals(A)'*w", "A", {"A": ("m", "n")}, (), None),
    ("svdvals(A)'*w", "w", {"A": ("m", "n")}, (), lambda A, w: np.linalg.svd(A, compute_uv=False)),
    ("sum(svdvals(A).^2)", "A", {"A": (4, 3)}, (), lambda A: 2 * A),   # = norm2(A)^2
    ("norm2(svdvals(A*B))^2", "B", None, (), None),
]

EXPM = [
    ("tr(expm(A))", "A", None, (), lambda A: scipy.linalg.expm(A).T),
    ("tr(expm(A)*B)", "A", {"B": ("n", "n")}, (), lambda A, B: _frechet_adjoint(A, B.T)),
    ("tr(expm(A)*B)", "B", {"B": ("n", "n")}, (), lambda A, B: scipy.linalg.expm(A).T),
    # system identification: x1 = expm(A)*x0 observed
    ("norm2(expm(A)*x0 - x1)^2", "A", None, (),
     lambda A, x0, x1: _frechet_adjoint(A, 2 * np.outer(scipy.linalg.expm(A) @ x0 - x1, x0))),
    ("norm2(expm(A)*x0 - x1)^2", "x0", None, (), None),
    ("sum(expm(A))", "A", None, (), None),
    ("c'*expm(A)*b", "A", None, (), lambda A, b, c: _frechet_adjoint(A, np.outer(c, b))),
    ("tr(expm(S))", "S", None, {"S"}, lambda S: scipy.linalg.expm(S)),
    ("norm2(expm(A))^2", "A", None, (), None),
    ("logsumexp(expm(A)*x)", "A", None, (), None),
    ("tr(expm(A + B))", "B", {"B": ("n", "n")}, (), None),
    ("x'*expm(A')*x", "A", None, (), None),
    ("tr(expm(alpha*A))", "alpha", {"alpha": ()}, (), None),
]


# the Gaussian negative log-likelihood through the Cholesky factor L of the covariance S, and a
# Gaussian-process log marginal likelihood with the kernel K = X*X' + sigma^2*eye
GAUSSIAN = "2*sum(log(diag(chol(S)))) + norm2(solve(chol(S), y - mu))^2"
GP = "norm2(solve(chol(K), y))^2/2 + sum(log(diag(chol(K)))) where K = X*X' + sigma^2*eye"
CHOL = [
    (GAUSSIAN, "S", {"mu": ("n",), "y": ("n",)}, {"S"},
     lambda S, mu, y: np.linalg.inv(S) - np.outer(np.linalg.solve(S, y - mu),
                                                  np.linalg.solve(S, y - mu))),
    (GAUSSIAN, "mu", {"mu": ("n",), "y": ("n",)}, {"S"},
     lambda S, mu, y: -2 * np.linalg.solve(S, y - mu)),
    (GAUSSIAN, "y", {"mu": ("n",), "y": ("n",)}, (), None),
    (GP, "X", {"sigma": ()}, (), None),
    (GP, "sigma", {"sigma": ()}, (), None),
    ("sum(chol(S))", "S", None, {"S"}, None),
    ("tr(chol(A)*B)", "A", {"B": ("n", "n")}, (), None),     # of (A + A')/2
    ("norm2(chol(S))^2", "S", None, {"S"}, lambda S: np.eye(len(S))),    # tr(L*L') = tr(S)
    ("sum(log(diag(chol(S))))", "S", None, {"S"}, lambda S: np.linalg.inv(S) / 2),
    ("x'*chol(S)*y", "S", None, {"S"}, None),
    ("norm2(chol(S)'*x)^2", "x", None, {"S"}, lambda S, x: 2 * S @ x),
    # a reparametrised Gaussian sample mu + L*z against a target
    ("norm2(mu + chol(S)*z - y)^2", "S", {"mu": ("n",)}, {"S"}, None),
]


def _sqrtm(a):
    return np.real(scipy.linalg.sqrtm(a))


# the Bures–Wasserstein distance between covariances S and T, and the quantum (von Neumann)
# relative entropy, the matrix KL divergence
BURES = "tr(S + T - 2*sqrtm(sqrtm(S)*T*sqrtm(S)))"
KL = "tr(S*(logm(S) - logm(T)) - S + T)"
ROOTS = [
    ("tr(sqrtm(A)*B)", "A", {"B": ("n", "n")}, (),
     lambda A, B: scipy.linalg.solve_sylvester(_sqrtm(A).T, _sqrtm(A).T, B.T)),
    ("tr(logm(A)*B)", "A", None, (), None),
    ("norm2(sqrtm(S))^2", "S", None, {"S"}, lambda S: np.eye(len(S))),     # = tr(S)
    (BURES, "T", None, {"S", "T"},
     lambda S, T: np.eye(len(S)) - _sqrtm(S) @ np.linalg.inv(_sqrtm(_sqrtm(S) @ T @ _sqrtm(S)))
     @ _sqrtm(S)),
    (BURES, "S", None, {"S", "T"}, None),
    (KL, "S", None, {"S", "T"},
     lambda S, T: np.real(scipy.linalg.logm(S) - scipy.linalg.logm(T))),
    (KL, "T", None, {"S", "T"}, None),
    ("tr(logm(S))", "S", None, {"S"}, lambda S: np.linalg.inv(S)),          # = logdet(S)
    ("tr(logm(A))", "A", None, (), lambda A: np.linalg.inv(A).T),
    ("norm2(logm(S) - logm(T))^2", "S", None, {"S", "T"}, None),             # log-Euclidean
    ("x'*sqrtm(S)*x", "S", None, {"S"}, None),
    ("sum(sqrtm(A))", "A", None, (), None),
]


def _lambda(S):
    return np.linalg.eigvalsh(_sym(S))[-1]


def _cases(table, family):
    return [pytest.param(*row, id=f"{family}: {row[0]} d/d{row[1]}") for row in table]


@pytest.mark.parametrize("expr, wrt, shapes, symmetric, expected",
                         _cases(SOLVE, "solve") + _cases(SPECTRAL, "spectral")
                         + _cases(EIGVALS, "eigvals/svdvals")
                         + _cases(NORMS, "norms") + _cases(EXPM, "expm") + _cases(CHOL, "chol")
                         + _cases(ROOTS, "sqrtm/logm"))
def test_gradient_matches_finite_differences(expr, wrt, shapes, symmetric, expected):
    domain = "positive" if any(f in expr for f in ("expm", "sqrtm", "logm")) else "normal"
    seeds = (0, 1)
    if "logm" in expr:      # SciPy's logm takes ~30 ms even at 3×3: one point, 3×3 matrices
        seeds = (0,)
        shapes = {**(shapes or {}), **{n: (3, 3) for n in "ABST" if n in expr}}
    d = check_gradient(expr, wrt, shapes=shapes, symmetric=set(symmetric), domain=domain,
                       expected=expected, seeds=seeds)
    assert d.error is not None and d.error < 1e-6


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("b'*solve(A, b)", "b", None),                                  # inv(A) + inv(A)'
    ("c'*solve(A, b)", "A", None),                                  # a Hessian map
    ("norm2(expm(A)*x0 - x1)^2", "x0", None),                       # 2*expm(A)'*expm(A)
    ("sum(solve(A, X).^2)", "X", None),
    ("norm2(chol(S)'*x)^2", "x", None),                             # 2*S (S = L*L')
    ("sum(log(diag(chol(S))))", "S", None),                         # of logdet(S)/2
    ("norm2(pinv(X)*y - z)^2", "y", {"X": ("m", "n")}),             # 2*pinv(X)'*pinv(X)
    ("sum(pinv(X))", "X", {"X": (4, 3)}),                           # a Hessian map
    (GP, "sigma", {"sigma": ()}),                                   # through chol and solve
])
def test_hessians(expr, wrt, shapes):
    check_hessian(expr, wrt, shapes, domain="positive")


def test_the_sum_of_the_top_k_eigenvalues():
    """λ3 + λ4 of a 4×4 S (a Ky Fan norm) as eigvals(S)'*c with c = (0, 0, 1, 1): the gradient
    u3*u3' + u4*u4', against central differences of the sum of the two largest eigenvalues."""
    d = matcalc.derive("eigvals(S)'*c", wrt="S", shapes={"S": (4, 4), "c": (4,)},
                       symmetric={"S"})
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 4))
    S, c = X + X.T, np.array([0.0, 0.0, 1.0, 1.0])
    g = d.numpy()(S=S, c=c)
    u = np.linalg.eigh(S)[1]
    np.testing.assert_allclose(g, u[:, 2:] @ u[:, 2:].T, atol=1e-12)
    top2 = lambda M: np.sum(np.linalg.eigvalsh(M)[2:])
    h = 1e-6
    for i, j in [(0, 0), (0, 1), (2, 3)]:
        E = np.zeros((4, 4))
        E[i, j] = E[j, i] = 1.0
        assert abs((top2(S + h * E) - top2(S - h * E)) / (2 * h) - np.sum(g * E)) < 1e-7


def test_sum_of_singular_values_is_the_nuclear_norm():
    """Its gradient is the one of normnuc, polar(A), reached by the rules svd-polar."""
    a = matcalc.derive("sum(svdvals(A))", wrt="A", shapes={"A": ("m", "n")})
    b = matcalc.derive("normnuc(A)", wrt="A", shapes={"A": ("m", "n")})
    assert str(a) == str(b) == "polar(A)"
    assert "svd-polar" in [s.rule for s in a.steps] and a.error < 1e-8


def test_singular_values_have_min_m_n_entries():
    d = matcalc.derive("svdvals(A)'*w", wrt="A", shapes={"A": ("m", "n")})
    assert d.problem.variables["w"] == ("min(m,n)", 1)
    rng = np.random.default_rng(0)
    for shape in [(5, 3), (3, 5)]:
        A, w = rng.standard_normal(shape), rng.standard_normal(3)
        u, _, vt = np.linalg.svd(A, full_matrices=False)
        np.testing.assert_allclose(d.numpy()(A=A, w=w), u @ np.diag(w) @ vt, atol=1e-12)
    # numbers for dimensions: the smaller one
    assert matcalc.derive("svdvals(A)'*w", wrt="w", shapes={"A": (6, 4)}).problem \
        .variables["w"] == (4, 1)


def test_min_m_n_unifies_with_itself_and_nothing_else():
    # min(m,n) of A m×n and of B n×m are one length; of B m×k another (k is not n)
    d = matcalc.derive("svdvals(A)'*svdvals(B)", wrt="A",
                       shapes={"A": ("m", "n"), "B": ("n", "m")})
    assert d.error < 1e-8
    with pytest.raises(matcalc.ShapeError, match=r"1×min\(m,n\).*length min\(k,m\)"):
        matcalc.derive("svdvals(A)'*svdvals(B)", wrt="A", shapes={"A": ("m", "n"), "B": ("m", "k")})
    # an unknown square S takes the length min(m,n); numbers give numbers
    d = matcalc.derive("svdvals(A)'*eigvals(S)", wrt="S", shapes={"A": ("m", "n")},
                       symmetric={"S"})
    assert d.problem.variables["S"] == ("min(m,n)", "min(m,n)") and d.error < 1e-8
    assert matcalc.derive("svdvals(A)'*eigvals(S)", wrt="A", shapes={"A": (4, 6)}) \
        .problem.variables["S"] == (4, 4)


@pytest.mark.parametrize("expr, shapes, match", [
    ("sum(eigvals(X))", {"X": ("m", "n")}, "eigvals cannot take X \\(m×n\\)"),
    ("sum(svdvals(alpha))", {}, "svdvals cannot take alpha \\(a scalar\\)"),
    ("sum(svdvals(x))", {}, "svdvals cannot take x \\(a vector"),
    ("sum(eigvals(alpha))", {}, "eigvals cannot take alpha"),
    ("sum(X\\b)", {"X": ("m", "n"), "b": ("m",)}, "operator '\\\\' cannot combine X \\(m×n\\) with b"),
    ("sum(A\\b)", {"A": ("n", "n"), "b": ("m",)}, "operator '\\\\' cannot combine A \\(n×n\\) with b \\(a vector of length m\\)"),
    ("svdvals(A)'*w", {"A": (5, 3), "w": (5,)}, "cannot combine"),
])
def test_hostile_spectral_inputs(expr, shapes, match):
    with pytest.raises(matcalc.ShapeError, match=match) as err:
        matcalc.derive(expr, wrt="alpha" if "alpha" in expr else expr[expr.index("(") + 1],
                       shapes=shapes)
    assert "^" in str(err.value)        # a caret under the operator's span


def test_backslash_is_solve():
    a = matcalc.derive("y'*(S\\y)", wrt="S", symmetric={"S"})
    b = matcalc.derive("y'*solve(S, y)", wrt="S", symmetric={"S"})
    assert str(a) == str(b) and a.error < 1e-8
    assert a.problem.text == "y'*(S\\y)"          # the input as written
    # left-associative, with * and /: A\B*c is (A\B)*c
    d = matcalc.derive("sum(A\\B*c)", wrt="c", shapes={"B": ("n", "n")})
    assert d.error < 1e-8
    # the input, backslash and all, in the generated docstring: escaped (\x, \N, \u would not
    # compile), and in LaTeX as a character, not a command
    import warnings
    for text in ["sum(A\\x)", "sum(A\\u)", "sum(A\\N)"]:
        d = matcalc.derive(text, wrt="A")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(d.source, "<generated>", "exec")
        assert "\\char92" in d.latex(standalone=True)
    with pytest.raises(matcalc.ParseError, match="column 1") as err:
        matcalc.derive("\\A", wrt="A")
    assert "^" in str(err.value)


def test_chol_code_solves_by_substitution():
    """No inverse and no general solve with a Cholesky factor: triangular solves (SciPy)."""
    for expr, wrt, kwargs in [(GAUSSIAN, "S", {"symmetric": {"S"}}), (GAUSSIAN, "mu", {}),
                              (GP, "X", {"shapes": {"sigma": ()}}),
                              (GP, "sigma", {"shapes": {"sigma": ()}}),
                              ("logdet(S) + (y - mu)'*solve(S, y - mu)", "mu", {})]:
        source = matcalc.derive(expr, wrt=wrt, **kwargs).source
        body = source[source.index("def grad_"):]
        assert "inv(" not in body.split('"""')[2], (expr, wrt)
        if "chol" in expr:
            assert "_solve_triangular(" in body and "np.linalg.solve(" not in body, (expr, wrt)


@pytest.mark.parametrize("expr, wrt, what, helper", [
    ("svdvals(A)'*w", "w", "svdvals", "_svdvals"),
    ("eigvals(S)'*w", "w", "eigvalsh", "_eigvals"),
    ("sum(eigvals(S).^2)", "S", "eigh", "_eigh"),     # U*diag(2*lambda)*U': one eigh for both
])
def test_the_array_api_code_refuses_a_missing_linalg_function(expr, wrt, what, helper):
    """A library without the (optional) linalg function: a refusal naming it."""
    import types
    d = matcalc.derive(expr, wrt=wrt)
    namespace = types.SimpleNamespace(linalg=types.SimpleNamespace())
    code = d.code("array-api").replace("array_namespace(a)", "_bare")
    scope = {"_bare": namespace}
    exec(compile(code, "<generated>", "exec"), scope)   # noqa: S102 (matcalc's own output)
    with pytest.raises(NotImplementedError, match=f"no linalg.{what}"):
        scope[helper](np.eye(3))


@pytest.mark.parametrize("expr, wrt, note", [
    ("lambdamax(S)", "S", "lambdamax: holds where the largest eigenvalue is simple"),
    ("lambdamin(X'*X)", "X", "lambdamin: holds where the smallest eigenvalue is simple"),
    ("normnuc(X)", "X", "normnuc: holds where its argument has full rank"),
    ("normop(X)", "X", "normop: holds where the largest singular value is simple"),
    ("sum(pinv(X))", "X", "pinv: holds where its argument has full rank"),
    ("sum(eigvals(S).^2)", "S", "eigvals: holds where the eigenvalues are distinct"),
    ("svdvals(X)'*w", "X", "svdvals: holds where the singular values are distinct and nonzero"),
])
def test_conditions_are_stated_as_notes(expr, wrt, note):
    d = matcalc.derive(expr, wrt=wrt)
    assert any(n.startswith(note) for n in d.notes), d.notes
    assert note.split(":")[0] in d.to_json()["notes"][0]


def test_smooth_operators_have_no_notes():
    assert matcalc.derive("tr(expm(A)*B) + sum(solve(A, b))", wrt="A").notes == []


def test_results_name_the_factorization_operators():
    assert str(matcalc.derive("lambdamax(S)", wrt="S", symmetric={"S"})) == \
        "u*u' where u = eigvecmax(S)"
    assert str(matcalc.derive("normnuc(X)", wrt="X")) == "polar(X)"
    assert str(matcalc.derive("tr(expm(A)*B)", wrt="A")) == "expmfrechet(A', B')"
    d = matcalc.derive("lambdamax(S)", wrt="S", symmetric={"S"})
    assert r"u_{\max}" in d.latex() and "lambdamax" in [s.rule for s in d.steps]


def test_results_name_the_parts_of_a_factorization_in_where():
    """U and lambda of S, as a user binding would be named; the text reads back as input and
    means the same gradient; a name the input uses is not taken."""
    d = matcalc.derive("sum(log(eigvals(S)))", wrt="S", symmetric={"S"})
    assert str(d) == "U*diag(lambda.^-1)*U' where U = eigvecs(S), lambda = eigvals(S)"
    assert d.to_json()["where"] == {"U": "eigvecs(S)", "lambda": "eigvals(S)"}
    assert r"\lambda = \lambda\left(S\right)" in d.latex()
    check = matcalc.check("sum(log(eigvals(S)))", wrt="S", claim=str(d), symmetric={"S"})
    assert check.correct
    d = matcalc.derive("svdvals(A)'*w + lambda*sum(U)", wrt="A")
    assert str(d) == "U2*diag(w)*V' where U2 = svdu(A), V = svdv(A)"
    assert d.error < 1e-8


def test_the_linear_map_of_expm_is_its_frechet_derivative():
    d = matcalc.derive("expm(A)", wrt="A")
    assert d.kind == "linear-map" and str(d) == "expmfrechet(A, d(A))"
    A, E = np.eye(3) + 0.1 * np.arange(9).reshape(3, 3), np.ones((3, 3))
    np.testing.assert_allclose(d.numpy()(A=A, dA=E),
                               scipy.linalg.expm_frechet(A, E, compute_expm=False), rtol=1e-12)
    with pytest.raises(matcalc.DifferentiationError, match="kvec"):
        d.vec()


def _block_frechet(a, e):
    """L(A, E) as the upper right block of expm([[A, E], [0, A]]) (Higham 2008, (3.16)): another
    algorithm than matcalc's kernel, which never forms the 2n×2n matrix."""
    n = len(a)
    return scipy.linalg.expm(np.block([[a, e], [np.zeros_like(a), a]]))[:n, n:]


def _kernel_cases():
    """(A, E) pairs where the kernel's choice of squarings is tested: small to large norms, far
    from normal (|A|'s powers much larger than A's), stiff, symmetric, E much smaller or larger."""
    rng = np.random.default_rng(7)
    for n in (1, 2, 6, 30):
        for norm in (1e-6, 0.5, 3.0, 20.0, 60.0):
            g = rng.standard_normal((n, n))
            for kind, a in (("normal", g), ("triangular", 3 * np.triu(g)),
                            ("symmetric", (g + g.T) / 2), ("stiff", g - 3 * np.eye(n))):
                a = a * norm / max(np.abs(a).sum(axis=0).max(), 1e-300)
                for e_scale in (1e-9, 1.0, 1e9):
                    yield pytest.param(a, e_scale * rng.standard_normal((n, n)),
                                       id=f"{kind}-n{n}-norm{norm:g}-E{e_scale:g}")


@pytest.mark.parametrize("a, e", list(_kernel_cases()))
def test_the_expm_frechet_kernel_matches_the_block_exponential(a, e):
    """matcalc's own L(A, E) (fewer squarings than SciPy's expm_frechet where ‖A^k‖^(1/k) is
    smaller than ‖A‖) agrees with the exponential of the block matrix to a few units of roundoff
    times exp's condition at A."""
    from matcalc.kernels import _expm_frechet
    reference = _block_frechet(a, e)
    error = np.linalg.norm(_expm_frechet(a, e) - reference) / np.linalg.norm(reference)
    assert error < 1e-12 * max(1.0, np.abs(a).sum(axis=0).max())


def test_the_expm_frechet_kernel_at_zero_and_at_infinity():
    from matcalc.kernels import _expm_frechet
    e = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(_expm_frechet(np.zeros((3, 3)), e), e, rtol=1e-15)   # L(0, E) = E
    np.testing.assert_array_equal(_expm_frechet(np.eye(3), np.zeros((3, 3))), np.zeros((3, 3)))
    assert np.isnan(_expm_frechet(np.array([[np.inf]]), np.ones((1, 1)))).all()
    # exp(-10^100 I) underflows to 0, and so does L: no overflow in A's powers on the way
    np.testing.assert_array_equal(_expm_frechet(-1e100 * np.eye(2), e[:2, :2]), np.zeros((2, 2)))


@pytest.mark.parametrize("size", [1e15, 1e25])
def test_the_expm_frechet_kernel_on_a_nilpotent_matrix_of_huge_norm(size):
    """exp(N) = I + N for N² = 0, so L(N, E) = E + (N*E + E*N)/2 + N*E*N/6 exactly; ‖N‖₁ = 1e15
    needs no squaring (‖N^k‖ = 0 past k = 1), 1e25 some taken before the powers are formed.
    SciPy's expm_frechet, scaling by ‖N‖₁ alone, is 3% off at 1e15 and 100% at 1e25."""
    from matcalc.kernels import _expm_frechet
    n, e = np.array([[0.0, size], [0.0, 0.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])
    exact = e + (n @ e + e @ n) / 2 + n @ e @ n / 6
    error = np.linalg.norm(_expm_frechet(n, e) - exact) / np.linalg.norm(exact)
    assert error < (1e-14 if size < 1e20 else 1e-7)


@pytest.mark.parametrize("expr, wrt, kwargs, match", [
    # the derivative of an eigenvector, of a polar factor, the second Fréchet derivative of expm:
    # no rule, so no answer (never a guess)
    ("sum(eigvecmax(S))", "S", {"symmetric": {"S"}}, "eigvecmax"),
    ("tr(polar(X))", "X", {}, "polar"),
])
def test_what_the_rules_do_not_give_is_refused(expr, wrt, kwargs, match):
    with pytest.raises(matcalc.DifferentiationError, match=match):
        matcalc.derive(expr, wrt=wrt, **kwargs)


@pytest.mark.parametrize("expr, wrt", [("lambdamax(S)", "S"), ("tr(expm(A)*B)", "A"),
                                       ("sum(log(eigvals(S)))", "S"),
                                       ("sum(svdvals(A))", "A")])
def test_hessians_the_rules_do_not_give_are_refused(expr, wrt):
    with pytest.raises(matcalc.DifferentiationError, match="no differential rule"):
        matcalc.hessian(expr, wrt=wrt)


@pytest.mark.parametrize("expr, match", [
    ("expm(x)", "expm"),                # a vector
    ("normnuc(x)", "normnuc"),
    ("solve(X, b)", "solve"),           # X is not square: declared m×n below
    ("lambdamax(X)", "lambdamax"),
    ("chol(X)", "chol"),
    ("logm(x)", "logm"),
    ("sqrtm(X)", "sqrtm"),
    ("pinv(x)", "pinv"),                # a vector: 1-D in generated code
    ("expm(alpha)", "expm"),            # a scalar
    ("lambdamax(alpha)", "lambdamax"),
])
def test_hostile_inputs_get_clear_errors(expr, match):
    with pytest.raises(matcalc.ShapeError, match=match):
        matcalc.derive(f"sum({expr})", wrt=expr[expr.index("(") + 1:].split(",")[0].rstrip(")"),
                       shapes={"X": ("m", "n")})


def test_import_does_not_load_scipy():
    import subprocess
    import sys
    code = "import sys, matcalc; matcalc.derive('tr(expm(A))', wrt='A', verify=False); " \
           "print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("expr, what", [("tr(expm(A))", "matrix exponential"),
                                        ("tr(logm(A))", "principal matrix logarithm"),
                                        ("tr(sqrtm(A))", "principal matrix square root")])
def test_the_array_api_code_refuses_what_the_standard_lacks(expr, what):
    d = matcalc.derive(expr, wrt="A")
    with pytest.raises(NotImplementedError, match=f"array API standard has no {what}"):
        d.array_api()(A=np.eye(3))


def test_generated_numpy_never_forms_an_inverse_for_solve():
    source = matcalc.derive("y'*solve(S, y) + sum(solve(A, B))", wrt="A").source
    assert "np.linalg.inv" not in source and "np.linalg.solve" in source


def test_an_overflow_before_expm_is_nan_not_an_error():
    # exp(tr(expm(S)*S)^3) overflows at the sampled points: SciPy's expm_frechet raises on inf,
    # the generated code gives nan (as NumPy's arithmetic would) and the self-check looks elsewhere
    d = matcalc.derive("alpha/(1 + exp(tr(expm(S)*S)^3/(1 + exp(alpha))))", wrt="S")
    assert np.isnan(d.error) or d.error < 1e-5
    S = np.full((3, 3), np.inf)
    assert np.all(np.isnan(d.numpy()(S=S, alpha=1.0)))


@pytest.mark.parametrize("backend", ["jax", "torch", "array-api"])
@pytest.mark.parametrize("expr, wrt, shapes, symmetric", [
    (GAUSSIAN, "S", {"mu": (4,), "y": (4,)}, {"S"}),          # solves with chol(S) and chol(S)'
    (GP, "sigma", {"sigma": (), "X": (4, 3)}, ()),            # inv(chol(K)) where it is needed
    ("sum(log(eigvals(S))) + svdvals(X)'*w", "S", {"X": (4, 3)}, {"S"}),
    ("sum(log(eigvals(S))) + svdvals(X)'*w", "X", {"X": (4, 3)}, {"S"}),
])
def test_other_backends_compute_what_numpy_computes(expr, wrt, shapes, symmetric, backend):
    """The triangular solves and the spectral helpers in JAX, PyTorch and the array API (SVD
    signs pair within one library, so U*diag(w)*V' agrees across libraries)."""
    from test_backends import _run
    if backend == "jax":
        pytest.importorskip("jax").config.update("jax_enable_x64", True)
    d = matcalc.derive(expr, wrt=wrt, shapes=shapes, symmetric=set(symmetric))
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 4))
    inputs = {"S": X @ X.T / 4 + np.eye(4), "mu": rng.standard_normal(4),
              "y": rng.standard_normal(4), "sigma": np.array(0.7), "X": rng.standard_normal((4, 3)),
              "w": rng.standard_normal(3)}
    inputs = {n: v for n, v in inputs.items() if n in d.problem.variables}
    np.testing.assert_allclose(np.asarray(_run(backend, d, inputs), dtype=float),
                               d.numpy()(**inputs), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("expr, wrt, helper, alone", [
    ("sum(exp(eigvals(S))) + lambdamax(S)^2", "S", "_eigh(", ("_eigvals(", "_eigvecs(",
                                                                 "_eigvecmax(", "_lambdamax(")),
    ("sum(svdvals(X).^3)", "X", "_svd(", ("_svdu(", "_svdv(", "np.linalg.svd(X, compute_uv")),
])
def test_the_parts_of_one_factorization_share_it(expr, wrt, helper, alone):
    """U, lambda and u of one matrix are read off one eigh of it (U, sigma, V off one SVD), in
    every backend; the gradient checked by finite differences."""
    d = check_gradient(expr, wrt, domain="symmetric" if wrt == "S" else "positive",
                       symmetric={"S"} if wrt == "S" else frozenset())
    for backend in ("numpy", "numba", "jax", "torch", "array-api"):
        body = d.code(backend).split(f"def grad_{wrt}")[1]
        assert body.count(helper) == 1, (backend, body)
        assert not any(a in body for a in alone), (backend, body)


@pytest.mark.parametrize("scipy_installed", [True, False])
def test_an_extreme_eigenpair_is_the_one_of_the_full_decomposition(scipy_installed, monkeypatch):
    """lambdamax, lambdamin and their eigenvectors take that one pair from SciPy's eigh where SciPy
    is installed, NumPy's full decomposition where it is not: the same pair either way (each
    eigenvector up to its sign), for n = 1 to 40, float64 and float32."""
    import sys

    from matcalc import kernels
    if not scipy_installed:
        monkeypatch.setitem(sys.modules, "scipy.linalg", None)     # `from scipy.linalg …` fails
    rng = np.random.default_rng(7)
    for n in (1, 2, 5, 40):
        for dtype in (np.float64, np.float32):
            a = rng.standard_normal((n, n)).astype(dtype)
            values, vectors = np.linalg.eigh(((a + a.T) / 2).astype(np.float64))
            tol = 1e-10 if dtype == np.float64 else 1e-4
            assert abs(kernels._lambdamax(a) - values[-1]) < tol
            assert abs(kernels._lambdamin(a) - values[0]) < tol
            for got, want in ((kernels._eigvecmax(a), vectors[:, -1]),
                              (kernels._eigvecmin(a), vectors[:, 0])):
                assert got.shape == (n,) and got.dtype == dtype
                assert min(np.max(np.abs(got - want)), np.max(np.abs(got + want))) < tol * 100
