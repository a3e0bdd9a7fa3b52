"""Quantities parse exactly as k8s.io/apimachinery/pkg/api/resource/quantity.go does."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podquake.model.quantity import QuantityError, Resources, parse_cpu, parse_memory, parse_quantity


@pytest.mark.parametrize(
    ("text", "millis"),
    [("100m", 100), ("0.5", 500), ("2", 2000), ("1.5", 1500), ("0.1", 100), ("250m", 250), (1, 1000), (0.25, 250),
     ("1e3", 1_000_000), ("0.5m", 1), ("1k", 1_000_000), ("+2", 2000), (".5", 500)],
)
def test_cpu_in_millicores(text, millis):
    assert parse_cpu(text) == millis


@pytest.mark.parametrize(
    ("text", "size"),
    [("64Mi", 64 * 2**20), ("1Gi", 2**30), ("500M", 500_000_000), ("1e3", 1000), ("128974848", 128974848),
     ("129e6", 129_000_000), ("123Mi", 123 * 2**20), ("1.5Gi", 3 * 2**29), ("1Ki", 1024), ("2E", 2 * 10**18),
     ("1Ti", 2**40), ("100k", 100_000), ("0", 0)],
)
def test_memory_in_bytes(text, size):
    assert parse_memory(text) == size


def test_fractions_of_a_unit_round_up_as_upstream_value():
    # quantity.go's Value()/MilliValue() round up to the next integer.
    assert parse_memory("0.5") == 1
    assert parse_cpu("0.0001") == 1


@pytest.mark.parametrize("bad", ["", "abc", "12x", "1.2.3", "Mi", "1 Gi", "--1", "1e", "1ee3", "1Gb", True, None, [1]])
def test_invalid_quantities_are_a_clear_error_naming_the_value(bad):
    with pytest.raises(QuantityError) as info:
        parse_quantity(bad)
    assert repr(bad) in str(info.value)


def test_negative_requests_are_rejected():
    with pytest.raises(QuantityError, match="negative"):
        parse_cpu("-100m")
    assert parse_quantity("-1") == Fraction(-1)


@given(st.integers(min_value=0, max_value=10**6))
def test_millicores_round_trip(millis):
    assert parse_cpu(f"{millis}m") == millis


@given(st.integers(min_value=0, max_value=2**20), st.sampled_from(["Ki", "Mi", "Gi"]))
def test_binary_suffixes(n, suffix):
    assert parse_memory(f"{n}{suffix}") == n * {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[suffix]


def test_resources_arithmetic_and_fit():
    node = Resources(cpu_millis=4000, memory_bytes=8 * 2**30, pods=110)
    pod = Resources(cpu_millis=500, memory_bytes=2**30, pods=1)
    assert pod + pod == Resources(1000, 2 * 2**30, 2)
    assert node - pod == Resources(3500, 7 * 2**30, 109)
    assert pod.fits_in(node)
    assert not Resources(cpu_millis=4001).fits_in(node)
    assert not Resources(memory_bytes=8 * 2**30 + 1).fits_in(node)
    assert not Resources(pods=111).fits_in(node)
    assert Resources(1, 5).max(Resources(3, 2)) == Resources(3, 5)


def test_resources_parse_from_a_manifest_map():
    assert Resources.parse({"cpu": "100m", "memory": "64Mi"}) == Resources(100, 64 * 2**20)
    assert Resources.parse({"cpu": "1", "ephemeral-storage": "1Gi", "nvidia.com/gpu": 1}) == Resources(
        1000, 0, 0, 2**30
    )
