"""The one error type for bad user input, and how it names what went wrong.

Every loader (manifests, cluster specs, scenario files) raises :class:`InputError` with the file,
the place in it, the field and the fix, so the command line can print one clear line and exit 2.

>>> str(InputError("bad quantity '12x'", source="app.yaml", location="document 3 (Deployment web)",
...                field="spec.template.spec.containers[0].resources.requests.cpu", fix="write e.g. '250m'"))
"app.yaml: document 3 (Deployment web): spec.template.spec.containers[0].resources.requests.cpu: bad quantity '12x' (fix: write e.g. '250m')"

:func:`finite_number` is the one check of a number argument (a delay, a rate, an option):

>>> finite_number(30, "after", minimum=0, unit="seconds")
30.0
>>> finite_number(float("nan"), "after", minimum=0, unit="seconds", fix="write e.g. after=30.0")
Traceback (most recent call last):
...
podquake.model.errors.InputError: after must be a finite number of seconds >= 0, not nan (fix: write e.g. after=30.0)
"""

from __future__ import annotations

import math
import numbers

__all__ = ["InputError", "finite_number"]


class InputError(ValueError):
    """Bad input from a person: a manifest, a cluster spec, a scenario, a plug-in name."""

    def __init__(self, message: str, *, source: str = "", location: str = "", field: str = "", fix: str = "") -> None:
        self.message = message
        self.source = source
        self.location = location
        self.field = field
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.location, self.field) if p]
        text = ": ".join(parts + [self.message])
        return f"{text} (fix: {self.fix})" if self.fix else text


def finite_number(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    positive: bool = False,
    maximum: float | None = None,
    unit: str = "",
    field: str = "",
    fix: str = "",
) -> float:
    """``value`` as a float if it is a real number (not a bool), finite, and within the bounds;
    otherwise an :class:`InputError` (``field``, ``fix``) whose message starts with ``name``.

    ``minimum``/``maximum`` are inclusive; ``positive`` asks for > 0 instead of a minimum. ``unit``
    is said after "a finite number of" (``"seconds"``). The message gives the rule broken:
    ``after must be a finite number of seconds >= 0, not -5``; with both a lower and an upper bound,
    a finite value is told the one bound it is past (``Diurnal period must be <= 1e+09, not 1e+308``)
    rather than the whole range.

    Why one check: every comparison with NaN is false, so a bare ``if value < 0`` let a NaN delay
    through to a timer that never came due. An int too large for a float is refused like infinity.
    """
    if positive and minimum is not None:
        raise TypeError("finite_number takes minimum or positive, not both")
    lower = "> 0" if positive else None if minimum is None else f">= {minimum:g}"
    upper = None if maximum is None else f"<= {maximum:g}"
    bounds = " and ".join(b for b in (lower, upper) if b)
    rule = " ".join(part for part in ("a finite number", f"of {unit}" if unit else "", bounds) if part)

    def refuse(broken: str) -> InputError:
        return InputError(f"{name} must be {broken}, not {value!r}", field=field, fix=fix)

    number = math.nan
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int past 1.8e308: as a float it would be inf
            pass
    if not math.isfinite(number):
        raise refuse(rule)
    too_low = number <= 0 if positive else minimum is not None and number < minimum
    if too_low or (maximum is not None and number > maximum):
        # With two bounds the one passed says more than the whole range; with one, it is the rule.
        raise refuse((lower if too_low else upper) if lower and upper else rule)
    return number
