"""Label selectors, node selector terms and tolerations match as upstream's helpers do."""

import pytest

from podquake.model.selectors import (
    LabelSelector,
    NodeAffinity,
    NodeSelectorTerm,
    Requirement,
    Taint,
    Toleration,
    tolerates_all,
)


def test_label_selector_match_labels_and_expressions():
    selector = LabelSelector(
        match_labels=(("app", "web"),),
        match_expressions=(Requirement("tier", "In", ("front", "edge")), Requirement("canary", "DoesNotExist")),
    )
    assert selector.matches({"app": "web", "tier": "front"})
    assert not selector.matches({"app": "web", "tier": "back"})
    assert not selector.matches({"app": "web", "tier": "front", "canary": "yes"})
    assert LabelSelector().matches({"anything": "at all"})


def test_not_in_matches_absent_keys_as_upstream():
    assert Requirement("env", "NotIn", ("prod",)).matches({})


def test_gt_lt_compare_integers_and_fail_on_non_integers():
    assert Requirement("cores", "Gt", ("4",)).matches({"cores": "8"})
    assert not Requirement("cores", "Lt", ("4",)).matches({"cores": "8"})
    assert not Requirement("cores", "Gt", ("4",)).matches({"cores": "many"})


@pytest.mark.parametrize(
    ("operator", "values"), [("In", ()), ("Exists", ("x",)), ("Gt", ("a",)), ("Like", ("x",))]
)
def test_invalid_requirements_are_refused_when_built(operator, values):
    with pytest.raises(ValueError, match="key"):
        Requirement("key", operator, values)


def test_node_affinity_terms_are_ored_and_expressions_anded():
    affinity = NodeAffinity(
        required=(
            NodeSelectorTerm(match_expressions=(Requirement("zone", "In", ("a",)), Requirement("ssd", "Exists"))),
            NodeSelectorTerm(match_fields=(Requirement("metadata.name", "In", ("node-9",)),)),
        ),
        preferred=((10, NodeSelectorTerm(match_expressions=(Requirement("zone", "In", ("a",)),))),),
    )
    assert affinity.required_matches("node-1", {"zone": "a", "ssd": "true"})
    assert not affinity.required_matches("node-1", {"zone": "a"})
    assert affinity.required_matches("node-9", {})
    assert affinity.preferred_score("node-1", {"zone": "a"}) == 10
    assert affinity.uses_node_identity()
    assert not NodeSelectorTerm().matches("n", {"a": "b"}), "an empty term matches nothing"


def test_tolerations():
    unreachable = Taint("node.kubernetes.io/unreachable", "", "NoExecute")
    assert Toleration(operator="Exists").tolerates(unreachable), "key-less Exists tolerates every taint"
    assert not Toleration(key="node.kubernetes.io/unreachable", operator="Exists", effect="NoSchedule").tolerates(unreachable)
    assert Toleration(key="dedicated", value="gpu", effect="NoSchedule").tolerates(Taint("dedicated", "gpu"))
    assert not Toleration(key="dedicated", value="cpu").tolerates(Taint("dedicated", "gpu"))
    assert tolerates_all((), (Taint("a", "", "PreferNoSchedule"),), ("NoSchedule", "NoExecute"))
    assert not tolerates_all((), (Taint("a", "", "NoSchedule"),), ("NoSchedule", "NoExecute"))
    with pytest.raises(ValueError, match="effect"):
        Taint("a", "", "NoRun")
