"""The `matcalc` command: a thin layer over the library (api.py).

A user error (parse, shape, unsupported function) prints one paragraph — with a caret under the
column for parse errors — and exits with status 2; never a traceback.
"""
from __future__ import annotations

import sys

import click

from .errors import MatcalcError

FORMATS = ("text", "latex", "numpy", "json")


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
@click.version_option(package_name="matcalc")
def main() -> None:
    """Symbolic matrix calculus: closed-form derivatives with their derivation."""


@main.command()
@click.argument("expr")
@click.option("--wrt", required=True, help="The variable to differentiate with respect to.")
@click.option("--shape", "shape", multiple=True, metavar="NAME=DIMS",
              help="Declare a shape: X=m,n (matrix), a=m (vector), t=scalar; numbers allowed.")
@click.option("--sym", multiple=True, metavar="NAME", help="Declare a matrix symmetric.")
@click.option("--steps", is_flag=True, help="Print the numbered derivation, one rule per line.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format.")
@click.option("--check", is_flag=True,
              help="Check the result against central finite differences and print the error.")
@click.option("--no-verify", is_flag=True, help="Skip the built-in numeric self-check.")
def derive(expr: str, wrt: str, shape: tuple[str, ...], sym: tuple[str, ...], steps: bool,
           fmt: str, check: bool, no_verify: bool) -> None:
    """Differentiate EXPR with respect to --wrt.

    \b
    Example:
      matcalc derive "w'*w where w = sigmoid(X'*a)" --wrt X --steps
    """
    from .api import derive as derive_
    try:
        d = derive_(expr, wrt=wrt, shapes=_parse_shapes(shape), symmetric=set(sym),
                    verify=not no_verify)
        error = d.check() if check else None
        if error is not None:
            d.error = error
    except MatcalcError as exc:
        _fail(exc)
        return
    if fmt == "json":
        click.echo(d.json())
        return
    if fmt == "numpy":
        click.echo(d.source, nl=False)
        return
    if fmt == "latex":
        click.echo(d.latex(steps=steps))
        return
    if steps:
        click.echo(d.steps_text())
        click.echo()
    click.echo(f"∂f/∂{wrt} = {d.result_text()}")
    for name, body in d.where():
        click.echo(f"  where {name} = {body}")
    for note in d.notes:
        click.echo(f"note: {note}")
    if error is not None:
        click.echo(f"check: largest relative error against central finite differences: "
                   f"{error:.1e}")


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
