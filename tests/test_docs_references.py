"""Every reference to the project's docs resolves inside the repository, to a heading that exists.

Docstrings, comments, tests and docs cite ``docs/algorithm.md#section`` (or, between docs, a
relative Markdown link); a renamed heading or a file that is not in the repository would leave
the reader stranded, so each one is checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import engine.pipeline

REPO = Path(__file__).resolve().parents[1]
SOURCES = [*sorted((REPO / "engine").rglob("*.py")), *sorted((REPO / "sd4match_gui").rglob("*.py"))]
SOURCES += [*sorted((REPO / "tests").rglob("*.py")), *sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
CODE_REFERENCE = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
MARKDOWN_LINK = re.compile(r"\]\(([\w./-]*)(?:#([\w-]+))?\)")  # relative links only: no "https:"
# Citations of files that live outside this repository (the team's notes, their section numbers).
OUTSIDE = re.compile(r"shared/|algorithm\.md section|reference-implementations|environment\.md")


def anchors(markdown: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    found = set()
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text)))
    return found


def references(path: Path) -> list[tuple[Path, str | None]]:
    text = path.read_text(encoding="utf-8")
    found = [(REPO / "docs" / name, anchor) for name, anchor in CODE_REFERENCE.findall(text)]
    if path.suffix == ".md":
        links = MARKDOWN_LINK.findall(text)  # an empty target is a link within the same file
        found += [((path.parent / target).resolve() if target else path, anchor) for target, anchor in links]
    return [(target, anchor or None) for target, anchor in found]


def test_every_docs_reference_names_an_existing_file_and_heading():
    broken = []
    for path in SOURCES:
        if path == Path(__file__).resolve():
            continue
        for target, anchor in references(path):
            if not target.is_file():
                broken.append(f"{path.relative_to(REPO)}: {target} does not exist")
            elif anchor is not None and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(f"{path.relative_to(REPO)}: {target.name} has no heading #{anchor}")
    assert not broken, "\n".join(broken)


def test_no_reference_leads_outside_the_repository():
    outside = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in SOURCES
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not outside, "\n".join(outside)


def test_the_pipeline_table_of_contents_points_at_algorithm_sections():
    table = [line.split()[-1] for line in engine.pipeline.__doc__.splitlines() if re.match(r"\s{4}\d\s", line)]
    assert len(table) == 8  # steps 0-7
    assert all(entry.removeprefix("#") in anchors(REPO / "docs" / "algorithm.md") for entry in table), table
