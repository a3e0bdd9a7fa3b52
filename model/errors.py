"""The one error type for bad user input, and how it names what went wrong.

Every loader (manifests, cluster specs, scenario files) raises :class:`InputError` with the file,
the place in it, the field and the fix, so the command line can print one clear line and exit 2.

>>> str(InputError("bad quantity '12x'", source="app.yaml", location="document 3 (Deployment web)",
...                field="spec.template.spec.containers[0].resources.requests.cpu", fix="write e.g. '250m'"))
"app.yaml: document 3 (Deployment web): spec.template.spec.containers[0].resources.requests.cpu: bad quantity '12x' (fix: write e.g. '250m')"
"""

from __future__ import annotations

__all__ = ["InputError"]


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
