"""``python3 -m podquake.chaos``: the ``podquake`` command, for when the script is not on PATH."""

from podquake.chaos.cli import main

main()
