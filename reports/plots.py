"""The report's plots: matplotlib figures of a counterexample's timeline, as inline SVG text.

Four pictures per counterexample, each a pure function of its ``timeline`` (see
:mod:`podquake.reports.timeline`):

- :func:`timeline_svg`: faults as bars; each workload's ready replicas against desired; node
  readiness (the control plane's Ready condition, and below it whether the machine was powered).
- :func:`load_svg`: per Service, each endpoint's share of the requests, against the even share.
- :func:`utilization_svg`: requested CPU and memory over allocatable, node by node over time (a
  heat map; overcommitment shows red).
- :func:`topology_svg`: zones as boxes, nodes as marks colored by state, partitions, at the moment
  of failure.

Output is byte-for-byte deterministic: the SVG backend's hash salt is fixed, dates and the creator
are left out of the metadata, and every ``id`` is prefixed with the plot's own id so several SVGs
can live in one HTML page. Text stays text (``svg.fonttype: none``): small, and searchable in the
page. Only the object-oriented API is used (no pyplot), so no global backend state is touched.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Rectangle
from matplotlib.ticker import PercentFormatter

__all__ = ["timeline_svg", "load_svg", "utilization_svg", "topology_svg", "plots_for", "READY_COLORS"]

READY_COLORS = {"True": "#2e7d32", "Unknown": "#f9a825", "False": "#c62828", "Removed": "#bdbdbd"}
POWER_OFF = "#37474f"
CORDONED = "#ef6c00"  # a dashed orange ring: no new pod may land on the node
FAILURE = "#b71c1c"
FAULT_COLORS = ("#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e", "#1565c0", "#558b2f", "#5d4037")
SERIES_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
WIDTH = 9.6  # inches: fills a laptop's reading column at 96 dpi
_RC = {
    "svg.hashsalt": "podquake",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": True,
}
_USAGE = LinearSegmentedColormap.from_list("podquake-usage", ["#f5f7fa", "#90caf9", "#1565c0", "#0d2f6e"]).with_extremes(over="#d32f2f")

_REFERENCE = re.compile(r'(\bid="|#)([^"#)\s]+)(?=[")])')  # an id, or a reference to one: url(#x) or href="#x"
F = TypeVar("F", bound=Callable[..., Any])


def _styled(function: F) -> F:
    """Run a plotting function under podquake's matplotlib settings (fonts, hash salt), restored after."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(_RC):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _svg(fig: Figure, ident: str, title: str) -> str:
    """The figure as an inline ``<svg>`` element with ids prefixed by ``ident`` and a title for screen readers."""
    buffer = io.StringIO()
    FigureCanvasSVG(fig)
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    text = _REFERENCE.sub(lambda m: f"{m[1]}{ident}-{m[2]}" if m[2] in ids else m[0], text)
    safe = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("<svg ", f'<svg id="{ident}" role="img" aria-label="{safe.replace(chr(34), "&quot;")}" ', 1).replace(
        ">", f"><title>{safe}</title>", 1
    ).strip()


def _figure(height: float) -> Figure:
    return Figure(figsize=(WIDTH, height), layout="constrained")


def _t(text: str) -> str:
    """User text made literal for matplotlib: ``$`` would start math mode, a leading ``_`` hides a legend entry."""
    text = str(text).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _short(text: str, limit: int = 46) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis), made literal (see :func:`_t`)."""
    text = str(text)
    return _t(text if len(text) <= limit else text[: limit - 1] + "…")


def _fault_kind(text: str) -> str:
    return text.split("(", 1)[0].strip() or "fault"


def _steps(points: list[list[Any]], end: float, column: int) -> tuple[list[float], list[float]]:
    """x and y of a step series, held to ``end``."""
    xs = [p[0] for p in points] + ([end] if points else [])
    ys = [p[column] for p in points] + ([points[-1][column]] if points else [])
    return xs, ys


def _segments(points: list[list[Any]], end: float) -> list[tuple[float, float, list[Any]]]:
    out = []
    for index, point in enumerate(points):
        following = points[index + 1][0] if index + 1 < len(points) else end
        if following > point[0]:
            out.append((point[0], following - point[0], point))
    return out


def _mark_failure(ax: Any, timeline: dict[str, Any]) -> None:
    t = timeline.get("failure_time")
    if t is not None:
        ax.axvline(t, color=FAILURE, linestyle="--", linewidth=1.2, zorder=5, label=f"failure at t={t:g}s")


@_styled
def timeline_svg(timeline: dict[str, Any], ident: str) -> str:
    """Faults, ready-versus-desired replicas and node readiness on one time axis."""
    faults, workloads, nodes = timeline["faults"], timeline["workloads"], timeline["nodes"]
    start, end = timeline["start"], max(timeline["end"], timeline["start"] + 1e-9)
    rows = [("faults", max(1, len(faults)) * 0.28 + 0.5), ("workloads", 2.3), ("nodes", max(1, len(nodes)) * 0.26 + 0.6)]
    fig = _figure(sum(h for _, h in rows) + 0.6)
    axes = fig.subplots(3, 1, sharex=True, height_ratios=[h for _, h in rows])
    ax_f, ax_w, ax_n = axes

    kinds: dict[str, str] = {}
    for row, bar in enumerate(faults):
        kind = _fault_kind(bar["repr"])
        color = kinds.setdefault(kind, FAULT_COLORS[len(kinds) % len(FAULT_COLORS)])
        width = max(bar["end"] - bar["start"], (end - start) * 0.004)
        ax_f.broken_barh([(bar["start"], width)], (row - 0.35, 0.7), facecolors=color, alpha=0.85 if bar["healed"] else 0.55,
                         hatch=None if bar["healed"] else "//", edgecolor=color)
    ax_f.set_yticks(range(len(faults)), [_short(bar["repr"]) for bar in faults])
    ax_f.set_ylim(len(faults) - 0.5 if faults else 0.5, -0.5)
    ax_f.set_title("Faults injected (hatched: never healed)", loc="left")
    if not faults:
        ax_f.text(0.5, 0.5, "no faults", transform=ax_f.transAxes, ha="center", va="center", color="#666")
        ax_f.set_yticks([])
    for mark in timeline.get("marks", []):
        all_healed = mark["label"] == "all-healed"
        ax_f.axvline(mark["t"], color="#2e7d32" if all_healed else "#78909c", linestyle=":", linewidth=1.2 if all_healed else 0.8)
    _mark_failure(ax_f, timeline)

    top = 1
    for index, item in enumerate(workloads):
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        xs, ready = _steps(item["points"], end, 1)
        _, desired = _steps(item["points"], end, 2)
        ax_w.step(xs, desired, where="post", color=color, linestyle=":", linewidth=1.1, alpha=0.9)
        ax_w.step(xs, ready, where="post", color=color, linewidth=1.6, label=_short(item["workload"], 40))
        top = max(top, *ready, *desired) if ready else top
    healed = [m["t"] for m in timeline.get("marks", []) if m["label"] == "all-healed"]
    if healed:
        ax_w.axvline(healed[-1], color="#2e7d32", linestyle=":", linewidth=1.2, label=f"all faults healed at t={healed[-1]:g}s")
    _mark_failure(ax_w, timeline)
    ax_w.set_ylim(-0.2, top + 0.6)
    ax_w.yaxis.get_major_locator().set_params(integer=True)
    ax_w.set_ylabel("replicas")
    omitted = f" ({timeline['workloads_omitted']} more not shown)" if timeline["workloads_omitted"] else ""
    ax_w.set_title(f"Ready replicas (solid) against desired (dotted), per workload{omitted}", loc="left")
    if workloads or timeline.get("failure_time") is not None:
        ax_w.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7.5, frameon=False)
    else:
        ax_w.text(0.5, 0.5, "no workloads", transform=ax_w.transAxes, ha="center", va="center", color="#666")

    for row, item in enumerate(nodes):
        for t0, width, ready in _merged(item["points"], end, 1):
            ax_n.broken_barh([(t0, width)], (row - 0.38, 0.5), facecolors=READY_COLORS.get(ready, "#9e9e9e"), linewidth=0)
        for t0, width, up in _merged(item["points"], end, 2):
            if not up:
                ax_n.broken_barh([(t0, width)], (row + 0.16, 0.2), facecolors=POWER_OFF, linewidth=0)
    ax_n.set_yticks(range(len(nodes)), [_short(f"{n['node']} ({n['zone']})" if n["zone"] else n["node"], 40) for n in nodes])
    ax_n.set_ylim(len(nodes) - 0.5 if nodes else 0.5, -0.5)
    omitted = f" ({timeline['nodes_omitted']} more not shown)" if timeline["nodes_omitted"] else ""
    ax_n.set_title(f"Node readiness{omitted}", loc="left")
    ax_n.legend(
        handles=[Patch(color=READY_COLORS[k], label=f"Ready={k}") for k in ("True", "Unknown", "False")]
        + [Patch(color=POWER_OFF, label="machine off")],
        loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7.5, frameon=False,
    )
    _mark_failure(ax_n, timeline)
    ax_n.set_xlim(start, end)
    ax_n.set_xlabel("simulated seconds")
    return _svg(fig, ident, "Timeline: faults, ready replicas against desired, node readiness")


@_styled
def load_svg(timeline: dict[str, Any], ident: str) -> str | None:
    """Per Service, each endpoint's share of the requests that reached an endpoint (None without traffic)."""
    services = [s for s in timeline["load"] if s["endpoints"] or s["offered"]]
    if not services:
        return None
    heights = [max(1, len(s["endpoints"])) * 0.24 + 0.75 for s in services]
    fig = _figure(sum(heights) + 0.3)
    axes = fig.subplots(len(services), 1, height_ratios=heights, squeeze=False)[:, 0]
    for ax, service in zip(axes, services, strict=True):
        rows = service["endpoints"]
        for row, endpoint in enumerate(rows):
            share = endpoint["share"]
            ok = share * (endpoint["served"] / endpoint["offered"]) if endpoint["offered"] else 0.0
            ax.barh(row, ok, color="#1565c0", height=0.6)
            ax.barh(row, share - ok, left=ok, color="#e53935", height=0.6)
            ax.text(share, row, f" {share:.1%}", va="center", fontsize=7.5)
        if rows:
            even = 1.0 / (len(rows) + service["endpoints_omitted"])
            ax.axvline(even, color="#333", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(rows)), [_short(e["pod"], 44) for e in rows])
        ax.set_ylim(len(rows) - 0.5 if rows else 0.5, -0.5)
        ax.set_xlim(0, max([e["share"] for e in rows] + [0.1]) * 1.2)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        failed = f", {service['failed']:g} failed" if service["failed"] else ""
        more = f"; {service['endpoints_omitted']} more endpoints" if service["endpoints_omitted"] else ""
        ax.set_title(f"{_short(service['service'], 60)}: {service['offered']:g} requests offered, {service['served']:g} served{failed}{more}", loc="left")
        if not rows:
            ax.text(0.5, 0.5, "no request reached an endpoint", transform=ax.transAxes, ha="center", va="center", color="#666")
    axes[-1].set_xlabel("share of the requests that reached an endpoint (blue: served, red: failed; dashed: even share)")
    return _svg(fig, ident, "Load distribution: each endpoint's share of the requests per Service")


def _merged(points: list[list[Any]], end: float, column: int) -> list[tuple[float, float, Any]]:
    """``(start, width, value)`` runs of a step series' ``column``, equal neighbours merged."""
    runs: list[list[Any]] = []
    for t0, width, point in _segments(points, end):
        if runs and runs[-1][2] == point[column] and math.isclose(runs[-1][0] + runs[-1][1], t0):
            runs[-1][1] += width
        else:
            runs.append([t0, width, point[column]])
    return [(a, b, c) for a, b, c in runs]


@_styled
def utilization_svg(timeline: dict[str, Any], ident: str) -> str | None:
    """Requested CPU and memory over allocatable as heat strips, one row per node over time (None without nodes)."""
    series = [s for s in timeline["utilization"] if s["points"]]
    if not series:
        return None
    start, end = timeline["start"], max(timeline["end"], timeline["start"] + 1e-9)
    norm = Normalize(0.0, 1.0)
    fig = _figure(len(series) * 0.24 + 1.4)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, column, label in ((axes[0], 1, "CPU requested / allocatable"), (axes[1], 2, "memory requested / allocatable")):
        for row, item in enumerate(series):
            runs = _merged(item["points"], end, column)
            ax.broken_barh([(a, b) for a, b, _ in runs], (row - 0.42, 0.84), facecolors=[_USAGE(norm(v)) for _, _, v in runs],
                           linewidth=0)
        ax.set_title(label, loc="left")
        ax.set_xlabel("simulated seconds")
        ax.set_xlim(start, end)
        ax.set_ylim(len(series) - 0.5, -0.5)
        _mark_failure(ax, timeline)
    axes[0].set_yticks(range(len(series)), [_short(s["node"], 30) for s in series])
    shrink = min(1.0, 1.6 / (len(series) * 0.24 + 0.4))  # about 1.6 inches tall however many nodes
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=_USAGE), ax=list(axes), extend="max", fraction=0.04, pad=0.01, shrink=shrink)
    bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    bar.set_label("red: above 100%")
    return _svg(fig, ident, "Node utilization: requested over allocatable CPU and memory, per node over time")


def _node_color(node: dict[str, Any]) -> str:
    return READY_COLORS.get(node["ready"], "#9e9e9e")


@_styled
def topology_svg(timeline: dict[str, Any], ident: str) -> str | None:
    """Zones as boxes, nodes as marks colored by state, partitions marked, at the moment of failure."""
    topology = timeline["topology"]
    zones = topology["zones"]
    if not zones:
        return None
    columns = [max(1, math.ceil(math.sqrt(len(z["nodes"]) * 1.6))) for z in zones]
    rows = [max(1, math.ceil(len(z["nodes"]) / c)) for z, c in zip(zones, columns, strict=True)]
    labels = all(len(z["nodes"]) <= 16 for z in zones)
    details = all(len(z["nodes"]) <= 6 for z in zones)
    cell_w, cell_h = (1.3, 1.0) if labels else (0.5, 0.5)
    widths = [c * cell_w + 0.6 for c in columns]
    total_w = sum(widths) + 0.4 * (len(zones) - 1)
    total_h = max(rows) * cell_h + 0.9
    text_lines = len(topology["partitions"]) or 1
    fig_width = min(WIDTH, 0.75 * total_w + 0.4)
    scale = (fig_width - 0.4) / total_w
    fig = Figure(figsize=(max(fig_width, 6.0), total_h * scale + 0.8 + 0.15 * text_lines), layout="constrained")
    legend_columns = 5 if fig_width >= 8.5 else 3
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    x = 0.0
    for zone, cols, width in zip(zones, columns, widths, strict=True):
        isolated = zone["isolated"]
        ax.add_patch(Rectangle((x, 0), width, total_h, facecolor="#f5f7fa", edgecolor=FAILURE if isolated else "#90a4ae",
                               linestyle="--" if isolated else "-", linewidth=2 if isolated else 1))
        more = f" (+{zone['nodes_omitted']})" if zone["nodes_omitted"] else ""
        ax.text(x + 0.15, total_h - 0.15, _short(zone["zone"], 24) + more + ("  ISOLATED" if isolated else ""), va="top", fontsize=8.5,
                fontweight="bold", color=FAILURE if isolated else "#263238")
        for index, node in enumerate(zone["nodes"]):
            cx = x + 0.3 + cell_w * (index % cols + 0.5)
            cy = total_h - 0.55 - cell_h * (index // cols + 0.5)
            radius = 0.22 if labels else 0.17
            cordoned = node["unschedulable"]
            ax.add_patch(Circle((cx, cy), radius, facecolor=_node_color(node), edgecolor=CORDONED if cordoned else "#263238",
                                linestyle="--" if cordoned else "-", linewidth=2.2 if cordoned else 1))
            if node["cut_off"]:
                ax.add_patch(Circle((cx, cy), radius + 0.09, fill=False, edgecolor=FAILURE, linewidth=1.8))
            if not node["up"]:
                ax.plot([cx - radius * 0.6, cx + radius * 0.6], [cy - radius * 0.6, cy + radius * 0.6], color=POWER_OFF, linewidth=2)
                ax.plot([cx - radius * 0.6, cx + radius * 0.6], [cy + radius * 0.6, cy - radius * 0.6], color=POWER_OFF, linewidth=2)
            if labels:
                ax.text(cx, cy - radius - 0.08, _short(node["node"], 16), ha="center", va="top", fontsize=7)
            if details:
                ax.text(cx, cy - radius - 0.3, f"{node['pods']} pod{'' if node['pods'] == 1 else 's'}, cpu {node['cpu']:.0%}", ha="center", va="top", fontsize=6.5,
                        color="#455a64")
        x += width + 0.4
    ax.set_xlim(-0.1, total_w + 0.1)
    ax.set_ylim(-0.1, total_h + 0.1)
    partitions = topology["partitions"]
    caption = "; ".join(f"partition {p['partition']} ({p['kind']}): {p['description']}" for p in partitions) or "no network partition active"
    ax.set_title(f"Cluster at t={topology['time']:g}s — " + _short(caption, 110), loc="left", fontweight="normal")
    handles = [Line2D([], [], marker="o", linestyle="", markersize=8, markerfacecolor=READY_COLORS[k], markeredgecolor="#263238",
                      label=f"Ready={k}") for k in ("True", "Unknown", "False")]
    handles += [
        Line2D([], [], marker="x", linestyle="", markersize=8, color=POWER_OFF, markeredgewidth=2, label="machine off"),
        Line2D([], [], marker="o", linestyle="", markersize=11, markerfacecolor="none", markeredgecolor=FAILURE, markeredgewidth=1.8,
               label="cut off by a partition"),
        Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor="none", markeredgecolor=CORDONED, markeredgewidth=2.2,
               label="cordoned (unschedulable)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=legend_columns, fontsize=7.5, frameon=False)
    return _svg(fig, ident, "Topology at the moment of failure: zones, nodes by state, partitions")


def plots_for(counterexample: dict[str, Any]) -> dict[str, str | None]:
    """The four SVGs of one counterexample, keyed ``timeline``, ``load``, ``utilization``, ``topology``
    (None where there is nothing to draw)."""
    timeline = counterexample["timeline"]
    base = f"plot-{counterexample['id']}"
    return {
        "timeline": timeline_svg(timeline, f"{base}-timeline"),
        "load": load_svg(timeline, f"{base}-load"),
        "utilization": utilization_svg(timeline, f"{base}-utilization"),
        "topology": topology_svg(timeline, f"{base}-topology"),
    }
