"""The kubelets' shared dispatcher: one per simulation, it routes watch events to the kubelet of the
node concerned, batches kubelet timers by due time, and starts and stops the nodes' leases.

Why one object for every kubelet: at 5,000 nodes a watch callback per kubelet would make each pod
binding cost 5,000 calls, and a renewal per lease would cost 300,000 calls per ten simulated
minutes. Instead:

- **Routing.** The dispatcher is the only kubelet-side watcher of the store; it looks the node up
  and calls that kubelet's hook (a pod binding only queues the pod for its start instant).
- **Timers.** :meth:`KubeletDispatcher.call_at` keeps one SimPy timeout per distinct instant, with
  every action due then.
- **Leases.** A kubelet renews its lease every ``NODE_LEASE_RENEW_SECONDS`` (10 s,
  kubernetes/kubernetes:pkg/kubelet/nodelease) at a phase drawn from ``sim.rng``: one of
  :data:`LEASE_SLOTS` slots of :data:`LEASE_SLOT_SECONDS`. Renewals are not simulated one by one:
  :meth:`KubeletDispatcher.join` and :meth:`~KubeletDispatcher.leave` start and stop the node's lease
  in the store, and the latest renewal follows from the clock (:mod:`podquake.model.lease`).
  (Upstream jitters each renewal by up to 4 % instead; see the simplifications in
  :mod:`podquake.model.kubelet`.)

The simulation creates it (``Simulation.kubelet_dispatcher``) after starting the control plane and
before adding its first node, so its watchers run after the controllers' on the same event. It calls
the kubelet's private hooks (``_on_*``, ``_start_new_pod``, ``_shutdown``, ``_report_node_ready``,
``_epoch``): the two modules are one component, split for size; those hooks are not fault methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.lease import LEASE_SLOTS, TICKS_PER_SECOND, current_tick
from podquake.model.objects import Pod

if TYPE_CHECKING:
    from podquake.model.kubelet import Kubelet
    from podquake.model.simulation import Simulation

__all__ = ["KubeletDispatcher"]


class KubeletDispatcher:
    """One per simulation, shared by its kubelets: routing, batched timers, leases (see the module
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
        state = self.state
        state.watch(ev.PodBound, self._on_bound)
        state.watch(ev.PodDeletionRequested, self._on_deletion_requested)
        state.watch(ev.PodDeleted, self._on_deleted)
        state.watch(ev.NodePowerChanged, self._on_power)
        state.watch(ev.NodeReadyChanged, self._on_node_ready)
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

    def _on_node_ready(self, event: ev.NodeReadyChanged) -> None:
        if event.status == "Unknown":
            kubelet = self.kubelets.get(event.node)
            if kubelet is not None:
                kubelet._on_node_unknown()

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
        """Renew ``kubelet``'s lease on its slot's ticks, from the next one on (model/lease.py)."""
        self.state.start_lease(kubelet.node_name, kubelet.lease_slot)
        want = kubelet.ready_to_report()
        if kubelet.node.ready != want:
            self.report_at_renewal(kubelet, self.env.now)
        if want == "True" and not kubelet.runtime_healthy:  # the runtime is down, not yet for 30 s
            self.report_at_renewal(kubelet, kubelet.runtime_down_since + k8s.MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS)
        elif want == "False" and kubelet.runtime_healthy:  # recovered, not yet seen by the status check
            self.report_at_renewal(kubelet, kubelet.runtime_seen_up_at)

    def report_at_renewal(self, kubelet: Kubelet, not_before: float) -> None:
        """Have ``kubelet`` report its node's Ready condition at its first renewal after ``not_before``."""
        tick = current_tick(not_before) + 1
        tick += (kubelet.lease_slot - tick) % LEASE_SLOTS
        self.call_at(tick / TICKS_PER_SECOND, self._report_at_renewal, kubelet)

    def leave(self, kubelet: Kubelet) -> None:
        """Stop renewing ``kubelet``'s lease: the API keeps its latest renewal."""
        self.state.stop_lease(kubelet.node_name)

    def all_renewing(self) -> bool:
        """Whether every kubelet renews its node's lease (none stopped, cut off, powered off)."""
        kubelets = self.kubelets
        return not any(name in kubelets for name in self.state.unrenewed)

    @staticmethod
    def _report_at_renewal(kubelet: Kubelet) -> None:
        """A renewal also reports the node's Ready condition (the first one after joining, if it differs)."""
        if kubelet.beating:
            kubelet._report_node_ready()

