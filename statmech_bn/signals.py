"""SIGINT and SIGTERM stop a run the same way: between two stored points, never inside one.

:func:`install` (called by the command line) turns both signals into :class:`Interrupted`; inside
:func:`critical` (the store's append of one point) the signal is held back until the point is whole. Without
:func:`install` (library use) :func:`critical` does nothing and Python's defaults apply.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

_state = {"installed": False, "depth": 0, "pending": None}


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop (Ctrl-C or SIGTERM); ``signal_name`` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name


def _handler(signum, frame):
    if _state["depth"]:
        _state["pending"] = signum
        return
    raise Interrupted(signum)


def install() -> None:
    """Route SIGINT and SIGTERM to :class:`Interrupted` (main thread only)."""
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    _state["installed"] = True


@contextmanager
def critical():
    """Hold SIGINT/SIGTERM back while the block runs; raise :class:`Interrupted` after it if one came."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        pending = _state["pending"]
        if pending is not None and not _state["depth"]:
            _state["pending"] = None
            raise Interrupted(pending)
