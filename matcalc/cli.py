"""The `matcalc` command: a thin layer over the library (api.py).

A user error (parse, shape, unsupported function) prints one paragraph — with a caret under the
column for parse errors — and exits with status 2; never a traceback.
"""
from __future__ import annotations

import importlib.util
import json
import math
import re
import sys

import click

from . import __version__
from .errors import MatcalcError

CODE_FORMATS = ("numpy", "jax", "torch", "array-api", "numba")    # generated code (printing/module.py)
FORMATS = ("text", "latex", *CODE_FORMATS, "json")


# where the console cannot encode a symbol (a legacy code page such as cp1252): ASCII spellings
ASCII = {"∂": "d", "²": "^2", "σ": "sigma", "×": "x", "↦": "->", "→": "->", "≠": "!=", "≤": "<=",
         "≥": ">=", "≈": "~", "·": "*", "∘": ".*", "⊗": " kron ", "−": "-", "—": "--", "–": "-",
         "…": "...", "ᵀ": "'", "§": "section "}


def to_ascii(text: str) -> str:
    """`text` with the symbols matcalc prints spelled in ASCII (`∂f/∂x` → `df/dx`).

    >>> to_ascii("∂f/∂X = 2*x; σ' = σ - σ²")
    "df/dX = 2*x; sigma' = sigma - sigma^2"
    """
    text = "".join(ASCII.get(ch, ch) for ch in text)
    return text.encode("ascii", "replace").decode("ascii")


def _encodable(text: str, err: bool = False) -> bool:
    stream = sys.stderr if err else sys.stdout
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def echo(text: str = "", err: bool = False, nl: bool = True) -> None:
    """click.echo, in ASCII where the stream cannot encode the text (never a traceback)."""
    click.echo(text if _encodable(text, err) else to_ascii(text), err=err, nl=nl)


def _parse_shapes(values: tuple[str, ...]) -> dict[str, str]:
    shapes: dict[str, str] = {}
    for item in values:
        name, sep, dims = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier() or not dims.strip():
            raise click.BadParameter(f"{item!r}: write NAME=DIMS, e.g. X=m,n or a=m or t=scalar",
                                     param_hint="--shape")
        if name in shapes and shapes[name] != dims:
            echo(f"matcalc: warning: --shape {name} is given twice; the last, {item}, is used",
                 err=True)
        shapes[name] = dims
    return shapes


def _fail(error: MatcalcError) -> None:
    kind = type(error).__name__.replace("Error", " error").lower()
    echo(f"matcalc: {kind}: {error}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="matcalc")
def main() -> None:
    """Symbolic matrix calculus: closed-form derivatives with their derivation."""


class ExpressionCommand(click.Command):
    """A command whose EXPR may start with '-' (`-y'*log(p)`): such an argument, unless it is one
    of the command's options, is the expression, not an unknown option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        params = [p for p in self.get_params(ctx) if isinstance(p, click.Option)]
        options = {name for p in params for name in (*p.opts, *p.secondary_opts)}
        takes_value = {name for p in params if not p.is_flag for name in p.opts}
        kept: list[str] = []
        expressions: list[str] = []
        previous = ""
        for i, arg in enumerate(args):
            if arg == "--":
                kept.extend(args[i:])
                break
            is_value = previous in takes_value
            previous = arg
            # a value, an option, or a mistyped long option (click says which ones exist)
            if (is_value or not arg.startswith("-") or len(arg) == 1
                    or arg.split("=", 1)[0] in options
                    or re.fullmatch(r"--[A-Za-z][\w-]*(=.*)?", arg)):
                kept.append(arg)
            else:
                expressions.append(arg)
        if expressions:
            if "--" not in kept:
                kept.append("--")
            kept.extend(expressions)
        return super().parse_args(ctx, kept)


def _common_options(several: bool):
    """The options `derive` and `hessian` share (`several`: --wrt may be repeated)."""
    return lambda command: _options(command, several)


def _options(command, several: bool):
    for option in reversed([
        click.argument("expr"),
        click.option("--wrt", required=True, multiple=True,
                     help="The variable to differentiate with respect to"
                          + (" (repeat for several)." if several else " (one variable).")),
        click.option("--shape", "shape", multiple=True, metavar="NAME=DIMS",
                     help="Declare a shape: X=m,n (matrix), a=m (vector), t=scalar; numbers "
                          "allowed."),
        click.option("--sym", multiple=True, metavar="NAME", help="Declare a matrix symmetric."),
        click.option("--steps", is_flag=True,
                     help="Print the numbered derivation, one rule per line."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
                     show_default=True, help="Output format."),
        click.option("--check", is_flag=True, help="Check the result against central finite "
                                                   "differences and print the error."),
        click.option("--standalone", is_flag=True,
                     help="With --format latex: a complete LaTeX document (problem, steps, result)."),
        click.option("--vec", is_flag=True, help="A linear map dX ↦ dF in vec/Kronecker form: "
                                                 "the K with vec(dF) = K*vec(dX)."),
        click.option("--no-verify", is_flag=True, help="Skip the built-in numeric self-check."),
        click.option("--value", is_flag=True,
                     help="With a code format: the function returns (f, derivative), what they "
                          "share computed once."),
    ]):
        command = option(command)
    return command


@main.command(cls=ExpressionCommand)
@_common_options(several=True)
def derive(expr: str, wrt: tuple[str, ...], shape: tuple[str, ...], sym: tuple[str, ...],
           steps: bool, fmt: str, check: bool, standalone: bool, vec: bool,
           no_verify: bool, value: bool) -> None:
    """Differentiate EXPR with respect to --wrt: a gradient, a Jacobian or a linear map.

    \b
    Example:
      matcalc derive "w'*w where w = sigmoid(X'*a)" --wrt X --steps
    """
    from .api import derive as derive_
    wrt = tuple(dict.fromkeys(wrt))     # --wrt x --wrt x is x once
    _run(lambda **kw: derive_(expr, wrt=list(wrt) if len(wrt) > 1 else wrt[0], **kw),
         shape, sym, steps, fmt, check, standalone, vec, no_verify, value)


@main.command(cls=ExpressionCommand)
@_common_options(several=False)
def hessian(expr: str, wrt: tuple[str, ...], shape: tuple[str, ...], sym: tuple[str, ...],
            steps: bool, fmt: str, check: bool, standalone: bool, vec: bool,
            no_verify: bool, value: bool) -> None:
    """The Hessian of a scalar EXPR with respect to --wrt.

    \b
    Example:
      matcalc hessian "x'*A*x + sum(exp(x))" --wrt x --steps
    """
    from .api import hessian as hessian_
    if len(wrt) > 1:
        raise click.BadParameter("give one variable", param_hint="--wrt")
    _run(lambda **kw: hessian_(expr, wrt=wrt[0], **kw), shape, sym, steps, fmt, check,
         standalone, vec, no_verify, value)


@main.command(cls=ExpressionCommand)
@_common_options(several=False)
@click.option("--direction", metavar="NAME", default=None,
              help="The name of the direction (default v, or V for a matrix variable).")
def hvp(expr: str, wrt: tuple[str, ...], shape: tuple[str, ...], sym: tuple[str, ...],
        steps: bool, fmt: str, check: bool, standalone: bool, vec: bool, no_verify: bool,
        value: bool, direction: str | None) -> None:
    """The Hessian-vector product H·v of a scalar EXPR with respect to --wrt, without forming H.

    \b
    Example:
      matcalc hvp "sum(softplus(X*w)) - y'*X*w where p = sigmoid(X*w)" --wrt w
    """
    from .hvp import hvp as hvp_
    if len(wrt) > 1:
        raise click.BadParameter("give one variable", param_hint="--wrt")
    _run(lambda **kw: hvp_(expr, wrt=wrt[0], direction=direction, **kw), shape, sym, steps, fmt,
         check, standalone, vec, no_verify, value)


def _run(compute, shape: tuple[str, ...], sym: tuple[str, ...], steps: bool, fmt: str,
         check: bool, standalone: bool, vec: bool, no_verify: bool, value: bool = False) -> None:
    if standalone and fmt != "latex":
        raise click.UsageError("--standalone makes a LaTeX document: add --format latex")
    if value and fmt not in CODE_FORMATS:
        raise click.BadParameter(f"--value is for the generated code: add --format with one of "
                                 f"{', '.join(CODE_FORMATS)}", param_hint="--value")
    try:
        result = _compute(compute, shape, sym, check, vec, no_verify)
    except MatcalcError as exc:
        _fail(exc)
        return
    derivations = list(result) if hasattr(result, "derivations") else [result]
    warnings = list(dict.fromkeys(w for d in derivations for w in d.warnings))
    for warning in warnings:
        echo(f"matcalc: warning: {warning}", err=True)
    shapes_line = f"shapes: {derivations[0].problem.shapes_text()}"
    if fmt in CODE_FORMATS:
        echo(result.code(fmt, value=value), nl=False)
    elif fmt == "json":
        payload = [d.to_json() for d in derivations]
        data = payload[0] if len(payload) == 1 else payload
        text = json.dumps(data, indent=2, ensure_ascii=False)
        echo(text if _encodable(text) else json.dumps(data, indent=2))   # \u escapes: exact
    elif fmt == "latex":
        echo(result.latex(steps=steps, standalone=standalone))
        if not standalone:      # the document states them in its text
            echo(f"% {shapes_line}")
    else:
        _print_text(derivations, steps, check, warnings, shapes_line)


def _compute(compute, shape: tuple[str, ...], sym: tuple[str, ...], check: bool, vec: bool,
             no_verify: bool):
    """The derivation(s) asked for, checked again if --check asks."""
    result = compute(shapes=_parse_shapes(shape), symmetric=set(sym), verify=not no_verify)
    if vec:
        if hasattr(result, "derivations"):
            raise click.BadParameter("--vec takes one --wrt", param_hint="--vec")
        result = result.vec(verify=not no_verify)
    if check:       # one account: this check and the self-check, merged (api.record_check)
        for d in (list(result) if hasattr(result, "derivations") else [result]):
            d.record_check(d.check())
    return result


def _print_text(derivations: list, steps: bool, check: bool, warnings: list[str],
                shapes_line: str) -> None:
    from .api import NOT_CHECKED
    for d in derivations:
        if steps:
            echo(d.steps_text())
            echo()
        echo(f"{d.label} = {d.result_text()}")
        for name, body in d.where():
            echo(f"  where {name} = {body}")
        for note in d.notes:
            # warnings went to stderr; with --check, the check line says "not checked"
            if note not in warnings and not (check and note.startswith(NOT_CHECKED)):
                echo(f"note: {note}")
    echo(shapes_line)
    for d in derivations:
        if check:
            label = f" ({d.label})" if len(derivations) > 1 else ""
            echo(f"check{label}: {d.unchecked_note}" if math.isnan(d.error) else
                 f"check{label}: largest relative error against central finite differences: "
                 f"{d.error:.1e}")


@main.command()
@click.argument("expr")
@click.option("--wrt", required=True, help="The variable the claim differentiates by.")
@click.option("--claim", required=True, metavar="G",
              help="Your derivative, in the input language (it may use the expression's names).")
@click.option("--shape", "shape", multiple=True, metavar="NAME=DIMS",
              help="Declare a shape: X=m,n (matrix), a=m (vector), t=scalar.")
@click.option("--sym", multiple=True, metavar="NAME", help="Declare a matrix symmetric.")
@click.option("--hessian", is_flag=True, help="The claim is the Hessian (in dX for a matrix X).")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True, help="Output format.")
def check(expr: str, wrt: str, claim: str, shape: tuple[str, ...], sym: tuple[str, ...],
          hessian: bool, fmt: str) -> None:
    """Is --claim the derivative of EXPR with respect to --wrt? Exit 0 right, 1 wrong.

    \b
    Example:
      matcalc check "x'*A*x" --wrt x --claim "2*A*x"
    """
    from .check import check as check_
    try:
        result = check_(expr, wrt, claim, shapes=_parse_shapes(shape), symmetric=set(sym),
                        hessian=hessian)
    except MatcalcError as exc:
        _fail(exc)
        return
    click.echo(result.json() if fmt == "json" else str(result))
    sys.exit(0 if result.correct else 1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback: only this machine can connect).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: the number of cores, at most 4).")
@click.option("--time-limit", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
              help="Seconds one derivation may take before its worker is stopped.")
def serve(host: str, port: int, open_browser: bool, workers: int | None,
          time_limit: float) -> None:
    """Serve the web page and the JSON API (needs the web extra: pip install ".[web]" in a clone,
    "matcalc-symbolic[web]" from PyPI)."""
    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        click.echo(f"matcalc: serve needs the web extra ({', '.join(missing)} missing): "
                   f"pip install \".[web]\" in a clone, \"matcalc-symbolic[web]\" from PyPI",
                   err=True)
        sys.exit(2)
    from .web.server import serve as serve_
    serve_(host, port, open_browser, workers, time_limit)


@main.command()
def rules() -> None:
    """List the loaded rules, by file and section."""
    from .rules import load_rules, rules_dir
    try:
        ruleset = load_rules()
    except MatcalcError as exc:
        _fail(exc)
        return
    echo(f"rules from {rules_dir()}")
    for stem, sections in ruleset.sections.items():
        echo(f"\n{stem}.rules")
        for title, items in sections:
            if title:
                echo(f"  ## {title}")
            for r in items:
                echo(f"  {r.text}")


if __name__ == "__main__":
    main()
