"""Stopping a campaign cleanly: a flag that every chunk checks before each example.

A signal handler only sets it (in the command's process through :func:`stop_campaign`, in a worker
process through :func:`on_stop_signal`), so no exception is ever raised from a handler into the
middle of Hypothesis, the simulation or the pool's plumbing (where it could be swallowed, say by a
garbage-collector callback). The example running finishes, its chunk returns what it found, chunks
not started return empty.
"""

from __future__ import annotations

from typing import Any

__all__ = ["clear_stop_request", "on_stop_signal", "stop_campaign", "stop_requested"]

_STOP = {"requested": False}


def stop_campaign() -> None:
    """Ask the running campaign (in this process, and its workers) to stop after the examples in
    progress and return what it found, marked ``interrupted``. Safe to call from a signal handler."""
    _STOP["requested"] = True


def stop_requested() -> bool:
    """Whether :func:`stop_campaign` (or a stop signal, in a worker) asked the campaign to stop."""
    return _STOP["requested"]


def clear_stop_request() -> None:
    """The campaign stopped: the next one starts afresh."""
    _STOP["requested"] = False


def on_stop_signal(_signum: int, _frame: Any) -> None:
    """A worker process's SIGINT and SIGTERM handler: stop after the example in progress."""
    _STOP["requested"] = True
