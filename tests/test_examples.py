"""The README's main job (examples/node_failure.py) runs, recovers, and is deterministic."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "examples" / "node_failure.py"


def load_example():
    spec = importlib.util.spec_from_file_location("node_failure", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_main_job_recovers_from_a_node_failure_and_prints_the_same_twice(capsys):
    example = load_example()
    assert example.main(["--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert "Ready=Unknown" in first and "TaintEviction" in first and "recovered: every workload" in first
    assert example.main(["--seed", "1"]) == 0
    assert capsys.readouterr().out == first


def test_bad_manifests_exit_2_with_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: -1}\n")
    assert load_example().main(["--manifests", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(bad) in err and "Traceback" not in err


ZONE_BALANCER = Path(__file__).parents[1] / "examples" / "zone_balancer.py"


def test_the_zone_balancer_places_the_sample_shop_spread_over_zones(capsys):
    spec = importlib.util.spec_from_file_location("zone_balancer", ZONE_BALANCER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main() == 0
    out = capsys.readouterr().out
    assert "frontend         zone-a: 1  zone-b: 1  zone-c: 1" in out  # three replicas, one per zone
    assert "0 pending; settled" in out


def test_the_three_line_scheduler_suite_verifies_the_zone_balancer(tmp_path):
    """examples/test_zone_balancer.py, run as a user would: every property passes (20 examples)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ZONE_BALANCER.with_name("test_zone_balancer.py"))]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "18 passed" in run.stdout and "scheduler zone_balancer:ZoneBalancer, seed 0, 20 examples" in run.stdout
    assert not (tmp_path / ".podquake").exists()  # nothing failed, so no counterexample kept


def test_the_stateful_example_runs_its_own_step_among_the_faults(monkeypatch):
    """examples/test_stateful_shop.py: the operator's step runs, and the shop's properties hold."""
    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test
    from podquake.model.store import ClusterState

    spec = importlib.util.spec_from_file_location("stateful_shop", ZONE_BALANCER.with_name("test_stateful_shop.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scaled: list[int] = []
    real = ClusterState.scale_workload

    def counted(self, uid: str, replicas: int) -> None:
        if self.workloads[uid].name == "catalog":
            scaled.append(replicas)
        real(self, uid, replicas)

    monkeypatch.setattr(ClusterState, "scale_workload", counted)
    run_state_machine_as_test(module.ShopMachine, settings=settings(max_examples=4, stateful_step_count=8, deadline=None, database=None, derandomize=True))
    assert scaled and all(1 <= n <= 6 for n in scaled)


def test_the_non_graceful_shutdown_scenario_moves_the_database_pod_only_with_the_operators_mark():
    """examples/scenarios/non-graceful-shutdown.yaml: as its comments say, orders-db-0 runs again on a
    live node once the dead node is marked out of service, and without the mark it stays stuck."""
    from dataclasses import replace

    from podquake.chaos import NodeFailure
    from podquake.chaos.scenario import load_scenario
    from podquake.chaos.scenario_run import run_scenario

    scenario = load_scenario(Path(__file__).parents[1] / "examples" / "scenarios" / "non-graceful-shutdown.yaml")
    (fault,) = scenario.faults
    assert (fault.node, fault.out_of_service) == ("worker-2", 120.0)
    for marked in (True, False):
        run = run_scenario(scenario if marked else replace(scenario, faults=(NodeFailure(node="worker-2", at=fault.at),)))
        (db0,) = [pod for pod in run.sim.state.pods.values() if pod.key == "default/orders-db-0"]
        converged = next(v for v in run.verdicts if v.property == "replicas-converge")
        assert converged.status == "passed"  # stuck is a finding about capacity, not a failure
        if marked:
            assert db0.node_name != "worker-2" and db0.ready and "converged" in converged.message
        else:
            assert db0.node_name == "worker-2" and "orders-db-0 stays on node worker-2" in converged.message


def test_the_priority_preemption_scenario_gets_the_critical_app_back_by_preempting_the_batch_app():
    """examples/scenarios/priority-preemption.yaml: as its comments say, the checkout pod that lost its
    node preempts a report builder (the PriorityClass in the scenario serves the pods of another item),
    checkout is back in full and reports runs one short; with equal priorities nobody is preempted."""
    from dataclasses import replace

    from podquake.chaos.scenario import load_scenario
    from podquake.chaos.scenario_run import run_scenario
    from podquake.model import trace as ev

    scenario = load_scenario(Path(__file__).parents[1] / "examples" / "scenarios" / "priority-preemption.yaml")
    run = run_scenario(scenario)
    (preempted,) = [e for e in run.trace if isinstance(e, ev.PodPreempted)]
    assert preempted.pod.startswith("default/reports-") and preempted.preemptor.startswith("default/checkout-")
    assert (preempted.priority, preempted.preemptor_priority) == (100, 1000)
    assert run.sim.workload_status("Deployment", "default", "checkout").ready == 3
    assert run.sim.workload_status("Deployment", "default", "reports").ready == 1
    assert all(v.status == "passed" for v in run.verdicts)

    equal = [dict(item) for item in scenario.workload]
    equal[0] = {**equal[0], "value": 100}  # critical is worth no more than batch
    run = run_scenario(replace(scenario, workload=tuple(equal)))
    assert not [e for e in run.trace if isinstance(e, ev.PodPreempted)]
    assert run.sim.workload_status("Deployment", "default", "checkout").ready < 3
