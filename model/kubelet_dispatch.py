"""The kubelets' shared dispatcher: one per simulation, it routes watch events to the kubelet of the
node concerned, batches kubelet timers by due time, and renews leases in 0.1 s phase slots.

Why one object for every kubelet: at 5,000 nodes a watch callback per kubelet would make each pod
binding cost 5,000 calls, and a timer per lease would cost 300,000 SimPy events per ten simulated
minutes. Instead:

- **Routing.** The dispatcher is the only kubelet-side watcher of the store; it looks the node up
  and calls that kubelet's hook (a pod binding only queues the pod for its start instant).
- **Timers.** :meth:`KubeletDispatcher.call_at` keeps one SimPy timeout per distinct instant, with
  every action due then.
- **Leases.** A kubelet renews its lease every ``NODE_LEASE_RENEW_SECONDS`` (10 s,
  kubernetes/kubernetes:pkg/kubelet/nodelease) at a phase drawn from ``sim.rng``: one of
  :data:`LEASE_SLOTS` slots of :data:`LEASE_SLOT_SECONDS`. Each non-empty slot has one timer every
  10 s that renews the lease of every kubelet in it. (Upstream jitters each renewal by up to 4 %
  instead; see the simplifications in :mod:`podquake.model.kubelet`.)

The simulation creates it (``Simulation.kubelet_dispatcher``) after starting the control plane and
before adding its first node, so its watchers run after the controllers' on the same event. It calls
the kubelet's private hooks (``_on_*``, ``_start_new_pod``, ``_shutdown``, ``_report_node_ready``,
``_epoch``): the two modules are one component, split for size; those hooks are not fault methods.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.objects import Pod

if TYPE_CHECKING:
    from podquake.model.kubelet import Kubelet
    from podquake.model.simulation import Simulation

__all__ = ["LEASE_SLOTS", "LEASE_SLOT_SECONDS", "KubeletDispatcher"]

LEASE_SLOT_SECONDS = 0.1
_TICKS_PER_SECOND = 10  # 1 / LEASE_SLOT_SECONDS, as an integer so tick times are exact
LEASE_SLOTS = int(k8s.NODE_LEASE_RENEW_SECONDS * _TICKS_PER_SECOND)
"""How many lease phases there are: one per 0.1 s of the 10 s renew interval."""
_EPS = 1e-9


class KubeletDispatcher:
    """One per simulation, shared by its kubelets: routing, batched timers, lease slots (see the module
    docstring). ``kubelets`` holds the started kubelets by node name; ``deletion_reasons`` the reason
    of each requested pod deletion, by pod key, until the kubelet removes the pod.
    """

    def __init__(self, sim: Simulation) -> None:
        self.env = sim.env
        self.state = sim.state
        self.kubelets: dict[str, Kubelet] = {}
        self.deletion_reasons: dict[str, str] = {}  # by pod key, until the pod is gone
        #: Asked by a kubelet before it starts a pod's containers: ``gate(pod, node_name, resume)`` is
        #: True when the pod's volumes are attached, else False and it calls ``resume()`` once they are
        #: (the kubelet volume manager's WaitForAttachAndMount). Set by :class:`~podquake.model.volumes.Volumes`.
        self.volume_gate: Callable[[Pod, str, Callable[[], None]], bool] | None = None
        self._due: dict[float, list[tuple[Callable[..., None], tuple[Any, ...]]]] = {}
        self._starts: dict[float, list[tuple[Kubelet, Pod, int]]] = {}
        self._slots: dict[int, dict[Kubelet, None]] = {}
        state = self.state
        state.watch(ev.PodBound, self._on_bound)
        state.watch(ev.PodDeletionRequested, self._on_deletion_requested)
        state.watch(ev.PodDeleted, self._on_deleted)
        state.watch(ev.NodePowerChanged, self._on_power)
        state.watch(ev.NodeRemoved, self._on_node_removed)

    # --- routing ---------------------------------------------------------------------------------
    def _on_bound(self, event: ev.PodBound) -> None:
        # The hot path of a big cluster: no record yet, just a place in the batch of pods that
        # start at the same instant (the kubelet takes charge of the pod when it starts).
        kubelet = self.kubelets.get(event.node)
        if kubelet is None or not kubelet.acting:
            return
        when = self.env.now + kubelet.timing.container_start_seconds
        batch = self._starts.get(when)
        if batch is None:
            batch = self._starts[when] = []
            timeout = self.env.timeout(max(0.0, when - self.env.now))
            timeout.callbacks.append(lambda _e: self._fire_starts(when))  # type: ignore[union-attr]
        batch.append((kubelet, self.state.pods_by_key[event.pod], kubelet._epoch))

    def _fire_starts(self, when: float) -> None:
        for kubelet, pod, epoch in self._starts.pop(when):
            kubelet._start_new_pod(pod, epoch)

    def _on_deletion_requested(self, event: ev.PodDeletionRequested) -> None:
        pod = self.state.pods_by_key.get(event.pod)
        if pod is None or pod.node_name is None:
            return
        self.deletion_reasons[event.pod] = event.reason
        kubelet = self.kubelets.get(pod.node_name)
        if kubelet is not None:
            kubelet._on_deletion_requested(pod)

    def _on_deleted(self, event: ev.PodDeleted) -> None:
        self.deletion_reasons.pop(event.pod, None)
        kubelet = self.kubelets.get(event.node)
        if kubelet is not None:
            kubelet._on_deleted(event.pod)

    def _on_power(self, event: ev.NodePowerChanged) -> None:
        kubelet = self.kubelets.get(event.node)
        if kubelet is not None:
            kubelet._on_power(event.up)

    def _on_node_removed(self, event: ev.NodeRemoved) -> None:
        kubelet = self.kubelets.pop(event.node, None)
        if kubelet is not None:
            kubelet._shutdown()

    # --- timers ----------------------------------------------------------------------------------
    def call_at(self, when: float, action: Callable[..., None], *args: Any) -> None:
        """Call ``action(*args)`` at simulated time ``when`` (at once-but-later if it has passed)."""
        batch = self._due.get(when)
        if batch is None:
            batch = self._due[when] = []
            timeout = self.env.timeout(max(0.0, when - self.env.now))
            timeout.callbacks.append(lambda _e: self._fire(when))  # type: ignore[union-attr]
        batch.append((action, args))

    def _fire(self, when: float) -> None:
        for action, args in self._due.pop(when):
            action(*args)

    # --- leases ----------------------------------------------------------------------------------
    def join(self, kubelet: Kubelet) -> None:
        """Renew ``kubelet``'s lease with the others of its slot, from the slot's next tick on."""
        members = self._slots.get(kubelet.lease_slot)
        if members is None:
            self._slots[kubelet.lease_slot] = {kubelet: None}
            first_tick = math.floor(self.env.now * _TICKS_PER_SECOND + _EPS) + 1
            self._schedule_slot(kubelet.lease_slot, first_tick + (kubelet.lease_slot - first_tick) % LEASE_SLOTS)
        else:
            members[kubelet] = None

    def leave(self, kubelet: Kubelet) -> None:
        """Stop renewing ``kubelet``'s lease (a slot left empty stops at its next tick)."""
        members = self._slots.get(kubelet.lease_slot)
        if members is not None:
            members.pop(kubelet, None)

    def _schedule_slot(self, slot: int, tick: int) -> None:
        timeout = self.env.timeout(max(0.0, tick / _TICKS_PER_SECOND - self.env.now))
        timeout.callbacks.append(lambda _e: self._renew_slot(slot, tick))  # type: ignore[union-attr]

    def _renew_slot(self, slot: int, tick: int) -> None:
        members = self._slots.get(slot)
        if not members:
            self._slots.pop(slot, None)
            return
        heartbeat = self.state.heartbeat
        for kubelet in list(members):  # Kubelet._renew_lease, inlined: 300,000 calls per 10 min at 5,000 nodes
            node = kubelet.node
            if kubelet.running and node.up and kubelet.connected:
                heartbeat(kubelet.node_name)
                if node.ready != ("True" if kubelet.runtime_healthy else "False"):
                    kubelet._report_node_ready()
            else:
                members.pop(kubelet)
        self._schedule_slot(slot, tick + LEASE_SLOTS)

