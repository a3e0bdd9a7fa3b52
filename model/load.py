"""Serving load: how the traffic of :mod:`podquake.model.traffic` reaches pods, is served, queued,
dropped or failed, what it costs in CPU, and what the trace records of it.

Two levels of detail, one interface (:func:`make_load`):

- :class:`FluidLoad` (``mode="fluid"``, the fast default): rates, not requests. Every ``tick``
  (default 1 s) each generator's rate is split over the endpoints the node proxies would choose, in
  expectation; each pod serves up to its capacity, queues the rest up to ``queue_limit`` and drops
  beyond it.
- :class:`RequestLoad` (``mode="request"``): requests. Arrivals are Poisson; each request is routed
  by the node proxy (:meth:`Proxy.route <podquake.model.proxy.Proxy.route>` with the checks of
  :meth:`Proxy.deliver <podquake.model.proxy.Proxy.deliver>`, whose counters it keeps), queued at
  its pod (FIFO) and served with a service time; its latency is measured.

Where things are: :mod:`podquake.model.load_common` (what both modes share: pods as servers, where
traffic enters, windows, the trace, CPU metrics), :mod:`podquake.model.load_fluid` (the fluid mode) and
:mod:`podquake.model.load_request` (the request mode), each with its own part of this description.
This module is the interface: :func:`make_load`, :data:`MODES`, and every public name re-exported.

**Wiring.** ``make_load(sim, mode)`` then ``start()``; the dependencies default to the simulation's
``sim.traffic`` (:class:`~podquake.model.traffic.Traffic`, required), ``sim.proxy`` (required),
``sim.load_balancers``, ``sim.network`` and ``sim.metrics`` (each optional).

Simplifications, on purpose: see the modules (expected shares, tick-boundary changes, affinity without
expiry, one FIFO server per pod, no keep-alive connections: every request is a new connection, as
:mod:`podquake.model.proxy` assumes); a request needs only the container that serves its Service's
port (:func:`~podquake.model.proxy.serving_container`), not every container of the pod; a container that dies while its kubelet cannot report it (stopped, cut off) is noticed at the
next window boundary in the fluid mode (at the next tick in the request mode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podquake.model.load_common import (
    LB_UNREACHABLE,
    LOST_IN_QUEUE,
    NO_CLIENT,
    NO_LB_TARGET,
    QUEUE_FULL,
    Serving,
)
from podquake.model.load_fluid import FluidLoad
from podquake.model.load_request import RequestLoad

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = [
    "FluidLoad",
    "LB_UNREACHABLE",
    "LOST_IN_QUEUE",
    "MODES",
    "NO_CLIENT",
    "NO_LB_TARGET",
    "QUEUE_FULL",
    "RequestLoad",
    "Serving",
    "make_load",
]

MODES = ("fluid", "request")


def make_load(sim: Simulation, mode: str = "fluid", **kwargs: Any) -> FluidLoad | RequestLoad:
    """The load model of ``mode`` (``"fluid"`` or ``"request"``); keyword arguments as :class:`FluidLoad`."""
    if mode == "fluid":
        return FluidLoad(sim, **kwargs)
    if mode == "request":
        return RequestLoad(sim, **kwargs)
    raise ValueError(f"unknown load mode {mode!r}: use one of {', '.join(MODES)}")
