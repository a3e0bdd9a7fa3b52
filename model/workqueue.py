"""A controller work queue in simulated time, as client-go's workqueue: keys, deduplicated, in order.

A controller's process waits on :meth:`WorkQueue.wait`, then drains :meth:`WorkQueue.pop_all` and
syncs each key. Adding a key that is already queued does nothing (upstream dedups too). Delayed
adds (``add_after``) use a bare SimPy timeout callback, not a process, so they are cheap.

>>> import simpy
>>> env = simpy.Environment()
>>> queue = WorkQueue(env)
>>> queue.add("default/web"); queue.add("default/web"); queue.pop_all()
['default/web']
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

__all__ = ["WorkQueue", "periodic"]


class WorkQueue:
    __slots__ = ("env", "_keys", "_wakeup")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._keys: dict[Any, None] = {}
        self._wakeup: simpy.Event | None = None

    def add(self, key: Any) -> None:
        self._keys[key] = None
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.triggered:
            wakeup.succeed()

    def add_after(self, key: Any, delay: float) -> None:
        """Queue ``key`` after ``delay`` simulated seconds (immediately when ``delay <= 0``)."""
        if delay <= 0:
            self.add(key)
            return
        timeout = self.env.timeout(delay)
        timeout.callbacks.append(lambda _event: self.add(key))  # type: ignore[union-attr]

    def wait(self) -> simpy.Event:
        """An event that fires once the queue holds a key (at once if it already does)."""
        event = self.env.event()
        if self._keys:
            event.succeed()
        else:
            self._wakeup = event
        return event

    def pop_all(self) -> list[Any]:
        keys = list(self._keys)
        self._keys.clear()
        return keys

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys


def periodic(
    env: simpy.Environment, period: float, action: Callable[[], None], *, offset: float = 0.0
) -> Generator[simpy.Event, None, None]:
    """A SimPy process body that calls ``action()`` every ``period`` seconds, first after ``offset``."""
    if offset > 0:
        yield env.timeout(offset)
    while True:
        action()
        yield env.timeout(period)
