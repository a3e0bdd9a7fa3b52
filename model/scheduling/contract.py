"""The scheduler plug-in contract, and the validating adapter every scheduler runs behind.

A scheduler is any object with a ``name`` and ``schedule(pod, cluster) -> str | None``. podquake
never trusts the answer: :class:`ValidatingScheduler` turns an exception, a non-string, an unknown
node, or a node the pod cannot legally run on into a recorded contract violation in the trace (a
:class:`~podquake.model.trace.SchedulerContractViolation` event). The pod stays pending and is
retried with back-off, so a broken plug-in is a finding, never a crashed simulation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from podquake.model.objects import Pod
from podquake.model.placement import placement_problem
from podquake.model.views import ClusterView, PodView

if TYPE_CHECKING:
    from podquake.model.store import ClusterState

__all__ = ["Scheduler", "ValidatingScheduler", "placement_problem"]

@runtime_checkable
class Scheduler(Protocol):
    """Chooses a node for one pod at a time.

    ``schedule(pod, cluster)`` receives read-only views: ``pod`` (a :class:`PodView`: ``name``,
    ``namespace``, ``labels``, ``requests.cpu_millis``, ``requests.memory_bytes``, ``spec``) and
    ``cluster`` (a :class:`ClusterView`: ``nodes``, each a :class:`NodeView` with ``name``, ``labels``,
    ``ready``, ``unschedulable``, ``taints``, ``allocatable``, ``requested`` and ``pods``).

    Return the chosen node's name, or ``None`` when no node will do (the pod is marked
    Unschedulable and retried when the cluster changes). The chosen node must exist, be Ready, not
    be cordoned, carry no untolerated NoSchedule/NoExecute taint, match the pod's nodeSelector and
    required node affinity, and have room for the pod's requests; anything else is recorded as a
    contract violation. A scheduler may keep state between calls; it must not raise.

    ``cluster.feasible_nodes(pod)`` gives the nodes that check allows, and
    ``cluster.placement_problem(pod, node)`` says why it refuses one, so a plug-in can pick among
    legal nodes and spend its effort on which to prefer. Example, the allowed node with the most
    free CPU::

        class EmptiestFirst:
            name = "emptiest-first"

            def schedule(self, pod, cluster):
                allowed = cluster.feasible_nodes(pod)
                return max(allowed, key=lambda node: node.free.cpu_millis).name if allowed else None

    Built-in schedulers may also define ``attach(state)``, called once with the live store before
    the first decision, to keep incremental caches (as kube-scheduler's cache follows informers).
    Only the framework scheduler (:class:`~podquake.model.scheduling.framework.FrameworkScheduler`,
    the ``default`` built-in) preempts: the scheduler loop calls its ``post_filter(pod)`` after an
    unschedulable answer (:mod:`~podquake.model.scheduling.preemption`). A plug-in that answers a
    node or None does not preempt, as a kube-scheduler profile without DefaultPreemption.
    """

    name: str

    def schedule(self, pod: PodView, cluster: ClusterView) -> str | None: ...


class ValidatingScheduler:
    """Runs a plug-in and checks every answer against the live state before the loop binds it."""

    __slots__ = ("inner", "name", "state", "view", "violations")

    def __init__(self, inner: Scheduler, state: ClusterState) -> None:
        self.inner = inner
        self.name = str(getattr(inner, "name", type(inner).__name__))
        self.state = state
        self.view = ClusterView(state)
        self.violations = 0
        attach = getattr(inner, "attach", None)
        if callable(attach):
            attach(state)

    def decide(self, pod: Pod) -> tuple[str | None, str | None, bool]:
        """``(node name, None, False)`` to bind; ``(None, reason, False)`` when the plug-in finds the pod
        unschedulable; ``(None, reason, True)`` when it broke its contract (raised, or answered what
        cannot be bound): a scheduling error, not a verdict on the pod."""
        try:
            answer = self.inner.schedule(PodView(pod), self.view)
        except (Exception, SystemExit) as error:  # a plug-in must not crash (or end) the simulation
            return self._violation(pod, f"raised {type(error).__name__}: {error}", "<exception>")
        if answer is None:
            return None, "no node fits the pod", False
        if not isinstance(answer, str):
            return self._violation(pod, f"answered {type(answer).__name__}, not a node name or None", repr(answer)[:80])
        node = self.state.nodes.get(answer)
        if node is None:
            return self._violation(pod, f"answered unknown node {answer!r}", answer)
        problem = placement_problem(pod, node)
        if problem is not None:
            return self._violation(pod, problem, answer)
        return answer, None, False

    def _violation(self, pod: Pod, problem: str, answer: str) -> tuple[None, str, bool]:
        self.violations += 1
        self.state.record_contract_violation(self.name, pod.uid, problem, answer)
        return None, f"scheduler {self.name} broke its contract: {problem}", True
