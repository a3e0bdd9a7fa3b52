"""Kubernetes resource quantities, parsed exactly into integers, and the ``Resources`` value.

Kubernetes writes quantities as a number with an optional suffix (k8s.io/apimachinery
``pkg/api/resource/quantity.go``): binary suffixes ``Ki Mi Gi Ti Pi Ei``, decimal suffixes
``n u m k M G T P E``, or a decimal exponent ``e3`` / ``E3``. The model keeps CPU in millicores and
memory in bytes, as integers, and parses with :class:`fractions.Fraction` so ``0.1`` is exactly 100m.
Fractions of the unit round *up* (as upstream's ``MilliValue``/``Value`` do), so ``0.5m`` is 1m.

>>> parse_cpu("250m"), parse_cpu("0.5"), parse_cpu("2")
(250, 500, 2000)
>>> parse_memory("64Mi"), parse_memory("1Gi"), parse_memory("500M"), parse_memory("1e3")
(67108864, 1073741824, 500000000, 1000)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["QuantityError", "Resources", "parse_cpu", "parse_memory", "parse_quantity"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>\d+(?:\.\d*)?|\.\d+)"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exponent>[eE][+-]?\d+)|(?P<decimal>[numkMGTPE]?))$"
)


class QuantityError(ValueError):
    """A resource quantity that Kubernetes would reject. The message names the value and the fix."""


def parse_quantity(value: str | int | float) -> Fraction:
    """Parse a Kubernetes quantity into an exact :class:`~fractions.Fraction` of base units.

    >>> parse_quantity("1.5Gi") == 1.5 * 2**30
    True
    """
    if isinstance(value, bool):
        raise QuantityError(f"invalid quantity {value!r}: expected a number or a string like '100m' or '1Gi'")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"invalid quantity {value!r}: must be a finite number")
        return Fraction(str(value))
    if not isinstance(value, str):
        raise QuantityError(
            f"invalid quantity {value!r}: expected a number or a string like '100m' or '1Gi'"
        )
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise QuantityError(
            f"invalid quantity {value!r}: write a number with an optional suffix, "
            "for example '100m', '0.5', '64Mi', '1Gi', '500M' or '1e3'"
        )
    number = Fraction(match["number"])
    if match["binary"]:
        number *= _BINARY[match["binary"]]
    elif match["exponent"]:
        exponent = int(match["exponent"][1:])
        if abs(exponent) > 30:
            raise QuantityError(f"invalid quantity {value!r}: exponent {exponent} is out of range")
        number *= Fraction(10) ** exponent
    else:
        number *= _DECIMAL[match["decimal"] or ""]
    return -number if match["sign"] == "-" else number


def _non_negative_ceil(value: str | int | float, scale: int, what: str) -> int:
    amount = parse_quantity(value) * scale
    if amount < 0:
        raise QuantityError(f"invalid {what} quantity {value!r}: must not be negative")
    return math.ceil(amount)


def parse_cpu(value: str | int | float) -> int:
    """CPU quantity in millicores (``"250m"`` -> 250, ``"1"`` -> 1000), rounded up as upstream."""
    return _non_negative_ceil(value, 1000, "cpu")


def parse_memory(value: str | int | float) -> int:
    """Memory (or storage) quantity in bytes (``"64Mi"`` -> 67108864), rounded up as upstream."""
    return _non_negative_ceil(value, 1, "memory")


@dataclass(frozen=True, slots=True)
class Resources:
    """An amount of CPU (millicores), memory (bytes), pod slots and ephemeral storage (bytes).

    Immutable and exact; ``+``, ``-`` and :meth:`fits_in` work per resource.

    >>> node = Resources(cpu_millis=4000, memory_bytes=8 * 2**30, pods=110)
    >>> Resources(cpu_millis=500, memory_bytes=2**30, pods=1).fits_in(node)
    True
    """

    cpu_millis: int = 0
    memory_bytes: int = 0
    pods: int = 0
    ephemeral_storage_bytes: int = 0

    @classmethod
    def parse(cls, mapping: dict[str, object] | None, pods: int = 0) -> Resources:
        """Build from a Kubernetes resource map such as ``{"cpu": "100m", "memory": "64Mi"}``.

        Unknown resource names (extended resources, GPUs) are ignored by this model.
        """
        mapping = mapping or {}
        return cls(
            cpu_millis=parse_cpu(mapping["cpu"]) if "cpu" in mapping else 0,
            memory_bytes=parse_memory(mapping["memory"]) if "memory" in mapping else 0,
            pods=int(str(mapping["pods"])) if "pods" in mapping else pods,
            ephemeral_storage_bytes=(
                parse_memory(mapping["ephemeral-storage"]) if "ephemeral-storage" in mapping else 0
            ),
        )

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.pods + other.pods,
            self.ephemeral_storage_bytes + other.ephemeral_storage_bytes,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.pods - other.pods,
            self.ephemeral_storage_bytes - other.ephemeral_storage_bytes,
        )

    def max(self, other: Resources) -> Resources:
        """Per-resource maximum (used for init containers, which run before the others)."""
        return Resources(
            max(self.cpu_millis, other.cpu_millis),
            max(self.memory_bytes, other.memory_bytes),
            max(self.pods, other.pods),
            max(self.ephemeral_storage_bytes, other.ephemeral_storage_bytes),
        )

    def fits_in(self, available: Resources) -> bool:
        """True when every resource of ``self`` is at most the same resource of ``available``."""
        return (
            self.cpu_millis <= available.cpu_millis
            and self.memory_bytes <= available.memory_bytes
            and self.pods <= available.pods
            and self.ephemeral_storage_bytes <= available.ephemeral_storage_bytes
        )

    def is_zero(self) -> bool:
        return not (self.cpu_millis or self.memory_bytes or self.pods or self.ephemeral_storage_bytes)

    def __str__(self) -> str:
        return (
            f"cpu={self.cpu_millis}m memory={self.memory_bytes // 2**20}Mi pods={self.pods}"
        )
