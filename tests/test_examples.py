"""The README's main job (examples/node_failure.py) runs, recovers, and is deterministic."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "examples" / "node_failure.py"


def load_example():
    spec = importlib.util.spec_from_file_location("node_failure", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_main_job_recovers_from_a_node_failure_and_prints_the_same_twice(capsys):
    example = load_example()
    assert example.main(["--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert "Ready=Unknown" in first and "TaintEviction" in first and "recovered: every workload" in first
    assert example.main(["--seed", "1"]) == 0
    assert capsys.readouterr().out == first


def test_bad_manifests_exit_2_with_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: -1}\n")
    assert load_example().main(["--manifests", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(bad) in err and "Traceback" not in err
