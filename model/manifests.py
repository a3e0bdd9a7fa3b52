"""STUB (being written by a helper session): loading Kubernetes YAML."""

from __future__ import annotations

from typing import Any


class Manifest:
    def apply_to(self, sim: Any) -> None:
        raise NotImplementedError


def load_manifests(path: Any = None, *, text: str | None = None, source: str | None = None) -> list[Manifest]:
    raise NotImplementedError
