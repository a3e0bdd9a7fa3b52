"""The trace's record of pod specs decodes back to what the scheduler saw."""

from podquake.model import ClusterSpec, Simulation
from podquake.model import trace as ev
from podquake.model.manifests import load_manifests
from podquake.model.specrecord import decode_spec, encode_spec

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {disk: ssd}
      tolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: tier, operator: In, values: [a, b]}]}]
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
         labelSelector: {matchLabels: {app: web}}}
      containers:
      - {name: app, image: nginx, resources: {requests: {cpu: 250m, memory: 64Mi}}}
"""


def _pod_specs(tmp_path):
    path = tmp_path / "web.yaml"
    path.write_text(MANIFEST)
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
    sim.apply(load_manifests(path))
    sim.run(5)
    return sim


def test_each_distinct_spec_is_recorded_once_and_pods_name_it(tmp_path):
    sim = _pod_specs(tmp_path)
    defined = sim.trace.of_type(ev.PodSpecDefined)
    created = sim.trace.of_type(ev.PodCreated)
    assert len(created) == 3
    assert len(defined) == 1
    assert {c.spec for c in created} == {defined[0].spec}
    assert dict(created[0].labels)["app"] == "web" and "pod-template-hash" in dict(created[0].labels)
    assert created[0].owner.startswith("ReplicaSet/default/web-")


def test_decoded_spec_equals_the_pods_spec(tmp_path):
    sim = _pod_specs(tmp_path)
    pod = next(iter(sim.state.pods.values()))
    recorded = decode_spec(sim.trace.of_type(ev.PodSpecDefined)[0].body)
    assert recorded.tolerations == pod.spec.tolerations
    assert recorded.node_selector == pod.spec.node_selector
    assert recorded.topology_spread_constraints == pod.spec.topology_spread_constraints
    assert recorded.node_affinity.required == pod.spec.node_affinity.required
    assert recorded.containers == (("app", 250, 64 * 2**20),)
    assert recorded.node_selector_matches("n", {"disk": "ssd", "tier": "a"})
    assert not recorded.node_selector_matches("n", {"disk": "ssd", "tier": "c"})
    assert encode_spec(pod.spec) == sim.trace.of_type(ev.PodSpecDefined)[0].body


def test_trace_with_nested_tuples_round_trips_through_json(tmp_path):
    sim = _pod_specs(tmp_path)
    sim.state.record(ev.Annotation(sim.now, "all-healed", "test"))
    again = ev.Trace.from_jsonl(sim.trace.to_jsonl())
    assert again.events == sim.trace.events



def test_a_named_node_is_recorded():
    from podquake.model.objects import ContainerSpec, PodSpec

    pinned = decode_spec(encode_spec(PodSpec(containers=(ContainerSpec("app"),), node_name="worker-2")))
    free = decode_spec(encode_spec(PodSpec(containers=(ContainerSpec("app"),))))
    assert pinned.node_name == "worker-2" and free.node_name is None
    assert "nodeName" not in encode_spec(PodSpec(containers=(ContainerSpec("app"),)))  # unchanged JSON otherwise


def test_required_inter_pod_terms_are_recorded_and_preferred_ones_left_out():
    from podquake.model.objects import ContainerSpec, PodAffinity, PodAffinityTerm, PodSpec
    from podquake.model.selectors import LabelSelector

    term = PodAffinityTerm("kubernetes.io/hostname", LabelSelector.of({"app": "web"}), namespaces=("shop",),
                           namespace_selector=LabelSelector(), match_label_keys=("rev",))
    spec = PodSpec(containers=(ContainerSpec("app"),), pod_affinity=PodAffinity(required_anti_affinity=(term,), preferred_affinity=((5, term),)))
    recorded = decode_spec(encode_spec(spec))
    assert recorded.pod_affinity == PodAffinity(required_anti_affinity=(term,))
    only_preferred = PodSpec(containers=(ContainerSpec("app"),), pod_affinity=PodAffinity(preferred_affinity=((5, term),)))
    assert "podAffinity" not in encode_spec(only_preferred) and decode_spec(encode_spec(only_preferred)).pod_affinity is None
