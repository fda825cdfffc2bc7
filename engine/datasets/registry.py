"""``open_dataset``: one entry point for every dataset kind."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DocumentError, SettingsError

if TYPE_CHECKING:
    from .sample import PairSample

DATASET_KINDS: tuple[str, ...] = ("spair", "pfpascal", "pfwillow", "json")


def open_dataset(kind: str, root: str | Path | Sequence[str | Path], split: str = "test") -> list[PairSample]:
    """The pairs of one split.

    Args:
        kind: "spair", "pfpascal", "pfwillow" (the release's folder, or its parent), or "json"
            (the project's sd-correspondence export: a file, a folder of files, or a list of them).
        root: where the dataset is; only "json" accepts a list.
        split: "trn", "val" or "test" for the benchmarks (PF-Willow has only "test"); ignored for
            "json", whose files are the split.

    Returns:
        The pairs in the dataset's order; never empty.
    """
    # The readers (numpy, PIL, scipy) load here, not with the module: the command line reads
    # DATASET_KINDS to build its parser.
    from .exported import read_exported
    from .pfpascal import read_pfpascal
    from .pfwillow import read_pfwillow
    from .spair import read_spair

    benchmarks = {"spair": read_spair, "pfpascal": read_pfpascal, "pfwillow": read_pfwillow}
    if kind == "json":
        samples = read_exported(root)
    elif kind in benchmarks:
        if not isinstance(root, str | Path):
            raise SettingsError(f"dataset '{kind}' takes one folder, got {len(root)}")
        samples = benchmarks[kind](root, split)
    else:
        raise SettingsError(f"unknown dataset kind '{kind}'; choose one of {', '.join(DATASET_KINDS)}")
    if not samples:
        where = f"'{root}'" if kind == "json" else f"'{root}' (split {split})"
        raise DocumentError(f"dataset '{kind}' at {where} has no pair with ground-truth points")
    return samples
