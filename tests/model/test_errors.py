"""InputError, and finite_number: the one check of a number argument every module uses."""

import doctest
import math
from fractions import Fraction

import pytest

import podquake.model.errors as errors_module
from podquake.model.errors import InputError, finite_number


def test_the_module_examples_run():
    assert doctest.testmod(errors_module).failed == 0


@pytest.mark.parametrize("value", [0, 3, 2.5, Fraction(1, 4), 1e300])
def test_a_finite_number_comes_back_as_a_float(value):
    result = finite_number(value, "x", minimum=0)
    assert type(result) is float and result == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400, True, False, "3", None, [1]])
def test_anything_but_a_finite_number_is_refused_with_the_whole_rule(value):
    """Including booleans (an int subclass) and an int too large for a float (math.isfinite overflowed)."""
    with pytest.raises(InputError) as info:
        finite_number(value, "after", minimum=0, unit="seconds", field="Kubelet.after", fix="write e.g. after=30.0")
    assert info.value.message == f"after must be a finite number of seconds >= 0, not {value!r}"
    assert (info.value.field, info.value.fix) == ("Kubelet.after", "write e.g. after=30.0")
    assert isinstance(info.value, ValueError)  # callers that caught ValueError still do


def test_with_one_bound_the_message_is_the_whole_rule():
    with pytest.raises(InputError, match=r"^x must be a finite number >= 0, not -5$"):
        finite_number(-5, "x", minimum=0)
    with pytest.raises(InputError, match=r"^x must be a finite number > 0, not 0$"):
        finite_number(0, "x", positive=True)
    with pytest.raises(InputError, match=r"^x must be a finite number <= 1, not 2$"):
        finite_number(2, "x", maximum=1)


def test_with_two_bounds_the_message_names_the_one_passed():
    with pytest.raises(InputError, match=r"^rate must be >= 0, not -1$"):
        finite_number(-1, "rate", minimum=0, maximum=1e7)
    with pytest.raises(InputError, match=r"^rate must be <= 1e\+07, not 20000000.0$"):
        finite_number(2e7, "rate", minimum=0, maximum=1e7)
    with pytest.raises(InputError, match=r"^period must be > 0, not 0$"):
        finite_number(0, "period", positive=True, maximum=1e9)
    with pytest.raises(InputError, match=r"^rate must be a finite number >= 0 and <= 1e\+07, not nan$"):
        finite_number(math.nan, "rate", minimum=0, maximum=1e7)
    assert finite_number(0, "rate", minimum=0, maximum=1e7) == 0.0 and finite_number(1e7, "rate", minimum=0, maximum=1e7) == 1e7


def test_without_bounds_any_finite_number_passes():
    assert finite_number(-1e9, "t", unit="simulated seconds") == -1e9
    with pytest.raises(InputError, match=r"^t must be a finite number of simulated seconds, not inf$"):
        finite_number(math.inf, "t", unit="simulated seconds")


def test_minimum_and_positive_together_are_a_mistake_of_the_caller():
    with pytest.raises(TypeError):
        finite_number(1, "x", minimum=0, positive=True)
