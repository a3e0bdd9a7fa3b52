"""ClusterSpec: node pools become labelled nodes spread over zones; the YAML form round-trips and
every mistake in it is an InputError naming the source and the field."""

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from podquake.model import constants as k8s
from podquake.model.cluster import ClusterSpec, NodePool
from podquake.model.errors import InputError
from podquake.model.objects import ContainerSpec, PodSpec
from podquake.model.quantity import Resources
from podquake.model.selectors import Taint

GI = 2**30


def test_default_cluster_is_six_nodes_over_three_zones():
    spec = ClusterSpec.default()
    nodes = spec.build_nodes()
    assert spec.node_count == 6
    assert [n.name for n in nodes] == [f"worker-{i}" for i in range(1, 7)]
    assert [n.zone for n in nodes] == ["zone-a", "zone-b", "zone-c"] * 2  # round-robin
    assert all(n.allocatable == Resources(4000, 16 * GI, k8s.DEFAULT_MAX_PODS) for n in nodes)
    assert k8s.DEFAULT_MAX_PODS == 110


def test_nodes_carry_the_well_known_labels_a_kubelet_sets():
    node = ClusterSpec.default().build_nodes()[0]
    assert node.labels == {
        k8s.LABEL_HOSTNAME: "worker-1",
        k8s.LABEL_ZONE: "zone-a",
        k8s.LABEL_REGION: "region-1",
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "podquake.io/pool": "worker",
    }
    # Sock Shop's pods select the legacy OS label; they must fit these nodes.
    spec = PodSpec(containers=(ContainerSpec("c"),), node_selector=(("beta.kubernetes.io/os", "linux"),))
    assert spec.node_selector_matches(node.name, node.labels)


def test_uniform_clusters():
    spec = ClusterSpec.uniform(nodes=5, zones=2, cpu="2", memory="8Gi", max_pods=30)
    nodes = spec.build_nodes()
    assert [n.zone for n in nodes] == ["zone-a", "zone-b", "zone-a", "zone-b", "zone-a"]
    assert nodes[0].capacity == Resources(2000, 8 * GI, 30)
    with pytest.raises(InputError, match="zones must be a whole number >= 1"):  # it became one zone, unsaid
        ClusterSpec.uniform(nodes=2, zones=0)


def test_pools_reserve_resources_and_carry_labels_and_taints():
    taint = Taint("dedicated", "batch", "NoSchedule")
    pool = NodePool(
        name="batch",
        count=2,
        zones=("z1",),
        cpu_millis=8000,
        memory_bytes=32 * GI,
        labels=(("tier", "batch"),),
        taints=(taint,),
        reserved_cpu_millis=500,
        reserved_memory_bytes=GI,
        ephemeral_storage_bytes=100 * GI,
    )
    spec = ClusterSpec(pools=(NodePool(count=1), pool))
    nodes = spec.build_nodes()
    assert [n.name for n in nodes] == ["worker-1", "batch-1", "batch-2"]
    batch = nodes[1]
    assert batch.capacity == Resources(8000, 32 * GI, 110, 100 * GI)
    assert batch.allocatable == Resources(7500, 31 * GI, 110, 100 * GI)
    assert batch.labels["tier"] == "batch" and batch.taints == (taint,)
    assert nodes[0].allocatable.ephemeral_storage_bytes == 0  # not reported unless configured


def test_build_nodes_gives_fresh_nodes_each_time():
    spec = ClusterSpec.default()
    first, second = spec.build_nodes(), spec.build_nodes()
    assert first[0] is not second[0] and first[0].labels is not second[0].labels
    first[0].labels["x"] = "y"
    assert "x" not in spec.build_nodes()[0].labels


def test_a_pool_may_set_its_nodes_os_and_arch():
    """An arm64 pool is a real need: the kubelet's OS/arch labels are only defaults."""
    [node] = ClusterSpec.from_dict({"pools": [{"name": "arm", "count": 1, "labels": {"kubernetes.io/arch": "arm64"}}]}).build_nodes()
    assert node.labels["kubernetes.io/arch"] == "arm64" and node.labels["kubernetes.io/os"] == "linux"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"count": -1}, "must not be negative"),
        ({"zones": ()}, "at least one zone"),
        ({"cpu_millis": 500, "reserved_cpu_millis": 500}, "must exceed the reserved"),
        ({"memory_bytes": GI, "reserved_memory_bytes": 2 * GI}, "memory must exceed"),
        ({"max_pods": 0}, "must be positive"),
        ({"name": ""}, "needs a name"),
        ({"ephemeral_storage_bytes": -1}, "must not be negative"),
    ],
)
def test_invalid_pools(kwargs, message):
    with pytest.raises(InputError, match=message):
        NodePool(**kwargs)


def test_pool_names_must_be_unique():
    with pytest.raises(InputError, match="repeated: a"):
        ClusterSpec(pools=(NodePool(name="a"), NodePool(name="a")))


# --- the YAML form ---------------------------------------------------------------------------------
DOCSTRING_EXAMPLE = """
region: region-1
pools:
  - name: worker
    count: 6
    zones: [zone-a, zone-b, zone-c]
    cpu: "4"
    memory: 16Gi
    maxPods: 110
    ephemeralStorage: 100Gi
    labels: {tier: general}
    taints: [{key: dedicated, value: batch, effect: NoSchedule}]
"""


def test_the_documented_yaml_form_parses():
    spec = ClusterSpec.from_dict(yaml.safe_load(DOCSTRING_EXAMPLE), source="cluster.yaml")
    (pool,) = spec.pools
    assert (pool.count, pool.cpu_millis, pool.memory_bytes, pool.max_pods) == (6, 4000, 16 * GI, 110)
    assert pool.ephemeral_storage_bytes == 100 * GI
    assert pool.labels == (("tier", "general"),)
    assert pool.taints == (Taint("dedicated", "batch", "NoSchedule"),)


def test_shorthand_and_missing_cluster():
    assert ClusterSpec.from_dict(None) == ClusterSpec.default()
    spec = ClusterSpec.from_dict({"nodes": 4, "zones": 2, "cpu": "8", "memory": "32Gi", "region": "eu"})
    assert spec.region == "eu" and spec.node_count == 4
    assert spec.pools[0].zones == ("zone-a", "zone-b") and spec.pools[0].cpu_millis == 8000


@given(
    count=st.integers(0, 50),
    zones=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True),
    cpu=st.integers(100, 64_000),
    memory_gi=st.integers(1, 512),
    max_pods=st.integers(1, 250),
    labels=st.dictionaries(st.sampled_from(["tier", "disk", "gpu"]), st.sampled_from(["x", "y"]), max_size=2),
    reserved=st.integers(0, 99),
    ephemeral_gi=st.integers(0, 500),
    taint_effects=st.lists(st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"]), max_size=2),
)
def test_to_dict_and_from_dict_round_trip(count, zones, cpu, memory_gi, max_pods, labels, reserved, ephemeral_gi, taint_effects):
    pool = NodePool(
        name="p",
        count=count,
        zones=tuple(zones),
        cpu_millis=cpu,
        memory_bytes=memory_gi * GI,
        max_pods=max_pods,
        labels=tuple(sorted(labels.items())),
        taints=tuple(Taint(f"k{i}", "v", e) for i, e in enumerate(taint_effects)),
        reserved_cpu_millis=reserved,
        ephemeral_storage_bytes=ephemeral_gi * GI,
    )
    spec = ClusterSpec(pools=(pool, NodePool(name="q", count=1)), region="r")
    assert ClusterSpec.from_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict()))) == spec


@pytest.mark.parametrize(
    "data, field, message",
    [
        ([1, 2], "", "must be a mapping"),
        ({"nodez": 3}, "", "unknown field(s) nodez"),
        ({"nodes": "three"}, "nodes", "not a whole number"),
        ({"nodes": -1}, "", "count -1 must not be negative"),
        ({"zones": 0}, "zones", "at least 1"),
        ({"cpu": "lots"}, "cpu/memory", "invalid quantity"),
        ({"pools": []}, "pools", "non-empty list"),
        ({"pools": ["worker"]}, "pools[0]", "must be a mapping"),
        ({"pools": [{"name": "w", "cpus": 4}]}, "pools[0]", "unknown field(s) cpus"),
        ({"pools": [{"name": "w", "memory": "16GB"}]}, "pools[0]", "invalid quantity"),
        ({"pools": [{"name": "w", "zones": [1]}]}, "pools[0].zones", "list of names"),
        ({"pools": [{"name": "w", "labels": ["a"]}]}, "pools[0].labels", "must be a mapping"),
        ({"pools": [{"name": "w", "taints": [{"effect": "NoSchedule"}]}]}, "pools[0].taints[0]", "needs a key"),
        ({"pools": [{"name": "w", "taints": [{"key": "k", "effect": "Sometimes"}]}]}, "pools[0].taints[0].effect", "unknown effect"),
        ({"pools": [{"name": "w", "count": "2"}]}, "pools[0].count", "not a whole number"),
        ({"pools": [{"name": "w", "maxPods": 0}]}, "pools[0]", "maxPods 0 must be positive"),
        ({"pools": [{"name": "a"}, {"name": "a"}]}, "pools", "must be unique"),
    ],
)
def test_yaml_mistakes_name_the_source_and_field(data, field, message):
    with pytest.raises(InputError) as info:
        ClusterSpec.from_dict(data, source="cluster.yaml")
    assert info.value.source == "cluster.yaml"
    assert info.value.field == field
    assert message in info.value.message


# --- input validation from Python and YAML -----------------------------------------------------------
def test_a_bare_string_of_zones_is_one_zone_as_in_yaml():
    """NodePool(zones="zone-a") spread the nodes over the zones 'z', 'o', 'n', ..."""
    spec = ClusterSpec(pools=(NodePool(count=3, zones="zone-a"),))
    assert spec.pools[0].zones == ("zone-a",)
    assert [n.zone for n in spec.build_nodes()] == ["zone-a"] * 3
    assert spec.pools[0] == ClusterSpec.from_dict({"pools": [{"count": 3, "zones": "zone-a"}]}).pools[0]


@pytest.mark.parametrize(
    "label, fix",
    [
        (k8s.LABEL_ZONE, "zones"),
        (k8s.LABEL_HOSTNAME, "pool's name"),
        ("podquake.io/pool", "name the pool"),
        (k8s.LABEL_REGION, "region"),
    ],
)
def test_pool_labels_may_not_set_the_labels_podquake_sets_on_every_node(label, fix):
    """A pool's labels silently overrode the well-known labels node() sets (a node labelled with
    one zone while placed in another)."""
    with pytest.raises(InputError) as info:
        NodePool(labels=((label, "x"),))
    assert label in info.value.message and info.value.field == "labels"
    assert fix in info.value.fix
    with pytest.raises(InputError) as info:
        ClusterSpec.from_dict({"pools": [{"name": "w", "labels": {label: "x"}}]}, source="c.yaml")
    assert info.value.field == "pools[0].labels" and label in info.value.message


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reserved_cpu_millis": -100}, "reservedCpu -100m must not be negative"),
        ({"reserved_memory_bytes": -1}, "reservedMemory -1 must not be negative"),
        ({"cpu_millis": float("nan")}, "cpu_millis must be a whole number, not the number nan"),
        ({"cpu_millis": 3999.5}, "cpu_millis must be a whole number"),
        ({"cpu_millis": "4"}, "cpu_millis must be a whole number, not a string ('4')"),
        ({"count": 2.5}, "count must be a whole number, not the number 2.5"),
        ({"count": 2.0}, "count must be a whole number"),
        ({"count": "3"}, "count must be a whole number, not a string ('3')"),
        ({"count": True}, "count must be a whole number, not the boolean true"),
        ({"max_size": 1.5}, "max_size must be a whole number"),
        ({"name": None}, "name must be a string"),
        ({"zones": ("",)}, "zones[0] must be a zone name"),
        ({"taints": ({"key": "a"},)}, "taints[0] must be a Taint"),
        ({"labels": (("a", 1),)}, "labels[0] must be a (key, value) pair of strings"),
    ],
)
def test_impossible_pools_are_refused_naming_the_field(kwargs, message):
    """Negative reservations (allocatable above capacity), NaN or fractional millicores, 2.5 nodes
    (a crash in build_nodes), strings ("'<' not supported") and True as a count were accepted."""
    with pytest.raises(InputError) as info:
        NodePool(**kwargs)
    assert message in info.value.message and info.value.fix


def test_uniform_refuses_a_count_that_is_not_a_whole_number():
    """ClusterSpec.uniform(True) made a 1-node cluster; uniform("3") failed with "'<' not supported"."""
    for nodes in (True, "3", 2.5):
        with pytest.raises(InputError, match="nodes must be a whole number") as info:
            ClusterSpec.uniform(nodes)
        assert info.value.field == "nodes"


@pytest.mark.parametrize(
    "pool, field, message",
    [
        ({"name": None}, "pools[0].name", "expected a pool name, got nothing (null)"),
        ({"name": 5}, "pools[0].name", "expected a pool name"),
        ({"labels": {"a": {"b": 1}}}, "pools[0].labels.a", "expected a string value, got a mapping"),
        ({"labels": {"a": None}}, "pools[0].labels.a", "expected a string value"),
        ({"labels": {"a": 1}}, "pools[0].labels.a", "expected a string value, got the number 1"),
    ],
)
def test_yaml_pool_names_and_label_values_must_be_strings(pool, field, message):
    """name: null became a pool named "None", and a nested label value the label "{'b': 1}"."""
    with pytest.raises(InputError) as info:
        ClusterSpec.from_dict({"pools": [pool]}, source="c.yaml")
    assert (info.value.source, info.value.field) == ("c.yaml", field)
    assert message in info.value.message


@pytest.mark.parametrize("extra", [{"nodes": 10}, {"zones": 2}, {"cpu": "8"}, {"memory": "8Gi", "nodes": 2}])
def test_pools_and_the_uniform_shorthand_cannot_be_mixed(extra):
    """With pools given, nodes/zones/cpu/memory were silently dropped."""
    with pytest.raises(InputError) as info:
        ClusterSpec.from_dict({"pools": [{"name": "a", "count": 1}], **extra}, source="c.yaml")
    assert info.value.field.startswith("pools/") and "cannot be combined" in info.value.message
    assert all(name in info.value.field and name in info.value.message for name in extra)


def test_a_yaml_pool_without_a_count_has_the_nodepool_default():
    """A YAML pool without count got 1 node, NodePool() 6: both are 6 now."""
    assert ClusterSpec.from_dict({"pools": [{"name": "worker"}]}).pools[0] == NodePool()


def test_pools_may_be_a_list_or_one_pool_and_the_spec_stays_hashable():
    """ClusterSpec(pools=[...]) was accepted and then unhashable."""
    spec = ClusterSpec(pools=[NodePool()])
    assert spec.pools == (NodePool(),) and hash(spec) == hash(ClusterSpec())
    assert ClusterSpec(pools=NodePool()) == ClusterSpec()
    with pytest.raises(InputError, match="pools\\[0\\] is a mapping, not a NodePool"):
        ClusterSpec(pools=({"name": "x"},))


def test_a_cluster_without_pools_is_refused_as_in_yaml():
    """ClusterSpec(pools=()) gave a cluster of no nodes that could never grow; YAML refused it."""
    with pytest.raises(InputError) as info:
        ClusterSpec(pools=())
    assert info.value.field == "pools" and "at least one node pool" in info.value.message
    # An empty pool that the autoscaler may grow is still a cluster, as the scenario check allows.
    assert ClusterSpec(pools=(NodePool(count=0, min_size=0, max_size=3),)).node_count == 0


def test_a_boolean_pool_label_is_refused_with_the_quoting_that_matches_a_selector():
    """The fix said accelerator: "True" (Python's spelling), which a nodeSelector "true" never matches."""
    with pytest.raises(InputError) as info:
        ClusterSpec.from_dict({"pools": [{"name": "gpu", "count": 1, "labels": {"accelerator": True}}]})
    assert info.value.fix == 'quote it: accelerator: "true"'


def test_which_node_names_a_cluster_may_have():
    spec = ClusterSpec(pools=(NodePool(name="worker", count=2), NodePool(name="gpu", count=0, min_size=0, max_size=3)))
    assert [spec.may_have_node(n) for n in ("worker-1", "worker-2", "worker-3", "worker-0", "gpu-7", "gpux-1", "worker")] == [
        True, True, False, False, True, False, False,
    ]


@pytest.mark.parametrize(
    "name, guess",
    [("GPU_Workers", "gpu-workers"), ("batch.pool", "batch-pool"), ("-edge", "edge"), ("edge-", "edge"), ("a" * 64, "a" * 61), ("wörker", "w-rker")],
)
def test_a_pool_name_that_is_not_a_dns_label_is_refused(name, guess):
    """NodePool(name="GPU_Workers") made nodes GPU_Workers-1, ..., names no Kubernetes node may have."""
    with pytest.raises(InputError) as info:
        NodePool(name=name, count=1)
    assert info.value.field == "name" and repr(name) in info.value.message and "DNS-1123 label" in info.value.message
    assert info.value.fix.endswith(f"e.g. {guess}")
    # The YAML form gets it too, naming the file and the pool.
    with pytest.raises(InputError) as info:
        ClusterSpec.from_dict({"pools": [{"name": "worker", "count": 1}, {"name": name, "count": 1}]}, source="c.yaml")
    assert (info.value.source, info.value.field) == ("c.yaml", "pools[1].name") and repr(name) in info.value.message
    assert "lowercase letters, digits and '-'" in info.value.fix


def test_pool_names_that_are_dns_labels_are_taken():
    for name in ("w", "9", "gpu-pool-2", "a" * 61):
        assert ClusterSpec(pools=(NodePool(name=name, count=1),)).build_nodes()[0].name == f"{name}-1"


@pytest.mark.parametrize("region", [5, None, True, ["eu"], b"eu"])
def test_a_region_that_is_not_a_string_is_refused(region):
    """ClusterSpec(region=5) labelled every node with a number (a label value is a string), and the
    YAML form's str() made region: null the region 'None'."""
    with pytest.raises(InputError) as info:
        ClusterSpec(region=region)
    assert info.value.field == "region" and "region must be a string" in info.value.message
    assert info.value.fix == "write e.g. region='region-1'"
    for data in ({"region": region}, {"region": region, "pools": [{"name": "w", "count": 1}]}):
        with pytest.raises(InputError) as info:
            ClusterSpec.from_dict(data, source="c.yaml")
        assert (info.value.source, info.value.field) == ("c.yaml", "region") and "expected a region name" in info.value.message
        assert info.value.fix


def test_a_numeric_yaml_region_is_told_to_quote_it():
    with pytest.raises(InputError) as info:
        ClusterSpec.from_dict(yaml.safe_load("region: 1\nnodes: 2"))
    assert info.value.fix == 'quote it: region: "1"'
    assert ClusterSpec.from_dict(yaml.safe_load("region: '1'\nnodes: 2")).build_nodes()[0].labels[k8s.LABEL_REGION] == "1"


@pytest.mark.parametrize("name, nodes", [("a" * 62, 1), ("a" * 61, 10), ("a" * 60, 10), ("b" * 59, 1000)])
def test_a_pool_name_too_long_for_its_nodes_names_is_refused(name, nodes):
    """A 62-character pool made node a...a-1, 64 characters: past the 63 a kubernetes.io/hostname
    label value may have, and the node carries its name in that label."""
    longest = 63 - len(f"-{nodes}")
    if len(name) <= longest:
        assert ClusterSpec(pools=(NodePool(name=name, count=nodes),)).build_nodes()[-1].name == f"{name}-{nodes}"
        return
    with pytest.raises(InputError) as info:
        NodePool(name=name, count=1, min_size=1, max_size=nodes) if nodes > 1 else NodePool(name=name, count=1)
    assert info.value.field == "name" and f"{name}-{nodes}" in info.value.message and "kubernetes.io/hostname" in info.value.message
    assert f"at most {longest} lowercase" in info.value.fix and info.value.fix.endswith("a" * longest if name[0] == "a" else "b" * longest)
