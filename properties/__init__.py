"""podquake.properties: the invariants that judge every run.

A property reads a run's trace (through the shared :class:`Ledger`) and gives a :class:`Verdict`:
passed, failed or unknown, with evidence. Three kinds: safety (every step), bounded liveness (after
the last fault heals, within a time bound) and statistical (a distribution within a tolerance that
accounts for sample size). The library's properties register on import under stable ids; users add
their own with :func:`invariant`, :func:`at_end` or a :class:`Property` subclass, and pick them with
:class:`Suite`. A :class:`Monitor` judges a live simulation; :func:`check_trace` a recorded one.
"""

from podquake.properties import distribution, liveness, liveness_pods, liveness_scaling, safety  # noqa: F401  (registers the library)
from podquake.properties import liveness_jobs  # noqa: F401,E402  (registered last: the earlier ids keep their order)
from podquake.properties.base import KINDS, Kind, Property, RunInfo
from podquake.properties.custom import at_end, invariant
from podquake.properties.ledger import Ledger, LedgerNode, LedgerPod, LedgerVolume, LedgerWorkload
from podquake.properties.monitor import Monitor, any_failed, check_trace
from podquake.properties.registry import Suite, property_class, register, registered
from podquake.properties.verdict import FAILED, PASSED, UNKNOWN, Status, Verdict, Violation

__all__ = [
    "KINDS",
    "Kind",
    "Property",
    "RunInfo",
    "at_end",
    "invariant",
    "Ledger",
    "LedgerNode",
    "LedgerPod",
    "LedgerVolume",
    "LedgerWorkload",
    "Monitor",
    "any_failed",
    "check_trace",
    "Suite",
    "property_class",
    "register",
    "registered",
    "FAILED",
    "PASSED",
    "UNKNOWN",
    "Status",
    "Verdict",
    "Violation",
]
