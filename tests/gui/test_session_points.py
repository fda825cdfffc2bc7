"""The session's sorted point list, kept in step with every change instead of sorted per read."""

from __future__ import annotations

import random

from engine.export.document import Keypoint
from sd4match_gui.model.session import Session


def test_points_stay_in_id_order_through_adds_replacements_and_removals():
    session = Session()
    rng = random.Random(0)
    session.set_points("a", [Keypoint(i, (float(i), 0.0)) for i in rng.sample(range(50), 20)])
    expected = {p.id: p for p in session.points("a")}
    for _ in range(300):
        point_id = rng.randrange(60)
        if rng.random() < 0.3:
            session.replace_point("a", point_id, None)
            expected.pop(point_id, None)
        else:
            point = Keypoint(point_id, (rng.random(), rng.random()))
            session.replace_point("a", point_id, point)
            expected[point_id] = point
        listed = session.points("a")
        assert [p.id for p in listed] == sorted(expected)
        assert all(p is expected[p.id] for p in listed)


def test_a_caller_changing_its_list_changes_nothing_in_the_session():
    session = Session()
    session.set_points("a", [Keypoint(1, (0.0, 0.0)), Keypoint(0, (1.0, 1.0))])
    listed = session.points("a")
    listed.clear()
    assert [p.id for p in session.points("a")] == [0, 1]
    session.set_points("a", [Keypoint(5, (0.0, 0.0))])  # a new list replaces the kept order
    assert [p.id for p in session.points("a")] == [5]
    assert session.points("b") == []
