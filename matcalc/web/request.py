"""What a request may ask: a JSON body → a validated job for a worker, or a `RequestError` (4xx).

Every size is limited here, before a worker sees the request: the body, the expression (the
parser's own limit), the number and length of names and dimensions. Nothing in a request is a
path, a module or code: the expression is text for the parser, the rest are names and flags.

>>> derive_job({"expr": "x'*x", "wrt": "x"})["wrt"]
'x'
>>> derive_job({"expr": "x'*x"})
Traceback (most recent call last):
...
matcalc.web.request.RequestError: missing field 'wrt': the variable to differentiate by
"""
from __future__ import annotations

import json
from typing import Any

MAX_BODY = 64 * 1024        # bytes of a request body
MAX_EXPR = 20_000           # characters of an expression, as the parser allows
MAX_NAME = 64               # characters of a variable or dimension name
MAX_NAMES = 64              # entries of `shapes` or `symmetric`
MAX_WRT = 16                # variables in one request
MAX_DIM = 10**6             # a numeric dimension

DERIVE_FIELDS = {"expr", "wrt", "shapes", "symmetric", "verify", "hessian", "check", "vec",
                 "extras"}
VARIABLES_FIELDS = {"expr", "shapes", "symmetric"}


class RequestError(Exception):
    """A request the API refuses before running it; `status` is the HTTP status (4xx)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body.

    >>> parse_body(b'{"expr": "x"}')
    {'expr': 'x'}
    """
    if len(body) > MAX_BODY:
        raise RequestError(f"the request body is larger than {MAX_BODY} bytes", 413)
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RequestError(f"the body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(value, dict):
        raise RequestError("the body must be a JSON object, e.g. "
                           "{\"expr\": \"w'*w where w = sigmoid(X'*a)\", \"wrt\": \"X\"}")
    return value


def derive_job(body: dict[str, Any]) -> dict[str, Any]:
    """A derivation job: what `matcalc.derive` (or `matcalc.hessian`) takes, checked."""
    _known(body, DERIVE_FIELDS)
    job = {"op": "derive", **_problem(body), "wrt": _wrt(body)}
    for flag, default in (("verify", True), ("hessian", False), ("check", False), ("vec", False),
                          ("extras", False)):
        job[flag] = _flag(body, flag, default)
    if job["hessian"] and isinstance(job["wrt"], list):
        raise RequestError("a Hessian is taken with respect to one variable: give wrt as a name")
    if job["vec"] and isinstance(job["wrt"], list):
        raise RequestError("the vec/Kronecker form takes one variable: give wrt as a name")
    return job


def variables_job(body: dict[str, Any]) -> dict[str, Any]:
    """A job that reads the expression and infers its variables' shapes (no derivative)."""
    _known(body, VARIABLES_FIELDS)
    return {"op": "variables", **_problem(body)}


def _known(body: dict[str, Any], fields: set[str]) -> None:
    unknown = sorted(k for k in body if k not in fields)
    if unknown:
        raise RequestError(f"unknown field {unknown[0][:MAX_NAME]!r}; the fields are "
                           f"{', '.join(sorted(fields))}")


def _problem(body: dict[str, Any]) -> dict[str, Any]:
    expr = body.get("expr")
    if not isinstance(expr, str):
        raise RequestError("missing field 'expr': the expression, a string")
    if len(expr) > MAX_EXPR:
        raise RequestError(f"the expression has {len(expr):,} characters; the limit is "
                           f"{MAX_EXPR:,}", 413)
    return {"expr": expr, "shapes": _shapes(body.get("shapes")),
            "symmetric": _names(body.get("symmetric"), "symmetric")}


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        raise RequestError(f"{what} must be a name of 1 to {MAX_NAME} characters, got "
                           f"{_show(value)}")
    return value


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_NAMES:
        raise RequestError(f"{what} must be a list of at most {MAX_NAMES} names")
    return [_name(v, f"each entry of {what}") for v in value]


def _wrt(body: dict[str, Any]) -> str | list[str]:
    wrt = body.get("wrt")
    if wrt is None:
        raise RequestError("missing field 'wrt': the variable to differentiate by")
    if isinstance(wrt, list):
        if not 1 <= len(wrt) <= MAX_WRT:
            raise RequestError(f"wrt must name 1 to {MAX_WRT} variables")
        return [_name(w, "each entry of wrt") for w in wrt]
    return _name(wrt, "wrt")


def _shapes(value: Any) -> dict[str, Any]:
    """{name: dims}: dims a string ("m,n", "m", "scalar") or a list of up to two dimensions."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_NAMES:
        raise RequestError(f"shapes must be an object of at most {MAX_NAMES} entries, e.g. "
                           f"{{\"X\": [\"m\", \"n\"], \"a\": [\"m\"], \"t\": []}}")
    shapes: dict[str, Any] = {}
    for name, dims in value.items():
        _name(name, "a name in shapes")
        if isinstance(dims, str):
            if len(dims) > 2 * MAX_NAME + 1:
                raise RequestError(f"the shape of {name!r} is too long")
            shapes[name] = dims
            continue
        if not isinstance(dims, list) or len(dims) > 2:
            raise RequestError(f"the shape of {name!r} must be [] (a scalar), [n] (a vector) or "
                               f"[m, n] (a matrix), got {_show(dims)}")
        for d in dims:
            if isinstance(d, bool) or not (isinstance(d, str) and 0 < len(d) <= MAX_NAME
                                           or isinstance(d, int) and 1 <= d <= MAX_DIM):
                raise RequestError(f"a dimension of {name!r} must be a name or an integer from 1 "
                                   f"to {MAX_DIM}, got {_show(d)}")
        shapes[name] = tuple(dims)
    return shapes


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise RequestError(f"{name} must be true or false, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
