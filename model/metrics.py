"""The metrics pipeline: what the HorizontalPodAutoscaler can read, as metrics-server and an
external-metrics adapter would serve it.

Sources register functions; readers ask for a pod's CPU usage or an external metric by name. The
traffic model registers the pod CPU source (usage follows the load a pod serves); a work queue
registers its length as an external metric; tests register whatever they need.

>>> metrics = Metrics()
>>> metrics.register_pod_cpu(lambda pod_uid: 250.0 if pod_uid == "a" else None)
>>> metrics.register_external("queue_length", lambda: 42.0)
>>> metrics.pod_cpu_millis("a"), metrics.pod_cpu_millis("b"), metrics.external("queue_length")
(250.0, None, 42.0)

Simplification: metrics are read at the instant the autoscaler asks (metrics-server's 15 s scrape
window and the kubelet's CPU-usage averaging are not modelled); a source answers ``None`` for a pod
it has no sample for, which the HPA treats as a missing metric, as upstream.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Metrics"]

PodCpuSource = Callable[[str], "float | None"]
ExternalSource = Callable[[], "float | None"]


class Metrics:
    __slots__ = ("_pod_cpu", "_external")

    def __init__(self) -> None:
        self._pod_cpu: list[PodCpuSource] = []
        self._external: dict[str, ExternalSource] = {}

    def register_pod_cpu(self, source: PodCpuSource) -> None:
        """Add a source of per-pod CPU usage in millicores; the first that answers wins."""
        self._pod_cpu.append(source)

    def register_external(self, name: str, source: ExternalSource) -> None:
        """Serve an external metric (for example a queue's length) under ``name``."""
        self._external[name] = source

    def pod_cpu_millis(self, pod_uid: str) -> float | None:
        """The pod's current CPU usage in millicores, or ``None`` when no source has a sample."""
        for source in self._pod_cpu:
            value = source(pod_uid)
            if value is not None:
                return value
        return None

    def external(self, name: str) -> float | None:
        source = self._external.get(name)
        return None if source is None else source()

    def external_names(self) -> tuple[str, ...]:
        return tuple(self._external)
