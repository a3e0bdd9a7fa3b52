"""The trace serializes to JSON lines, byte-stable, and reads back to equal events."""

import io
import pathlib

import pytest
from podquake.model.errors import InputError
from podquake.model.trace import EVENT_TYPES, NodeAdded, PodBound, SchedulerContractViolation, Trace, event_from_dict


def test_jsonl_round_trip_and_stable_bytes():
    trace = Trace()
    trace.append(PodBound(1.5, "default/web-0", "worker-1"))
    trace.append(SchedulerContractViolation(2.0, "buggy", "default/web-1", "answered unknown node 'x'", "x"))
    text = trace.to_jsonl()
    assert text.splitlines()[0] == '{"node":"worker-1","pod":"default/web-0","t":1.5,"type":"PodBound"}'
    again = Trace.from_jsonl(text)
    assert again.events == trace.events
    assert again.to_jsonl() == text


def test_every_event_type_is_registered_by_its_class_name():
    assert all(name == cls.__name__ for name, cls in EVENT_TYPES.items())
    assert {"PodCreated", "PodBound", "PodDeleted", "NodeReadyChanged", "ContainerTerminated"} <= set(EVENT_TYPES)


def test_a_counting_trace_keeps_nothing():
    trace = Trace(keep=False)
    trace.append(PodBound(0.0, "a/b", "n"))
    assert trace.count == 1 and len(trace) == 0


def test_every_event_builds_as_its_dataclass_would():
    """The events' fast ``__init__`` (through the slots) keeps the dataclass's signature and behaviour."""
    import dataclasses
    import inspect
    import pickle

    for cls in EVENT_TYPES.values():
        all_fields = dataclasses.fields(cls)
        assert list(inspect.signature(cls).parameters) == [f.name for f in all_fields]
        required = [f for f in all_fields if f.default is dataclasses.MISSING]
        values = {f.name: (float(i) if f.name == "t" else ("v", i)) for i, f in enumerate(required)}
        by_position = cls(*values.values())
        by_name = cls(**values)
        assert by_position == by_name
        for f in all_fields:
            expected = values[f.name] if f.name in values else f.default
            assert getattr(by_name, f.name) == expected, (cls.__name__, f.name)
        assert pickle.loads(pickle.dumps(by_name)) == by_name
        with pytest.raises(dataclasses.FrozenInstanceError):
            by_name.t = 1.0  # type: ignore[misc]
        with pytest.raises(TypeError):
            cls(*list(values.values())[:-1])  # a required field missing


# --- reading and writing: bad input gets one message naming the line, the field and the fix ---------
_LINES = [
    '{"node":"worker-1","pod":"default/web-0","t":1.5,"type":"PodBound"}',
    '{"node":"worker-2","pod":"default/web-1","t":2.0,"type":"PodBound"}',
]


def _loaded(*lines: str) -> Trace:
    return Trace.from_jsonl("\n".join(lines) + "\n")


def test_an_unknown_event_type_names_the_line_and_the_close_type():
    """A misspelt ``type`` gave a bare ``KeyError: 'PodBoun'``."""
    with pytest.raises(InputError) as caught:
        _loaded(_LINES[0], _LINES[1].replace('"PodBound"', '"PodBoun"'))
    assert str(caught.value) == "line 2: type: unknown event type 'PodBoun'; did you mean PodBound? (fix: write \"type\": \"PodBound\")"


def test_a_truncated_line_names_the_file_line_not_the_column_within_it():
    """A truncated line gave a JSONDecodeError whose "line 1" was within the line, not the file's."""
    with pytest.raises(InputError, match=r"^line 2: not valid JSON at column \d+ \(unterminated string\); it looks cut short \(fix: "):
        Trace.from_jsonl(_LINES[0] + "\n" + _LINES[1][:-5])


def test_an_extra_or_missing_field_names_the_line_and_the_field():
    """An extra field gave a bare ``__init__() got an unexpected keyword argument`` TypeError."""
    with pytest.raises(InputError, match=r"^line 1: foo: PodBound has no field 'foo' \(fix: remove it; PodBound's fields are t, pod, node\)$"):
        _loaded(_LINES[0].replace('"t":', '"foo":1,"t":'))
    with pytest.raises(InputError, match=r"^line 1: node: PodBound lacks its field 'node'"):
        _loaded(_LINES[0].replace('"node":"worker-1",', ""))


@pytest.mark.parametrize("t", ['"zero"', "true", "NaN", "-1.0", "null"])
def test_a_time_that_is_not_seconds_is_refused(t):
    """``"t":"zero"`` was accepted, giving an event whose time was a string."""
    with pytest.raises(InputError, match=r"^line 1: t: t must be a number of seconds >= 0, not "):
        _loaded(_LINES[0].replace('"t":1.5', f'"t":{t}'))
    with pytest.raises(InputError, match=r"^t: t must be a number of seconds >= 0"):  # without a file, no line
        event_from_dict({"type": "PodBound", "t": "zero", "pod": "a/b", "node": "n"})


def test_events_out_of_time_order_are_refused():
    with pytest.raises(InputError, match=r"^line 2: t: t=1.5 is before the previous event's t=2 "):
        _loaded(_LINES[1], _LINES[0])


def test_reads_text_a_path_or_a_stream_and_writes_a_path_or_a_stream(tmp_path):
    """``from_jsonl`` took only text (a file object or a path failed oddly) and ``write_jsonl`` only a stream."""
    trace = _loaded(*_LINES)
    text = trace.to_jsonl()
    path = tmp_path / "run.jsonl"
    trace.write_jsonl(path)
    assert path.read_text() == text
    trace.write_jsonl(str(tmp_path / "again.jsonl"))
    assert (tmp_path / "again.jsonl").read_text() == text
    stream = io.StringIO()
    trace.write_jsonl(stream)
    assert stream.getvalue() == text
    for source in (text, path, io.StringIO(text), path.open()):
        again = Trace.from_jsonl(source)
        assert again.events == trace.events and again.count == 2
    with pytest.raises(InputError, match=r"^line 1: not valid JSON .*\(fix: from_jsonl reads a str as the trace's text; to read the file, pass pathlib.Path\("):
        Trace.from_jsonl(str(path))
    (tmp_path / "bad.jsonl").write_text(_LINES[0] + "\n\n" + _LINES[1].replace("PodBound", "Nope") + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl: line 3: type: unknown event type 'Nope'"):
        Trace.from_jsonl(pathlib.Path(tmp_path / "bad.jsonl"))


def test_writing_a_trace_that_kept_no_events_is_refused():
    """``write_jsonl`` on a ``keep_trace=False`` trace wrote 0 bytes and said nothing."""
    trace = Trace(keep=False)
    trace.append(NodeAdded(0.0, "worker-1", "zone-a", 1000, 1 << 30, 110))
    stream = io.StringIO()
    with pytest.raises(InputError, match=r"^keep_trace: cannot write this trace: it kept none of its 1 events \(the simulation was made with keep_trace=False\) \(fix: make the Simulation with keep_trace=True"):
        trace.write_jsonl(stream)
    with pytest.raises(InputError, match="kept none of its 1 events"):
        trace.to_jsonl()
    assert Trace(keep=False).to_jsonl() == ""  # nothing counted, nothing lost
