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
