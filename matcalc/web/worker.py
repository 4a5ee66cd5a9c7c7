"""One job in a worker process: the Python API called on a validated request, answered as JSON.

`run_job(job)` → (HTTP status, JSON-ready payload). A user error (`MatcalcError`) is a 422 with
the message — the caret block for parse errors — and where it points; a derivative is the
`--format json` object (a list with several wrt), plus `code` (every backend's module) and
`latex_steps` when the job asks for `extras`. The expression is only ever parsed: nothing a
request carries is evaluated; the code that runs is matcalc's own generated code, in the
self-check.

>>> status, payload = run_job({"op": "variables", "expr": "w'*w where w = sigmoid(X'*a)",
...                            "shapes": {}, "symmetric": []})
>>> status, [(v["name"], v["shape"], v["type"]) for v in payload["variables"]]
(200, [('X', ['len(a)', 'cols(X)'], 'matrix'), ('a', ['len(a)'], 'vector')])
"""
from __future__ import annotations

import importlib
import importlib.util
import math
import signal
from typing import Any

import matcalc
from matcalc.parse import parse
from matcalc.printing.backends import BACKENDS
from matcalc.rules import load_rules
from matcalc.shapes import build_problem

MEMORY_LIMIT = 4 * 1024**3      # bytes of address space a worker may use
# POSIX only: Windows has no `resource` module, and there only the time limit applies
resource = importlib.import_module("resource") if importlib.util.find_spec("resource") else None


def worker_main(conn: Any, memory_limit: int = MEMORY_LIMIT) -> None:
    """A worker process's loop: receive a job, send (status, payload), until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C stops the server, which stops us
    _limit_memory(memory_limit)
    load_rules()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(run_job(job))


def _limit_memory(limit: int) -> None:
    if resource is None:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def run_job(job: dict[str, Any]) -> tuple[int, Any]:
    """(status, payload) of one job; never raises for a user's input."""
    try:
        if job["op"] == "variables":
            return 200, _variables(job)
        return 200, _derive(job)
    except matcalc.MatcalcError as exc:
        return 422, error_payload(type(exc).__name__, str(exc), exc.start, exc.end)
    except MemoryError:
        return 422, error_payload("LimitError", "the derivation needed more memory than a worker "
                                  "may use; simplify the expression or bind parts of it to names")
    except RecursionError:
        return 422, error_payload("LimitError", "the expression nests too deeply to differentiate; "
                                  "bind parts of it to names")
    except Exception as exc:  # noqa: BLE001 — a bug in matcalc: said so, without a traceback
        return 500, error_payload("InternalError", f"matcalc failed on this input "
                                  f"({type(exc).__name__}: {str(exc)[:300]}); this is a bug in "
                                  f"matcalc, please report the expression")


def error_payload(kind: str, message: str, start: int | None = None,
                  end: int | None = None) -> dict[str, Any]:
    """The JSON of an error answer: {"error": {type, message, start, end}}."""
    return {"error": {"type": kind, "message": message, "start": start, "end": end}}


def _variables(job: dict[str, Any]) -> dict[str, Any]:
    problem = build_problem(parse(job["expr"]), job["shapes"], set(job["symmetric"]))
    return {
        "variables": [{"name": name, "shape": _dims(shape), "type": _type(name, shape, problem)}
                      for name, shape in problem.variables.items()],
        "bindings": list(problem.binding_order),
        "function_shape": _dims(problem.expr.shape),
    }


def _dims(shape: tuple) -> list[str]:
    """A shape as the JSON schema writes it: [] scalar, [n] column vector, [m, n] matrix."""
    if tuple(shape) == (1, 1):
        return []
    if shape[1] == 1:
        return [str(shape[0])]
    return [str(d) for d in shape]


def _type(name: str, shape: tuple, problem: Any) -> str:
    if name in problem.symmetric:
        return "symmetric"
    return {0: "scalar", 1: "vector", 2: "matrix"}[len(_dims(shape))]


def _derive(job: dict[str, Any]) -> Any:
    options = {"shapes": job["shapes"], "symmetric": job["symmetric"], "verify": job["verify"]}
    if job["hessian"]:
        result = matcalc.hessian(job["expr"], wrt=job["wrt"], **options)
    else:
        result = matcalc.derive(job["expr"], wrt=job["wrt"], **options)
    if job["vec"]:
        result = result.vec(verify=job["verify"])
    derivations = list(result) if isinstance(result, matcalc.DerivationSet) else [result]
    if job["check"]:
        error = max(d.check() for d in derivations)
        for d in derivations:
            d.error = error
    payload = [_json(d) for d in derivations]
    if job["extras"]:
        code = {backend: result.code(backend) for backend in BACKENDS}
        for d, item in zip(derivations, payload):
            item["code"] = code
            item["latex_steps"] = d.latex(steps=True)
    return payload[0] if len(payload) == 1 else payload


def _json(d: matcalc.Derivation) -> dict[str, Any]:
    item = d.to_json()
    error = item.get("check_error")
    if error is not None and not math.isfinite(error):
        item["check_error"] = None
    return item
