"""Figures as PNG: the source with its points beside one or more target panels with matches.

Used by ``sd4match match --render`` (one panel) and ``sd4match compare`` (one panel per variant).
Drawing is PIL-only; every panel is scaled to a common height.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import atomic
from .frames import GridFrame
from .heatmap import overlay

# Distinct, colour-blind-friendly-ish colours for numbered points (Okabe-Ito, then Tableau).
PALETTE = (
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0), (204, 121, 167),
    (255, 255, 255), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip
PANEL_HEIGHT = 480
TITLE_HEIGHT = 26
GAP = 8
BACKGROUND = (24, 24, 24)


def point_colour(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


@dataclass
class Panel:
    """One image with points; ``heatmap`` (grid scores) and its ``frame`` are drawn under them."""

    title: str
    rgb: np.ndarray
    points: np.ndarray
    heatmap: np.ndarray | None = None
    frame: GridFrame | None = None


def render_panels(panels: list[Panel], lines_from_first: bool = True) -> Image.Image:
    """Panels left to right; lines join point i of the first panel to point i of each other one."""
    scaled = [_draw_panel(panel) for panel in panels]
    canvas, offsets = _row(scaled, [panel.title for panel in panels])
    draw = ImageDraw.Draw(canvas)
    if lines_from_first and len(panels) > 1:
        first_points = scaled[0][1]
        for (_, points), offset in zip(scaled[1:], offsets[1:], strict=True):
            for index, (start, end) in enumerate(zip(first_points, points, strict=False)):
                draw.line(
                    [(start[0] + offsets[0], start[1] + TITLE_HEIGHT), (end[0] + offset, end[1] + TITLE_HEIGHT)],
                    fill=point_colour(index),
                    width=1,
                )
    return canvas


def render_grid(panels: list[Panel], columns: int) -> Image.Image:
    """Panels in rows of ``columns``, left to right then top to bottom; points are numbered, no lines."""
    rows = [panels[start : start + columns] for start in range(0, len(panels), columns)]
    images = [_row([_draw_panel(panel) for panel in row], [panel.title for panel in row])[0] for row in rows]
    canvas = Image.new(
        "RGB",
        (max(image.width for image in images), sum(i.height for i in images) + GAP * (len(images) - 1)),
        BACKGROUND,
    )
    y = 0
    for image in images:
        canvas.paste(image, (0, y))
        y += image.height + GAP
    return canvas


def save_png(image: Image.Image, path: str | Path) -> None:
    """Write a PNG atomically."""
    with atomic.atomic_writer(path, "wb") as handle:
        image.save(handle, format="PNG")


def _row(scaled: list[tuple[Image.Image, np.ndarray]], titles: list[str]) -> tuple[Image.Image, list[int]]:
    """Scaled panels side by side under their titles; returns the canvas and each panel's x offset."""
    width = sum(image.width for image, _ in scaled) + GAP * (len(scaled) - 1)
    canvas = Image.new("RGB", (width, PANEL_HEIGHT + TITLE_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=15)
    offsets, x = [], 0
    for (image, _), title in zip(scaled, titles, strict=True):
        canvas.paste(image, (x, TITLE_HEIGHT))
        draw.text((x + 4, 6), title, fill=(235, 235, 235), font=font)
        offsets.append(x)
        x += image.width + GAP
    return canvas, offsets


def _draw_panel(panel: Panel) -> tuple[Image.Image, np.ndarray]:
    """The panel scaled to PANEL_HEIGHT with its points drawn; also returns the scaled points."""
    rgb = panel.rgb
    if panel.heatmap is not None and panel.frame is not None:
        rgb = overlay(rgb, panel.heatmap, panel.frame)
    scale = PANEL_HEIGHT / rgb.shape[0]
    size = (max(1, round(rgb.shape[1] * scale)), PANEL_HEIGHT)
    image = Image.fromarray(rgb).resize(size, Image.BILINEAR)
    # Pixel centres: original (x, y) sits at ((x + 0.5) * scale - 0.5) in the scaled image.
    points = (np.asarray(panel.points, dtype=np.float64).reshape(-1, 2) + 0.5) * scale - 0.5
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15)
    for index, (x, y) in enumerate(points):
        colour = point_colour(index)
        draw.ellipse([x - 5, y - 5, x + 5, y + 5], outline=(0, 0, 0), fill=colour, width=1)
        draw.text((x + 7, y - 7), str(index + 1), fill=colour, font=font, stroke_width=1, stroke_fill=(0, 0, 0))
    return image, points
