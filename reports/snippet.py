'''A regression test for a counterexample: pytest source that replays its scenario file.

Save it as a test file beside the ``counterexample-N.yaml`` it names (the report's, or a copy); it
fails while the bug is there and passes once it is fixed. It calls :func:`podquake.chaos.replay`,
which re-runs the file exactly and returns every property's verdict. The scenario names the
scheduler and the modules of one's own properties, which must import where the test runs: replay
finds them in the working folder too (as ``podquake replay`` does), so running ``pytest`` from the
folder ``podquake run`` ran in is enough; elsewhere, they must be on the import path.

>>> print(pytest_snippet({"id": "counterexample-1", "property": "no-overcommit",
...                       "message": "worker-2 over", "file": "counterexample-1.yaml", "seed": 7}))
"""Regression test for counterexample-1: no-overcommit (found by podquake, seed 7).
<BLANKLINE>
Keep this file beside counterexample-1.yaml; run pytest where the modules that the scenario
names (its scheduler, its imports) can be imported, e.g. from the folder podquake run ran in.
<BLANKLINE>
It failed with: worker-2 over
"""
<BLANKLINE>
from pathlib import Path
<BLANKLINE>
from podquake.chaos import replay
<BLANKLINE>
SCENARIO = Path(__file__).with_name("counterexample-1.yaml")
<BLANKLINE>
<BLANKLINE>
def test_counterexample_1_no_overcommit():
    verdicts = replay(SCENARIO)
    failed = [v.line() for v in verdicts if not v.ok]
    assert not failed, "\\n".join(failed)
<BLANKLINE>
'''

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["inline_reproducer", "pytest_snippet"]


def _identifier(text: str) -> str:
    return re.sub(r"\W+", "_", text, flags=re.ASCII).strip("_").lower() or "property"


def _docstring_safe(text: str) -> str:
    """One line that cannot end the docstring or start an escape."""
    flat = " ".join(str(text).split())
    return flat.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def pytest_snippet(counterexample: Mapping[str, Any]) -> str:
    """The source of a pytest test that replays ``counterexample``'s file and asserts every verdict is ok."""
    ident = str(counterexample["id"])
    prop = str(counterexample["property"])
    name = f"test_{_identifier(ident)}_{_identifier(prop)}"
    header = f"Regression test for {ident}: {prop} (found by podquake, seed {counterexample['seed']})."
    return (
        f'"""{_docstring_safe(header)}\n'
        f"\n"
        f"Keep this file beside {_docstring_safe(counterexample['file'])}; run pytest where the modules that the scenario\n"
        f"names (its scheduler, its imports) can be imported, e.g. from the folder podquake run ran in.\n"
        f"\n"
        f"It failed with: {_docstring_safe(counterexample['message'])}\n"
        f'"""\n'
        f"\n"
        f"from pathlib import Path\n"
        f"\n"
        f"from podquake.chaos import replay\n"
        f"\n"
        f"SCENARIO = Path(__file__).with_name({json.dumps(str(counterexample['file']))})\n"
        f"\n"
        f"\n"
        f"def {name}():\n"
        f"    verdicts = replay(SCENARIO)\n"
        f"    failed = [v.line() for v in verdicts if not v.ok]\n"
        f'    assert not failed, "\\n".join(failed)\n'
    )


def inline_reproducer(scenario_yaml: str, property_id: str) -> str:
    """Python that re-runs a scenario held inline as YAML text and fails while ``property_id`` (or any
    other property) fails: what a failing pytest suite prints, to paste anywhere (no file needed)."""
    name = _identifier(property_id)
    return (
        "from podquake.chaos import load_scenario, run_scenario\n"
        "\n"
        f"SCENARIO = {python_text(scenario_yaml)}\n"
        "\n"
        "\n"
        f"def test_{name}_counterexample():\n"
        "    result = run_scenario(load_scenario(SCENARIO))\n"
        '    assert result.ok, "\\n".join(verdict.line() for verdict in result.failed)\n'
        "\n"
        "\n"
        'if __name__ == "__main__":\n'
        f"    test_{name}_counterexample()"
    )


def python_text(text: str) -> str:
    """``text`` as a Python string literal: triple-quoted when that reads back exactly, else ``repr``."""
    if '"""' not in text and "\\" not in text and not text.endswith('"'):
        return f'"""\\\n{text}"""'
    return repr(text)
