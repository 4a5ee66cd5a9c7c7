"""Fused loops for the numba backend: each elementwise region of a result becomes one parallel loop.

NumPy evaluates `2 * a[:, None] * (w ** 2 - w * w * w)[None, :]` one operation at a time, a pass
over memory per operation, on one core. FusedPrinter prints the same expressions as CodePrinter
(NumPy, with BLAS for the matrix products) except that a *region* — a node and the operands below it
computed entry by entry at the same matrix shape: sums, Hadamard products and quotients, powers,
elementwise functions, scalings, outer products, products with a diagonal — becomes a call of a
kernel written for it:

    @numba.njit(parallel=True, cache=True)
    def _fused1_parallel(a, t, out):
        for i in numba.prange(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = 2 * a[i] * t[j]

one pass, every core (a serial twin of the loop runs where `out` has fewer than PARALLEL_SIZE
entries: waking the threads would cost more than the loop; numba compiles each on its first call
only). What a region reads are its *leaves*: names (bindings, temporaries, inputs),
operands of another shape (a vector broadcast into a matrix: computed once, by its own region if it
is one, never once per entry), scalars and anything that is not entry by entry (a matrix product, a
sum, a solve), printed as NumPy code. A Python wrapper gives each kernel its `out`: the caller's
buffer; for a result, a new array of the leaves' dtype (float32 in, float32 out); for an
intermediate, this thread's scratch buffer for the call site, kept from call to call (as is a
product of two matrices a loop reads: `_scratch_product`), so that a large array is not faulted
in page by page on every call. No fastmath: the loop
computes what NumPy computes, in the same order per entry, except exp: the loops call
numba_helpers' `_exp` (within 1 ulp of NumPy's), which LLVM vectorises where np.exp is a call per
entry.

A softmax or log-softmax along the rows of a matrix (`softmax(S, 2)`, `logsoftmax(S, 2)`) is an
entry of a region too: the loop over rows first finds the row's maximum m and s = Σ_j exp(S_ij - m)
(keeping the exponentials in the output's row), and the entry is exp(S_ij - m)/s, or
S_ij - m - log(s) — the same stable form as NumPy's `_softmax_along`, whose five passes over the
matrix (maximum, difference, exponential, sum, quotient) become one, on every core. (The row sum
is added in four interleaved partial sums where NumPy adds pairwise: the last bits of s can
differ.) The batched
cross-entropy gradient `(softmax(X*W', 2) - Y)'*X` computes softmax(…) - Y as one such loop.
"""
from __future__ import annotations

from fractions import Fraction

from ... import algebra
from ...operators import REGISTRY
from ...ops import Node, const_value
from ..readers.text import ATOM
from .code import CodePrinter, constant_value, two_matrices
from .signs import nonnegative


class FusedPrinter(CodePrinter):
    """CodePrinter whose elementwise regions are kernels (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)       # self.kernels: name → its loops and wrapper
        self._by_body: dict[str, str] = {}      # loop body → kernel name (a region met twice)
        self.scratch_sites = 0                  # call sites writing into a scratch buffer

    def print_with(self, node: Node) -> tuple[str, int]:
        if node not in self.names and self._region_root(node):
            call = self._fused(node, self._scratch_site())
            if call is not None:
                return call, ATOM
        return super().print_with(node)

    def print_result(self, node: Node) -> str:
        """A result's own kernel writes a new array (the caller keeps it), as does the kernel of a
        result that is its transpose; what they read is computed into scratch buffers as
        anywhere else."""
        inner = node.args[0] if node.op == "transpose" else node
        if inner not in self.names and self._region_root(inner):
            call = self._fused(inner, None)
            if call is not None:
                return f"{call}.T" if inner is not node else call
        return super().print_result(node)

    def _scratch_site(self) -> str:
        """The key (a string literal) of a new call site whose array is an intermediate: its
        kernel writes into this thread's buffer for the site, kept from call to call
        (numba_helpers._scratch). A fresh array of N×N doubles costs a page fault per 4 KiB
        page on its first write: attention's numba gradient at N = 1024 took 30.0 ms with new
        arrays and 26.5 ms with its five N×N intermediates in scratch buffers (medians of 15
        calls, jax.jit 27.2 ms in the same process)."""
        self.scratch_sites += 1
        return f"'s{self.scratch_sites}'"

    def _matrix_product(self, p, scale):
        """M'*v, a transposed matrix times a vector, as _transposed_matvec(M, v): for a tall M
        a parallel loop (OpenBLAS's gemv read a 100000×100 M at 12 GB/s); else M.T @ v."""
        transposed = p.factor("left", "transpose")
        if transposed is None or transposed.is_vector or not p.right.is_column or \
                p.right.is_row or p.factor("right", "fill") is not None:
            return super()._matrix_product(p, scale)
        vector, _ = self._sub(p.right_tree, p.chain)
        text = f"_transposed_matvec({self.print_with(transposed.args[0])[0]}, {vector})"
        self.helpers |= self.backend.helpers_in(text)
        return text, ATOM, False

    def _leaf_text(self, node: Node) -> tuple[str, int]:
        """A region's leaf as printed; a product of two matrices is computed into a scratch
        buffer (BLAS writes it there: np.matmul(a, b, out=…)), the loop being its only reader."""
        if two_matrices(node):
            left, right = (self.print_with(a)[0] for a in node.args)
            text = f"_scratch_product({left}, {right}, {self._scratch_site()})"
            self.helpers |= self.backend.helpers_in(text)
            return text, ATOM
        return self.print_with(node)

    def print_into(self, node: Node, target: str) -> list[str]:
        if node not in self.names and self._region_root(node):
            call = self._fused(node, target)
            if call is not None:
                return [call]
        return super().print_into(node, target)

    # -- regions ------------------------------------------------------------------------------------
    def computed_in_loops(self, node: Node) -> bool:
        """Whether a loop computes `node` wherever it is used: a subexpression it repeats is
        a local of the loop (computed once per entry), not a temporary array (a pass of its own).
        Not a region that reads a computed array (a product, a reduction, another region): the
        loop would be cheap to repeat, that array not — attention's gradient used the region
        `(T*V').*P` twice and computed `T*V'` four times."""
        return self._region_root(node) and all(_stored(leaf) for leaf in self._leaves(node))

    def _leaves(self, root: Node) -> list[Node]:
        """What the region of `root` reads (see _Region), found without printing anything."""
        leaves, pending, seen = [], [root], set()
        while pending:
            node = pending.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.op in ROW_FUNCTIONS and (node is root or self._entrywise(node, root.shape)):
                scalars, matrix = _scaled(node.args[0])     # read row by row (_Region._count)
                leaves.extend([*scalars, matrix])
            elif node is root or self._entrywise(node, root.shape):
                pending.extend(node.args)
            elif (summed := _row_sum(node, root)) is not None:    # read row by row (_Region)
                leaves.extend([*summed[0], summed[1]])
            else:
                leaves.append(node)
        return leaves

    def _region_root(self, node: Node) -> bool:
        """A matrix computed entry by entry. A vector stays NumPy's: beside the matrices it is
        broadcast into it is small, and each loop costs a compilation."""
        return not node.is_scalar and not node.is_vector and constant_value(node) is None and \
            self._entrywise(node, node.shape)

    def _gram_call(self, m: Node, diagonal: Node | None,
                   into: str | None = None) -> tuple[str, int] | None:
        """M'*diag(s)*M with s proven >= 0 as W'*W, W = diag(sqrt(max(s, 0)))*M one loop."""
        if diagonal is None or not nonnegative(diagonal.args[0], self.bindings):
            return super()._gram_call(m, diagonal, into)
        s = diagonal.args[0]
        root = Node("sqrt", (Node("relu", (s,), s.shape),), s.shape)
        scaled = Node("matmul", (Node("diagm", (root,), diagonal.shape), m), m.shape)
        return self._call_into("gram", into, scaled)

    def _entrywise(self, node: Node, shape: tuple) -> bool:
        """Whether `node` is computed entry by entry inside a region of `shape` (not a leaf)."""
        if node.shape != shape or node in self.names or node.is_scalar:
            return False
        if node.op in ("add", "hadamard"):
            return True
        if node.op == "power":
            return node.args[1].is_scalar
        if node.op in self.backend.entries and REGISTRY[node.op].elementwise:
            return True
        if node.op in ROW_FUNCTIONS:        # its operand an array of its shape, read by row
            operand = node.args[0]
            return not node.is_vector and operand.shape == shape and \
                constant_value(operand) is None and operand.op != "fill"
        if node.op == "matmul":
            chain = [a for a in node.args if not a.is_scalar]
            if len(chain) == 1:
                return True                                     # a scaling
            if len(chain) != 2:
                return False
            left, right = chain
            if left.is_column and right.is_row and not (left.is_row or right.is_column):
                return True                                     # an outer product
            return (left.op == "diagm") != (right.op == "diagm")   # diag(v)*M, M*diag(v)
        return False

    def _fused(self, root: Node, target: str | None) -> str | None:
        """The call of the kernel computing `root` (into `target`), or None where the region
        cannot give its output shape (no array among its leaves along an axis)."""
        saved = dict(self.kernels), dict(self._by_body), set(self.helpers)
        region = _Region(self, root)
        body = region.entry(root)
        axes = region.axes()
        if axes is None:            # printed by NumPy after all: the leaves' kernels unused
            self.kernels, self._by_body, self.helpers = saved
            return None
        name = self._kernel(region, body, axes)
        args = ", ".join(text for text, _ in region.leaves.values())
        return f"{name}({args}{', ' if args else ''}{target or 'None'})"

    def _kernel(self, region: _Region, body: str, axes: list[str]) -> str:
        params = list(region.leaf_names)
        lines = region.statements + [f"out[{'i, j' if len(axes) == 2 else 'i'}] = {body}"]
        key = f"{len(axes)}|{','.join(params)}|{';'.join(region.row_statements + lines)}"
        if key in self._by_body:
            return self._by_body[key]
        name = f"_fused{len(self.kernels) + 1}"
        self._by_body[key] = name
        self.helpers |= self.backend.helpers_in(key) | {"_scratch"}   # _exp, _row_total, …
        arrays = [p for p, node in zip(params, region.leaves) if not node.is_scalar]
        scalars = [p for p, node in zip(params, region.leaves) if node.is_scalar]
        sig = ", ".join(params + ["out"])
        loops = []
        for decorator, first in (("numba.njit(parallel=True, cache=True)", "numba.prange"),
                                 ("numba.njit(cache=True)", "range")):
            kind = "parallel" if first != "range" else "serial"
            indent = " " * (4 * (len(axes) + 1))
            loop = f"    for i in {first}(out.shape[0]):\n" + \
                "".join(f"        {line}\n" for line in region.row_statements) + (
                "        for j in range(out.shape[1]):\n" if len(axes) == 2 else "") + \
                "".join(f"{indent}{line}\n" for line in lines)
            loops.append(f"@{decorator}\ndef {name}_{kind}({sig}):\n{loop}    return out\n\n\n")
        floats = "".join(f"    {s} = float({s})\n" for s in scalars)
        self.kernels[name] = (
            "".join(loops)
            + f"def {name}({', '.join(params + ['out'])}):\n"
            f'    """Every entry in one pass (threads for a large out): {"; ".join(lines)}"""\n'
            f"{floats}"
            f"    if out is None or isinstance(out, str):     # a new array, or a scratch buffer\n"
            f"        out = _scratch(out, ({', '.join(axes)}{',' if len(axes) == 1 else ''}), "
            f"np.result_type({', '.join(arrays)}, 1.0))\n"
            f"    if out.size >= PARALLEL_SIZE:\n"
            f"        return {name}_parallel({sig})\n"
            f"    return {name}_serial({sig})")
        return name


class _Region:
    """The leaves of one region and the text computing one of its entries."""

    def __init__(self, printer: FusedPrinter, root: Node):
        self.printer = printer
        self.root = root
        self.matrix = not root.is_vector
        self.leaves: dict[Node, tuple[str, int]] = {}     # leaf → (its NumPy text, precedence)
        self.leaf_names: dict[str, Node] = {}
        self._names: dict[Node, str] = {}
        # a subexpression met more than once in the region: one local per entry, computed once
        self.counts: dict[Node, int] = {}
        self._count(root)
        self.locals: dict[Node, str] = {}
        self.statements: list[str] = []       # `e0 = …` lines before the entry's assignment
        self.row_statements: list[str] = []   # per row, before the loop over its entries
        self._rows: dict[tuple[str, str], tuple[str, str, str]] = {}   # (op, array) → m, s, r
        self._sums: dict[str, str] = {}       # array → the local holding row i's sum

    def _inside(self, node: Node) -> bool:
        return node is self.root or self.printer._entrywise(node, self.root.shape)

    def _count(self, node: Node) -> None:
        if not self._inside(node):
            return
        self.counts[node] = self.counts.get(node, 0) + 1
        if self.counts[node] == 1 and node.op not in ROW_FUNCTIONS:   # their operand: a leaf
            for a in node.args:
                self._count(a)

    def axes(self) -> list[str] | None:
        """The output's size along each axis, read off an array leaf that has it."""
        found: list[str | None] = [None, None] if self.matrix else [None]
        for node, name in self._names.items():
            if node.is_scalar:
                continue
            if not self.matrix:
                found[0] = found[0] or f"{name}.shape[0]"
            elif not node.is_vector:
                found[0] = found[0] or f"{name}.shape[0]"
                found[1] = found[1] or f"{name}.shape[1]"
            elif node.is_column:
                found[0] = found[0] or f"{name}.shape[0]"
            else:
                found[1] = found[1] or f"{name}.shape[0]"
        return None if None in found else found     # type: ignore[return-value]

    def leaf(self, node: Node) -> str:
        """The entry of a leaf this loop iteration reads."""
        value = constant_value(node)
        number = const_value(node) if node.op == "const" else None
        if value is not None or number is not None:
            return repr(float(value if value is not None else number))
        if node.op == "fill":
            return self.leaf(node.args[0])
        summed = _row_sum(node, self.root)
        if summed is not None:
            return self._row_sum_entry(*summed)
        if node not in self._names:
            name = f"v{len(self._names)}"
            self._names[node] = name
            self.leaf_names[name] = node
            self.leaves[node] = self.printer._leaf_text(node)
        name = self._names[node]
        if node.is_scalar:
            return name
        if not self.matrix:
            return f"{name}[i]"
        if not node.is_vector:
            return f"{name}[i, j]"
        return f"{name}[i]" if node.is_column else f"{name}[j]"

    def entry(self, node: Node) -> str:
        """Python text of the entry (i, j) — or i — of `node` (a local's name if it is one)."""
        if not self._inside(node):
            return self.leaf(node)
        if node in self.locals:
            return self.locals[node]
        text = self._entry(node)
        if self.counts.get(node, 0) > 1:
            self.locals[node] = f"e{len(self.locals)}"
            self.statements.append(f"{self.locals[node]} = {text}")
            return self.locals[node]
        return text

    def _entry(self, node: Node) -> str:
        if node.op == "add":
            return "(" + " + ".join(self.entry(t) for t in node.args) + ")"
        if node.op == "hadamard":
            return "(" + " * ".join(self.entry(f) for f in node.args) + ")"
        if node.op == "power":
            base, exponent = node.args
            p = const_value(exponent)
            b = self.entry(base)
            if p == Fraction(1, 2):
                return f"np.sqrt({b})"
            if p == -1:
                return f"(1.0 / {b})"
            if p is not None and p.denominator == 1:
                return f"({b} ** {int(p)})"
            return f"({b} ** {self.leaf(exponent)})"
        if node.op in self.printer.backend.entries:
            return self.printer.backend.entries[node.op].format(self.entry(node.args[0]))
        if node.op in ROW_FUNCTIONS:
            scalars, matrix = _scaled(node.args[0])
            array = self._row_array(matrix)
            scale = "".join(f"{self.leaf(s)} * " for s in scalars)
            m, total, row = self._row_statistics(node.op, array, scale)
            if node.op == "softmax2":
                return f"({row}[j] / {total})"
            return f"({scale}{array}[i, j] - {m} - np.log({total}))"
        # matmul: scalars times a scaling, an outer product or a product with a diagonal
        chain = [a for a in node.args if not a.is_scalar]
        factors = [self.leaf(a) for a in node.args if a.is_scalar]
        for position, a in enumerate(chain):
            if a.op == "diagm":          # diag(v)*M reads v[i]; M*diag(v) reads v[j]
                v = self.leaf(a.args[0])
                if self.matrix and position == 1 and v.endswith("[i]"):
                    v = v[:-3] + "[j]"
                factors.append(v)
            elif a.shape == node.shape:
                factors.append(self.entry(a))
            else:
                factors.append(self.leaf(a))
        return "(" + " * ".join(factors) + ")"

    def _row_array(self, matrix: Node) -> str:
        """The name of a matrix leaf that a row statistic reads row by row (`v0`, whose entry
        is `v0[i, j]`)."""
        return self.leaf(matrix)[:-len("[i, j]")]

    def _row_sum_entry(self, scalars: list[Node], matrix: Node) -> str:
        """Entry i of c*sum(M, 2), M a matrix with the region's rows: a statistic of row i,
        summed by the thread that then computes the row's entries (M's row is in its cache),
        where NumPy would sum every row on one core first — attention's
        `t3 - sum(t3, 2).*P`."""
        array = self._row_array(matrix)
        factors = [self.leaf(s) for s in scalars]
        if array not in self._sums:
            self._sums[array] = f"q{len(self._sums)}"
            self.row_statements.append(f"{self._sums[array]} = _row_total({array}[i])")
        total = self._sums[array]
        return "(" + " * ".join([*factors, total]) + ")" if factors else total

    def _row_statistics(self, op: str, array: str, scale: str) -> tuple[str, str, str]:
        """The names of row i's maximum, its sum of exp(entry - maximum), and the row buffer
        holding those exponentials (a softmax's entries read them); the lines computing them,
        once per array and scale (`scale`: the text `c * ` of the scalar factors each entry is
        read times, or ""). The maximum is found in four running maxima (_row_maximum); the
        exponentials are a loop of their own, which LLVM vectorises (a running sum in it would
        keep it scalar), then summed in four partial sums. The first
        buffer is the output's row itself (entry j of it is read only by entry j, just before it
        is written); another is allocated per row."""
        key = (op, array, scale)
        if key not in self._rows:
            k = len(self._rows)
            m, total, row = f"m{k}", f"s{k}", f"r{k}"
            buffer = "out[i]" if not self._rows else f"np.empty({array}.shape[1], dtype=out.dtype)"
            # the product c of the scalars (1.0 for none): c*x is, bit for bit, the entry the
            # exponentials below read as `v1 * v2 * x`
            factor = scale[:-len(" * ")] if scale else "1.0"
            self.row_statements += [
                f"{m} = _row_maximum({array}[i], {factor})",
                f"{row} = {buffer}",
                f"for j in range({array}.shape[1]):",
                f"    {row}[j] = _exp({scale}{array}[i, j] - {m})",
                f"{total} = _row_total({row})",
            ]
            self._rows[key] = (m, total, row)
        return self._rows[key]


def _scaled(operand: Node) -> tuple[list[Node], Node]:
    """A row function's operand as (its scalar factors, the matrix they scale): the loop reads
    c*S entry by entry as c times S's entry, where NumPy would form c*S first (attention's
    softmax(Q*K'/sqrt(k), 2): a pass over the N×N scores and a temporary the size of them)."""
    scalars = [a for a in operand.args if a.is_scalar] if operand.op == "matmul" else []
    if not scalars:
        return [], operand
    chain = [a for a in operand.args if not a.is_scalar]
    return scalars, chain[0] if len(chain) == 1 else algebra.mul(*chain)


def _row_sum(node: Node, root: Node) -> tuple[list[Node], Node] | None:
    """(the scalar factors c, M) for M's row sums — sum(M, 2), or a column c*M*ones — whose M
    is a matrix with the rows of the matrix region `root`, else None."""
    if not node.is_column or node.is_scalar or root.is_vector:
        return None
    if node.op == "sum2":
        scalars, matrix = [], node.args[0]
    elif node.op == "matmul" and len(chain := [a for a in node.args if not a.is_scalar]) == 2 \
            and chain[1].op == "fill" and chain[1].is_column:
        scalars, matrix = [a for a in node.args if a.is_scalar] + [chain[1].args[0]], chain[0]
    else:
        return None
    if matrix.is_vector or matrix.shape[0] != root.shape[0] or matrix.op == "fill":
        return None
    return scalars, matrix


def _stored(leaf: Node) -> bool:
    """A leaf a loop reads as it is stored, computing nothing: a variable, a binding's name, a
    number, a transpose of one of them."""
    while leaf.op == "transpose":
        leaf = leaf.args[0]
    return leaf.is_scalar or leaf.op in ("var", "ref", "const", "fill", "eye")


# Functions along the rows of a matrix that a loop computes entry by entry from row statistics.
ROW_FUNCTIONS = ("softmax2", "logsoftmax2")

__all__ = ["FusedPrinter"]
