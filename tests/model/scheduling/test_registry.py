"""Finding schedulers by name, entry point, MODULE:ATTR, object or factory; and the errors people see."""

from __future__ import annotations

import random
from importlib import metadata

import pytest

from podquake.model.errors import InputError
from podquake.model.scheduling import builtins
from podquake.model.scheduling.framework import FrameworkScheduler, Profile
from podquake.model.scheduling.registry import ENTRY_POINT_GROUP, list_schedulers, resolve_scheduler


def test_none_is_the_default_profile() -> None:
    scheduler = resolve_scheduler(None, random.Random(0))
    assert isinstance(scheduler, FrameworkScheduler)
    assert scheduler.profile == Profile.default()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("default", FrameworkScheduler),
        ("least-allocated", FrameworkScheduler),
        ("first-fit", builtins.FirstFit),
        ("round-robin", builtins.RoundRobin),
        ("random", builtins.RandomFit),
        ("bin-packing", builtins.BinPacking),
    ],
)
def test_builtin_names(name: str, kind: type) -> None:
    scheduler = resolve_scheduler(name, random.Random(0))
    assert isinstance(scheduler, kind) and scheduler.name == name


def test_factories_receive_the_simulation_rng() -> None:
    rng = random.Random(4)
    assert resolve_scheduler("random", rng).rng is rng
    assert resolve_scheduler("default", rng).rng is rng


def test_entry_points_are_listed_and_resolvable() -> None:
    names = list_schedulers()
    assert names[:6] == ["default", "least-allocated", "first-fit", "round-robin", "random", "bin-packing"]
    installed = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert installed <= set(names)
    for name in installed:
        assert callable(resolve_scheduler(name, random.Random(0)).schedule)


def test_module_attr_objects_classes_and_factories() -> None:
    assert isinstance(
        resolve_scheduler("podquake.model.scheduling.builtins:FirstFit", random.Random(0)), builtins.FirstFit
    )
    made = resolve_scheduler("podquake.model.scheduling.builtins:least_allocated_scheduler", random.Random(0))
    assert made.profile == Profile.least_allocated()
    instance = builtins.RoundRobin()
    assert resolve_scheduler(instance, random.Random(0)) is instance

    class NoArguments:
        name = "plain"

        def schedule(self, pod: object, cluster: object) -> None:
            return None

    assert isinstance(resolve_scheduler(NoArguments, random.Random(0)), NoArguments)
    rng = random.Random(1)
    assert resolve_scheduler(lambda rng: builtins.RandomFit(rng), rng).rng is rng  # a parameter named rng

    def annotated(r: random.Random) -> builtins.RandomFit:
        return builtins.RandomFit(r)

    assert resolve_scheduler(annotated, rng).rng is rng  # one required argument annotated random.Random
    framework = resolve_scheduler(FrameworkScheduler, rng)  # rng passed by name, not as the profile
    assert framework.rng is rng and framework.profile == Profile.default()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown scheduler 'nope'; known: default, least-allocated, first-fit"),
        ("no_such_module_xyz:Thing", "cannot import module 'no_such_module_xyz'"),
        ("podquake.model.scheduling.builtins:Nope", "has no attribute 'Nope'"),
        ("podquake.model.scheduling.builtins:", "is not MODULE:ATTR"),
        (42, "is a int, not a scheduler"),
        ("podquake.model.constants:MAX_NODE_SCORE", "is a int, not a scheduler"),
        (dict, "which has no schedule(pod, cluster) method"),
    ],
)
def test_errors_name_the_value_and_the_fix(spec: object, message: str) -> None:
    with pytest.raises(InputError) as caught:
        resolve_scheduler(spec, random.Random(0))
    assert message in str(caught.value)
    assert caught.value.fix and caught.value.field == "scheduler"


def test_a_factory_that_fails_is_an_input_error() -> None:
    def broken(rng: random.Random) -> None:
        raise RuntimeError("no config")

    with pytest.raises(InputError, match="creating scheduler .* failed: RuntimeError: no config"):
        resolve_scheduler(broken, random.Random(0))


class Counting:
    """A plug-in that keeps state: how many pods it placed."""

    name = "counting"

    def __init__(self) -> None:
        self.placed = 0

    def schedule(self, pod: object, cluster: object) -> None:
        self.placed += 1


COUNTING = Counting()


class Uncopyable(Counting):
    def __deepcopy__(self, memo: dict[int, object]) -> Uncopyable:
        raise TypeError("cannot copy a lock")


UNCOPYABLE = Uncopyable()


def test_an_object_named_module_attr_is_copied_for_each_simulation() -> None:
    """Its state must not carry from one run into the next (a campaign's examples would depend on one
    another, and the same seed would not give the same run)."""
    COUNTING.placed = 3
    first, second = (resolve_scheduler(f"{__name__}:COUNTING", random.Random(0)) for _ in range(2))
    assert first is not COUNTING and second is not first
    first.placed += 1
    assert (first.placed, second.placed, COUNTING.placed) == (4, 3, 3)


def test_an_object_given_directly_or_that_cannot_be_copied_is_used_as_it_is() -> None:
    assert resolve_scheduler(COUNTING, random.Random(0)) is COUNTING  # the caller holds it
    assert resolve_scheduler(f"{__name__}:UNCOPYABLE", random.Random(0)) is UNCOPYABLE


class Weighted:
    """Configured by a weight, which is not the simulation's rng."""

    name = "weighted"

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def schedule(self, pod: object, cluster: object) -> None:
        return None


class WeightedWithRng(Weighted):
    def __init__(self, weight: float, rng: random.Random | None = None) -> None:
        super().__init__(weight)


def needs_a_keyword(*, weight: float) -> Weighted:
    return Weighted(weight)


@pytest.mark.parametrize(
    ("spec", "argument"),
    [
        (f"{__name__}:Weighted", "weight"),
        (Weighted, "weight"),
        (lambda r: builtins.RandomFit(r), "r"),  # not named rng nor annotated: not given the rng
        (WeightedWithRng, "weight"),
        (needs_a_keyword, "weight"),
    ],
)
def test_a_factory_with_a_required_argument_other_than_rng_is_refused(spec: object, argument: str) -> None:
    """The simulation's random.Random is not silently passed as, say, a weight."""
    with pytest.raises(InputError) as caught:
        resolve_scheduler(spec, random.Random(0))
    assert f"needs argument {argument!r}; podquake can only give it rng" in str(caught.value)
    assert caught.value.field == "scheduler" and "name it rng" in caught.value.fix


def test_optional_arguments_keep_their_defaults() -> None:
    class Tuned:
        name = "tuned"

        def __init__(self, weight: float = 0.5, *args: object, **kwargs: object) -> None:
            self.weight = weight

        def schedule(self, pod: object, cluster: object) -> None:
            return None

    assert resolve_scheduler(Tuned, random.Random(0)).weight == 0.5


class Nameless:
    def schedule(self, pod: object, cluster: object) -> None:
        return None


class BlankName(Nameless):
    name = " "


class NumberName(Nameless):
    name = 7


def test_a_scheduler_without_a_name_is_accepted_and_named_after_its_class() -> None:
    """The documented fallback (the contract wrapper names it type(scheduler).__name__)."""
    from podquake.model.scheduling import registry

    assert isinstance(resolve_scheduler(f"{__name__}:Nameless", random.Random(0)), Nameless)
    assert "named after its class" in (registry.__doc__ or "")


@pytest.mark.parametrize("spec", [BlankName(), BlankName, f"{__name__}:NumberName", lambda: NumberName()], ids=["object", "class", "module-attr", "factory"])
def test_a_scheduler_whose_name_is_blank_or_not_a_string_is_refused(spec: object) -> None:
    """A blank or numeric name was accepted, and verdicts and reports named the scheduler by it."""
    with pytest.raises(InputError) as info:
        resolve_scheduler(spec, random.Random(0))
    assert info.value.field == "scheduler" and "not a non-empty string" in info.value.message
    assert "a name, e.g. name = " in info.value.fix


def test_a_value_that_is_no_scheduler_lists_the_known_names() -> None:
    """Simulation(scheduler=5) said "use one of the names above" and listed no names."""
    from podquake.model.simulation import Simulation

    with pytest.raises(InputError) as info:
        Simulation(scheduler=5)
    assert "known names: default, least-allocated, first-fit, round-robin, random, bin-packing" in info.value.message
    assert "use one of the names above" in info.value.fix
