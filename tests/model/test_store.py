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
from podquake.model.trace import NodeTainted, PodBound, PodCreated, PodDeleted, PodNominated


def make_spec(cpu: int, memory: int, named: bool = True, node_name: str | None = None) -> PodSpec:
    container = ContainerSpec("main", requests=Resources(cpu, memory), cpu_requested=named, memory_requested=named)
    return PodSpec(containers=(container,), node_name=node_name)


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
    awaiting = defaultdict(dict)
    for pod in state.unbound_pods.values():
        if pod.spec.node_name is not None:
            assert pod.spec.node_name not in state.nodes, pod.key  # a node of that name would have taken it
            awaiting[pod.spec.node_name][pod.uid] = pod
    assert state.awaiting_node == dict(awaiting)
    for pod in state.pods.values():
        assert pod.node_name is None or pod.spec.node_name in (None, pod.node_name), pod.key
    by_owner = defaultdict(dict)
    by_label = defaultdict(dict)
    for pod in state.pods.values():
        if pod.owner:
            by_owner[pod.owner.uid][pod.uid] = pod
        for item in pod.labels.items():
            by_label[item][pod.uid] = pod
        assert state.pods_by_key[pod.key] is pod
    nominated = defaultdict(dict)
    for pod in state.pods.values():
        if pod.nominated_node_name is not None:
            assert pod.node_name is None, pod.key  # binding ends a nomination
            nominated[pod.nominated_node_name][pod.uid] = pod
    assert state.nominated_pods == dict(nominated)
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

    @rule(cpu=st.integers(0, 2000), named_node=st.sampled_from(["worker-1", "worker-3", "extra-1", "extra-2"]))
    def create_naming_a_node(self, cpu, named_node):
        """A pod whose spec.nodeName names a node: bound at creation when it exists, else it waits."""
        self.counter += 1
        pod = Pod(f"u{self.counter}", f"pinned-{self.counter}", "default", {"app": "pinned"},
                  make_spec(cpu, 2**20, node_name=named_node), 0.0)
        self.state.create_pod(pod)
        if named_node in self.state.nodes:
            assert self.state.trace.events[-1] == PodBound(self.time, pod.key, named_node)
            assert pod.node_name == named_node and pod.bound_at == self.time
        else:
            assert isinstance(self.state.trace.events[-1], PodCreated) and pod.node_name is None
            assert self.state.awaiting_node[named_node][pod.uid] is pod

    @rule(name=st.sampled_from(["extra-1", "extra-2"]))
    def add_named_node(self, name):
        if name in self.state.nodes:
            return
        waiting = list(self.state.awaiting_node.get(name, {}).values())
        (node,) = ClusterSpec.uniform(nodes=1, zones=1).build_nodes()
        node.name = name
        self.state.add_node(node)
        assert all(p.node_name == name for p in waiting)

    @precondition(lambda self: any(p.spec.node_name is None for p in self.state.unbound_pods.values()))
    @rule(data=st.data())
    def bind(self, data):
        uid = data.draw(st.sampled_from(sorted(u for u, p in self.state.unbound_pods.items() if p.spec.node_name is None)))
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


def test_a_nomination_is_indexed_traced_and_ends_when_the_pod_is_bound_or_deleted():
    state = ClusterState(lambda: 0.0)
    for node in ClusterSpec.uniform(nodes=2, zones=1).build_nodes():
        state.add_node(node)
    for uid in ("u1", "u2"):
        state.create_pod(Pod(uid, f"p-{uid}", "default", {}, make_spec(100, 100), 0.0))
        state.set_nominated_node(uid, "worker-1")
    assert list(state.nominated_pods["worker-1"]) == ["u1", "u2"]
    state.set_nominated_node("u2", None)
    assert_consistent(state)
    state.bind_pod("u1", "worker-2")  # bound elsewhere: its nomination is over
    assert state.nominated_pods == {} and state.pods["u1"].nominated_node_name is None
    state.set_nominated_node("u2", "worker-2")
    state.delete_pod("u2", "Deleted")
    assert state.nominated_pods == {}
    assert_consistent(state)
    with pytest.raises(StateError, match="cannot be nominated"):
        state.set_nominated_node("u1", "worker-1")
    assert [(e.pod, e.node) for e in state.trace.of_type(PodNominated)] == [
        ("default/p-u1", "worker-1"), ("default/p-u2", "worker-1"), ("default/p-u2", ""), ("default/p-u2", "worker-2"),
    ]


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


def test_a_pod_naming_a_node_is_bound_at_creation_without_a_scheduler():
    state = ClusterState(lambda: 3.0)
    for node in ClusterSpec.uniform(nodes=2, zones=1).build_nodes():
        state.add_node(node)
    state.set_unschedulable("worker-2", True)  # a cordon is the scheduler's business, not the API's
    pod = state.create_pod(Pod("u1", "pinned", "default", {}, make_spec(100, 100, node_name="worker-2"), 0.0))
    assert pod.node_name == "worker-2" and not state.unbound_pods and not state.awaiting_node
    assert state.trace.events[-2:][0] == PodCreated(3.0, "default/pinned", "", 100, 100, "spec-1", ())
    assert state.trace.events[-1] == PodBound(3.0, "default/pinned", "worker-2")
    assert_consistent(state)


def test_a_pod_naming_a_missing_node_waits_for_it_and_a_node_of_that_name_takes_it():
    now = [0.0]
    state = ClusterState(lambda: now[0])
    first, extra = ClusterSpec.uniform(nodes=2, zones=1).build_nodes()
    state.add_node(first)
    a = state.create_pod(Pod("u1", "a", "default", {}, make_spec(100, 100, node_name="worker-2"), 0.0))
    b = state.create_pod(Pod("u2", "b", "default", {}, make_spec(100, 100, node_name="worker-2"), 0.0))
    assert a.node_name is None and list(state.awaiting_node) == ["worker-2"]
    assert not state.trace.of_type(PodBound)
    with pytest.raises(StateError, match="names node worker-2"):
        state.bind_pod("u1", "worker-1")  # only its named node may take it
    state.delete_pod("u2", "test")
    assert list(state.awaiting_node["worker-2"]) == ["u1"]
    assert_consistent(state)
    now[0] = 30.0
    state.add_node(extra)
    assert a.node_name == "worker-2" and a.bound_at == 30.0 and not state.awaiting_node
    assert [type(e).__name__ for e in state.trace.events[-2:]] == ["NodeAdded", "PodBound"]
    assert_consistent(state)
    assert b.uid not in state.pods
