"""Fault kinds that hit traffic, the control plane and the cloud provider.

These change a rate, a component or a knob for a while; what each does in the model is
:mod:`podquake.chaos.faults_effects`'s job. Overlapping faults on the same knob compose: the
nemesis keeps the strongest one in force (the slowest provisioning, the highest failure rate, the
lowest quota, the slowest registration) and restores the cloud's own setting when the last heals.
"""

from __future__ import annotations

from dataclasses import dataclass

from podquake.chaos.faults_base import CONTROL_PLANE_COMPONENTS, Fault

__all__ = [
    "ControlPlaneOutage",
    "ProvisioningFailure",
    "QuotaExhaustion",
    "SlowLoadBalancer",
    "SlowProvisioning",
    "TrafficSpike",
]


@dataclass(frozen=True, kw_only=True, repr=False)
class TrafficSpike(Fault):
    """Every load generator of ``service`` offers ``multiplier`` times its rate for ``duration``
    seconds (``Traffic.add_spike``; it starts at the load model's next tick). A service no load
    generator feeds makes the fault a no-op (recorded as skipped). A spike that would outlast the
    fault phase is cut to end at the final heal.

    >>> TrafficSpike(service="default/frontend", at=60.0, duration=120.0, multiplier=8.0)
    TrafficSpike(service='default/frontend', at=60.0, duration=120.0, multiplier=8.0)
    """

    kind = "traffic-spike"
    summary = "Traffic to a service is multiplied by `multiplier` for `duration` seconds."
    permanent_allowed = False

    service: str | int
    at: float
    duration: float
    multiplier: float = 5.0

    def __post_init__(self) -> None:
        self._check_ref("service", "service", 'service="default/frontend" or service=0 (the first fed service)', namespaced=True)
        self._check_time()
        self._check_duration(required=True)
        self._check_number("multiplier", low=0.0)


@dataclass(frozen=True, kw_only=True, repr=False)
class ControlPlaneOutage(Fault):
    """A control-plane component is down for ``duration`` seconds:

    - ``scheduler``: nothing is scheduled (pending pods wait);
    - ``controller-manager``: the workload controllers, node lifecycle and taint eviction, endpoint
      slices, pod garbage collection and disruption budgets act on nothing; when it comes back each
      catches up as a restarted kube-controller-manager does (fresh node grace periods, a full
      resync). The HorizontalPodAutoscaler and the volume attach/detach controllers are not paused
      (a simplification);
    - ``api-server``: both of those, plus the cluster autoscaler, and every kubelet and node proxy
      loses the API server (as with the control plane cut off from every node: no heartbeats, no
      status reports, proxies keep their last rules; containers keep running).

    >>> ControlPlaneOutage(component="api-server", at=120.0, duration=60.0)
    ControlPlaneOutage(component='api-server', at=120.0, duration=60.0)
    """

    kind = "control-plane-outage"
    summary = "The scheduler, the controller manager or the API server is down for `duration` seconds."
    permanent_allowed = False

    component: str
    at: float
    duration: float

    def __post_init__(self) -> None:
        self._check_choice("component", CONTROL_PLANE_COMPONENTS)
        self._check_time()
        self._check_duration(required=True)


@dataclass(frozen=True, kw_only=True, repr=False)
class SlowProvisioning(Fault):
    """New machines take ``multiplier`` times longer to boot (the cloud's ``latency_multiplier``),
    for machines requested during the fault; ``duration`` None: for the rest of the run.

    >>> SlowProvisioning(at=0.0, multiplier=10.0)
    SlowProvisioning(at=0.0, multiplier=10.0)
    """

    kind = "slow-provisioning"
    summary = "The cloud boots new machines `multiplier` times slower."

    at: float
    duration: float | None = None
    multiplier: float = 5.0

    def __post_init__(self) -> None:
        self._check_time()
        self._check_duration()
        self._check_number("multiplier", low=1.0)


@dataclass(frozen=True, kw_only=True, repr=False)
class ProvisioningFailure(Fault):
    """Each machine requested during the fault fails to boot with probability ``rate`` (drawn from
    the simulation's generator when requested; it fails at the end of its boot latency).

    >>> ProvisioningFailure(at=30.0, duration=600.0)
    ProvisioningFailure(at=30.0, duration=600.0)
    """

    kind = "provisioning-failure"
    summary = "Machines requested from the cloud fail to boot (with probability `rate`)."

    at: float
    duration: float | None = None
    rate: float = 1.0

    def __post_init__(self) -> None:
        self._check_time()
        self._check_duration()
        self._check_number("rate", low=0.0, high=1.0, low_open=True)


@dataclass(frozen=True, kw_only=True, repr=False)
class QuotaExhaustion(Fault):
    """The project's machine quota runs out: it is set to the machines alive when the fault starts
    plus ``headroom``, so requests beyond that are refused (``QuotaExceeded``) until the fault heals.

    >>> QuotaExhaustion(at=30.0, duration=300.0, headroom=1).to_dict()
    {'kind': 'quota-exhaustion', 'at': 30.0, 'duration': 300.0, 'headroom': 1}
    """

    kind = "quota-exhaustion"
    summary = "The cloud's machine quota runs out (`headroom` more machines at most) until healed."

    at: float
    duration: float | None = None
    headroom: int = 0

    def __post_init__(self) -> None:
        self._check_time()
        self._check_duration()
        self._check_int("headroom", low=0)


@dataclass(frozen=True, kw_only=True, repr=False)
class SlowLoadBalancer(Fault):
    """The cloud load balancers take ``seconds`` to register (and deregister) a node as a target,
    for target changes made during the fault (``set_registration_delay``).

    >>> SlowLoadBalancer(at=0.0, duration=600.0, seconds=300.0)
    SlowLoadBalancer(at=0.0, duration=600.0, seconds=300.0)
    """

    kind = "slow-lb-registration"
    summary = "Cloud load balancers take `seconds` to register or deregister a node."

    at: float
    duration: float | None = None
    seconds: float = 180.0

    def __post_init__(self) -> None:
        self._check_time()
        self._check_duration()
        self._check_number("seconds", low=0.0)
