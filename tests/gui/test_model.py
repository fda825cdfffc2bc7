"""The Qt-free state model: edits and undo, run records, comparisons, pair lists, session files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from engine import FeatureSettings, LocalisationSettings, PromptSpec
from engine.errors import DocumentError
from engine.export.document import ImageRef, Keypoint, Prediction
from sd4match_gui.model import datasets
from sd4match_gui.model.comparison import comparison_rows, errors, pck, pck_by_alpha, pck_threshold, references
from sd4match_gui.model.pairs import GroundTruth, PairEntry
from sd4match_gui.model.runs import RunRegistry
from sd4match_gui.model.session import Session
from sd4match_gui.model.session_file import import_document, load_session, save_session, to_document
from sd4match_gui.model.settings import CompareSettings, SessionSettings, TunedPrompt
from sd4match_gui.model.tuning import default_set_name, session_points
from tests.conftest import DEMO_SOURCE, DEMO_TARGET


def demo_session() -> Session:
    session = Session()
    session.set_pairs(datasets.pairs_from_images(DEMO_SOURCE, DEMO_TARGET))
    for path, (width, height) in ((DEMO_SOURCE, (512, 512)), (DEMO_TARGET, (512, 600))):
        session.images[path.resolve()] = ImageRef(path.resolve(), width, height, "digest")
    return session


def add(session: Session, xy: tuple[float, float]) -> Keypoint:
    point = Keypoint(id=session.next_point_id(), src_xy=xy)
    session.edit("add", point)
    return point


class TestEditsAndHistory:
    def test_add_correct_delete_undo_redo(self):
        session = demo_session()
        first = add(session, (10, 20))
        add(session, (30, 40))
        session.edit("correct", first.corrected((5, 6)))
        session.edit("delete", None, before_id=1)
        assert [p.id for p in session.points()] == [0]
        assert session.point(0).status == "corrected" and session.point(0).trg_xy == (5, 6)

        assert session.undo() is not None  # the deletion
        assert [p.id for p in session.points()] == [0, 1] and session.selected == 1
        session.undo()  # the correction
        assert session.point(0).status == "predicted" and session.point(0).trg_xy is None
        session.redo()
        assert session.point(0).trg_xy == (5, 6)
        session.undo()
        add(session, (1, 1))  # a new edit discards the redo branch
        assert session.redo() is None

    def test_moving_the_source_drops_predictions(self):
        session = demo_session()
        point = add(session, (10, 20)).with_prediction(Prediction("r1", (3, 4), 0.5), primary=True)
        session.replace_point(session.pair.pair_id, point.id, point)
        assert session.point(0).trg_xy == (3, 4)
        session.move_point(0, (11, 21))
        moved = session.point(0)
        assert moved.src_xy == (11, 21) and moved.trg_xy is None and moved.predictions == ()

    def test_primary_prediction_does_not_overwrite_an_approved_target(self):
        point = Keypoint(0, (1, 1)).corrected((9, 9))
        updated = point.with_prediction(Prediction("r2", (2, 2), 0.9), primary=True)
        assert updated.trg_xy == (9, 9) and updated.prediction("r2").xy == (2, 2)

    def test_undo_reopens_the_pair_of_the_edit(self, tmp_path):
        session = Session()
        session.set_pairs(
            [
                PairEntry("a", tmp_path / "1.jpg", tmp_path / "2.jpg"),
                PairEntry("b", tmp_path / "3.jpg", tmp_path / "4.jpg"),
            ]
        )
        add(session, (1, 1))
        session.go_to(1)
        session.undo()
        assert session.current_index == 0 and session.points() == []


def test_run_registry_gives_equal_details_one_id():
    runs = RunRegistry()
    first = runs.register({"backend": "sift", "features": {"size": 256}})
    assert runs.register({"features": {"size": 256}, "backend": "sift"}) == first
    runs.restore("r2", {"backend": "sd"})
    assert runs.register({"backend": "x"}) == "r3"


class TestComparison:
    def test_spread_needs_two_predictions(self):
        point = Keypoint(0, (1, 1), predictions=(Prediction("r1", (10, 10), 0.9),))
        [row] = comparison_rows([point], {"a": "r1", "b": "r2"}, (200, 100), {})
        assert row.spread_px is None and row.cells["a"].error is None

    def test_rows_errors_and_pck(self):
        point = Keypoint(0, (1, 1), predictions=(Prediction("r1", (10, 10), 0.9),
                                                       Prediction("r2", (13, 14), 0.4)))  # fmt: skip
        rows = comparison_rows([point], {"a": "r1", "b": "r2"}, (200, 100), {0: (10, 10)})
        row = rows[0]
        assert row.spread_px == pytest.approx(5.0) and row.spread_fraction == pytest.approx(5.0 / 200)
        assert row.cells["a"].error == 0 and row.cells["b"].error == pytest.approx(5.0)
        threshold = pck_threshold(PairEntry("p", Path("a"), Path("b"), target_bbox=(0, 0, 40, 30)), (200, 100))
        assert threshold == 40
        assert pck(rows, "b", threshold, 0.1) == 0.0 and pck(rows, "b", threshold, 0.15) == 1.0
        assert pck(rows, "missing", threshold, 0.1) is None

    def test_theta_follows_the_datasets_rule(self):
        truth = (GroundTruth((0, 0), (10, 20), "1"), GroundTruth((5, 5), (110, 60), "2"))
        bbox = (0, 0, 40, 30)

        def theta(threshold):
            return pck_threshold(PairEntry("p", Path("a"), Path("b"), None, None, bbox, truth, threshold), (200, 100))

        assert theta("bbox") == 40  # SPair-71k: longer side of the target box
        assert theta("image") == 200  # PF-Pascal: longer image side, although the pair has a box
        assert theta("points") == 100  # PF-Willow: x extent 10..110 beats y extent 20..60
        assert theta(None) == 40  # not from a dataset: the box when known ...
        assert pck_threshold(PairEntry("p", Path("a"), Path("b")), (200, 100)) == 200  # ... else the image

    def test_references_are_ground_truth_else_approved_targets(self):
        pair = PairEntry("p", Path("a"), Path("b"), ground_truth=(GroundTruth((1, 2), (30, 40), "1"),))
        points = [
            Keypoint(0, (1, 2), (99, 99)),  # a dataset keypoint: its ground truth wins
            Keypoint(1, (5, 5), (7, 8), status="corrected"),
            Keypoint(2, (6, 6), (9, 9), status="accepted"),
            Keypoint(3, (7, 7), (1, 1)),  # predicted: nobody vouched for it
            Keypoint(4, (8, 8), (2, 2), status="rejected"),
        ]
        assert references(pair, points) == {0: (30, 40), 1: (7, 8), 2: (9, 9)}

    def test_ground_truth_references_are_moved_into_the_image_as_the_official_evaluator_does(self):
        """PF-Willow's y = 139.26 in a 140 px high image, a point past the left border, one inside."""
        truth = (GroundTruth((1, 1), (50.0, 139.26), "1"), GroundTruth((2, 2), (-3.0, 0.0), "2"))
        pair = PairEntry("p", Path("a"), Path("b"), ground_truth=(*truth, GroundTruth((3, 3), (5.5, 6.5), "3")))
        points = [Keypoint(i, (i + 1, i + 1)) for i in range(3)]
        clamped = references(pair, points, (200, 140))
        assert clamped[0] == (50.0, 139 - 1e-4) and clamped[1] == (1e-4, 1e-4) and clamped[2] == (5.5, 6.5)

    def test_pck_by_alpha_counts_points_exactly_at_the_threshold(self):
        points = [
            Keypoint(i, (i, i), predictions=(Prediction("r1", (100.0, 100.0 + error), 0.5),))
            for i, error in enumerate((5.0, 10.0, 20.0, 30.0))
        ]
        rows = comparison_rows(points, {"a": "r1"}, (200, 100), {i: (100.0, 100.0) for i in range(4)})
        assert errors(rows, "a") == {0: 5.0, 1: 10.0, 2: 20.0, 3: 30.0}
        assert pck_by_alpha(rows, "a", 200.0) == {0.05: 0.5, 0.1: 0.75}  # 10 <= 0.05 * 200 and 20 <= 0.1 * 200


class TestPairLists:
    def test_folder_pairs_each_image_with_the_next(self, tmp_path):
        for name in ("b.png", "a.jpg", "c.jpeg", "notes.txt"):
            (tmp_path / name).write_bytes(b"x")
        pairs = datasets.pairs_from_folder(tmp_path)
        assert [(p.source.name, p.target.name) for p in pairs] == [("a.jpg", "b.png"), ("b.png", "c.jpeg")]

    def test_pair_list_with_header_comments_and_categories(self, tmp_path):
        (tmp_path / "pairs.csv").write_text("source,target,category\n# comment\nx/1.jpg, x/2.jpg, cat\n3.png 4.png\n")
        pairs = datasets.pairs_from_folder(tmp_path)  # a folder's pairs.csv wins over its images
        assert [(p.source, p.category) for p in pairs] == [
            ((tmp_path / "x/1.jpg").resolve(), "cat"),
            ((tmp_path / "3.png").resolve(), None),
        ]

    def test_a_benchmark_split_becomes_pairs_with_ground_truth(self, spair_root):
        assert datasets.dataset_kind(spair_root) == "spair" and datasets.dataset_kind(spair_root.parent) == "spair"
        [pair], mirrored = datasets.pairs_from_dataset(datasets.DatasetRef("spair", spair_root, "test"))
        assert mirrored == 0 and pair.category == "person"
        assert pair.target_bbox == (150.0, 100.0, 400.0, 560.0)
        assert [g.label for g in pair.ground_truth] == ["3", "7", "12"]  # SPair's keypoint ids
        assert pair.ground_truth[1].trg_xy == (330.0, 250.0)
        assert [p.src_xy for p in datasets.ground_truth_points(pair)] == [g.src_xy for g in pair.ground_truth]

    def test_bad_inputs_raise_user_errors(self, tmp_path):
        (tmp_path / "one.jpg").write_bytes(b"x")
        with pytest.raises(Exception, match="a pair needs at least two"):
            datasets.pairs_from_folder(tmp_path)
        assert datasets.dataset_kind(tmp_path) is None
        with pytest.raises(DocumentError, match="not a SPair-71k folder"):
            datasets.pairs_from_dataset(datasets.DatasetRef("spair", tmp_path, "test"))


class TestSessionFiles:
    def make(self) -> Session:
        session = demo_session()
        session.settings = SessionSettings(
            prompt=PromptSpec("text", category="person"),
            features=FeatureSettings(backend="sift", size=256),
            localisation=LocalisationSettings("argmax"),
            compare=CompareSettings("sift,empty", ("empty",), True, (TunedPrompt("class", "birds", "bird"),)),
        )
        run = session.runs.register({"backend": "sift"})
        point = add(session, (100.5, 200.25)).with_prediction(Prediction(run, (50, 60), 0.25), primary=True)
        session.replace_point(session.pair.pair_id, 0, point)
        session.edit("correct", point.corrected((51, 61)))
        add(session, (10, 10))
        return session

    def test_round_trip_keeps_points_settings_and_relative_paths(self, tmp_path):
        session = self.make()
        path = tmp_path / "sub" / "work.json"
        save_session(session, path)
        data = json.loads(path.read_text())
        assert data["schema"] == "sd-correspondence" and not Path(data["session"]["pairs"][0]["source"]).is_absolute()
        assert data["pairs"][0]["source"]["path"] == data["session"]["pairs"][0]["source"]
        loaded = load_session(path)
        assert loaded.settings == session.settings
        assert loaded.points() == session.points()
        assert loaded.pairs == session.pairs and loaded.selected == session.selected
        assert loaded.runs.items() == session.runs.items()

    def test_import_renumbers_runs_and_replaces_points(self, tmp_path):
        exported = self.make()
        path = tmp_path / "export.json"
        to_document(exported).save(path)
        target = demo_session()
        target.runs.register({"backend": "sd", "other": True})  # takes r1, so the import's r1 must move
        assert import_document(target, path) == 1
        point = target.point(0)
        assert point.status == "corrected" and point.trg_xy == (51, 61)
        assert point.predictions[0].run_id == "r2" and target.runs.details("r2") == {"backend": "sift"}

    def test_the_session_holds_the_export_records_themselves(self):
        session = self.make()
        keypoints = to_document(session).pairs[0].keypoints
        assert all(type(k) is Keypoint for k in keypoints)
        assert [id(k) for k in keypoints] == [id(p) for p in session.points()]  # no conversion, no copy
        assert session.point(0).number == 1 and keypoints[0].to_dict()["id"] == 0  # 0-based in files

    def test_reopened_points_keep_their_time_and_a_missing_confidence(self, tmp_path):
        path = tmp_path / "work.json"
        save_session(self.make(), path)
        data = json.loads(path.read_text())
        first = data["pairs"][0]["keypoints"][0]
        first["updated_at"] = "2020-01-02T03:04:05Z"
        first["predictions"][0]["confidence"] = None  # another tool wrote none
        path.write_text(json.dumps(data))
        save_session(load_session(path), path)
        again = json.loads(path.read_text())["pairs"][0]["keypoints"][0]
        assert again["updated_at"] == "2020-01-02T03:04:05Z" and again["predictions"][0]["confidence"] is None

    def test_an_edit_is_a_new_value_stamped_now(self):
        point = Keypoint(0, (1.0, 1.0), updated_at="2020-01-02T03:04:05Z")
        with pytest.raises(dataclasses.FrozenInstanceError):
            point.trg_xy = (2.0, 2.0)  # type: ignore[misc]
        corrected = point.corrected((2.0, 2.0))
        assert point.trg_xy is None and corrected.trg_xy == (2.0, 2.0) and corrected.updated_at > point.updated_at
        assert corrected == dataclasses.replace(corrected, updated_at="2020-01-02T03:04:05Z")  # time is not identity

    def test_a_dataset_session_stores_the_split_not_the_pairs(self, spair_root, tmp_path):
        dataset = datasets.DatasetRef("spair", spair_root, "test")
        session = Session()
        session.set_pairs(datasets.pairs_from_dataset(dataset)[0], dataset=dataset)
        path = tmp_path / "work.json"
        save_session(session, path)
        data = json.loads(path.read_text())["session"]
        assert "pairs" not in data and data["dataset"] == {"kind": "spair", "root": "SPair-71k", "split": "test"}
        loaded = load_session(path)
        assert loaded.pairs == session.pairs and loaded.dataset == dataset

    def test_unknown_session_version_is_refused(self, tmp_path):
        path = tmp_path / "s.json"
        save_session(self.make(), path)
        data = json.loads(path.read_text())
        data["session"]["version"] = 99
        path.write_text(json.dumps(data))
        with pytest.raises(DocumentError, match="unsupported session data"):
            load_session(path)


class TestTuning:
    def test_tuned_prompts_follow_the_listed_variants(self):
        tuned = (TunedPrompt("class", "birds", "bird"), TunedPrompt("cpm", "mine"), TunedPrompt("class", "pets"))
        settings = SessionSettings(
            prompt=PromptSpec("empty", category="cat"),
            features=FeatureSettings(backend="sift", size=256),
            compare=CompareSettings("single,empty", tuned=tuned),
        )
        variants = settings.compare_variants()
        assert [v.name for v in variants] == ["single", "empty", "class/birds", "cpm/mine", "class/pets"]
        birds, mine, pets = variants[2:]
        assert (birds.prompt.variant, birds.prompt.prompt_set, birds.prompt.category) == ("class", "birds", "bird")
        assert pets.prompt.category == "cat"  # tuned on several categories: the session's category
        assert (mine.prompt.variant, mine.prompt.prompt_set) == ("cpm", "mine")
        assert mine.settings == variants[0].settings and mine.settings.backend == "sd"  # as the stock prompts
        assert SessionSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings

    def test_session_points_count_what_the_trainer_reads(self):
        session = demo_session()
        for status, visibility in (
            ("corrected", 2),
            ("accepted", 0),
            ("predicted", 2),
            ("rejected", 2),
            ("accepted", 1),
        ):
            point = Keypoint(session.next_point_id(), (10, 10), (20, 20), status=status, visibility=visibility)
            session.edit("add", point)
        found = session_points(session)
        # Counted: corrected and accepted-occluded; not: "not labelled", unchecked predictions, rejected.
        assert (found.pairs, found.points, found.categories) == (1, 2, {"": 1})
        assert found.single_category is None and found.default_batch == 1
        assert len(found.document.pairs[0].keypoints) == 5  # the trainer reads the same document

    def test_default_set_name_is_a_valid_prompt_set_name(self, tmp_path):
        session = demo_session()
        assert default_set_name(session) == "my-prompt"
        session.path = tmp_path / "Birds (2nd try).json"
        assert default_set_name(session) == "Birds-2nd-try"
