"""Slow tests (whole chaos campaigns that shrink, on the embedded sample shop) run only when asked.

A test marked ``@pytest.mark.slow`` is skipped unless pytest gets ``--runslow`` (``pytest --runslow``,
or ``pytest tests/chaos --runslow``) or the environment has ``PODQUAKE_SLOW=1``.
"""

from __future__ import annotations

import os
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run the tests marked slow")


def slow_wanted(config: pytest.Config) -> bool:
    return bool(config.getoption("--runslow", default=False)) or os.environ.get("PODQUAKE_SLOW", "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if slow_wanted(config):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or PODQUAKE_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
