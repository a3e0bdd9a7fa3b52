"""STUB (being written by a helper session): a minimal kubelet that starts pods and deletes them."""

from __future__ import annotations

from typing import Any

from podquake.model import trace as ev


class Kubelet:
    def __init__(self, sim: Any, node_name: str) -> None:
        self.sim = sim
        self.node_name = node_name

    def start(self) -> None:
        state = self.sim.state
        state.watch(ev.PodBound, self._on_bound)
        state.watch(ev.PodDeletionRequested, self._on_delete)

    def _on_bound(self, event: ev.PodBound) -> None:
        if event.node != self.node_name:
            return
        pod = self.sim.state.pods_by_key[event.pod]
        timeout = self.sim.env.timeout(self.sim.timing.container_start_seconds)
        timeout.callbacks.append(lambda _e: self._run(pod.uid))

    def _run(self, uid: str) -> None:
        state = self.sim.state
        pod = state.pods.get(uid)
        if pod is None or pod.deletion_timestamp is not None:
            return
        for i in range(len(pod.containers)):
            state.start_container(uid, i)
        state.set_pod_phase(uid, "Running")
        state.set_pod_ready(uid, True)

    def _on_delete(self, event: ev.PodDeletionRequested) -> None:
        pod = self.sim.state.pods_by_key[event.pod]
        if pod.node_name != self.node_name:
            return
        timeout = self.sim.env.timeout(self.sim.timing.container_stop_seconds)
        timeout.callbacks.append(lambda _e: self.sim.state.delete_pod(pod.uid, "Deleted") if pod.uid in self.sim.state.pods else None)
