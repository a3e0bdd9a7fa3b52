"""The public surface of podquake.model is an explicit, importable list (as Hypothesis checks its own)."""

import podquake.model as model


def test_every_exported_name_exists_and_the_list_is_sorted_without_duplicates():
    assert len(set(model.__all__)) == len(model.__all__)
    for name in model.__all__:
        assert getattr(model, name) is not None, name


def test_the_core_entry_points_are_exported():
    assert {"Simulation", "ClusterSpec", "load_manifests", "Scheduler", "resolve_scheduler", "InputError"} <= set(model.__all__)
