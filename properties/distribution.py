"""Distribution and availability properties: how load, placements and failures are spread.

- ``even-load`` (statistical, :mod:`~podquake.properties.distribution_load`): under steady
  traffic, each ready endpoint's share of a Service's requests is within tolerance of an even split.
- ``spread-within-skew`` (safety, :mod:`~podquake.properties.distribution_spread`): placements
  honour each pod's DoNotSchedule topologySpreadConstraints at binding time.
- ``availability-slo`` (statistical, :mod:`~podquake.properties.distribution_availability`): no
  single node failure takes a replicated Service fully down, and its success rate meets the SLO.

The statistics they rely on (exact binomial and chi-square tails, Šidák's correction) are in
:mod:`~podquake.properties.stats`. Importing this module registers the three properties.
"""

# ruff: noqa: I001
from __future__ import annotations

# In the order, which is the order they register in (and list in).
from podquake.properties.distribution_load import EvenLoad
from podquake.properties.distribution_spread import SpreadWithinSkew
from podquake.properties.distribution_availability import AvailabilitySlo

__all__ = ["AvailabilitySlo", "EvenLoad", "SpreadWithinSkew"]
