"""`serve()`: the page and the API on uvicorn, as `matcalc serve` runs them.

>>> loopback("127.0.0.1"), loopback("0.0.0.0")
(True, False)
"""
from __future__ import annotations

import ipaddress
import os
import threading
import webbrowser

import click
import uvicorn

from .app import create_app
from .pool import WorkerPool


def loopback(host: str) -> bool:
    """Whether `host` is a loopback address or name (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False,
          workers: int | None = None, time_limit: float = 10.0, quiet: bool = False) -> None:
    """Serve until interrupted. `workers` processes (default: the number of cores, at most 4)
    each run one derivation at a time, stopped after `time_limit` seconds."""
    size = workers or max(1, min(4, os.cpu_count() or 1))
    pool = WorkerPool(size=size, time_limit=time_limit)
    app = create_app(pool, loopback_only=loopback(host))
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    if not quiet:
        click.echo(f"matcalc: serving {url} ({size} workers, {time_limit:g} s per derivation); "
                   f"Ctrl-C stops", err=True)
        if not loopback(host):
            click.echo(f"matcalc: warning: {host} is not a loopback address; other machines can "
                       f"reach this server", err=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                lifespan="on", server_header=False)
