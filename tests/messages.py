"""Reading error messages in tests (import it: `from messages import caret`)."""


def caret(error: Exception) -> tuple[str, int, int]:
    """(the quoted source line, caret column, caret width) from the last two lines of str(error)."""
    lines = str(error).split("\n")
    assert len(lines) >= 3, f"no caret block in the message:\n{error}"
    source, marks = lines[-2], lines[-1]
    assert source.startswith("  ") and marks.startswith("  "), f"bad caret block:\n{error}"
    stripped = marks[2:]
    column = len(stripped) - len(stripped.lstrip(" "))
    assert set(stripped.strip()) == {"^"}, f"caret line is not carets:\n{error}"
    return source[2:], column, len(stripped.strip())
