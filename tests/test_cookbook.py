"""Cookbook: first-order gradient identities, each checked numerically.

Every row differentiates one expression with matcalc and hands the result to `check_gradient`,
which compares the generated NumPy gradient (a) entry by entry with central finite differences of
the input expression and (b) with `expected`, the textbook gradient written out by hand in NumPy.

Equation numbers "(NN)" refer to The Matrix Cookbook, Petersen & Pedersen, version November 15,
2012. Its layout is ours: the gradient of a scalar w.r.t. X has X's shape, (df/dX)_ij = df/dX_ij.
Rows without a number are standard derivations (chain rule / differentials), written out in a
comment.

`expected` receives the variables as keyword arguments (vectors 1-D, scalars floats, matrices 2-D);
unused ones are swallowed by `**_`. The scalar named `lambda` arrives as `_["lambda"]`.

Shapes: non-square wherever the identity allows, so that a transposition bug cannot hide. Where a
Gram matrix X'*X must be invertible, X's shape uses numbers (5 x 3) so that rows >= columns whatever
sizes the checker picks for named dimensions.
"""
import numpy as np
import pytest
from numeric import check_gradient

inv = np.linalg.inv
det = np.linalg.det


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _softmax(v):
    e = np.exp(v - np.max(v))
    return e / e.sum()


def _inv_t(X):
    """X^{-T}, the transpose of the inverse."""
    return inv(X).T


P = pytest.param

ROWS = [
    # ------------------------------------------------------------------ traces of products
    # (99)  d tr(X)/dX = I
    P("tr(X)", "X", None,
      lambda X, **_: np.eye(X.shape[0]), "normal", id="tr-X"),
    # (100) d tr(XA)/dX = A'   (tr(AX) = tr(XA))
    P("tr(A*X)", "X", {"X": ("m", "n"), "A": ("n", "m")},
      lambda A, **_: A.T, "normal", id="tr-AX"),
    # (103) d tr(X'A)/dX = A
    P("tr(X'*A)", "X", {"X": ("m", "n"), "A": ("m", "n")},
      lambda A, **_: A, "normal", id="tr-XtA"),
    # (101) d tr(AXB)/dX = A'B'
    P("tr(A*X*B)", "X", {"A": ("p", "m"), "X": ("m", "n"), "B": ("n", "p")},
      lambda A, B, **_: A.T @ B.T, "normal", id="tr-AXB"),
    # (102) d tr(AX'B)/dX = BA
    P("tr(A*X'*B)", "X", {"A": ("p", "n"), "X": ("m", "n"), "B": ("m", "p")},
      lambda A, B, **_: B @ A, "normal", id="tr-AXtB"),
    # (108) d tr(X'BX)/dX = BX + B'X
    P("tr(X'*A*X)", "X", {"X": ("m", "n"), "A": ("m", "m")},
      lambda X, A, **_: A @ X + A.T @ X, "normal", id="tr-XtAX"),
    # (111) d tr(XBX')/dX = XB' + XB
    P("tr(X*A*X')", "X", {"X": ("m", "n"), "A": ("n", "n")},
      lambda X, A, **_: X @ A.T + X @ A, "normal", id="tr-XAXt"),
    # (106) d tr(X^2)/dX = 2X'
    P("tr(X^2)", "X", None,
      lambda X, **_: 2 * X.T, "normal", id="tr-X2"),
    # (121) d tr(X^k)/dX = k (X^(k-1))', k = 3
    P("tr(X^3)", "X", None,
      lambda X, **_: 3 * (X @ X).T, "normal", id="tr-X3"),
    # (115) d tr(X'X)/dX = 2X
    P("tr(X'*X)", "X", {"X": ("m", "n")},
      lambda X, **_: 2 * X, "normal", id="tr-XtX"),
    # (114) d tr(AXBX)/dX = A'X'B' + B'X'A'
    P("tr(A*X*B*X)", "X", {"A": ("n", "m"), "X": ("m", "n"), "B": ("n", "m")},
      lambda A, X, B, **_: A.T @ X.T @ B.T + B.T @ X.T @ A.T, "normal", id="tr-AXBX"),
    # (117) d tr(X'BXC)/dX = BXC + B'XC'
    P("tr(X'*B*X*C)", "X", {"X": ("m", "n"), "B": ("m", "m"), "C": ("n", "n")},
      lambda X, B, C, **_: B @ X @ C + B.T @ X @ C.T, "normal", id="tr-XtBXC"),
    # (119) d tr((AXB+C)(AXB+C)')/dX = 2A'(AXB+C)B'
    P("tr((A*X*B + C)*(A*X*B + C)')", "X",
      {"A": ("p", "m"), "X": ("m", "n"), "B": ("n", "q"), "C": ("p", "q")},
      lambda A, X, B, C, **_: 2 * A.T @ (A @ X @ B + C) @ B.T, "normal", id="tr-AXBC-sq"),

    # ------------------------------------------------------------------ inverses
    # (124) d tr(A inv(X) B)/dX = -X^{-T} A' B' X^{-T}
    P("tr(A*inv(X)*B)", "X", {"A": ("p", "n"), "X": ("n", "n"), "B": ("n", "p")},
      lambda A, X, B, **_: -_inv_t(X) @ A.T @ B.T @ _inv_t(X), "normal", id="tr-AinvXB"),
    # (61)  d a' inv(X) b/dX = -X^{-T} a b' X^{-T}
    P("a'*inv(X)*b", "X", None,
      lambda a, X, b, **_: -_inv_t(X) @ np.outer(a, b) @ _inv_t(X), "normal", id="a-invX-b"),
    # (64) with A = 0:  d tr(inv(X))/dX = -(inv(X) inv(X))'
    P("tr(inv(X))", "X", None,
      lambda X, **_: -(inv(X) @ inv(X)).T, "normal", id="tr-invX"),
    # (64)  d tr(inv(X + A))/dX = -(inv(X+A) inv(X+A))'
    P("tr(inv(X + A))", "X", None,
      lambda X, A, **_: -(inv(X + A) @ inv(X + A)).T, "positive", id="tr-inv-XplusA"),
    # (62)  d det(inv(X))/dX = -det(inv(X)) X^{-T}
    P("det(inv(X))", "X", None,
      lambda X, **_: -det(inv(X)) * _inv_t(X), "positive", id="det-invX"),

    # ------------------------------------------------------------------ determinants
    # (49)  d det(X)/dX = det(X) X^{-T}
    P("det(X)", "X", None,
      lambda X, **_: det(X) * _inv_t(X), "normal", id="det-X"),
    # (57)  d ln|det X|/dX = X^{-T}
    P("log(det(X))", "X", None,
      lambda X, **_: _inv_t(X), "positive", id="log-det-X"),
    # (57)  the same through logdet
    P("logdet(X)", "X", None,
      lambda X, **_: _inv_t(X), "positive", id="logdet-X"),
    # (51)  d det(AXB)/dX = det(AXB) X^{-T}   (A, B square and invertible)
    P("det(A*X*B)", "X", {"A": ("n", "n"), "X": ("n", "n"), "B": ("n", "n")},
      lambda A, X, B, **_: det(A @ X @ B) * _inv_t(X), "positive", id="det-AXB"),
    # (54)  d det(X'AX)/dX = det(X'AX) (AX inv(X'AX) + A'X inv(X'A'X))   (A not symmetric)
    P("det(X'*A*X)", "X", {"X": (5, 3), "A": (5, 5)},
      lambda X, A, **_: det(X.T @ A @ X) * (A @ X @ inv(X.T @ A @ X)
                                            + A.T @ X @ inv(X.T @ A.T @ X)),
      "positive", id="det-XtAX"),
    # (55)  d ln det(X'X)/dX = 2 (X^+)' = 2 X inv(X'X)
    P("logdet(X'*X)", "X", {"X": (5, 3)},
      lambda X, **_: 2 * X @ inv(X.T @ X), "positive", id="logdet-XtX"),
    # (58)  d det(X^k)/dX = k det(X^k) X^{-T}, k = 2
    P("det(X^2)", "X", None,
      lambda X, **_: 2 * det(X @ X) * _inv_t(X), "positive", id="det-X2"),

    # ------------------------------------------------------------------ quadratic, bilinear forms
    # (81)  d x'Bx/dx = (B + B')x
    P("x'*A*x", "x", None,
      lambda x, A, **_: (A + A.T) @ x, "normal", id="xtAx"),
    # (69)  d a'x/dx = a
    P("a'*x", "x", None,
      lambda a, **_: a, "normal", id="atx"),
    # (70)  d a'Xb/dX = ab'
    P("a'*X*b", "X", {"a": ("m",), "X": ("m", "n"), "b": ("n",)},
      lambda a, b, **_: np.outer(a, b), "normal", id="atXb"),
    # (71)  d a'X'b/dX = ba'
    P("a'*X'*b", "X", {"a": ("n",), "X": ("m", "n"), "b": ("m",)},
      lambda a, b, **_: np.outer(b, a), "normal", id="atXtb"),
    # (72)  d a'Xa/dX = aa'
    P("a'*X*a", "X", None,
      lambda a, **_: np.outer(a, a), "normal", id="atXa"),
    # d(a'XX'b) = a'dX X'b + a'X dX'b  =>  a (X'b)' + b (X'a)' = (ab' + ba')X
    P("a'*X*X'*b", "X", {"a": ("m",), "X": ("m", "n"), "b": ("m",)},
      lambda a, X, b, **_: (np.outer(a, b) + np.outer(b, a)) @ X, "normal", id="atXXtb"),
    # (78)  d (Bx+b)'C(Dx+d)/dx = B'C(Dx+d) + D'C'(Bx+b)
    P("(A*x + b)'*C*(D*x + e)", "x",
      {"A": ("p", "n"), "x": ("n",), "b": ("p",), "C": ("p", "q"), "D": ("q", "n"),
       "e": ("q",)},
      lambda A, x, b, C, D, e, **_: A.T @ C @ (D @ x + e) + D.T @ C.T @ (A @ x + b),
      "normal", id="affine-bilinear"),
    # (77)  d b'X'Xc/dX = X(bc' + cb')
    P("b'*X'*X*c", "X", {"b": ("n",), "X": ("m", "n"), "c": ("n",)},
      lambda b, X, c, **_: X @ (np.outer(b, c) + np.outer(c, b)), "normal", id="btXtXc"),
    # (82)  d b'X'DXc/dX = D'Xbc' + DXcb'
    P("b'*X'*D*X*c", "X", {"b": ("n",), "X": ("m", "n"), "D": ("m", "m"), "c": ("n",)},
      lambda b, X, D, c, **_: D.T @ X @ np.outer(b, c) + D @ X @ np.outer(c, b),
      "normal", id="btXtDXc"),
    # (83)  d (Xb+c)'D(Xb+c)/dX = (D + D')(Xb+c)b'
    P("(X*b + c)'*D*(X*b + c)", "X",
      {"X": ("m", "n"), "b": ("n",), "c": ("m",), "D": ("m", "m")},
      lambda X, b, c, D, **_: np.outer((D + D.T) @ (X @ b + c), b), "normal", id="Xbc-D-Xbc"),

    # ------------------------------------------------------------------ norms
    # (131) d ||x||^2/dx = 2x
    P("norm2(x)^2", "x", None,
      lambda x, **_: 2 * x, "normal", id="norm2-x-sq"),
    # (132) d ||X||_F^2/dX = 2X
    P("norm2(X)^2", "X", {"X": ("m", "n")},
      lambda X, **_: 2 * X, "normal", id="frobenius-sq"),
    # (129) d ||x - a||/dx = (x - a)/||x - a||
    P("norm2(x - a)", "x", None,
      lambda x, a, **_: (x - a) / np.linalg.norm(x - a), "normal", id="norm2-x-minus-a"),
    # (129) + chain rule: d ||Ax - b||/dx = A'(Ax - b)/||Ax - b||
    P("norm2(A*x - b)", "x", {"A": ("m", "n"), "x": ("n",), "b": ("m",)},
      lambda A, x, b, **_: A.T @ (A @ x - b) / np.linalg.norm(A @ x - b), "normal",
      id="norm2-Ax-b"),
    # d ||Xa - b||^2 = 2(Xa - b)'dX a  =>  2(Xa - b)a'
    P("norm2(X*a - b)^2", "X", {"X": ("m", "n"), "a": ("n",), "b": ("m",)},
      lambda X, a, b, **_: 2 * np.outer(X @ a - b, a), "normal", id="norm2-Xa-b-sq"),

    # ------------------------------------------------------------------ elementwise chains
    P("sum(exp(X))", "X", {"X": ("m", "n")},
      lambda X, **_: np.exp(X), "normal", id="sum-exp-X"),
    P("sum(log(x))", "x", None,
      lambda x, **_: 1 / x, "positive", id="sum-log-x"),
    # d sum(tanh(Wx)) = (1 - tanh(Wx)^2)' dW x  =>  (1 - t.^2) x'
    P("sum(tanh(W*x))", "W", {"W": ("m", "n"), "x": ("n",)},
      lambda W, x, **_: np.outer(1 - np.tanh(W @ x) ** 2, x), "normal", id="sum-tanh-Wx-dW"),
    P("sum(tanh(W*x))", "x", {"W": ("m", "n"), "x": ("n",)},
      lambda W, x, **_: W.T @ (1 - np.tanh(W @ x) ** 2), "normal", id="sum-tanh-Wx-dx"),
    P("sum(X.^3)", "X", {"X": ("m", "n")},
      lambda X, **_: 3 * X ** 2, "normal", id="sum-X-cubed"),
    P("sum(sqrt(x))", "x", None,
      lambda x, **_: 1 / (2 * np.sqrt(x)), "positive", id="sum-sqrt-x"),
    # (sin x cos x)' = cos^2 x - sin^2 x = cos 2x
    P("sum(sin(x).*cos(x))", "x", None,
      lambda x, **_: np.cos(2 * x), "normal", id="sum-sin-cos"),

    # ------------------------------------------------------------------ Hadamard expressions
    P("sum(A.*X)", "X", {"A": ("m", "n"), "X": ("m", "n")},
      lambda A, **_: A, "normal", id="sum-hadamard-AX"),
    # x'(a.*x) = sum(a.*x.^2)  =>  2 a.*x
    P("x'*(a.*x)", "x", None,
      lambda x, a, **_: 2 * a * x, "normal", id="x-hadamard-ax"),
    P("sum((A.*X).^2)", "X", {"A": ("m", "n"), "X": ("m", "n")},
      lambda A, X, **_: 2 * A ** 2 * X, "normal", id="sum-hadamard-sq"),

    # ------------------------------------------------------------------ machine-learning losses
    # least squares: 2X'(Xw - y)
    P("norm2(X*w - y)^2", "w", {"X": ("m", "n"), "w": ("n",), "y": ("m",)},
      lambda X, w, y, **_: 2 * X.T @ (X @ w - y), "normal", id="least-squares"),
    # ridge: 2X'(Xw - y) + 2 lambda w
    P("norm2(X*w - y)^2 + lambda*norm2(w)^2", "w",
      {"X": ("m", "n"), "w": ("n",), "y": ("m",), "lambda": ()},
      lambda X, w, y, **_: 2 * X.T @ (X @ w - y) + 2 * _["lambda"] * w, "normal", id="ridge"),
    # logistic regression, z = y.*(Xw): d sum(log(1 + exp(-z))) = -X'(y .* sigmoid(-z))
    P("sum(log(exp(-y.*(X*w)) + vector(1)))", "w", {"X": ("m", "n"), "w": ("n",), "y": ("m",)},
      lambda X, w, y, **_: -X.T @ (y * _sigmoid(-y * (X @ w))), "normal", id="logistic-log-exp"),
    P("sum(softplus(-y.*(X*w)))", "w", {"X": ("m", "n"), "w": ("n",), "y": ("m",)},
      lambda X, w, y, **_: -X.T @ (y * _sigmoid(-y * (X @ w))), "normal", id="logistic-softplus"),
    # two-layer network, h = tanh(W1 x), r = W2 h - y:
    #   dL/dW2 = 2 r h',   dL/dW1 = ((W2' 2r) .* (1 - h.^2)) x'
    P("sum((W2*tanh(W1*x) - y).^2)", "W1",
      {"W1": ("p", "n"), "W2": ("q", "p"), "x": ("n",), "y": ("q",)},
      lambda W1, W2, x, y, **_: np.outer(
          (W2.T @ (2 * (W2 @ np.tanh(W1 @ x) - y))) * (1 - np.tanh(W1 @ x) ** 2), x),
      "normal", id="two-layer-dW1"),
    P("sum((W2*tanh(W1*x) - y).^2)", "W2",
      {"W1": ("p", "n"), "W2": ("q", "p"), "x": ("n",), "y": ("q",)},
      lambda W1, W2, x, y, **_: np.outer(2 * (W2 @ np.tanh(W1 @ x) - y), np.tanh(W1 @ x)),
      "normal", id="two-layer-dW2"),
    # relu layer: d sum(relu(Wx)) = [Wx > 0]' dW x  =>  [Wx > 0] x'   (almost everywhere)
    P("sum(relu(W*x))", "W", {"W": ("m", "n"), "x": ("n",)},
      lambda W, x, **_: np.outer((W @ x > 0).astype(float), x), "normal", id="relu-layer"),
    # softmax cross-entropy, s = softmax(Wx):  dW = (s - y)x',  dx = W'(s - y)
    P("logsumexp(W*x) - y'*W*x", "W", {"W": ("m", "n"), "x": ("n",), "y": ("m",)},
      lambda W, x, y, **_: np.outer(_softmax(W @ x) - y, x), "normal", id="softmax-xent-dW"),
    P("logsumexp(W*x) - y'*W*x", "x", {"W": ("m", "n"), "x": ("n",), "y": ("m",)},
      lambda W, x, y, **_: W.T @ (_softmax(W @ x) - y), "normal", id="softmax-xent-dx"),
    # d log(sum(exp(x))) = softmax(x)
    P("log(sum(exp(x)))", "x", None,
      lambda x, **_: _softmax(x), "normal", id="log-sum-exp-spelled"),
    P("logsumexp(x)", "x", None,
      lambda x, **_: _softmax(x), "normal", id="logsumexp"),
    # Gaussian negative log-likelihood in the covariance:  d(logdet S + a' inv(S) a)
    #   = S^{-T} - S^{-T} a a' S^{-T}   ((57) + (61))
    P("logdet(S) + a'*inv(S)*a", "S", None,
      lambda S, a, **_: _inv_t(S) - _inv_t(S) @ np.outer(a, a) @ _inv_t(S), "positive",
      id="gaussian-nll-cov"),

    # ------------------------------------------------------------------ compositions
    # M = X'X: d tr(inv(M)) = -tr(inv(M)^2 dM) = -2 tr(inv(M)^2 X' dX)  =>  -2 X inv(M)^2
    P("tr(inv(X'*X))", "X", {"X": (5, 3)},
      lambda X, **_: -2 * X @ inv(X.T @ X) @ inv(X.T @ X), "positive", id="tr-inv-XtX"),
    # M = X'X + I (symmetric): d logdet(M) = tr(inv(M) dM)  =>  2 X inv(M)
    P("logdet(X'*X + eye)", "X", {"X": ("m", "n")},
      lambda X, **_: 2 * X @ inv(X.T @ X + np.eye(X.shape[1])), "normal", id="logdet-XtX-eye"),
    # s = sigmoid(AXb): d sum(s) = (s - s.^2)' A dX b  =>  A'(s - s.^2) b'
    P("sum(sigmoid(A*X*b))", "X", {"A": ("p", "m"), "X": ("m", "n"), "b": ("n",)},
      lambda A, X, b, **_: np.outer(A.T @ (_sigmoid(A @ X @ b) - _sigmoid(A @ X @ b) ** 2), b),
      "normal", id="sum-sigmoid-AXb"),
    # product rule: sum(X) X/||X|| + ||X|| 1
    P("norm2(X)*sum(X)", "X", {"X": ("m", "n")},
      lambda X, **_: X.sum() * X / np.linalg.norm(X) + np.linalg.norm(X) * np.ones_like(X),
      "normal", id="norm-times-sum"),
    # Rayleigh quotient r = x'Ax/x'x:  ((A + A')x - 2 r x)/(x'x)
    P("x'*A*x/(x'*x)", "x", None,
      lambda x, A, **_: ((A + A.T) @ x - 2 * (x @ A @ x) / (x @ x) * x) / (x @ x), "normal",
      id="rayleigh-quotient"),
    # (100) + chain rule: d tr(AX)^2 = 2 tr(AX) A'
    P("tr(A*X)^2", "X", {"X": ("m", "n"), "A": ("n", "m")},
      lambda A, X, **_: 2 * np.trace(A @ X) * A.T, "normal", id="tr-AX-squared"),
    # d sum(exp(Xa)) = exp(Xa)' dX a  =>  exp(Xa) a'
    P("sum(exp(X*a))", "X", {"X": ("m", "n"), "a": ("n",)},
      lambda X, a, **_: np.outer(np.exp(X @ a), a), "normal", id="sum-exp-Xa"),
    # q = x'Ax > 0 on the positive domain: d sqrt(q) = (A + A')x/(2 sqrt(q))
    P("sqrt(x'*A*x)", "x", None,
      lambda x, A, **_: (A + A.T) @ x / (2 * np.sqrt(x @ A @ x)), "positive", id="sqrt-quadratic"),
    # d (a'diag(x)b) = d sum(a.*x.*b)  =>  a.*b
    P("a'*diag(x)*b", "x", None,
      lambda a, b, **_: a * b, "normal", id="diag-bilinear"),
    # d sum(diag(X).^2) = 2 diag(X)' d diag(X)  =>  2 Diag(diag(X))
    P("sum(diag(X).^2)", "X", None,
      lambda X, **_: 2 * np.diag(np.diag(X)), "normal", id="sum-diag-sq"),
    # M = A + X'CX:  d logdet(M) = tr(inv(M) dX'CX) + tr(inv(M) X'C dX)
    #   = (C X inv(M)) : dX + (C' X inv(M)') : dX   (cf. (108) at M = I)
    P("logdet(A + X'*C*X)", "X", {"A": ("n", "n"), "X": ("m", "n"), "C": ("m", "m")},
      lambda A, X, C, **_: (C @ X @ inv(A + X.T @ C @ X)
                            + C.T @ X @ inv(A + X.T @ C @ X).T), "positive", id="logdet-A-XtCX"),
]


@pytest.mark.parametrize("expr, wrt, shapes, expected, domain", ROWS)
def test_cookbook_gradient(expr, wrt, shapes, expected, domain):
    check_gradient(expr, wrt, shapes, expected=expected, domain=domain)


def test_cookbook_has_enough_rows():
    assert len(ROWS) >= 45
