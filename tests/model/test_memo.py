"""IdentityMemo: once per object, by identity, bounded; and the process-wide caches built on it."""

from __future__ import annotations

import gc

from podquake.model.memo import IdentityMemo
from podquake.model.objects import ContainerSpec, PodSpec, PodTemplate
from podquake.model.quantity import Resources
from podquake.model.simulation import Simulation, _template_hash
from podquake.model.specrecord import decode_spec, encode_spec


def test_once_per_object_by_identity() -> None:
    calls: list[tuple[int, ...]] = []
    total = IdentityMemo(lambda values: calls.append(values) or sum(values))
    first, equal = (1, 2, 3), tuple([1, 2, 3])
    assert first == equal and first is not equal
    assert total(first) == total(first) == total(equal) == 6
    assert calls == [first, equal]  # an equal object is another object: computed again


def test_a_remembered_object_is_kept_alive_so_its_id_is_never_reused() -> None:
    lengths = IdentityMemo(len)
    for size in range(200):
        assert lengths([0] * size) == size  # each list dies after the call, but not while remembered
        gc.collect()


def test_past_the_limit_it_starts_over() -> None:
    calls: list[object] = []
    memo = IdentityMemo(lambda obj: calls.append(obj) or id(obj), limit=3)
    objects = [object() for _ in range(5)]
    for obj in objects:
        memo(obj)
    memo(objects[0])  # forgotten when the fourth came in
    memo(objects[4])  # still remembered
    assert calls == [*objects, objects[0]]


def _template(cpu: int) -> PodTemplate:
    spec = PodSpec(containers=(ContainerSpec("app", requests=Resources(cpu, 2**20)),))
    return PodTemplate(labels=(("app", "web"),), spec=spec)


def test_template_hash_is_the_hash_of_the_template_every_time() -> None:
    template = _template(100)
    assert Simulation.template_hash(template) == _template_hash(template)
    assert Simulation.template_hash(template) == Simulation.template_hash(_template(100))  # equal templates
    assert Simulation.template_hash(template) != Simulation.template_hash(_template(200))


def test_spec_records_are_shared_and_exact() -> None:
    spec = _template(250).spec
    body = encode_spec(spec)
    assert encode_spec(spec) is body
    assert encode_spec(_template(250).spec) == body
    recorded = decode_spec(body)
    assert decode_spec(body) is recorded  # one frozen value for every ledger
    assert decode_spec("".join(body)) is recorded  # by value, not identity
    assert recorded.containers == (("app", 250, 2**20),)
