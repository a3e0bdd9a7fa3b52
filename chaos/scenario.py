"""Scenario files: one run, written down so it replays exactly.

A scenario is the cluster, the workload, the traffic, the timed faults, the seed and the properties
of one run. ``podquake replay`` reads it, every counterexample is written as one, and the same
scenario always gives the byte-identical trace and the same verdicts. The YAML form::

    apiVersion: podquake/v1
    kind: Scenario
    metadata: {name: node-failure, description: the busiest node dies for five minutes}
    seed: 1
    duration: 600          # the fault phase, in simulated seconds: the final heal comes then
    quiet: 420             # the quiet period after it, when liveness is judged (default: long
                           # enough for every time bound of the properties: 420 s for the default suite)
    scheduler: default     # a built-in name, an entry point, or MODULE:ATTR (optional)
    loadMode: fluid        # how traffic is served: fluid (default) or request
    cluster:               # ClusterSpec's YAML form (podquake.model.cluster)
      pools: [{name: worker, count: 6, zones: [zone-a, zone-b, zone-c], cpu: "4", memory: 16Gi}]
    workload:              # Kubernetes objects inline, or paths (relative to this file)
      - manifests/shop.yaml
      - {apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {...}}
    traffic:               # load generators (podquake.chaos.scenario_traffic)
      - {service: default/frontend, rate: 50}
    faults:                # fault YAML forms (podquake.chaos.faults); ``at`` is seconds from the start
      - {kind: node-failure, node: 0, at: 120, duration: 300}
    properties:            # ids, or {id: parameters}; default: the library's default suite
      - no-overcommit
    imports: [myteam.props]  # modules to import first: where properties of your own are registered

A scenario whose properties include ones registered outside podquake lists their modules in
``imports`` by itself, so its counterexamples replay wherever those modules can be imported.

Times are simulated seconds from the start of the run (t=0, when the workload is applied); every
fault must start before ``duration``. Only ``apiVersion`` and ``kind`` are required.

:func:`load_scenario` reads a file or a text (safe YAML only, through
:mod:`podquake.model.yaml_safety`) and checks everything, manifests included, before anything runs:
each problem is an :class:`~podquake.model.errors.InputError` naming the file, the field and the fix.
:func:`dump_scenario` writes the YAML back (``load_scenario(dump_scenario(s)) == s``), and
:func:`~podquake.chaos.scenario_run.run_scenario` runs one.

>>> s = load_scenario('''
... apiVersion: podquake/v1
... kind: Scenario
... seed: 7
... cluster: {nodes: 3, zones: 1}
... faults: [{kind: node-failure, node: 0, at: 60, duration: 120}]
... ''')
>>> s.seed, s.faults
(7, (NodeFailure(node=0, at=60.0, duration=120.0),))
>>> load_scenario(dump_scenario(s)) == s
True
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml
from podquake.chaos.faults import Fault, fault_from_dict
from podquake.chaos.faults_base import snake
from podquake.chaos.scenario_checks import check_room, check_traffic, missing_targets
from podquake.chaos.scenario_traffic import generator_from_dict, generator_to_dict
from podquake.model.cluster import ClusterSpec
from podquake.model.errors import InputError
from podquake.model.manifests import Manifest, ManifestText, load_manifest_set
from podquake.model.traffic import LoadGenerator
from podquake.model.yaml_safety import MAX_MANIFEST_BYTES, item_lines, load_documents, too_big_error
from podquake.properties.registry import Suite, UnknownPropertyError

__all__ = ["API_VERSION", "KIND", "Scenario", "dump_scenario", "import_modules", "load_scenario", "scenario_notes"]

API_VERSION = "podquake/v1"
KIND = "Scenario"
LOAD_MODES = ("fluid", "request")
MAX_SECONDS = 7 * 24 * 3600.0
"""The longest ``duration`` or ``quiet`` a scenario may ask for: a simulated week. Far longer values
(10^12 s) are typos, and one example of them would run for hours."""
IMPORT_IN_SCENARIO = "name that module under the scenario's imports: (imports: [myteam.props])"
"""How a property of one's own becomes known to a scenario (the fix of an unknown property's error)."""
_TOP_FIELDS = (
    "apiVersion",
    "kind",
    "metadata",
    "seed",
    "duration",
    "quiet",
    "scheduler",
    "loadMode",
    "cluster",
    "workload",
    "traffic",
    "faults",
    "properties",
    "imports",
)
_METADATA_FIELDS = ("name", "description")

PropertyChoice = tuple[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Scenario:
    """One run, as data (see the module docstring for the fields' YAML names and meaning).

    ``workload`` holds Kubernetes objects (mappings, as in YAML) and manifest paths (strings,
    relative to ``base_dir``), applied in order. ``properties`` is a tuple of ``(id, parameters)``;
    None means the library's default suite. ``source`` and ``base_dir`` say where the scenario came
    from (for messages and relative paths); they do not take part in equality.
    """

    name: str = ""
    description: str = ""
    seed: int = 0
    duration: float = 600.0
    quiet: float | None = None  # None: long enough for the properties' time bounds (see default_quiet)
    scheduler: str | None = None
    load_mode: str = "fluid"
    cluster: ClusterSpec = field(default_factory=ClusterSpec.default)
    workload: tuple[str | Mapping[str, Any], ...] = ()
    traffic: tuple[LoadGenerator, ...] = ()
    faults: tuple[Fault, ...] = ()
    properties: tuple[PropertyChoice, ...] | None = None
    imports: tuple[str, ...] = ()
    source: str = field(default="", compare=False)
    base_dir: str = field(default="", compare=False)
    _manifests: list[Manifest] | None = field(default=None, init=False, compare=False, repr=False)
    _workload_lines: tuple[int, ...] = field(default=(), init=False, compare=False, repr=False)
    """Where each workload entry starts in the scenario file, for messages (read from a file only)."""

    def __post_init__(self) -> None:
        src = self.source

        def fail(message: str, name: str, fix: str) -> InputError:
            return InputError(message, source=src, field=name, fix=fix)

        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise fail(f"seed must be a whole number, not {self.seed!r}", "seed", "write e.g. seed: 1")
        if self.seed < 0:
            raise fail(f"seed must be a whole number >= 0, not {self.seed!r}", "seed", "write e.g. seed: 1")
        for name, low_open in (("duration", True), ("quiet", False)):
            value = getattr(self, name)
            if value is None and name == "quiet":
                continue  # set below, once the properties are known
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or (low_open and value == 0):
                bound = "> 0" if low_open else ">= 0"
                raise fail(f"{name} must be a number of seconds {bound}, not {value!r}", name, f"write e.g. {name}: 300")
            if value > MAX_SECONDS:
                raise fail(
                    f"{name} of {value:g} s is longer than a simulated week ({MAX_SECONDS:g} s)",
                    name,
                    f"write e.g. {name}: 600 (seconds); a long run costs real time in every example",
                )
            object.__setattr__(self, name, float(value))
        if self.scheduler is not None and (not isinstance(self.scheduler, str) or not self.scheduler.strip()):
            raise fail(f"scheduler must be a name or MODULE:ATTR, not {self.scheduler!r}", "scheduler", "write e.g. scheduler: default")
        if self.load_mode not in LOAD_MODES:
            raise fail(f"loadMode must be one of {', '.join(LOAD_MODES)}, not {self.load_mode!r}", "loadMode", "write loadMode: fluid")
        if not isinstance(self.cluster, ClusterSpec):
            raise fail("cluster must be a ClusterSpec", "cluster", "use ClusterSpec(...) or the YAML form")
        for i, item in enumerate(self.workload):
            if not (isinstance(item, str) and item) and not isinstance(item, Mapping):
                raise fail(f"a workload entry is a path or a Kubernetes object, not {item!r}", f"workload[{i}]", "write a path or an object")
        # Objects are kept as plain YAML data (dicts and lists, copied), so a dump reads back equal.
        object.__setattr__(self, "workload", tuple(item if isinstance(item, str) else _plain(item) for item in self.workload))
        object.__setattr__(self, "traffic", tuple(self.traffic))
        for i, generator in enumerate(self.traffic):
            if not isinstance(generator, LoadGenerator):
                raise fail(f"not a load generator: {generator!r}", f"traffic[{i}]", "use LoadGenerator(...) or the YAML form")
        object.__setattr__(self, "faults", tuple(self.faults))
        for i, fault in enumerate(self.faults):
            if not isinstance(fault, Fault):
                raise fail(f"not a fault: {fault!r}", f"faults[{i}]", "use NodeFailure(...) etc. or the YAML form")
            if fault.at >= self.duration:
                raise fail(
                    f"{fault!r} starts at {fault.at:g}, not before the end of the fault phase ({self.duration:g})",
                    f"faults[{i}].at",
                    f"start it earlier, or raise duration above {fault.at:g}",
                )
            for name, problem in missing_targets(fault, self.cluster):
                raise fail(f"{fault!r} names {problem}", f"faults[{i}].{name}", "name one of them, or give an index (it wraps around)")
        imports = (self.imports,) if isinstance(self.imports, str) else tuple(self.imports)
        import_modules(imports, src)
        if self.properties is not None:
            object.__setattr__(self, "properties", tuple((str(i), dict(p)) for i, p in self.properties))
            try:
                suite = self.suite()
            except UnknownPropertyError as error:
                raise error.told(IMPORT_IN_SCENARIO, source=src) from None
            except InputError as error:
                where = error.field if error.field.startswith("properties") else f"properties.{error.field}".rstrip(".")
                raise InputError(error.message, source=src, field=where, fix=error.fix) from None
            imports += tuple(_property_modules(suite))
        object.__setattr__(self, "imports", tuple(dict.fromkeys(imports)))
        if self.quiet is None:
            object.__setattr__(self, "quiet", default_quiet(self.suite()))

    # --- what a run needs ----------------------------------------------------------------------------
    def suite(self) -> Suite:
        """A fresh suite of the scenario's properties (the library's default suite when None)."""
        if self.properties is None:
            return Suite.default()
        return Suite.of([i for i, _ in self.properties], params={i: p for i, p in self.properties if p})

    def with_properties(self, ids: Sequence[str]) -> Scenario:
        """The same scenario judging only the properties ``ids``, in that order. Each keeps the
        parameters this scenario gives it (``max-pods-per-node: {limit: 1}`` stays ``limit: 1``); an
        id the scenario does not list gets the property's defaults. What ``--properties``, a pytest
        suite's ``properties=`` and ``ClusterMachine.properties`` choose. Parsed manifests are shared.

        >>> s = load_scenario("apiVersion: podquake/v1\\nkind: Scenario\\n"
        ...                   "properties: [{replicas-converge: {within: 60}}, no-overcommit]")
        >>> s.with_properties(["replicas-converge", "single-binding"]).properties
        (('replicas-converge', {'within': 60}), ('single-binding', {}))
        """
        ids = [ids] if isinstance(ids, str) else list(ids)
        given = dict(self.properties or ())
        other = replace(self, properties=tuple((str(i), dict(given.get(i, {}))) for i in ids))
        object.__setattr__(other, "_manifests", self._manifests)
        return other

    def manifests(self) -> list[Manifest]:
        """The workload's objects, parsed and checked (once; a Manifest applies to any number of runs)."""
        if self._manifests is None:
            object.__setattr__(self, "_manifests", self._load_manifests())
        return list(self._manifests)  # type: ignore[arg-type]

    def _load_manifests(self) -> list[Manifest]:
        """The workload's paths and inline objects, parsed as one set (a PriorityClass given in one
        item serves the pods of every item; an object defined twice is refused)."""
        source = self.source or "<scenario>"
        parts: list[Path | ManifestText] = []
        named: dict[str, str] = {}  # a path as a message gives it -> the workload item that named it
        for i, item in enumerate(self.workload):
            if isinstance(item, str):
                path = Path(item)
                if not path.is_absolute() and self.base_dir:
                    path = Path(self.base_dir) / path
                parts.append(path)
                named[str(path)] = f"{source}: workload[{i}]: {item}"
            else:
                text = yaml.safe_dump(_plain(item), sort_keys=False)
                line = self._workload_lines[i] if i < len(self._workload_lines) else 1
                parts.append(ManifestText(text, f"{source}: workload[{i}]", line))
        try:
            found = load_manifest_set(parts)
        except InputError as error:
            if error.source in named:
                error.source = named[error.source]
                error.args = (str(error),)
            raise
        check_room(self, found)
        check_traffic(self, found)
        return found

    def with_faults(self, faults: tuple[Fault, ...] | list[Fault]) -> Scenario:
        """The same scenario with other faults (a shrunk counterexample, say); parsed manifests are shared."""
        other = replace(self, faults=tuple(faults))
        object.__setattr__(other, "_manifests", self._manifests)
        return other


def import_modules(modules: Sequence[str], source: str = "") -> None:
    """Import each of ``modules`` (a scenario's ``imports``, or ``--import``): they register properties
    (and whatever else) that the scenario names by id."""
    for i, module in enumerate(modules):
        if not isinstance(module, str) or not module.strip():
            raise InputError(f"an import is a module name, not {module!r}", source=source, field=f"imports[{i}]", fix="write e.g. imports: [myteam.props]")
        try:
            importlib.import_module(module.strip())
        except Exception as error:
            raise InputError(
                f"cannot import module {module!r}: {type(error).__name__}: {error}",
                source=source,
                field=f"imports[{i}]",
                fix="check the module name and that it can be imported here (PYTHONPATH, an installed package)",
            ) from None


def _property_modules(suite: Suite) -> list[str]:
    """The modules, outside podquake, that registered ``suite``'s properties (``__main__`` cannot be
    imported by name elsewhere, so it is left out)."""
    found = []
    for prop in suite:
        module = type(prop).__module__
        if module != "__main__" and module != "podquake" and not module.startswith("podquake."):
            found.append(module)
    return found


# === reading =======================================================================================
def names_a_file(path_or_text: str | Path) -> bool:
    """Whether ``path_or_text`` is a path rather than YAML text, as :func:`load_scenario` tells them
    apart: a :class:`~pathlib.Path`, or a string with no newline and no ``kind:``."""
    return isinstance(path_or_text, Path) or ("\n" not in path_or_text and "kind:" not in path_or_text)


def load_scenario(path_or_text: str | Path, *, source: str | None = None, base_dir: str | Path | None = None) -> Scenario:
    """Read a scenario from a file path or from YAML text (text is anything holding a newline or
    ``kind:``). ``source`` names it in messages (default: the path, or ``<scenario>``); workload
    paths are relative to ``base_dir`` (default: the file's folder, or the working directory for a
    text). Raises :class:`InputError` naming the file, the field and the fix."""
    text: str
    if names_a_file(path_or_text):
        path = Path(path_or_text)
        name = source or str(path)
        if path.is_dir():
            raise InputError(
                "is a folder, not a scenario file", source=name, fix="give the path of a scenario YAML file, e.g. podquake-report/counterexample-1.yaml"
            )
        if not path.is_file():
            raise InputError("no such scenario file", source=name, fix="check the path")
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise too_big_error(size, name)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read the file: {error}", source=name, fix="save it as UTF-8 text") from None
        base_dir = path.parent if base_dir is None else base_dir
    else:
        text = str(path_or_text)
        name = source or "<scenario>"
    documents = [data for _, data in load_documents(text, name) if data is not None]
    if len(documents) != 1:
        if documents and isinstance(documents[0], Mapping):
            _not_a_scenario(documents[0], name)  # several Kubernetes objects, most likely
        raise InputError(
            f"a scenario file holds one YAML document, not {len(documents)}", source=name, fix="keep one document (no '---' separators)"
        )
    scenario = scenario_from_dict(documents[0], source=name, base_dir=str(base_dir or ""))
    object.__setattr__(scenario, "_workload_lines", tuple(item_lines(text, "workload")))
    scenario.manifests()  # check the workload now, not halfway through a run
    return scenario


def scenario_from_dict(data: Any, *, source: str = "<scenario>", base_dir: str = "") -> Scenario:
    """A scenario from its YAML form, already parsed (see :func:`load_scenario`)."""

    def fail(message: str, name: str = "", fix: str = "", location: str = "") -> InputError:
        return InputError(message, source=source, location=location, field=name, fix=fix)

    if not isinstance(data, Mapping):
        raise fail("a scenario must be a mapping", fix=f"start with apiVersion: {API_VERSION} and kind: {KIND}")
    if data.get("apiVersion") != API_VERSION:
        _not_a_scenario(data, source)
        raise fail(f"apiVersion must be {API_VERSION}, not {data.get('apiVersion')!r}", "apiVersion", f"write apiVersion: {API_VERSION}")
    if data.get("kind") != KIND:
        raise fail(f"kind must be {KIND}, not {data.get('kind')!r}", "kind", f"write kind: {KIND}")
    unknown = [str(k) for k in data if k not in _TOP_FIELDS]
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}", unknown[0], f"use {', '.join(_TOP_FIELDS)}")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, Mapping) or any(k not in _METADATA_FIELDS for k in metadata):
        raise fail("metadata holds name and description only", "metadata", "write metadata: {name: ..., description: ...}")
    try:
        cluster = ClusterSpec.from_dict(data.get("cluster"), source=source)
    except InputError as error:
        if not error.field.startswith("cluster"):
            error.field = f"cluster.{error.field}".rstrip(".")
            error.args = (str(error),)
        raise
    workload = _list(data, "workload", fail)
    for i, item in enumerate(workload):
        if isinstance(item, Mapping) and set(item) == {"path"}:
            workload[i] = item["path"]
        if isinstance(workload[i], str):
            continue
        if not isinstance(workload[i], Mapping):
            raise fail(f"a workload entry is a path or a Kubernetes object, not {type(item).__name__}", f"workload[{i}]", "write a path, or an object with apiVersion and kind")
    traffic = [generator_from_dict(entry, source=source, where=f"traffic[{i}]") for i, entry in enumerate(_list(data, "traffic", fail))]
    faults = []
    for i, entry in enumerate(_list(data, "faults", fail)):
        try:
            faults.append(fault_from_dict(entry, source=source, location=""))
        except InputError as error:
            error.field = f"faults[{i}].{error.field}" if error.field else f"faults[{i}]"
            error.args = (str(error),)
            raise
    scheduler = data.get("scheduler")
    if scheduler is not None:
        scheduler = str(scheduler)
        _check_scheduler(scheduler, source)
    imports = tuple(_list(data, "imports", fail))
    import_modules(imports, source)
    return Scenario(
        name=str(metadata.get("name", "") or ""),
        description=str(metadata.get("description", "") or ""),
        seed=data.get("seed", 0),
        duration=data.get("duration", 600.0),
        quiet=data.get("quiet"),
        scheduler=scheduler,
        load_mode=data.get("loadMode", "fluid"),
        cluster=cluster,
        workload=tuple(workload),
        traffic=tuple(traffic),
        faults=tuple(faults),
        properties=_properties(data.get("properties"), fail),
        imports=imports,
        source=source,
        base_dir=base_dir,
    )


def default_quiet(suite: Suite) -> float:
    """A scenario's quiet period when it gives none: the longest time bound (``within``) of the
    suite's liveness properties, and at least 300 s, so that every property can be judged (with a
    shorter one a property needing more is ``unknown`` in every run). 420 s for the default suite
    (``autoscaler-converges``: the HPA's 300 s downscale window and 120 s more).

    >>> default_quiet(Suite.default()), default_quiet(Suite.of(["no-overcommit"]))
    (420.0, 300.0)
    """
    bounds = [float(within) for prop in suite if isinstance(within := getattr(prop, "within", None), (int, float))]
    return max([DEFAULT_QUIET_FLOOR, *bounds])


DEFAULT_QUIET_FLOOR = 300.0
"""The shortest default quiet period: five minutes of a healed cluster."""


def scenario_notes(scenario: Scenario, *, quiet: float | None = None, quiet_name: str = "quiet") -> list[str]:
    """What a user should hear before ``scenario`` runs, though it runs: what the model ignores in
    its workload's manifests (a misspelt ``replica:`` would otherwise run one replica, and the run
    pass, without a word), and a quiet period too short for its properties' time bounds
    (``quiet``, named ``quiet_name``: default the scenario's own)."""
    from podquake.model.manifests import manifest_notes

    notes = list(manifest_notes(scenario.manifests()))
    short = short_quiet_note(scenario.suite(), float(scenario.quiet or 0.0) if quiet is None else float(quiet), quiet_name)
    return notes + ([short] if short else [])


def short_quiet_note(suite: Suite, quiet: float, name: str = "quiet") -> str | None:
    """A note when ``quiet`` is shorter than time bounds (``within``) of ``suite``'s properties, or
    None. Such a property cannot fail: a run that has not settled by its end is ``unknown`` for it,
    not failed (it can still pass, by settling early).

    >>> print(short_quiet_note(Suite.of(["replicas-converge", "no-overcommit"]), 60.0))
    quiet: 60 s is shorter than the time bound of replicas-converge (300 s): it cannot fail (a run not settled by its end is unknown for it, not failed); leave quiet out (long enough for every bound) or give at least 300
    """
    short = [(prop.id, float(within)) for prop in suite if isinstance(within := getattr(prop, "within", None), (int, float)) and within > quiet]
    if not short:
        return None
    bounds = ", ".join(f"{prop} ({within:g} s)" for prop, within in short)
    noun, pronoun = ("bound", "it") if len(short) == 1 else ("bounds", "they")
    return (
        f"{name}: {quiet:g} s is shorter than the time {noun} of {bounds}: {pronoun} cannot fail (a run not settled by its end "
        f"is unknown for {'it' if len(short) == 1 else 'them'}, not failed); leave {name} out (long enough for every bound) "
        f"or give at least {max(w for _, w in short):g}"
    )


def _not_a_scenario(data: Mapping[str, Any], source: str) -> None:
    """Raise a pointed error when ``data`` is another kind of file podquake reads: a Kubernetes
    object (run it with ``podquake run --manifests``) or a run record (render it with ``podquake report``)."""
    # a run record names its schema ("podquake/run-record"); read here without importing the
    # reports package, which sits above this module
    if str(data.get("schema", "")).endswith("/run-record"):
        raise InputError(
            "this is a run record (report.json), not a scenario",
            source=source,
            field="schema",
            fix=f"render it with: podquake report {source}; replay one of its counterexample-N.yaml files instead",
        )
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if isinstance(api_version, str) and isinstance(kind, str) and kind and kind != KIND and "podquake" not in api_version:
        raise InputError(
            f"this is a Kubernetes {kind} (apiVersion {api_version}), not a podquake scenario",
            source=source,
            field="apiVersion",
            fix=f"run a campaign on it with: podquake run --manifests {source}",
        )


def _list(data: Mapping[str, Any], key: str, fail: Any) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(f"{key} must be a list", key, f"write {key}: [...] with one entry per line starting with '-'")
    return list(value)


def _properties(value: Any, fail: Any) -> tuple[PropertyChoice, ...] | None:
    if value is None:
        return None
    items = list(value.items()) if isinstance(value, Mapping) else value
    if not isinstance(items, list):
        raise fail("properties must be a list of ids (or {id: parameters})", "properties", "write e.g. properties: [no-overcommit]")
    chosen: list[PropertyChoice] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            chosen.append((item, {}))
        elif isinstance(item, tuple) and len(item) == 2:  # from the mapping form
            chosen.append((str(item[0]), _params(item[1], f"properties.{item[0]}", fail)))
        elif isinstance(item, Mapping) and len(item) == 1:
            (pid, params), = item.items()
            chosen.append((str(pid), _params(params, f"properties[{i}].{pid}", fail)))
        else:
            raise fail(f"{item!r} is not a property id or {{id: parameters}}", f"properties[{i}]", "write e.g. - no-overcommit")
    return tuple(chosen)


def _params(value: Any, where: str, fail: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail("a property's parameters must be a mapping", where, "write e.g. {within: 300}")
    params: dict[str, Any] = {}
    for key, item in value.items():  # camelCase, as every other field of the file, or snake_case
        name = snake(str(key))
        if name in params:
            raise fail(f"parameter {name} is given twice", f"{where}.{key}", "keep one spelling")
        params[name] = item
    return params


def _check_scheduler(name: str, source: str) -> None:
    from podquake.model.scheduling.registry import resolve_scheduler

    try:
        resolve_scheduler(name, rng=random.Random(0))
    except InputError as error:
        raise InputError(error.message, source=source, field="scheduler", fix=error.fix) from None


# === writing =======================================================================================
def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The YAML form of ``scenario`` (fields at their defaults left out, but for the seed)."""
    data: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND}
    metadata = {k: getattr(scenario, k) for k in _METADATA_FIELDS if getattr(scenario, k)}
    if metadata:
        data["metadata"] = metadata
    data["seed"] = scenario.seed
    defaults = {f.name: f.default for f in fields(Scenario)}
    for name, key in (("duration", "duration"), ("quiet", "quiet"), ("scheduler", "scheduler"), ("load_mode", "loadMode")):
        value = getattr(scenario, name)
        if value != defaults[name]:
            data[key] = value
    data["cluster"] = scenario.cluster.to_dict()
    if scenario.workload:
        data["workload"] = [item if isinstance(item, str) else _plain(item) for item in scenario.workload]
    if scenario.traffic:
        data["traffic"] = [generator_to_dict(g) for g in scenario.traffic]
    if scenario.faults:
        data["faults"] = [f.to_dict() for f in scenario.faults]
    if scenario.properties is not None:
        data["properties"] = [pid if not params else {pid: _plain(params)} for pid, params in scenario.properties]
    if scenario.imports:
        data["imports"] = list(scenario.imports)
    return data


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as YAML text, readable by :func:`load_scenario` (which gives back an equal one)."""
    return yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False, default_flow_style=None, width=120)


def _plain(value: Any) -> Any:
    """Mappings and sequences as plain dicts and lists (YAML's safe dumper writes nothing else)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
