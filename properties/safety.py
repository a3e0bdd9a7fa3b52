"""Safety properties: what must hold at every step of a run.

Each is judged incrementally, event by event, from the trace and the shared ledger. Importing this
module registers the library's safety properties, in this order:

========================== ======================================================================
``no-overcommit``          bound pods' requests never exceed a node's allocatable
``single-binding``         a pod is bound to one node at most, and its containers run only there
``schedulable-nodes-only`` no new binding to a missing, NotReady, cordoned or untolerated-tainted node
``scheduler-contract``     the scheduler plug-in never broke its contract
``endpoints-ready-only``   after the propagation delay, a Service's endpoints hold only ready pods
``rwo-single-attach``      a ReadWriteOnce volume is attached to one node at most
``pdb-respected``          voluntary evictions never take a PodDisruptionBudget below its budget
``no-lost-work``           no queued work item is lost when workers crash or nodes fail
========================== ======================================================================

They live in three modules by subject: :mod:`~podquake.properties.safety_placement`,
:mod:`~podquake.properties.safety_endpoints` and :mod:`~podquake.properties.safety_disruption`.
"""

from __future__ import annotations

# Registration follows import order, which is the table's: placement, endpoints, disruption.
# isort: off
from podquake.properties.safety_placement import NoOvercommit, SchedulableNodesOnly, SchedulerContract, SingleBinding
from podquake.properties.safety_endpoints import EndpointsReadyOnly
from podquake.properties.safety_disruption import NoLostWork, PdbRespected, RwoSingleAttach

# isort: on

__all__ = [
    "NoOvercommit",
    "SingleBinding",
    "SchedulableNodesOnly",
    "SchedulerContract",
    "EndpointsReadyOnly",
    "RwoSingleAttach",
    "PdbRespected",
    "NoLostWork",
]
