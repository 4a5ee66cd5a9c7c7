"""Imported once by the forkserver that forks the workers (pool.py): matcalc and its rules are
loaded there, so that every worker, forked from it, starts warm."""
from matcalc.rules import load_rules
from matcalc.web import worker  # noqa: F401 — the workers' code, imported before they fork

load_rules()
