"""ClusterMachine: a real stateful run on the sample shop, the step nemesis, the knobs, and two seeded
bugs it catches (a scheduler blind to memory, by the safety invariant; a kubelet that never
restarts crashed containers, by the teardown's liveness verdicts after a drawn crash)."""

from __future__ import annotations

import warnings
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test
from podquake.chaos import (
    ClusterMachine,
    ContainerCrash,
    NodeDrain,
    NodeFailure,
    PodKill,
    TrafficSpike,
)
from podquake.chaos.machine import StepNemesis
from podquake.model import ClusterSpec, Simulation
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.properties import at_end

from tests.chaos.kit import small_cluster

SMALL = """
apiVersion: podquake/v1
kind: Scenario
seed: 3
quiet: 200
cluster: {nodes: 3, zones: 1, memory: 4Gi}
workload:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    replicas: 2
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers: [{name: server, image: nginx, resources: {requests: {cpu: 100m, memory: 256Mi}}}]
properties: [no-overcommit, scheduler-contract, crashed-containers-restarted, {replicas-converge: {within: 200}}]
"""

BIG_PODS = SMALL.replace("replicas: 2", "replicas: 3").replace("memory: 256Mi", "memory: 3Gi")


def quick(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=True,  # the same walks every run
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )


def annotations(sim: Simulation) -> list[tuple[float, str]]:
    return [(e.t, e.label) for e in sim.trace.of_type(ev.Annotation)]


# --- a real run ---------------------------------------------------------------------------------------
class ShopMachine(ClusterMachine):
    """The sample shop with every default fault kind, plus a rule of the user's own."""

    @rule(node=st.sampled_from(["worker-1", "worker-2"]))
    def cordon(self, node: str) -> None:
        self.sim.state.set_unschedulable(node, True)


def test_the_sample_shop_survives_a_few_stateful_walks():
    run_state_machine_as_test(ShopMachine, settings=quick(4, 12))
    machine = ShopMachine()
    assert machine.base.name == "sample-shop" and machine.sim.now == ClusterMachine.settle_seconds
    assert "availability-slo" in machine.kinds and machine.kinds["no-overcommit"] == "safety"
    assert {r.function.__name__ for r in machine.rules} == {"inject_fault", "spike_traffic", "advance_time", "cordon"}


def test_a_walk_by_hand_applies_heals_and_judges():
    machine = ShopMachine()
    records = machine.inject(NodeFailure(node=0, at=0.0, duration=40.0))
    assert [r.label for r in records] == ["fault-started", "fault-target"]
    machine.safety_holds()
    machine.advance(10)
    assert machine.nemesis.last_heal() == 70.0  # 30 s settle + 40 s, counted from when it was injected
    machine.teardown()
    marks = annotations(machine.sim)
    assert (70.0, "fault-healed") in marks and (70.0, "all-healed") in marks
    assert machine.sim.now == 70.0 + machine.base.quiet
    assert {v.property for v in machine.verdicts} == set(machine.kinds) and all(v.ok for v in machine.verdicts)


# --- the step nemesis ---------------------------------------------------------------------------------
def test_the_step_nemesis_starts_a_fault_now_and_heals_it_after_its_duration():
    sim = small_cluster(3, 1)
    nemesis = StepNemesis(sim)
    nemesis.inject(NodeFailure(node="worker-2", at=500.0, duration=30.0))
    assert nemesis.faults[0].at == 20.0 and not sim.state.nodes["worker-2"].up
    sim.run(49)
    assert not sim.state.nodes["worker-2"].up
    sim.run(51)
    assert sim.state.nodes["worker-2"].up and annotations(sim)[-1] == (50.0, "fault-healed")


def test_the_step_nemesis_caps_the_spikes_in_force():
    sim = small_cluster(3, 1, traffic=True)
    nemesis = StepNemesis(sim, max_spikes=2)
    labels = [nemesis.inject(TrafficSpike(service=0, at=0.0, duration=60.0, multiplier=4.0))[0].label for _ in range(3)]
    assert labels == ["fault-started", "fault-started", "fault-skipped"]
    assert "spikes are already in force" in nemesis.skipped[0].detail
    sim.run(120)  # both healed: room again
    assert nemesis.inject(TrafficSpike(service=0, at=0.0, duration=60.0))[0].label == "fault-started"


def test_the_step_nemesis_refuses_what_is_not_a_fault():
    with pytest.raises(TypeError, match="not a fault"):
        StepNemesis(Simulation(ClusterSpec.uniform(nodes=1, zones=1), load_mode=None)).inject("node-failure")  # type: ignore[arg-type]


# --- knobs ----------------------------------------------------------------------------------------------
class PodKillsOnly(ClusterMachine):
    scenario = SMALL
    fault_kinds = ("pod-kill",)
    max_step_seconds = 5
    settle_seconds = 10.0
    quiet_seconds = 200.0
    seen: ClassVar[list[object]] = []

    def inject(self, fault):  # type: ignore[no-untyped-def]
        PodKillsOnly.seen.append(fault)
        return super().inject(fault)


def test_a_subclass_knobs_rebuild_the_rules():
    PodKillsOnly.seen.clear()
    run_state_machine_as_test(PodKillsOnly, settings=quick(8, 10))
    assert PodKillsOnly.seen and all(isinstance(f, PodKill) for f in PodKillsOnly.seen)
    machine = PodKillsOnly()
    assert machine.sim.now == 10.0 and machine.base.cluster.node_count == 3


class FloatSteps(ClusterMachine):
    scenario = SMALL
    fault_kinds = ("pod-kill",)
    max_step_seconds = 2.5
    seen: ClassVar[list[float]] = []

    def advance(self, seconds):  # type: ignore[no-untyped-def]
        FloatSteps.seen.append(seconds)
        return super().advance(seconds)


def test_step_seconds_may_be_a_float_and_steps_stay_whole_seconds():
    FloatSteps.seen.clear()
    run_state_machine_as_test(FloatSteps, settings=quick(10, 10))
    assert FloatSteps.seen and set(FloatSteps.seen) <= {1, 2}


class FirstFeasible:
    """A plug-in object that keeps state (the pods it placed) and notes which copy placed each pod."""

    name = "first-feasible"
    placers: ClassVar[list[object]] = []  # kept alive, so that no two copies share an id()

    def __init__(self) -> None:
        self.placed = 0

    def schedule(self, pod, cluster):  # type: ignore[no-untyped-def]
        self.placed += 1
        FirstFeasible.placers.append(self)
        feasible = cluster.feasible_nodes(pod)
        return feasible[0].name if feasible else None


PLACER = FirstFeasible()


class WithAnObjectScheduler(ClusterMachine):
    scenario = SMALL
    fault_kinds = ("pod-kill",)
    scheduler = PLACER


def test_a_scheduler_object_is_copied_for_each_example():
    """Its state must not carry from one example into the next."""
    FirstFeasible.placers.clear()
    run_state_machine_as_test(WithAnObjectScheduler, settings=quick(5, 5))
    placers = {id(placer) for placer in FirstFeasible.placers}
    assert PLACER.placed == 0 and id(PLACER) not in placers
    assert len(placers) >= 5  # a copy per example


def test_manifests_replace_the_scenario_workload_and_get_traffic():
    class Manifests(ClusterMachine):
        manifests = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api:1, resources: {requests: {cpu: 200m}}}]}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {type: NodePort, selector: {app: api}, ports: [{port: 80}]}
"""

    machine = Manifests()
    assert sorted(w.name for w in machine.sim.state.workloads.values() if w.kind == "Deployment") == ["api"]
    assert [g.service for g in machine.base.traffic] == ["default/api"]


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"fault_kinds": ("node-failure", "meteor-strike")}, "fault_kinds"),
        ({"fault_kinds": "node-failure"}, "fault_kinds"),
        ({"properties": "no-overcommit"}, "properties"),
        ({"max_step_seconds": 0}, "max_step_seconds"),
        ({"max_step_seconds": 0.5}, "max_step_seconds"),
        ({"max_step_seconds": float("inf")}, "max_step_seconds"),
        ({"max_spikes": 1.5}, "max_spikes"),
        ({"max_fault_seconds": 5.0}, "max_fault_seconds"),
        ({"quiet_seconds": -1.0}, "quiet_seconds"),
        ({"max_spikes": -1}, "max_spikes"),
    ],
)
def test_bad_knobs_fail_when_the_class_is_defined(knobs, field):
    with pytest.raises(InputError) as caught:
        type("Bad", (ClusterMachine,), dict(knobs))
    assert caught.value.field == field


def test_a_bad_scenario_fails_with_its_field_when_the_class_is_defined():
    with pytest.raises(InputError, match="duration"):

        class BadScenario(ClusterMachine):
            scenario = "apiVersion: podquake/v1\nkind: Scenario\nduration: -5\n"


# --- the scenario's parameters, paths and property ids ---------------------------------------------------
WITH_PARAMETERS = SMALL.replace(
    "properties: [no-overcommit, scheduler-contract, crashed-containers-restarted, {replicas-converge: {within: 200}}]",
    "properties: [no-overcommit, {replicas-converge: {within: 77}}]",
)


def test_a_subset_of_properties_keeps_the_scenarios_parameters():
    """`properties = (...)` judged each chosen property with its defaults, dropping what the scenario
    set (a `limit: 1` became the default 4, and a failing check passed)."""

    class Subset(ClusterMachine):
        scenario = WITH_PARAMETERS
        properties = ("replicas-converge", "single-binding")
        settle_seconds = 0.0

    machine = Subset()
    assert {p.id: p.settings() for p in machine.monitor.suite} == {"replicas-converge": {"within": 77.0}, "single-binding": {}}


def test_an_unknown_property_fails_when_the_class_is_defined_and_says_how_to_import_ones_own():
    with pytest.raises(InputError) as caught:

        class Misspelt(ClusterMachine):
            scenario = SMALL
            properties = ("replicas-converge", "no-overcomit")

    assert caught.value.field == "Misspelt.properties"
    assert "did you mean 'no-overcommit'?" in caught.value.fix and "imports:" in caught.value.fix
    assert "import that module in the test module" in caught.value.fix


MACHINE_MODULE = """
from podquake.chaos import ClusterMachine


class Relative(ClusterMachine):
    scenario = "scenarios/small.yaml"
    settle_seconds = 0.0
"""


def _import_file(path, name, monkeypatch):  # type: ignore[no-untyped-def]
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_a_relative_scenario_path_is_read_from_the_defining_modules_folder(tmp_path, monkeypatch):
    """`scenario = "my2.yaml"` was read from the working directory, so the test passed from its own
    folder and failed from any other, in every Hypothesis example rather than once."""
    (tmp_path / "project" / "scenarios").mkdir(parents=True)
    (tmp_path / "project" / "scenarios" / "small.yaml").write_text(WITH_PARAMETERS)
    (tmp_path / "project" / "test_relative.py").write_text(MACHINE_MODULE)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    module = _import_file(tmp_path / "project" / "test_relative.py", "podquake_test_relative_machine", monkeypatch)

    class Subclass(module.Relative):  # defined here, in another folder: the path is still the module's
        properties = ("replicas-converge",)

    for machine in (module.Relative(), Subclass()):
        assert machine.base.source == str(tmp_path / "project" / "scenarios" / "small.yaml")
        assert machine.base.cluster.node_count == 3
    assert [p.settings() for p in Subclass().monitor.suite] == [{"within": 77.0}]


def test_a_missing_scenario_file_fails_when_the_class_is_defined(tmp_path, monkeypatch):
    (tmp_path / "test_missing.py").write_text(MACHINE_MODULE)
    with pytest.raises(InputError) as caught:
        _import_file(tmp_path / "test_missing.py", "podquake_test_missing_machine", monkeypatch)
    assert caught.value.field == "Relative.scenario"
    assert str(tmp_path / "scenarios" / "small.yaml") in caught.value.message and "no such scenario file" in caught.value.message


# --- seeded bugs ----------------------------------------------------------------------------------------
class MemoryBlind:
    """Spreads pods over the nodes with the fewest pods; checks CPU, forgets memory."""

    name = "memory-blind"

    def schedule(self, pod, cluster):  # type: ignore[no-untyped-def]
        fits = [n for n in cluster.nodes if n.ready and not n.unschedulable and pod.requests.cpu_millis <= n.free.cpu_millis]
        return min(fits, key=lambda n: n.pod_count).name if fits else None


class MemoryBlindMachine(ClusterMachine):
    scenario = BIG_PODS  # three 3Gi pods on three 4Gi nodes: one per node, until a node goes away
    scheduler = MemoryBlind
    fault_kinds = ("node-drain", "pod-kill")
    properties = ("no-overcommit", "scheduler-contract")  # safety only: a quiet minute judges them all
    settle_seconds = 10.0
    quiet_seconds = 60.0


def steps(error: BaseException) -> list[str]:
    """The shrunk walk Hypothesis attached to the error (the calls, without the invariant checks)."""
    return [line for line in getattr(error, "__notes__", []) if line.startswith("state.") and "safety_holds" not in line]


def test_the_invariant_catches_a_scheduler_that_ignores_memory():
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(MemoryBlindMachine, settings=quick(20, 6))
    message = str(caught.value)
    assert message.startswith("FAILED scheduler-contract") and "lacks memory" in message
    walk = steps(caught.value)
    assert walk[0].startswith(("state.inject_fault(fault=NodeDrain(", "state.inject_fault(fault=PodKill(")), walk
    assert len(walk) <= 3 and walk[-1] == "state.teardown()", walk  # shrunk: the fault, perhaps a wait


@at_end("test-machine-divides-by-zero", "A final check with a bug.")
def _divides_by_zero(ledger, run):  # type: ignore[no-untyped-def]
    return f"{1 / 0}"


def test_a_property_whose_code_raises_fails_the_machine_naming_it():
    """Its verdict was unknown and the machine passed: it asserts on failed verdicts only."""

    class BrokenCheck(ClusterMachine):
        scenario = SMALL
        properties = ("no-overcommit", "test-machine-divides-by-zero")
        fault_kinds = ("pod-kill",)
        settle_seconds = 10.0
        quiet_seconds = 10.0

    with pytest.raises(InputError) as caught:
        run_state_machine_as_test(BrokenCheck, settings=quick(3, 2))
    assert "test-machine-divides-by-zero" in str(caught.value) and "ZeroDivisionError" in str(caught.value)


def test_the_teardown_catches_a_kubelet_that_never_restarts_crashed_containers():
    class NoRestarts(ClusterMachine):
        scenario = SMALL
        fault_kinds = ("container-crash",)
        settle_seconds = 10.0

        def build_simulation(self, scenario):  # type: ignore[no-untyped-def]
            sim = super().build_simulation(scenario)
            for kubelet in sim.kubelets.values():
                kubelet._restart = lambda run, container: None  # the seeded bug
            return sim

    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(NoRestarts, settings=quick(10, 5))
    assert "FAILED crashed-containers-restarted" in str(caught.value)
    walk = steps(caught.value)
    assert walk[0].startswith("state.inject_fault(fault=ContainerCrash(") and walk[-1] == "state.teardown()", walk
    assert len(walk) <= 3, walk


def test_a_healthy_kubelet_passes_the_same_walks():
    class Restarts(ClusterMachine):
        scenario = SMALL
        fault_kinds = ("container-crash",)
        settle_seconds = 10.0

    run_state_machine_as_test(Restarts, settings=quick(10, 5))
    machine = Restarts()
    machine.inject(ContainerCrash(pod=0, at=0.0))
    machine.teardown()
    assert machine.sim.trace.of_type(ev.ContainerTerminated) and all(v.ok for v in machine.verdicts)


def test_the_teardown_does_not_hide_a_failing_step():
    machine = PodKillsOnly()
    try:
        raise RuntimeError("a step failed")
    except RuntimeError:
        machine.teardown()  # judges nothing while the step's error is in flight
    assert machine.verdicts == [] and machine.sim.now == 10.0


def test_a_safety_failure_raises_from_one_place_after_a_step_or_in_the_teardown():
    """Hypothesis tells bugs apart by where they are raised: raised from the invariant in one walk and
    from the teardown in another, one safety bug was reported (and shrunk) twice."""
    import traceback

    def raised_at(check) -> tuple[str, int]:  # type: ignore[no-untyped-def]
        machine = MemoryBlindMachine()
        machine.inject(NodeDrain(node=0, at=0.0, duration=30.0))  # its 3Gi pod goes to a node already full
        machine.advance(20.0)
        with pytest.raises(AssertionError, match="FAILED scheduler-contract") as caught:
            check(machine)
        return traceback.extract_tb(caught.value.__traceback__)[-1][:2]

    assert raised_at(ClusterMachine.safety_holds) == raised_at(ClusterMachine.teardown)


def test_a_quiet_period_too_short_for_a_time_bound_is_warned_of_when_the_class_is_defined():
    """A machine with quiet_seconds below a liveness bound passed whatever the cluster did: a run not
    settled by its end is unknown for that property, and the teardown fails on failed verdicts only."""
    with pytest.warns(UserWarning, match=r"Hurried\.quiet_seconds: 30 s is shorter than the time bound of replicas-converge \(200 s\): it cannot fail") as caught:

        class Hurried(ClusterMachine):
            scenario = SMALL
            quiet_seconds = 30.0

    assert caught[0].filename == __file__ and "give at least 200" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class SafetyOnly(ClusterMachine):  # nothing with a time bound: a short quiet is fine
            scenario = SMALL
            properties = ("no-overcommit",)
            quiet_seconds = 30.0

        class LongEnough(ClusterMachine):
            scenario = SMALL
            quiet_seconds = 200.0
