"""What a derivation produces: its steps, as data. Text, LaTeX and JSON are printers over them."""
from __future__ import annotations

from dataclasses import dataclass

from .ops import Node
from .printing.text import to_text


@dataclass(frozen=True)
class Step:
    """One rule applied: `lhs = rhs` by `rule`.

    `lhs` is what the step rewrites as a reader sees it — `d(w'*w)` for a differential rule, `df`
    for a step that transforms the whole differential, `∂f/∂X` for the gradient.
    """
    rule: str
    lhs: Node | str
    rhs: Node
    note: str = ""

    @property
    def expr(self):
        """The step's result as a SymPy expression."""
        from .printing.sympy import to_sympy
        return to_sympy(self.rhs)

    @property
    def lhs_text(self) -> str:
        return self.lhs if isinstance(self.lhs, str) else to_text(self.lhs)

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.lhs_text} = {to_text(self.rhs)}    [{self.rule}{note}]"
