"""ListMemo: per-point values kept between calls, mapped again only where the list changed."""

from __future__ import annotations

import dataclasses

from engine.export.document import Keypoint
from sd4match_gui.model.list_memo import ListMemo


def test_only_changed_points_are_mapped_and_the_values_match_a_full_map():
    points = [Keypoint(i, (float(i), 0.0)) for i in range(10)]
    memo, mapped = ListMemo(), []

    def make(point: Keypoint) -> tuple[int, float]:
        mapped.append(point.id)
        return (point.id, point.src_xy[0])

    assert memo.map(points, "a", make) == [make(p) for p in points]
    mapped.clear()
    cases = [
        [*points, Keypoint(10, (10.0, 0.0))],  # a click: one new point at the end
        [*points[:4], dataclasses.replace(points[4], src_xy=(40.0, 0.0)), *points[5:]],  # one moved
        [*points[:3], *points[4:]],  # one removed in the middle
        [*points[:3], Keypoint(20, (0.0, 0.0)), *points[3:]],  # one put back in the middle
    ]
    for case in cases:
        memo.map(points, "a", make)  # each case changes the same list
        mapped.clear()
        values = memo.map(case, "a", make)
        assert values == [(p.id, p.src_xy[0]) for p in case]
        assert len(mapped) <= 1  # one edit: at most the one point mapped
    mapped.clear()
    assert memo.map(points, "b", make) == [(p.id, p.src_xy[0]) for p in points]  # other shared inputs: all again
    assert mapped == [p.id for p in points]


def test_a_caller_changing_the_returned_list_changes_nothing_kept():
    points = [Keypoint(i, (float(i), 0.0)) for i in range(3)]
    memo = ListMemo()
    values = memo.map(points, True, lambda p: p.id)
    values[0] = 99
    assert memo.map(points, True, lambda p: -1) == [0, 1, 2]
