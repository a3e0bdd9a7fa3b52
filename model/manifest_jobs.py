"""A ``batch/v1`` Job from a manifest: its spec with the API server's defaults and checks.

:func:`parse_job` reads a Job's ``spec`` into a prototype :class:`~podquake.model.objects.Job`, as
:mod:`podquake.model.manifests` does for the apps/v1 workloads; each problem is one
:class:`~podquake.model.errors.InputError` naming the file, the document, the field and the fix.

- defaults, kubernetes/kubernetes:pkg/apis/batch/v1/defaults.go (``SetDefaults_Job``): completions
  and parallelism 1 when both are unset (parallelism alone set: completions stays unset, a work-queue
  Job), parallelism 1, backoffLimit 6, completionMode NonIndexed, suspend false, an
  ``onPodConditions`` pattern's status True, podReplacementPolicy Failed when a podFailurePolicy is
  set and TerminatingOrFailed otherwise;
- checks, pkg/apis/batch/validation/validation.go (``validateJobSpec``, ``validatePodFailurePolicy``):
  the template's restartPolicy OnFailure or Never (:mod:`podquake.model.manifest_pods`);
  parallelism, completions, backoffLimit and ttlSecondsAfterFinished >= 0, activeDeadlineSeconds > 0;
  an Indexed Job needs completions; a podFailurePolicy needs restartPolicy Never and
  podReplacementPolicy Failed, at most 20 rules, each with an action among FailJob, Ignore, Count
  (FailIndex only with backoffLimitPerIndex) and exactly one of onExitCodes (operator In or NotIn,
  1 to 255 distinct values, no 0 with In, a containerName of the template) or onPodConditions;
  a selector only with ``manualSelector: true``.

The Job's pods are found by their owner reference; the selector the API server generates
(``batch.kubernetes.io/controller-uid``) is stood in for by the ``batch.kubernetes.io/job-name``
label, which the controller puts on every pod with ``job-name``.

Noted and not modelled: ``backoffLimitPerIndex`` and ``maxFailedIndexes`` (the global backoffLimit
applies, and a FailIndex rule counts a failure as Count would), ``successPolicy`` (the Job completes
when every completion is done), ``managedBy``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from podquake.model import constants as k8s
from podquake.model.fieldpath import Field
from podquake.model.manifest_pods import pod_template
from podquake.model.objects import Job, PodFailurePolicyRule
from podquake.model.resources_api import KNOWN_FIELDS, parse_label_selector
from podquake.model.selectors import LabelSelector

__all__ = ["parse_job"]

_ACTIONS = ("FailJob", "Ignore", "Count", "FailIndex")
_MAX_RULES = 20  # validation.go maxPodFailurePolicyRules
_MAX_EXIT_CODES = 255  # validation.go maxPodFailurePolicyOnExitCodesValues
_MAX_INDEXED = 100_000  # validation.go maxParallelismForIndexedJob / completions of an Indexed Job


def parse_job(name: str, namespace: str, meta: Field, spec: Field, priorities: dict[str | None, tuple[int, str | None]]) -> Job:
    """The prototype Job of ``spec`` (its uid is given when it is applied)."""
    spec.mapping(required=True)
    spec.check_keys(KNOWN_FIELDS["Job"])
    spec["template"].mapping(required=True)
    spec["template"].check_keys(KNOWN_FIELDS["template"])
    template = pod_template(spec["template"]["metadata"], spec["template"]["spec"], priorities, workload_kind="Job")
    selector = _selector(name, spec)
    labels = dict(template.labels)
    labels.setdefault(k8s.LABEL_JOB_NAME, name)
    labels.setdefault(k8s.LABEL_JOB_NAME_LEGACY, name)
    if selector is not None and not selector.matches(labels):
        raise spec["selector"].error(
            f"selector {selector.as_dict()} does not match the template labels {template.label_dict()}",
            fix="make spec.template.metadata.labels carry every label the selector asks for",
        )
    template = replace(template, labels=tuple(labels.items()))

    completions_set = spec["completions"].present()
    parallelism_set = spec["parallelism"].present()
    completions = spec["completions"].integer(None, minimum=0)
    parallelism = spec["parallelism"].integer(1, minimum=0)
    if not completions_set and not parallelism_set:
        completions = 1
    mode = spec["completionMode"].string("NonIndexed", choices=("NonIndexed", "Indexed"))
    if mode == "Indexed":
        if completions is None:
            raise spec["completions"].error(
                "an Indexed Job needs completions (each index 0 .. completions-1 completes once)",
                fix="add completions, or use completionMode: NonIndexed",
            )
        if completions > _MAX_INDEXED or parallelism > _MAX_INDEXED:
            field = spec["completions"] if completions > _MAX_INDEXED else spec["parallelism"]
            raise field.error(f"must be at most {_MAX_INDEXED:,} for an Indexed Job", fix=f"use a value <= {_MAX_INDEXED}")
    backoff_limit = spec["backoffLimit"].integer(k8s.DEFAULT_JOB_BACKOFF_LIMIT, minimum=0)
    deadline = spec["activeDeadlineSeconds"].integer(None, minimum=1, maximum=None)
    ttl = spec["ttlSecondsAfterFinished"].integer(None, minimum=0)
    restart_policy = template.spec.restart_policy
    policy = _pod_failure_policy(spec, template, restart_policy)
    replacement = spec["podReplacementPolicy"].string(
        "Failed" if policy is not None else "TerminatingOrFailed", choices=("TerminatingOrFailed", "Failed")
    )
    if policy is not None and replacement != "Failed":
        raise spec["podReplacementPolicy"].error(
            "a Job with a podFailurePolicy must use podReplacementPolicy Failed (a pod is replaced once it has failed, "
            "so the policy can read how it ended)",
            fix="remove podReplacementPolicy (it defaults to Failed) or write Failed",
        )
    for unmodelled, what in (
        ("backoffLimitPerIndex", "per-index back-off limits are not modelled; the Job's backoffLimit applies to every failure"),
        ("maxFailedIndexes", "maxFailedIndexes is not modelled (it goes with backoffLimitPerIndex)"),
        ("successPolicy", "successPolicy is not modelled; the Job completes when all its completions are done"),
        ("managedBy", "managedBy is not modelled; the built-in Job controller runs the Job"),
    ):
        if spec[unmodelled].present():
            spec[unmodelled].note(what)
    return Job(
        uid="",
        name=name,
        namespace=namespace,
        selector=selector or LabelSelector.of({k8s.LABEL_JOB_NAME: name}),
        template=template,
        replicas=parallelism,
        labels=meta["labels"].string_map(),
        annotations=meta["annotations"].string_map(),
        completions=completions,
        completion_mode=mode,
        backoff_limit=backoff_limit,
        active_deadline_seconds=float(deadline) if deadline is not None else None,
        pod_failure_policy=policy,
        pod_replacement_policy=replacement,
        suspend=spec["suspend"].boolean(False),
        ttl_seconds_after_finished=float(ttl) if ttl is not None else None,
    )


def _selector(name: str, spec: Field) -> LabelSelector | None:
    """The manifest's selector (only with ``manualSelector: true``, as validation.go requires)."""
    manual = spec["manualSelector"].boolean(False)
    if not spec["selector"].present():
        if manual:
            raise spec["selector"].error("manualSelector: true needs a selector", fix="add spec.selector or remove manualSelector")
        return None
    if not manual:
        raise spec["selector"].error(
            "a Job's selector is generated by the API server; one given by hand needs manualSelector: true",
            fix="remove spec.selector (the Job's pods are found by their owner), or add manualSelector: true",
        )
    selector = parse_label_selector(spec["selector"], required=True)
    assert selector is not None
    if selector.is_empty():
        raise spec["selector"].error("an empty selector would select every pod", fix=f"add matchLabels, e.g. {{job-name: {name}}}")
    return selector


def _pod_failure_policy(spec: Field, template: Any, restart_policy: str) -> tuple[PodFailurePolicyRule, ...] | None:
    f = spec["podFailurePolicy"]
    if not f.present():
        return None
    f.mapping()
    f.check_keys(KNOWN_FIELDS["podFailurePolicy"])
    if restart_policy != "Never":
        raise spec["template"]["spec"]["restartPolicy"].error(
            f"a Job with a podFailurePolicy must use restartPolicy Never, not {restart_policy}",
            fix="write restartPolicy: Never, or remove podFailurePolicy",
        )
    rules = f["rules"].items(required=True)
    if len(rules) > _MAX_RULES:
        raise f["rules"].error(f"{len(rules)} rules: at most {_MAX_RULES} are allowed", fix="merge or drop rules")
    containers = {c.name for c in template.spec.containers} | {c.name for c in template.spec.init_containers}
    per_index = spec["backoffLimitPerIndex"].present()
    return tuple(_rule(rule, containers, per_index) for rule in rules)


def _rule(f: Field, containers: set[str], per_index: bool) -> PodFailurePolicyRule:
    f.mapping(required=True)
    f.check_keys(KNOWN_FIELDS["podFailurePolicyRule"])
    action_field = f["action"]
    action = action_field.string(required=True)
    if action not in _ACTIONS:
        import difflib

        close = difflib.get_close_matches(action, _ACTIONS, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise action_field.error(
            f"unknown podFailurePolicy action {action!r}{hint}",
            fix="use one of FailJob (fail the Job at once), Ignore (do not count the failure), Count (count it towards backoffLimit)",
        )
    if action == "FailIndex":
        if not per_index:
            raise action_field.error(
                "the FailIndex action needs backoffLimitPerIndex", fix="use FailJob, Ignore or Count, or set backoffLimitPerIndex"
            )
        action_field.note("FailIndex is not modelled (no per-index back-off limit); the failure counts as with Count")
        action = "Count"
    exit_codes, conditions = f["onExitCodes"], f["onPodConditions"]
    if exit_codes.present() == conditions.present():
        raise f.error(
            "a podFailurePolicy rule needs exactly one of onExitCodes and onPodConditions",
            fix="e.g. onPodConditions: [{type: DisruptionTarget}] or onExitCodes: {operator: In, values: [42]}",
        )
    if exit_codes.present():
        exit_codes.mapping()
        exit_codes.check_keys(KNOWN_FIELDS["onExitCodes"])
        container = exit_codes["containerName"].string(None)
        if container is not None and container not in containers:
            raise exit_codes["containerName"].error(
                f"no container named {container!r} in the template", fix=f"use one of {', '.join(sorted(containers))} or remove containerName"
            )
        operator = exit_codes["operator"].string(required=True, choices=("In", "NotIn"))
        values = [v.integer(required=True, minimum=-(2**31)) for v in exit_codes["values"].items(non_empty=True)]
        if len(values) > _MAX_EXIT_CODES or len(set(values)) != len(values):
            raise exit_codes["values"].error(
                f"needs 1 to {_MAX_EXIT_CODES} distinct exit codes", fix="list each exit code once"
            )
        if operator == "In" and 0 in values:
            raise exit_codes["values"].error("0 is not a failure's exit code: In may not list it", fix="remove 0")
        return PodFailurePolicyRule(action, container, (operator, tuple(sorted(values))))
    patterns = []
    for pattern in conditions.items(non_empty=True):
        pattern.mapping(required=True)
        pattern.check_keys(KNOWN_FIELDS["onPodConditions"])
        kind = pattern["type"].string(required=True)
        status = pattern["status"].string("True", choices=("True", "False", "Unknown"))
        patterns.append((kind, status))
    return PodFailurePolicyRule(action, None, None, tuple(patterns))
