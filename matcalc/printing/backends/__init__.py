"""How each array library spells generated code: one table per target (base.py: the format).

Adding a target is one table here and its entry in BACKENDS.
"""
from __future__ import annotations

from .array_api import ARRAY_API
from .base import Backend
from .jax import JAX
from .numba import NUMBA
from .numpy import NUMPY
from .torch import TORCH

BACKENDS: dict[str, Backend] = {b.name: b for b in (NUMPY, JAX, TORCH, ARRAY_API, NUMBA)}

__all__ = ["BACKENDS", "Backend"]
