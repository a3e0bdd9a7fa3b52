"""A stateful chaos test of the sample shop: Hypothesis interleaves faults, traffic spikes, the passing
of time and a step of our own (an operator scaling the catalog), checks every safety property after
each step, and the liveness ones once the faults have healed.

    python3 -m pytest examples/test_stateful_shop.py

A failure prints the steps Hypothesis shrank it to, each a line of Python that replays it. The
knobs (fault kinds, step lengths, the scenario, the scheduler) are class attributes of
:class:`podquake.chaos.ClusterMachine`.
"""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

from podquake.chaos import ClusterMachine


class ShopMachine(ClusterMachine):
    fault_kinds = ("node-failure", "node-drain", "container-crash", "pod-kill", "traffic-spike")
    max_step_seconds = 120

    @rule(replicas=st.integers(min_value=1, max_value=6))
    def scale_catalog(self, replicas: int) -> None:
        """An operator's step: scale the catalog Deployment (the control plane takes it from there)."""
        catalog = self.sim.state.workloads_by_name[("Deployment", "default", "catalog")]
        self.sim.state.scale_workload(catalog.uid, replicas)


TestShop = settings(max_examples=8, stateful_step_count=8, deadline=None)(ShopMachine).TestCase
