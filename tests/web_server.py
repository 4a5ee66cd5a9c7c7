"""One `matcalc serve` for the web tests (test_web_api.py, test_web_browser.py): started on a free
port of 127.0.0.1 at its first use, stopped when the test run ends.

`server()` → its base URL; `request(method, path, body)` → (status, headers, parsed JSON or
bytes), through the standard library only.
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
