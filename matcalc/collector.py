"""Derivations run with Python's cyclic garbage collector paused.

A derivation allocates hundreds of thousands of small containers (expression nodes, their
children's tuples, the matcher's memos) that stay alive until it returns. CPython starts a
collection every 700 net allocations of containers, and its full passes walk every live container
in the process: at the largest sizes of `python bench/growth.py` one full pass took 0.13–0.15 s of
a 0.4–0.8 s derivation (timed with `gc.callbacks`), and where it lands depends on the heap, not on
the expression. Nothing in a derivation needs the collector: expression trees hold no reference
cycles, so what a derivation drops is freed by reference counting as it goes; the few cycles it may
leave (a traceback caught and handled) are collected once the collector runs again.

`paused()` restores the collector's previous state when the outermost paused block ends (or
raises), so a caller that disabled it keeps it disabled, and nested or concurrent derivations
(threads) re-enable it only when the last one ends.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0                 # paused blocks in progress, in all threads
_was_enabled = False         # the collector's state when the first of them began


@contextmanager
def paused() -> Iterator[None]:
    """A block run with the cyclic garbage collector disabled (see the module docstring)."""
    global _running, _was_enabled
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()
