"""A pod spec's derived requests: the Filter request and the scheduler's non-zero scoring request
aggregate containers, sidecars and init containers the way upstream ``AggregateContainerRequests`` does."""

from podquake.model import constants as k8s
from podquake.model.objects import ContainerSpec, PodSpec
from podquake.model.quantity import Resources

MI = 2**20
CPU, MEM = k8s.DEFAULT_MILLI_CPU_REQUEST, k8s.DEFAULT_MEMORY_REQUEST


def named(name: str, cpu: int, memory: int = 0, sidecar: bool = False) -> ContainerSpec:
    return ContainerSpec(
        name, requests=Resources(cpu, memory), cpu_requested=True, memory_requested=True, restartable_init=sidecar
    )


def bare(name: str, sidecar: bool = False) -> ContainerSpec:
    return ContainerSpec(name, restartable_init=sidecar)


def test_an_init_container_after_a_sidecar_uses_its_own_request_plus_the_sidecars_before_it():
    """The init container's request was compared bare, not added to the sidecars declared before it."""
    spec = PodSpec(containers=(named("app", 100),), init_containers=(named("side", 500, sidecar=True), named("migrate", 600)))
    assert spec.requests.cpu_millis == max(100 + 500, 500 + 600)
    before = PodSpec(containers=(named("app", 100),), init_containers=(named("migrate", 600), named("side", 500, sidecar=True)))
    assert before.requests.cpu_millis == max(100 + 500, 600)  # a sidecar after it does not run alongside it


def test_the_non_zero_request_defaults_every_container_kind_and_adds_overhead():
    """Defaults went to regular containers only, and the real init, sidecar and overhead totals were mixed in."""
    overhead = PodSpec(containers=(bare("app"),), overhead=Resources(250, 120 * MI))
    assert (overhead.nonzero_cpu, overhead.nonzero_memory) == (CPU + 250, MEM + 120 * MI)
    init = PodSpec(containers=(named("app", 50, 64 * MI),), init_containers=(bare("init"),))
    assert (init.nonzero_cpu, init.nonzero_memory) == (CPU, MEM)
    sidecar = PodSpec(containers=(bare("app"),), init_containers=(bare("side", sidecar=True),))
    assert (sidecar.nonzero_cpu, sidecar.nonzero_memory) == (2 * CPU, 2 * MEM)
    after_sidecar = PodSpec(containers=(named("app", 10, MI),), init_containers=(bare("side", sidecar=True), bare("init")))
    assert (after_sidecar.nonzero_cpu, after_sidecar.nonzero_memory) == (2 * CPU, 2 * MEM)


def test_named_requests_including_explicit_zero_are_not_defaulted():
    spec = PodSpec(containers=(named("app", 0, 0),), init_containers=(named("init", 300, 10 * MI),))
    assert (spec.nonzero_cpu, spec.nonzero_memory) == (300, 10 * MI)
    assert (spec.requests.cpu_millis, spec.requests.memory_bytes, spec.requests.pods) == (300, 10 * MI, 1)
