"""The per-category PCK bar chart, drawn with PIL (no plotting library needed).

One group of bars per category plus "all", one bar per variant, PCK in percent on a 0-100 axis.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from ..render import point_colour
from .pck import ALPHAS
from .runner import VariantResult
from .summary import OVERALL

BAR_WIDTH = 14
GROUP_GAP = 16
PLOT_HEIGHT = 300
LEFT, RIGHT, TOP = 56, 16, 44
LEGEND_ROW = 18
BACKGROUND, INK, GRID = (255, 255, 255), (30, 30, 30), (225, 225, 225)


def pck_chart(
    results: Sequence[VariantResult],
    frame: str = "square",
    average: str = "per_pair",
    alpha: float = 0.1,
    alphas: tuple[float, ...] = ALPHAS,
    title: str = "",
) -> Image.Image:
    """An RGB image of PCK@``alpha`` per category for every variant.

    Args:
        results: the variants, all evaluated on the same pairs.
        frame: "square" or "pixels"; average: "per_pair" or "per_point".
        alpha: which of ``alphas`` to plot.
    """
    column = alphas.index(alpha)
    groups = list(results[0].summary[frame]) if results else []
    labels = [_label(group) for group in groups]
    title = title or f"PCK@{alpha:g} ({frame}, {average.replace('_', ' ')})"
    font = ImageFont.load_default(size=12)
    group_width = BAR_WIDTH * max(len(results), 1) + GROUP_GAP
    top = TOP + LEGEND_ROW * len(results)
    bottom = 12 + max((font.getlength(label) for label in labels), default=0)
    texts = [title, *(result.variant.name for result in results)]
    width = max(LEFT + RIGHT + group_width * max(len(groups), 1), LEFT + RIGHT + 16 + max(map(font.getlength, texts)))
    image = Image.new("RGB", (int(width), int(top + PLOT_HEIGHT + bottom)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((LEFT, 8), title, fill=INK, font=font)
    for index, result in enumerate(results):
        y = TOP - 16 + LEGEND_ROW * index
        draw.rectangle([LEFT, y + 2, LEFT + 10, y + 12], fill=point_colour(index))
        draw.text((LEFT + 16, y), result.variant.name, fill=INK, font=font)
    _axis(draw, font, top, image.width - RIGHT)
    for group_index, group in enumerate(groups):
        x0 = LEFT + GROUP_GAP // 2 + group_width * group_index
        for index, result in enumerate(results):
            value = getattr(result.summary[frame][group], average)[column]
            if value == value:  # NaN draws nothing
                bar_top = top + PLOT_HEIGHT * (1 - value)
                x = x0 + BAR_WIDTH * index
                draw.rectangle([x, bar_top, x + BAR_WIDTH - 2, top + PLOT_HEIGHT], fill=point_colour(index))
        _vertical_text(image, labels[group_index], font, x0 + (group_width - GROUP_GAP) // 2, top + PLOT_HEIGHT + 6)
    return image


def _label(group: str) -> str:
    return "ALL" if group == OVERALL else group or "(no category)"


def _axis(draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, top: int, right: int) -> None:
    for percent in range(0, 101, 20):
        y = top + PLOT_HEIGHT * (1 - percent / 100)
        draw.line([(LEFT, y), (right, y)], fill=GRID if percent else INK, width=1)
        draw.text((LEFT - 8, y), str(percent), fill=INK, font=font, anchor="rm")
    draw.line([(LEFT, top), (LEFT, top + PLOT_HEIGHT)], fill=INK, width=1)


def _vertical_text(image: Image.Image, text: str, font: ImageFont.ImageFont, centre_x: int, top: int) -> None:
    """``text`` rotated to read bottom-up, hanging from ``top``, centred on ``centre_x``."""
    left, upper, right, lower = font.getbbox(text)
    label = Image.new("L", (right - left + 2, lower - upper + 2), 0)
    ImageDraw.Draw(label).text((-left + 1, -upper + 1), text, fill=255, font=font)
    rotated = label.rotate(90, expand=True)
    position = (int(centre_x - rotated.width / 2), top)
    image.paste(Image.new("RGB", rotated.size, INK), position, rotated)
