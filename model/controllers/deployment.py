"""STUB (being written by a helper session): DeploymentController."""

from __future__ import annotations

from typing import Any


class DeploymentController:
    def __init__(self, sim: Any) -> None:
        self.sim = sim

    def start(self) -> None:
        pass

    def status(self, workload: Any) -> Any:
        from podquake.model.simulation import WorkloadStatus

        return WorkloadStatus(workload.replicas, 0, 0, 0)
