"""One hierarchy for every error a user can cause.

Each error carries a message a person can act on; errors that point into the user's text also carry
the text and the column span, and render a caret line under the offending column.
"""
from __future__ import annotations


class MatcalcError(Exception):
    """Base of every error matcalc raises on purpose."""

    def __init__(self, message: str, text: str | None = None, start: int | None = None,
                 end: int | None = None):
        super().__init__(message)
        self.message = message
        self.text = text
        self.start = start
        self.end = end

    def __str__(self) -> str:
        if self.text is None or self.start is None:
            return self.message
        return f"{self.message}\n{caret_block(self.text, self.start, self.end)}"


class ParseError(MatcalcError):
    """The text is not in the input language."""


class ShapeError(MatcalcError):
    """Operands whose shapes do not fit the operator."""


class RuleError(MatcalcError):
    """A line of a rules file is malformed."""


class DifferentiationError(MatcalcError):
    """matcalc cannot differentiate this expression, or refused a result that failed its check."""


def caret_block(text: str, start: int, end: int | None = None) -> str:
    """The line of `text` holding column `start`, with carets under `start:end`.

    >>> print(caret_block("a + * b", 4))
      a + * b
          ^
    """
    while start > 0 and start >= len(text.rstrip()) and text[start - 1:start].isspace():
        start -= 1      # an error at the end of the input: point just after its last character
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    if line_end == -1:
        line_end = len(text)
    line = text[line_start:line_end]
    width = max(1, min(end if end is not None else start + 1, line_end) - start)
    return f"  {line}\n  {' ' * (start - line_start)}{'^' * width}"
