"""jobs-complete: every Job completes, or fails only as its spec allows; a Job whose backoffLimit the
faults' disruptions spent is a finding. From hand-written traces, and from a simulated node failure."""

from __future__ import annotations

from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model import trace as ev
from podquake.properties import Suite, check_trace


def judge(events: list[ev.Event], end: float = 1000.0):
    (verdict,) = check_trace(events, Suite.of(["jobs-complete"]), end=end)
    return verdict


def created(t: float = 0.0) -> ev.WorkloadCreated:
    return ev.WorkloadCreated(t, "Job", "default/work", 1)


def failed(t: float, reason: str, failed: int, limit: int) -> list[ev.Event]:
    return [ev.JobConditionChanged(t, "default/work", "FailureTarget", True, reason, "m", 0, failed, limit),
            ev.JobConditionChanged(t + 1, "default/work", "Failed", True, reason, "m", 0, failed, limit)]


def test_a_run_without_jobs_holds_at_once():
    verdict = judge([ev.NodeAdded(0.0, "worker-1", "zone-a", 1000, 1 << 30, 110)], end=1.0)
    assert verdict.status == "passed" and verdict.message == "no Jobs in this run"


def test_a_complete_job_holds():
    events = [created(), ev.JobPodFinished(30.0, "default/work", "default/work-a", "Succeeded"),
              ev.JobConditionChanged(30.0, "default/work", "Complete", True, "CompletionsReached", "", 1, 0, 6)]
    verdict = judge(events)
    assert verdict.status == "passed" and verdict.message == "1 of 1 Job(s) complete"


def test_a_job_whose_disruptions_spent_its_backoff_limit_fails():
    events = [created(), ev.JobPodFinished(415.0, "default/work", "default/work-a", "Failed", True, True, "deleted (TaintEviction)"),
              *failed(415.0, "BackoffLimitExceeded", 1, 0)]
    verdict = judge(events)
    assert verdict.status == "failed"
    assert "1 of its 1 counted pod failures were disruptions" in verdict.message
    assert "onPodConditions: [{type: DisruptionTarget}]" in verdict.message
    assert verdict.numbers["failed_at"] == 415.0


def test_a_job_failed_by_its_own_exit_codes_or_deadline_holds_with_a_note():
    for reason, disrupted in (("BackoffLimitExceeded", False), ("DeadlineExceeded", False)):
        events = [created(), ev.JobPodFinished(10.0, "default/work", "default/work-a", "Failed", True, disrupted, "exit code 1"),
                  *failed(10.0, reason, 1, 0)]
        verdict = judge(events)
        assert verdict.status == "passed" and f"failed as its spec allows ({reason}" in verdict.note


def test_exit_code_failures_that_alone_exceed_the_limit_are_the_spec_not_the_faults():
    events = [created(),
              ev.JobPodFinished(10.0, "default/work", "default/work-a", "Failed", True, False, "exit code 1"),
              ev.JobPodFinished(30.0, "default/work", "default/work-b", "Failed", True, False, "exit code 1"),
              ev.JobPodFinished(60.0, "default/work", "default/work-c", "Failed", True, True, "deleted (TaintEviction)"),
              *failed(60.0, "BackoffLimitExceeded", 3, 1)]
    assert judge(events).status == "passed"


def test_a_stalled_job_fails_and_a_running_one_is_only_noted():
    stalled = judge([created()], end=1000.0)
    assert stalled.status == "failed" and "nothing is running for it" in stalled.message
    running = [created(), ev.NodeAdded(0.0, "worker-1", "zone-a", 1000, 1 << 30, 110),
               ev.PodCreated(0.0, "default/work-a", "Job/default/work", 100, 0),
               ev.PodBound(1.0, "default/work-a", "worker-1"), ev.PodPhaseChanged(2.0, "default/work-a", "Running")]
    verdict = judge(running, end=1000.0)
    assert verdict.status == "passed" and "still running" in verdict.note


def test_a_job_still_in_its_bound_or_back_off_is_not_judged():
    assert judge([created(900.0)], end=1000.0).status == "unknown"
    backing_off = [created(), *[ev.JobPodFinished(t, "default/work", f"default/work-{t:g}", "Failed", True, False, "exit 1")
                                for t in (10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0)]]
    assert judge(backing_off, end=1000.0).status == "unknown"  # 7 failures: 600 s back-off from t=640


def _node_failure(policy: str) -> str:
    sim = Simulation(ClusterSpec.default(), seed=1)
    sim.apply(load_manifests(text=f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: train}}
spec:
  backoffLimit: 0
{policy}  template:
    spec:
      restartPolicy: Never
      containers: [{{name: t, image: busybox, command: [sleep, '600']}}]
"""))
    sim.run_for(60)
    (pod,) = sim.state.pods.values()
    sim.kubelets[pod.node_name].power_off()
    sim.run_for(700)
    sim.kubelets[pod.node_name].power_on()
    sim.state.record(ev.Annotation(sim.now, "all-healed", ""))
    sim.run_for(1000)
    (verdict,) = check_trace(sim.trace, Suite.of(["jobs-complete"]), end=sim.now)
    return verdict.status


def test_a_node_failure_fails_a_job_without_a_disruption_policy_and_not_one_with_it():
    assert _node_failure("") == "failed"
    assert _node_failure("  podFailurePolicy:\n    rules:\n    - {action: Ignore, onPodConditions: [{type: DisruptionTarget}]}\n") == "passed"
