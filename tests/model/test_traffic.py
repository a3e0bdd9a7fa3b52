"""Rate shapes (constant, diurnal, ramp, spike, sums) with exact integrals and bounds, load generators,
and spikes injected at run time."""

from __future__ import annotations

import doctest
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from podquake.model import trace as ev
from podquake.model import traffic as traffic_module
from podquake.model.cluster import ClusterSpec
from podquake.model.errors import InputError
from podquake.model.load import make_load
from podquake.model.simulation import Simulation
from podquake.model.traffic import (
    Constant,
    Diurnal,
    External,
    Internal,
    LoadGenerator,
    Ramp,
    Shape,
    Spike,
    Sum,
    Traffic,
)


def numeric_integral(shape: Shape, t0: float, t1: float, steps: int = 4000) -> float:
    """Midpoint rule: the reference the closed forms are checked against."""
    h = (t1 - t0) / steps
    return sum(shape.rate(t0 + (i + 0.5) * h) for i in range(steps)) * h


def sampled(shape: Shape, t0: float, t1: float, steps: int = 2000) -> list[float]:
    return [shape.rate(t0 + (t1 - t0) * i / steps) for i in range(steps + 1)]


def test_doctests():
    assert doctest.testmod(traffic_module).failed == 0


# --- each shape ------------------------------------------------------------------------------------
def test_constant():
    shape = Constant(12.5)
    assert (shape.rate(0.0), shape.rate(1e6)) == (12.5, 12.5)
    assert shape.integral(10.0, 30.0) == 250.0
    assert shape.integral(30.0, 10.0) == 0.0
    assert shape.peak(0, 10) == shape.low(0, 10) == 12.5
    assert shape.constant


def test_diurnal_peaks_mid_period_and_averages_its_mean_over_a_day():
    day = Diurnal(mean=100.0, amplitude=40.0)  # 24 h period, peak at 12:00 by default
    assert day.rate(0.0) == pytest.approx(60.0)
    assert day.rate(43200.0) == pytest.approx(140.0)
    assert day.rate(86400.0) == pytest.approx(60.0)
    assert day.integral(0.0, 86400.0) == pytest.approx(100.0 * 86400.0)
    assert day.integral(0.0, 3600.0) == pytest.approx(numeric_integral(day, 0.0, 3600.0), rel=1e-6)
    assert day.peak(40000.0, 50000.0) == pytest.approx(140.0)  # the crest is inside
    assert day.peak(0.0, 3600.0) == pytest.approx(day.rate(3600.0))  # rising all along
    assert day.low(80000.0, 90000.0) == pytest.approx(60.0)  # the trough (t = 86400) is inside
    assert not day.constant


def test_diurnal_with_a_given_period_and_peak():
    hourly = Diurnal(mean=10.0, amplitude=10.0, period=3600.0, peak_at=900.0)
    assert hourly.rate(900.0) == pytest.approx(20.0)
    assert hourly.rate(2700.0) == pytest.approx(0.0, abs=1e-9)
    assert hourly.integral(0.0, 3600.0) == pytest.approx(36000.0)


def test_ramp_is_flat_outside_its_interval_and_linear_inside():
    ramp = Ramp(10.0, 50.0, start=100.0, end=200.0)
    assert [ramp.rate(t) for t in (0.0, 100.0, 150.0, 200.0, 999.0)] == [10.0, 10.0, 30.0, 50.0, 50.0]
    assert ramp.integral(0.0, 300.0) == pytest.approx(100 * 10 + 100 * 30 + 100 * 50)
    assert ramp.integral(120.0, 180.0) == pytest.approx(numeric_integral(ramp, 120.0, 180.0))
    assert (ramp.peak(0.0, 150.0), ramp.low(150.0, 400.0)) == (30.0, 30.0)
    down = Ramp(50.0, 0.0, start=0.0, end=10.0)
    assert (down.peak(2.0, 8.0), down.low(2.0, 8.0)) == (40.0, 10.0)


def test_spike_multiplies_its_base_for_its_duration():
    spike = Spike(Constant(20.0), multiplier=4.0, start=60.0, duration=30.0)
    assert [spike.rate(t) for t in (59.9, 60.0, 89.9, 90.0)] == [20.0, 80.0, 80.0, 20.0]
    assert spike.integral(0.0, 120.0) == pytest.approx(120 * 20 + 30 * 60)
    assert spike.integral(70.0, 80.0) == pytest.approx(800.0)
    assert (spike.peak(0.0, 59.0), spike.peak(0.0, 61.0), spike.low(61.0, 89.0), spike.low(0.0, 200.0)) == (20.0, 80.0, 80.0, 20.0)
    dip = Spike(Constant(20.0), multiplier=0.0, start=10.0, duration=5.0)
    assert (dip.rate(12.0), dip.low(0.0, 100.0), dip.integral(0.0, 20.0)) == (0.0, 0.0, 300.0)


def test_sums_add_rates_and_integrals_and_bound_peaks():
    total = Constant(5.0) + Ramp(0.0, 10.0, start=0.0, end=10.0) + Constant(1.0)
    assert isinstance(total, Sum) and len(total.shapes) == 3  # flattened
    assert total.rate(5.0) == 11.0
    assert total.integral(0.0, 10.0) == pytest.approx(60.0 + 50.0)
    assert total.peak(0.0, 10.0) == 16.0 and total.low(0.0, 10.0) == 6.0
    assert not total.constant and (Constant(1.0) + Constant(2.0)).constant


def test_shapes_are_values_whose_repr_is_python():
    shapes = [
        Constant(3.0),
        Diurnal(10.0, 5.0, period=3600.0, peak_at=100.0),
        Ramp(1.0, 2.0, start=0.0, end=5.0),
        Spike(Diurnal(10.0, 1.0), 3.0, start=5.0, duration=60.0),
        Constant(1.0) + Constant(2.0),
    ]
    for shape in shapes:
        assert eval(repr(shape)) == shape
        assert hash(shape) == hash(eval(repr(shape)))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Constant(-1.0), "Constant rps must be >= 0"),
        (lambda: Constant(math.nan), "finite"),
        (lambda: Diurnal(10.0, 20.0), "must not exceed the mean"),
        (lambda: Diurnal(10.0, 5.0, period=0.0), "period must be > 0"),
        (lambda: Ramp(1.0, 2.0, start=5.0, end=5.0), "must come after its start"),
        (lambda: Spike(Constant(1.0), 2.0, start=0.0, duration=0.0), "duration must be > 0"),
        (lambda: Spike(5.0, 2.0, start=0.0, duration=1.0), "must be a shape"),  # type: ignore[arg-type]
        (lambda: Sum(()), "one or more shapes"),
    ],
)
def test_bad_shapes_are_refused_with_a_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


shapes = st.deferred(
    lambda: st.one_of(
        st.builds(Constant, st.floats(0, 1000)),
        st.builds(
            lambda mean, frac, period, peak: Diurnal(mean, mean * frac, period=period, peak_at=peak),
            st.floats(0, 1000), st.floats(0, 1), st.floats(60, 86400), st.floats(0, 86400),
        ),
        st.builds(
            lambda a, b, start, length: Ramp(a, b, start=start, end=start + length),
            st.floats(0, 1000), st.floats(0, 1000), st.floats(0, 1000), st.floats(1, 1000),
        ),
        st.builds(
            lambda base, m, start, d: Spike(base, m, start=start, duration=d),
            shapes, st.floats(0, 10), st.floats(0, 1000), st.floats(1, 500),
        ),
        st.builds(lambda a, b: a + b, shapes, shapes),
    )
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(shape=shapes, t0=st.floats(0, 2000), length=st.floats(1, 2000))
def test_integrals_match_the_rate_and_bounds_hold(shape, t0, length):
    t1 = t0 + length
    steps = 3000
    reference = numeric_integral(shape, t0, t1, steps=steps)
    # The midpoint rule is exact for linear pieces; each kink or jump inside a step costs at most peak * h.
    kinks = 10 * shape.peak(t0, t1) * length / steps
    assert shape.integral(t0, t1) == pytest.approx(reference, rel=1e-6, abs=kinks + 1e-9)
    values = sampled(shape, t0, t1)
    assert max(values) <= shape.peak(t0, t1) * (1 + 1e-9) + 1e-9
    assert min(values) >= shape.low(t0, t1) * (1 - 1e-9) - 1e-9
    mid = t0 + length / 3
    assert shape.integral(t0, t1) == pytest.approx(shape.integral(t0, mid) + shape.integral(mid, t1), rel=1e-9, abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(shape=shapes, t0=st.floats(-500, 2000), length=st.one_of(st.just(0.0), st.just(10.0), st.floats(0, 2000)))
def test_bounds_are_the_low_and_the_peak_exactly(shape, t0, length):
    # The load model reads both at once through bounds(); each shape's shortcut must agree to the bit.
    t1 = t0 + length
    assert shape.bounds(t0, t1) == (shape.low(t0, t1), shape.peak(t0, t1))


# --- generators and spikes ---------------------------------------------------------------------------
def test_generators_are_validated():
    with pytest.raises(ValueError, match="namespace/name"):
        LoadGenerator("web", Constant(1.0))
    with pytest.raises(ValueError, match="1 to 100,000 clients"):
        LoadGenerator("default/web", Constant(1.0), clients=0)
    with pytest.raises(ValueError, match="must be a Shape"):
        LoadGenerator("default/web", 5.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exactly one of"):
        Internal()
    with pytest.raises(ValueError, match="exactly one of"):
        Internal(pod="default/a", node="worker-1")
    generator = LoadGenerator("default/web", Constant(1.0), clients=3, entry=Internal(pod="default/client"), name="shop")
    assert eval(repr(generator)) == generator


def test_traffic_names_clients_and_sums_rates():
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1, load_mode=None)
    traffic = Traffic(sim, [LoadGenerator("default/web", Constant(10.0), clients=3, name="users")])
    second = traffic.add(LoadGenerator("default/web", Constant(5.0), clients=2, entry=External()))
    assert traffic.clients[0] == ("users-client-0", "users-client-1", "users-client-2")
    assert traffic.clients[second] == ("gen1-client-0", "gen1-client-1")
    assert traffic.rate("default/web", 0.0) == 15.0 and traffic.rate("default/other", 0.0) == 0.0


def test_a_spike_at_run_time_multiplies_the_service_from_the_next_aligned_instant_and_is_traced():
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1, load_mode=None)
    traffic = Traffic(sim, [LoadGenerator("default/web", Constant(10.0)), LoadGenerator("default/db", Constant(1.0))])
    seen: list[int] = []
    traffic.subscribe(seen.append)
    traffic.align = 1.0
    sim.run(12.3)
    start = traffic.add_spike("default/web", 3.0, 60.0)
    assert start == 13.0
    assert (traffic.rate("default/web", 12.9), traffic.rate("default/web", 13.0), traffic.rate("default/web", 73.0)) == (10.0, 30.0, 10.0)
    assert traffic.rate("default/db", 30.0) == 1.0
    assert seen == [0]
    (event,) = sim.trace.of_type(ev.TrafficSpike)
    assert (event.t, event.service, event.multiplier, event.start, event.duration) == (12.3, "default/web", 3.0, 13.0, 60.0)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="no load generator feeds service 'default/nope'"):
        traffic.add_spike("default/nope", 2.0, 10.0)
    with pytest.raises(ValueError, match="cannot start in the past"):
        traffic.add_spike("default/web", 2.0, 10.0, start=5.0)
    sim.run(20.0)
    assert traffic.add_spike("default/web", 2.0, 10.0) == 21.0  # on a boundary: the next one


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LoadGenerator("default/", Constant(1.0)), r"^LoadGenerator.service: a load generator's service must be 'namespace/name', not 'default/' \(fix: write e.g. 'default/web'\)$"),
        (lambda: LoadGenerator("/web", Constant(1.0)), r"^LoadGenerator.service: .* not '/web'"),
        (lambda: Internal(node=3), r"^Internal.node: Internal node must be a node's name, not 3 \(fix: write e.g. node='worker-1'\)$"),
        (lambda: Internal(node=""), r"^Internal.node: Internal node must be a node's name, not ''"),
        (lambda: Internal(pod="default/"), r"^Internal.pod: Internal pod must be 'namespace/name', not 'default/'"),
    ],
)
def test_empty_names_and_a_non_string_node_are_refused(build, message):
    """``LoadGenerator("default/", ...)`` and ``Internal(node=3)`` were accepted; all their traffic failed."""
    with pytest.raises(InputError, match=message):
        build()


def test_traffic_from_a_node_the_cluster_cannot_have_is_refused_when_added():
    """``Internal(node="worker-99")`` was accepted and all its traffic failed as ``node-down``; a
    misspelt node is refused when the traffic is added (a node the autoscaler may add is fine)."""
    sim = Simulation(ClusterSpec.uniform(nodes=2, zones=1), seed=1)
    with pytest.raises(InputError, match=r"^LoadGenerator.entry.node: no node 'worker-99' in this cluster \(its nodes: worker-1, worker-2\): all its traffic would fail \(fix: name one of the cluster's nodes, or add the node"):
        sim.traffic.add(LoadGenerator("default/web", Constant(1.0), entry=Internal(node="worker-99")))
    assert sim.traffic.generators == []  # nothing half-added
    assert sim.traffic.add(LoadGenerator("default/web", Constant(1.0), entry=Internal(node="worker-2"))) == 0
    growing = Simulation(ClusterSpec.from_dict({"pools": [{"name": "a", "count": 1, "maxSize": 3}]}), seed=1)
    assert growing.traffic.add(LoadGenerator("default/web", Constant(1.0), entry=Internal(node="a-3"))) == 0


def test_traffic_on_a_simulation_without_a_load_model_is_refused():
    """With ``Simulation(load_mode=None)``, ``traffic.add`` was silently dropped while ``add_spike``
    recorded a TrafficSpike that offered nothing."""
    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1, load_mode=None)
    sim.traffic.add(LoadGenerator("default/web", Constant(10.0)))  # a load model may yet be started on it
    with pytest.raises(InputError, match=r"^load_mode: a spike of default/web would be dropped: the simulation was made with load_mode=None, so no load model offers traffic \(fix: make the Simulation with load_mode='fluid'"):
        sim.traffic.add_spike("default/web", 2.0, 10.0)
    assert not sim.trace.of_type(ev.TrafficSpike)
    before = sim.now
    with pytest.raises(InputError, match=r"^load_mode: traffic for default/web would be dropped: the simulation was made with load_mode=None"):
        sim.run(30.0)
    assert sim.now == before  # refused before any time passed
    started = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1, load_mode=None)
    started.traffic.add(LoadGenerator("default/web", Constant(10.0)))
    make_load(started, "fluid").start()  # a load model started by hand reads it: fine
    started.run(30.0)
    assert started.traffic.add_spike("default/web", 2.0, 10.0) == 31.0


def test_a_spike_in_request_mode_starts_and_heals_on_the_tick_grid():
    """In request mode (tick 0.1 s) a spike at t=120 started at 120.10000000000001 and healed at
    180.10000000000002: float noise from multiplying the tick index by 0.1."""
    from podquake.chaos import Nemesis, TrafficSpike

    sim = Simulation(ClusterSpec.uniform(nodes=1, zones=1), seed=1, load_mode="request")
    sim.traffic.add(LoadGenerator("default/web", Constant(10.0)))
    nemesis = Nemesis(sim, [TrafficSpike(service=0, at=120.0, duration=60.0)], end=300.0)
    nemesis.run()
    (spike,) = sim.trace.of_type(ev.TrafficSpike)
    assert (spike.start, spike.start + spike.duration) == (120.1, 180.1)  # type: ignore[attr-defined]
    assert [r.t for r in nemesis.records if r.label == "fault-healed"] == [180.1]
    sim.run(1000.3)
    assert sim.traffic.add_spike("default/web", 2.0, 10.0) == 1000.4


# --- stacked spikes: one pass over their edges -------------------------------------------------------
def level_by_level(shape: Shape, t0: float, t1: float) -> float:
    """The integral of a stack of spikes by the one-spike formula applied at every level (2^depth calls)."""
    if t1 <= t0:
        return 0.0
    if not isinstance(shape, Spike):
        return shape.integral(t0, t1)
    lo, hi = max(t0, shape.start), min(t1, shape.end)
    total = level_by_level(shape.base, t0, t1)
    if hi > lo:
        total += (shape.multiplier - 1.0) * level_by_level(shape.base, lo, hi)
    return total


stacked_bases = st.one_of(
    st.builds(Constant, st.floats(1, 100)),
    st.builds(Diurnal, st.just(50.0), st.floats(0, 50), st.just(600.0)),
    st.builds(lambda a, b, s, d: Ramp(a, b, s, s + d), st.floats(0, 100), st.floats(0, 100), st.floats(0, 100), st.floats(1, 100)),
)
spike_layers = st.lists(
    st.tuples(st.sampled_from([0.0, 0.5, 2.0, 3.0, 4.0]), st.integers(0, 100).map(float), st.integers(1, 50).map(float)),
    min_size=2,
    max_size=8,
)


@given(stacked_bases, spike_layers, st.integers(0, 120).map(float), st.sampled_from([0.0, 1.0, 10.0, 60.0]))
def test_stacked_spikes_integrate_and_bound_as_the_one_spike_formula_level_by_level(base, layers, t0, span):
    shape: Shape = base
    for multiplier, start, duration in layers:
        shape = Spike(shape, multiplier, start, duration)
    t1 = t0 + span
    assert shape.integral(t0, t1) == pytest.approx(level_by_level(shape, t0, t1), rel=1e-9, abs=1e-9)
    low, peak = shape.bounds(t0, t1)
    assert (low, peak) == (shape.low(t0, t1), shape.peak(t0, t1))
    rates = [shape.rate(t0 + span * i / 200) for i in range(201)]
    assert low <= min(rates) + 1e-9 and peak >= max(rates) - 1e-9
