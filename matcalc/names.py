"""Names with a meaning of their own in the input language.

A Greek letter's name (`alpha`, `lambda`, …) is a scalar unless declared otherwise (shapes.py), and
typesets as the letter (printing/latex.py).
"""
from __future__ import annotations

GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi",
         "chi", "psi", "omega")

__all__ = ["GREEK"]
