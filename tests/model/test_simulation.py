"""The simulation is deterministic: the same seed and inputs give a byte-identical trace."""

import random

import pytest

from podquake.model import ClusterSpec, Simulation, load_manifests

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        resources: {requests: {cpu: 300m, memory: 256Mi}}
        readinessProbe: {httpGet: {path: /, port: 80}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres, resources: {requests: {cpu: 500m, memory: 1Gi}}}]}
"""


def run_once(seed: int) -> str:
    sim = Simulation(ClusterSpec.uniform(nodes=4, zones=2), seed=seed)
    sim.apply(load_manifests(text=APP))
    sim.run(60)
    victim = sim.state.pods_by_key[sorted(sim.state.pods_by_key)[0]].node_name
    sim.kubelets[victim].power_off()
    sim.run(500)
    return sim.trace.to_jsonl()


def test_same_seed_same_bytes():
    first = run_once(11)
    random.seed(999)  # global random state must not matter
    assert run_once(11) == first
    assert "PodDeletionRequested" in first and "NodeReadyChanged" in first


def test_different_seeds_differ():
    assert run_once(1) != run_once(2)


def test_a_simple_app_converges_and_reports_status():
    sim = Simulation(ClusterSpec.default(), seed=5)
    sim.apply(load_manifests(text=APP))
    assert sim.run_until_stable(timeout=300)
    status = sim.workload_status("Deployment", "default", "web")
    assert (status.desired, status.ready) == (5, 5)
    assert [p.name for p in sim.state.pods.values() if p.name.startswith("db-")] == ["db-0", "db-1"]


def test_apply_takes_a_manifest_path_too(tmp_path):
    """sim.apply("app.yaml") failed with AttributeError: 'str' object has no attribute 'apply_to'."""
    (tmp_path / "app.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: c, image: web:1}]}\n"
    )
    for given in (str(tmp_path / "app.yaml"), tmp_path / "app.yaml"):
        sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
        sim.apply(given)
        assert [w.name for w in sim.state.workloads.values() if w.kind == "Deployment"] == ["web"]


def small_sim(**kwargs) -> Simulation:
    return Simulation(ClusterSpec.uniform(nodes=2, zones=1), **kwargs)


def test_time_only_moves_forward_and_a_backward_run_says_so():
    """sim.run(t) with t before now silently did nothing, so a script's later checks read a
    clock that had not moved where it thought."""
    sim = small_sim()
    sim.run(30)
    sim.run(30)  # now: nothing to do
    assert sim.now == 30
    with pytest.raises(ValueError, match=r"already at t=30s .*run_for"):
        sim.run(10)
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        sim.run_for(-5)
    for bad in (float("nan"), float("inf"), "60"):
        with pytest.raises(ValueError, match="finite number of simulated seconds"):
            sim.run(bad)
    assert sim.now == 30


def test_run_until_stable_refuses_a_step_that_would_never_advance():
    """step=0 looped forever: each look ran the clock to where it already was."""
    sim = small_sim()
    with pytest.raises(ValueError, match="step > 0"):
        sim.run_until_stable(timeout=60, step=0)
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        sim.run_until_stable(timeout=-1)


def test_the_seed_is_a_non_negative_integer():
    """Simulation(seed="a") ran, and seed=-3 gave the very runs of seed=3 (random.Random takes |n|)."""
    for bad, error in (("a", TypeError), (1.5, TypeError), (True, TypeError), (-3, ValueError)):
        with pytest.raises(error, match="seed must be an integer >= 0"):
            small_sim(seed=bad)
    assert small_sim(seed=3).seed == 3


def test_workload_status_names_an_unknown_kind_and_the_nearest_one():
    sim = small_sim()
    sim.apply(load_manifests(text=APP))
    with pytest.raises(ValueError, match="unknown kind 'Deploymnet'; did you mean Deployment"):
        sim.workload_status("Deploymnet", "default", "web")
    with pytest.raises(KeyError, match="no Deployment default/nope"):
        sim.workload_status("Deployment", "default", "nope")


# --- Timing, apply and the constructor refuse what they cannot use ----------------------------------
@pytest.mark.parametrize("name", ["container_start_seconds", "container_stop_seconds", "controller_sync_seconds", "endpoint_propagation_seconds"])
@pytest.mark.parametrize("value", [-1, -0.5, float("nan"), float("inf"), "2", None, True])
def test_timing_refuses_negative_non_finite_and_non_numeric_delays(name, value):
    """Timing took -5 (read as 0), -1 (SimPy's "Negative delay" later), NaN (controllers never synced) and strings."""
    from podquake.model import Timing

    with pytest.raises(ValueError) as info:
        Timing(**{name: value})
    assert f"Timing.{name}" in str(info.value) and "(fix: " in str(info.value)


def test_timing_takes_zero_and_whole_numbers():
    """Not a regression: the checks above still take 0 (no delay) and whole numbers, kept as floats."""
    from podquake.model import Timing

    assert Timing(container_start_seconds=0, controller_sync_seconds=3) == Timing(0.0, 1.0, 3.0, 1.0)


WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  replicas: 1
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec: {containers: [{name: c, image: web:1}]}
"""


def web(name: str) -> str:
    return WEB.replace("NAME", name)


def test_a_refused_apply_creates_nothing():
    """Applying [b, a] with a already there created b, then refused a."""
    from podquake.model.errors import InputError

    sim = small_sim(seed=1)
    sim.apply(load_manifests(text=web("a")))
    batch = load_manifests(text=web("b") + "---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 80}]}\n---\n" + web("a"))
    with pytest.raises(InputError, match="Deployment default/a already exists in the simulation"):
        sim.apply(batch)
    assert sorted(w.name for w in sim.state.workloads.values() if w.kind == "Deployment") == ["a"]
    assert not sim.state.objects
    # The same object twice in one batch is refused before either is created, too.
    fresh = small_sim(seed=1)
    twice = load_manifests(text=web("c"))
    with pytest.raises(InputError, match="Deployment default/c is applied twice in one batch"):
        fresh.apply(twice + twice)
    assert not fresh.state.workloads


def test_apply_takes_one_manifest_and_a_list_of_paths(tmp_path):
    """sim.apply(manifest) said "not iterable"; sim.apply([path]) "'str' object has no attribute 'apply_to'"."""
    (tmp_path / "a.yaml").write_text(web("a"))
    (tmp_path / "b.yaml").write_text(web("b"))
    sim = small_sim(seed=1)
    sim.apply([str(tmp_path / "a.yaml"), tmp_path / "b.yaml"])
    sim.apply(load_manifests(text=web("c"))[0])
    assert sorted(w.name for w in sim.state.workloads.values() if w.kind == "Deployment") == ["a", "b", "c"]


@pytest.mark.parametrize("text", [web("a"), "kind: Deployment", "apiVersion: v1"])
def test_apply_of_yaml_text_says_to_use_load_manifests(text):
    """sim.apply(yaml_text) echoed the whole text as a path, then "no such file or folder"."""
    from podquake.model.errors import InputError

    with pytest.raises(InputError) as info:
        small_sim(seed=1).apply(text)
    assert "load_manifests(text=...)" in info.value.fix and "no such file" not in str(info.value)
    assert text.strip() not in str(info.value) or "\n" not in text.strip()


@pytest.mark.parametrize("given", [None, 5, {"kind": "Deployment"}, [1]])
def test_apply_refuses_what_is_not_manifests(given):
    from podquake.model.errors import InputError

    with pytest.raises(InputError, match="load_manifests"):
        small_sim(seed=1).apply(given)


def test_the_cluster_may_be_given_in_its_yaml_form():
    """Simulation(cluster={...}) failed with "'dict' object has no attribute 'build_nodes'"."""
    from podquake.model.errors import InputError

    sim = Simulation(cluster={"nodes": 3, "zones": 1}, seed=1)
    assert sim.cluster_spec == ClusterSpec.uniform(nodes=3, zones=1) and len(sim.state.nodes) == 3
    with pytest.raises(InputError, match="nodez"):
        Simulation(cluster={"nodez": 3})
    with pytest.raises(TypeError, match="cluster must be a ClusterSpec or its YAML form as a dict, not int"):
        Simulation(cluster=3)
    with pytest.raises(TypeError, match="timing must be a Timing"):
        Simulation(timing={"container_start_seconds": 1})


def test_applying_more_replicas_than_kubernetes_supports_is_refused_and_creates_nothing():
    """apply() of a Deployment of 10^6 replicas ran the ReplicaSet controller creating pods for hours."""
    from podquake.model.errors import InputError

    sim = small_sim()
    with pytest.raises(InputError, match="1,000,002 replicas, more than the 150,000 pods"):
        sim.apply(load_manifests(text=APP.replace("replicas: 5", "replicas: 1000000")))
    assert not sim.state.workloads
