"""Broken schedulers become SchedulerContractViolation events, never a crashed simulation."""

from __future__ import annotations

from typing import Any

import pytest

from podquake.model import ClusterSpec, Simulation
from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.objects import ContainerSpec, PodTemplate, PodSpec
from podquake.model.quantity import Resources


def _template(cpu: int = 100) -> PodTemplate:
    spec = PodSpec(
        containers=(
            ContainerSpec("app", requests=Resources(cpu, 64 * 2**20), cpu_requested=True, memory_requested=True),
        )
    )
    return PodTemplate(labels=(("app", "web"),), spec=spec)


class Answers:
    """Answers a fixed node name (or raises), to provoke each kind of violation."""

    name = "fixed"

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def schedule(self, pod: Any, cluster: Any) -> Any:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def _violations(sim: Simulation) -> list[ev.SchedulerContractViolation]:
    return [e for e in sim.trace if isinstance(e, ev.SchedulerContractViolation)]


@pytest.mark.parametrize(
    ("answer", "prepare", "problem"),
    [
        (RuntimeError("boom"), None, "raised RuntimeError: boom"),
        (SystemExit(0), None, "raised SystemExit: 0"),  # sys.exit(0) in a plug-in ended the run as a pass
        ("worker-99", None, "unknown node 'worker-99'"),
        (7, None, "answered int"),
        ("worker-1", "cordon", "cordoned"),
        ("worker-1", "not-ready", "not Ready"),
        ("worker-1", "taint", "taint dedicated:NoSchedule"),
    ],
)
def test_illegal_answers_are_recorded_and_the_pod_stays_pending(answer: Any, prepare: str | None, problem: str) -> None:
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1, scheduler=Answers(answer))
    if prepare == "cordon":
        sim.state.set_unschedulable("worker-1", True)
    elif prepare == "not-ready":
        sim.state.set_node_ready("worker-1", "False", "KubeletNotReady")
    elif prepare == "taint":
        from podquake.model.selectors import Taint

        sim.state.add_taint("worker-1", Taint("dedicated", "batch", "NoSchedule"))
    pod = sim.create_pod("web-0", "default", _template())
    sim.run(0.5)
    found = _violations(sim)
    assert found, "the violation was not recorded"
    assert found[0].pod == "default/web-0" and found[0].scheduler == "fixed"
    assert problem in found[0].problem
    assert pod.node_name is None and not sim.trace.of_type(ev.PodBound)
    if prepare is None:  # answers that are never legal: retried from the unschedulable pool, refused again
        sim.run(k8s.POD_MAX_IN_UNSCHEDULABLE_SECONDS + 40)
        assert len(_violations(sim)) >= 2 and pod.node_name is None


def test_unfit_node_is_a_violation() -> None:
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1, cpu="1"), seed=1, scheduler=Answers("worker-1"))
    sim.create_pod("big", "default", _template(cpu=2000))
    sim.run(1.0)
    (violation, *_) = _violations(sim)
    assert "lacks cpu: requested 0m + pod 2000m > allocatable 1000m" in violation.problem


def test_builtin_schedulers_never_violate_the_contract() -> None:
    for name in ("default", "least-allocated", "first-fit", "round-robin", "random", "bin-packing"):
        sim = Simulation(ClusterSpec.uniform(nodes=3, zones=3, cpu="1"), seed=3, scheduler=name)
        sim.state.set_unschedulable("worker-2", True)
        for i in range(8):  # 8 x 300m on two usable 1-CPU nodes: six fit, two stay pending
            sim.create_pod(f"p{i}", "default", _template(cpu=300))
        sim.run(3.0)
        assert not _violations(sim), name
        placed = [p.node_name for p in sim.state.pods.values() if p.node_name]
        assert len(placed) == 6 and "worker-2" not in placed, name
        assert len(sim.trace.of_type(ev.PodUnschedulable)) >= 2, name


class PicksAllowed:
    """A plug-in that only answers nodes ``cluster.feasible_nodes`` offers: the last one."""

    name = "picks-allowed"

    def __init__(self) -> None:
        self.offered: list[tuple[str, ...]] = []

    def schedule(self, pod: Any, cluster: Any) -> str | None:
        allowed = cluster.feasible_nodes(pod)
        self.offered.append(tuple(node.name for node in allowed))
        return allowed[-1].name if allowed else None


def test_plugins_can_ask_the_view_which_nodes_the_contract_allows() -> None:
    """cluster.feasible_nodes(pod) and cluster.placement_problem(pod, node) are the adapter's own
    check: a plug-in that picks among them never breaks its contract."""
    from podquake.model.selectors import Taint

    picker = PicksAllowed()
    sim = Simulation(ClusterSpec.uniform(nodes=4, zones=1, cpu="1"), seed=1, scheduler=picker)
    sim.state.set_unschedulable("worker-2", True)
    sim.state.add_taint("worker-4", Taint("dedicated", "batch", "NoSchedule"))
    for i in range(5):  # 600m each: worker-3, then worker-1, then nothing left
        sim.create_pod(f"p{i}", "default", _template(cpu=600))
    sim.run(2.0)
    assert not _violations(sim)
    assert picker.offered[:3] == [("worker-1", "worker-3"), ("worker-1",), ()]
    view = sim.view()
    pending = view.pending_pods[0]
    assert view.placement_problem(pending, "worker-2") == "node worker-2 is cordoned (unschedulable)"
    assert "taint dedicated:NoSchedule" in (view.placement_problem(pending, view.node("worker-4")) or "")
    assert view.placement_problem(pending, "worker-1").startswith("node worker-1 lacks cpu")  # type: ignore[union-attr]
    assert view.placement_problem(pending, "worker-9") == "there is no node 'worker-9'"


def test_the_views_and_placement_doctests() -> None:
    import doctest

    from podquake.model import placement, views

    for module in (views, placement):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
    assert doctest.testmod(views).attempted > 0
