"""Traffic: request rates over time (shapes) and the open-loop load generators that offer them to
Services.

A **shape** is a frozen value giving a rate in requests per second at any simulated time, with two
helpers the load model needs so that it does not have to sample the rate tick by tick:
``integral(t0, t1)`` (the requests offered between two instants, exact), ``peak(t0, t1)`` and
``low(t0, t1)`` (bounds of the rate over an interval, exact for every shape but :class:`Sum`, where
they are the sums of the parts' bounds). Shapes compose: :class:`Spike` multiplies another shape for a while, :class:`Sum`
(also ``a + b``) adds them.

>>> day = Diurnal(mean=100.0, amplitude=50.0)          # 50 req/s at t=0, 150 req/s at noon
>>> day.rate(0.0), day.rate(43200.0)
(50.0, 150.0)
>>> busy = Spike(Constant(20.0), multiplier=5.0, start=60.0, duration=30.0)
>>> busy.rate(59.0), busy.rate(60.0), busy.integral(0.0, 120.0)
(20.0, 100.0, 4800.0)
>>> Constant(10.0) + Ramp(0.0, 10.0, start=0.0, end=10.0)
Sum(shapes=(Constant(rps=10.0), Ramp(start_rate=0.0, end_rate=10.0, start=0.0, end=10.0)))

A **load generator** (:class:`LoadGenerator`) offers a shape's traffic to one Service from a fixed
number of distinct clients (their identities matter for ``sessionAffinity: ClientIP``), entering the
cluster either from outside (:class:`External`: through the Service's cloud load balancer, or a node
port) or from inside (:class:`Internal`: from a client pod's node, or a given node). Generators are
open loop: the rate does not slow down when the Service does (as real users and upstream load
testers do), so overload shows as queues, drops and failures.

:class:`Traffic` holds the generators of a simulation and their current shapes, and is where a
traffic spike is injected at run time (:meth:`Traffic.add_spike`, what the chaos nemesis calls); the
load model (:mod:`podquake.model.load`) reads it. A spike is recorded in the trace
(:class:`~podquake.model.trace.TrafficSpike`).

Simplifications, on purpose: every client of a generator sends the same share of its rate; a rate is
deterministic (the request mode of the load model draws Poisson arrivals from it).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podquake.model.errors import InputError, finite_number

if TYPE_CHECKING:
    from podquake.model.simulation import Simulation

__all__ = [
    "Constant",
    "Diurnal",
    "External",
    "Internal",
    "LoadGenerator",
    "Ramp",
    "Shape",
    "Spike",
    "Sum",
    "Traffic",
]

DAY_SECONDS = 86400.0
MAX_RATE = 1e7
"""The highest rate (requests per second) a shape or a spike may give: far above any one Service's
traffic; past it a typo (``rate: 1e308``) overflowed the load model's counts."""
MAX_TIME = 1e9
"""The largest time, period or duration (simulated seconds, about 32 years) a shape may name: past
it, ``period: 1e308`` sent the diurnal curve's cosine an infinity."""
MAX_CLIENTS = 100_000
"""The most distinct clients a load generator models; each has an identity of its own (for
``sessionAffinity: ClientIP``). The rate, not the client count, sets the load."""


def _namespaced(value: object) -> bool:
    """Whether ``value`` is ``namespace/name`` with both parts given."""
    if not isinstance(value, str):
        return False
    namespace, slash, name = value.partition("/")
    return bool(slash and namespace.strip() and name.strip() and "/" not in name)


class Shape(ABC):
    """A request rate over simulated time. Subclasses are frozen dataclasses implementing the three
    methods; ``+`` makes a :class:`Sum`."""

    __slots__ = ()

    @abstractmethod
    def rate(self, t: float) -> float:
        """Requests per second at time ``t``."""

    @abstractmethod
    def integral(self, t0: float, t1: float) -> float:
        """Requests offered in ``[t0, t1]`` (the rate's integral; 0 when ``t1 <= t0``)."""

    @abstractmethod
    def peak(self, t0: float, t1: float) -> float:
        """An upper bound of the rate over ``[t0, t1]`` (the exact maximum, except for :class:`Sum`)."""

    @abstractmethod
    def low(self, t0: float, t1: float) -> float:
        """A lower bound of the rate over ``[t0, t1]`` (the exact minimum, except for :class:`Sum`)."""

    def bounds(self, t0: float, t1: float) -> tuple[float, float]:
        """``(low(t0, t1), peak(t0, t1))`` in one call (shapes share work between the two)."""
        return self.low(t0, t1), self.peak(t0, t1)

    @property
    def constant(self) -> bool:
        """Whether the rate never changes (lets the load model skip work)."""
        return False

    def __add__(self, other: Shape) -> Sum:
        if not isinstance(other, Shape):
            return NotImplemented
        left = self.shapes if isinstance(self, Sum) else (self,)
        right = other.shapes if isinstance(other, Sum) else (other,)
        return Sum(left + right)


@dataclass(frozen=True, slots=True)
class Constant(Shape):
    """``rps`` requests per second, always."""

    rps: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rps", finite_number(self.rps, "Constant rps", minimum=0, maximum=MAX_RATE))

    def rate(self, t: float) -> float:
        return self.rps

    def integral(self, t0: float, t1: float) -> float:
        return self.rps * (t1 - t0) if t1 > t0 else 0.0

    def peak(self, t0: float, t1: float) -> float:
        return self.rps

    def low(self, t0: float, t1: float) -> float:
        return self.rps

    def bounds(self, t0: float, t1: float) -> tuple[float, float]:
        return self.rps, self.rps

    @property
    def constant(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Diurnal(Shape):
    """A day's cycle: ``mean + amplitude * cos(2 pi (t - peak_at) / period)``, highest at ``peak_at``
    (default: the middle of the period, so a run starting at 0 starts at the quietest moment)."""

    mean: float
    amplitude: float
    period: float = DAY_SECONDS
    peak_at: float | None = None

    def __post_init__(self) -> None:
        mean = finite_number(self.mean, "Diurnal mean", minimum=0, maximum=MAX_RATE)
        amplitude = finite_number(self.amplitude, "Diurnal amplitude", minimum=0, maximum=MAX_RATE)
        if amplitude > mean:
            raise ValueError(f"Diurnal amplitude ({amplitude:g}) must not exceed the mean ({mean:g}): the rate would go negative")
        period = finite_number(self.period, "Diurnal period", positive=True, maximum=MAX_TIME)
        peak_at = period / 2 if self.peak_at is None else finite_number(self.peak_at, "Diurnal peak_at", minimum=-MAX_TIME, maximum=MAX_TIME)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "amplitude", amplitude)
        object.__setattr__(self, "period", period)
        object.__setattr__(self, "peak_at", peak_at)

    def rate(self, t: float) -> float:
        return self.mean + self.amplitude * math.cos(2.0 * math.pi * (t - self.peak_at) / self.period)  # type: ignore[operator]

    def integral(self, t0: float, t1: float) -> float:
        if t1 <= t0:
            return 0.0
        w = 2.0 * math.pi / self.period
        p = self.peak_at
        return self.mean * (t1 - t0) + self.amplitude / w * (math.sin(w * (t1 - p)) - math.sin(w * (t0 - p)))  # type: ignore[operator]

    def peak(self, t0: float, t1: float) -> float:
        # Between two crests the cosine falls then rises, so the maximum is a crest or an end.
        crest = self.peak_at + math.ceil((t0 - self.peak_at) / self.period) * self.period  # type: ignore[operator]
        if crest <= t1:
            return self.mean + self.amplitude
        return max(self.rate(t0), self.rate(t1))

    def low(self, t0: float, t1: float) -> float:
        trough_at = self.peak_at + self.period / 2  # type: ignore[operator]
        trough = trough_at + math.ceil((t0 - trough_at) / self.period) * self.period
        if trough <= t1:
            return self.mean - self.amplitude
        return min(self.rate(t0), self.rate(t1))

    def bounds(self, t0: float, t1: float) -> tuple[float, float]:
        period = self.period
        crest_at = self.peak_at
        trough_at = crest_at + period / 2  # type: ignore[operator]
        crest = crest_at + math.ceil((t0 - crest_at) / period) * period  # type: ignore[operator]
        trough = trough_at + math.ceil((t0 - trough_at) / period) * period
        mean, amplitude = self.mean, self.amplitude
        if crest <= t1 and trough <= t1:
            return mean - amplitude, mean + amplitude
        w = 2.0 * math.pi
        r0 = mean + amplitude * math.cos(w * (t0 - crest_at) / period)  # type: ignore[operator]  # rate(t0)
        r1 = mean + amplitude * math.cos(w * (t1 - crest_at) / period)  # type: ignore[operator]
        low = mean - amplitude if trough <= t1 else min(r0, r1)
        peak = mean + amplitude if crest <= t1 else max(r0, r1)
        return low, peak


@dataclass(frozen=True, slots=True)
class Ramp(Shape):
    """``start_rate`` until ``start``, then linearly to ``end_rate`` at ``end``, then ``end_rate``."""

    start_rate: float
    end_rate: float
    start: float
    end: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_rate", finite_number(self.start_rate, "Ramp start_rate", minimum=0, maximum=MAX_RATE))
        object.__setattr__(self, "end_rate", finite_number(self.end_rate, "Ramp end_rate", minimum=0, maximum=MAX_RATE))
        start = finite_number(self.start, "Ramp start", minimum=-MAX_TIME, maximum=MAX_TIME)
        end = finite_number(self.end, "Ramp end", minimum=-MAX_TIME, maximum=MAX_TIME)
        if end <= start:
            raise ValueError(f"Ramp end ({end:g}) must come after its start ({start:g})")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def rate(self, t: float) -> float:
        if t <= self.start:
            return self.start_rate
        if t >= self.end:
            return self.end_rate
        return self.start_rate + (self.end_rate - self.start_rate) * (t - self.start) / (self.end - self.start)

    def integral(self, t0: float, t1: float) -> float:
        if t1 <= t0:
            return 0.0
        total = 0.0
        a, b = self.start, self.end
        if t0 < a:
            total += self.start_rate * (min(t1, a) - t0)
        lo, hi = max(t0, a), min(t1, b)
        if hi > lo:
            total += (self.rate(lo) + self.rate(hi)) / 2.0 * (hi - lo)
        if t1 > b:
            total += self.end_rate * (t1 - max(t0, b))
        return total

    def peak(self, t0: float, t1: float) -> float:
        return max(self.rate(t0), self.rate(t1))  # monotone

    def low(self, t0: float, t1: float) -> float:
        return min(self.rate(t0), self.rate(t1))

    def bounds(self, t0: float, t1: float) -> tuple[float, float]:
        r0, r1 = self.rate(t0), self.rate(t1)
        return min(r0, r1), max(r0, r1)


@dataclass(frozen=True, slots=True)
class Spike(Shape):
    """``base`` multiplied by ``multiplier`` during ``[start, start + duration)``."""

    base: Shape
    multiplier: float
    start: float
    duration: float

    def __post_init__(self) -> None:
        if not isinstance(self.base, Shape):
            raise ValueError(f"Spike base must be a shape (Constant, Diurnal, ...), not {self.base!r}")
        object.__setattr__(self, "multiplier", finite_number(self.multiplier, "Spike multiplier", minimum=0, maximum=MAX_RATE))
        object.__setattr__(self, "start", finite_number(self.start, "Spike start", minimum=-MAX_TIME, maximum=MAX_TIME))
        object.__setattr__(self, "duration", finite_number(self.duration, "Spike duration", positive=True, maximum=MAX_TIME))

    @property
    def end(self) -> float:
        return self.start + self.duration

    def rate(self, t: float) -> float:
        base = self.base.rate(t)
        return base * self.multiplier if self.start <= t < self.end else base

    def integral(self, t0: float, t1: float) -> float:
        if t1 <= t0:
            return 0.0
        if isinstance(self.base, Spike):  # stacked spikes: one pass over their edges, not two calls per level
            base, pieces = _pieces(self, t0, t1)
            return sum(base.integral(a, b) * m if m != 1.0 else base.integral(a, b) for a, b, m in pieces)
        lo, hi = max(t0, self.start), min(t1, self.end)
        total = self.base.integral(t0, t1)
        if hi > lo:
            total += (self.multiplier - 1.0) * self.base.integral(lo, hi)
        return total

    def peak(self, t0: float, t1: float) -> float:
        if isinstance(self.base, Spike):
            return self.bounds(t0, t1)[1]
        start, end = self.start, self.end
        best = 0.0
        if t0 < start:
            best = self.base.peak(t0, min(t1, start))
        lo, hi = max(t0, start), min(t1, end)
        if lo <= hi and lo < end:
            best = max(best, self.base.peak(lo, hi) * self.multiplier)
        if t1 >= end:
            best = max(best, self.base.peak(max(t0, end), t1))
        return best

    def low(self, t0: float, t1: float) -> float:
        if isinstance(self.base, Spike):
            return self.bounds(t0, t1)[0]
        start, end = self.start, self.end
        worst = math.inf
        if t0 < start:
            worst = self.base.low(t0, min(t1, start))
        lo, hi = max(t0, start), min(t1, end)
        if lo <= hi and lo < end:
            worst = min(worst, self.base.low(lo, hi) * self.multiplier)
        if t1 >= end:
            worst = min(worst, self.base.low(max(t0, end), t1))
        return worst

    def bounds(self, t0: float, t1: float) -> tuple[float, float]:
        start, end = self.start, self.end
        base = self.base
        if isinstance(base, Spike):  # stacked spikes: one pass over their edges
            base, pieces = _pieces(self, t0, t1)
            worst, best = math.inf, 0.0
            for a, b, m in pieces:
                low, peak = base.bounds(a, b)
                worst, best = min(worst, low * m), max(best, peak * m)
            return worst, best
        worst, best = math.inf, 0.0
        if t0 < start:
            worst, best = base.bounds(t0, min(t1, start))
        lo, hi = max(t0, start), min(t1, end)
        if lo <= hi and lo < end:
            low, peak = base.bounds(lo, hi)
            worst, best = min(worst, low * self.multiplier), max(best, peak * self.multiplier)
        if t1 >= end:
            low, peak = base.bounds(max(t0, end), t1)
            worst, best = min(worst, low), max(best, peak)
        return worst, best


def _pieces(spike: Spike, t0: float, t1: float) -> tuple[Shape, list[tuple[float, float, float]]]:
    """A stack of spikes over ``[t0, t1]`` as ``(base, [(a, b, multiplier)])``: the stack's first
    non-spike base, and the pieces between the spikes' edges with the product of the multipliers of
    the spikes active on each (a spike is active on ``[start, end)``). The pieces cover ``[t0, t1]``;
    when ``t0 == t1`` there is one piece, the point; when an edge falls on ``t1`` the point ``t1`` is
    a piece of its own (its rate differs from the rate just before it).

    >>> spikes = Spike(Spike(Constant(10), 2.0, 5.0, 10.0), 3.0, 10.0, 10.0)
    >>> _pieces(spikes, 0.0, 30.0)[1]
    [(0.0, 5.0, 1.0), (5.0, 10.0, 2.0), (10.0, 15.0, 6.0), (15.0, 20.0, 3.0), (20.0, 30.0, 1.0)]
    """
    stack: list[Spike] = []  # the spikes that can matter on [t0, t1]: the others are 1.0 throughout
    shape: Shape = spike
    while isinstance(shape, Spike):
        if shape.start <= t1 and shape.start + shape.duration >= t0:
            stack.append(shape)
        shape = shape.base
    edges = {t0, t1}
    closing = False  # whether an edge falls on t1: the point t1 gets a piece of its own
    for s in stack:
        for edge in (s.start, s.end):
            if t0 < edge < t1:
                edges.add(edge)
            elif edge == t1:
                closing = True
    points = sorted(edges)
    if len(points) == 1:
        points = [t0, t1]
    if closing and t1 > t0:
        points.append(t1)
    pieces = []
    for a, b in zip(points, points[1:]):
        m = 1.0
        for s in stack:
            if s.start <= a < s.start + s.duration:
                m *= s.multiplier
        pieces.append((a, b, m))
    return shape, pieces


@dataclass(frozen=True, slots=True)
class Sum(Shape):
    """The sum of several shapes (``a + b`` builds one). Its :meth:`peak` (:meth:`low`) is the sum
    of the parts' peaks (lows): a bound, exact when they peak (bottom out) together."""

    shapes: tuple[Shape, ...]

    def __post_init__(self) -> None:
        shapes = tuple(self.shapes)
        if not shapes or not all(isinstance(s, Shape) for s in shapes):
            raise ValueError(f"Sum needs one or more shapes, not {self.shapes!r}")
        object.__setattr__(self, "shapes", shapes)

    def rate(self, t: float) -> float:
        return sum(s.rate(t) for s in self.shapes)

    def integral(self, t0: float, t1: float) -> float:
        return sum(s.integral(t0, t1) for s in self.shapes)

    def peak(self, t0: float, t1: float) -> float:
        return sum(s.peak(t0, t1) for s in self.shapes)

    def low(self, t0: float, t1: float) -> float:
        return sum(s.low(t0, t1) for s in self.shapes)

    @property
    def constant(self) -> bool:
        return all(s.constant for s in self.shapes)


# --- where traffic enters ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class External:
    """Clients outside the cluster. For a ``LoadBalancer`` Service with a cloud load balancer, a
    request enters at the node the load balancer picks; otherwise (a ``NodePort`` Service, or no
    load balancer model) each client uses one node address, spread evenly over the nodes by a hash of
    the client's name. The Service's ``externalTrafficPolicy`` applies."""


@dataclass(frozen=True, slots=True)
class Internal:
    """Clients inside the cluster: a pod (``namespace/name``; its current node) or a node. The
    Service's ``internalTrafficPolicy`` applies."""

    pod: str | None = None
    node: str | None = None

    def __post_init__(self) -> None:
        if (self.pod is None) == (self.node is None):
            raise ValueError("Internal traffic comes from exactly one of pod='namespace/name' or node='worker-1'")
        if self.pod is not None and not _namespaced(self.pod):
            raise InputError(f"Internal pod must be 'namespace/name', not {self.pod!r}", field="Internal.pod", fix="write e.g. pod='default/client'")
        if self.node is not None and (not isinstance(self.node, str) or not self.node.strip()):
            raise InputError(
                f"Internal node must be a node's name, not {self.node!r}", field="Internal.node", fix="write e.g. node='worker-1'"
            )


@dataclass(frozen=True, slots=True)
class LoadGenerator:
    """Open-loop traffic for ``service`` (``namespace/name``): ``shape`` requests per second from
    ``clients`` distinct clients entering at ``entry``. ``name`` prefixes the client identities
    (default: ``gen<index>``). The requests go to the Service's first port (``spec.ports[0]``), the
    only one the model routes (:mod:`podquake.model.endpoints` says why)."""

    service: str
    shape: Shape
    clients: int = 100
    entry: External | Internal = External()
    name: str = ""

    def __post_init__(self) -> None:
        if not _namespaced(self.service):
            raise InputError(
                f"a load generator's service must be 'namespace/name', not {self.service!r}",
                field="LoadGenerator.service",
                fix="write e.g. 'default/web'",
            )
        if not isinstance(self.shape, Shape):
            raise ValueError(f"a load generator's shape must be a Shape (Constant, Diurnal, ...), not {self.shape!r}")
        if isinstance(self.clients, bool) or not isinstance(self.clients, int) or not 1 <= self.clients <= MAX_CLIENTS:
            raise ValueError(f"a load generator has 1 to {MAX_CLIENTS:,} clients, not {self.clients!r}")
        if not isinstance(self.entry, (External, Internal)):
            raise ValueError(f"a load generator's entry must be External() or Internal(...), not {self.entry!r}")


class Traffic:
    """The load generators of a simulation, with their current shapes (spikes included).

    ``align``: when set (the load model sets it to its tick), a spike injected at run time starts at
    the next multiple of it, so that every tick sees one rate function.
    """

    def __init__(self, sim: Simulation, generators: tuple[LoadGenerator, ...] | list[LoadGenerator] = ()) -> None:
        self.sim = sim
        self.generators: list[LoadGenerator] = []
        self.shapes: list[Shape] = []
        self.clients: list[tuple[str, ...]] = []
        self.align: float | None = None
        self._listeners: list[Callable[[int], None]] = []
        self._unread_check = False  # whether a check that some load model reads this traffic is due
        for generator in generators:
            self.add(generator)

    def add(self, generator: LoadGenerator) -> int:
        """Start ``generator`` now; returns its index. Refuses an :class:`Internal` entry naming a node
        the cluster does not have and cannot get (see :meth:`_check_node`). Traffic added to the
        simulation's own :attr:`Simulation.traffic` when it was made with ``load_mode=None`` is
        refused when the simulation next runs, unless a load model was started on it meanwhile."""
        if not isinstance(generator, LoadGenerator):
            raise ValueError(f"expected a LoadGenerator, not {generator!r}")
        if isinstance(generator.entry, Internal) and generator.entry.node is not None:
            self._check_node(generator.entry.node)
        if self._unread() and not self._unread_check:
            # Not refused at once: a caller may start a load model on it next (make_load(sim, ...)).
            self._unread_check = True
            timeout = self.sim.env.timeout(0)
            timeout.callbacks.append(lambda _e: self._refuse_if_unread(f"traffic for {generator.service}"))  # type: ignore[union-attr]
        index = len(self.generators)
        prefix = generator.name or f"gen{index}"
        self.generators.append(generator)
        self.shapes.append(generator.shape)
        self.clients.append(tuple(f"{prefix}-client-{i}" for i in range(generator.clients)))
        self._notify(index)
        return index

    def _unread(self) -> bool:
        """Whether this is the traffic of a simulation made with ``load_mode=None`` that no load model
        reads (one started on it subscribes): what is added to it would be silently dropped."""
        sim = self.sim
        return not self._listeners and getattr(sim, "traffic", None) is self and getattr(sim, "load", False) is None

    def _refuse_if_unread(self, what: str) -> None:
        self._unread_check = False
        if self._unread():
            raise InputError(
                f"{what} would be dropped: the simulation was made with load_mode=None, so no load model offers traffic",
                field="load_mode",
                fix="make the Simulation with load_mode='fluid' (the default) or 'request'",
            )

    def _check_node(self, node: str) -> None:
        """Refuse an internal entry at a node the cluster does not have and cannot get (a node of a
        pool the autoscaler may grow, ``POOL-N``, can come later): all its traffic would fail as if
        that node were down."""
        state = getattr(self.sim, "state", None)
        if state is None or node in state.nodes:
            return
        spec = getattr(self.sim, "cluster_spec", None)
        if spec is not None and spec.may_have_node(node):
            return
        names = sorted(state.nodes)
        shown = ", ".join(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")
        raise InputError(
            f"no node {node!r} in this cluster (its nodes: {shown or 'none'}): all its traffic would fail",
            field="LoadGenerator.entry.node",
            fix="name one of the cluster's nodes, or add the node (sim.add_node) before its traffic",
        )

    def next_start(self) -> float:
        """When a spike injected now starts: now, or with :attr:`align` set, the next multiple of it
        strictly after now (the tick at now may have run already), on the grid without float noise
        (120.1, not 120.10000000000001)."""
        now = self.sim.env.now
        align = self.align
        if not align:
            return now
        k = math.floor(now / align + 1e-9) + 1
        per_second = round(1.0 / align)
        if per_second >= 1 and abs(per_second * align - 1.0) < 1e-12:
            return k / per_second  # an integer ratio: correctly rounded, so 1201 / 10 is 120.1
        return k * align

    def subscribe(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(index)`` when generator ``index`` is added or its shape changes."""
        self._listeners.append(listener)

    def of_service(self, service: str) -> list[int]:
        return [i for i, g in enumerate(self.generators) if g.service == service]

    def rate(self, service: str, t: float) -> float:
        """The total rate offered to ``service`` at ``t``."""
        return sum(self.shapes[i].rate(t) for i in self.of_service(service))

    def add_spike(self, service: str, multiplier: float, duration: float, start: float | None = None) -> float:
        """Multiply every generator of ``service`` by ``multiplier`` for ``duration`` seconds from
        ``start`` (default: :meth:`next_start`). Returns the start. Raises ValueError if no generator
        feeds ``service``, ``start`` is in the past, or the simulation was made with ``load_mode=None``
        (the spike would be recorded in the trace but offer nothing)."""
        if self._unread():
            self._refuse_if_unread(f"a spike of {service}")
        indexes = self.of_service(service)
        if not indexes:
            known = ", ".join(sorted({g.service for g in self.generators})) or "none"
            raise ValueError(f"no load generator feeds service {service!r} (known: {known})")
        now = self.sim.env.now
        if start is None:
            start = self.next_start()
        elif start < now - 1e-9:
            raise ValueError(f"a spike cannot start in the past ({start:g} < now {now:g})")
        for index in indexes:
            self.shapes[index] = Spike(self.shapes[index], multiplier, start, duration)
        self.sim.state.record_traffic_spike(service, float(multiplier), float(start), float(duration))
        for index in indexes:
            self._notify(index)
        return start

    def _notify(self, index: int) -> None:
        for listener in self._listeners:
            listener(index)
