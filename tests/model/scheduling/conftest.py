"""Makes the shared builders (scheduling_builders.py) importable from this folder's tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
