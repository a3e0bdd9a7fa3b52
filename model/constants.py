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
SUPPORTED_MAX_NODES = 5000
"""The largest cluster Kubernetes supports (kubernetes.io/docs/setup/best-practices/cluster-large/:
at most 5,000 nodes); a cluster spec beyond it is refused, as a typo far more often than a test."""
SUPPORTED_MAX_PODS = 150_000
"""The most pods Kubernetes supports in one cluster (same page); a scenario whose workloads ask for
more replicas is refused (10^9 replicas made a run create pods for hours)."""

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
# A process ended by signal N exits with 128 + N: SIGTERM (15) when the kubelet stops a container
# within its grace period, SIGKILL (9) when the grace period runs out
# (kubernetes/kubernetes:pkg/kubelet/kuberuntime/kuberuntime_container.go, killContainer). 137 is also
# what the kubelet reports for a container that vanished with its machine (ContainerStatusUnknown).
SIGTERM_EXIT_CODE = 143
SIGKILL_EXIT_CODE = 137
# The least time between SIGTERM and SIGKILL the kubelet gives a container, even when its preStop hook
# used up the grace period (kubernetes/kubernetes:pkg/kubelet/kuberuntime/kuberuntime_manager.go
# minimumGracePeriodInSeconds, applied in kuberuntime_container.go killContainer).
MINIMUM_GRACE_PERIOD_SECONDS = 2.0
# kubernetes/kubernetes:pkg/kubelet/nodelease (renewInterval = 0.25 x 40 s lease)
NODE_LEASE_RENEW_SECONDS = 10.0
NODE_LEASE_DURATION_SECONDS = 40.0
# staging/src/k8s.io/component-helpers/apimachinery/lease/controller.go: once a renewal has failed
# (retryUpdateLease's maxUpdateRetries = 5 immediate tries), backoffEnsureLease retries GET of the lease
# after sleeps of 200 ms doubling to maxBackoff 7 s (sleep := 100 ms; sleep = min(2*sleep, maxBackoff)),
# and renews it as soon as one succeeds.
LEASE_RETRY_INITIAL_SECONDS = 0.2
LEASE_RETRY_MAX_SECONDS = 7.0
# kubernetes/kubernetes:pkg/kubelet/status/status_manager.go syncPeriod: the status manager's full sync
# (syncBatch(all) on a time.NewTicker from its Start) re-sends every pod status that differs from the
# API's (needsReconcile), such as the Ready=False the node lifecycle controller wrote while the node
# was cut off (MarkPodsNotReady).
STATUS_MANAGER_SYNC_SECONDS = 10.0
# kubernetes/kubernetes:pkg/kubelet/kubelet.go maxWaitForContainerRuntime, runtime.go runtimeErrors: the
# kubelet reports Ready=False ("container runtime is down") once the runtime's status check has not
# succeeded for 30 s (and at once in a kubelet started while it is down: the check never succeeded).
MAX_WAIT_FOR_CONTAINER_RUNTIME_SECONDS = 30.0
# kubernetes/kubernetes:pkg/kubelet/kubelet.go Run: go wait.Until(kl.updateRuntimeUp, 5*time.Second, ...): the
# runtime status check whose last success runtimeErrors measures; a recovered runtime counts from the
# first check that sees it.
RUNTIME_STATUS_CHECK_SECONDS = 5.0

# --- node lifecycle controller ----------------------------------------------------------------
# kubernetes/kubernetes:cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go
NODE_MONITOR_PERIOD_SECONDS = 5.0
NODE_MONITOR_GRACE_PERIOD_SECONDS = 50.0  # 40 s before v1.32 (PR #126287)
NODE_STARTUP_GRACE_PERIOD_SECONDS = 60.0
NODE_EVICTION_RATE = 0.1  # nodes per second per zone
SECONDARY_NODE_EVICTION_RATE = 0.01
LARGE_CLUSTER_SIZE_THRESHOLD = 50
UNHEALTHY_ZONE_THRESHOLD = 0.55
# kubernetes/kubernetes:pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go
EVICTION_RATE_LIMITER_BURST = 1
NODE_EVICTION_PERIOD_SECONDS = 0.1  # how often the NoExecute tainting queue is tried
# kubernetes/kubernetes:pkg/controller/nodelifecycle/node_lifecycle_controller.go
LABEL_EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"
# kubernetes/kubernetes:plugin/pkg/admission/defaulttolerationseconds/admission.go
DEFAULT_TOLERATION_SECONDS = 300.0

# Well-known taints and labels (kubernetes/kubernetes:staging/src/k8s.io/api/core/v1/well_known_taints.go,
# well_known_labels.go).
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"

# --- garbage collection -------------------------------------------------------------------------
# kubernetes/kubernetes:cmd/kube-controller-manager/app/options/podgccontroller.go
TERMINATED_POD_GC_THRESHOLD = 12500

# --- workload controllers (added with the ReplicaSet/Deployment/StatefulSet/DaemonSet/pod GC controllers) ---
# k8s.io/client-go/util/workqueue/default_rate_limiters.go (DefaultControllerRateLimiter: a failed sync is
# retried after 5 ms, doubling per consecutive failure, up to 1000 s)
CONTROLLER_RETRY_BASE_SECONDS = 0.005
CONTROLLER_RETRY_MAX_SECONDS = 1000.0
# staging/src/k8s.io/api/apps/v1/types.go (DefaultDeploymentUniqueLabelKey, ControllerRevisionHashLabelKey,
# StatefulSetPodNameLabel, PodIndexLabel)
LABEL_POD_TEMPLATE_HASH = "pod-template-hash"
LABEL_CONTROLLER_REVISION_HASH = "controller-revision-hash"
LABEL_STATEFULSET_POD_NAME = "statefulset.kubernetes.io/pod-name"
LABEL_POD_INDEX = "apps.kubernetes.io/pod-index"
# kubernetes/kubernetes:pkg/controller/daemon/daemon_controller.go (BurstReplicas)
DAEMONSET_BURST_REPLICAS = 250
# kubernetes/kubernetes:cmd/kube-controller-manager/app/apps.go (failedPodsBackoff = NewBackOff(1s, 15m))
DAEMONSET_FAILED_POD_BACKOFF_SECONDS = 1.0
DAEMONSET_FAILED_POD_MAX_BACKOFF_SECONDS = 900.0
# kubernetes/kubernetes:pkg/apis/apps/v1/defaults.go (RollingUpdateDaemonSet maxUnavailable 1, maxSurge 0)
DEFAULT_DAEMONSET_MAX_UNAVAILABLE = 1
# kubernetes/kubernetes:pkg/controller/podgc/gc_controller.go (gcCheckPeriod, quarantineTime)
POD_GC_CHECK_PERIOD_SECONDS = 20.0
POD_GC_QUARANTINE_SECONDS = 40.0

# --- Job controller (model/controllers/job.py) -----------------------------------------------------
# kubernetes/kubernetes:pkg/apis/batch/v1/defaults.go (SetDefaults_Job: backoffLimit 6; completions and
# parallelism 1 when both are unset)
DEFAULT_JOB_BACKOFF_LIMIT = 6
# kubernetes/kubernetes:pkg/controller/job/job_controller.go (DefaultJobPodFailureBackOff 10 s,
# MaxJobPodFailureBackOff 10 min: the delay before replacing failed pods, doubling per failure since the
# last success; the concepts docs still say "capped at six minutes", the code says 10 min)
JOB_POD_FAILURE_BACKOFF_SECONDS = 10.0
JOB_POD_FAILURE_MAX_BACKOFF_SECONDS = 600.0
# job_controller.go MaxPodCreateDeletePerSync
JOB_MAX_POD_CREATE_DELETE_PER_SYNC = 500
# staging/src/k8s.io/api/batch/v1/types.go (JobCompletionIndexAnnotation, JobNameLabel, ControllerUidLabel)
JOB_COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
LABEL_JOB_NAME = "batch.kubernetes.io/job-name"
LABEL_JOB_NAME_LEGACY = "job-name"
LABEL_JOB_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
LABEL_JOB_CONTROLLER_UID_LEGACY = "controller-uid"

# --- manifests: node labels, Services, HPA, priority (used by model/manifests.py, model/resources_api.py) ---
# kubernetes/kubernetes:pkg/kubelet/kubelet_node_status.go (initialNode sets the GA and the legacy beta
# OS/arch labels; label names from staging/src/k8s.io/api/core/v1/well_known_labels.go)
LABEL_OS = "kubernetes.io/os"
LABEL_ARCH = "kubernetes.io/arch"
LEGACY_LABEL_OS = "beta.kubernetes.io/os"
LEGACY_LABEL_ARCH = "beta.kubernetes.io/arch"
# kubernetes/kubernetes:pkg/apis/core/types.go (DefaultClientIPServiceAffinitySeconds, MaxClientIPServiceAffinitySeconds)
DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS = 10800
MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS = 86400
# kubernetes/kubernetes:pkg/kubeapiserver/options (--service-node-port-range default 30000-32767)
SERVICE_NODE_PORT_MIN = 30000
SERVICE_NODE_PORT_MAX = 32767
# kubernetes/kubernetes:pkg/apis/autoscaling/v2/defaults.go and pkg/apis/autoscaling/types.go (DefaultCPUUtilization)
HPA_DEFAULT_CPU_UTILIZATION = 80
HPA_SCALE_UP_LIMIT_PERCENT = 100
HPA_SCALE_UP_LIMIT_MINIMUM_PODS = 4
HPA_SCALE_UP_PERIOD_SECONDS = 15
HPA_SCALE_UP_STABILIZATION_SECONDS = 0
HPA_SCALE_DOWN_LIMIT_PERCENT = 100
HPA_SCALE_DOWN_PERIOD_SECONDS = 15
# kubernetes/kubernetes:pkg/apis/autoscaling/validation/validation.go (MaxPeriodSeconds, MaxStabilizationWindowSeconds)
HPA_MAX_SCALING_POLICY_PERIOD_SECONDS = 1800
HPA_MAX_STABILIZATION_WINDOW_SECONDS = 3600
# kubernetes/kubernetes:pkg/apis/scheduling/types.go (SystemCriticalPriority = 2e9; node-critical = +1000)
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}

# --- Services, EndpointSlices and the node proxy (used by model/endpoints.py, model/proxy.py) ---
# kubernetes/kubernetes:pkg/controller/endpointslice/config/v1alpha1/defaults.go (MaxEndpointsPerSlice)
MAX_ENDPOINTS_PER_SLICE = 100
# kubernetes/kubernetes:pkg/proxy/apis/config/v1alpha2/defaults.go (MinSyncPeriod 1 s, SyncPeriod 30 s, every mode):
# kube-proxy applies a change at once unless its last sync ended less than MinSyncPeriod ago
# (pkg/proxy/runner/bounded_frequency_runner.go); SyncPeriod only spaces retries.
KUBE_PROXY_MIN_SYNC_PERIOD_SECONDS = 1.0
KUBE_PROXY_SYNC_PERIOD_SECONDS = 30.0

# --- cluster autoscaler (used by model/controllers/cluster_autoscaler.py) ---
# kubernetes/autoscaler:cluster-autoscaler/config/const.go (DefaultScanInterval, DefaultScaleDownUnneededTime,
# DefaultScaleDownUnreadyTime, DefaultScaleDownUtilizationThreshold, DefaultScaleDownDelayAfterFailure)
CA_SCAN_INTERVAL_SECONDS = 10.0
CA_SCALE_DOWN_UNNEEDED_SECONDS = 600.0
CA_SCALE_DOWN_UNREADY_SECONDS = 1200.0
CA_SCALE_DOWN_UTILIZATION_THRESHOLD = 0.5
CA_SCALE_DOWN_DELAY_AFTER_FAILURE_SECONDS = 180.0
# kubernetes/autoscaler:cluster-autoscaler/config/flags/flags.go (flag defaults)
CA_SCALE_DOWN_DELAY_AFTER_ADD_SECONDS = 600.0
CA_SCALE_DOWN_DELAY_AFTER_DELETE_SECONDS = 0.0
CA_MAX_NODE_PROVISION_SECONDS = 900.0
CA_MAX_POD_EVICTION_SECONDS = 120.0
CA_MAX_GRACEFUL_TERMINATION_SECONDS = 600.0
CA_MAX_SCALE_DOWN_PARALLELISM = 10
CA_MAX_DRAIN_PARALLELISM = 1
CA_SCALE_DOWN_NON_EMPTY_CANDIDATES = 30
CA_NODE_DELETE_DELAY_AFTER_TAINT_SECONDS = 5.0
CA_INITIAL_NODE_GROUP_BACKOFF_SECONDS = 300.0
CA_MAX_NODE_GROUP_BACKOFF_SECONDS = 1800.0
CA_NODE_GROUP_BACKOFF_RESET_SECONDS = 10800.0
CA_EXPENDABLE_PODS_PRIORITY_CUTOFF = -10
CA_MAX_NODES_PER_SCALE_UP = 1000
CA_DEFAULT_EXPANDER = "least-waste"  # "random" before the flags moved to config/flags/flags.go
CA_UNREMOVABLE_NODE_RECHECK_SECONDS = 300.0
CA_MAX_TOTAL_UNREADY_PERCENTAGE = 45.0
CA_OK_TOTAL_UNREADY_COUNT = 3
# kubernetes/autoscaler:cluster-autoscaler/utils/drain/drain.go (PodLongTerminatingExtraThreshold: a pod
# whose deletionTimestamp (the request + its grace period) is more than its grace period + 30 s past no
# longer counts towards its node's utilization)
CA_POD_LONG_TERMINATING_EXTRA_SECONDS = 30.0
# kubernetes/autoscaler:cluster-autoscaler/core/scaledown/actuation/drain.go (DefaultEvictionRetryTime,
# DefaultPodEvictionHeadroom; waitPodsToDisappear polls every 5 s)
CA_EVICTION_RETRY_SECONDS = 10.0
CA_POD_EVICTION_HEADROOM_SECONDS = 30.0
CA_POD_GONE_POLL_SECONDS = 5.0
# kubernetes/autoscaler:cluster-autoscaler/core/static_autoscaler.go (unschedulablePodTimeBuffer)
CA_UNSCHEDULABLE_POD_TIME_BUFFER_SECONDS = 2.0
# kubernetes/autoscaler:cluster-autoscaler/utils/taints/taints.go (ToBeDeletedTaint) and
# utils/drain/drain.go (PodSafeToEvictKey)
TAINT_TO_BE_DELETED = "ToBeDeletedByClusterAutoscaler"
CA_SAFE_TO_EVICT_ANNOTATION = "cluster-autoscaler.kubernetes.io/safe-to-evict"
# kubernetes/autoscaler:cluster-autoscaler/utils/drain/drain.go (SafeToEvictLocalVolumesKey): a comma-separated
# list of the pod's local volumes that do not block its node's scale-down (getNonBlockingVolumes).
CA_SAFE_TO_EVICT_LOCAL_VOLUMES_ANNOTATION = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"

# --- cloud load balancers (used by model/loadbalancer.py) ---
# kubernetes/cloud-provider-gcp:providers/gce/gce.go (gceHcCheckIntervalSeconds, gceHcHealthyThreshold,
# gceHcUnhealthyThreshold: "3 * 8 = 24 seconds before the LB will steer traffic away")
LB_HEALTH_CHECK_INTERVAL_SECONDS = 8.0
LB_HEALTHY_THRESHOLD = 1
LB_UNHEALTHY_THRESHOLD = 3
# staging/src/k8s.io/api/core/v1/well_known_labels.go (LabelNodeExcludeBalancers)
LABEL_EXCLUDE_FROM_EXTERNAL_LB = "node.kubernetes.io/exclude-from-external-load-balancers"

# --- volumes (model/volumes.py) ----------------------------------------------------------------
# kubernetes/kubernetes:pkg/controller/volume/attachdetach/attach_detach_controller.go (DefaultTimerConfig):
# the reconciler runs every 100 ms and force-detaches a volume that is still mounted on an unhealthy
# node once ReconcilerMaxWaitForUnmountDuration (6 min) has passed since its detach was requested
# (reconciler/reconciler.go: forceDetach := !isHealthy && timeout).
ATTACH_DETACH_RECONCILER_LOOP_PERIOD_SECONDS = 0.1
ATTACH_DETACH_MAX_WAIT_FOR_UNMOUNT_SECONDS = 360.0
# kubernetes/kubernetes:pkg/kubelet/apis/config/v1beta1/defaults.go (NodeStatusUpdateFrequency): how often
# the kubelet reports node status, which carries the volumes it still has mounted (volumesInUse).
NODE_STATUS_UPDATE_FREQUENCY_SECONDS = 10.0
# staging/src/k8s.io/api/core/v1/well_known_taints.go (TaintNodeOutOfService): the non-graceful node
# shutdown taint; the attach/detach controller detaches at once from a node carrying it.
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
# kubernetes/kubernetes:pkg/apis/storage/util/helpers.go (IsDefaultStorageClassAnnotation): the StorageClass
# a claim without storageClassName uses.
ANNOTATION_DEFAULT_STORAGE_CLASS = "storageclass.kubernetes.io/is-default-class"
# kubernetes/kubernetes:pkg/apis/storage/v1/defaults.go (SetDefaults_StorageClass): a StorageClass without
# volumeBindingMode binds Immediate; pkg/apis/storage/validation/validation.go allows only these two.
VOLUME_BINDING_IMMEDIATE = "Immediate"
VOLUME_BINDING_WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"

# --- disruption (model/disruption.py) ----------------------------------------------------------
# kubernetes/kubernetes:pkg/controller/disruption/disruption.go (DeletionTimeout): a pod the eviction API
# approved stays out of currentHealthy for 2 minutes, unless it is seen being deleted first.
PDB_DELETION_TIMEOUT_SECONDS = 120.0
# kubernetes/kubernetes:pkg/registry/core/pod/storage/eviction.go (MaxDisruptedPodSize)
PDB_MAX_DISRUPTED_PODS = 2000
# staging/src/k8s.io/kubectl/pkg/drain/drain.go (evictPods: "will retry after 5s" on 429 TooManyRequests;
# waitForDelete polls every 1 s)
DRAIN_EVICTION_RETRY_SECONDS = 5.0
DRAIN_DELETE_POLL_SECONDS = 1.0

# --- HorizontalPodAutoscaler controller (model/controllers/hpa.py, model/controllers/hpa_replicas.py) ---
# kubernetes/kubernetes:pkg/controller/podautoscaler/config/v1alpha1/defaults.go (RecommendedDefaultHPAControllerConfiguration:
# --horizontal-pod-autoscaler-sync-period 15 s, -tolerance 0.1, -downscale-stabilization 5 min,
# -cpu-initialization-period 5 min, -initial-readiness-delay 30 s)
HPA_SYNC_PERIOD_SECONDS = 15.0
HPA_TOLERANCE = 0.1
HPA_DOWNSCALE_STABILIZATION_SECONDS = 300
HPA_CPU_INITIALIZATION_PERIOD_SECONDS = 300.0
HPA_INITIAL_READINESS_DELAY_SECONDS = 30.0
# kubernetes/kubernetes:pkg/controller/podautoscaler/horizontal.go (scaleUpLimitFactor, scaleUpLimitMinimum: without
# spec.behavior a sync scales up to at most max(2 x current, 4))
HPA_SCALE_UP_LIMIT_FACTOR = 2.0
HPA_SCALE_UP_LIMIT_MINIMUM = 4.0
# kubernetes-sigs/metrics-server:manifests/base/deployment.yaml (--metric-resolution=15s): the window a CPU usage
# sample covers; the HPA ignores a starting pod's sample taken less than one window after it turned Ready.
METRICS_SERVER_RESOLUTION_SECONDS = 15.0
