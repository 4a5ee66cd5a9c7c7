"""One `matcalc serve` for the web tests (test_web_api.py, test_web_browser.py): started on a free
port of 127.0.0.1 at its first use, stopped when the test run ends.

`server()` → its base URL; `request(method, path, body)` → (status, headers, parsed JSON or
bytes), through the standard library only. `check_seed_gradient` checks a generated seed gradient
against central finite differences (the page's copied code and the API's alike).
"""
from __future__ import annotations

import atexit
import http.client
import json
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from numeric import finite_difference_gradient

TIME_LIMIT = 2.0        # seconds per derivation in the test server; a blow-up is killed quickly
WORKERS = 2
_process: subprocess.Popen | None = None
_url: str | None = None
_log = tempfile.TemporaryFile()  # noqa: SIM115 — the server's stderr, for the whole run


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server() -> str:
    """The base URL of the running test server (started on first call)."""
    global _process, _url
    if _url is not None and _process is not None and _process.poll() is None:
        return _url
    port = _free_port()
    _process = subprocess.Popen(
        [sys.executable, "-m", "matcalc.cli", "serve", "--port", str(port), "--workers",
         str(WORKERS), "--time-limit", str(TIME_LIMIT)],
        stdout=subprocess.DEVNULL, stderr=_log)
    atexit.register(stop)
    _url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _process.poll() is not None:
            raise RuntimeError(f"matcalc serve exited: {log()}")
        try:
            if request("GET", "/api/health")[0] == 200:
                return _url
        except OSError:
            pass
        time.sleep(0.1)
    stop()
    raise RuntimeError("matcalc serve did not answer within 60 s")


def log() -> str:
    """What the server has written to stderr so far."""
    _log.seek(0)
    return _log.read().decode(errors="replace")


def stop() -> None:
    global _process, _url
    if _process is not None and _process.poll() is None:
        _process.terminate()
        try:
            _process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _process.kill()
            _process.wait()
    _process, _url = None, None


def request(method: str, path: str, body: Any = None, headers: dict | None = None,
            raw: bytes | None = None, timeout: float = 30) -> tuple[int, dict, Any]:
    """One HTTP request to the test server; a JSON answer is parsed."""
    assert _url is not None
    port = int(_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        content = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        if answer_headers.get("content-type", "").startswith("application/json"):
            return response.status, answer_headers, json.loads(content)
        return response.status, answer_headers, content
    finally:
        connection.close()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def run_module(source: str, name: str):
    """The function `name` of a generated module (matcalc's own code, as the page shows it)."""
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 — matcalc's output
    return namespace[name]


def check_seed_gradient(grad_X) -> None:
    """grad_X(X, a) against central differences of w'*w, w = σ(X'*a), at two random points."""
    for seed, (m, n) in enumerate([(4, 3), (5, 2)]):
        rng = np.random.default_rng(seed)
        X, a = rng.standard_normal((m, n)), rng.standard_normal(m)

        def f(X_, a=a):
            w = sigmoid(X_.T @ a)
            return float(w @ w)
        np.testing.assert_allclose(grad_X(X, a), finite_difference_gradient(f, X), rtol=1e-6,
                                   atol=1e-9)
