"""Faults as values: validation when built, repr that rebuilds, YAML that round-trips, the registry."""

from __future__ import annotations

import doctest

import podquake.chaos
import pytest
import yaml
from podquake.chaos import *
from podquake.chaos import faults, faults_base, faults_control, faults_nodes
from podquake.model.errors import InputError

# Every kind, with names and selectors, defaults and not.
EXAMPLES = [
    NodeFailure(node=0, at=30.0),
    NodeFailure(node="worker-2", at=30, duration=60),
    NodeDrain(node=1, at=10.0, duration=300.0),
    NodeDrain(node="worker-1", at=0.0),
    KubeletStop(node=2, at=5.0, duration=50.0),
    RuntimeFailure(node="worker-3", at=5.5, duration=1.25),
    NetworkPartition(node=0, at=20.0, duration=40.0),
    NetworkPartition(zone="zone-b", at=20.0),
    NetworkPartition(zone=1, at=20.0, duration=10.0),
    NetworkPartition(groups=[[0, "worker-3"], ["control-plane", "cloud-lb"]], at=1.0, duration=2.0),
    ZoneOutage(zone=0, at=100.0, duration=600.0),
    ContainerCrash(pod=0, at=30.0),
    ContainerCrash(pod="default/web-0", at=30.0, container="server", exit_code=2),
    ContainerCrash(pod=3, at=30.0, oom=True),
    ContainerCrash(pod=1, at=30.0, duration=120.0, repeat=True, uptime=2.5, container=1),
    PodKill(pod=2, at=45.0),
    PodKill(pod="web-x", at=45.0, force=True),
    ProbeFailure(pod=0, at=10.0, duration=120.0),
    ProbeFailure(pod=0, at=10.0, probe="liveness", flap=15.0, container="server"),
    TrafficSpike(service="default/frontend", at=60.0, duration=120.0, multiplier=8.0),
    TrafficSpike(service=0, at=60.0, duration=30.0),
    ControlPlaneOutage(component="scheduler", at=1.0, duration=2.0),
    ControlPlaneOutage(component="api-server", at=120.0, duration=60.0),
    SlowProvisioning(at=0.0, multiplier=10.0),
    ProvisioningFailure(at=30.0, duration=600.0, rate=0.5),
    QuotaExhaustion(at=30.0, duration=300.0, headroom=1),
    SlowLoadBalancer(at=0.0, duration=600.0, seconds=300.0),
]


def test_every_kind_has_an_example() -> None:
    assert {type(f) for f in EXAMPLES} == set(FAULT_KINDS.values())


@pytest.mark.parametrize("fault", EXAMPLES, ids=repr)
def test_repr_evaluates_back_to_an_equal_fault(fault: Fault) -> None:
    assert eval(repr(fault)) == fault


@pytest.mark.parametrize("fault", EXAMPLES, ids=repr)
def test_hypothesis_prints_a_falsifying_fault_as_its_repr(fault: Fault) -> None:
    """Pasted from a failing @given test's output, it must run: Hypothesis's own dataclass printer
    wrote kind= and summary= arguments, which the constructor refuses."""
    from hypothesis.vendor.pretty import pretty

    assert pretty(fault) == repr(fault)
    assert pretty([fault]) == f"[{fault!r}]"


@pytest.mark.parametrize("fault", EXAMPLES, ids=repr)
def test_yaml_form_round_trips(fault: Fault) -> None:
    data = fault.to_dict()
    assert data["kind"] == fault.kind
    text = yaml.safe_dump(data)
    assert fault_from_dict(yaml.safe_load(text)) == fault


def test_repr_leaves_defaults_out_and_reads_target_first() -> None:
    assert repr(NodeFailure(node="worker-2", at=30, duration=60)) == "NodeFailure(node='worker-2', at=30.0, duration=60.0)"
    assert repr(ContainerCrash(pod=0, at=1.0)) == "ContainerCrash(pod=0, at=1.0)"
    assert NodeFailure(node=0, at=3).to_dict() == {"kind": "node-failure", "node": 0, "at": 3.0}


def test_yaml_names_are_camel_case_and_snake_case_is_accepted() -> None:
    crash = ContainerCrash(pod=0, at=1.0, exit_code=3)
    assert crash.to_dict()["exitCode"] == 3
    assert fault_from_dict({"kind": "container-crash", "pod": 0, "at": 1, "exit_code": 3}) == crash


def test_a_field_given_in_both_spellings_is_refused() -> None:
    """exitCode: 3 and exit_code: 4 in one fault kept 4 without a word (a key written twice is refused)."""
    with pytest.raises(InputError, match=r"exitCode is given twice \(as exitCode and exit_code\)") as caught:
        fault_from_dict({"kind": "container-crash", "pod": 0, "at": 1, "exitCode": 3, "exit_code": 4})
    assert caught.value.field == "exit_code"


def test_a_fault_loaded_from_yaml_gets_its_fix_in_yaml() -> None:
    """The fix was the Python constructor's (add repeat=True; write e.g. node="worker-2"), which a
    scenario file cannot use."""
    with pytest.raises(InputError) as caught:
        fault_from_dict({"kind": "container-crash", "pod": 0, "at": 1, "duration": 30})
    assert "repeat: true" in caught.value.fix and "=" not in caught.value.fix
    with pytest.raises(InputError) as caught:
        fault_from_dict({"kind": "node-failure", "node": True, "at": 1})
    assert "node: worker-2" in caught.value.fix and "=" not in caught.value.fix
    with pytest.raises(InputError) as caught:
        ContainerCrash(pod=0, at=1.0, duration=30.0)
    assert "repeat=True" in caught.value.fix  # in Python, the constructor's spelling stays


def test_numbers_are_normalised_so_equal_faults_compare_equal() -> None:
    assert NodeFailure(node=0, at=30, duration=60) == NodeFailure(node=0, at=30.0, duration=60.0)
    assert isinstance(NodeFailure(node=0, at=30).at, float)


def test_faults_are_frozen_and_hashable() -> None:
    fault = NodeFailure(node=0, at=1.0)
    with pytest.raises(AttributeError):
        fault.at = 2.0  # type: ignore[misc]
    assert len({fault, NodeFailure(node=0, at=1.0)}) == 1
    assert hash(NetworkPartition(groups=[[0], ["control-plane"]], at=1.0))


@pytest.mark.parametrize(
    ("build", "field", "words"),
    [
        (lambda: NodeFailure(node=-1, at=0.0), "NodeFailure.node", ">= 0"),
        (lambda: NodeFailure(node="Worker_2", at=0.0), "NodeFailure.node", "node name"),
        (lambda: NodeFailure(node=True, at=0.0), "NodeFailure.node", "node name"),
        (lambda: NodeFailure(node=0, at=-1.0), "NodeFailure.at", ">= 0"),
        (lambda: NodeFailure(node=0, at=float("inf")), "NodeFailure.at", ">= 0"),
        (lambda: NodeFailure(node=0, at="soon"), "NodeFailure.at", ">= 0"),
        (lambda: NodeFailure(node=0, at=1.0, duration=0), "NodeFailure.duration", "> 0"),
        (lambda: KubeletStop(node=0, at=1.0, duration=-3), "KubeletStop.duration", "> 0"),
        (lambda: NetworkPartition(at=1.0), "NetworkPartition.node", "exactly one"),
        (lambda: NetworkPartition(node=0, zone="zone-a", at=1.0), "NetworkPartition.node", "exactly one"),
        (lambda: NetworkPartition(groups=[], at=1.0), "NetworkPartition.groups", "non-empty"),
        (lambda: NetworkPartition(groups=[["core"]], at=1.0), "NetworkPartition.groups", "not an endpoint"),
        (lambda: NetworkPartition(groups="worker-1", at=1.0), "NetworkPartition.groups", "non-empty"),
        (lambda: ZoneOutage(zone="", at=1.0), "ZoneOutage.zone", "zone name"),
        (lambda: ContainerCrash(pod="a/b/c", at=1.0), "ContainerCrash.pod", "pod name"),
        (lambda: ContainerCrash(pod=0, at=1.0, duration=10.0), "ContainerCrash.duration", "repeat=True"),
        (lambda: ContainerCrash(pod=0, at=1.0, uptime=3.0), "ContainerCrash.uptime", "repeat=True"),
        (lambda: ContainerCrash(pod=0, at=1.0, oom=True, exit_code=2), "ContainerCrash.exit_code", "137"),
        (lambda: ContainerCrash(pod=0, at=1.0, exit_code=0), "ContainerCrash.exit_code", "from 1 to 255"),
        (lambda: ContainerCrash(pod=0, at=1.0, repeat="yes"), "ContainerCrash.repeat", "true or false"),
        (lambda: PodKill(pod=0, at=1.0, force=1), "PodKill.force", "true or false"),
        (lambda: ProbeFailure(pod=0, at=1.0, probe="health"), "ProbeFailure.probe", "readiness"),
        (lambda: ProbeFailure(pod=0, at=1.0, flap=0), "ProbeFailure.flap", "> 0"),
        (lambda: TrafficSpike(service=0, at=1.0, duration=None), "TrafficSpike.duration", "cannot be permanent"),
        (lambda: TrafficSpike(service=0, at=1.0, duration=5.0, multiplier=-2), "TrafficSpike.multiplier", ">= 0"),
        (lambda: ControlPlaneOutage(component="etcd", at=1.0, duration=5.0), "ControlPlaneOutage.component", "api-server"),
        (lambda: ControlPlaneOutage(component="scheduler", at=1.0, duration=None), "ControlPlaneOutage.duration", "permanent"),
        (lambda: SlowProvisioning(at=1.0, multiplier=0.5), "SlowProvisioning.multiplier", ">= 1"),
        (lambda: ProvisioningFailure(at=1.0, rate=0.0), "ProvisioningFailure.rate", "> 0 and <= 1"),
        (lambda: ProvisioningFailure(at=1.0, rate=1.5), "ProvisioningFailure.rate", "> 0 and <= 1"),
        (lambda: QuotaExhaustion(at=1.0, headroom=-1), "QuotaExhaustion.headroom", ">= 0"),
        (lambda: SlowLoadBalancer(at=1.0, seconds=float("nan")), "SlowLoadBalancer.seconds", ">= 0"),
    ],
)
def test_bad_arguments_raise_input_errors_naming_the_field_and_a_fix(build, field: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        build()
    error = caught.value
    assert error.field == field
    assert words in str(error)
    assert error.fix


def test_from_dict_errors_name_the_source_location_and_field() -> None:
    with pytest.raises(InputError) as caught:
        fault_from_dict({"kind": "node-explosion", "at": 1}, source="s.yaml", location="faults[2]")
    assert "s.yaml: faults[2]: kind: unknown fault kind 'node-explosion'" in str(caught.value)
    assert "node-failure" in caught.value.fix
    with pytest.raises(InputError) as caught:
        fault_from_dict({"kind": "node-failure", "node": 0, "at": 1, "heal": 5})
    assert caught.value.field == "heal" and "duration" in caught.value.fix
    with pytest.raises(InputError) as caught:
        fault_from_dict({"kind": "node-failure", "at": 1})
    assert caught.value.field == "node" and "needs node" in str(caught.value)
    with pytest.raises(InputError) as caught:
        fault_from_dict({"kind": "container-crash", "pod": 0, "at": 1, "exitCode": 300})
    assert caught.value.field == "exitCode"
    # the message and the fix spell the field as the file does (they said exit_code, the Python name)
    assert "exitCode must be a whole number" in caught.value.message and "give exitCode a whole number" in caught.value.fix
    with pytest.raises(InputError) as caught:
        fault_from_dict({"kind": "node-failure", "node": 0, "at": 1, "outOfService": -5})
    assert caught.value.field == "outOfService" and "out_of_service" not in str(caught.value)
    with pytest.raises(InputError):
        fault_from_dict(["node-failure"])
    with pytest.raises(InputError) as caught:
        fault_from_dict({"node": 0})
    assert "no kind" in str(caught.value)


def test_registry_describes_every_kind_once() -> None:
    rows = describe_fault_kinds()
    assert len(rows) == len(FAULT_KINDS) == 15
    for kind, name, summary in rows:
        cls = FAULT_KINDS[kind]
        assert cls.__name__ == name and cls.kind == kind
        assert summary and "\n" not in summary
        assert name in podquake.chaos.__all__


def test_instant_and_permanent() -> None:
    assert PodKill(pod=0, at=1.0).instant
    assert ContainerCrash(pod=0, at=1.0).instant
    assert not ContainerCrash(pod=0, at=1.0, repeat=True).instant
    assert NodeFailure(node=0, at=1.0).ends_at is None
    assert NodeFailure(node=0, at=1.0, duration=2.0).ends_at == 3.0


@pytest.mark.parametrize("module", [faults, faults_base, faults_nodes, faults_control], ids=lambda m: m.__name__)
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
