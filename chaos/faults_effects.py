"""What each fault kind does to a simulation, through the model's own fault hooks.

:func:`apply_fault` resolves a fault's targets (names, or the selector indexes of
:mod:`podquake.chaos.faults_base`) against the simulation as it is now, makes the fault happen, and
returns an :class:`Applied`: what it hit and how to undo it. A fault that cannot be applied (its node
is gone, its pod has no such probe, no load generator feeds its service) raises :class:`Skipped`
with the reason; the nemesis records it and goes on.

Faults can overlap, so the switches they flip are counted in :class:`Levers`, one per simulation: a
machine powered off by a node failure and a zone outage boots when both have healed; a component
paused by two outages resumes when both are over; a cloud setting holds the strongest value of the
active faults and gets the cloud's own value back when the last one heals. Network partitions
compose in the model itself (:meth:`ClusterNetwork.apply <podquake.model.network.ClusterNetwork.apply>`).

Everything here is O(1) per fault, except resolving a selector: O(nodes log nodes) for a node (the
busiest-first ranking), O(pods) for a pod.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podquake.chaos.faults import (
    ContainerCrash,
    ControlPlaneOutage,
    Fault,
    KubeletStop,
    NetworkPartition,
    NodeDrain,
    NodeFailure,
    PodKill,
    ProbeFailure,
    ProvisioningFailure,
    QuotaExhaustion,
    RuntimeFailure,
    SlowLoadBalancer,
    SlowProvisioning,
    TrafficSpike,
    ZoneOutage,
)
from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.kubelet import kubelet_for
from podquake.model.network import (
    CLOUD_LB,
    CONTROL_PLANE,
    NodeCutOff,
    Split,
    ZoneIsolation,
)
from podquake.model.objects import Pod
from podquake.model.selectors import Taint
from podquake.model.store import delete_pod

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = ["Applied", "Levers", "Skipped", "apply_fault", "resolve_node", "resolve_pod", "resolve_service", "resolve_zone"]

_NOTHING: Callable[[], None] = lambda: None

# The components a control-plane outage pauses, by the Simulation attribute that holds them, in the
# order they are paused (and resumed).
_CONTROLLER_MANAGER = (
    "replicasets",
    "deployments",
    "statefulsets",
    "daemonsets",
    "node_lifecycle",
    "endpoints",
    "pod_gc",
    "disruption",
    "hpa",
)
_COMPONENTS = {
    "scheduler": ("scheduler_loop",),
    "controller-manager": _CONTROLLER_MANAGER,
    "api-server": ("scheduler_loop", *_CONTROLLER_MANAGER, "cluster_autoscaler"),
}


class Skipped(Exception):
    """The fault could not be applied now; ``str(error)`` says why."""


@dataclass(frozen=True, slots=True)
class Applied:
    """A fault in force: ``target`` is what it hit (resolved names, for the record), ``heal`` undoes
    it, ``heal_at`` overrides when it heals (a traffic spike that starts at the next load tick)."""

    target: str
    heal: Callable[[], None] = _NOTHING
    heal_at: float | None = None


# === targets =======================================================================================
def resolve_node(sim: Simulation, ref: str | int) -> str | None:
    """The node ``ref`` names now: a name if that node exists, or the ``ref``-th of the nodes whose
    machine is up, busiest first (most pods, ties by creation order), modulo their number."""
    state = sim.state
    if isinstance(ref, str):
        return ref if ref in state.nodes else None
    up = [node for node in state.node_list if node.up]
    if not up:
        return None
    up.sort(key=lambda node: (-len(node.pods), node.index))
    return up[ref % len(up)].name


def resolve_zone(sim: Simulation, ref: str | int) -> str | None:
    """The zone ``ref`` names now: a zone that has nodes, or the ``ref``-th of them by name, modulo."""
    zones = sorted(zone for zone, nodes in sim.state.nodes_by_zone.items() if nodes)
    if isinstance(ref, str):
        return ref if ref in zones else None
    return zones[ref % len(zones)] if zones else None


def resolve_pod(sim: Simulation, ref: str | int) -> Pod | None:
    """The pod ``ref`` names now: ``namespace/name`` (a bare name is in ``default``), or the
    ``ref``-th of the running pods (bound, Running, not being deleted) in creation order, modulo."""
    state = sim.state
    if isinstance(ref, str):
        return state.pods_by_key.get(ref if "/" in ref else f"default/{ref}")
    running = [p for p in state.pods.values() if p.node_name is not None and p.phase == "Running" and p.deletion_timestamp is None]
    return running[ref % len(running)] if running else None


def resolve_service(sim: Simulation, ref: str | int) -> str | None:
    """The service ``ref`` names (``namespace/name``; a bare name is in ``default``) if a load
    generator feeds it, or the ``ref``-th of the fed services in generator order, modulo."""
    fed = list(dict.fromkeys(g.service for g in sim.traffic.generators))
    if isinstance(ref, str):
        key = ref if "/" in ref else f"default/{ref}"
        return key if key in fed else None
    return fed[ref % len(fed)] if fed else None


def _container(pod: Pod, ref: str | int) -> int | None:
    names = [c.name for c in pod.spec.containers]
    if isinstance(ref, str):
        return names.index(ref) if ref in names else None
    return ref % len(names) if names else None


# === levers ========================================================================================
class Levers:
    """The switches faults flip, counted so that overlapping faults compose (see the module
    docstring). ``phase_end`` is when the nemesis's final heal comes: time-boxed effects that the
    model cannot undo early (a drain's timeout, a traffic spike) are cut to end by then."""

    def __init__(self, sim: Simulation, phase_end: float = math.inf) -> None:
        self.sim = sim
        self.phase_end = phase_end
        self._counts: dict[tuple[str, str], int] = {}
        self._knobs: dict[str, tuple[Any, list[tuple[int, Any]]]] = {}  # knob -> (base value, active pushes)
        self._tokens = 0
        self._crash_loops: dict[str, list[_CrashLoop]] = {}  # pod key -> active loops
        self._watching_starts = False

    # --- counted switches ----------------------------------------------------------------------------
    def down(self, switch: str, name: str) -> bool:
        """One more fault holds ``switch`` of ``name`` down; the first one acts. Returns whether it did."""
        key = (switch, name)
        count = self._counts.get(key, 0)
        self._counts[key] = count + 1
        if count == 0:
            self._flip(switch, name, False)
            return True
        return False

    def up(self, switch: str, name: str) -> bool:
        """One fault fewer holds it down; the last one restores it. Returns whether it did."""
        key = (switch, name)
        count = self._counts.get(key, 0) - 1
        if count > 0:
            self._counts[key] = count
            return False
        self._counts.pop(key, None)
        self._flip(switch, name, True)
        return True

    def _flip(self, switch: str, name: str, on: bool) -> None:
        sim = self.sim
        if switch == "component":
            component = getattr(sim, name)
            # Marked in the trace, so properties can tell a controller that is down from one that is wrong.
            sim.state.record(ev.Annotation(sim.env.now, "component-up" if on else "component-down", name))
            if on:
                component.resume()
            else:
                component.pause()
            return
        if switch == "cordon":
            if on and name in sim.state.nodes and sim.state.nodes[name].unschedulable:
                sim.state.set_unschedulable(name, False)
            return  # the drain cordons the node itself
        if switch == "in-service":
            if name in sim.state.nodes:  # (the cloud may have deleted the node meanwhile)
                if on:
                    sim.state.remove_taint(name, k8s.TAINT_OUT_OF_SERVICE, "NoExecute")
                else:
                    sim.state.add_taint(name, Taint(k8s.TAINT_OUT_OF_SERVICE, "nodeshutdown", "NoExecute"))
            return
        kubelet = sim.kubelets.get(name)
        if kubelet is None:
            return  # the node left the cluster meanwhile
        if switch == "power":
            kubelet.power_on() if on else kubelet.power_off()
        elif switch == "kubelet":
            kubelet.start_kubelet() if on else kubelet.stop_kubelet()
        elif switch == "runtime":
            kubelet.recover_runtime() if on else kubelet.fail_runtime()

    # --- cloud knobs -------------------------------------------------------------------------------
    def push(self, knob: str, value: Any) -> int:
        """Put ``value`` in force on ``knob`` (with the other active values: the strongest wins);
        returns a token for :meth:`pop`."""
        if knob not in self._knobs:
            self._knobs[knob] = (self._read(knob), [])
        self._tokens += 1
        self._knobs[knob][1].append((self._tokens, value))
        self._write(knob)
        return self._tokens

    def pop(self, knob: str, token: int) -> None:
        active = self._knobs[knob][1]
        active[:] = [(t, v) for t, v in active if t != token]
        self._write(knob)
        if not active:
            del self._knobs[knob]

    def _read(self, knob: str) -> Any:
        sim = self.sim
        if knob == "latency":
            return sim.cloud.latency_multiplier
        if knob == "failure":
            return sim.cloud.failure_rate
        if knob == "quota":
            return sim.cloud.quota
        lbs = sim.load_balancers
        return (lbs.registration_seconds, lbs.deregistration_seconds)

    def _write(self, knob: str) -> None:
        base, active = self._knobs[knob]
        values = [v for _, v in active]
        sim = self.sim
        if knob == "latency":
            sim.cloud.latency_multiplier = max([base, *values])
        elif knob == "failure":
            sim.cloud.failure_rate = max([base, *values])
        elif knob == "quota":
            sim.cloud.set_quota(min(values + ([base] if base is not None else [])) if values else base)
        elif values:
            slowest = max(values)
            sim.load_balancers.set_registration_delay(max(slowest, base[0]), max(slowest, base[1]))
        else:
            sim.load_balancers.set_registration_delay(*base)

    # --- crash loops ---------------------------------------------------------------------------------
    def add_crash_loop(self, loop: _CrashLoop) -> None:
        if not self._watching_starts:
            self.sim.state.watch(ev.ContainerStarted, self._on_container_started)
            self._watching_starts = True
        self._crash_loops.setdefault(loop.pod_key, []).append(loop)

    def remove_crash_loop(self, loop: _CrashLoop) -> None:
        loops = self._crash_loops.get(loop.pod_key, [])
        if loop in loops:
            loops.remove(loop)
        if not loops:
            self._crash_loops.pop(loop.pod_key, None)

    def _on_container_started(self, event: ev.ContainerStarted) -> None:
        loops = self._crash_loops.get(event.pod)
        if not loops:
            return
        for loop in loops:
            if loop.container_name == event.container:
                env = self.sim.env
                timeout = env.timeout(loop.uptime)
                timeout.callbacks.append(lambda _e, loop=loop, restarts=event.restart_count: self._crash_again(loop, restarts))  # type: ignore[union-attr]

    def _crash_again(self, loop: _CrashLoop, restarts: int) -> None:
        if loop not in self._crash_loops.get(loop.pod_key, ()):
            return  # healed meanwhile
        pod = self.sim.state.pods_by_key.get(loop.pod_key)
        if pod is None or pod.uid != loop.uid:
            return
        status = pod.containers[loop.container]
        if status.state != "running" or status.restart_count != restarts:
            return  # not the run that started then
        loop.crash(self.sim)


@dataclass(eq=False)
class _CrashLoop:
    pod_key: str
    uid: str
    container: int
    container_name: str
    exit_code: int
    oom: bool
    uptime: float

    def crash(self, sim: Simulation) -> bool:
        kubelet = kubelet_for(sim, self.pod_key)
        if kubelet is None:
            return False
        if self.oom:
            return kubelet.oom_kill_container(self.pod_key, self.container)
        return kubelet.crash_container(self.pod_key, self.container, exit_code=self.exit_code)


# === the kinds =====================================================================================
def apply_fault(levers: Levers, fault: Fault) -> Applied:
    """Make ``fault`` happen now in ``levers.sim``; raises :class:`Skipped` if it cannot."""
    effect = _EFFECTS.get(type(fault))
    if effect is None:
        raise Skipped(f"no effect is defined for {type(fault).__name__}")
    try:
        return effect(levers, fault)
    except ValueError as error:  # a model hook refusing its target (a node gone between lookup and use)
        raise Skipped(str(error)) from None


def _node(levers: Levers, fault: Any) -> str:
    name = resolve_node(levers.sim, fault.node)
    if name is None:
        raise Skipped(f"no node {fault.node!r}" if isinstance(fault.node, str) else "no node is up")
    return name


def _switch(switch: str) -> Callable[[Levers, Any], Applied]:
    def effect(levers: Levers, fault: Any) -> Applied:
        name = _node(levers, fault)
        levers.down(switch, name)
        return Applied(name, lambda: levers.up(switch, name))

    return effect


def _node_failure(levers: Levers, fault: NodeFailure) -> Applied:
    """Power the machine off; with ``out_of_service``, an operator marks the node out of service that
    long after (if the machine is still down by then) and clears the mark when it boots again."""
    name = _node(levers, fault)
    levers.down("power", name)
    marked: list[bool] = []  # [False] once healed; [True] while the operator's mark holds
    if fault.out_of_service is not None and (fault.duration is None or fault.out_of_service < fault.duration):

        def mark(_event: Any) -> None:
            if not marked:
                levers.down("in-service", name)
                marked.append(True)

        levers.sim.env.timeout(fault.out_of_service).callbacks.append(mark)  # type: ignore[union-attr]

    def heal() -> None:
        levers.up("power", name)
        if marked == [True]:
            levers.up("in-service", name)
        marked[:] = [False]

    return Applied(name, heal)


def _node_drain(levers: Levers, fault: NodeDrain) -> Applied:
    sim = levers.sim
    name = _node(levers, fault)
    timeout = None
    if fault.duration is not None:
        timeout = min(fault.duration, levers.phase_end - sim.now)
        if timeout <= 0:
            raise Skipped("the fault phase is over")
    levers.down("cordon", name)
    sim.disruption.drain(name, timeout=timeout)
    return Applied(name, lambda: levers.up("cordon", name))


def _network_partition(levers: Levers, fault: NetworkPartition) -> Applied:
    sim = levers.sim
    if fault.node is not None:
        partition: Any = NodeCutOff(node=_node(levers, fault))
        target = partition.node
    elif fault.zone is not None:
        zone = resolve_zone(sim, fault.zone)
        if zone is None:
            raise Skipped(f"no zone {fault.zone!r}")
        partition, target = ZoneIsolation(zone=zone), zone
    else:
        placed: dict[str, None] = {}
        groups = []
        for group in fault.groups or ():
            members = []
            for ref in group:
                name = ref if ref in (CONTROL_PLANE, CLOUD_LB) else resolve_node(sim, ref)
                if name is None and isinstance(ref, str):
                    # A named node that is gone would leave every real node in the "named nowhere"
                    # group, cut off from whatever the other groups hold: skip, as node= does.
                    raise Skipped(f"no node {ref!r}")
                if name is not None and name not in placed:
                    placed[name] = None
                    members.append(name)
            if members:
                groups.append(tuple(members))
        if not groups:
            raise Skipped("none of the groups' nodes exists")
        partition = Split(groups=tuple(groups))
        target = " | ".join(", ".join(group) for group in groups)
    try:
        handle = sim.network.apply(partition)
    except ValueError as error:
        raise Skipped(str(error)) from None

    def heal() -> None:
        sim.network.heal(handle)

    return Applied(target, heal)


def _zone_outage(levers: Levers, fault: ZoneOutage) -> Applied:
    sim = levers.sim
    zone = resolve_zone(sim, fault.zone)
    if zone is None:
        raise Skipped(f"no zone {fault.zone!r}")
    names = [node.name for node in sorted(sim.state.nodes_by_zone[zone].values(), key=lambda n: n.index)]
    for name in names:
        levers.down("power", name)

    def heal() -> None:
        for name in names:
            levers.up("power", name)

    return Applied(zone, heal)


def _running_container(levers: Levers, fault: Any) -> tuple[Pod, int]:
    pod = resolve_pod(levers.sim, fault.pod)
    if pod is None:
        raise Skipped(f"no pod {fault.pod!r}" if isinstance(fault.pod, str) else "no pod is running")
    index = _container(pod, fault.container)
    if index is None:
        raise Skipped(f"pod {pod.key} has no container {fault.container!r}")
    if pod.node_name is None or kubelet_for(levers.sim, pod.key) is None:
        raise Skipped(f"pod {pod.key} is not bound to a node")
    return pod, index


def _container_crash(levers: Levers, fault: ContainerCrash) -> Applied:
    pod, index = _running_container(levers, fault)
    loop = _CrashLoop(pod.key, pod.uid, index, pod.spec.containers[index].name, fault.exit_code, fault.oom, fault.uptime)
    target = f"{pod.key} container {loop.container_name}"
    if not fault.repeat:
        if not loop.crash(levers.sim):
            raise Skipped(f"container {loop.container_name} of {pod.key} is not running")
        return Applied(target)
    levers.add_crash_loop(loop)  # first: the kubelet's first restart is immediate, within the crash
    loop.crash(levers.sim)  # not running now (backing off)? the loop catches its next start
    return Applied(target, lambda: levers.remove_crash_loop(loop))


def _pod_kill(levers: Levers, fault: PodKill) -> Applied:
    state = levers.sim.state
    pod = resolve_pod(levers.sim, fault.pod)
    if pod is None:
        raise Skipped(f"no pod {fault.pod!r}" if isinstance(fault.pod, str) else "no pod is running")
    if fault.force:
        state.delete_pod(pod.uid, "PodKill")
    elif pod.deletion_timestamp is not None:
        raise Skipped(f"pod {pod.key} is already being deleted")
    else:
        delete_pod(state, pod, "PodKill")
    return Applied(pod.key)


def _probe_failure(levers: Levers, fault: ProbeFailure) -> Applied:
    sim = levers.sim
    pod, index = _running_container(levers, fault)
    key, probe = pod.key, fault.probe

    def set_failing(failing: bool) -> bool:
        kubelet = kubelet_for(sim, key)
        if kubelet is None or sim.state.pods_by_key.get(key) is not pod:
            return False
        return kubelet.fail_probe(key, index, probe) if failing else kubelet.recover_probe(key, index, probe)

    if not set_failing(True):
        raise Skipped(f"container {pod.spec.containers[index].name} of {key} has no {probe} probe, or it already fails")
    active = [True]
    if fault.flap is not None:
        flap = fault.flap

        def toggle(failing: bool) -> None:
            if not active[0]:
                return
            set_failing(failing)
            timeout = sim.env.timeout(flap)
            timeout.callbacks.append(lambda _e: toggle(not failing))  # type: ignore[union-attr]

        first = sim.env.timeout(flap)
        first.callbacks.append(lambda _e: toggle(False))  # type: ignore[union-attr]

    def heal() -> None:
        active[0] = False
        set_failing(False)

    return Applied(f"{key} container {pod.spec.containers[index].name}", heal)


def _traffic_spike(levers: Levers, fault: TrafficSpike) -> Applied:
    sim = levers.sim
    service = resolve_service(sim, fault.service)
    if service is None:
        raise Skipped(f"no load generator feeds service {fault.service!r}" if isinstance(fault.service, str) else "no load generator")
    # Traffic.add_spike starts a run-time spike at the load model's next tick (Traffic.align).
    start = sim.traffic.next_start()
    duration = min(fault.duration, levers.phase_end - start)
    if duration <= 0:
        raise Skipped("the fault phase ends before the spike could start")
    sim.traffic.add_spike(service, fault.multiplier, duration, start=start)
    return Applied(service, heal_at=start + duration)


def _control_plane_outage(levers: Levers, fault: ControlPlaneOutage) -> Applied:
    sim = levers.sim
    components = _COMPONENTS[fault.component]
    for name in components:
        levers.down("component", name)
    handle = sim.network.apply(Split(groups=((CONTROL_PLANE,),))) if fault.component == "api-server" else None

    def heal() -> None:
        if handle is not None:
            sim.network.heal(handle)  # the kubelets reconnect first, then the controllers restart
        for name in components:
            levers.up("component", name)

    return Applied(fault.component, heal)


def _knob(knob: str, value: Callable[[Levers, Any], Any]) -> Callable[[Levers, Any], Applied]:
    def effect(levers: Levers, fault: Any) -> Applied:
        token = levers.push(knob, value(levers, fault))
        return Applied("cloud", lambda: levers.pop(knob, token))

    return effect


_EFFECTS: dict[type[Fault], Callable[[Levers, Any], Applied]] = {
    NodeFailure: _node_failure,
    NodeDrain: _node_drain,
    KubeletStop: _switch("kubelet"),
    RuntimeFailure: _switch("runtime"),
    NetworkPartition: _network_partition,
    ZoneOutage: _zone_outage,
    ContainerCrash: _container_crash,
    PodKill: _pod_kill,
    ProbeFailure: _probe_failure,
    TrafficSpike: _traffic_spike,
    ControlPlaneOutage: _control_plane_outage,
    SlowProvisioning: _knob("latency", lambda levers, f: f.multiplier),
    ProvisioningFailure: _knob("failure", lambda levers, f: f.rate),
    QuotaExhaustion: _knob("quota", lambda levers, f: levers.sim.cloud.live_count() + f.headroom),
    SlowLoadBalancer: _knob("lb-registration", lambda levers, f: f.seconds),
}
