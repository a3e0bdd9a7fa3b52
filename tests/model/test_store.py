"""The store is the single writer: its indexes and per-node accounting agree with a full scan after
any sequence of transitions, and every transition leaves a typed event in the trace."""

from collections import defaultdict

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from podquake.model.cluster import ClusterSpec
from podquake.model.objects import ContainerSpec, OwnerRef, Pod, PodSpec
from podquake.model.quantity import Resources
from podquake.model.selectors import LabelSelector, Taint
from podquake.model.store import ClusterState, StateError
from podquake.model.trace import NodeTainted, PodBound, PodCreated, PodDeleted


def make_spec(cpu: int, memory: int, named: bool = True) -> PodSpec:
    container = ContainerSpec("main", requests=Resources(cpu, memory), cpu_requested=named, memory_requested=named)
    return PodSpec(containers=(container,))


def assert_consistent(state: ClusterState) -> None:
    """Every index and every node's accounting, recomputed from scratch."""
    for node in state.node_list:
        bound = [p for p in state.pods.values() if p.node_name == node.name]
        assert sorted(node.pods) == sorted(p.uid for p in bound), node.name
        assert node.requested_cpu == sum(p.spec.requests.cpu_millis for p in bound)
        assert node.requested_memory == sum(p.spec.requests.memory_bytes for p in bound)
        assert node.nonzero_cpu == sum(p.spec.nonzero_cpu for p in bound)
        assert node.nonzero_memory == sum(p.spec.nonzero_memory for p in bound)
        assert node.requested.pods == len(bound)
        assert state.node_list[node.index] is node
    assert list(state.unbound_pods.values()) == [p for p in state.pods.values() if p.node_name is None]
    by_owner = defaultdict(dict)
    by_label = defaultdict(dict)
    for pod in state.pods.values():
        if pod.owner:
            by_owner[pod.owner.uid][pod.uid] = pod
        for item in pod.labels.items():
            by_label[item][pod.uid] = pod
        assert state.pods_by_key[pod.key] is pod
    assert dict(state.pods_by_owner) == dict(by_owner)
    assert dict(state.pods_by_label) == dict(by_label)
    assert len(state.pods_by_key) == len(state.pods)
    zones = defaultdict(dict)
    for node in state.node_list:
        zones[node.zone][node.name] = node
    assert state.nodes_by_zone == dict(zones)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.time = 0.0
        self.state = ClusterState(lambda: self.time)
        for node in ClusterSpec.uniform(nodes=4, zones=2).build_nodes():
            self.state.add_node(node)
        self.counter = 0

    @rule(cpu=st.integers(0, 2000), memory=st.integers(0, 2**31), named=st.booleans(),
          app=st.sampled_from(["web", "db", "cache"]), owned=st.booleans())
    def create(self, cpu, memory, named, app, owned):
        self.counter += 1
        owner = OwnerRef("ReplicaSet", f"{app}-rs", f"uid-{app}") if owned else None
        pod = Pod(f"u{self.counter}", f"{app}-{self.counter}", "default", {"app": app, "n": str(self.counter % 3)},
                  make_spec(cpu, memory, named), 0.0, owner=owner)
        self.state.create_pod(pod)
        assert isinstance(self.state.trace.events[-1], PodCreated)

    @precondition(lambda self: self.state.unbound_pods)
    @rule(data=st.data())
    def bind(self, data):
        uid = data.draw(st.sampled_from(sorted(self.state.unbound_pods)))
        node = data.draw(st.sampled_from([n.name for n in self.state.node_list]))
        self.state.bind_pod(uid, node)
        assert self.state.trace.events[-1] == PodBound(self.time, self.state.pods[uid].key, node)

    @precondition(lambda self: self.state.pods)
    @rule(data=st.data(), graceful=st.booleans())
    def delete(self, data, graceful):
        uid = data.draw(st.sampled_from(sorted(self.state.pods)))
        if graceful:
            self.state.request_pod_deletion(uid, "test")
        self.state.delete_pod(uid, "test")
        assert isinstance(self.state.trace.events[-1], PodDeleted)
        assert uid not in self.state.pods

    @rule(dt=st.floats(0, 100))
    def tick(self, dt):
        self.time += dt

    @rule(data=st.data())
    def taint(self, data):
        node = data.draw(st.sampled_from([n.name for n in self.state.node_list]))
        self.state.add_taint(node, Taint("dedicated", "x", "NoSchedule"))
        self.state.remove_taint(node, "dedicated", "NoSchedule")

    @invariant()
    def consistent(self):
        assert_consistent(self.state)

    @invariant()
    def events_are_in_time_order(self):
        times = [e.t for e in self.state.trace.events]
        assert times == sorted(times)


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


def test_double_binding_is_refused():
    state = ClusterState(lambda: 0.0)
    for node in ClusterSpec.uniform(nodes=2, zones=1).build_nodes():
        state.add_node(node)
    state.create_pod(Pod("u1", "p", "default", {}, make_spec(100, 100), 0.0))
    state.bind_pod("u1", "worker-1")
    with pytest.raises(StateError, match="already bound"):
        state.bind_pod("u1", "worker-2")
    with pytest.raises(StateError, match="no node"):
        state.create_pod(Pod("u2", "q", "default", {}, make_spec(1, 1), 0.0))
        state.bind_pod("u2", "nope")


def test_pods_matching_uses_the_label_index_and_checks_namespace_and_expressions():
    state = ClusterState(lambda: 0.0)
    for i, (ns, app) in enumerate([("a", "web"), ("b", "web"), ("a", "db")]):
        state.create_pod(Pod(f"u{i}", f"p{i}", ns, {"app": app}, make_spec(1, 1), 0.0))
    assert [p.name for p in state.pods_matching("a", LabelSelector.of({"app": "web"}))] == ["p0"]
    assert [p.name for p in state.pods_matching("a", LabelSelector())] == ["p0", "p2"]


def test_taints_are_idempotent_and_traced_with_their_time():
    now = [5.0]
    state = ClusterState(lambda: now[0])
    for node in ClusterSpec.uniform(nodes=1, zones=1).build_nodes():
        state.add_node(node)
    state.add_taint("worker-1", Taint("node.kubernetes.io/unreachable", "", "NoExecute"))
    state.add_taint("worker-1", Taint("node.kubernetes.io/unreachable", "", "NoExecute"))
    assert len(state.nodes["worker-1"].taints) == 1
    assert state.nodes["worker-1"].taints[0].added_at == 5.0
    assert state.trace.of_type(NodeTainted) == [NodeTainted(5.0, "worker-1", "node.kubernetes.io/unreachable", "NoExecute")]
