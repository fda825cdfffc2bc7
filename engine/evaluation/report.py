"""Writing evaluation results: the full JSON and a Markdown table for people."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__, atomic
from ..export.document import now_utc
from ..settings import LocalisationSettings
from .pck import ALPHAS, FRAMES
from .runner import VariantResult
from .summary import OVERALL, summary_to_dict

FRAME_TITLES = {
    "square": "squashed S x S frame (comparable with the paper)",
    "pixels": "original pixels (what a user sees)",
}
AVERAGES = {"per_pair": "mean over pairs", "per_point": "mean over points"}
NO_CATEGORY = "(no category)"


def results_document(
    results: Sequence[VariantResult],
    dataset: dict[str, Any],
    localisation: LocalisationSettings,
    alphas: tuple[float, ...] = ALPHAS,
) -> dict[str, Any]:
    """Everything: dataset, settings, PCK summaries and every pair's predictions, errors and PCK."""
    return {
        "sd4match": __version__,
        "created_at": now_utc(),
        "dataset": dataset,
        "alphas": list(alphas),
        "frames": FRAME_TITLES,
        "localisation": dataclasses.asdict(localisation),
        "variants": [
            {
                "name": result.variant.name,
                "exploratory": result.variant.exploratory,
                "prompt": result.variant.prompt.to_dict() if result.variant.settings.backend != "sift" else None,
                "settings": result.variant.settings.to_dict(),
                "summary": summary_to_dict(result.summary),
                "pairs": [
                    score.to_dict()
                    | {"pck": {frame: _finite(score.measurements[frame].pck(alphas)) for frame in FRAMES}}
                    for score in result.scores
                ],
            }
            for result in results
        ],
    }


def markdown_report(results: Sequence[VariantResult], title: str, alphas: tuple[float, ...] = ALPHAS) -> str:
    """One table per frame and averaging: a row per category plus "all", a column per variant.

    Each cell is ``PCK@a1 / PCK@a2 / ...`` in percent.
    """
    alpha_names = " / ".join(f"@{alpha:g}" for alpha in alphas)
    lines = [f"# {title}", "", f"PCK in percent; each cell is PCK{alpha_names}.", ""]
    groups = list(results[0].summary[FRAMES[0]]) if results else []
    for frame in FRAMES:
        for average, average_title in AVERAGES.items():
            lines += [f"## {FRAME_TITLES[frame]}, {average_title}", ""]
            counted = "points" if average == "per_point" else "pairs"
            lines.append(
                "| category | " + counted + " | " + " | ".join(_escape(r.variant.name) for r in results) + " |"
            )
            lines.append("|---|---:|" + "---:|" * len(results))
            for group in groups:
                first = results[0].summary[frame][group]
                count = first.points if average == "per_point" else first.pairs
                cells = [_cell(getattr(r.summary[frame][group], average)) for r in results]
                name = f"**{OVERALL}**" if group == OVERALL else _escape(group or NO_CATEGORY)
                lines.append(f"| {name} | {count} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


REPORT_NAMES = ("results.json", "results.md")  # written by write_reports into the eval folder


def write_reports(out: Path, document: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """``results.json`` and ``results.md`` in ``out``, written atomically."""
    json_path, markdown_path = (out / name for name in REPORT_NAMES)
    atomic.write_json(json_path, document)
    atomic.write_text(markdown_path, markdown)
    return json_path, markdown_path


def overall_line(result: VariantResult, alphas: tuple[float, ...] = ALPHAS) -> str:
    """``name: square 45.0/60.0/70.0, pixels ...`` (per-pair means over all pairs), for the terminal."""
    parts = [f"{frame} {_cell(result.summary[frame][OVERALL].per_pair, '/')}" for frame in FRAMES]
    return f"{result.variant.name}: PCK@{'/'.join(f'{a:g}' for a in alphas)} " + ", ".join(parts)


def _cell(values: Sequence[float], separator: str = " / ") -> str:
    return separator.join("–" if math.isnan(v) else f"{100 * v:.1f}" for v in values)


def _finite(values: Any) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
