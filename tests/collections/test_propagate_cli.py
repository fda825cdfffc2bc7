"""``sd4match propagate`` end to end: equal to ``match``, skipped images, resume, COCO, processes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import engine.collections.propagate as propagate_command
from engine.cli import main
from engine.export import CorrespondenceDocument
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, REPO, TEST_SIZE

POINTS = np.array([[200.0, 180.0], [300.0, 200.5], [0.0, 0.0], [123.456789, 411.1]])
LABELS = ["head", "left hand", "corner", "knee"]
SIFT = ["--backend", "sift", "--size", str(TEST_SIZE)]


def points_text(points: np.ndarray = POINTS) -> str:
    return ";".join(f"{x!r},{y!r}" for x, y in points.tolist())  # repr: the exact float64 values


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    """Four target images: the demo target and three edits of the demo images."""
    folder = tmp_path_factory.mktemp("targets")
    source, target = Image.open(DEMO_SOURCE).convert("RGB"), Image.open(DEMO_TARGET).convert("RGB")
    target.save(folder / "a_hopper.png")
    source.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "b_flipped.png")
    source.crop((40, 20, 480, 500)).save(folder / "c_crop.png")
    target.resize((300, 360)).save(folder / "d_small.jpg")
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """An sd-correspondence template (written by `match`) with its own ids and labels."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.json"
    assert (
        main(["match", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", points_text(), "--out", str(path), *SIFT]) == 0
    )
    data = json.loads(path.read_text())
    for index, keypoint in enumerate(data["pairs"][0]["keypoints"]):
        keypoint["id"], keypoint["label"] = 10 + index, LABELS[index]
    path.write_text(json.dumps(data))
    return path


def run_propagate(template, targets, out, *extra: str) -> int:
    return main(["propagate", str(template), *map(str, targets), "--out", str(out), *extra])


def deterministic(path) -> dict:
    data = json.loads(path.read_text())
    for pair in data["pairs"]:
        for keypoint in pair["keypoints"]:
            keypoint.pop("updated_at")
    return {"runs": data["runs"], "pairs": data["pairs"]}


def tiny_args(sd, dinov2, prompts) -> list[str]:
    return [
        "--model", str(sd), "--dinov2", str(dinov2), "--prompts", str(prompts), "--backend", "sd",
        "--device", "cpu", "--dtype", "float32", "--size", str(TEST_SIZE), "--ensemble", "1", "--variant", "single",
    ]  # fmt: skip


@pytest.mark.parametrize("backend", ["sift", "sd"])
def test_predictions_are_bit_for_bit_those_of_match(
    template, targets, tmp_path, backend, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir
):
    options = SIFT if backend == "sift" else tiny_args(tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir)
    images = sorted(targets.iterdir())[:2] if backend == "sd" else sorted(targets.iterdir())
    assert run_propagate(template, [targets] if backend == "sift" else images, tmp_path / "out.json", *options) == 0
    collection = json.loads((tmp_path / "out.json").read_text())
    assert collection["schema_version"] == "1.1.0" and len(collection["pairs"]) == len(images)
    for image, pair in zip(images, collection["pairs"], strict=True):
        assert pair["pair_id"] == f"astronaut.jpg-{image.name}"
        out = tmp_path / f"match-{image.stem}.json"
        assert (
            main(["match", str(DEMO_SOURCE), str(image), "--points", points_text(), "--out", str(out), *options]) == 0
        )
        (matched,) = json.loads(out.read_text())["pairs"]
        assert [k["id"] for k in pair["keypoints"]] == [10, 11, 12, 13]
        assert [k["label"] for k in pair["keypoints"]] == LABELS
        for mine, theirs in zip(pair["keypoints"], matched["keypoints"], strict=True):
            assert mine["src_xy"] == theirs["src_xy"] and mine["trg_xy"] == theirs["trg_xy"]
            (prediction,) = mine["predictions"]
            cycle = prediction.pop("cycle_error")
            assert prediction == theirs["predictions"][0]  # xy and confidence, bit for bit
            assert isinstance(cycle, float) and cycle >= 0
        assert pair["source"]["sha256"] == matched["source"]["sha256"]
        assert pair["target"] == matched["target"] | {"path": pair["target"]["path"]}
    assert collection["runs"][0] == json.loads(out.read_text())["runs"][0]
    CorrespondenceDocument.load(tmp_path / "out.json")  # the reader takes the new optional field


def test_images_that_fail_to_load_are_skipped_and_the_exit_status_says_so(template, targets, tmp_path, capsys):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "empty.png").write_bytes(b"")
    good = targets / "c_crop.png"
    code = run_propagate(template, [tmp_path / "broken.jpg", good, tmp_path / "empty.png"], tmp_path / "o.json", *SIFT)
    assert code == 1
    err = capsys.readouterr().err
    assert "skipped broken.jpg" in err and "skipped empty.png" in err
    assert "could not read broken.jpg, empty.png" in err
    pairs = json.loads((tmp_path / "o.json").read_text())["pairs"]
    assert [pair["pair_id"] for pair in pairs] == ["astronaut.jpg-c_crop.png"]
    assert run_propagate(template, [good], tmp_path / "o.json", *SIFT) == 0  # nothing failed: status 0


def test_resume_after_a_hard_kill_computes_only_unsaved_images(template, targets, tmp_path, monkeypatch):
    killer = tmp_path / "killed_run.py"
    killer.write_text(
        textwrap.dedent(
            """
            import os, sys
            import engine.collections.propagate as command  # run() imports propagate_to from here
            real, calls = command.propagate_to, []
            def dying(*args):
                calls.append(1)
                if len(calls) == 3:
                    os._exit(9)
                return real(*args)
            command.propagate_to = dying
            from engine.cli import main
            raise SystemExit(main(sys.argv[1:]))
            """
        )
    )
    args = ["propagate", str(template), str(targets), "--out", str(tmp_path / "run" / "c.json"), *SIFT]
    killed = subprocess.run(
        [sys.executable, str(killer), *args, "--save-every", "1"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == 9, killed.stderr
    assert not (tmp_path / "run" / "c.json").exists()

    real, computed = propagate_command.propagate_to, []

    def counting(matcher, template, template_image, target, *rest):
        computed.append(target.name)
        return real(matcher, template, template_image, target, *rest)

    monkeypatch.setattr(propagate_command, "propagate_to", counting)
    assert main(args) == 0
    assert computed == ["c_crop.png", "d_small.jpg"]  # the first two were saved before the kill
    computed.clear()
    assert run_propagate(template, [targets], tmp_path / "fresh" / "c.json", *SIFT) == 0
    assert len(computed) == 4
    assert deterministic(tmp_path / "run" / "c.json") == deterministic(tmp_path / "fresh" / "c.json")


def coco_template(tmp_path) -> tuple:
    """A COCO person file whose first annotated image is the demo source, with 3 of 17 points placed."""
    from engine.collections.schema import COCO_PERSON

    keypoints = [0.0] * 51
    placed = {0: (200.0, 180.0, 2), 5: (300.0, 200.5, 1), 16: (250.0, 400.0, 2)}
    for slot, values in placed.items():
        keypoints[3 * slot : 3 * slot + 3] = values
    coco = {
        "images": [{"id": 7, "file_name": str(DEMO_SOURCE), "width": 512, "height": 512}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "keypoints": [0] * 51, "num_keypoints": 0},
            {"id": 2, "image_id": 7, "category_id": 1, "keypoints": keypoints, "num_keypoints": 3},
        ],
        "categories": [COCO_PERSON.to_dict() | {"id": 1, "skeleton": COCO_PERSON.coco_skeleton()}],
    }
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps(coco))
    return path, placed


def test_coco_template_and_coco_export(targets, tmp_path):
    template, _ = coco_template(tmp_path)
    images = [targets / "a_hopper.png", targets / "d_small.jpg"]
    out, coco_path = tmp_path / "out" / "people.json", tmp_path / "out" / "people_coco.json"
    assert run_propagate(template, images, out, "--coco", str(coco_path), *SIFT) == 0
    pairs = json.loads(out.read_text())["pairs"]
    assert [k["id"] for k in pairs[0]["keypoints"]] == [0, 5, 16]
    assert [k["label"] for k in pairs[0]["keypoints"]] == ["nose", "left_shoulder", "right_ankle"]

    coco = json.loads(coco_path.read_text())
    files = [(coco_path.parent / image["file_name"]).resolve() for image in coco["images"]]
    assert files == [DEMO_SOURCE.resolve(), *(path.resolve() for path in images)]  # relative to the COCO file
    assert [image["id"] for image in coco["images"]] == [1, 2, 3]
    assert [(image["width"], image["height"]) for image in coco["images"]] == [(512, 512), (512, 600), (300, 360)]
    (category,) = coco["categories"]
    assert category["keypoints"][0] == "nose" and len(category["keypoints"]) == 17
    assert category["skeleton"][0] == [16, 14] and len(category["skeleton"]) == 19
    annotations = coco["annotations"]
    assert [a["image_id"] for a in annotations] == [1, 2, 3] and len({a["id"] for a in annotations}) == 3
    own = annotations[0]["keypoints"]
    assert own[0:3] == [200.0, 180.0, 2] and own[15:18] == [300.0, 200.5, 1] and own[48:51] == [250.0, 400.0, 2]
    assert own[3:15] == [0] * 12  # unplaced names keep their slot, v = 0
    assert annotations[0]["bbox"] == [200.0, 180.0, 100.0, 220.0]  # extent of the three points
    for annotation, pair in zip(annotations[1:], pairs, strict=True):
        flat = np.array(annotation["keypoints"]).reshape(17, 3)
        assert annotation["num_keypoints"] == 3 == int((flat[:, 2] > 0).sum())
        predicted = np.array([k["trg_xy"] for k in pair["keypoints"]])
        np.testing.assert_allclose(flat[[0, 5, 16], :2], predicted, atol=0.005)
        x, y, w, h = annotation["bbox"]
        low, extent = predicted.min(axis=0), np.ptp(predicted, axis=0)
        assert [x, y] == pytest.approx(low, abs=0.01) and [w, h] == pytest.approx(extent, abs=0.02)
        assert annotation["area"] == pytest.approx(w * h, abs=0.01) and annotation["iscrowd"] == 0


def test_coco_export_loads_in_pycocotools(targets, tmp_path):
    coco_module = pytest.importorskip("pycocotools.coco")
    template, _ = coco_template(tmp_path)
    coco_path = tmp_path / "c.json"
    assert run_propagate(template, [targets], tmp_path / "o.json", "--coco", str(coco_path), *SIFT) == 0
    dataset = coco_module.COCO(str(coco_path))
    annotations = dataset.loadAnns(dataset.getAnnIds(catIds=dataset.getCatIds(catNms=["person"])))
    assert len(annotations) == 5 and all(len(a["keypoints"]) == 51 for a in annotations)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing target", "target '{tmp}/nowhere.jpg' does not exist"),
        ("empty folder", "folder '{tmp}/empty' holds no images"),
        ("template not json", "is not valid JSON"),
        ("template of another kind", "neither an sd-correspondence / session file nor a COCO keypoints file"),
        ("point outside", "outside the template image 'astronaut.jpg'"),
        ("out is a folder", "--out: cannot write '{tmp}': it is a directory"),
        ("learned prompt missing", "no learned 'class' prompt for set 'spair'"),
        ("only the template", "no target images besides the template image"),
    ],
)
def test_errors_come_before_any_model_loads(template, targets, tmp_path, capsys, case, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "plain.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{")
    outside = json.loads(template.read_text())
    outside["pairs"][0]["keypoints"][0]["src_xy"] = [600.0, 10.0]
    (tmp_path / "outside.json").write_text(json.dumps(outside))
    template_file, target, out = template, targets / "c_crop.png", tmp_path / "o.json"
    if case == "missing target":
        target = tmp_path / "nowhere.jpg"
    elif case == "empty folder":
        target = tmp_path / "empty"
    elif case == "template not json":
        template_file = tmp_path / "broken.json"
    elif case == "template of another kind":
        template_file = tmp_path / "plain.json"
    elif case == "point outside":
        template_file = tmp_path / "outside.json"
    elif case == "out is a folder":
        out = tmp_path
    elif case == "only the template":
        target = DEMO_SOURCE
    variant = ["--variant", "class"] if case == "learned prompt missing" else []
    # SD with weights that do not exist: a model load would fail with a weights message instead.
    sd = ["--backend", "sd", "--model", str(tmp_path / "no-weights"), *variant]
    code = run_propagate(template_file, [target], out, *sd)
    assert code == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert not out.is_file()


@pytest.mark.skipif(importlib.util.find_spec("accelerate") is None, reason="accelerate is not installed")
def test_two_processes_under_accelerate_launch_give_the_single_process_result(template, targets, tmp_path):
    launch = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        "-m", "engine",
    ]  # fmt: skip
    environment = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    for command, out in ((launch, "two.json"), ([sys.executable, "-m", "engine"], "one.json")):
        args = ["propagate", str(template), str(targets), "--out", str(tmp_path / out), *SIFT]
        done = subprocess.run([*command, *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    parts = sorted(path.name[:9] for path in (tmp_path / "two_resume").glob("parts/*/part-*.json"))
    assert parts == ["part-p000", "part-p001"]  # each process saved its block
    assert deterministic(tmp_path / "two.json") == deterministic(tmp_path / "one.json")
