"""How much more templates help, and how well the review flag finds wrong predictions (docs/collections.md).

Labelled data built from the demo images with known ground truth: each demo image is warped by
random homographies (rotation, scale, shift and perspective, bilinear resampling, black outside),
and random keypoints of the original are carried through the same homographies. Views 0-4 of an
image serve as templates with their exact keypoints (as reviewed images would), views 5 onward
as targets. Every (template, target) pair is matched once; the choice among templates
(:func:`engine.collections.review.most_trustworthy`) is then applied to every subset of 1, 3 and 5
templates and PCK is averaged over the subsets. The review flag is scored on the single-template
predictions: a prediction is wrong when it misses by more than 0.1 x the target's longer side.

    python -m engine.bench.propagation_quality --backend sift --size 768

Pixels follow the engine's convention ((0, 0) the centre of the top-left pixel) in both the warp
and the points.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..collections.multi_template import LabelledImage, candidates_from_templates
from ..collections.review import Candidate, ReviewThresholds, most_trustworthy
from ..images import LoadedImage, image_from_array, load_image
from ..matcher import Matcher
from ..prompts.spec import PromptSpec
from ..runtime import resolve_runtime
from ..settings import FeatureSettings, LocalisationSettings, ModelSources

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
TEMPLATES = 5
WRONG_ALPHA = 0.1  # a prediction is wrong when its error exceeds this share of the target's longer side
TARGET_RECALL = 0.95  # a reviewer should see nearly every wrong point; extra flags cost only a glance


@dataclass(frozen=True)
class View:
    """A warped copy of a demo image with its ground-truth keypoints (NaN where warped out of view)."""

    name: str
    image: LoadedImage
    points: dict[str, tuple[float, float]]


def homography(points_from: np.ndarray, points_to: np.ndarray) -> np.ndarray:
    """The 3 x 3 homography taking 4 points to 4 points (direct linear transform)."""
    rows = []
    for (x, y), (u, v) in zip(points_from, points_to, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    matrix = np.linalg.svd(np.array(rows))[2][-1].reshape(3, 3)
    return matrix / matrix[2, 2]


def apply(matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    mapped = np.c_[xy, np.ones(len(xy))] @ matrix.T
    return mapped[:, :2] / mapped[:, 2:]


def random_homography(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Rotation up to 15 degrees, scale 0.85-1.15, shift up to 5 % and corner jitter up to 6 %."""
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)
    centre = corners.mean(axis=0)
    angle, scale = np.deg2rad(rng.uniform(-15, 15)), rng.uniform(0.85, 1.15)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = rng.uniform(-0.05, 0.05, 2) * (width, height)
    jitter = rng.uniform(-0.06, 0.06, (4, 2)) * (width, height)
    return homography(corners, (corners - centre) @ rotation.T + centre + shift + jitter)


def warp(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Bilinear warp of ``H x W x 3`` uint8 by ``matrix`` (source -> output pixels, centre convention)."""
    height, width = rgb.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    source = apply(np.linalg.inv(matrix), np.c_[xs.ravel(), ys.ravel()])
    grid = torch.from_numpy(source / [width - 1, height - 1] * 2 - 1).float().reshape(1, height, width, 2)
    image = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]
    warped = torch.nn.functional.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return warped[0].permute(1, 2, 0).round().clamp(0, 255).numpy().astype(np.uint8)


def views_of(path: Path, count: int, keypoints: int, seed: int) -> list[View]:
    """``count`` warped views of one image and its ``keypoints`` random points (inner 80 % of the image)."""
    base = load_image(path)
    rng = np.random.default_rng(seed)
    width, height = base.width, base.height
    points = rng.uniform(0.1, 0.9, (keypoints, 2)) * (width - 1, height - 1)
    names = [f"{path.stem}-{index}" for index in range(keypoints)]
    views = []
    for index in range(count):
        matrix = random_homography(width, height, rng)
        mapped = apply(matrix, points)
        inside = np.all((mapped >= -0.5) & (mapped <= np.array([width, height]) - 0.5), axis=1)
        views.append(
            View(
                f"{path.stem}/view{index}",
                image_from_array(warp(base.rgb, matrix)),
                {name: (float(x), float(y)) for name, (x, y), keep in zip(names, mapped, inside, strict=True) if keep},
            )
        )
    return views


@dataclass(frozen=True)
class Scored:
    """One template's prediction of one keypoint on one target, with its error in target pixels."""

    target: str
    keypoint: str
    candidate: Candidate
    error: float
    side: int


def score_all(
    matcher: Matcher, views: Sequence[View], settings: FeatureSettings, thresholds: ReviewThresholds
) -> list[Scored]:
    """Every template view's prediction of every keypoint on every target view."""
    templates = [LabelledImage(v.name, v.image, v.points) for v in views[:TEMPLATES]]
    scored = []
    for target in views[TEMPLATES:]:
        side = max(target.image.width, target.image.height)
        found = candidates_from_templates(
            matcher, templates, target.image, PromptSpec(), settings, LocalisationSettings(), thresholds
        )
        for name, candidates in found.items():
            if name not in target.points:
                continue
            for candidate in candidates:
                error = float(np.hypot(*np.subtract(candidate.xy, target.points[name])))
                scored.append(Scored(target.name, name, candidate, error, side))
    return scored


def pck_by_template_count(scored: list[Scored], counts: Sequence[int] = (1, 3, 5)) -> dict[str, dict[int, float]]:
    """PCK@0.05 and @0.1 of the chosen prediction, mean over every subset of ``n`` templates.

    Two rules: the documented one (cycle check, then confidence) and, for comparison, the highest
    confidence alone.
    """
    by_point: dict[tuple[str, str], list[Scored]] = {}
    for item in scored:
        by_point.setdefault((item.target, item.keypoint), []).append(item)
    templates = sorted({item.candidate.template for item in scored})
    rules = {
        "cycle check, then confidence": lambda items: most_trustworthy([i.candidate for i in items]),
        "highest confidence only": lambda items: max((i.candidate for i in items), key=lambda c: c.confidence),
    }
    table: dict[str, dict[int, float]] = {}
    for alpha, (rule, choose) in itertools.product((0.05, 0.1), rules.items()):
        row = table.setdefault(f"PCK@{alpha}, {rule}", {})
        for count in counts:
            hits = []
            for subset in itertools.combinations(templates, count):
                for items in by_point.values():
                    chosen = [i for i in items if i.candidate.template in subset]
                    if chosen:
                        best = choose(chosen)
                        winner = next(i for i in chosen if i.candidate is best)
                        hits.append(winner.error <= alpha * winner.side)
            row[count] = float(np.mean(hits))
    return table


def flag_quality(scored: list[Scored], cycles: Sequence[float], confidences: Sequence[float]) -> list[dict]:
    """Precision and recall of the flag against "wrong" (error > WRONG_ALPHA x side) for threshold pairs."""
    wrong = np.array([s.error > WRONG_ALPHA * s.side for s in scored])
    rows = []
    for cycle, confidence in itertools.product(cycles, confidences):
        thresholds = ReviewThresholds(cycle, confidence)
        flagged = np.array(
            [
                bool(
                    thresholds.flagged([s.candidate.cycle_error], [s.candidate.confidence], s.candidate.template_side)[
                        0
                    ]
                )
                for s in scored
            ]
        )
        caught = int((flagged & wrong).sum())
        precision = caught / flagged.sum() if flagged.any() else float("nan")
        recall = caught / wrong.sum() if wrong.any() else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        rows.append(
            {
                "max_cycle_error": cycle,
                "min_confidence": confidence,
                "flagged": float(flagged.mean()),
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    return rows


def fewest_flags_at_recall(rows: list[dict], recall: float = TARGET_RECALL) -> dict:
    """The threshold pair that flags the fewest predictions while catching ``recall`` of the wrong ones
    (ties: the stricter cycle threshold, then the lower confidence floor)."""
    enough = [row for row in rows if row["recall"] >= recall]
    return min(enough, key=lambda row: (row["flagged"], row["max_cycle_error"], row["min_confidence"]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="sift", choices=("sift", "sd"))
    parser.add_argument("--model", default=None, help="SD weights (hub id or folder) for --backend sd")
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--views", type=int, default=12, help="warped views per demo image (5 are templates)")
    parser.add_argument("--keypoints", type=int, default=20, help="random keypoints per demo image")
    args = parser.parse_args(argv)
    matcher = Matcher(ModelSources(sd=args.model) if args.model else None, runtime=resolve_runtime("cpu", "float32"))
    settings = FeatureSettings(backend=args.backend, size=args.size)
    thresholds = ReviewThresholds()
    images = sorted(DEMO.glob("*.jpg"))
    per_image = {
        path.stem: score_all(matcher, views_of(path, args.views, args.keypoints, seed), settings, thresholds)
        for seed, path in enumerate(images)
    }
    everything = [item for scored in per_image.values() for item in scored]
    print(f"{len(everything)} single-template predictions; backend {args.backend}, size {args.size}")
    print("\n| rule | 1 template | 3 templates | 5 templates |\n|---|---|---|---|")
    for row, values in pck_by_template_count(everything).items():
        print(f"| {row} | " + " | ".join(f"{values[n]:.3f}" for n in (1, 3, 5)) + " |")
    cycles, confidences = (0.02, 0.03, 0.05, 0.08, 0.1, 1e9), (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
    tuning = next(iter(per_image))
    best = fewest_flags_at_recall(flag_quality(per_image[tuning], cycles, confidences))
    print(
        f"\nchosen on {tuning} (fewest flags with recall >= {TARGET_RECALL}): max cycle error "
        f"{best['max_cycle_error']:g}, min confidence {best['min_confidence']:g}"
    )
    for name, scored in [*per_image.items(), ("all", everything)]:
        wrong = np.mean([s.error > WRONG_ALPHA * s.side for s in scored])
        print(f"\n### {name}: {len(scored)} predictions, {wrong:.1%} wrong (error > {WRONG_ALPHA} x longer side)")
        print("| max cycle error | min confidence | flagged | precision | recall | F1 |\n|---|---|---|---|---|---|")
        for row in flag_quality(scored, cycles, confidences):
            cycle = "off" if row["max_cycle_error"] >= 1e9 else f"{row['max_cycle_error']:g}"
            print(
                f"| {cycle} | {row['min_confidence']:g} | {row['flagged']:.1%} | {row['precision']:.3f} | "
                f"{row['recall']:.3f} | {row['f1']:.3f} |"
            )


if __name__ == "__main__":
    main()
