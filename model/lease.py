"""Node leases as the API server holds them, renewed lazily: no event per renewal.

A kubelet renews its node's lease every ``NODE_LEASE_RENEW_SECONDS`` (10 s,
kubernetes/kubernetes:pkg/kubelet/nodelease) at a phase drawn from the simulation's generator: one of
:data:`LEASE_SLOTS` slots of :data:`LEASE_SLOT_SECONDS`. While it renews, its renewals fall exactly on
its slot's *ticks* (tick ``n`` is at ``n * 0.1`` s; the slot's ticks are ``n ≡ slot (mod 100)``), so
the time of the latest renewal follows from the clock and nothing needs simulating. At 5,000 nodes that
saves 1.8 million renewals per simulated hour; the node lifecycle controller, the only reader, asks
:func:`last_renewal` when it looks.

After an outage of the kubelet's path to the API server the lease is renewed neither at once nor on
its slot: :func:`renewal_after_outage` gives the retry that gets through (one event per reconnection,
scheduled by the kubelet).

A node records ``renewed_at`` (the latest renewal before the current renewing stretch, or when the
stretch ended), ``lease_slot`` (``-1`` while nobody renews) and ``lease_from_tick`` (the stretch
renews on its slot's ticks after this one). The store's ``start_lease`` / ``stop_lease`` /
``heartbeat`` transitions write them; the kubelet dispatcher calls those.

>>> from podquake.model.objects import Node
>>> from podquake.model.quantity import Resources
>>> node = Node("n", 0, {}, Resources(1000, 1), Resources(1000, 1), lease_slot=7, lease_from_tick=0)
>>> last_renewal(node, 0.5), last_renewal(node, 0.7), last_renewal(node, 10.69), last_renewal(node, 10.7)
(0.0, 0.7, 0.7, 10.7)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from podquake.model import constants as k8s

if TYPE_CHECKING:
    from podquake.model.objects import Node

__all__ = [
    "LEASE_SLOTS",
    "LEASE_SLOT_SECONDS",
    "TICKS_PER_SECOND",
    "current_tick",
    "first_failed_renewal",
    "last_renewal",
    "renewal_after_outage",
]

LEASE_SLOT_SECONDS = 0.1
TICKS_PER_SECOND = 10  # 1 / LEASE_SLOT_SECONDS, as an integer so tick times are exact
LEASE_SLOTS = int(k8s.NODE_LEASE_RENEW_SECONDS * TICKS_PER_SECOND)
"""How many lease phases there are: one per 0.1 s of the 10 s renew interval."""
_EPS = 1e-9


def current_tick(now: float) -> int:
    """The latest tick at or before ``now`` (a tick at ``now`` itself counts as passed)."""
    return math.floor(now * TICKS_PER_SECOND + _EPS)


def last_renewal(node: Node, now: float) -> float:
    """When ``node``'s lease was last renewed, as of ``now``."""
    slot = node.lease_slot
    if slot < 0:
        return node.renewed_at
    tick = current_tick(now)
    tick -= (tick - slot) % LEASE_SLOTS
    return tick / TICKS_PER_SECOND if tick > node.lease_from_tick else node.renewed_at



def first_failed_renewal(slot: int, cut_at: float) -> float:
    """The first renewal of ``slot`` that a cut from the API server starting at ``cut_at`` makes fail:
    its first tick after ``cut_at`` (a tick at ``cut_at`` itself got through).

    >>> first_failed_renewal(7, 0.7), first_failed_renewal(7, 0.75), first_failed_renewal(7, 5.0)
    (10.7, 10.7, 10.7)
    """
    tick = current_tick(cut_at) + 1
    tick += (slot - tick) % LEASE_SLOTS
    return tick / TICKS_PER_SECOND


def renewal_after_outage(failed_at: float, reconnected_at: float) -> float:
    """When a lease whose renewal first failed at ``failed_at`` is renewed again, the API server being
    reachable from ``reconnected_at`` on (after ``failed_at``).

    Upstream's lease controller (staging/src/k8s.io/component-helpers/apimachinery/lease/controller.go
    ``sync``): the failed renewal's five immediate retries fail too, then ``backoffEnsureLease`` GETs
    the lease at once and after sleeps of 0.2, 0.4, 0.8, 1.6, 3.2, 6.4 s, then every 7 s
    (``LEASE_RETRY_INITIAL_SECONDS`` doubling to ``LEASE_RETRY_MAX_SECONDS``); the first GET at or
    after ``reconnected_at`` succeeds and the lease is renewed then. Requests to the unreachable API
    server are taken to fail at once (refused, as during an API server outage); a blackholed one would
    wait out the heartbeat client's timeout first (10 s, cmd/kubelet/app/server.go).

    >>> renewal_after_outage(10.0, 10.1), renewal_after_outage(10.0, 13.5), renewal_after_outage(10.0, 60.0)
    (10.2, 16.2, 64.6)
    """
    tick = 0  # in ticks after failed_at (the sleeps are whole ticks)
    target = math.ceil((reconnected_at - failed_at) * TICKS_PER_SECOND - _EPS)
    sleep = round(k8s.LEASE_RETRY_INITIAL_SECONDS * TICKS_PER_SECOND)
    cap = round(k8s.LEASE_RETRY_MAX_SECONDS * TICKS_PER_SECOND)
    while tick < target and sleep < cap:
        tick += sleep
        sleep *= 2
    if tick < target:  # every 7 s from here on
        tick += -((tick - target) // cap) * cap
    return failed_at + tick / TICKS_PER_SECOND
