"""Category names of the benchmarks, and the clean-up that maps dataset names to prompt names."""

from __future__ import annotations

import re

# PF-Pascal uses the 20 VOC classes in VOC order; its csv class ids are 1-based indices into this.
PFPASCAL_CATEGORIES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
# Names seen in datasets that mean a class of the learned prompts under another name.
ALIASES = {
    "winebottle": "bottle",
    "airplane": "aeroplane",
    "motorcycle": "motorbike",
    "tv": "tvmonitor",
    "potted plant": "pottedplant",
    "dining table": "diningtable",
}


def canonical_category(name: str) -> str:
    """Dataset category -> prompt category: lower case, PF-Willow's "(G)"-style suffixes removed.

    The official code strips the suffix only for text prompts and so looks up "car(G)" among the
    class prompts; here every prompt kind uses the cleaned name ("car(G)" -> "car",
    "winebottle(wC)" -> "bottle").
    """
    cleaned = re.sub(r"\(.*?\)", "", name).strip().lower()
    return ALIASES.get(cleaned, cleaned)
