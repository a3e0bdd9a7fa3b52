"""The examples in the properties package's docstrings run as written."""

import doctest
import importlib
import pkgutil

import pytest

import podquake.properties

MODULES = sorted(m.name for m in pkgutil.iter_modules(podquake.properties.__path__, "podquake.properties."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
