"""Scenario files: clear errors, dump and load round trips, and exact replay."""

from __future__ import annotations

import doctest
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from podquake.chaos import (
    ContainerCrash,
    ControlPlaneOutage,
    NetworkPartition,
    NodeFailure,
    PodKill,
    ProbeFailure,
    Scenario,
    SlowProvisioning,
    TrafficSpike,
    dump_scenario,
    load_scenario,
    run_scenario,
    scenario_from_dict,
    scenario_run,
    scenario_traffic,
)
from podquake.chaos import scenario as scenario_module
from podquake.model import ClusterSpec
from podquake.model.errors import InputError
from podquake.model.traffic import (
    Constant,
    Diurnal,
    External,
    Internal,
    LoadGenerator,
    Ramp,
    Spike,
    Sum,
)

from tests.chaos.kit import WEB

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "node-failure.yaml"

HEAD = "apiVersion: podquake/v1\nkind: Scenario\n"
SMALL = HEAD + """\
seed: 3
duration: 120
quiet: 120
scheduler: round-robin
cluster: {nodes: 3, zones: 3}
workload:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    replicas: 3
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - {name: server, image: nginx, resources: {requests: {cpu: 100m, memory: 64Mi}},
           readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 5}}
- {apiVersion: v1, kind: Service, metadata: {name: web}, spec: {selector: {app: web}, ports: [{port: 80}]}}
traffic:
- {service: web, rate: 20, clients: 5, entry: {node: worker-1}}
faults:
- {kind: node-failure, node: 0, at: 30, duration: 40}
- {kind: container-crash, pod: 1, at: 40, duration: 30, repeat: true}
- {kind: traffic-spike, service: 0, at: 50, duration: 20, multiplier: 3}
- {kind: pod-kill, pod: 0, at: 60}
properties: [no-overcommit]
"""


def error_of(text: str, **kwargs) -> InputError:
    with pytest.raises(InputError) as caught:
        load_scenario(text, **kwargs)
    return caught.value


# --- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("apiVersion: podquake/v2\nkind: Scenario\n", "apiVersion", "must be podquake/v1"),
        ("apiVersion: podquake/v1\nkind: Pod\n", "kind", "must be Scenario"),
        (HEAD + "seeds: 3\n", "seeds", "unknown field"),
        (HEAD + "seed: three\n", "seed", "whole number"),
        (HEAD + "duration: 0\n", "duration", "> 0"),
        (HEAD + "quiet: -5\n", "quiet", ">= 0"),
        (HEAD + "duration: 1000000000000\n", "duration", "longer than a simulated week"),
        (HEAD + "quiet: 604801\n", "quiet", "longer than a simulated week"),
        (HEAD + "cluster: {nodes: 100000000}\n", "", "exceed the 5,000 Kubernetes supports"),
        (HEAD + "cluster: {pools: [{name: a, count: 3, maxSize: 4000}, {name: b, count: 3, maxSize: 2000}]}\n", "", "may grow to 6,000"),
        (HEAD + "cluster: {pools: [{name: w, count: -6}]}\n", "", "must not be negative"),
        (HEAD + "loadMode: turbo\n", "loadMode", "fluid"),
        (HEAD + "metadata: {owner: me}\n", "metadata", "name and description"),
        (HEAD + "cluster: {nodes: 3, flavour: big}\n", "", "unknown field(s) flavour"),
        (HEAD + "cluster: {pools: [{name: w, count: 2, cpu: lots}]}\n", "cluster.pools[0]", "quantit"),
        (HEAD + "faults: {kind: node-failure}\n", "faults", "must be a list"),
        (HEAD + "faults: [{kind: node-explosion, at: 1}]\n", "faults[0].kind", "unknown fault kind 'node-explosion'"),
        (HEAD + "faults: [{kind: node-failure, node: 0, at: 1, heal: 3}]\n", "faults[0].heal", "no field 'heal'"),
        (HEAD + "faults: [{kind: node-failure, node: -2, at: 1}]\n", "faults[0].node", "selector must be >= 0"),
        (HEAD + "faults: [{kind: node-failure, at: 1}]\n", "faults[0].node", "needs node"),
        (HEAD + "duration: 100\nfaults: [{kind: node-failure, node: 0, at: 100}]\n", "faults[0].at", "end of the fault phase"),
        (HEAD + "traffic: [{service: web}]\n", "traffic[0].rate", "exactly one of rate or shape"),
        (HEAD + "traffic: [{service: web, rate: -1}]\n", "traffic[0].rate", ">= 0"),
        (HEAD + "traffic: [{service: web, shape: {wave: 3}}]\n", "traffic[0].shape", "unknown shape"),
        (HEAD + "traffic: [{service: web, rate: 1, entry: inside}]\n", "traffic[0].entry", "external"),
        (HEAD + "traffic: [{service: web, rate: 1, spikes: [{at: 5}]}]\n", "traffic[0].spikes[0]", "multiplier"),
        (HEAD + "properties: [no-such-property]\n", "properties", "unknown property 'no-such-property'"),
        (HEAD + "properties: [{no-overcommit: {strict: true}}]\n", "properties.no-overcommit.strict", "no parameter 'strict'"),
        (HEAD + "properties: [{replicas-converge: {within: -1}}]\n", "properties.replicas-converge.within", "finite number >= 0"),
        (HEAD + "properties: [[a, b]]\n", "properties[0]", "property id"),
        (HEAD + "scheduler: no-such-scheduler\n", "scheduler", "unknown scheduler"),
        (HEAD + "workload: [42]\n", "workload[0]", "path or a Kubernetes object"),
    ],
)
def test_load_errors_name_the_file_the_field_and_a_fix(text: str, field: str, words: str) -> None:
    error = error_of(text, source="chaos.yaml")
    assert error.source.startswith("chaos.yaml")
    assert error.field == field or (not field and words in str(error))
    assert words in str(error)
    assert error.fix


def test_malformed_yaml_names_the_file_and_line() -> None:
    error = error_of(HEAD + "faults: [\n  {kind: node-failure\n", source="broken.yaml")
    assert error.source == "broken.yaml" and "invalid YAML" in str(error) and "line" in error.location


def test_unsafe_yaml_tags_are_refused() -> None:
    error = error_of(HEAD + "seed: !!python/object/apply:os.system [echo hi]\n", source="evil.yaml")
    assert "tag" in error.fix


def test_numbers_with_an_exponent_are_numbers_as_kubectl_reads_them() -> None:
    """`duration: 6e2` was refused as "not '6e2'": PyYAML's YAML 1.1 rules read it as text."""
    text = SMALL.replace("duration: 120", "duration: 6e2").replace("quiet: 120", "quiet: 1.2E+2")
    scenario = load_scenario(text)
    assert (scenario.duration, scenario.quiet) == (600.0, 120.0)
    assert "'6e2'" in str(error_of(SMALL.replace("duration: 120", "duration: '6e2'")))  # quoted, it stays text


@pytest.mark.parametrize(
    "change, field, words",
    [
        (("entry: {node: worker-1}", "entry: {node: worker-9}"), "traffic[0].entry.node", "node 'worker-9', which this cluster does not have"),
        (("entry: {node: worker-1}", "entry: {pod: default/client}"), "traffic[0].entry.pod", "pod default/client, which the workload never has"),
        ((", entry: {node: worker-1}", ""), "traffic[0].entry", "which is ClusterIP: only a LoadBalancer or NodePort Service"),
        (("service: 0, at: 50", "service: default/nope, at: 50"), "faults[2].service", "Service default/nope, which no traffic goes to"),
    ],
)
def test_traffic_that_could_never_be_served_is_refused(change: tuple[str, str], field: str, words: str) -> None:
    """Each was accepted, and every run then reported the lost traffic as a violation (node-down,
    no-client, not-exposed) or skipped the spike with only a line in its trace."""
    error = error_of(SMALL.replace(*change))
    assert error.field == field and words in str(error) and error.fix


@pytest.mark.parametrize(
    "change, field, words",
    [
        (("rate: 20", "rate: 1e308"), "traffic[0].rate", "rate must be a number of requests per second >= 0 and <= 1e+07"),
        (("clients: 5", "clients: 1000000000000"), "traffic[0].clients", "1 to 100,000 clients"),
        (("cluster: {nodes: 3, zones: 3}", "cluster: {nodes: 3, 1: 2}"), "", "unknown field(s) 1"),
        (("{apiVersion: v1, kind: Service", "{apiVersion: serving.knative.dev/v1, kind: Service"), "traffic[0].service",
         "a serving.knative.dev/v1 custom resource, kept as data, not a Kubernetes Service"),
        (("{apiVersion: v1, kind: Service", "{apiVersion: v2, kind: Service"), "apiVersion", "apiVersion v2 of Service is not served"),
        (("rate: 20, clients: 5", "shape: {diurnal: {mean: 10, amplitude: 10, period: 1e308, peakAt: 1e308}}, clients: 5"),
         "traffic[0].shape", "Diurnal period must be <= 1e+09"),
    ],
)
def test_fuzzed_inputs_that_crashed_are_one_clear_error(change: tuple[str, str], field: str, words: str) -> None:
    """Found by fuzzing the loader: a rate of 1e308 overflowed the load model, 10^12 clients hung
    the run building their names, a number as a cluster key and traffic to a Service kept as data
    crashed with a TypeError and an AttributeError (exit 3, "a bug in podquake"); a v2 Service is refused
    as the API server refuses it."""
    error = error_of(SMALL.replace(*change))
    assert words in str(error) and (not field or error.field == field)


def test_more_replicas_than_kubernetes_supports_in_a_cluster_are_refused() -> None:
    """A Deployment of 10^6 (or 2^31) replicas was accepted, and its run created pods for hours."""
    error = error_of(SMALL.replace("    replicas: 3\n", "    replicas: 1000000\n"))
    assert "1,000,000 replicas, more than the 150,000 pods Kubernetes supports" in str(error)
    error = error_of(SMALL.replace("    replicas: 3\n", "    replicas: 2147483648\n"))
    assert "must be at most 2147483647 (the field is an int32)" in str(error)


def test_a_spike_may_name_its_service_without_the_default_namespace() -> None:
    text = SMALL.replace("service: 0, at: 50", "service: web, at: 50")
    assert load_scenario(text).faults[2].service == "web"


def test_traffic_from_a_statefulsets_pod_or_a_bare_pod_is_accepted() -> None:
    extra = (
        "- {apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db}, spec: {replicas: 1, serviceName: db,"
        " selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, image: pg}]}}}}\n"
        "traffic:\n"
    )
    text = SMALL.replace("traffic:\n", extra).replace("entry: {node: worker-1}", "entry: {pod: default/db-2}")
    assert load_scenario(text).traffic[0].entry.pod == "default/db-2"


def test_a_bad_property_parameter_is_named_with_its_property_and_camel_case_names_are_read() -> None:
    """Parameters checked by a property's own __init__ lost the id (properties.test), and a
    camelCase name (minRequests, as every other field of the file is spelled) was refused."""
    text = SMALL.replace("properties: [no-overcommit]", "properties: [{even-load: {test: chi2}}]")
    assert error_of(text).field == "properties.even-load.test"
    text = SMALL.replace("properties: [no-overcommit]", "properties: [{even-load: {minRequests: 80}}]")
    assert load_scenario(text).properties == (("even-load", {"min_requests": 80}),)
    text = SMALL.replace("properties: [no-overcommit]", "properties: [{even-load: {minRequests: 80, min_requests: 90}}]")
    assert "given twice" in str(error_of(text))


def test_one_document_only() -> None:
    assert "one YAML document" in str(error_of(HEAD + "---\n" + HEAD))


def test_a_bad_inline_manifest_is_named_by_its_workload_entry() -> None:
    text = HEAD + "workload:\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: Web_1}, spec: {}}\n"
    error = error_of(text, source="s.yaml")
    assert error.source == "s.yaml: workload[0]" and "metadata.name" in error.field


def test_a_bad_inline_manifest_is_placed_at_its_line_of_the_scenario_file() -> None:
    """Its line was the line in podquake's own copy of the object: always 1."""
    text = HEAD + "seed: 1\nworkload:\n- {apiVersion: v1, kind: Service, metadata: {name: ok}, spec: {ports: [{port: 80}]}}\n" + (
        "- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: Web_1}\n  spec: {}\n"
    )
    error = error_of(text, source="s.yaml")
    assert error.source == "s.yaml: workload[1]" and error.location.endswith("at line 6")


def test_an_object_defined_twice_is_refused() -> None:
    text = HEAD + "workload:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n"
    error = error_of(text, source="s.yaml")
    assert (error.source, error.field) == ("s.yaml: workload[1]", "metadata.name")
    assert "ConfigMap default/c is defined twice (first in s.yaml: workload[0]: document 1 (ConfigMap c) at line 4)" in str(error)


def test_a_priority_class_in_one_workload_item_serves_the_pods_of_another(tmp_path: Path) -> None:
    """The workload is one set of objects, as once applied to the API server: a pod template naming a
    PriorityClass defined in another item (inline or a file) was refused, each item loaded alone."""
    (tmp_path / "classes.yaml").write_text("apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: critical}\nvalue: 1000\n")
    pod = "- {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {priorityClassName: critical, containers: [{name: c, image: i}]}}\n"
    scenario = tmp_path / "s.yaml"
    scenario.write_text(HEAD + "workload:\n- classes.yaml\n" + pod)
    (_, loaded) = load_scenario(scenario).manifests()
    assert loaded.obj.spec.priority == 1000


def test_missing_files(tmp_path: Path) -> None:
    assert "no such scenario file" in str(error_of(str(tmp_path / "nope.yaml")))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(HEAD + "workload: [missing.yaml]\n")
    error = error_of(str(scenario))
    assert "workload[0]: missing.yaml" in error.source and "no such file" in str(error)


def test_a_folder_is_said_to_be_a_folder_not_a_missing_file(tmp_path: Path) -> None:
    error = error_of(str(tmp_path))
    assert "is a folder, not a scenario file" in str(error) and "no such" not in str(error)
    assert error.source == str(tmp_path) and error.fix


def test_a_negative_seed_is_refused_like_the_seed_option() -> None:
    error = error_of(HEAD + "seed: -1\n")
    assert error.field == "seed" and "-1" in error.message and error.fix
    with pytest.raises(InputError, match="seed"):
        Scenario(seed=-3)


K8S_DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n"


@pytest.mark.parametrize("text", [K8S_DEPLOYMENT, K8S_DEPLOYMENT + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"], ids=["one", "two"])
def test_a_kubernetes_manifest_points_at_run_manifests(tmp_path: Path, text: str) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(text)
    error = error_of(str(path))
    assert error.source == str(path) and "Kubernetes" in error.message
    assert f"podquake run --manifests {path}" in error.fix and "apiVersion: podquake/v1" not in error.fix


def test_a_typo_in_the_scenario_api_version_still_says_how_to_write_it() -> None:
    error = error_of(HEAD.replace("podquake/v1", "podquake/v9"))
    assert error.field == "apiVersion" and "write apiVersion: podquake/v1" in error.fix


def test_a_run_record_points_at_podquake_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{"schema": "podquake/run-record", "version": 1, "status": "passed"}\n')
    error = error_of(str(path))
    assert "run record" in error.message and f"podquake report {path}" in error.fix


def test_traffic_to_a_service_the_workload_lacks_is_refused_naming_the_ones_it_has() -> None:
    """It was dropped in silence: the run passed without any of its traffic."""
    with pytest.raises(InputError) as caught:
        load_scenario(SMALL.replace("{service: web, rate: 20", "{service: nosuch, rate: 20")).manifests()
    assert caught.value.field == "traffic[0].service" and "default/nosuch" in str(caught.value)
    assert caught.value.fix == "use one of default/web"
    with pytest.raises(InputError, match="add the Service to the workload"):
        load_scenario(HEAD + "traffic: [{service: web, rate: 1}]\n").manifests()


BIG_POD = HEAD + """\
cluster: {pools: [{name: small, count: 3, cpu: "2", memory: 4Gi}, {name: large, count: 0, maxSize: 2, cpu: "8", memory: 32Gi}]}
workload:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: big}
  spec:
    replicas: 1
    selector: {matchLabels: {app: big}}
    template:
      metadata: {labels: {app: big}}
      spec: {containers: [{name: app, image: big:1, resources: {requests: {cpu: CPU, memory: 1Gi}}}]}
"""


def test_a_workload_no_node_can_ever_hold_is_refused_naming_it_and_the_roomiest_pool() -> None:
    """Every run reported its pods pending as a capacity note, and passed."""
    assert load_scenario(BIG_POD.replace("CPU", "'6'")).manifests()  # fits the pool the autoscaler may grow
    with pytest.raises(InputError) as caught:
        load_scenario(BIG_POD.replace("CPU", "'12'")).manifests()
    assert caught.value.field == "resources.requests" and "(Deployment big)" in caught.value.location
    assert "asks 12000m CPU" in str(caught.value) and "pool large: 8000m" in str(caught.value)
    assert caught.value.fix
    with pytest.raises(InputError, match="no nodes and no pool that may grow"):
        load_scenario(HEAD + "cluster: {pools: [{name: w, count: 0}]}\n").manifests()


NAMED = HEAD + """\
cluster: {pools: [{name: web, count: 3, zones: [zone-a, zone-b]}, {name: batch, count: 1, maxSize: 4, zones: [zone-a]}]}
faults: [FAULT]
"""


@pytest.mark.parametrize(
    ("fault", "field", "words"),
    [
        ("{kind: node-failure, node: web-9, at: 1}", "faults[0].node", "node 'web-9', which this cluster does not have (its nodes: web-1..web-3, batch-1..batch-1)"),
        ("{kind: node-drain, node: worker-1, at: 1}", "faults[0].node", "node 'worker-1'"),
        ("{kind: zone-outage, zone: zone-c, at: 1}", "faults[0].zone", "zone 'zone-c', which this cluster does not have (its zones: zone-a, zone-b)"),
        ("{kind: network-partition, groups: [[web-1, web-7], [control-plane]], at: 1}", "faults[0].groups", "node 'web-7'"),
    ],
)
def test_a_fault_naming_a_node_or_zone_the_cluster_never_has_is_refused(fault: str, field: str, words: str) -> None:
    """Such a fault was skipped at its time, which only the trace told: the run passed untested."""
    error = error_of(NAMED.replace("FAULT", fault), source="chaos.yaml")
    assert error.field == field and words in str(error) and error.fix


def test_faults_may_name_nodes_the_autoscaler_may_add_and_the_control_plane() -> None:
    for fault in (
        "{kind: node-failure, node: batch-4, at: 1}",
        "{kind: node-failure, node: web-3, at: 1}",
        "{kind: zone-outage, zone: zone-b, at: 1}",
        "{kind: network-partition, groups: [[web-1], [control-plane, cloud-lb]], at: 1}",
    ):
        assert load_scenario(NAMED.replace("FAULT", fault)).faults


def test_programmatic_scenarios_are_validated_too() -> None:
    with pytest.raises(InputError) as caught:
        Scenario(duration=60, faults=(NodeFailure(node=0, at=90.0),))
    assert caught.value.field == "faults[0].at"
    with pytest.raises(InputError):
        Scenario(faults=("node-failure",))  # type: ignore[arg-type]
    with pytest.raises(InputError):
        Scenario(seed=1.5)  # type: ignore[arg-type]


# --- files and round trips -----------------------------------------------------------------------------
def test_paths_are_relative_to_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "web.yaml").write_text(WEB)
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "cluster: {nodes: 2, zones: 1}\nworkload: [apps/web.yaml]\nduration: 30\nquiet: 30\n")
    scenario = load_scenario(path)
    assert [m.kind for m in scenario.manifests()] == ["Deployment", "Service"]
    assert load_scenario(dump_scenario(scenario), base_dir=tmp_path) == scenario
    result = run_scenario(scenario)
    assert result.sim.workload_status("Deployment", "default", "web").ready == 3


def test_round_trip_of_a_scenario_with_everything() -> None:
    scenario = Scenario(
        name="everything",
        description="every field away from its default",
        seed=11,
        duration=900,
        quiet=450.5,
        scheduler="least-allocated",
        load_mode="request",
        cluster=ClusterSpec.from_dict(
            {"pools": [{"name": "big", "count": 2, "zones": ["z1"], "cpu": "8", "memory": "32Gi", "labels": {"tier": "a"},
                        "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}], "minSize": 1, "maxSize": 4}]}
        ),
        workload=("apps/web.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}),
        traffic=(
            LoadGenerator("default/web", Spike(Constant(10.0), 3.0, 60.0, 30.0), clients=7, name="users"),
            LoadGenerator("shop/api", Diurnal(100.0, 50.0, period=3600.0), entry=Internal(pod="shop/client")),
            LoadGenerator("shop/api", Sum((Ramp(0.0, 50.0, 0.0, 600.0), Constant(5.0))), entry=Internal(node="big-1")),
            LoadGenerator("shop/db", Spike(Spike(Diurnal(10.0, 5.0), 2.0, 5.0, 5.0), 4.0, 50.0, 10.0), entry=External()),
        ),
        faults=(
            NodeFailure(node=0, at=30.0, duration=60.0),
            NetworkPartition(groups=((0, "control-plane"), ("cloud-lb",)), at=40.0, duration=20.0),
            ContainerCrash(pod="shop/api-0", at=50.0, oom=True),
            ProbeFailure(pod=1, at=60.0, duration=30.0, flap=5.0, probe="liveness"),
            TrafficSpike(service="shop/api", at=70.0, duration=10.0, multiplier=2.5),
            ControlPlaneOutage(component="controller-manager", at=80.0, duration=15.0),
            SlowProvisioning(at=90.0, multiplier=3.0),
            PodKill(pod=4, at=100.0, force=True),
        ),
        properties=(("no-overcommit", {}),),
    )
    text = dump_scenario(scenario)
    again = scenario_from_dict(yaml.safe_load(text))  # not load_scenario: apps/web.yaml does not exist
    assert again == scenario
    assert dump_scenario(again) == text


def test_example_scenario_round_trips_and_runs() -> None:
    scenario = load_scenario(EXAMPLE)
    assert scenario.name == "node-failure" and len(scenario.faults) == 3
    assert load_scenario(dump_scenario(scenario), source=str(EXAMPLE)) == scenario
    result = run_scenario(scenario)
    assert result.ok and result.end == scenario.duration + scenario.quiet
    assert [r.label for r in result.records].count("fault-started") == 3
    assert result.quiet_from == scenario.duration


# --- replay ------------------------------------------------------------------------------------------
def test_the_same_scenario_replays_to_the_byte_identical_trace_and_the_same_verdicts() -> None:
    first = run_scenario(load_scenario(SMALL))
    second = run_scenario(load_scenario(dump_scenario(load_scenario(SMALL))))
    assert first.trace.to_jsonl() == second.trace.to_jsonl()
    assert first.verdicts == second.verdicts
    assert [r.label for r in first.records] == [r.label for r in second.records]
    labels = [r.label for r in first.records]
    assert labels.count("fault-started") == 4 and labels[-1] == "all-healed"


def test_a_run_that_keeps_no_trace_judges_it_the_same() -> None:
    kept = run_scenario(load_scenario(SMALL))
    counted = run_scenario(load_scenario(SMALL), keep_trace=False)
    assert counted.verdicts == kept.verdicts
    assert counted.trace.count == kept.trace.count == len(kept.trace.events) > 0
    assert counted.trace.events == []


def test_a_run_asked_to_stop_gives_up_within_seconds_of_simulated_time_and_asking_changes_nothing() -> None:
    """A campaign's Ctrl-C must not wait for a long example to end (a scenario of 10^8 simulated
    seconds ignored the first signal for minutes)."""
    from podquake.chaos.scenario_run import STOP_CHECK_SECONDS

    plain = run_scenario(load_scenario(SMALL))
    asked: list[float] = []

    def never() -> bool:
        asked.append(0.0)
        return False

    watched = run_scenario(load_scenario(SMALL), stop=never)
    assert watched.trace.to_jsonl() == plain.trace.to_jsonl() and watched.verdicts == plain.verdicts
    assert len(asked) == int(plain.end // STOP_CHECK_SECONDS) - 1  # at 10, 20, ... s; the clock stops before the end
    long = replace(load_scenario(SMALL), duration=7 * 24 * 3600.0)
    calls = iter([False, False, True])
    with pytest.raises(KeyboardInterrupt):
        run_scenario(long, stop=lambda: next(calls))


def test_another_seed_gives_another_run() -> None:
    scenario = load_scenario(SMALL)
    assert run_scenario(scenario).trace.to_jsonl() != run_scenario(replace(scenario, seed=4)).trace.to_jsonl()


def test_with_faults_shares_the_parsed_workload() -> None:
    scenario = load_scenario(SMALL)
    fewer = scenario.with_faults(scenario.faults[:1])
    assert fewer.faults == scenario.faults[:1] and fewer.manifests()[0] is scenario.manifests()[0]
    assert run_scenario(fewer).ok


def test_default_suite_when_no_properties_are_named() -> None:
    scenario = load_scenario(HEAD + "duration: 10\nquiet: 0\ncluster: {nodes: 1, zones: 1}\n")
    assert scenario.properties is None
    result = run_scenario(scenario)
    assert {v.property for v in result.verdicts} == set(scenario.suite().ids) and result.verdicts


def test_a_subset_of_the_properties_keeps_the_parameters_the_scenario_gave_them() -> None:
    """Choosing a subset (--properties, a suite's properties=, ClusterMachine.properties) made each
    property anew with its defaults: a scenario's `limit: 1` was lost, and a failing check passed."""
    scenario = load_scenario(HEAD + "cluster: {nodes: 1, zones: 1}\nproperties: [no-overcommit, {replicas-converge: {within: 77}}]\n")
    subset = scenario.with_properties(["replicas-converge", "single-binding"])
    assert subset.properties == (("replicas-converge", {"within": 77}), ("single-binding", {}))
    assert [p.settings() for p in subset.suite()] == [{"within": 77.0}, {}]
    assert replace(subset, properties=scenario.properties) == scenario  # nothing else changed
    assert load_scenario(HEAD).with_properties(["replicas-converge"]).suite().properties[0].settings() == {"within": 300.0}
    with pytest.raises(InputError) as caught:
        scenario.with_properties(["replicas-converge", "no-overcomit"])
    assert "did you mean 'no-overcommit'?" in caught.value.fix and "imports:" in caught.value.fix


@pytest.mark.parametrize("module", [scenario_module, scenario_run, scenario_traffic], ids=lambda m: m.__name__)
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


# --- properties of one's own -------------------------------------------------------------------------
from podquake.model import trace as _ev  # noqa: E402
from podquake.properties import invariant as _invariant  # noqa: E402


@_invariant("test-scenario-own-property", "A property registered outside podquake.", on=[_ev.PodBound])
def _never_fails(event, ledger):  # type: ignore[no-untyped-def]
    return None


def test_a_scenario_names_the_modules_of_its_own_properties_so_it_replays_elsewhere() -> None:
    """A counterexample judged by a user's property failed to load anywhere that property's module was
    not imported yet ("unknown property"), podquake replay and the pasted reproducer included."""
    scenario = load_scenario(HEAD + "properties: [test-scenario-own-property, no-overcommit]\n")
    assert scenario.imports == (__name__,)
    text = dump_scenario(scenario)
    assert f"imports: [{__name__}]" in text and load_scenario(text) == scenario


def test_imports_are_imported_first_and_a_bad_one_is_named() -> None:
    assert load_scenario(HEAD + "imports: [json]\nproperties: [no-overcommit]\n").imports == ("json",)
    with pytest.raises(InputError) as caught:
        load_scenario(HEAD + "imports: [json, no.such.module]\n", source="s.yaml")
    assert caught.value.field == "imports[1]" and "No module named 'no'" in str(caught.value) and caught.value.fix


def test_without_quiet_every_time_bound_of_the_properties_can_be_judged() -> None:
    """A scenario file without ``quiet:`` got 300 s, and the default suite's autoscaler-converges
    (420 s) was unknown in every example of every such campaign ("2 could not be judged")."""
    bare = SMALL.replace("quiet: 120\n", "").replace("properties: [no-overcommit]\n", "")
    assert "quiet" not in bare and "properties" not in bare
    assert load_scenario(bare).quiet == 420.0
    assert load_scenario(bare + "properties: [no-overcommit, {replicas-converge: {within: 900}}]\n").quiet == 900.0
    assert load_scenario(bare + "properties: [no-overcommit]\n").quiet == 300.0  # five healed minutes at least
    assert Scenario().quiet == 420.0 and load_scenario(dump_scenario(Scenario())).quiet == 420.0
    assert "quiet: 420.0" in dump_scenario(Scenario())  # written out, so a counterexample says it
