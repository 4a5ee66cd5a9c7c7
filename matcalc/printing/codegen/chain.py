"""Matrix chains: the cheapest order of a product, and the forms the code printer treats apart.

A chain is the list of factors of a matrix product. `cheapest_order` picks the multiplication order
by dynamic programming over the factors' shapes (an unknown dimension weighs LARGE);
`order_depends_on_sizes` says when that order should rather be left to the arrays at call time;
`gram_form` recognises the symmetric products M'*M and M'*diag(v)*M; `inverse_of` recognises the
factors printed as solves.
"""
from __future__ import annotations

from ... import algebra
from ...ops import Node

LARGE = 1000   # the weight of an unknown dimension when ordering a matrix chain


def inverse_of(node: Node) -> tuple[Node, bool] | None:
    """(A, transposed?) for a factor inv(A) or inv(A)'; None otherwise."""
    if node.op == "inv":
        return node.args[0], False
    if node.op == "transpose" and node.args[0].op == "inv":
        return node.args[0].args[0], True
    return None


def _weight(d: object) -> int:
    if d == 1:
        return 1
    return d if isinstance(d, int) else LARGE


def gram_form(chain: list[Node]) -> tuple[Node, Node | None] | None:
    """(M, diag(v)) when the chain is M'*diag(v)*M, (M, None) when it is M'*M: a product that is
    symmetric whatever M and v are, such as the Gram matrix of a Gauss-Newton or logistic
    Hessian. None for anything else."""
    m = chain[-1]
    plain = not m.is_vector and m.op not in ("diagm", "fill") and inverse_of(m) is None
    if not plain or len(chain) not in (2, 3) or chain[0] != algebra.transpose(m):
        return None
    if len(chain) == 2:
        return m, None
    return (m, chain[1]) if chain[1].op == "diagm" else None


def order_depends_on_sizes(chain: list[Node]) -> bool:
    """Whether the best order of a product of three or more matrices depends on unknown
    dimensions. A chain with a vector is not such a chain: a product ending in a vector is best
    multiplied from that end whatever the sizes (each matrix is touched once, the least possible),
    and a vector inside a chain makes a rank-one factor the order starts from. Nor is a chain
    whose dimensions are all one: every order costs the same (and multi_dot's search at call time,
    cubic in the length, would cost more than the products of small matrices)."""
    plain = all(f.op not in ("diagm", "fill") and inverse_of(f) is None and not f.is_scalar
                and not f.is_vector for f in chain)
    dims = [chain[0].shape[0]] + [f.shape[1] for f in chain]
    return plain and len(chain) >= 3 and len(set(dims)) > 1 \
        and any(not isinstance(d, int) for d in dims)


def cheapest_order(chain: list[Node]) -> object:
    """Matrix-chain order by dynamic programming: a nested pair tree of chain indices.

    A diagonal factor costs as a scaling (rows × cols), not as a product.
    """
    n = len(chain)
    dims = [_weight(chain[0].shape[0])] + [_weight(f.shape[1]) for f in chain]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            cost[i][j] = None  # type: ignore[call-overload]
            for k in range(i, j):
                step = dims[i] * dims[k + 1] * dims[j + 1]
                if (k == i and chain[i].op == "diagm") or (k + 1 == j and chain[j].op == "diagm"):
                    step = dims[i] * dims[j + 1]
                c = cost[i][k] + cost[k + 1][j] + step
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def tree(i: int, j: int) -> object:
        if i == j:
            return i
        k = split[i][j]
        return (tree(i, k), tree(k + 1, j))

    return tree(0, n - 1)


def span_node(tree: object, chain: list[Node]) -> Node:
    """A node standing for a subtree of the chain (only its shape is used)."""
    idx = sorted(_leaves(tree))
    if len(idx) == 1:
        return chain[idx[0]]
    first, last = chain[idx[0]], chain[idx[-1]]
    return Node("span", (), (first.shape[0], last.shape[1]))


def _leaves(tree: object) -> list[int]:
    if isinstance(tree, int):
        return [tree]
    return _leaves(tree[0]) + _leaves(tree[1])  # type: ignore[index]


__all__ = ["LARGE", "cheapest_order", "gram_form", "inverse_of", "order_depends_on_sizes",
           "span_node"]
