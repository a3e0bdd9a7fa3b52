"""The kubelet: start latency, lazy probes, restart policies, CrashLoopBackOff, deletion, and the
difference between a stopped kubelet and a powered-off machine. Numbers are upstream's
(model/constants.py); each assertion names the constant it checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.cluster import ClusterSpec
from podquake.model.kubelet import Kubelet, kubelet_for, next_probe_time
from podquake.model.kubelet_rules import admission_failure
from podquake.model.manifests import load_manifests
from podquake.model.objects import ContainerSpec, ContainerStatus, Node, Pod, PodSpec, PodTemplate, Probe
from podquake.model.quantity import Resources
from podquake.model.selectors import Taint, Toleration
from podquake.model.simulation import Simulation, Timing

START = Timing().container_start_seconds  # 2 s from binding to running
STOP = Timing().container_stop_seconds  # 1 s from a kill to the exit


def one_node(timing: Timing | None = None, seed: int = 1, nodes: int = 1) -> Simulation:
    return Simulation(ClusterSpec.uniform(nodes=nodes, zones=1), seed=seed, scheduler="first-fit", timing=timing)


def run_pod(
    sim: Simulation,
    name: str = "p",
    policy: str = "Always",
    grace: float = k8s.TERMINATION_GRACE_PERIOD_SECONDS,
    containers: tuple[ContainerSpec, ...] | None = None,
    **probes: Probe,
) -> str:
    """Create a bare pod (bound at once by first-fit) and return its key."""
    specs = containers if containers is not None else (ContainerSpec("main", **probes),)
    spec = PodSpec(containers=specs, restart_policy=policy, termination_grace_period_seconds=grace)  # type: ignore[arg-type]
    sim.create_pod(name, "default", PodTemplate((("app", name),), spec))
    return f"default/{name}"


def kubelet(sim: Simulation, key: str) -> Kubelet:
    found = kubelet_for(sim, key)
    assert found is not None
    return found


def a_pod_10_s_in() -> tuple[Simulation, str, Kubelet]:
    """One node running one pod, 10 s into the simulation: the simulation, the pod's key, its kubelet."""
    sim = one_node()
    key = run_pod(sim)
    sim.run(10)
    return sim, key, kubelet(sim, key)


def status(sim: Simulation, key: str, index: int = 0) -> ContainerStatus:
    return sim.state.pods_by_key[key].containers[index]


def times(sim: Simulation, event_type: type[ev.Event], key: str, **fields: object) -> list[float]:
    return [
        e.t
        for e in sim.trace.of_type(event_type)
        if getattr(e, "pod", None) == key and all(getattr(e, f) == v for f, v in fields.items())
    ]


# --- starting and readiness ------------------------------------------------------------------------
def test_a_bound_pod_runs_after_the_start_latency_and_is_ready_without_probes():
    sim = one_node()
    key = run_pod(sim)
    sim.run(10)
    assert times(sim, ev.PodBound, key) == [0.0]
    assert times(sim, ev.ContainerStarted, key) == [START]
    assert times(sim, ev.PodPhaseChanged, key, phase="Running") == [START]
    assert times(sim, ev.PodReadyChanged, key, ready=True) == [START]


def test_readiness_waits_for_the_initial_delay_and_success_threshold():
    sim = one_node()
    probe = Probe(initial_delay_seconds=5, period_seconds=10, success_threshold=2)
    key = run_pod(sim, readiness_probe=probe)
    sim.run(60)
    # first probe at start + initialDelay, ready at the successThreshold-th passing probe
    assert times(sim, ev.PodReadyChanged, key, ready=True) == [START + 5 + 10]
    assert sim.state.pods_by_key[key].phase == "Running"


def test_readiness_defaults_make_a_container_ready_at_its_first_probe():
    assert (Probe().period_seconds, Probe().success_threshold, Probe().failure_threshold) == (
        k8s.PROBE_PERIOD_SECONDS,
        k8s.PROBE_SUCCESS_THRESHOLD,
        k8s.PROBE_FAILURE_THRESHOLD,
    )
    sim = one_node()
    key = run_pod(sim, readiness_probe=Probe())
    sim.run(30)
    assert times(sim, ev.PodReadyChanged, key, ready=True) == [START]


def test_the_startup_probe_gates_readiness():
    sim = one_node()
    key = run_pod(
        sim,
        startup_probe=Probe(initial_delay_seconds=10, period_seconds=10),
        readiness_probe=Probe(period_seconds=7),
    )
    sim.run(60)
    # startup passes at 2 + 10 = 12; readiness probes run at 2, 9, 16, ...; the first after 12 counts
    assert times(sim, ev.PodReadyChanged, key, ready=True) == [16.0]


def test_a_failing_startup_probe_kills_the_container_after_failure_threshold_probes():
    sim = one_node()
    key = run_pod(sim, startup_probe=Probe(initial_delay_seconds=3, period_seconds=5, failure_threshold=4))
    sim.run(1)
    assert not kubelet(sim, key).fail_probe(key, "main", "startup")  # not started yet: nothing to fault
    sim.run(START + 1)
    assert kubelet(sim, key).fail_probe(key, "main", "startup")
    sim.run(40)
    # probes at 5, 10, 15, 20 all fail -> killed at 20, exits STOP later, restarted at once
    assert times(sim, ev.ContainerTerminated, key) == [20 + STOP]
    assert times(sim, ev.PodReadyChanged, key, ready=True) == []


def test_liveness_faults_before_the_startup_probe_passes_leave_it_alone():
    sim = one_node()
    key = run_pod(
        sim,
        startup_probe=Probe(initial_delay_seconds=10, period_seconds=10),
        liveness_probe=Probe(period_seconds=5, failure_threshold=2),
    )
    sim.run(5)
    k = kubelet(sim, key)
    assert k.fail_probe(key, "main", "liveness") and k.recover_probe(key, "main", "liveness")
    sim.run(30)
    assert times(sim, ev.PodReadyChanged, key, ready=True) == [START + 10]  # the startup probe still passes


def test_a_pod_is_ready_only_when_every_container_is():
    sim = one_node()
    containers = (ContainerSpec("a"), ContainerSpec("b", readiness_probe=Probe(initial_delay_seconds=20)))
    key = run_pod(sim, containers=containers)
    sim.run(10)
    assert status(sim, key, 0).ready and not status(sim, key, 1).ready
    assert not sim.state.pods_by_key[key].ready
    sim.run(30)
    assert times(sim, ev.PodReadyChanged, key, ready=True) == [START + 20]


def test_next_probe_time_counts_from_the_anchor_in_whole_periods():
    assert next_probe_time(12.0, 10.0, 0.0) == 12.0
    assert next_probe_time(12.0, 10.0, 22.0) == 22.0
    assert next_probe_time(12.0, 10.0, 22.5) == 32.0


# --- liveness and readiness failures ---------------------------------------------------------------
def test_liveness_failure_restarts_the_container_after_failure_threshold_periods():
    sim = one_node()
    key = run_pod(sim, liveness_probe=Probe(period_seconds=10, failure_threshold=3))
    sim.run(5)
    assert kubelet(sim, key).fail_probe(key, "main", "liveness")
    sim.run(40)
    # probes at 2, 12, 22, 32: the 3rd failing one (32) kills; SIGTERM exit after container_stop_seconds
    terminated = [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert [(e.t, e.exit_code) for e in terminated] == [(32 + STOP, k8s.SIGTERM_EXIT_CODE)]
    assert times(sim, ev.ContainerStarted, key) == [START, 32 + STOP]  # the first restart is immediate
    assert status(sim, key).restart_count == 1


def test_liveness_that_recovers_before_the_threshold_restarts_nothing():
    sim = one_node()
    key = run_pod(sim, liveness_probe=Probe(period_seconds=10, failure_threshold=3))
    sim.run(5)
    kubelet(sim, key).fail_probe(key, 0, "liveness")
    sim.run(25)  # failing probes at 12 and 22 only
    assert kubelet(sim, key).recover_probe(key, 0, "liveness")
    sim.run(200)
    assert times(sim, ev.ContainerTerminated, key) == []


def test_a_persistent_liveness_failure_ends_in_crash_loop_back_off():
    sim = one_node()
    key = run_pod(sim, liveness_probe=Probe(period_seconds=10, failure_threshold=3))
    sim.run(5)
    kubelet(sim, key).fail_probe(key, 0, "liveness")
    sim.run(120)
    waiting = [(e.t, e.reason, e.backoff) for e in sim.trace.of_type(ev.ContainerWaiting) if e.pod == key]
    # killed at 33 (restart at once), killed again 3 probes after the restart: 53 + 1, then back-off 10 s
    assert waiting[:2] == [(33.0, "ContainerCreating", 0.0), (54.0, "CrashLoopBackOff", k8s.CRASH_LOOP_INITIAL_BACKOFF_SECONDS)]


def test_readiness_failure_removes_ready_without_a_restart():
    sim = one_node()
    key = run_pod(sim, readiness_probe=Probe(period_seconds=10, failure_threshold=3))
    sim.run(5)
    assert kubelet(sim, key).fail_probe(key, "main", "readiness")
    sim.run(40)
    assert times(sim, ev.PodReadyChanged, key, ready=False) == [32.0]  # 3rd failing probe: 12, 22, 32
    assert kubelet(sim, key).recover_probe(key, "main", "readiness")
    sim.run(60)
    assert times(sim, ev.PodReadyChanged, key, ready=True) == [START, 42.0]  # next probe after recovery
    assert times(sim, ev.ContainerTerminated, key) == []
    assert sim.state.pods_by_key[key].phase == "Running"


def test_probe_faults_need_a_probe_and_change_something():
    sim = one_node()
    key = run_pod(sim, readiness_probe=Probe())
    sim.run(5)
    k = kubelet(sim, key)
    assert not k.fail_probe(key, "main", "liveness")  # the container has no liveness probe
    assert k.fail_probe(key, "main", "readiness")
    assert not k.fail_probe(key, "main", "readiness")  # already failing
    with pytest.raises(ValueError, match="unknown probe"):
        k.fail_probe(key, "main", "readyness")


# --- restarts and CrashLoopBackOff -------------------------------------------------------------------
def crash_delays(sim: Simulation, key: str) -> list[float]:
    starts = times(sim, ev.ContainerStarted, key)
    ends = times(sim, ev.ContainerTerminated, key)
    return [start - end for end, start in zip(ends, starts[1:])]


def test_crash_loop_back_off_doubles_from_ten_seconds_to_the_cap():
    sim = one_node()
    key = run_pod(sim)
    sim.run(5)
    for _ in range(8):
        assert kubelet(sim, key).crash_container(key, "main", exit_code=1)
        sim.run_for(k8s.CRASH_LOOP_MAX_BACKOFF_SECONDS + 5)
    # CRASH_LOOP_INITIAL_BACKOFF_SECONDS = 10 doubling, capped at CRASH_LOOP_MAX_BACKOFF_SECONDS = 300;
    # the first restart is immediate; each delay counts from the container's finish time.
    assert crash_delays(sim, key) == [0, 10, 20, 40, 80, 160, 300, 300]
    assert status(sim, key).restart_count == 8
    backoffs = [e.backoff for e in sim.trace.of_type(ev.ContainerWaiting) if e.pod == key and e.reason == "CrashLoopBackOff"]
    assert backoffs == [10, 20, 40, 80, 160, 300, 300]


@pytest.mark.parametrize(("ran", "expected_delay"), [(599.0, 40.0), (601.0, 0.0)])
def test_the_back_off_resets_after_ten_minutes_of_running(ran: float, expected_delay: float):
    sim = one_node()
    key = run_pod(sim)
    sim.run(5)
    for _ in range(3):  # delays 0, 10, 20: the next one would be 40
        kubelet(sim, key).crash_container(key)
        sim.run_for(25)
    restarted_at = status(sim, key).started_at
    assert restarted_at is not None
    sim.run(restarted_at + ran)
    kubelet(sim, key).crash_container(key)
    sim.run_for(50)
    # CRASH_LOOP_RESET_SECONDS = 600 (2 x the 300 s cap) since the last restart resets the back-off
    assert crash_delays(sim, key)[-1] == expected_delay
    if expected_delay == 0.0:
        kubelet(sim, key).crash_container(key)
        sim.run_for(20)
        assert crash_delays(sim, key)[-1] == k8s.CRASH_LOOP_INITIAL_BACKOFF_SECONDS


def test_oom_kill_exits_137_with_reason_oomkilled_and_restarts():
    sim = one_node()
    key = run_pod(sim)
    sim.run(5)
    assert kubelet(sim, key).oom_kill_container(key, "main")
    sim.run(6)
    (terminated,) = [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert (terminated.exit_code, terminated.reason) == (k8s.OOM_KILLED_EXIT_CODE, "OOMKilled") == (137, "OOMKilled")
    assert status(sim, key).state == "running"
    assert (status(sim, key).last_exit_code, status(sim, key).last_reason) == (137, "OOMKilled")


@pytest.mark.parametrize(
    ("policy", "exit_code", "restarted", "phase"),
    [
        ("Always", 0, True, "Running"),
        ("Always", 1, True, "Running"),
        ("OnFailure", 0, False, "Succeeded"),
        ("OnFailure", 1, True, "Running"),
        ("Never", 0, False, "Succeeded"),
        ("Never", 1, False, "Failed"),
    ],
)
def test_restart_policy_and_phase(policy: str, exit_code: int, restarted: bool, phase: str):
    sim = one_node()
    key = run_pod(sim, policy=policy)
    sim.run(5)
    assert kubelet(sim, key).exit_container(key, "main", exit_code=exit_code)
    sim.run(10)
    assert (len(times(sim, ev.ContainerStarted, key)) == 2) is restarted
    pod = sim.state.pods_by_key[key]
    assert pod.phase == phase
    assert pod.ready is restarted


def test_a_run_to_completion_container_exits_on_its_own_later():
    sim = one_node()
    key = run_pod(sim, policy="OnFailure")
    sim.run(5)
    assert kubelet(sim, key).exit_container(key, exit_code=0, after=30)
    sim.run(100)
    assert times(sim, ev.PodPhaseChanged, key, phase="Succeeded") == [35.0]
    (terminated,) = [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert not kubelet(sim, key).crash_container(key)  # nothing runs any more


def test_one_crashing_container_leaves_its_sibling_running():
    sim = one_node()
    key = run_pod(sim, containers=(ContainerSpec("app"), ContainerSpec("sidecar")))
    sim.run(5)
    kubelet(sim, key).crash_container(key, "sidecar")
    kubelet(sim, key).crash_container(key, "sidecar")
    sim.run(6)
    assert status(sim, key, 0).state == "running" and status(sim, key, 0).restart_count == 0
    assert status(sim, key, 1).state == "waiting" and status(sim, key, 1).reason == "CrashLoopBackOff"
    pod = sim.state.pods_by_key[key]
    assert (pod.phase, pod.ready) == ("Running", False)


def test_fault_targets_are_checked():
    sim = one_node(nodes=2)
    key = run_pod(sim)
    sim.run(5)
    node = sim.state.pods_by_key[key].node_name
    other = next(k for name, k in sim.kubelets.items() if name != node)
    with pytest.raises(ValueError, match="use kubelet_for"):
        other.crash_container(key)
    with pytest.raises(ValueError, match="no container 'nope'"):
        kubelet(sim, key).crash_container(key, "nope")
    with pytest.raises(ValueError, match="out of range"):
        kubelet(sim, key).crash_container(key, 3)
    assert not kubelet(sim, key).crash_container("default/missing")
    assert kubelet_for(sim, "default/missing") is None


# --- deletion ----------------------------------------------------------------------------------------
def test_a_deleted_pod_stops_within_the_grace_period_and_is_removed():
    sim = one_node()
    key = run_pod(sim)
    sim.run(10)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "ScaleDown")
    sim.run(20)
    assert times(sim, ev.PodDeleted, key) == [10 + STOP]  # min(terminationGracePeriodSeconds, stop)
    (terminated,) = [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert terminated.exit_code == k8s.SIGTERM_EXIT_CODE
    (deleted,) = [e for e in sim.trace.of_type(ev.PodDeleted) if e.pod == key]
    assert deleted.reason == "ScaleDown"


@pytest.mark.parametrize(("grace", "stop", "deleted_after"), [(30.0, 45.0, 30.0), (0.0, 1.0, 0.0)])
def test_a_slow_container_is_killed_when_the_grace_period_runs_out(grace: float, stop: float, deleted_after: float):
    sim = one_node(timing=Timing(container_stop_seconds=stop))
    key = run_pod(sim, grace=grace)
    sim.run(10)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "ScaleDown")
    sim.run(60)
    assert times(sim, ev.PodDeleted, key) == [10 + deleted_after]
    (terminated,) = [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert terminated.exit_code == k8s.SIGKILL_EXIT_CODE


def alive(sim: Simulation, key: str, index: int = 0) -> bool:
    """The runtime's truth (what a connection to the pod meets), not the API's last report."""
    run = kubelet(sim, key).pods.get(key)
    return run is not None and run.containers[index].alive


def test_a_pre_stop_sleep_keeps_the_container_running_then_sigterm_follows():
    """kuberuntime_container.go killContainer: the hook first (the container still runs), then
    StopContainer with the grace period left (30 - 10 = 20 s, ample for the 1 s stop)."""
    sim = one_node()
    key = run_pod(sim, grace=30.0, containers=(ContainerSpec("main", pre_stop_seconds=10.0),))
    sim.run(10)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "ScaleDown")
    sim.run(19)
    assert alive(sim, key) and status(sim, key).state == "running"  # t + 9: the hook still sleeps
    sim.run(30)
    assert times(sim, ev.ContainerTerminated, key) == [10 + 10 + STOP]  # SIGTERM at t + 10, exit STOP later
    (terminated,) = [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert terminated.exit_code == k8s.SIGTERM_EXIT_CODE
    assert times(sim, ev.PodDeleted, key) == [10 + 10 + STOP]


@pytest.mark.parametrize(
    ("hook", "stop", "exits_after", "exit_code"),
    [
        (45.0, 1.0, 30 + 1, k8s.SIGTERM_EXIT_CODE),  # cut at the grace period; the 2 s minimum is enough
        (float("inf"), 5.0, 30 + k8s.MINIMUM_GRACE_PERIOD_SECONDS, k8s.SIGKILL_EXIT_CODE),  # SIGKILL 2 s after SIGTERM
        (29.5, 3.0, 29.5 + k8s.MINIMUM_GRACE_PERIOD_SECONDS, k8s.SIGKILL_EXIT_CODE),  # 30 - int(29.5) = 1 s, raised to 2
        (20.5, 10.0, 20.5 + 10, k8s.SIGTERM_EXIT_CODE),  # 30 - int(20.5) = 10 s left: the stop fits
    ],
)
def test_a_pre_stop_hook_is_cut_at_the_grace_period_and_sigterm_gets_at_least_two_seconds(
    hook: float, stop: float, exits_after: float, exit_code: int
):
    sim = one_node(timing=Timing(container_stop_seconds=stop))
    key = run_pod(sim, grace=30.0, containers=(ContainerSpec("main", pre_stop_seconds=hook),))
    sim.run(10)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "ScaleDown")
    sim.run(100)
    terminated = [(e.t, e.exit_code) for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert terminated == [(10 + exits_after, exit_code)]
    assert times(sim, ev.PodDeleted, key) == [10 + exits_after]


def test_each_container_runs_its_own_pre_stop_hook_and_the_pod_goes_with_the_last():
    sim = one_node()
    specs = (ContainerSpec("app", pre_stop_seconds=10.0), ContainerSpec("log"), ContainerSpec("proxy", pre_stop_seconds=5.0))
    key = run_pod(sim, containers=specs)
    sim.run(10)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "ScaleDown")
    sim.run(40)
    terminated = sorted((e.t, e.container) for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key)
    assert terminated == [(10 + STOP, "log"), (10 + 5 + STOP, "proxy"), (10 + 10 + STOP, "app")]
    assert times(sim, ev.PodDeleted, key) == [10 + 10 + STOP]


def test_a_liveness_kill_runs_the_pre_stop_hook_first():
    """Upstream killContainer runs the hook for a probe kill too (the pod's grace period applies)."""
    sim = one_node()
    probe = Probe(period_seconds=10, failure_threshold=3)
    key = run_pod(sim, containers=(ContainerSpec("main", liveness_probe=probe, pre_stop_seconds=5.0),))
    sim.run(5)
    assert kubelet(sim, key).fail_probe(key, "main", "liveness")
    sim.run(36)
    assert alive(sim, key)  # killed at 32: the hook sleeps until 37
    sim.run(60)
    terminated = [(e.t, e.exit_code) for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert terminated == [(32 + 5 + STOP, k8s.SIGTERM_EXIT_CODE)]
    assert times(sim, ev.ContainerStarted, key) == [START, 32 + 5 + STOP]


def test_a_powered_off_machine_runs_no_pre_stop_hook():
    sim = one_node()
    key = run_pod(sim, containers=(ContainerSpec("main", pre_stop_seconds=10.0),))
    sim.run(10)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "ScaleDown")
    sim.run(12)
    k = kubelet(sim, key)
    assert alive(sim, key) and k.power_off()
    assert not k.pods  # every container died with the machine, hook or not


def test_a_stopped_kubelet_redoes_the_pre_stop_hook_when_back():
    """Work in flight is redone from the start (module docstring); upstream's new kubelet process
    likewise kills the containers anew, hook first, with the pod's whole deletion grace period."""
    sim = one_node()
    key = run_pod(sim, containers=(ContainerSpec("main", pre_stop_seconds=10.0),))
    sim.run(10)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "ScaleDown")
    sim.run(15)
    k = kubelet(sim, key)
    assert k.stop_kubelet()
    sim.run(30)
    assert alive(sim, key)  # nobody stops it: the kubelet is away
    assert k.start_kubelet()
    sim.run(60)
    assert times(sim, ev.PodDeleted, key) == [30 + 10 + STOP]


def test_a_pod_deleted_before_it_starts_never_runs():
    sim = one_node()
    key = run_pod(sim)
    sim.run(1)
    sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "ScaleDown")
    sim.run(10)
    assert times(sim, ev.PodDeleted, key) == [1.0]
    assert times(sim, ev.ContainerStarted, key) == []


# --- kubelet process, machine power, runtime -------------------------------------------------------
def test_the_lease_is_renewed_every_ten_seconds_at_a_seeded_phase():
    def beats(seed: int) -> dict[str, list[float]]:
        """Each node's renewal times in the first minute, read off the lease every 0.1 s."""
        sim = Simulation(ClusterSpec.uniform(nodes=4, zones=2), seed=seed, scheduler="first-fit")
        seen: dict[str, list[float]] = {name: [] for name in sim.state.nodes}
        for tick in range(1, 601):
            sim.run(tick / 10)
            for name, renewals in seen.items():
                renewed = sim.state.last_renewal(name)
                if renewed > 0 and (not renewals or renewed != renewals[-1]):
                    renewals.append(renewed)
        return seen

    first = beats(8)
    assert first == beats(8)
    for renewals in first.values():
        assert 0 < renewals[0] <= k8s.NODE_LEASE_RENEW_SECONDS
        gaps = {round(b - a, 9) for a, b in zip(renewals, renewals[1:])}
        assert gaps == {k8s.NODE_LEASE_RENEW_SECONDS}
        assert len(renewals) == 6
    assert len({renewals[0] for renewals in first.values()}) > 1  # phases differ between nodes


def test_a_stopped_kubelet_leaves_its_containers_running_and_catches_up_when_back():
    sim = one_node()
    key, doomed, crashing = run_pod(sim, "p"), run_pod(sim, "doomed"), run_pod(sim, "crashing")
    sim.run(10)
    k = kubelet(sim, key)
    assert k.stop_kubelet() and not k.stop_kubelet()
    heartbeat = sim.state.last_renewal(k.node_name)
    assert k.crash_container(crashing)  # the process dies; nobody reports it
    sim.state.request_pod_deletion(sim.state.pods_by_key[doomed].uid, "ScaleDown")
    late = run_pod(sim, "late")  # bound to the node while its kubelet is down
    sim.run(40)
    assert sim.state.last_renewal(k.node_name) == heartbeat
    assert status(sim, crashing).state == "running"  # the API still shows the last report
    assert doomed in sim.state.pods_by_key
    assert times(sim, ev.ContainerStarted, late) == []
    assert k.start_kubelet()
    sim.run(50)
    assert sim.state.last_renewal(k.node_name) >= 40  # renewed at once
    assert times(sim, ev.ContainerTerminated, key) == []  # kept running all along
    assert times(sim, ev.ContainerTerminated, crashing) == [40.0]  # reported on return, restarted
    assert times(sim, ev.ContainerStarted, crashing) == [START, 40.0]
    assert times(sim, ev.PodDeleted, doomed) == [40 + STOP]
    assert times(sim, ev.ContainerStarted, late) == [40 + START]


def test_a_powered_off_machine_loses_its_containers_and_restarts_them_when_back():
    sim = one_node()
    key, doomed = run_pod(sim, "p"), run_pod(sim, "doomed")
    sim.run(10)
    k = kubelet(sim, key)
    assert k.power_off() and not k.power_off()
    assert not sim.state.nodes[k.node_name].up
    assert not k.crash_container(key)  # no container left to crash
    assert status(sim, key).state == "running"  # the API does not know yet
    sim.state.request_pod_deletion(sim.state.pods_by_key[doomed].uid, "TaintEviction")
    sim.run(30)
    assert doomed in sim.state.pods_by_key  # nobody to finish the deletion
    assert k.power_on()
    sim.run(40)
    assert times(sim, ev.PodDeleted, doomed) == [30.0]  # finished off at once: nothing runs
    terminated = [(e.t, e.exit_code, e.reason) for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert terminated == [(30.0, k8s.SIGKILL_EXIT_CODE, "ContainerStatusUnknown")]
    assert times(sim, ev.ContainerStarted, key) == [START, 30 + START]
    assert status(sim, key).restart_count == 1
    assert sim.state.pods_by_key[key].ready


def test_a_machine_restart_fails_a_never_restarting_pod():
    sim = one_node()
    key = run_pod(sim, policy="Never")
    sim.run(10)
    kubelet(sim, key).power_off()
    sim.run(20)
    kubelet(sim, key).power_on()
    sim.run(30)
    assert sim.state.pods_by_key[key].phase == "Failed"
    assert times(sim, ev.ContainerStarted, key) == [START]


def test_a_restarted_kubelet_has_forgotten_the_crash_loop_back_off():
    """The back-off table is the kubelet's memory (kubelet.go ``klet.backOff``): after a restart of
    the process, a container waiting out a 160 s back-off restarts at the first sync, and the next
    crash waits 10 s. The model kept the table and restarted it 160 s after the crash."""
    sim = one_node()
    key = run_pod(sim)
    sim.run(5)
    for _ in range(5):  # delays 0, 10, 20, 40, 80: the sixth crash waits 160 s
        kubelet(sim, key).crash_container(key)
        sim.run_for(200)
    k = kubelet(sim, key)
    k.crash_container(key)
    crashed = sim.now
    assert status(sim, key).reason == "CrashLoopBackOff"
    assert [e.backoff for e in sim.trace.of_type(ev.ContainerWaiting) if e.pod == key][-1] == 160
    k.stop_kubelet()
    sim.run_for(5)
    k.start_kubelet()
    sim.run_for(1)
    assert times(sim, ev.ContainerStarted, key)[-1] == crashed + 5
    k.crash_container(key)
    sim.run_for(60)
    assert crash_delays(sim, key)[-1] == k8s.CRASH_LOOP_INITIAL_BACKOFF_SECONDS


def test_a_failed_runtime_reports_the_node_not_ready_30_s_later_while_the_lease_goes_on():
    """runtimeErrors (pkg/kubelet/runtime.go) says "container runtime is down" once the status check
    has not succeeded for maxWaitForContainerRuntime (30 s, kubelet.go); the next status update posts
    Ready=False. The model posted it the instant the runtime failed."""
    assert k8s.MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS == 30.0
    sim, key, k = a_pod_10_s_in()
    assert k.fail_runtime()
    sim.run(40)
    assert sim.state.nodes[k.node_name].ready == "True"
    sim.run(60)
    [(t, ready, reason)] = [(e.t, e.status, e.reason) for e in sim.trace.of_type(ev.NodeReadyChanged)]
    assert (ready, reason) == ("False", "KubeletNotReady") and 40 < t <= 50  # at the renewal after 10 + 30 s
    assert sim.state.last_renewal(k.node_name) > 50
    assert k.recover_runtime()  # seen by the status check at 60 (10 + 10 x 5 s), Ready at the renewal after
    sim.run(70)
    assert sim.state.nodes[k.node_name].ready == "True"


def test_a_recovered_runtime_is_reported_ready_after_the_next_status_check_and_renewal():
    """updateRuntimeUp runs every 5 s (pkg/kubelet/kubelet.go) and runtimeErrors (runtime.go) clears
    only at the check that sees the runtime answer; the next node status update posts Ready=True.
    The model reported Ready the instant the runtime recovered: here at 62 s; now at the first
    renewal after the check at 65 s (checks from the failure at 10 s, every 5 s)."""
    assert k8s.RUNTIME_STATUS_CHECK_SECONDS == 5.0
    sim, key, k = a_pod_10_s_in()
    assert k.fail_runtime()
    sim.run(62)
    [not_ready] = [e.t for e in sim.trace.of_type(ev.NodeReadyChanged)]
    assert k.recover_runtime()
    assert k.ready_to_report() == "False" and sim.state.nodes[k.node_name].ready == "False"
    sim.run(200)
    renewal_after_check = min(not_ready + 10 * n for n in range(20) if not_ready + 10 * n > 65)
    ready = [(e.t, e.status, e.reason) for e in sim.trace.of_type(ev.NodeReadyChanged)]
    assert ready[1:] == [(pytest.approx(renewal_after_check), "True", "KubeletReady")]


def test_a_runtime_that_fails_again_before_the_check_sees_it_keeps_the_node_not_ready():
    """The runtime comes back at 62 s and fails again at 63 s, before the check at 65 s: its last
    successful check is still the one before 10 s, so the node stays NotReady (it must not wait 30 s
    more, nor be reported Ready on the way)."""
    sim, key, k = a_pod_10_s_in()
    k.fail_runtime()
    sim.run(62)
    k.recover_runtime()
    sim.run(63)
    k.fail_runtime()
    sim.run(120)
    assert [e.status for e in sim.trace.of_type(ev.NodeReadyChanged)] == ["False"]
    k.recover_runtime()  # at 120: seen by the check at 120 (10 + 22 x 5 s), Ready at the next renewal
    sim.run(131)
    assert [e.status for e in sim.trace.of_type(ev.NodeReadyChanged)] == ["False", "True"]


def test_a_runtime_outage_shorter_than_30_s_leaves_the_node_ready():
    sim, key, k = a_pod_10_s_in()
    for _ in range(3):
        assert k.fail_runtime()
        sim.run_for(25)
        assert k.recover_runtime()
        sim.run_for(10)
    sim.run_for(60)
    assert list(sim.trace.of_type(ev.NodeReadyChanged)) == []


def test_a_kubelet_started_while_the_runtime_is_down_reports_not_ready_at_once():
    """A new kubelet process whose runtime check never succeeded is NotReady at once ("container
    runtime status check may not have completed yet", runtime.go)."""
    sim, key, k = a_pod_10_s_in()
    k.stop_kubelet()
    assert k.fail_runtime()
    sim.run(20)
    k.start_kubelet()
    assert sim.state.nodes[k.node_name].ready == "False"


def test_pod_work_resumes_at_the_runtime_check_that_sees_the_runtime_back():
    """kubelet.go syncLoop skips pod synchronization while runtimeErrors (runtime.go) is set, and it
    clears only at the updateRuntimeUp check (every 5 s, from the failure at 10 s) that sees the
    runtime answer: an exit that happened during the outage and a deletion asked at 50 s are taken
    up at the check at 65 s (the pod gone at 66 s, after its 1 s stop), not at the recovery at 62 s
    (gone at 63 s)."""
    sim = one_node()
    key = run_pod(sim)
    other = run_pod(sim, "other")
    sim.run(10)
    k = kubelet(sim, key)
    assert k.fail_runtime()
    sim.run(45)
    k.crash_container(key)  # unreported: the runtime is down
    sim.run(50)
    sim.state.request_pod_deletion(sim.state.pods_by_key[other].uid, "Chaos")
    sim.run(62)
    assert k.recover_runtime() and not k.acting
    sim.run(64.9)
    assert times(sim, ev.ContainerTerminated, key) == [] and other in sim.state.pods_by_key
    sim.run(80)
    assert k.acting
    assert times(sim, ev.ContainerTerminated, key) == [65.0]
    assert times(sim, ev.PodDeleted, other) == [65.0 + STOP]


def test_pod_work_resumes_at_once_after_a_runtime_outage_too_short_to_set_the_runtime_error():
    """Down less than 30 s (maxWaitForContainerRuntime), runtimeErrors was never set: the sync loop
    never skipped, and the kubelet takes up the pod work at the recovery."""
    sim, key, k = a_pod_10_s_in()
    assert k.fail_runtime()
    sim.run(20)
    k.crash_container(key)
    sim.run(32)
    assert k.recover_runtime() and k.acting
    sim.run(40)
    assert times(sim, ev.ContainerTerminated, key) == [32.0]


# --- random fault schedules ------------------------------------------------------------------------
def runtime_matches_api(sim: Simulation) -> None:
    """While a kubelet can act, what the API shows of its containers is what runs."""
    for name, k in sim.kubelets.items():
        if name not in sim.state.nodes or not k.acting:
            continue
        for run in k.pods.values():
            assert sim.state.pods.get(run.pod.uid) is run.pod
            for c in run.containers:
                assert c.unreported is None
                assert (run.pod.containers[c.index].state == "running") is c.alive


FAULTS = st.tuples(st.sampled_from([0.5, 1.0, 3.0, 7.0, 20.0]), st.integers(0, 11), st.integers(0, 10**6), st.integers(0, 2))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(faults=st.lists(FAULTS, max_size=40), startup=st.booleans())
def test_random_faults_keep_the_books_straight_and_heal(faults: list[tuple[float, int, int, int]], startup: bool):
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=3), seed=2, scheduler="first-fit")
    web = ContainerSpec(
        "web",
        readiness_probe=Probe(initial_delay_seconds=3, period_seconds=5),
        liveness_probe=Probe(period_seconds=5, failure_threshold=2),
        startup_probe=Probe(initial_delay_seconds=2, period_seconds=4) if startup else None,
    )
    for i in range(6):
        run_pod(sim, f"p{i}", grace=5.0, containers=(web, ContainerSpec("side")))
    for delay, op, pick, arg in faults:
        sim.run_for(delay)
        keys = sorted(sim.state.pods_by_key)
        k = sim.kubelets[sorted(sim.kubelets)[pick % 3]]
        key = keys[pick % len(keys)] if keys else "default/none"
        target = kubelet_for(sim, key)
        probe = ("liveness", "readiness", "startup")[arg]
        if target is not None and op < 5:
            [
                lambda: target.crash_container(key, arg % 2, exit_code=arg),
                lambda: target.oom_kill_container(key),
                lambda: target.fail_probe(key, "web", probe),
                lambda: target.recover_probe(key, "web", probe),
                lambda: target.exit_container(key, "web", exit_code=arg % 2, after=5.0 * arg),
            ][op]()
        elif op == 5 and key in sim.state.pods_by_key:
            sim.state.request_pod_deletion(sim.state.pods_by_key[key].uid, "Chaos")
        elif op >= 6:
            [k.stop_kubelet, k.start_kubelet, k.power_off, k.power_on, k.fail_runtime, k.recover_runtime][op - 6]()
        runtime_matches_api(sim)
    for k in sim.kubelets.values():
        k.power_on(), k.start_kubelet(), k.recover_runtime()
    sim.run_for(START + 1)  # restarted containers are now waiting for their startup probe
    for key in list(sim.state.pods_by_key):
        target = kubelet_for(sim, key)
        for probe in ("liveness", "readiness", "startup"):
            if target is not None:
                target.recover_probe(key, "web", probe)
    sim.run_for(k8s.CRASH_LOOP_MAX_BACKOFF_SECONDS + 60)
    runtime_matches_api(sim)
    for pod in sim.state.pods.values():  # every surviving pod runs again (restartPolicy Always)
        assert pod.deletion_timestamp is None and pod.phase == "Running" and pod.ready, pod.key


def test_a_crash_with_exit_code_0_is_completed_and_impossible_exit_codes_or_delays_are_refused():
    """crash_container(exit_code=0) was recorded with reason Error (upstream: Completed); exit codes
    -7 and 'x' were written to the trace, and exit_container(after=nan) was taken."""
    sim = one_node()
    key = run_pod(sim)
    sim.run(10)
    node_kubelet = kubelet(sim, key)
    for bad in (-7, 256, "x", True):
        with pytest.raises(ValueError, match="exit_code must be a whole number from 0 to 255"):
            node_kubelet.crash_container(key, exit_code=bad)
    for bad in (float("nan"), -5, float("inf")):
        with pytest.raises(ValueError, match="after must be a finite number of seconds >= 0"):
            node_kubelet.exit_container(key, after=bad)
    assert node_kubelet.crash_container(key, exit_code=0)
    [ended] = [e for e in sim.trace.of_type(ev.ContainerTerminated) if e.pod == key]
    assert (ended.exit_code, ended.reason) == (0, "Completed")


# --- admission of pods that name their node (no scheduler saw them) ---------------------------------
PINNED = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  {extra}
  containers:
  - name: app
    image: nginx:1
    resources: {{requests: {{cpu: {cpu}, memory: 64Mi}}}}
"""


def pin(sim: Simulation, name: str, node: str = "worker-1", cpu: str = "100m", extra: str = "") -> Pod:
    """Apply a bare Pod manifest whose spec.nodeName is ``node``; return the pod."""
    sim.apply(load_manifests(text=PINNED.format(name=name, node=node, cpu=cpu, extra=extra)))
    return sim.state.pods_by_key[f"default/{name}"]


def test_a_pod_naming_a_full_node_is_rejected_by_the_kubelet_not_held_by_the_scheduler():
    """It went to the scheduler, which kept it Pending as unschedulable; upstream it is bound as
    written and the kubelet's admission fails it with OutOfcpu (pkg/kubelet/lifecycle/predicate.go)."""
    sim = one_node()  # 4 CPUs
    big = pin(sim, "big", cpu="3")
    second = pin(sim, "second", cpu="3")
    sim.run(30)
    assert [(e.t, e.pod, e.node) for e in sim.trace.of_type(ev.PodBound)] == [
        (0.0, "default/big", "worker-1"),
        (0.0, "default/second", "worker-1"),
    ]
    assert not sim.trace.of_type(ev.PodUnschedulable)
    assert (big.phase, big.ready) == ("Running", True)
    assert (second.phase, second.reason) == ("Failed", "OutOfcpu")
    assert [e.pod for e in sim.trace.of_type(ev.ContainerStarted)] == ["default/big"]
    assert [(e.t, e.pod, e.phase) for e in sim.trace.of_type(ev.PodPhaseChanged) if e.phase == "Failed"] == [
        (START, "default/second", "Failed")
    ]


def test_the_kubelet_rejects_a_named_pod_whose_node_selector_its_node_does_not_match():
    sim = one_node()
    pod = pin(sim, "p", extra="nodeSelector: {disktype: ssd}")
    sim.run(10)
    assert (pod.node_name, pod.phase, pod.reason) == ("worker-1", "Failed", "NodeAffinity")
    assert not sim.trace.of_type(ev.ContainerStarted)


def test_a_named_pod_on_a_node_with_an_untolerated_noexecute_taint_never_runs():
    """The taint manager evicts it at once; the kubelet would reject it too (TaintToleration)."""
    sim = one_node()
    sim.state.add_taint("worker-1", Taint("dedicated", "db", "NoExecute"))
    pod = pin(sim, "p")
    sim.run(10)
    assert pod.uid not in sim.state.pods and not sim.trace.of_type(ev.ContainerStarted)
    assert [e.reason for e in sim.trace.of_type(ev.PodDeletionRequested)] == ["TaintEviction"]


def test_admission_failure_checks_slots_resources_affinity_name_and_noexecute_taints_in_upstream_order():
    def node(cpu=4000, pods=110, taints=(), labels=None):
        return Node("worker-1", 0, labels or {}, Resources(cpu, 2**30, pods), Resources(cpu, 2**30, pods), taints=taints)

    def pod(cpu=1000, memory=2**20, **spec):
        container = ContainerSpec("app", requests=Resources(cpu, memory))
        return Pod("u", "p", "default", {}, PodSpec(containers=(container,), node_name=spec.pop("node_name", "worker-1"), **spec), 0.0)

    other = pod(cpu=3500)
    assert admission_failure(pod(), node(), []) is None
    assert admission_failure(pod(), node(), [other]) == "OutOfcpu"
    assert admission_failure(pod(memory=2**31), node(), []) == "OutOfmemory"
    assert admission_failure(pod(cpu=5000), node(pods=1), [other]) == "OutOfpods"  # the slot is checked first
    assert admission_failure(pod(cpu=0, memory=0), node(cpu=0), [other]) is None  # requests nothing: the slot only
    assert admission_failure(pod(node_selector=(("disk", "ssd"),)), node(), []) == "NodeAffinity"
    assert admission_failure(pod(node_name="worker-2"), node(), []) == "NodeName"
    tainted = node(taints=(Taint("a", "", "NoSchedule"), Taint("b", "x", "NoExecute")))
    assert admission_failure(pod(), tainted, []) == "TaintToleration"
    assert admission_failure(pod(tolerations=(Toleration("b", "Exists"),)), tainted, []) is None  # NoSchedule ignored


def test_a_named_pod_runs_on_a_cordoned_node_with_a_noschedule_taint():
    """Cordons and NoSchedule taints are the scheduler's filters; the kubelet checks NoExecute only."""
    sim = one_node()
    sim.state.set_unschedulable("worker-1", True)
    sim.state.add_taint("worker-1", Taint("dedicated", "db", "NoSchedule"))
    pod = pin(sim, "p")
    sim.run(10)
    assert (pod.node_name, pod.phase, pod.ready) == ("worker-1", "Running", True)


def test_a_named_pod_on_a_dead_node_waits_and_is_evicted_by_its_default_toleration():
    """Bound at once though the node is Unknown; the kubelet cannot start it; the taint manager evicts
    it 300 s later (DefaultTolerationSeconds); it stays Terminating while the node is gone."""
    sim = one_node(nodes=2)
    sim.kubelets["worker-1"].power_off()
    sim.run(100)
    assert sim.state.nodes["worker-1"].ready == "Unknown"
    pod = pin(sim, "p")
    sim.run(500)
    assert pod.node_name == "worker-1" and pod.phase == "Pending"
    [evicted] = sim.trace.of_type(ev.PodDeletionRequested)
    assert (evicted.t, evicted.reason) == (100.0 + k8s.DEFAULT_TOLERATION_SECONDS, "TaintEviction")
    sim.kubelets["worker-1"].power_on()
    sim.run(600)
    assert pod.uid not in sim.state.pods and not sim.trace.of_type(ev.ContainerStarted)


def test_a_named_pod_bound_while_the_kubelet_was_stopped_is_admitted_when_it_comes_back():
    sim = one_node()
    sim.kubelets["worker-1"].stop_kubelet()
    fits, too_big = pin(sim, "fits", cpu="3"), pin(sim, "too-big", cpu="3")
    sim.run(5)
    sim.kubelets["worker-1"].start_kubelet()
    sim.run(20)
    assert (fits.phase, too_big.phase, too_big.reason) == ("Running", "Failed", "OutOfcpu")


def test_a_named_node_removed_later_takes_its_pod_with_it():
    """The store deletes a removed node's pods with it (reason NodeRemoved); upstream leaves them to
    gcOrphaned, 40 to 60 s later (see model/controllers/podgc.py)."""
    sim = one_node(nodes=2)
    pod = pin(sim, "p")
    sim.run(10)
    sim.state.remove_node("worker-1")
    assert pod.uid not in sim.state.pods
    assert [(e.t, e.reason) for e in sim.trace.of_type(ev.PodDeleted)] == [(10.0, "NodeRemoved")]


def test_after_a_cut_ready_comes_at_the_next_status_update_and_the_lease_at_the_next_retry():
    """Reconnected, the kubelet is not heard of at once. Its next node status update
    (pkg/kubelet/kubelet_node_status.go, every 10 s on its phase) posts Ready=True over the node
    lifecycle controller's Unknown; its lease controller, retrying since the first renewal that
    failed (component-helpers/apimachinery/lease/controller.go backoffEnsureLease: 0.2 s doubling to
    7 s), renews at its next retry; the next monitor pass lifts the NoExecute taint. Seed 1: the
    kubelet renews at x1.7 s; cut off 60..180 s."""
    sim = one_node(nodes=2)
    k = sim.kubelets["worker-1"]
    sim.run(60)
    assert sim.state.last_renewal("worker-1") == 51.7
    assert k.set_api_reachable(False)
    sim.run(180)
    node = sim.state.nodes["worker-1"]
    assert node.ready == "Unknown"
    assert k.set_api_reachable(True)
    assert node.ready == "Unknown" and sim.state.last_renewal("worker-1") == 51.7  # nothing at once
    renewals = []
    for tick in range(1801, 1950):
        sim.run(tick / 10)
        renewed = sim.state.last_renewal("worker-1")
        if renewed != (renewals or [51.7])[-1]:
            renewals.append(renewed)
    # 181.7: the status update (a changed Ready counts as a heartbeat); 186.3: the lease retry
    # (61.7 failed; retries at 61.9, 62.3, 63.1, 64.7, 67.9, 74.3, then every 7 s); then on the slot.
    assert renewals == pytest.approx([181.7, 186.3, 191.7])
    back = [e.t for e in sim.trace.of_type(ev.NodeReadyChanged) if e.status == "True"]
    assert back == pytest.approx([181.7])  # was 180.0, at the reconnection
    untainted = [e.t for e in sim.trace.of_type(ev.NodeUntainted) if e.effect == "NoExecute"]
    assert untainted == [185.0]  # the next monitor pass


def test_a_cut_that_ends_before_the_next_renewal_misses_none():
    sim = one_node(nodes=2)
    k = sim.kubelets["worker-1"]
    sim.run(60)
    k.set_api_reachable(False)
    sim.run(61.65)  # reconnected before its next renewal (61.7): nothing failed
    k.set_api_reachable(True)
    sim.run(61.75)
    assert sim.state.last_renewal("worker-1") == pytest.approx(61.7)


def test_after_a_cut_a_pod_marked_not_ready_is_ready_again_at_the_status_managers_next_full_sync():
    """The node lifecycle controller marks the pods of a node gone Unknown not Ready
    (MarkPodsNotReady); the kubelet, whose own status of them never changed, puts Ready back only at
    its status manager's next full sync (pkg/kubelet/status/status_manager.go syncBatch, every 10 s
    from the kubelet's start: 190 s for a kubelet started at 0), not at the reconnection (180 s, as
    before). A pod whose own status changes meanwhile is written at once."""
    sim = one_node(nodes=2)
    key, other = run_pod(sim, "p"), run_pod(sim, "q")
    sim.run(60)
    k = kubelet(sim, key)
    assert k.node_name == kubelet(sim, other).node_name == "worker-1"
    k.set_api_reachable(False)
    sim.run(180)
    pod = sim.state.pods_by_key[key]
    assert not pod.ready and times(sim, ev.PodReadyChanged, key) == [START, 110.0]  # marked at Unknown
    k.set_api_reachable(True)
    sim.run(185)
    assert not pod.ready  # the node is Ready again (181.7), the pod not yet
    assert k.crash_container(other)  # its own status changes: written at once, and again on restart
    sim.run(195)
    assert times(sim, ev.PodReadyChanged, key)[2:] == [190.0]
    assert pod.ready and sim.state.pods_by_key[other].ready
    assert times(sim, ev.PodReadyChanged, other)[2:] == [185.0]


def test_pods_marked_not_ready_just_after_a_heal_are_ready_again_at_the_next_full_sync():
    """A cut that heals just before the node's grace runs out (109.5 s; the lease retry that gets
    through is at 116.3 s) leaves the node lifecycle controller to set it Unknown at 110 s and mark its
    pods not Ready while the kubelet already hears the API server. Upstream the status manager's
    periodic full sync (pkg/kubelet/status/status_manager.go syncBatch, every 10 s) re-sends their
    Ready: here at 120 s. The model put Ready back only for marks made during the cut, so such a pod
    stayed not Ready for good (a 300-example zone-balancer campaign failed replicas-converge on it)."""
    sim = one_node(nodes=2)
    key = run_pod(sim, "p")
    sim.run(60)
    k = kubelet(sim, key)
    k.set_api_reachable(False)
    sim.run(109.5)
    k.set_api_reachable(True)
    sim.run(111)
    pod = sim.state.pods_by_key[key]
    assert sim.state.nodes[k.node_name].ready == "Unknown" and not pod.ready  # marked after the heal
    sim.run(130)  # the node is Ready at its status update (111.7 s), the pod at the full sync
    assert times(sim, ev.PodReadyChanged, key) == [START, 110.0, 120.0]
    assert pod.ready and sim.state.nodes[k.node_name].ready == "True"


def test_a_runtime_back_just_after_30_s_but_before_the_not_ready_post_is_reported_ready_after_the_check():
    """Down from 10 s, back at 41 s: runtimeErrors is set from 40 s, so the status update at the
    renewal after 40 s posts NotReady although the runtime already answers; the check at 45 s sees it
    and the renewal after posts Ready (upstream's status loop posts whatever it finds each time). The
    model posted NotReady and never Ready again: the node was tainted and its pods evicted 300 s later
    (a 1,000-example default-scheduler campaign failed replicas-converge on it)."""
    sim, key, k = a_pod_10_s_in()
    assert k.fail_runtime()
    sim.run(41)
    assert sim.state.nodes[k.node_name].ready == "True"  # the NotReady post waits for the next renewal
    assert k.recover_runtime()
    sim.run(120)
    changes = [(e.t, e.status) for e in sim.trace.of_type(ev.NodeReadyChanged)]
    assert [status for _, status in changes] == ["False", "True"]
    assert 41 < changes[0][0] <= 51 and 45 < changes[1][0] <= 55
    assert sim.state.nodes[k.node_name].ready == "True"
