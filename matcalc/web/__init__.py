"""`matcalc serve`: a local web page and JSON API over the Python API (the `web` extra).

Pieces, one job each:

- `request.py`   what a request may ask: JSON → a validated job (sizes limited), or a 4xx;
- `worker.py`    runs one job in a worker process: `matcalc.derive` / `hessian` → JSON;
- `pool.py`      the worker processes: one job each at a time, killed at the time limit;
- `app.py`       the Starlette application: routes, static files, security headers;
- `server.py`    `serve()`: uvicorn on loopback, as the `matcalc serve` command runs it;
- `static/`      the page (index.html, app.js, style.css) and KaTeX, vendored.

Importing `matcalc` does not import this package; this package imports Starlette only in
`app.py` and uvicorn only in `server.py`.
"""
