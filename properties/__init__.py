"""podquake.properties: placeholder package; built in a later issue (see the issue tracker)."""

__all__: list[str] = []
