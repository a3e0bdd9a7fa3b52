"""Loading Kubernetes YAML: documents and files, hostile input, defaulting and validation as the API
server does them, errors that name the file, document, field and fix, and applying to a simulation."""

import copy

import pytest
import yaml

from podquake.model import constants as k8s
from podquake.model.cluster import ClusterSpec
from podquake.model.errors import InputError
from podquake.model.manifests import (
    MAX_ALIAS_EXPANSION,
    MAX_MANIFEST_BYTES,
    MAX_NESTING_DEPTH,
    Manifest,
    load_manifests,
    manifest_notes,
)
from podquake.model.objects import DaemonSet, Deployment, PodTemplate, ReplicaSet, StatefulSet
from podquake.model.resources_api import GenericObject
from podquake.model.simulation import Simulation

MI = 2**20


def deployment(name="web", replicas=None, **container):
    """A minimal valid apps/v1 Deployment as a dict; tests change what they need."""
    spec = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": "nginx", **container}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def dump(*objects) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


def load_one(obj) -> Manifest:
    (manifest,) = load_manifests(text=dump(obj), source="app.yaml")
    return manifest


def pod_spec(obj):
    return load_one(obj).obj.template.spec


def container(obj, index=0):
    return pod_spec(obj).containers[index]


def error(obj_or_text) -> InputError:
    text = obj_or_text if isinstance(obj_or_text, str) else dump(obj_or_text)
    with pytest.raises(InputError) as info:
        load_manifests(text=text, source="app.yaml")
    return info.value


def with_pod_spec(**fields):
    obj = deployment()
    obj["spec"]["template"]["spec"].update(fields)
    return obj


# --- documents, files, lists ---------------------------------------------------------------------
def test_multi_document_text_keeps_order_skips_empty_documents_and_defaults_the_namespace():
    text = dump(deployment("a"), None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}})
    manifests = load_manifests(text=text)
    assert [(m.kind, m.name, m.namespace) for m in manifests] == [("Deployment", "a", "default"), ("ConfigMap", "c", "shop")]
    assert manifests[0].source == "<text>"
    assert manifests[0].location == "document 1 (Deployment a) at line 1"
    assert manifests[1].location.startswith("document 3 (ConfigMap c) at line ")


def test_a_folder_loads_its_yaml_and_yml_files_in_sorted_order(tmp_path):
    (tmp_path / "b.yml").write_text(dump(deployment("b")))
    (tmp_path / "a.yaml").write_text(dump(deployment("a")))
    (tmp_path / "notes.txt").write_text("not yaml: [")
    manifests = load_manifests(tmp_path)
    assert [m.name for m in manifests] == ["a", "b"]
    assert manifests[0].source == str(tmp_path / "a.yaml")
    assert [m.name for m in load_manifests([tmp_path / "b.yml", str(tmp_path / "a.yaml")])] == ["b", "a"]


def test_a_folder_loads_its_json_files_too_as_kubectl_does(tmp_path):
    """A folder's .json manifests were skipped without a word; kubectl apply -f reads them."""
    import json

    (tmp_path / "a.yaml").write_text(dump(deployment("a")))
    (tmp_path / "c.json").write_text(json.dumps(deployment("c")))
    assert [m.name for m in load_manifests(tmp_path)] == ["a", "c"]


def test_an_hpa_whose_target_is_not_in_the_manifests_is_noted():
    """An HPA naming a misspelt Deployment ran without a word, and never scaled."""
    hpa = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "wbe"}, "minReplicas": 1, "maxReplicas": 3,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
    }
    notes = manifest_notes(load_manifests(text=dump(deployment("web")) + "---\n" + dump(hpa)))
    [note] = notes
    assert "(HorizontalPodAutoscaler web)" in note and "spec.scaleTargetRef: no Deployment default/wbe in these manifests" in note
    fixed = hpa | {"spec": hpa["spec"] | {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}
    assert not manifest_notes(load_manifests(text=dump(deployment("web")) + "---\n" + dump(fixed)))


def test_kind_list_items_are_expanded_with_their_place_named():
    items = {"apiVersion": "v1", "kind": "List", "items": [deployment("a"), deployment("b")]}
    manifests = load_manifests(text=dump(items))
    assert [m.name for m in manifests] == ["a", "b"]
    assert manifests[1].location == "document 1, item 2 (Deployment b) at line 1"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: load_manifests(p / "missing.yaml"), "no such file or folder"),
        (lambda p: load_manifests(p), "holds no .yaml, .yml or .json files"),
        (lambda p: load_manifests(), "give either a path or text"),
        (lambda p: load_manifests(p, text="a: 1"), "give either a path or text"),
    ],
)
def test_bad_paths_are_input_errors(tmp_path, call, message):
    with pytest.raises(InputError, match=message):
        call(tmp_path)


def test_files_and_texts_over_the_size_limit_are_refused_before_parsing(tmp_path):
    big = "#" * (MAX_MANIFEST_BYTES + 1)
    with pytest.raises(InputError, match="more than the 16 MiB") as info:
        load_manifests(text=big, source="big.yaml")
    assert info.value.source == "big.yaml" and "split" in info.value.fix
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(InputError, match="more than the 16 MiB"):
        load_manifests(path)


def test_non_utf8_files_are_input_errors(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("kind: ConfigMap # café".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_manifests(path)


# --- hostile and malformed YAML ------------------------------------------------------------------
def billion_laughs(levels: int) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_without_expanding_it():
    problem = error(billion_laughs(9))  # 10**9 nodes if expanded
    assert "aliases expand this document by more than" in problem.message
    assert problem.source == "app.yaml" and problem.location.startswith("document 1, line ")


def test_modest_aliases_and_merge_keys_still_work():
    text = """
defaults: &defaults {cpu: 100m, memory: 64Mi}
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {<<: *defaults, extra: x}
"""
    (manifest,) = load_manifests(text=text)
    assert manifest.raw["data"] == {"cpu": "100m", "memory": "64Mi", "extra": "x"}
    assert MAX_ALIAS_EXPANSION >= 10**4 and billion_laughs(3)  # 1,110 nodes: well inside the limit
    assert load_manifests(text=billion_laughs(3) + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n")


def test_recursive_aliases_and_deep_nesting_are_refused():
    assert "refers to the node that contains it" in error("a: &a [*a]\n").message
    deep = "[" * (MAX_NESTING_DEPTH + 1) + "]" * (MAX_NESTING_DEPTH + 1)
    assert "nest more than" in error(deep).message
    very_deep = "[" * 200_000 + "]" * 200_000  # would overflow a recursive composer
    assert "nest more than" in error(very_deep).message


def test_python_tags_are_refused_by_the_safe_loader():
    problem = error("apiVersion: v1\nkind: !!python/object/apply:os.getcwd []\nmetadata: {name: x}\n")
    assert "could not determine a constructor" in problem.message
    assert problem.location == "line 2, column 7"
    assert "tag" in problem.fix


def test_malformed_yaml_names_the_line():
    problem = error("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a, b\n")
    assert problem.message.startswith("invalid YAML:")
    assert problem.location.startswith("line 5")
    assert "indentation" in problem.fix


def test_duplicate_keys_in_a_mapping_are_refused_as_kubectl_does():
    problem = error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nmetadata: {name: b}\n")
    assert problem.message == "duplicate key 'metadata' in one mapping"
    assert problem.location == "document 1, line 4, column 1"


@pytest.mark.parametrize(
    "text, field, message",
    [
        ("- a\n- b\n", "", "a document must be a mapping"),
        ("just a string\n", "", "a document must be a mapping"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "kind", "required field is missing"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", "apiVersion", "required field is missing"),
        ("apiVersion: v1\nkind: ConfigMap\n", "metadata", "required field is missing"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n", "metadata.name", "required field is missing"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: [x]\n", "metadata", "expected a mapping"),
        ("apiVersion: v1\nkind: 3\nmetadata: {name: x}\n", "kind", "expected a string"),
    ],
)
def test_documents_that_are_not_objects(text, field, message):
    problem = error(text)
    assert problem.field == field
    assert message in problem.message
    assert problem.source == "app.yaml" and problem.location.startswith("document 1")


def test_generate_name_gets_a_specific_fix():
    problem = error("apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\nspec: {containers: [{name: a, image: b}]}\n")
    assert "generateName is not supported" in problem.fix


def test_the_same_object_twice_is_an_error_naming_both_places(tmp_path):
    (tmp_path / "a.yaml").write_text(dump(deployment("web")))
    (tmp_path / "b.yaml").write_text(dump(deployment("web")))
    with pytest.raises(InputError) as info:
        load_manifests(tmp_path)
    problem = info.value
    assert problem.source == str(tmp_path / "b.yaml")
    assert "Deployment default/web is defined twice" in problem.message
    assert str(tmp_path / "a.yaml") in problem.message
    other_namespace = copy.deepcopy(deployment("web"))
    other_namespace["metadata"]["namespace"] = "staging"
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    assert len(load_manifests(text=dump(deployment("web"), other_namespace, service))) == 3


@pytest.mark.parametrize("name", ["Web", "web_app", "-web", "a" * 254])
def test_invalid_object_names_are_refused(name):
    problem = error(deployment(name))
    assert problem.field == "metadata.name" and "not a valid Deployment name" in problem.message


def test_unknown_fields_are_noted_with_the_closest_known_name():
    obj = deployment(resources={"request": {"cpu": "1"}})
    obj["spec"]["replica"] = 3
    manifest = load_one(obj)
    assert manifest.obj.replicas == 1  # the misspelt field was not read
    assert "spec.replica: unknown field, ignored (did you mean 'replicas'?)" in manifest.notes
    assert "spec.template.spec.containers[0].resources.request: unknown field, ignored (did you mean 'requests'?)" in manifest.notes
    assert not load_one(deployment()).notes


def test_a_services_traffic_distribution_is_noted_as_not_modelled():
    """trafficDistribution: PreferClose makes kube-proxy prefer same-zone endpoints (pkg/proxy/topology.go,
    hints from staging/src/k8s.io/endpointslice/trafficdist); the model spreads over every zone, and the
    loader read past the field without a word."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], "trafficDistribution": "PreferClose"}}
    assert load_one(svc).notes == ("spec.trafficDistribution: trafficDistribution is not modelled; traffic is spread over the endpoints of every zone",)


def test_an_empty_namespace_means_default_and_a_missing_template_is_named():
    obj = deployment()
    obj["metadata"]["namespace"] = ""
    assert load_one(obj).namespace == "default"
    obj["metadata"]["namespace"] = "Bad_NS"
    assert error(obj).field == "metadata.namespace"
    del obj["spec"]["template"]
    obj["metadata"]["namespace"] = "ok"
    assert error(obj).field == "spec.template"


# --- kinds kept as data ----------------------------------------------------------------------------
def test_other_kinds_become_generic_objects_stored_by_kind_and_name():
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"A": "1"}}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}, "rules": []}
    manifests = load_manifests(text=dump(config, namespace, role))
    assert all(isinstance(m.obj, GenericObject) and not m.notes for m in manifests)
    assert manifests[0].obj.raw["data"] == {"A": "1"}
    assert (manifests[1].namespace, manifests[1].key) == ("", "shop")  # cluster-scoped
    sim = Simulation(ClusterSpec.uniform(nodes=1), seed=1)
    sim.apply(manifests)
    assert sim.state.objects[("ConfigMap", "default", "cfg")] is manifests[0].obj
    assert sim.state.objects[("Namespace", "", "shop")].name == "shop"


@pytest.mark.parametrize(
    "api_version, kind, note",
    [
        ("networking.istio.io/v1", "VirtualService", "not a built-in Kubernetes kind"),
        ("batch/v1", "CronJob", "does not run them"),
        ("v1", "LimitRange", "not applied"),
        ("serving.knative.dev/v1", "Service", "not a built-in Kubernetes kind"),  # a custom resource named Service
    ],
)
def test_kinds_the_model_cannot_run_are_kept_with_a_note(api_version, kind, note):
    manifest = load_one({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}})
    assert isinstance(manifest.obj, GenericObject)
    assert any(note in n for n in manifest.notes)
    assert manifest_notes([manifest]) == [f"app.yaml: {manifest.location}: {n}" for n in manifest.notes]


@pytest.mark.parametrize(
    "api_version, kind, fix",
    [("extensions/v1beta1", "Deployment", "use apiVersion apps/v1"), ("policy/v1beta1", "PodDisruptionBudget", "use apiVersion policy/v1"),
     ("v2", "Service", "use apiVersion v1")],
)
def test_a_modelled_kind_at_an_apiversion_kubernetes_no_longer_serves_is_refused(api_version, kind, fix):
    """It was kept as data with a note: the workload did not run, and the run passed without it
    (the API server refuses it: "no matches for kind")."""
    with pytest.raises(InputError) as caught:
        load_one({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}})
    assert "is not served by Kubernetes v1.35" in caught.value.message and caught.value.fix == fix


@pytest.mark.parametrize(
    "api_version, kind, says, fix",
    [
        ("v1", "Servce", "unknown kind 'Servce' for apiVersion v1; did you mean Service?", "write kind: Service"),
        ("v1", "service", "did you mean Service?", "write kind: Service"),
        ("apps/v1", "Deploymnet", "unknown kind 'Deploymnet' for apiVersion apps/v1; did you mean Deployment?", "write kind: Deployment"),
        ("apps/v1", "StatefullSet", "did you mean StatefulSet?", "write kind: StatefulSet"),
        ("apps/v1", "FooBar", "unknown kind 'FooBar' for apiVersion apps/v1: the apps API group has no such kind", "StatefulSet"),
        ("networking.k8s.io/v1", "Ingres", "did you mean Ingress?", "write kind: Ingress"),
        ("v1", "Deployment", "Deployment belongs to apiVersion apps/v1", "use apiVersion apps/v1 for Deployment"),
        ("apps/v1", "Service", "Service belongs to apiVersion v1", "use apiVersion v1 for Service"),
    ],
)
def test_a_kind_its_built_in_api_group_lacks_is_refused_with_the_nearest_kind(api_version, kind, says, fix):
    ok = deployment("ok")
    bad = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "web"}, "spec": {}}
    problem = error(dump(ok, bad))
    assert problem.source == "app.yaml" and problem.field == "kind"
    assert problem.location.startswith(f"document 2 ({kind} web) at line ")
    assert says in problem.message and fix in problem.fix


def test_a_misspelt_service_among_valid_objects_is_not_dropped():
    text = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: example.com/v1
kind: FooBar
metadata: {name: x}
---
apiVersion: v1
kind: Servce
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""
    problem = error(text)
    assert str(problem) == (
        "app.yaml: document 3 (Servce web) at line 14: kind: unknown kind 'Servce' for apiVersion v1; "
        "did you mean Service? (fix: write kind: Service)"
    )


@pytest.mark.parametrize(
    "api_version, kind, note",
    [
        ("v1", "ConfigMap", None),
        ("networking.istio.io/v1alpha3", "VirtualService", "not a built-in Kubernetes kind"),
        ("example.com/v1", "FooBar", "not a built-in Kubernetes kind"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute", "not a built-in Kubernetes kind"),  # a CRD, despite the suffix
        ("v1", "Binding", "a Kubernetes kind the model does not use"),
        ("networking.k8s.io/v1", "ServiceCIDR", "a Kubernetes kind the model does not use"),
        ("networking.k8s.io/v1beta1", "Ingress", "use apiVersion networking.k8s.io/v1"),
        ("extensions/v1beta1", "Ingress", "a Kubernetes kind the model does not use"),
    ],
)
def test_real_kinds_the_model_does_not_use_and_custom_resources_still_load_as_data(api_version, kind, note):
    other = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}}
    manifests = load_manifests(text=dump(deployment(), other))
    skipped = manifests[1]
    assert (skipped.kind, skipped.api_version) == (kind, api_version) and isinstance(skipped.obj, GenericObject)
    if note is None:
        assert not skipped.notes
    else:
        assert any(note in n for n in skipped.notes)
        assert manifest_notes(manifests) == [f"<text>: {skipped.location}: {n}" for n in skipped.notes]


# --- containers and resources -----------------------------------------------------------------------
def test_requests_and_limits_are_parsed_exactly():
    c = container(deployment(resources={"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": 0.2, "memory": "128Mi"}}))
    assert (c.requests.cpu_millis, c.requests.memory_bytes) == (100, 64 * MI)
    assert (c.limits.cpu_millis, c.limits.memory_bytes) == (200, 128 * MI)
    assert c.cpu_requested and c.memory_requested


def test_a_missing_request_defaults_to_its_limit_as_upstream_defaulting_does():
    c = container(deployment(resources={"requests": {"memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "64Mi"}}))
    assert c.requests.cpu_millis == 500 and c.cpu_requested  # taken from the limit: counts as named
    assert c.requests.memory_bytes == 32 * MI


def test_containers_without_requests_are_best_effort_and_get_the_scoring_defaults():
    spec = pod_spec(deployment())
    assert not spec.containers[0].cpu_requested and not spec.containers[0].memory_requested
    assert (spec.requests.cpu_millis, spec.requests.memory_bytes) == (0, 0)
    assert (spec.nonzero_cpu, spec.nonzero_memory) == (k8s.DEFAULT_MILLI_CPU_REQUEST, k8s.DEFAULT_MEMORY_REQUEST)
    explicit_zero = pod_spec(deployment(resources={"requests": {"cpu": "0"}}))
    assert explicit_zero.containers[0].cpu_requested and explicit_zero.nonzero_cpu == 0


def test_post_start_hooks_and_a_probes_own_grace_period_are_ignored_with_a_note_and_a_sleep_pre_stop_is_read():
    """postStart and a probe's own grace period change timing and are not modelled; a preStop that
    sleeps is modelled (ContainerSpec.pre_stop_seconds), so it gets no note."""
    manifest = load_one(deployment(
        lifecycle={"preStop": {"exec": {"command": ["sleep", "5"]}}, "postStart": {"exec": {"command": ["true"]}}},
        livenessProbe={"httpGet": {"path": "/", "port": 80}, "terminationGracePeriodSeconds": 10},
    ))
    notes = manifest.notes
    assert manifest.obj.template.spec.containers[0].pre_stop_seconds == 5.0
    assert not any("preStop" in n for n in notes)
    assert any("containers[0].lifecycle.postStart: postStart hooks are not modelled" in n for n in notes)
    assert any("livenessProbe.terminationGracePeriodSeconds: a probe's own grace period is not modelled" in n for n in notes)
    assert not load_one(deployment()).notes
    assert container(deployment()).pre_stop_seconds is None


@pytest.mark.parametrize(
    ("pre_stop", "seconds"),
    [
        ({"sleep": {"seconds": 5}}, 5.0),  # KEP-3960 sleep action, exactly
        ({"sleep": {"seconds": 0}}, 0.0),  # zero allowed since PodLifecycleSleepActionAllowZero (GA 1.34)
        ({"sleep": {"seconds": 30}}, 30.0),  # up to the grace period
        ({"exec": {"command": ["sleep", "5"]}}, 5.0),
        ({"exec": {"command": ["/bin/sleep", "15"]}}, 15.0),
        ({"exec": {"command": ["/bin/sh", "-c", "sleep 5"]}}, 5.0),
        ({"exec": {"command": ["sh", "-c", " sleep 2.5 "]}}, 2.5),
        ({"exec": {"command": ["bash", "-c", "sleep 1m"]}}, 60.0),  # coreutils units
        ({"exec": {"command": ["sleep", "45"]}}, 45.0),  # an exec may outlast the grace period: cut at run time
    ],
)
def test_a_pre_stop_hook_that_sleeps_is_read_as_its_duration(pre_stop, seconds):
    manifest = load_one(deployment(lifecycle={"preStop": pre_stop}))
    assert manifest.obj.template.spec.containers[0].pre_stop_seconds == seconds
    assert not manifest.notes


@pytest.mark.parametrize(
    "pre_stop",
    [
        {"httpGet": {"path": "/drain", "port": 8080}},
        {"exec": {"command": ["/bin/sh", "-c", "nginx -s quit; sleep 5"]}},  # the script is more than a sleep
        {"exec": {"command": ["/drain.sh"]}},
        {"exec": {"command": ["sleep", "$(DRAIN_SECONDS)"]}},  # expanded by the kubelet: unknown here
    ],
)
def test_a_pre_stop_hook_of_unknown_duration_is_taken_as_instant_with_a_note(pre_stop):
    manifest = load_one(deployment(lifecycle={"preStop": pre_stop}))
    assert manifest.obj.template.spec.containers[0].pre_stop_seconds == 0.0
    assert any(
        n.startswith("spec.template.spec.containers[0].lifecycle.preStop: the hook's duration is unknown and taken as instant")
        for n in manifest.notes
    )


@pytest.mark.parametrize(
    ("pre_stop", "field", "message"),
    [
        ({"sleep": {"seconds": -1}}, "preStop.sleep.seconds", "must not be negative"),
        ({"sleep": {"seconds": "5"}}, "preStop.sleep.seconds", "expected a whole number"),
        ({"sleep": {"seconds": 2.5}}, "preStop.sleep.seconds", "expected a whole number"),
        ({"sleep": {}}, "preStop.sleep.seconds", "required field is missing"),
        ({"sleep": {"seconds": 31}}, "preStop.sleep.seconds", "more than terminationGracePeriodSeconds (30)"),
        ({"exec": {"command": ["sleep", "-5"]}}, "preStop.exec.command", "not a number of seconds"),
        ({"exec": {"command": ["sleep", "five"]}}, "preStop.exec.command", "not a number of seconds"),
        ({"exec": {"command": ["sleep", 5]}}, "preStop.exec.command[1]", "expected a string"),
        ({"exec": {"command": []}}, "preStop.exec.command", "needs a command"),
        ({"exec": {}}, "preStop.exec.command", "needs a command"),
        ({}, "preStop", "names no handler"),
        ({"sleep": {"seconds": 1}, "exec": {"command": ["true"]}}, "preStop", "names 2 handlers"),
    ],
)
def test_a_bad_pre_stop_hook_is_an_input_error_naming_the_field(pre_stop, field, message):
    problem = error(deployment(lifecycle={"preStop": pre_stop}))
    assert problem.field == f"spec.template.spec.containers[0].lifecycle.{field}"
    assert message in problem.message and problem.fix


def test_a_sleep_action_may_last_as_long_as_the_pods_own_grace_period():
    obj = with_pod_spec(terminationGracePeriodSeconds=60)
    obj["spec"]["template"]["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": 45}}}
    assert container(obj).pre_stop_seconds == 45.0
    obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 10
    assert "more than terminationGracePeriodSeconds (10)" in error(obj).message


def test_lifecycle_hooks_on_an_init_container_need_it_to_be_a_sidecar():
    hook = {"preStop": {"sleep": {"seconds": 5}}}
    obj = with_pod_spec(initContainers=[{"name": "init", "image": "busybox", "lifecycle": hook}])
    problem = error(obj)
    assert problem.field == "spec.template.spec.initContainers[0].lifecycle" and "sidecar" in problem.message
    obj["spec"]["template"]["spec"]["initContainers"][0]["restartPolicy"] = "Always"
    assert pod_spec(obj).init_containers[0].pre_stop_seconds == 5.0


def test_ephemeral_storage_is_kept_and_extended_resources_are_ignored_with_a_note():
    manifest = load_one(deployment(resources={"requests": {"ephemeral-storage": "0.5Gi", "nvidia.com/gpu": 1}}))
    c = manifest.obj.template.spec.containers[0]
    assert c.requests.ephemeral_storage_bytes == 512 * MI
    assert any("nvidia.com/gpu is not modelled" in n for n in manifest.notes)


@pytest.mark.parametrize(
    "resources, field",
    [
        ({"requests": {"cpu": "12x"}}, "requests.cpu"),
        ({"limits": {"memory": "-1Gi"}}, "limits.memory"),
        ({"requests": {"nvidia.com/gpu": "lots"}}, "requests[nvidia.com/gpu]"),
        ({"requests": {"cpu": True}}, "requests.cpu"),
    ],
)
def test_bad_quantities_name_the_exact_field(resources, field):
    problem = error(deployment(resources=resources))
    assert problem.field == f"spec.template.spec.containers[0].resources.{field}"
    assert "invalid" in problem.message and problem.location == "document 1 (Deployment web) at line 1"
    assert problem.fix


def test_a_request_above_its_limit_is_refused():
    problem = error(deployment(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}))
    assert problem.field.endswith("resources.requests.cpu")
    assert "more than its limit" in problem.message


def test_sidecars_and_init_containers():
    spec = pod_spec(
        with_pod_spec(
            initContainers=[
                {"name": "migrate", "image": "m", "resources": {"requests": {"cpu": "1"}}},
                {"name": "proxy", "image": "p", "restartPolicy": "Always", "readinessProbe": {"tcpSocket": {"port": 1}}},
            ]
        )
    )
    assert [(c.name, c.restartable_init) for c in spec.init_containers] == [("migrate", False), ("proxy", True)]
    assert spec.requests.cpu_millis == 1000  # the init container's request exceeds the regular ones
    assert "sidecar" in error(with_pod_spec(initContainers=[{"name": "i", "image": "i", "livenessProbe": {"exec": {}}}])).message
    bad_policy = error(with_pod_spec(initContainers=[{"name": "i", "image": "i", "restartPolicy": "Never"}]))
    assert bad_policy.field == "spec.template.spec.initContainers[0].restartPolicy"


def test_container_names_must_be_unique_and_images_present():
    obj = with_pod_spec(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}])
    assert "duplicate container name 'a'" in error(obj).message
    assert error(with_pod_spec(containers=[{"name": "a"}])).field == "spec.template.spec.containers[0].image"
    assert "at least one entry" in error(with_pod_spec(containers=[])).message


# --- probes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("handler", ["httpGet", "tcpSocket", "exec", "grpc"])
def test_probe_handlers_and_upstream_default_timings(handler):
    probe = container(deployment(readinessProbe={handler: {"port": 8080}})).readiness_probe
    assert probe.handler == handler
    assert probe.initial_delay_seconds == 0
    assert probe.period_seconds == k8s.PROBE_PERIOD_SECONDS == 10
    assert probe.timeout_seconds == k8s.PROBE_TIMEOUT_SECONDS == 1
    assert probe.success_threshold == k8s.PROBE_SUCCESS_THRESHOLD == 1
    assert probe.failure_threshold == k8s.PROBE_FAILURE_THRESHOLD == 3


def test_probe_timings_as_written_with_zero_meaning_the_default():
    c = container(
        deployment(
            livenessProbe={"httpGet": {"path": "/"}, "initialDelaySeconds": 300, "periodSeconds": 3, "timeoutSeconds": 0},
            startupProbe={"exec": {"command": ["true"]}, "failureThreshold": 30, "periodSeconds": 10},
            readinessProbe={"grpc": {"port": 1}, "successThreshold": 2},
        )
    )
    assert (c.liveness_probe.initial_delay_seconds, c.liveness_probe.period_seconds, c.liveness_probe.timeout_seconds) == (300, 3, 1)
    assert (c.startup_probe.failure_threshold, c.startup_probe.period_seconds) == (30, 10)
    assert c.readiness_probe.success_threshold == 2


@pytest.mark.parametrize(
    "probe_key, probe, field, message",
    [
        ("readinessProbe", {"periodSeconds": 5}, "readinessProbe", "names no handler"),
        ("readinessProbe", {"exec": {}, "httpGet": {}}, "readinessProbe", "names 2 handlers"),
        ("livenessProbe", {"exec": {}, "successThreshold": 2}, "livenessProbe.successThreshold", "must be 1"),
        ("startupProbe", {"exec": {}, "periodSeconds": -1}, "startupProbe.periodSeconds", "must not be negative"),
        ("readinessProbe", {"exec": {}, "timeoutSeconds": "1s"}, "readinessProbe.timeoutSeconds", "whole number"),
    ],
)
def test_invalid_probes(probe_key, probe, field, message):
    problem = error(deployment(**{probe_key: probe}))
    assert problem.field == f"spec.template.spec.containers[0].{field}"
    assert message in problem.message


# --- pod-level fields -----------------------------------------------------------------------------
def test_pod_level_fields_and_their_defaults():
    spec = pod_spec(deployment())
    assert spec.restart_policy == "Always"
    assert spec.termination_grace_period_seconds == k8s.TERMINATION_GRACE_PERIOD_SECONDS
    assert (spec.priority, spec.scheduler_name, spec.node_name) == (0, "default-scheduler", None)
    assert spec.node_affinity is None and spec.tolerations == () and spec.volumes == ()
    spec = pod_spec(
        with_pod_spec(
            terminationGracePeriodSeconds=5,
            priority=1000,
            schedulerName="my-scheduler",
            nodeName="worker-2",
            nodeSelector={"disk": "ssd", "beta.kubernetes.io/os": "linux"},
            overhead={"cpu": "250m", "memory": "120Mi"},
        )
    )
    assert spec.termination_grace_period_seconds == 5
    assert (spec.priority, spec.scheduler_name, spec.node_name) == (1000, "my-scheduler", "worker-2")
    assert spec.node_selector == (("beta.kubernetes.io/os", "linux"), ("disk", "ssd"))
    assert (spec.overhead.cpu_millis, spec.overhead.memory_bytes) == (250, 120 * MI)
    assert spec.requests.cpu_millis == 250  # overhead counts toward the pod's request


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"])
def test_workload_templates_must_restart_always(kind):
    obj = with_pod_spec(restartPolicy="OnFailure")
    obj["kind"] = kind
    problem = error(obj)
    assert problem.field == "spec.template.spec.restartPolicy" and "must use restartPolicy Always" in problem.message


def test_unknown_restart_policy_is_refused_and_pods_may_use_never():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job"}, "spec": {"containers": [{"name": "a", "image": "b"}]}}
    pod["spec"]["restartPolicy"] = "Sometimes"
    problem = error(pod)
    assert problem.field == "spec.restartPolicy" and "Always, OnFailure, Never" in problem.fix
    pod["spec"]["restartPolicy"] = "Never"
    assert load_one(pod).obj.spec.restart_policy == "Never"


def test_priority_class_names_resolve_to_values():
    builtin = pod_spec(with_pod_spec(priorityClassName="system-node-critical"))
    assert builtin.priority == k8s.SYSTEM_PRIORITY_CLASSES["system-node-critical"] == 2_000_001_000
    high = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 5000}
    default = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "low"}, "value": 7, "globalDefault": True}
    named = with_pod_spec(priorityClassName="high")
    other = deployment("other")
    manifests = load_manifests(text=dump(named, high, other, default))
    assert manifests[0].obj.template.spec.priority == 5000
    assert manifests[2].obj.template.spec.priority == 7  # the globalDefault class
    problem = error(with_pod_spec(priorityClassName="missing"))
    assert problem.field == "spec.template.spec.priorityClassName" and "no PriorityClass named 'missing'" in problem.message


def test_preemption_policy_comes_from_the_pod_or_its_priority_class_and_bad_values_are_refused():
    # plugin/pkg/admission/priority/admission.go: the class's policy applies unless the pod names the same
    assert pod_spec(with_pod_spec()).preemption_policy == "PreemptLowerPriority"
    assert pod_spec(with_pod_spec(preemptionPolicy="Never")).preemption_policy == "Never"
    polite = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "polite"}, "value": 900,
              "preemptionPolicy": "Never"}
    manifests = load_manifests(text=dump(with_pod_spec(priorityClassName="polite"), polite))
    assert (manifests[0].obj.template.spec.priority, manifests[0].obj.template.spec.preemption_policy) == (900, "Never")
    problem = error(with_pod_spec(preemptionPolicy="Always"))
    assert problem.field == "spec.template.spec.preemptionPolicy" and "PreemptLowerPriority, Never" in problem.fix
    problem = error(dump(with_pod_spec(priorityClassName="polite", preemptionPolicy="PreemptLowerPriority"), polite))
    assert problem.field == "spec.template.spec.preemptionPolicy" and "differs from Never" in problem.message
    problem = error(dump(dict(polite, preemptionPolicy="never")))
    assert problem.field == "preemptionPolicy" and "unsupported value 'never'" in problem.message


def test_node_affinity_required_terms_and_preferred_weights():
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]},
                ]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 30, "preference": {"matchExpressions": [{"key": "cpu", "operator": "Gt", "values": ["8"]}]}},
                {"weight": 5, "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}},
            ],
        }
    }
    node_affinity = pod_spec(with_pod_spec(affinity=affinity)).node_affinity
    assert node_affinity.required_matches("n1", {"zone": "a"})
    assert node_affinity.required_matches("special", {})  # the second term, by field
    assert not node_affinity.required_matches("n1", {"zone": "c"})
    assert node_affinity.preferred_score("n1", {"cpu": "16", "ssd": ""}) == 35
    assert node_affinity.preferred_score("n1", {"cpu": "4"}) == 0


def required_terms(*terms):
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}


@pytest.mark.parametrize(
    "node_affinity, field, message",
    [
        (
            required_terms({"matchExpressions": [{"key": "z", "operator": "Near", "values": ["a"]}]}),
            "nodeSelectorTerms[0].matchExpressions[0]",
            "unknown operator 'Near'",
        ),
        (required_terms(), "nodeSelectorTerms", "at least one entry"),
        (
            {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {}}]},
            "preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            "at least 1",
        ),
        (
            required_terms({"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["x"]}]}),
            "nodeSelectorTerms[0].matchFields[0].key",
            "only metadata.name",
        ),
    ],
)
def test_invalid_node_affinity(node_affinity, field, message):
    problem = error(with_pod_spec(affinity={"nodeAffinity": node_affinity}))
    assert problem.field.startswith("spec.template.spec.affinity.nodeAffinity.") and problem.field.endswith(field)
    assert message in problem.message


def test_inter_pod_affinity_terms_are_parsed_with_upstream_defaults():
    term = {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
    manifest = load_one(
        with_pod_spec(
            affinity={
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]},
                "podAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 30, "podAffinityTerm": dict(term, topologyKey="topology.kubernetes.io/zone", namespaces=["cache"],
                                                               matchLabelKeys=["pod-template-hash"])}
                    ]
                },
            }
        )
    )
    assert not any("inter-pod" in n for n in manifest.notes)
    affinity = manifest.obj.template.spec.pod_affinity
    (anti,) = affinity.required_anti_affinity
    assert anti.topology_key == "kubernetes.io/hostname" and anti.namespaces == () and anti.namespace_selector is None
    assert anti.matches("default", {}, "default", {"app": "web"})  # no namespaces: the pod's own
    assert not anti.matches("default", {}, "other", {"app": "web"})
    ((weight, preferred),) = affinity.preferred_affinity
    assert weight == 30 and preferred.namespaces == ("cache",) and preferred.match_label_keys == ("pod-template-hash",)
    assert affinity.required_affinity == () and affinity.preferred_anti_affinity == ()


def test_namespace_selector_matches_the_namespace_name_label():
    term = {"labelSelector": {}, "topologyKey": "zone", "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}
    spec = pod_spec(with_pod_spec(affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}))
    (parsed,) = spec.pod_affinity.required_affinity
    assert parsed.matches("a", {}, "b", {"x": "1"}) and not parsed.matches("a", {}, "a", {"x": "1"})
    everywhere = pod_spec(with_pod_spec(affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [dict(term, namespaceSelector={})]}}))
    assert everywhere.pod_affinity.required_affinity[0].matches("a", {}, "zz", {})


def test_empty_pod_affinity_lists_give_no_terms():
    assert pod_spec(with_pod_spec(affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}})).pod_affinity is None


@pytest.mark.parametrize(
    "anti, field, message",
    [
        ({"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {}}]}, "[0].topologyKey", "needs a topologyKey"),
        ({"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": ""}]}, "[0].topologyKey", "needs a topologyKey"),
        (
            {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"labelSelector": {}}}]},
            "podAffinityTerm.topologyKey",
            "needs a topologyKey",
        ),
        (
            {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 101, "podAffinityTerm": {"topologyKey": "z"}}]},
            "[0].weight",
            "",
        ),
        (
            {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "z", "labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}]},
            "matchExpressions[0]",
            "needs at least one value",
        ),
        ({"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "z", "matchLabelKeys": ["v"]}]}, "matchLabelKeys", "labelSelector is not set"),
        (
            {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "z", "labelSelector": {}, "matchLabelKeys": ["v"], "mismatchLabelKeys": ["v"]}]},
            "mismatchLabelKeys",
            "in both",
        ),
        ({"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "z", "namespaces": ["Bad_NS"]}]}, "namespaces[0]", "namespace name"),
    ],
)
def test_invalid_pod_affinity_terms(anti, field, message):
    problem = error(with_pod_spec(affinity={"podAntiAffinity": anti}))
    assert problem.field.startswith("spec.template.spec.affinity.podAntiAffinity.") and problem.field.endswith(field), problem.field
    assert message in problem.message


def test_tolerations():
    tolerations = pod_spec(
        with_pod_spec(
            tolerations=[
                {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
                {"operator": "Exists"},
            ]
        )
    ).tolerations
    assert tolerations[0].key == "dedicated" and tolerations[0].toleration_seconds is None
    assert tolerations[1].toleration_seconds == 60.0
    assert tolerations[2].key is None and tolerations[2].effect is None  # tolerates everything


@pytest.mark.parametrize(
    "toleration, message",
    [
        ({"operator": "Equal", "value": "x"}, "must use operator Exists"),
        ({"key": "k", "operator": "Exists", "value": "v"}, "takes no value"),
        ({"key": "k", "effect": "NoSchedule", "tolerationSeconds": 10}, "needs effect NoExecute"),
        ({"key": "k", "operator": "Matches"}, "unsupported value 'Matches'"),
        ({"key": "k", "effect": "Evict"}, "unsupported effect"),
    ],
)
def test_invalid_tolerations(toleration, message):
    assert message in error(with_pod_spec(tolerations=[toleration])).message


def test_topology_spread_constraints_with_upstream_defaults():
    (constraint,) = pod_spec(
        with_pod_spec(
            topologySpreadConstraints=[
                {
                    "maxSkew": 1,
                    "topologyKey": k8s.LABEL_ZONE,
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "web"}},
                }
            ]
        )
    ).topology_spread_constraints
    assert (constraint.max_skew, constraint.topology_key, constraint.when_unsatisfiable) == (1, k8s.LABEL_ZONE, "DoNotSchedule")
    assert constraint.label_selector.matches({"app": "web"})
    assert (constraint.min_domains, constraint.node_affinity_policy, constraint.node_taints_policy) == (None, "Honor", "Ignore")
    assert constraint.match_label_keys == ()
    (full,) = pod_spec(
        with_pod_spec(
            topologySpreadConstraints=[
                {
                    "maxSkew": 2,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "minDomains": 3,
                    "nodeAffinityPolicy": "Ignore",
                    "nodeTaintsPolicy": "Honor",
                    "matchLabelKeys": ["pod-template-hash"],
                }
            ]
        )
    ).topology_spread_constraints
    assert (full.min_domains, full.node_affinity_policy, full.node_taints_policy) == (3, "Ignore", "Honor")
    assert full.match_label_keys == ("pod-template-hash",) and full.label_selector is None


@pytest.mark.parametrize(
    "constraint, field, message",
    [
        ({"maxSkew": 0, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule"}, "maxSkew", "greater than zero"),
        ({"maxSkew": 1, "topologyKey": "z"}, "whenUnsatisfiable", "required field is missing"),
        ({"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "Sometimes"}, "whenUnsatisfiable", "unsupported value"),
        ({"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2}, "minDomains", "DoNotSchedule"),
        ({"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}, "topologyKey", "required field is missing"),
    ],
)
def test_invalid_topology_spread_constraints(constraint, field, message):
    problem = error(with_pod_spec(topologySpreadConstraints=[constraint]))
    assert problem.field == f"spec.template.spec.topologySpreadConstraints[0].{field}"
    assert message in problem.message


def test_volumes_by_kind():
    volumes = pod_spec(
        with_pod_spec(
            volumes=[
                {"name": "tmp", "emptyDir": {"medium": "Memory"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-claim"}},
                {"name": "key", "secret": {"secretName": "jwt-key"}},
            ]
        )
    ).volumes
    assert [(v.name, v.kind, v.claim_name) for v in volumes] == [
        ("tmp", "emptyDir", None),
        ("data", "persistentVolumeClaim", "data-claim"),
        ("key", "secret", None),
    ]
    assert "exactly one type" in error(with_pod_spec(volumes=[{"name": "v", "emptyDir": {}, "hostPath": {"path": "/"}}])).message
    assert error(with_pod_spec(volumes=[{"name": "v", "persistentVolumeClaim": {}}])).field.endswith("persistentVolumeClaim.claimName")
    assert "duplicate volume name" in error(with_pod_spec(volumes=[{"name": "v", "emptyDir": {}}] * 2)).message


def test_an_empty_dir_keeps_its_medium_and_an_unknown_medium_is_refused():
    """emptyDir.medium is kept (the cluster autoscaler's drain rule reads it); the kubelet knows only
    "", Memory, HugePages and HugePages-<size> (pkg/volume/emptydir/empty_dir.go)."""
    volumes = pod_spec(
        with_pod_spec(volumes=[{"name": "a", "emptyDir": {"medium": "Memory"}}, {"name": "b", "emptyDir": {}}, {"name": "c", "emptyDir": {"medium": "HugePages-2Mi"}}])
    ).volumes
    assert [v.medium for v in volumes] == ["Memory", "", "HugePages-2Mi"]
    problem = error(with_pod_spec(volumes=[{"name": "v", "emptyDir": {"medium": "memory"}}]))
    assert problem.field.endswith("emptyDir.medium") and "unknown emptyDir medium 'memory'" in problem.message and "Memory" in problem.fix


def test_wrong_types_name_the_field_and_what_was_found():
    problem = error(with_pod_spec(containers="web"))
    assert problem.field == "spec.template.spec.containers"
    assert problem.message == "expected a list, got a string ('web')"
    labels = deployment()
    labels["spec"]["template"]["metadata"]["labels"]["version"] = 1
    labels["spec"]["selector"]["matchLabels"]["version"] = "1"
    problem = error(labels)
    assert problem.field == "spec.template.metadata.labels.version" and "quote it" in problem.fix
    assert "remove the quotes" in error(deployment(replicas="3")).fix


# --- workloads --------------------------------------------------------------------------------------
def test_deployment_defaults_follow_apps_v1():
    workload = load_one(deployment()).obj
    assert isinstance(workload, Deployment)
    assert workload.replicas == 1
    assert (workload.strategy.type, workload.strategy.max_surge, workload.strategy.max_unavailable) == ("RollingUpdate", "25%", "25%")
    assert workload.progress_deadline_seconds == k8s.DEFAULT_PROGRESS_DEADLINE_SECONDS == 600
    assert workload.revision_history_limit == k8s.DEFAULT_REVISION_HISTORY_LIMIT == 10
    assert workload.min_ready_seconds == 0
    assert workload.selector.matches({"app": "web"}) and workload.template.label_dict() == {"app": "web"}


def test_deployment_fields_as_written():
    obj = deployment(replicas=5)
    obj["metadata"].update(labels={"team": "a"}, annotations={"note": "x"})
    obj["spec"].update(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "10%"}},
        minReadySeconds=10,
        progressDeadlineSeconds=120,
        revisionHistoryLimit=3,
    )
    workload = load_one(obj).obj
    assert workload.replicas == 5
    assert (workload.strategy.max_surge, workload.strategy.max_unavailable) == (2, "10%")
    assert (workload.min_ready_seconds, workload.progress_deadline_seconds, workload.revision_history_limit) == (10, 120, 3)
    assert (workload.labels, workload.annotations) == ({"team": "a"}, {"note": "x"})
    obj["spec"]["strategy"] = {"type": "Recreate"}
    assert load_one(obj).obj.strategy.type == "Recreate"


@pytest.mark.parametrize(
    "spec, field, message",
    [
        ({"replicas": -1}, "spec.replicas", "must not be negative"),
        ({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}, "spec.strategy.rollingUpdate", "Recreate"),
        ({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}}, "spec.strategy.rollingUpdate.maxUnavailable", "both be 0"),
        ({"strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}}, "spec.strategy.rollingUpdate.maxUnavailable", "more than 100%"),
        ({"strategy": {"rollingUpdate": {"maxSurge": "3"}}}, "spec.strategy.rollingUpdate.maxSurge", "neither a whole number nor a percentage"),
        ({"strategy": {"type": "BlueGreen"}}, "spec.strategy.type", "unsupported value"),
        ({"minReadySeconds": 30, "progressDeadlineSeconds": 30}, "spec.progressDeadlineSeconds", "greater than minReadySeconds"),
        ({"revisionHistoryLimit": -2}, "spec.revisionHistoryLimit", "must not be negative"),
    ],
)
def test_invalid_deployment_specs(spec, field, message):
    obj = deployment()
    obj["spec"].update(spec)
    problem = error(obj)
    assert (problem.field, problem.location) == (field, "document 1 (Deployment web) at line 1")
    assert message in problem.message


def test_the_selector_must_match_the_template_labels():
    obj = deployment()
    obj["spec"]["selector"] = {"matchLabels": {"app": "api"}}
    problem = error(obj)
    assert problem.field == "spec.selector" and "does not match the template labels" in problem.message
    obj["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "www"]}]}
    assert load_one(obj).obj.selector.matches({"app": "web"})
    obj["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}
    assert "does not match" in error(obj).message


@pytest.mark.parametrize(
    "selector, message",
    [
        (None, "a selector is required"),
        ({}, "empty selector"),
        ({"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]}, "unsupported value 'Gt'"),
        ({"matchExpressions": [{"key": "app", "operator": "In"}]}, "needs at least one value"),
    ],
)
def test_invalid_selectors(selector, message):
    obj = deployment()
    obj["spec"]["selector"] = selector
    assert message in error(obj).message


def test_statefulset_replicaset_and_daemonset():
    sts = deployment("db", replicas=2)
    sts["kind"] = "StatefulSet"
    sts["spec"].update(
        serviceName="db",
        podManagementPolicy="Parallel",
        volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
    )
    rs = deployment("rs", replicas=4)
    rs["kind"] = "ReplicaSet"
    rs["spec"]["minReadySeconds"] = 5
    ds = deployment("agent")
    ds["kind"] = "DaemonSet"
    statefulset, replicaset, daemonset = (m.obj for m in load_manifests(text=dump(sts, rs, ds)))
    assert isinstance(statefulset, StatefulSet) and isinstance(replicaset, ReplicaSet) and isinstance(daemonset, DaemonSet)
    assert (statefulset.replicas, statefulset.service_name, statefulset.pod_management_policy) == (2, "db", "Parallel")
    assert statefulset.volume_claim_templates == ("data",)
    assert (replicaset.replicas, replicaset.min_ready_seconds) == (4, 5)
    default_sts = deployment("db2")
    default_sts["kind"] = "StatefulSet"
    assert load_one(default_sts).obj.pod_management_policy == "OrderedReady"
    sts["spec"]["podManagementPolicy"] = "Random"
    assert error(sts).field == "spec.podManagementPolicy"


# --- applying to a simulation -----------------------------------------------------------------------
def test_apply_creates_a_fresh_workload_per_simulation_with_seeded_uids():
    manifests = load_manifests(text=dump(deployment(replicas=2)))
    first, second, again = (Simulation(ClusterSpec.uniform(nodes=2), seed=s) for s in (1, 2, 1))
    for sim in (first, second, again):
        sim.apply(manifests)
    workloads = [sim.state.workload_named("Deployment", "default", "web") for sim in (first, second, again)]
    assert workloads[0] is not manifests[0].obj and workloads[0] is not workloads[1]
    assert workloads[0].uid == workloads[2].uid != workloads[1].uid  # same seed, same uid
    assert manifests[0].obj.uid == "" and workloads[0].replicas == 2
    workloads[0].labels["mutated"] = "yes"
    assert "mutated" not in manifests[0].obj.labels
    with pytest.raises(InputError, match="already exists in the simulation"):
        first.apply(manifests)


def test_apply_creates_bare_pods_and_stores_other_objects():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "solo", "labels": {"app": "solo"}},
        "spec": {"containers": [{"name": "a", "image": "b"}]},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "solo"},
        "spec": {"selector": {"app": "solo"}, "ports": [{"port": 80}]},
    }
    manifests = load_manifests(text=dump(pod, service))
    assert isinstance(manifests[0].obj, PodTemplate)
    sim = Simulation(ClusterSpec.uniform(nodes=1), seed=3)
    sim.apply(manifests)
    created = sim.state.pods_by_key["default/solo"]
    assert created.owner is None and created.labels == {"app": "solo"}
    assert sim.state.objects[("Service", "default", "solo")] is manifests[1].obj
    with pytest.raises(InputError, match="Pod default/solo already exists"):
        manifests[0].apply_to(sim)


def test_check_apply_finds_a_conflict_without_creating_anything():
    """Applying a batch created its objects one by one, so one that already existed was refused after the
    ones before it had been created; check_apply finds the conflict first."""
    manifests = load_manifests(text=dump(deployment("b"), deployment("a")))
    sim = Simulation(ClusterSpec.uniform(nodes=1), seed=3)
    manifests[1].apply_to(sim)
    creating: dict = {}
    manifests[0].check_apply(sim, creating)
    with pytest.raises(InputError, match="Deployment default/a already exists"):
        manifests[1].check_apply(sim, creating)
    assert sim.state.workload_named("Deployment", "default", "b") is None
    with pytest.raises(InputError, match="applied twice in one batch"):
        manifests[0].check_apply(sim, creating)


def statefulset_manifest(**spec):
    sts = deployment("db", replicas=3)
    sts["kind"] = "StatefulSet"
    sts["spec"].update(serviceName="db", **spec)
    return sts


def test_statefulset_update_strategy_and_min_ready_seconds_are_read():
    """The loader dropped spec.updateStrategy (type, rollingUpdate.partition) and minReadySeconds of a StatefulSet."""
    default = load_one(statefulset_manifest()).obj
    assert (default.update_strategy, default.partition, default.min_ready_seconds) == ("RollingUpdate", 0, 0.0)
    on_delete = load_one(statefulset_manifest(updateStrategy={"type": "OnDelete"}, minReadySeconds=30)).obj
    assert (on_delete.update_strategy, on_delete.min_ready_seconds) == ("OnDelete", 30.0)
    partitioned = load_one(statefulset_manifest(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}))
    assert (partitioned.obj.update_strategy, partitioned.obj.partition, partitioned.notes) == ("RollingUpdate", 2, ())
    surge = load_one(statefulset_manifest(updateStrategy={"rollingUpdate": {"maxUnavailable": 2}}))
    assert any("spec.updateStrategy.rollingUpdate.maxUnavailable" in n and "not modelled" in n for n in surge.notes)


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"updateStrategy": {"type": "Recreate"}}, "spec.updateStrategy.type"),
        ({"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}}, "spec.updateStrategy.rollingUpdate"),
        ({"updateStrategy": {"rollingUpdate": {"partition": -1}}}, "spec.updateStrategy.rollingUpdate.partition"),
        ({"updateStrategy": {"rollingUpdate": {"partition": "1"}}}, "spec.updateStrategy.rollingUpdate.partition"),
        ({"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0}}}, "spec.updateStrategy.rollingUpdate.maxUnavailable"),
        ({"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Keep"}}, "spec.persistentVolumeClaimRetentionPolicy.whenScaled"),
        ({"ordinals": {"start": -2}}, "spec.ordinals.start"),
    ],
)
def test_invalid_statefulset_strategy_fields_name_the_field(spec, field):
    """A bad StatefulSet updateStrategy, partition, retention policy or ordinals loaded silently."""
    assert error(statefulset_manifest(**spec)).field == field


def test_statefulset_claim_deletion_and_ordinals_are_noted_as_not_modelled():
    """persistentVolumeClaimRetentionPolicy Delete and ordinals.start were accepted without saying the model ignores them."""
    retained = load_one(statefulset_manifest(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain", "whenScaled": "Retain"}))
    assert retained.notes == ()
    deleting = load_one(statefulset_manifest(persistentVolumeClaimRetentionPolicy={"whenScaled": "Delete"}))
    assert any(n.startswith("spec.persistentVolumeClaimRetentionPolicy:") and "retained" in n for n in deleting.notes)
    assert load_one(statefulset_manifest(ordinals={"start": 0})).notes == ()
    shifted = load_one(statefulset_manifest(ordinals={"start": 5}))
    assert any(n.startswith("spec.ordinals:") and "numbered from 0" in n for n in shifted.notes)


def test_daemonset_update_strategy_and_min_ready_seconds_are_noted_as_not_modelled():
    """A DaemonSet's OnDelete strategy, non-default rollingUpdate and minReadySeconds were ignored without a note."""
    ds = deployment("agent")
    ds["kind"] = "DaemonSet"
    assert load_one(ds).notes == ()
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert load_one(ds).notes == ()
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert any(n.startswith("spec.updateStrategy.type:") and "OnDelete" in n for n in load_one(ds).notes)
    ds["spec"]["updateStrategy"] = {"rollingUpdate": {"maxUnavailable": "50%"}}
    assert any(n.startswith("spec.updateStrategy.rollingUpdate:") for n in load_one(ds).notes)
    ds["spec"]["updateStrategy"] = {"rollingUpdate": {"maxSurge": 1}}
    assert any(n.startswith("spec.updateStrategy.rollingUpdate:") for n in load_one(ds).notes)
    del ds["spec"]["updateStrategy"]
    ds["spec"]["minReadySeconds"] = 10
    assert any(n.startswith("spec.minReadySeconds:") for n in load_one(ds).notes)
    ds["spec"]["updateStrategy"] = {"type": "Recreate"}
    assert error(ds).field == "spec.updateStrategy.type"


def test_container_ports_are_read_so_traffic_reaches_the_container_that_serves_it():
    """``ports`` was accepted and dropped, so the proxy could not tell a sidecar from the app."""
    obj = with_pod_spec(
        containers=[
            {"name": "log", "image": "fluentbit"},
            {"name": "app", "image": "web", "ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 9090}]},
        ]
    )
    assert container(obj, 0).ports == () and container(obj, 1).ports == (("http", 8080), ("", 9090))
    bad = with_pod_spec(containers=[{"name": "app", "image": "web", "ports": [{"containerPort": 0}]}])
    assert "containerPort" in str(error(bad))
