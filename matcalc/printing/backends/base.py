"""What an array library calls each operation: one table per target, read by the code printer.

The printer (code.py) decides *which* operation a product or a function needs — a solve, an outer
product, a scaling, a contraction — and asks the backend how its library spells it. A backend is
data: templates such as ``"np.linalg.solve({0}, {1})"``, the module's imports, its helper functions,
and how a new array takes the inputs' dtype (and device). Adding a target is one table; numpy.py,
jax.py, torch.py and array_api.py are the four there are.

Templates are Python format strings over printed operands. ``{0}`` is an operand as printed;
``{0:atom}`` parenthesises it unless it is an atom (for ``{0:atom}.T`` or ``{0:atom}[:, None]``);
``{like}`` is the dtype/device keywords of a new array. Every template yields an atom: a call, a
subscript, or something in parentheses.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from ..readers.text import ATOM

# Every operation the printer asks for; a backend must spell each one (checked on construction),
# except two optional ones: "multi_dot" (a chain multiplied in the order best for the shapes at call
# time; without it chains are ordered when the code is generated) and "symmetric_product" (M'*W
# known to be symmetric, computed one triangle at a time; without it, as a plain product), and
# "solve_triangular" (inv(L)*B for a triangular factor such as chol(S), `{lower}` True or False;
# without it, a general solve).
# "gram"/"weighted_gram" (M'*M, and M'*diag(s)*M with s proven >= 0, as one symmetric rank-k
# update; without them, symmetric_product). "matmul_into", "multi_dot_into", "gram_into",
# "weighted_gram_into", "symmetric_product_into": the same products written into the caller's
# buffer (the last operand), for a backend that takes `out=` (without them, copied in).
# "size_scalar" (a function of sizes alone, sqrt(cols(X)),
# as the library's weakest scalar: NumPy's np.sqrt(64) is a float64 that would turn a float32
# result into float64; a Python float does not).
# The operators of the language are spelled by their rows in the registry (operators.py, `code`);
# these are the operations the printer's lowerings need besides them.
OPERATIONS = (
    "eye", "zeros", "full", "full_expr", "sum_axis", "outer", "repeat_column", "repeat_row",
    "solve", "dot", "trace_product", "trace", "diag", "kron", "commutation", "size_array",
)


class _Formatter(string.Formatter):
    def format_field(self, value: object, format_spec: str) -> str:
        text, prec = value if isinstance(value, tuple) else (str(value), ATOM)
        if format_spec == "atom":
            return text if prec >= ATOM else f"({text})"
        if format_spec:
            raise ValueError(f"unknown template format {format_spec!r}")
        return text


_FORMATTER = _Formatter()


@dataclass(frozen=True)
class Backend:
    """How one array library spells the operations of generated code."""

    name: str                       # "numpy", as in d.code("numpy") and --format numpy
    imports: str                    # the module's import lines
    calls: dict[str, str]           # operation → template (see OPERATIONS)
    helpers: dict[str, str] = field(default_factory=dict)   # helper name → its source
    like: str = ", dtype={0}.dtype"  # keywords giving a new array the dtype of input {0}
    # the first line of a function body, given the array parameters (the array-API namespace)
    prologue: str = ""
    # a scalar parameter converted to the arrays' kind ({0}: the scalar, {1}: an array), if needed;
    # and when every parameter is a scalar ({0}: the scalar)
    scalar_input: str = ""
    scalar_only_input: str = ""
    # writing into a caller's buffer: an outer product in place, an elementwise expression one
    # operation at a time (inplace.py: statement templates, {0} the buffer), a product by the
    # `*_into` calls, anything else copied in
    multiply_into: str = ""
    copy_into: str = ""
    in_place: dict[str, str] = field(default_factory=dict)
    doc: str = "Vectors are 1-D arrays, scalars floats."
    # a backend that generates another library's code spells the registry's operators by that
    # library's column (the numba backend: "numpy"); a fusing one prints with fused.py's printer
    spells_as: str = ""
    fuses: bool = False
    entries: dict[str, str] = field(default_factory=dict)  # a fusing backend: f of one entry

    def __post_init__(self) -> None:
        missing = [op for op in OPERATIONS if op not in self.calls]
        if missing:
            raise ValueError(f"backend {self.name} does not spell {', '.join(missing)}")

    @property
    def writes_out(self) -> bool:
        return bool(self.multiply_into)

    def format(self, template: str, *args: tuple[str, int] | str, **named: str) -> str:
        return _FORMATTER.format(template, *args, **named)

    def helpers_in(self, text: str) -> set[str]:
        """The helper functions a piece of generated code calls, and the helpers they call."""
        found: set[str] = set()
        pending = [text]
        while pending:
            for name in re.findall(r"\b(_\w+)\(", pending.pop()):
                if name in self.helpers and name not in found:
                    found.add(name)
                    pending.append(self.helpers[name])
        return found


__all__ = ["OPERATIONS", "Backend"]
