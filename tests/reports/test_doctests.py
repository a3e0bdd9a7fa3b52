"""The examples in the reports package's docstrings run as written."""

import doctest
import importlib
import pkgutil

import pytest

import podquake.reports

MODULES = sorted(m.name for m in pkgutil.iter_modules(podquake.reports.__path__, "podquake.reports."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
