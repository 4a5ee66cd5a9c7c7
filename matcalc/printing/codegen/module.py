"""The generated module around the printed expressions: parameter names, the user's bindings,
common subexpressions as temporaries, the optional `out=` buffer, helpers, the docstring.

`generate_module` is the one entry point (api.py calls it for every backend); the expressions
themselves are printed by CodePrinter (code.py).
"""
from __future__ import annotations

import builtins
import keyword
import re
from fractions import Fraction
from itertools import count

from ... import algebra
from ...operators import REGISTRY
from ...ops import Node, const_value, number, var
from ..backends import BACKENDS
from ..backends.base import Backend
from ..backends.numpy import NUMPY
from ..readers.text import signed_terms
from .chain import inverse_of
from .code import CodePrinter, constant_value
from .fused import FusedPrinter

# names generated code uses for itself, in any backend (so a user's name means the same in each)
RESERVED = set(keyword.kwlist) | set(dir(builtins)) | {"np", "jnp", "jax", "torch", "xp", "out",
                                                        "array_namespace", "numba", "os",
                                                        "threading", "llvmlite"}

def safe_name(name: str, taken: set[str]) -> str:
    """A Python identifier for a user's name: keywords, builtins, `np` and `_…` get a suffix."""
    out = name
    if out in RESERVED or out.startswith("_") or keyword.issoftkeyword(out):
        out = f"{name.lstrip('_') or 'v'}_"
    while out in taken or out in RESERVED:
        out += "_"
    taken.add(out)
    return out


def _power(base: Node, p: Fraction | float) -> Node:
    """base.^p exactly as split_product writes a denominator (not re-canonicalised)."""
    return Node("power", (base, number(p)), base.shape)


def _without_unused(lines: list[str], returns: list[str], temporaries: set[str]) -> list[str]:
    """Drop temporaries no later line uses (a subexpression shared only inside a form the printer
    rewrote, such as a sum distributed over a product)."""
    kept = list(lines)
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(kept):
            target = line.split("=", 1)[0].strip()
            if target not in temporaries:
                continue
            later = "\n".join(kept[i + 1:] + returns)
            if not re.search(rf"\b{re.escape(target)}\b", later):
                del kept[i]
                changed = True
                break
    return kept


def _printed_operands(node: Node) -> tuple[Node, ...]:
    """The operands as printed: a negative term of a sum is printed negated after a minus; in a
    product, diag(v) is printed as a scaling by v and inv(A) as a solve with A."""
    if node.op == "matmul":
        return tuple(f.args[0] if f.op == "diagm" else
                     inverse_of(f)[0] if inverse_of(f) is not None else f for f in node.args)
    if node.op == "add":
        return tuple(term for _, term in signed_terms(node))
    return node.args


def _docstring_safe(text: str) -> str:
    """The user's text inside a docstring: backslashes, control characters and triple quotes
    escaped, so that the docstring says exactly what the user wrote."""
    escaped = "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1]
                      for c in text.replace("\\", "\\\\"))
    return escaped.replace('"""', '\\"\\"\\"')


def _worth_naming(node: Node) -> bool:
    if node.op in ("var", "ref", "const", "eye", "zero", "inv", "diagm"):
        return False    # inv and diag are printed as solves and scalings where they are used
    if constant_value(node) is not None:
        return False    # printed as its value
    if node.op in ("transpose", "fill") and not node.args[0].args:
        return False
    if algebra.expanded_vector(node) is not None:
        return False    # broadcast where it is used (CodePrinter.broadcast): its vector is named
    # a number times a variable is cheaper to repeat than to name
    return not (node.op == "matmul" and len(node.args) == 2 and node.args[0].op == "const"
                and not node.args[1].args)


def generate_module(variables: dict[str, tuple], bindings: dict[str, Node],
                    outputs: list[tuple[str, Node]], function_name: str, doc: str,
                    backend: Backend = NUMPY) -> tuple[str, dict[str, str]]:
    """Source of a module defining `function_name(<variables>)` that returns the outputs, in the
    backend's library.

    Returns the source and the map from user names to the Python parameter names.
    """
    module = _Module(variables, bindings, outputs, backend)
    return module.source(function_name, doc), module.params


class _Module:
    """One generated module: its parameters, the statements of its body, its return."""

    def __init__(self, variables: dict[str, tuple], bindings: dict[str, Node],
                 outputs: list[tuple[str, Node]], backend: Backend):
        self.variables = variables
        self.bindings = bindings
        self.outputs = outputs
        self.backend = backend
        self.taken: set[str] = set()
        self.params = {name: safe_name(name, self.taken) for name in variables}
        self.names: dict[Node, str] = {var(n, shape): self.params[n]
                                       for n, shape in variables.items()}
        self.arrays = [self.params[n] for n, shape in variables.items() if shape != (1, 1)]
        self.scalars = [self.params[n] for n, shape in variables.items() if shape == (1, 1)]
        printer = FusedPrinter if backend.fuses else CodePrinter
        self.printer = printer(backend, self.names, self._dimensions(),
                               self.arrays[0] if self.arrays else None, bindings)
        self.used = self._used_bindings()
        self.shared = {n for n in self._shared_subexpressions()
                       if not self.printer.computed_in_loops(n)}
        self.lines: list[str] = []
        self.temporaries = count(1)
        self.emitted: set[Node] = set()
        self.factored = self._shared_factorizations()
        self.factorizations: set[tuple[str, Node]] = set()     # those emitted

    def _dimensions(self) -> dict[object, str]:
        """Each named dimension, read off the first parameter that has it."""
        dims: dict[object, str] = {}
        for name, shape in self.variables.items():
            for axis, d in enumerate(shape):
                if d != 1 and not isinstance(d, int) and d not in dims:
                    dims[d] = f"{self.params[name]}.shape[{0 if shape[1] == 1 else axis}]"
        return dims

    def _used_bindings(self) -> dict[str, Node]:
        """The user's bindings the outputs use, each after the ones it uses."""
        used: dict[str, Node] = {}

        def visit(node: Node) -> None:
            for n in node.distinct():
                if n.op == "ref" and n.value not in used:
                    visit(self.bindings[str(n.value)])
                    used[str(n.value)] = self.bindings[str(n.value)]

        for _, out in self.outputs:
            visit(out)
        return used

    def _shared_subexpressions(self) -> set[Node]:
        """Subexpressions printed more than once, worth a temporary."""
        counts: dict[Node, int] = {}

        def count_nodes(node: Node) -> None:
            """Count the subexpressions as the printer will print them."""
            p = const_value(node.args[1]) if node.op == "power" else None
            if p is not None and p < 0:     # printed as a division by its base
                count_nodes(node.args[0] if p == -1 else _power(node.args[0], -p))
                return
            counts[node] = counts.get(node, 0) + 1
            if counts[node] == 1:
                for a in _printed_operands(node):
                    count_nodes(a)

        for body in list(self.used.values()) + [o for _, o in self.outputs]:
            count_nodes(body)
        return {n for n, c in counts.items() if c > 1 and _worth_naming(n)}

    def _shared_factorizations(self) -> dict[Node, tuple[str, Node, str]]:
        """The parts of a factorization the code uses two or more of, for one operand (eigvals(S)
        and eigvecmax(S): one eigh of S), each → (the factorization's helper, the operand, how
        the part reads off its result). A part used alone keeps its own helper."""
        groups: dict[tuple[str, Node], set[Node]] = {}
        for body in list(self.used.values()) + [o for _, o in self.outputs]:
            for n in body.distinct():
                row = REGISTRY.get(n.op)
                if row is not None and row.factor is not None:
                    groups.setdefault((row.factor[0], n.args[0]), set()).add(n)
        return {n: (helper, operand, REGISTRY[n.op].factor[1])  # type: ignore[index]
                for (helper, operand), parts in groups.items() if len(parts) > 1 for n in parts}

    def _emit_factorization(self, node: Node) -> None:
        """`tK = _eigh(S)` once, and every part of it the code uses named `tK[…]`."""
        helper, operand, _ = self.factored[node]
        if (helper, operand) in self.factorizations:
            return
        self.factorizations.add((helper, operand))
        target = safe_name(f"t{next(self.temporaries)}", self.taken)
        text, _ = self.printer.spell(f"{helper}({{0}})", operand)
        self.lines.append(f"    {target} = {text}")
        for part, (h, o, reads) in self.factored.items():
            if (h, o) == (helper, operand):
                self.names[part] = f"{target}{reads}"

    def emit(self, node: Node) -> None:
        """Emit assignments for every named subexpression `node` needs, children first."""
        if node in self.emitted:
            return
        for a in node.args:
            self.emit(a)
        if node in self.factored:
            self._emit_factorization(node)
        elif node.op == "ref":
            name = str(node.value)
            self.emit(self.used[name])
            self._assign(safe_name(name, self.taken), self.used[name], node)
        elif node in self.shared:
            self._assign(safe_name(f"t{next(self.temporaries)}", self.taken), node, node)
        self.emitted.add(node)

    def _assign(self, target: str, value: Node, named: Node) -> None:
        self.lines.append(f"    {target} = {self.printer.doprint(value)}")
        self.names[named] = target

    def _returns(self) -> list[str]:
        returns = []
        for _, out in self.outputs:
            self.emit(out)
            text = self.printer.print_result(out)
            if out.op == "fill":
                text = self.printer._print_fill(out)[0]
            returns.append(text)
        return returns

    def _prologue(self) -> list[str]:
        """The namespace (array API) and scalars made arrays of the inputs' kind, if needed."""
        backend = self.backend
        # the namespace comes from the arrays; from the (0-d array) scalars when there is no array
        lines = [f"    {backend.prologue.format(', '.join(self.arrays or self.scalars))}"] \
            if backend.prologue and (self.arrays or self.scalars) else []
        if self.arrays:
            return lines + [f"    {s} = {backend.scalar_input.format(s, self.arrays[0])}"
                            for s in self.scalars if backend.scalar_input]
        return lines + [f"    {s} = {backend.scalar_only_input.format(s)}"
                        for s in self.scalars if backend.scalar_only_input]

    def source(self, function_name: str, doc: str) -> str:
        returns = self._returns()
        signature = ", ".join(self.params[n] for n in self.variables)
        into_lines: list[str] = []
        if len(self.outputs) == 1 and not self.outputs[0][1].is_scalar and \
                self.backend.writes_out:
            # an optional buffer for the result, reused across calls
            signature += ", out=None"
            into_lines = self.printer.print_into(self.outputs[0][1], "out")
        lines = _without_unused(self.lines, returns + into_lines,
                                temporaries={self.names[n] for n in self.shared
                                             if n in self.names})
        into = "".join(f"        {line}\n" for line in into_lines)
        into = f"    if out is not None:\n{into}        return out\n" if into_lines else ""
        if getattr(self.printer, "scratch_sites", 0):
            # intermediates in scratch buffers (fused.py): none is returned, a copy if one would be
            self.printer.helpers.add("_owned")
            returns = [f"_owned({text})" for text in returns]
        helpers = "\n\n\n".join([self.backend.helpers[h] for h in sorted(self.printer.helpers)]
                                 + list(self.printer.kernels.values()))
        result = returns[0] if len(returns) == 1 else "(" + ", ".join(returns) + ")"
        notes = self.backend.doc + ("\n    out: an array for the result, not overlapping the "
                                    "inputs." if into else "")
        doc_lines = _docstring_safe(f"{doc.rstrip()}\n    {notes}\n    ")
        body = "".join(line + "\n" for line in self._prologue() + lines)
        return (f'"""Generated by matcalc."""\n{self.backend.imports}\n\n\n'
                + (helpers + "\n\n\n" if helpers else "")
                + f'def {function_name}({signature}):\n    """{doc_lines}"""\n'
                + body + into + f"    return {result}\n")


__all__ = ["BACKENDS", "RESERVED", "generate_module", "safe_name"]
