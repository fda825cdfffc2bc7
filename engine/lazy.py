"""Package attributes imported on first use, so that importing a package costs only what is used.

``import engine`` or ``from engine.datasets import DATASET_KINDS`` must not import torch: the
command line builds its parser and answers ``--help`` and argument errors without it (issue 15).
A package lists its public names and the submodule each lives in; the submodule is imported
when the name is first read (PEP 562) and the value is then kept on the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``exports`` (public name -> relative submodule).

    Example, in ``engine/__init__.py``: ``__getattr__, __dir__ = lazy_attributes(__name__, {"Matcher": ".matcher"})``.
    A name not in ``exports`` raises AttributeError, so ``from engine import atomic`` still finds
    the submodule ``engine.atomic`` the usual way.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        setattr(sys.modules[package], name, value)  # read once: later reads skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
