"""Miniature datasets in the exact released layouts, with real file formats, for tests and benchmarks.

Image pairs are synthetic *views* of one base picture: each view is a crop of the base resized
to its own size, so a point on the base has a known position in every view and the ground truth
is exact (in pixel-centre coordinates, (0, 0) the centre of the top-left pixel). The writers
lay pairs out as SPair-71k (JSON + JPEG), PF-Pascal (csv + .mat via ``scipy.io.savemat`` + JPEG),
PF-Willow (csv + PNG) and the project's sd-correspondence export.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from engine.export import CorrespondenceDocument, ImageRef, Keypoint, PairRecord
from engine.prompts.categories import PFPASCAL_CATEGORIES
from tests.conftest import DEMO_SOURCE, DEMO_TARGET

BASES = {"cat": DEMO_TARGET, "person": DEMO_SOURCE}


@dataclass
class View:
    """An image made from a crop ``box`` (continuous base coordinates) resized to ``rgb``'s size."""

    name: str
    rgb: np.ndarray
    box: tuple[float, float, float, float]

    def from_base(self, xy: np.ndarray) -> np.ndarray:
        """Base pixel-centre coordinates -> this view's pixel-centre coordinates."""
        x0, y0, x1, y1 = self.box
        height, width = self.rgb.shape[:2]
        scale = np.array([width / (x1 - x0), height / (y1 - y0)])
        return (np.asarray(xy, dtype=np.float64) + 0.5 - np.array([x0, y0])) * scale - 0.5


@dataclass
class Pair:
    """A pair with ground truth, ready to be written in any layout."""

    category: str
    source: View
    target: View
    source_points: np.ndarray
    target_points: np.ndarray
    source_bbox: tuple[float, float, float, float]
    target_bbox: tuple[float, float, float, float]
    extra: dict = field(default_factory=dict)


def synthetic_pairs(
    categories: tuple[str, ...] = ("cat", "person"),
    images_per_category: int = 3,
    points: int = 6,
    sizes: tuple[int, int] = (96, 160),
    seed: int = 0,
) -> list[Pair]:
    """Pairs (i, j), i < j, of ``images_per_category`` views per category.

    All views of a category show the same ``points`` base keypoints and object box, so an image
    has the same annotation in every pair it is part of (as PF-Pascal's per-image .mat files need).
    """
    rng = np.random.default_rng(seed)
    pairs = []
    for category in categories:
        base = np.asarray(Image.open(BASES[category]).convert("RGB"))
        views = [_view(base, rng, f"{category}_{index:03d}", sizes) for index in range(images_per_category)]
        # The object: the part of the base every view shows, inset so points stay well inside.
        low = np.max([view.box[:2] for view in views], axis=0)
        high = np.min([view.box[2:] for view in views], axis=0)
        inset = 0.15 * (high - low)
        low, high = low + inset, high - inset - 1
        base_points = rng.uniform(low, high, size=(points, 2))
        corners = np.array([low, high])
        for i in range(len(views)):
            for j in range(i + 1, len(views)):
                source, target = views[i], views[j]
                pairs.append(
                    Pair(
                        category,
                        source,
                        target,
                        source.from_base(base_points),
                        target.from_base(base_points),
                        _bbox(source.from_base(corners)),
                        _bbox(target.from_base(corners)),
                    )
                )
    return pairs


def _view(base: np.ndarray, rng: np.random.Generator, name: str, sizes: tuple[int, int]) -> View:
    height, width = base.shape[:2]
    crop_w, crop_h = rng.uniform(0.75, 0.9) * width, rng.uniform(0.75, 0.9) * height
    x0, y0 = rng.uniform(0, width - crop_w), rng.uniform(0, height - crop_h)
    box = (x0, y0, x0 + crop_w, y0 + crop_h)
    size = (int(rng.integers(*sizes)), int(rng.integers(*sizes)))
    rgb = np.asarray(Image.fromarray(base).resize(size, Image.BILINEAR, box=box))
    return View(name, rgb, box)


def _bbox(corners: np.ndarray) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in np.round(corners.reshape(-1), 1))  # type: ignore[return-value]


def _save(rgb: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


# ---- SPair-71k ----


def write_spair(root: Path, pairs: list[Pair], split: str = "test") -> Path:
    """``root/SPair-71k`` with ``Layout/large/{split}.txt``, ``PairAnnotation/{split}`` and ``JPEGImages``."""
    folder = root / "SPair-71k"
    lines = []
    for index, pair in enumerate(pairs):
        for view in (pair.source, pair.target):
            _save(view.rgb, folder / "JPEGImages" / pair.category / f"{view.name}.jpg")
        line = f"{index + 1:06d}-{pair.source.name}-{pair.target.name}:{pair.category}"
        lines.append(line)
        annotation = {
            "pair_id": index + 1,
            "src_imname": f"{pair.source.name}.jpg",
            "trg_imname": f"{pair.target.name}.jpg",
            "src_imsize": [pair.source.rgb.shape[1], pair.source.rgb.shape[0], 3],
            "trg_imsize": [pair.target.rgb.shape[1], pair.target.rgb.shape[0], 3],
            "src_bndbox": list(pair.source_bbox),
            "trg_bndbox": list(pair.target_bbox),
            "category": pair.category,
            "src_kps": pair.source_points.tolist(),
            "trg_kps": pair.target_points.tolist(),
            "kps_ids": [str(k) for k in range(len(pair.source_points))],
            "viewpoint_variation": 0,
            "scale_variation": 0,
            "truncation": 0,
            "occlusion": 0,
            **pair.extra,
        }
        path = folder / "PairAnnotation" / split / f"{line}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(annotation))
    layout = folder / "Layout" / "large" / f"{split}.txt"
    layout.parent.mkdir(parents=True, exist_ok=True)
    layout.write_text("".join(f"{line}\n" for line in lines))
    return folder


# ---- PF-Pascal ----


def write_pfpascal(root: Path, pairs: list[Pair], split: str = "test", flips: list[int] | None = None) -> Path:
    """``root/pf-pascal`` with ``{split}_pairs.csv`` (plus ``flip`` when given) and ``PF-dataset-PASCAL``.

    Each image's .mat holds the points of its pair (``kps``, NaN rows allowed) and ``bbox`` (1 x 4).
    """
    folder = root / "pf-pascal"
    header = ["source_image", "target_image", "class"] + (["flip"] if flips is not None else [])
    rows = []
    for index, pair in enumerate(pairs):
        for view, points, bbox in (
            (pair.source, pair.source_points, pair.source_bbox),
            (pair.target, pair.target_points, pair.target_bbox),
        ):
            _save(view.rgb, folder / "PF-dataset-PASCAL" / "JPEGImages" / f"{view.name}.jpg")
            mat = folder / "PF-dataset-PASCAL" / "Annotations" / pair.category / f"{view.name}.mat"
            mat.parent.mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(
                mat, {"kps": np.asarray(points, dtype=np.float64), "bbox": np.array([bbox], dtype=np.float64)}
            )
        row = [
            f"PF-dataset-PASCAL/JPEGImages/{pair.source.name}.jpg",
            f"PF-dataset-PASCAL/JPEGImages/{pair.target.name}.jpg",
            str(PFPASCAL_CATEGORIES.index(pair.category) + 1),
        ]
        rows.append(row + ([str(flips[index])] if flips is not None else []))
    _write_csv(folder / f"{split}_pairs.csv", header, rows)
    return folder


# ---- PF-Willow ----


def write_pfwillow(root: Path, pairs: list[Pair], subclasses: dict[str, str] | None = None) -> Path:
    """``root/pf-willow`` with ``test_pairs.csv`` (10 points a pair) and ``PF-dataset/{subclass}/*.png``."""
    folder = root / "pf-willow"
    subclasses = subclasses or {"cat": "car(G)", "person": "motorbike(M)"}
    header = ["imageA", "imageB"] + [f"{axis}{image}{k}" for image in "AB" for axis in "XY" for k in range(1, 11)]
    rows = []
    for pair in pairs:
        subclass = subclasses[pair.category]
        names = []
        for view in (pair.source, pair.target):
            _save(view.rgb, folder / "PF-dataset" / subclass / f"{view.name}.png")
            names.append(f"PF-dataset/{subclass}/{view.name}.png")
        points = [pair.source_points, pair.target_points]
        assert all(len(p) == 10 for p in points), "PF-Willow pairs have exactly 10 points"
        rows.append(names + [f"{v:.4f}" for p in points for v in np.concatenate([p[:, 0], p[:, 1]])])
    _write_csv(folder / "test_pairs.csv", header, rows)
    return folder


# ---- sd-correspondence export ----


def write_export(
    path: Path, pairs: list[Pair], statuses: list[list[str]] | None = None, with_bbox: bool = True
) -> Path:
    """An sd-correspondence file; ``statuses[i][k]`` is keypoint k's status in pair i (default "corrected").

    Images are written as PNG beside the file. Status "hidden" means "corrected" with visibility 0.
    """
    records = []
    for index, pair in enumerate(pairs):
        refs = []
        for view, bbox in ((pair.source, pair.source_bbox), (pair.target, pair.target_bbox)):
            image_path = _save(view.rgb, path.parent / "images" / f"{view.name}.png")
            height, width = view.rgb.shape[:2]
            refs.append(ImageRef(image_path, width, height, bbox_xyxy=bbox if with_bbox else None))
        keypoints = []
        for k, (src, trg) in enumerate(zip(pair.source_points, pair.target_points, strict=True)):
            status = statuses[index][k] if statuses is not None else "corrected"
            visibility = 0 if status == "hidden" else 2
            keypoints.append(
                Keypoint(
                    id=k,
                    src_xy=(float(src[0]), float(src[1])),
                    trg_xy=(float(trg[0]), float(trg[1])),
                    status="corrected" if status == "hidden" else status,
                    visibility=visibility,
                )
            )
        records.append(PairRecord(f"pair-{index}", refs[0], refs[1], pair.category, keypoints))
    CorrespondenceDocument(pairs=records).save(path)
    return path


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def literal_pair(
    category: str,
    names: tuple[str, str],
    source_points: list,
    target_points: list,
    bboxes: tuple = ((1.0, 2.0, 30.0, 20.0), (3.0, 4.0, 40.0, 25.0)),
    sizes: tuple[tuple[int, int], tuple[int, int]] = ((48, 32), (64, 40)),
) -> Pair:
    """A pair with hand-written points and boxes on small random images of ``(width, height)``."""
    rng = np.random.default_rng(len(names[0]) + len(names[1]))
    views = [
        View(name, rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0.0, 0.0, width, height))
        for name, (width, height) in zip(names, sizes, strict=True)
    ]
    return Pair(category, views[0], views[1], np.array(source_points, float), np.array(target_points, float), *bboxes)
