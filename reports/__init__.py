"""podquake.reports: placeholder package; built in a later issue (see the issue tracker)."""

__all__: list[str] = []
