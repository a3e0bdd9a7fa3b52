"""Upstream Kubernetes constants the model uses, each with the upstream file it comes from.

One place for every number the model claims from Kubernetes, so a reader can check them against
``shared/k8s-semantics.md`` and upstream in one sitting. Times are in simulated seconds; CPU in
millicores; memory in bytes. Baseline: Kubernetes v1.35.
"""

from __future__ import annotations

# --- kube-scheduler -------------------------------------------------------------------------
# kubernetes/kubernetes:pkg/scheduler/backend/queue/scheduling_queue.go (DefaultPodInitialBackoffDuration,
# DefaultPodMaxBackoffDuration, DefaultPodMaxInUnschedulablePodsDuration)
POD_INITIAL_BACKOFF_SECONDS = 1.0
POD_MAX_BACKOFF_SECONDS = 10.0
POD_MAX_IN_UNSCHEDULABLE_SECONDS = 300.0

# kubernetes/kubernetes:pkg/scheduler/framework/interface.go
MAX_NODE_SCORE = 100
# kubernetes/kubernetes:pkg/scheduler/util/pod_resources.go
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
# kubernetes/kubernetes:pkg/scheduler/schedule_one.go
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5

# kubernetes/kubernetes:pkg/kubelet/apis/config/v1beta1/defaults.go (MaxPods)
DEFAULT_MAX_PODS = 110

# --- ReplicaSet / Deployment ------------------------------------------------------------------
# kubernetes/kubernetes:pkg/controller/replicaset/replica_set.go
BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH_SIZE = 1
# kubernetes/kubernetes:pkg/controller/controller_utils.go
EXPECTATIONS_TIMEOUT_SECONDS = 300.0
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
# kubernetes/kubernetes:pkg/apis/apps/v1/defaults.go
DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_REVISION_HISTORY_LIMIT = 10

# --- kubelet ----------------------------------------------------------------------------------
# kubernetes/kubernetes:pkg/kubelet/kubelet.go (backOffPeriod, MaxContainerBackOff)
CRASH_LOOP_INITIAL_BACKOFF_SECONDS = 10.0
CRASH_LOOP_MAX_BACKOFF_SECONDS = 300.0
# kubernetes/kubernetes:staging/src/k8s.io/client-go/util/flowcontrol/backoff.go: an entry is
# reset when the container has run for 2 x max backoff (10 minutes) without a crash.
CRASH_LOOP_RESET_SECONDS = 600.0
# kubernetes/kubernetes:pkg/apis/core/v1/defaults.go (probe and pod defaults)
PROBE_PERIOD_SECONDS = 10.0
PROBE_TIMEOUT_SECONDS = 1.0
PROBE_SUCCESS_THRESHOLD = 1
PROBE_FAILURE_THRESHOLD = 3
TERMINATION_GRACE_PERIOD_SECONDS = 30.0
# SIGKILL is signal 9; a killed process exits with 128 + signal.
OOM_KILLED_EXIT_CODE = 137
# kubernetes/kubernetes:pkg/kubelet/nodelease (renewInterval = 0.25 x 40 s lease)
NODE_LEASE_RENEW_SECONDS = 10.0
NODE_LEASE_DURATION_SECONDS = 40.0

# --- node lifecycle controller ----------------------------------------------------------------
# kubernetes/kubernetes:cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go
NODE_MONITOR_PERIOD_SECONDS = 5.0
NODE_MONITOR_GRACE_PERIOD_SECONDS = 50.0  # 40 s before v1.32 (PR #126287)
NODE_STARTUP_GRACE_PERIOD_SECONDS = 60.0
NODE_EVICTION_RATE = 0.1  # nodes per second per zone
SECONDARY_NODE_EVICTION_RATE = 0.01
LARGE_CLUSTER_SIZE_THRESHOLD = 50
UNHEALTHY_ZONE_THRESHOLD = 0.55
# kubernetes/kubernetes:plugin/pkg/admission/defaulttolerationseconds/admission.go
DEFAULT_TOLERATION_SECONDS = 300.0

# Well-known taints and labels (kubernetes/kubernetes:staging/src/k8s.io/api/core/v1/well_known_taints.go,
# well_known_labels.go).
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"

# --- garbage collection -------------------------------------------------------------------------
# kubernetes/kubernetes:cmd/kube-controller-manager/app/options/podgccontroller.go
TERMINATED_POD_GC_THRESHOLD = 12500
