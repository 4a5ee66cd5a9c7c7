"""The `matcalc` command: a thin layer over the library (api.py).

A user error (parse, shape, unsupported function) prints one paragraph — with a caret under the
column for parse errors — and exits with status 2; never a traceback.
"""
from __future__ import annotations

import importlib.util
import json
import sys

import click

from . import __version__
from .errors import MatcalcError

CODE_FORMATS = ("numpy", "jax", "torch", "array-api")    # generated code (printing/module.py)
FORMATS = ("text", "latex", *CODE_FORMATS, "json")


def _parse_shapes(values: tuple[str, ...]) -> dict[str, str]:
    shapes: dict[str, str] = {}
    for item in values:
        name, sep, dims = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise click.BadParameter(f"{item!r}: write NAME=DIMS, e.g. X=m,n or a=m or t=scalar",
                                     param_hint="--shape")
        shapes[name.strip()] = dims
    return shapes


def _fail(error: MatcalcError) -> None:
    kind = type(error).__name__.replace("Error", " error").lower()
    click.echo(f"matcalc: {kind}: {error}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="matcalc")
def main() -> None:
    """Symbolic matrix calculus: closed-form derivatives with their derivation."""


def _common_options(command):
    """The options `derive` and `hessian` share."""
    for option in reversed([
        click.argument("expr"),
        click.option("--wrt", required=True, multiple=True,
                     help="The variable to differentiate with respect to (repeat for several)."),
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


@main.command()
@_common_options
def derive(expr: str, wrt: tuple[str, ...], shape: tuple[str, ...], sym: tuple[str, ...],
           steps: bool, fmt: str, check: bool, standalone: bool, vec: bool,
           no_verify: bool, value: bool) -> None:
    """Differentiate EXPR with respect to --wrt: a gradient, a Jacobian or a linear map.

    \b
    Example:
      matcalc derive "w'*w where w = sigmoid(X'*a)" --wrt X --steps
    """
    from .api import derive as derive_
    _run(lambda **kw: derive_(expr, wrt=list(wrt) if len(wrt) > 1 else wrt[0], **kw),
         shape, sym, steps, fmt, check, standalone, vec, no_verify, value)


@main.command()
@_common_options
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


@main.command()
@_common_options
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
    if value and fmt not in CODE_FORMATS:
        raise click.BadParameter(f"--value is for the generated code: add --format with one of "
                                 f"{', '.join(CODE_FORMATS)}", param_hint="--value")
    try:
        result = compute(shapes=_parse_shapes(shape), symmetric=set(sym), verify=not no_verify)
        if vec:
            if hasattr(result, "derivations"):
                raise click.BadParameter("--vec takes one --wrt", param_hint="--vec")
            result = result.vec(verify=not no_verify)
        derivations = list(result) if hasattr(result, "derivations") else [result]
        error = None
        if check:
            error = max(d.check() for d in derivations)
            for d in derivations:
                d.error = error
    except MatcalcError as exc:
        _fail(exc)
        return
    if fmt in CODE_FORMATS:
        click.echo(result.code(fmt, value=value), nl=False)
        return
    if fmt == "json":
        payload = [d.to_json() for d in derivations]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2,
                              ensure_ascii=False))
        return
    if fmt == "latex":
        click.echo(result.latex(steps=steps, standalone=standalone))
        return
    for d in derivations:
        if steps:
            click.echo(d.steps_text())
            click.echo()
        click.echo(f"{d.label} = {d.result_text()}")
        for name, body in d.where():
            click.echo(f"  where {name} = {body}")
        for note in d.notes:
            click.echo(f"note: {note}")
    if error is not None:
        click.echo(f"check: largest relative error against central finite differences: "
                   f"{error:.1e}")


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
    """Serve the web page and the JSON API (needs the web extra: pip install "matcalc[web]")."""
    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        click.echo(f"matcalc: serve needs the web extra ({', '.join(missing)} missing): "
                   f"pip install \"matcalc[web]\"", err=True)
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
    click.echo(f"rules from {rules_dir()}")
    for stem, sections in ruleset.sections.items():
        click.echo(f"\n{stem}.rules")
        for title, items in sections:
            if title:
                click.echo(f"  ## {title}")
            for r in items:
                click.echo(f"  {r.text}")


if __name__ == "__main__":
    main()
