"""Scheduling: the plug-in contract, the validating adapter, the framework scheduler and built-ins."""

from podquake.model.scheduling.builtins import (
    BinPacking,
    FirstFit,
    RandomFit,
    RoundRobin,
    default_scheduler,
    least_allocated_scheduler,
)
from podquake.model.scheduling.contract import Scheduler, ValidatingScheduler, placement_problem
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.scheduling.plugins import ScoringStrategy
from podquake.model.scheduling.registry import list_schedulers, resolve_scheduler

__all__ = [
    "BinPacking",
    "FirstFit",
    "FrameworkScheduler",
    "Profile",
    "RandomFit",
    "RoundRobin",
    "Scheduler",
    "ScoringStrategy",
    "ValidatingScheduler",
    "default_scheduler",
    "least_allocated_scheduler",
    "list_schedulers",
    "placement_problem",
    "resolve_scheduler",
]
