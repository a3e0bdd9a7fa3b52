"""The property machinery: verdicts, parameters, the registry, suites, the monitor, user properties."""

import re

import pytest

from podquake.model import ClusterSpec, Simulation
from podquake.model import trace as ev
from podquake.model.errors import InputError
from podquake.properties import (
    Ledger,
    Monitor,
    Property,
    RunInfo,
    Suite,
    Verdict,
    Violation,
    at_end,
    check_trace,
    invariant,
    property_class,
    registered,
)


def _node(name="worker-1", zone="zone-a", cpu=1000, memory=1 << 30, pods=110):
    return ev.NodeAdded(0.0, name, zone, cpu, memory, pods, (("topology.kubernetes.io/zone", zone),))


# --- verdicts ---------------------------------------------------------------------------------
def test_verdict_round_trips_through_its_dict_form():
    verdict = Verdict.failed("x", "broke", time=3.0, objects=("node/a",), numbers={"cpu": 5}, violations=2, note="n")
    assert Verdict.from_dict(verdict.to_dict()) == verdict
    assert not verdict.ok
    assert Verdict.unknown("x", "why").ok


def test_verdict_line_names_time_objects_numbers_and_count():
    line = Verdict.failed("p", "m", time=1.5, objects=("a",), numbers={"n": 1}, violations=3).line()
    assert line == "FAILED p at t=1.5s: m [a] n=1 (3 violations in all)"


# --- parameters -------------------------------------------------------------------------------
class _Param(Property):
    id = "test-param"
    description = "A property with parameters."
    params = {"within": 60.0, "slo": 0.99, "name": "x", "flag": False}


def test_parameters_default_and_override():
    prop = _Param(within=10)
    assert prop.within == 10.0 and isinstance(prop.within, float)
    assert prop.slo == 0.99
    assert prop.settings() == {"within": 10.0, "slo": 0.99, "name": "x", "flag": False}


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [({"bogus": 1}, "no parameter 'bogus'"), ({"within": "soon"}, "must be float"), ({"within": -1.0}, "finite number >= 0"), ({"within": float("nan")}, "finite number >= 0"), ({"within": float("inf")}, "finite number >= 0"), ({"flag": 1}, "must be bool")],
)
def test_bad_parameters_are_input_errors(overrides, fragment):
    with pytest.raises(InputError, match=fragment):
        _Param(**overrides)


# --- registry and suites ----------------------------------------------------------------------
def test_unknown_property_id_lists_the_known_ones():
    with pytest.raises(InputError) as info:
        property_class("no-such-property")
    assert "no-overcommit" in str(info.value)


def test_a_misspelt_id_names_the_nearest_and_how_ones_own_property_becomes_known():
    """The error listed the library's ids and never said that a property of one's own is known only
    once the module that registers it is imported."""
    from podquake.properties.registry import UnknownPropertyError

    with pytest.raises(UnknownPropertyError) as info:
        Suite.of(["no-overcomit"])
    error = info.value
    assert isinstance(error, InputError) and error.nearest == "no-overcommit" and error.field == "properties"
    assert "did you mean 'no-overcommit'?" in error.fix and "module that registers it is imported" in error.fix
    told = error.told("give --import MODULE", field="--properties")
    assert told.field == "--properties" and told.fix.endswith("imported: give --import MODULE") and told.nearest == "no-overcommit"


def test_suite_refuses_duplicates_and_stray_parameters():
    with pytest.raises(InputError, match="twice"):
        Suite.of(["no-overcommit", "no-overcommit"])
    with pytest.raises(InputError, match="not in the suite"):
        Suite.of(["no-overcommit"], params={"other": {}})


def test_default_suite_holds_the_library_and_fresh_copies_are_independent():
    suite = Suite.default()
    assert "no-overcommit" in suite.ids
    copy = suite.fresh()
    assert copy.ids == suite.ids
    assert all(a is not b for a, b in zip(copy, suite))


def test_every_registered_property_documents_itself():
    for property_id, cls in registered().items():
        assert cls.id == property_id
        assert cls.description and "\n" not in cls.description
        assert cls.kind in ("safety", "liveness", "statistical")


# --- the monitor ------------------------------------------------------------------------------
class _Raises(Property):
    id = "test-raises"
    description = "Raises on every bind."

    def on_PodBound(self, event, ledger):
        raise RuntimeError("boom")


class _CountsBinds(Property):
    id = "test-counts"
    description = "Counts binds."

    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = 0

    def on_PodBound(self, event, ledger):
        self.seen += 1


def _bind_events():
    return [
        _node(),
        ev.PodCreated(1.0, "default/a", "", 100, 1 << 20),
        ev.PodBound(2.0, "default/a", "worker-1"),
        ev.PodCreated(3.0, "default/b", "", 100, 1 << 20),
        ev.PodBound(4.0, "default/b", "worker-1"),
    ]


def test_a_raising_property_is_unknown_and_the_others_still_judge():
    counter = _CountsBinds()
    monitor = Monitor([_Raises(), counter])
    for event in _bind_events():
        monitor.observe(event)
    raised, counted = monitor.verdicts()
    assert raised.status == "unknown" and "RuntimeError: boom" in raised.message and raised.time == 2.0
    assert counted.status == "passed" and counter.seen == 2


def test_a_run_with_a_raising_property_is_refused_naming_it_and_where_it_raised():
    """It was an unknown verdict, and a campaign with a property that raised on every event passed
    ("1 property held, 2 could not be judged", exit 0)."""
    monitor = Monitor([_CountsBinds(), _Raises()])
    for event in _bind_events():
        monitor.observe(event)
    monitor.verdicts()
    with pytest.raises(InputError) as caught:
        monitor.refuse_broken()
    error = caught.value
    assert error.field == f"properties: test-raises (module {__name__})"
    assert "raised RuntimeError: boom at t=2s (in on_PodBound, " in error.message and "test_core.py:" in error.message


def test_a_finish_that_raises_or_answers_nonsense_is_refused_too():
    class Finishes(Property):
        id, description = "test-finishes", "Answers nonsense at the end."

        def finish(self, ledger, run):
            return self.answer()

    for answer, said in [(lambda: 1 / 0, "raised ZeroDivisionError"), (lambda: "fine", "its finish() returned 'fine'")]:
        prop = Finishes()
        prop.answer = answer
        monitor = Monitor([prop])
        monitor.verdicts(end=10.0)
        with pytest.raises(InputError, match=re.escape(said)):
            monitor.refuse_broken()


def test_a_library_property_that_raises_is_podquakes_own_bug():
    builtin = type("Raises", (_Raises,), {"__module__": "podquake.properties.safety"})
    monitor = Monitor([builtin()])
    for event in _bind_events():
        monitor.observe(event)
    monitor.verdicts()
    with pytest.raises(RuntimeError, match="podquake's own property 'test-raises'"):
        monitor.refuse_broken()
    Monitor([_CountsBinds()]).refuse_broken()  # nothing broke: nothing raised


def test_no_overcommit_fails_with_the_numbers_that_broke_the_bound():
    events = _bind_events() + [ev.PodCreated(5.0, "default/c", "", 900, 1 << 20), ev.PodBound(6.0, "default/c", "worker-1")]
    (verdict,) = check_trace(events, Suite.of(["no-overcommit"]))
    assert verdict.status == "failed"
    assert verdict.time == 6.0
    assert verdict.objects == ("node/worker-1", "pod/default/c")
    assert verdict.numbers["requested_cpu_millis"] == 1100 and verdict.numbers["allocatable_cpu_millis"] == 1000


def test_no_overcommit_counts_pods_against_the_pod_limit():
    events = [_node(pods=1)] + _bind_events()[1:]
    (verdict,) = check_trace(events, Suite.of(["no-overcommit"]))
    assert verdict.status == "failed" and verdict.numbers["pods"] == 2


def test_deleting_a_pod_frees_its_requests():
    events = _bind_events()[:3] + [
        ev.PodDeleted(3.0, "default/a", "worker-1", "test"),
        ev.PodCreated(4.0, "default/c", "", 950, 1 << 20),
        ev.PodBound(5.0, "default/c", "worker-1"),
    ]
    (verdict,) = check_trace(events, Suite.of(["no-overcommit"]))
    assert verdict.status == "passed"


def test_live_and_replayed_verdicts_agree_on_a_real_run():
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=3)
    live = Monitor(Suite.default()).attach(sim)
    sim.run(120)
    assert live.verdicts() == check_trace(sim.trace, Suite.default(), end=sim.now)


def test_judging_a_trace_that_kept_no_events_is_refused():
    """``check_trace`` judged a ``keep_trace=False`` trace (0 events kept) as passing everything."""
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1, keep_trace=False)
    sim.run(30)
    with pytest.raises(InputError, match=r"^keep_trace: cannot judge this trace: it kept none of its \d+ events \(the simulation was made with keep_trace=False\) \(fix: make the Simulation with keep_trace=True"):
        check_trace(sim.trace, Suite.of(["no-overcommit"]))
    assert check_trace(ev.Trace(keep=False), Suite.of(["no-overcommit"]))[0].status == "passed"  # nothing happened, nothing lost


def test_attaching_late_folds_in_what_already_happened():
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
    sim.run(10)
    monitor = Monitor(Suite.of(["no-overcommit"])).attach(sim)
    assert set(monitor.ledger.nodes) == {"worker-1", "worker-2"}


def test_quiet_from_follows_the_nemesis_marks():
    ledger = Ledger()
    for event in [ev.Annotation(5.0, "fault-started", "a"), ev.Annotation(9.0, "fault-healed", "a")]:
        ledger.apply(event)
    assert ledger.quiet_from == 9.0
    ledger.apply(ev.Annotation(12.0, "all-healed", ""))
    assert ledger.quiet_from == 12.0
    assert RunInfo(end=40.0, quiet_from=12.0).quiet_for == 28.0


# --- user-defined properties ------------------------------------------------------------------
@invariant("test-no-zone-c", "No pod is bound to a node in zone-c.", on=[ev.PodBound])
def no_zone_c(event, ledger):
    """A scheduler that ignores a zone being drained."""
    if ledger.nodes[event.node].zone == "zone-c":
        return Violation(f"{event.pod} bound in zone-c", objects=(event.pod,), numbers={"zone": "zone-c"})
    return None


@at_end("test-three-ready-nodes", "Three nodes are Ready at the end.")
def three_ready(ledger, run):
    ready = sum(node.ready == "True" for node in ledger.nodes.values())
    return None if ready >= 3 else f"only {ready} Ready"


def test_a_user_invariant_end_to_end_on_a_real_simulation():
    spec = ClusterSpec.uniform(nodes=3, zones=3)
    sim = Simulation(spec, seed=2)
    monitor = Monitor(Suite.of(["test-no-zone-c", "test-three-ready-nodes"])).attach(sim)
    sim.create_pod("p", "default", _template())
    sim.run(30)
    verdicts = {v.property: v for v in monitor.verdicts()}
    bound = sim.state.pods_by_key["default/p"].node_name
    zone = sim.state.nodes[bound].zone
    assert verdicts["test-no-zone-c"].status == ("failed" if zone == "zone-c" else "passed")
    assert verdicts["test-three-ready-nodes"].status == "passed"
    assert property_class("test-no-zone-c").catches == "A scheduler that ignores a zone being drained."


def test_a_user_invariant_failing_on_a_hand_built_trace():
    events = [_node("n-c", "zone-c"), ev.PodCreated(1.0, "default/p", "", 1, 1), ev.PodBound(2.0, "default/p", "n-c")]
    (verdict,) = check_trace(events, Suite.of(["test-no-zone-c"]))
    assert verdict.status == "failed" and verdict.time == 2.0 and verdict.numbers == {"zone": "zone-c"}


def test_an_at_end_property_fails_with_its_message():
    (verdict,) = check_trace([_node()], Suite.of(["test-three-ready-nodes"]), end=10.0)
    assert verdict.status == "failed" and verdict.message == "only 1 Ready" and verdict.time == 10.0


def _template():
    from podquake.model.objects import ContainerSpec, PodSpec, PodTemplate
    from podquake.model.quantity import Resources

    return PodTemplate(labels={"app": "p"}, spec=PodSpec(containers=(ContainerSpec("c", requests=Resources(100, 1 << 20)),)))


# --- checks that could never run, and verdicts asked for more than once ---------------------------
def test_a_handler_that_names_no_event_type_is_refused_when_registered():
    """``on_PodBind`` (for on_PodBound) was never called: the property could never fail."""
    from podquake.properties import register

    class Typo(Property):
        id = "test-typo"
        description = "Fails every bind."

        def on_PodBind(self, event, ledger):
            self.violate("bound", event.t)

    with pytest.raises(ValueError, match="Typo.on_PodBind handles no event.*did you mean on_PodBound"):
        register(Typo)


@pytest.mark.parametrize(
    ("on", "words"),
    [([ev.Event], "exact types"), (["PodBound"], r"write on=\[ev.PodBound\]"), ([int], "not <class 'int'>")],
)
def test_an_invariant_on_no_concrete_event_type_is_refused(on, words):
    """``on=[ev.Event]`` (the base class) fired for nothing: the invariant held whatever happened."""
    with pytest.raises(ValueError, match=words):
        invariant("test-never", "Never called.", on=on)


def test_an_invariant_on_one_event_type_needs_no_list():
    @invariant("test-one-type", "No pod binds to n-c.", on=ev.PodBound)
    def one_type(event, ledger):
        return "bound to n-c" if event.node == "n-c" else None

    events = [_node("n-c", "zone-c"), ev.PodCreated(1.0, "default/p", "", 1, 1), ev.PodBound(2.0, "default/p", "n-c")]
    (verdict,) = check_trace(events, Suite.of("test-one-type"))  # one id, not its characters
    assert verdict.status == "failed"


@at_end("test-ready-nodes-now", "Three nodes are Ready when asked.")
def ready_now(ledger, run):
    ready = sum(node.ready == "True" for node in ledger.nodes.values())
    return None if ready >= 3 else f"only {ready} Ready at t={run.end:g}"


def test_an_at_end_verdict_judges_the_state_each_time_it_is_asked():
    """Asked mid-run, it froze its first failure, and each call added one to the count."""
    sim = Simulation(ClusterSpec.uniform(nodes=3, zones=1), seed=1)
    monitor = Monitor(Suite.of(["test-ready-nodes-now"]))
    monitor.observe(_node("worker-x"))
    assert [monitor.verdicts(end=1.0)[0].message for _ in range(3)] == ["only 1 Ready at t=1"] * 3
    assert monitor.verdicts(end=1.0)[0].violations == 1
    live = Monitor(Suite.of(["test-ready-nodes-now"])).attach(sim)
    sim.run(30)
    assert live.verdicts()[0].status == "passed"


def test_a_suite_given_to_a_second_monitor_starts_clean():
    """Its instances held the first run's violations, and the second run reported them too."""
    suite = Suite.of(["test-no-zone-c"])
    bad = [_node("n-c", "zone-c"), ev.PodCreated(1.0, "default/p", "", 1, 1), ev.PodBound(2.0, "default/p", "n-c")]
    for expected in ("failed", "passed"):
        monitor = Monitor(suite)
        for event in bad if expected == "failed" else bad[:2]:
            monitor.observe(event)
        assert monitor.verdicts(end=5.0)[0].status == expected


class _ForgetsToReturn(Property):
    id = "test-forgets-to-return"
    description = "Its finish() has no return."

    def finish(self, ledger, run):
        self.violate("forgot", run.end)


def test_a_finish_that_returns_no_verdict_is_unknown_not_a_crash():
    (verdict,) = Monitor([_ForgetsToReturn()]).verdicts(end=3.0)
    assert verdict.status == "unknown" and "returned None, not a Verdict" in verdict.message
