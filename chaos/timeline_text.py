"""A run's timeline as text lines, for ``podquake replay``: the faults and what the cluster did.

Only the events a person follows are shown: faults injected and healed (the nemesis's marks),
machines powering off and on, node readiness and taints, partitions, evictions and deletions with
their reasons, scheduler contract violations, unschedulable pods (once per pod), preemptions and
nominated nodes, container crashes, HPA decisions, and Jobs' failed pods and conditions. Each line
is ``+<seconds>s  <what happened>``.

>>> from podquake.model import trace as ev
>>> list(timeline_lines([ev.Annotation(30.0, "fault-started", "NodeFailure(node=0, at=30.0)")]))
['    +30s  fault   NodeFailure(node=0, at=30.0)']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from podquake.model import trace as ev

__all__ = ["timeline_lines", "describe_event"]


def describe_event(event: ev.Event) -> str | None:
    """One line for an event a person follows, or None for the rest."""
    if isinstance(event, ev.Annotation):
        label = {"fault-started": "fault ", "fault-healed": "healed", "all-healed": "quiet "}.get(event.label, event.label)
        return f"{label}  {event.detail}".rstrip()
    if isinstance(event, ev.NodePowerChanged):
        return f"machine {event.node} powered {'on' if event.up else 'off'}"
    if isinstance(event, ev.NodeReadyChanged):
        return f"node {event.node} Ready={event.status} ({event.reason})"
    if isinstance(event, ev.NodeTainted):
        return f"node {event.node} tainted {event.key}:{event.effect}"
    if isinstance(event, ev.ZoneStateChanged):
        return f"zone {event.zone} is now {event.state}"
    if isinstance(event, ev.PodDeletionRequested):
        return f"pod {event.pod} deletion requested ({event.reason})"
    if isinstance(event, ev.NodeCordoned):
        return f"node {event.node} {'cordoned' if event.unschedulable else 'uncordoned'}"
    if isinstance(event, ev.NetworkPartitioned):
        return f"network partitioned: {event.description}"
    if isinstance(event, ev.NetworkHealed):
        return f"network healed: {event.description}"
    if isinstance(event, ev.PodDeleted) and event.reason not in ("Completed", "Deleted", "ScaleDown"):
        return f"pod {event.pod} deleted ({event.reason})"
    if isinstance(event, ev.SchedulerContractViolation):
        return f"scheduler {event.scheduler} broke its contract for {event.pod}: {event.problem} (answered {event.answer!r})"
    if isinstance(event, ev.ContainerTerminated) and event.exit_code != 0:
        return f"container {event.pod}/{event.container} exited {event.exit_code} ({event.reason})"
    if isinstance(event, ev.HorizontalPodAutoscalerScaled):
        return f"HPA {event.hpa} scaled {event.target} {event.from_replicas} -> {event.to_replicas}"
    if isinstance(event, ev.PodPreempted):
        return (
            f"pod {event.pod} (priority {event.priority}) preempted on {event.node} "
            f"for {event.preemptor} (priority {event.preemptor_priority})"
        )
    if isinstance(event, ev.PodNominated):
        return f"pod {event.pod} nominated to {event.node}" if event.node else f"pod {event.pod} lost its nominated node"
    if isinstance(event, ev.JobConditionChanged) and event.condition != "SuccessCriteriaMet":
        if event.condition == "Suspended":
            return f"Job {event.job} {'suspended' if event.status else 'resumed'}"
        if event.condition == "Complete":
            return f"Job {event.job} Complete ({event.succeeded} succeeded, {event.failed} failed)"
        return f"Job {event.job} {event.condition} ({event.reason}: {event.failed} failed, backoffLimit {event.backoff_limit})"
    if isinstance(event, ev.JobPodFinished) and event.outcome == "Failed":
        counted = "counted" if event.counted else "not counted"
        return f"Job {event.job}: pod {event.pod} failed, {counted} ({event.detail})"
    if isinstance(event, ev.EvictionRequested) and event.code != 200:
        return f"eviction of {event.pod} refused ({event.code}: {event.reason})"
    return None


def timeline_lines(events: Iterable[ev.Event]) -> Iterator[str]:
    """The lines of a run's timeline, in trace order (an unschedulable pod is reported once, and a
    scheduler's contract violation for a pod once until its problem or answer changes: a broken
    plug-in is asked again after every back-off)."""
    unschedulable: set[str] = set()
    violations: dict[str, tuple[str, str]] = {}
    for event in events:
        if isinstance(event, ev.PodUnschedulable):
            if event.pod in unschedulable:
                continue
            unschedulable.add(event.pod)
            text: str | None = f"pod {event.pod} unschedulable: {event.reason}"
        elif isinstance(event, ev.SchedulerContractViolation):
            if violations.get(event.pod) == (event.problem, event.answer):
                continue
            violations[event.pod] = (event.problem, event.answer)
            text = describe_event(event)
        else:
            text = describe_event(event)
        if text is not None:
            yield f"{'+' + format(event.t, 'g') + 's':>8}  {text}"
