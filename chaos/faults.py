"""Faults as values: every kind of fault podquake injects, the registry of kinds, the YAML form.

A fault is a frozen value saying what goes wrong, where and when; the nemesis
(:mod:`podquake.chaos.nemesis`) is the only place it has an effect. See
:mod:`podquake.chaos.faults_base` for what every fault shares (``at``, ``duration``, targets by name
or by selector index, validation), :mod:`podquake.chaos.faults_nodes` and
:mod:`podquake.chaos.faults_control` for the kinds.

>>> fault = fault_from_dict({"kind": "container-crash", "pod": 0, "at": 30, "exitCode": 2})
>>> fault
ContainerCrash(pod=0, at=30.0, exit_code=2)
>>> fault_from_dict(fault.to_dict()) == fault
True
>>> sorted(FAULT_KINDS)[:3]
['container-crash', 'control-plane-outage', 'kubelet-stop']
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any

from podquake.chaos.faults_base import CONTROL_PLANE_COMPONENTS, Fault, camel, snake
from podquake.chaos.faults_control import (
    ControlPlaneOutage,
    ProvisioningFailure,
    QuotaExhaustion,
    SlowLoadBalancer,
    SlowProvisioning,
    TrafficSpike,
)
from podquake.chaos.faults_nodes import (
    ContainerCrash,
    KubeletStop,
    NetworkPartition,
    NodeDrain,
    NodeFailure,
    PodKill,
    ProbeFailure,
    RuntimeFailure,
    ZoneOutage,
)
from podquake.model.errors import InputError

__all__ = [
    "CONTROL_PLANE_COMPONENTS",
    "FAULT_KINDS",
    "ContainerCrash",
    "ControlPlaneOutage",
    "Fault",
    "KubeletStop",
    "NetworkPartition",
    "NodeDrain",
    "NodeFailure",
    "PodKill",
    "ProbeFailure",
    "ProvisioningFailure",
    "QuotaExhaustion",
    "RuntimeFailure",
    "SlowLoadBalancer",
    "SlowProvisioning",
    "TrafficSpike",
    "ZoneOutage",
    "describe_fault_kinds",
    "fault_from_dict",
]

FAULT_KINDS: dict[str, type[Fault]] = {
    cls.kind: cls
    for cls in (
        NodeFailure,
        NodeDrain,
        KubeletStop,
        RuntimeFailure,
        NetworkPartition,
        ZoneOutage,
        ContainerCrash,
        PodKill,
        ProbeFailure,
        TrafficSpike,
        ControlPlaneOutage,
        SlowProvisioning,
        ProvisioningFailure,
        QuotaExhaustion,
        SlowLoadBalancer,
    )
}
"""Every fault kind by its YAML name (``kind:``), in a fixed order: machines and the network, pods
and containers, traffic, the control plane, the cloud."""


def describe_fault_kinds() -> list[tuple[str, str, str]]:
    """``(kind, class name, one-line summary)`` for every kind, for ``podquake list faults``."""
    return [(kind, cls.__name__, cls.summary) for kind, cls in FAULT_KINDS.items()]


def fault_from_dict(data: Any, *, source: str = "", location: str = "") -> Fault:
    """Build a fault from its YAML form (see :meth:`Fault.to_dict`). Field names may be camelCase
    (``exitCode``, as written by ``to_dict``) or snake_case. Raises :class:`InputError` naming the
    ``source`` (the file), the ``location`` (``faults[3]``), the field and the fix."""
    if not isinstance(data, Mapping):
        raise InputError(
            f"a fault must be a mapping with a kind, not {type(data).__name__}",
            source=source,
            location=location,
            fix="write e.g. {kind: node-failure, node: 0, at: 30, duration: 60}",
        )
    kind = data.get("kind")
    cls = FAULT_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InputError(
            f"unknown fault kind {kind!r}" if kind is not None else "the fault has no kind",
            source=source,
            location=location,
            field="kind",
            fix=f"use one of: {', '.join(FAULT_KINDS)}",
        )
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "kind":
            continue
        name = snake(str(key))
        if name not in known:
            spelled = ", ".join(camel(n) for n in known)
            raise InputError(
                f"{cls.__name__} has no field {key!r}", source=source, location=location, field=str(key), fix=f"use {spelled}"
            )
        if name in kwargs:
            raise InputError(
                f"{camel(name)} is given twice (as {camel(name)} and {name})",
                source=source,
                location=location,
                field=str(key),
                fix=f"keep one: {camel(name)}: ...",
            )
        kwargs[name] = _tuples(value)
    missing = [camel(f.name) for f in known.values() if f.default is MISSING and f.name not in kwargs]
    if missing:
        raise InputError(
            f"{cls.__name__} needs {', '.join(missing)}",
            source=source,
            location=location,
            field=missing[0],
            fix=f"add {missing[0]}: ... ({cls.summary})",
        )
    try:
        return cls(**kwargs)
    except InputError as error:
        error.source = error.source or source
        error.location = error.location or location
        error.fix = yaml_spelling(error.fix)
        if error.field.startswith(f"{cls.__name__}."):
            python_name = error.field[len(cls.__name__) + 1 :]
            error.field = camel(python_name)
            if error.field != python_name:  # "exit_code must be ..." as the file spells it: exitCode
                word = re.compile(rf"\b{python_name}\b")
                error.message = word.sub(error.field, error.message)
                error.fix = word.sub(error.field, error.fix)
        error.args = (str(error),)
        raise


_PYTHON_ARGUMENT = re.compile(r"\b([a-z][a-z_]*)=(?!=)")


def yaml_spelling(fix: str) -> str:
    """A fix written for the Python constructor, as it is written in a scenario file.

    >>> yaml_spelling('write e.g. node="worker-2" or node=0; add repeat=True, exit_code=137')
    'write e.g. node: worker-2 or node: 0; add repeat: true, exitCode: 137'
    >>> yaml_spelling("write e.g. groups=[[0, 1], ['control-plane']]")
    'write e.g. groups: [[0, 1], [control-plane]]'
    """
    text = _PYTHON_ARGUMENT.sub(lambda m: f"{camel(m.group(1))}: ", fix)
    text = re.sub(r"\bTrue\b", "true", re.sub(r"\bFalse\b", "false", text))
    return re.sub(r"""(["'])([A-Za-z0-9._/-]+)\1""", r"\2", text)


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value
