"""Scheduling: the plug-in contract, the validating adapter, the framework scheduler and built-ins."""

from podquake.model.scheduling.contract import Scheduler, ValidatingScheduler, placement_problem
from podquake.model.scheduling.registry import resolve_scheduler

__all__ = ["Scheduler", "ValidatingScheduler", "placement_problem", "resolve_scheduler"]
