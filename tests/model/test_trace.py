"""The trace serializes to JSON lines, byte-stable, and reads back to equal events."""

from podquake.model.trace import EVENT_TYPES, PodBound, SchedulerContractViolation, Trace


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

    import pytest

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
