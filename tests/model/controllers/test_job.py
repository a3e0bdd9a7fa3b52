"""The Job controller (pkg/controller/job/job_controller.go, pod_failure_policy.go, backoff_utils.go,
indexed_job_utils.go) and Job manifests (pkg/apis/batch/v1/defaults.go, pkg/apis/batch/validation).

Every behaviour test runs a Job from a manifest: without the controller no pod is created and each fails."""

from __future__ import annotations

import pytest

from podquake.model import ClusterSpec, Simulation, load_manifests
from podquake.model import constants as k8s
from podquake.model import trace as ev
from podquake.model.controllers.job import backoff_delay
from podquake.model.errors import InputError
from podquake.model.objects import Job

_POLICY = """  podFailurePolicy:
    rules:
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget}]
"""


def job_yaml(command: str = "[sleep, '30']", *, restart: str = "Never", extra: str = "", name: str = "work") -> str:
    return f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
{extra}  template:
    spec:
      restartPolicy: {restart}
      containers:
      - {{name: main, image: busybox, command: {command}, resources: {{requests: {{cpu: 100m}}}}}}
"""


def run_job(text: str, seconds: float, *, seed: int = 1, nodes: int | None = None) -> tuple[Simulation, Job]:
    sim = Simulation(ClusterSpec.default() if nodes is None else ClusterSpec.uniform(nodes=nodes), seed=seed)
    sim.apply(load_manifests(text=text))
    job = next(w for w in sim.state.workloads.values() if isinstance(w, Job))
    sim.run_for(seconds)
    return sim, job


def finished(sim: Simulation) -> list[ev.JobPodFinished]:
    return [e for e in sim.trace.events if isinstance(e, ev.JobPodFinished)]


def conditions(sim: Simulation) -> list[tuple[str, str]]:
    return [(e.condition, e.reason) for e in sim.trace.events if isinstance(e, ev.JobConditionChanged)]


def created(sim: Simulation) -> list[float]:
    return [e.t for e in sim.trace.events if isinstance(e, ev.PodCreated)]


# --- running to completion -----------------------------------------------------------------------
def test_completions_run_parallelism_at_a_time_and_the_job_completes():
    sim, job = run_job(job_yaml(extra="  completions: 5\n  parallelism: 2\n"), 300)
    # 2 pods, then 2 more when they succeed (30 s run + 2 s start), then the last one
    assert created(sim) == [0.0, 0.0, 32.0, 32.0, 64.0]
    assert [e.outcome for e in finished(sim)] == ["Succeeded"] * 5
    assert conditions(sim) == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert job.status.condition == "Complete" and job.status.succeeded == 5 and job.status.finished_at == 96.0
    pods = list(sim.state.pods_owned_by(job.uid))
    assert all(p.phase == "Succeeded" for p in pods) and len(pods) == 5  # kept, as upstream keeps finished pods
    assert all(p.labels[k8s.LABEL_JOB_NAME] == "work" and p.labels[k8s.LABEL_JOB_CONTROLLER_UID] == job.uid for p in pods)
    assert sim.workload_status("Job", "default", "work").converged


def test_defaults_follow_the_api_server():
    (manifest,) = load_manifests(text=job_yaml())
    job = manifest.obj
    assert (job.completions, job.parallelism, job.backoff_limit, job.completion_mode) == (1, 1, 6, "NonIndexed")
    assert job.pod_replacement_policy == "TerminatingOrFailed" and not job.suspend
    (with_policy,) = load_manifests(text=job_yaml(extra=_POLICY))
    assert with_policy.obj.pod_replacement_policy == "Failed"
    (queue,) = load_manifests(text=job_yaml(extra="  parallelism: 3\n"))
    assert queue.obj.completions is None  # parallelism alone: a work-queue Job


def test_a_work_queue_job_completes_once_a_pod_succeeded_and_none_is_active():
    sim, job = run_job(job_yaml(extra="  parallelism: 3\n"), 120)
    assert len(created(sim)) == 3 and job.status.condition == "Complete" and job.status.succeeded == 3


# --- failures, back-off, backoffLimit ----------------------------------------------------------------
def test_a_failed_pod_is_replaced_after_10_then_20_then_40_seconds():
    sim, job = run_job(job_yaml("[sh, -c, 'sleep 5; exit 1']", extra="  backoffLimit: 3\n"), 300)
    fails = [e.t for e in finished(sim)]
    # each pod fails 7 s after its creation (2 s start + 5 s run); the next comes 10, 20, 40 s after
    assert fails == [7.0, 24.0, 51.0, 98.0]
    assert created(sim) == [0.0, 17.0, 44.0, 91.0]
    assert [b - a for a, b in zip(fails, created(sim)[1:])] == [10.0, 20.0, 40.0]
    assert [backoff_delay(n) for n in (1, 2, 3, 7, 8)] == [10.0, 20.0, 40.0, 600.0, 600.0]


def test_backoff_limit_reached_fails_the_job_with_backoff_limit_exceeded():
    sim, job = run_job(job_yaml("[sh, -c, 'sleep 5; exit 1']", extra="  backoffLimit: 3\n"), 300)
    assert job.status.failed == 4 and job.status.condition == "Failed"
    assert conditions(sim) == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    assert job.status.message == "Job has reached the specified backoff limit"


def test_on_failure_counts_container_restarts_towards_the_backoff_limit():
    sim, job = run_job(job_yaml("[sh, -c, 'sleep 5; exit 1']", restart="OnFailure", extra="  backoffLimit: 2\n"), 300)
    assert len(created(sim)) == 1  # the container restarts in place; no new pod
    assert job.status.condition == "Failed" and job.status.reason == "BackoffLimitExceeded"
    pod = next(e for e in sim.trace.events if isinstance(e, ev.PodDeletionRequested) or isinstance(e, ev.PodDeleted))
    assert pod.reason == "BackoffLimitExceeded"


def test_active_deadline_terminates_the_pods_and_fails_with_deadline_exceeded():
    sim, job = run_job(job_yaml("[sleep, '300']", extra="  activeDeadlineSeconds: 40\n"), 200)
    deletions = [e for e in sim.trace.events if isinstance(e, ev.PodDeletionRequested)]
    assert [(e.t, e.reason) for e in deletions] == [(40.0, "DeadlineExceeded")]
    assert conditions(sim)[0] == ("FailureTarget", "DeadlineExceeded")
    assert job.status.condition == "Failed" and job.status.reason == "DeadlineExceeded"
    assert job.status.finished_at is not None and job.status.finished_at > 40.0  # once the pod has terminated


def test_pod_failure_policy_fail_job_on_an_exit_code_and_count_on_others():
    rules = """  backoffLimit: 5
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {operator: In, values: [42]}
"""
    sim, job = run_job(job_yaml("[sh, -c, 'sleep 5; exit 42']", extra=rules), 100)
    assert job.status.condition == "Failed" and job.status.reason == "PodFailurePolicy"
    assert "exit code 42 matching FailJob rule at index 0" in job.status.message
    sim, job = run_job(job_yaml("[sh, -c, 'sleep 5; exit 3']", extra=rules.replace("backoffLimit: 5", "backoffLimit: 1")), 200)
    assert job.status.reason == "BackoffLimitExceeded" and job.status.failed == 2


# --- node failure: DisruptionTarget and podFailurePolicy ------------------------------------------------
def _node_dies(policy: str):
    sim = Simulation(ClusterSpec.default(), seed=1)
    sim.apply(load_manifests(text=job_yaml("[sleep, '600']", extra="  backoffLimit: 0\n" + policy)))
    job = next(w for w in sim.state.workloads.values() if isinstance(w, Job))
    sim.run_for(60)
    (pod,) = sim.state.pods_owned_by(job.uid)
    node = pod.node_name
    sim.kubelets[node].power_off()
    sim.run_for(700)
    sim.kubelets[node].power_on()
    sim.run_for(1500)
    return sim, job


def test_without_a_policy_a_pod_evicted_from_a_dead_node_counts_as_a_failure():
    sim, job = _node_dies("")
    (failure,) = finished(sim)
    # evicted 300 s after the node went NotReady (40 s grace + the unreachable toleration): counted at once
    assert (failure.t, failure.counted, failure.disruption) == (415.0, True, True)
    assert job.status.condition == "Failed" and job.status.reason == "BackoffLimitExceeded"
    assert len(created(sim)) == 1


def test_a_pod_failure_policy_ignoring_disruption_target_lets_the_job_complete():
    sim, job = _node_dies(_POLICY)
    failure, success = finished(sim)
    # podReplacementPolicy Failed: the terminating pod is replaced only once it is gone (the node came back)
    assert (failure.outcome, failure.counted, failure.disruption) == ("Failed", False, True)
    assert failure.t == 760.0 and created(sim)[1] == 760.0
    assert success.outcome == "Succeeded"
    assert job.status.condition == "Complete" and job.status.failed == 0


def test_a_pod_lost_with_a_removed_node_counts_as_failed():
    sim = Simulation(ClusterSpec.default(), seed=1)
    sim.apply(load_manifests(text=job_yaml("[sleep, '100']")))
    sim.run_for(10)
    job = next(w for w in sim.state.workloads.values() if isinstance(w, Job))
    (pod,) = sim.state.pods_owned_by(job.uid)
    sim.state.remove_node(pod.node_name)
    sim.run_for(300)
    first = finished(sim)[0]
    assert (first.outcome, first.counted, first.disruption) == ("Failed", True, True)
    assert job.status.condition == "Complete" and job.status.failed == 1


# --- Indexed -------------------------------------------------------------------------------------------
def test_an_indexed_job_completes_each_index_once():
    sim, job = run_job(job_yaml(extra="  completions: 4\n  parallelism: 2\n  completionMode: Indexed\n"), 300)
    names = [e.pod for e in sim.trace.events if isinstance(e, ev.PodCreated)]
    assert [n.split("-")[1] for n in names] == ["0", "1", "2", "3"]
    pods = {p.annotations[k8s.JOB_COMPLETION_INDEX] for p in sim.state.pods_owned_by(job.uid)}
    assert pods == {"0", "1", "2", "3"}
    assert job.status.completed_indexes == {0, 1, 2, 3} and job.status.condition == "Complete"


def test_an_indexed_job_replaces_a_failed_index_with_the_same_index():
    sim = Simulation(ClusterSpec.default(), seed=2)
    sim.apply(load_manifests(text=job_yaml("[sleep, '30']", extra="  completions: 2\n  parallelism: 2\n  completionMode: Indexed\n")))
    sim.run_for(10)
    job = next(w for w in sim.state.workloads.values() if isinstance(w, Job))
    victim = next(p for p in sim.state.pods_owned_by(job.uid) if p.annotations[k8s.JOB_COMPLETION_INDEX] == "1")
    sim.kubelets[victim.node_name].crash_container(victim.key, "main", exit_code=1)
    sim.run_for(300)
    indexes = [p.annotations[k8s.JOB_COMPLETION_INDEX] for p in sim.state.pods_owned_by(job.uid)]
    assert sorted(indexes) == ["0", "1", "1"] and job.status.condition == "Complete"


# --- suspend, TTL, determinism ---------------------------------------------------------------------------
def test_a_suspended_job_runs_nothing_until_resumed():
    sim, job = run_job(job_yaml(extra="  suspend: true\n  activeDeadlineSeconds: 100\n"), 200)
    assert created(sim) == [] and job.status.start_time is None
    sim.job_controller.set_suspended("default", "work", False)
    sim.run_for(100)
    assert created(sim) == [200.0] and job.status.start_time == 200.0 and job.status.condition == "Complete"
    assert ("Suspended", "JobResumed") in conditions(sim)


def test_ttl_after_finished_deletes_the_job_and_its_pods():
    sim, job = run_job(job_yaml(extra="  ttlSecondsAfterFinished: 60\n"), 200)
    assert job.uid not in sim.state.workloads and not list(sim.state.pods_owned_by(job.uid))
    deleted = next(e for e in sim.trace.events if isinstance(e, ev.WorkloadDeleted))
    assert deleted.t == job.status.finished_at + 60


def test_the_same_seed_gives_the_same_trace():
    text = job_yaml("[sh, -c, 'sleep 5; exit 1']", extra="  completions: 3\n  parallelism: 3\n  backoffLimit: 4\n")
    first, _ = run_job(text, 300, seed=9)
    second, _ = run_job(text, 300, seed=9)
    assert first.trace.to_jsonl() == second.trace.to_jsonl()


def test_a_simulation_without_jobs_watches_no_pod_events_for_them():
    sim = Simulation(ClusterSpec.default(), seed=1)
    assert not sim.job_controller._wired
    sim.apply(load_manifests(text=job_yaml()))
    assert sim.job_controller._wired


# --- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, field, words",
    [
        (job_yaml(restart="Always"), "spec.template.spec.restartPolicy", "OnFailure or Never"),
        (job_yaml().replace("      restartPolicy: Never\n", ""), "spec.template.spec.restartPolicy", "OnFailure or Never"),
        (job_yaml(extra="  completions: -1\n"), "spec.completions", "must not be negative"),
        (job_yaml(extra=_POLICY.replace("Ignore", "Ignor")), "spec.podFailurePolicy.rules[0].action", "did you mean Ignore"),
        (job_yaml(restart="OnFailure", extra=_POLICY), "spec.template.spec.restartPolicy", "restartPolicy Never"),
        (job_yaml(extra="  completionMode: Indexed\n  parallelism: 2\n"), "spec.completions", "Indexed Job needs completions"),
        (job_yaml(extra="  selector: {matchLabels: {a: b}}\n"), "spec.selector", "manualSelector"),
    ],
)
def test_bad_jobs_get_one_clear_error(text, field, words):
    with pytest.raises(InputError) as raised:
        load_manifests(text=text)
    message = str(raised.value)
    assert field in message and words in message and "fix:" in message


def test_a_job_whose_run_time_is_unknown_gets_a_note_and_the_annotation_gives_one():
    (manifest,) = load_manifests(text=job_yaml("[python, train.py]"))
    assert any("run time is known" in note for note in manifest.notes)
    annotated = job_yaml("[python, train.py]").replace("    spec:\n      restartPolicy", "    metadata:\n      annotations: {podquake.io/run-seconds: '45', podquake.io/exit-code: '2'}\n    spec:\n      restartPolicy")
    (manifest,) = load_manifests(text=annotated)
    (container,) = manifest.obj.template.spec.containers
    assert (container.run_seconds, container.exit_code) == (45.0, 2) and not manifest.notes
