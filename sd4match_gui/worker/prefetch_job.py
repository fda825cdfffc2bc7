"""Prefetch on the engine thread: the features of the pairs ahead, computed in idle time.

The worker runs a :class:`PrefetchJob` only when no request of the user waits on the engine thread,
and gives it a stop test that turns true the moment one arrives: the engine checks it between
stages and before every layer of the UNet and VAE blocks (``engine/models/interrupt.py``), so a
request that needs extraction waits at most one layer. (Clicks on prepared pairs and hovers do not
stop it: the query lane answers them beside it.) The job then returns with its place kept, and the
worker resumes it once the user's work is done. What a preempted extraction had finished stays
cached (the VAE posterior); its running ensemble is redone.

Qt-free: the worker forwards :class:`Prefetched` reports as a signal.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine import LoadedImage, load_image
from engine.errors import Cancelled, EngineError
from engine.progress import Progress
from engine.variants import Variant, require_stable_diffusion

from .messages import Prefetched, PrefetchRequest

if TYPE_CHECKING:
    from engine import Matcher


class PrefetchJob:
    """What is left of one prefetch plan: (pair, variant) items, the nearest pair first.

    Args:
        plan: the pairs ahead and the variants on screen.
    """

    def __init__(self, plan: PrefetchRequest) -> None:
        self.plan = plan
        self._left: list[tuple[tuple[Path, Path], Variant]] = [(pair, v) for pair in plan.pairs for v in plan.variants]
        self._images: dict[Path, LoadedImage] = {}  # decoded files of this plan (a few)

    @property
    def done(self) -> bool:
        return not self._left

    def run(self, matcher: Matcher, stop: Callable[[], bool], report: Callable[[Prefetched], None]) -> bool:
        """Prepare the items left until done or ``stop()``; True once every item is done.

        An item that fails (an unreadable file, a prompt that needs a category) is reported and
        skipped: the user meets the error when opening that pair, not before.
        """
        progress = Progress(cancel_requested=stop)
        while self._left:
            if stop():
                return False
            (source, target), variant = self._left[0]
            error = ""
            try:
                if self.plan.refuse_fallback:
                    require_stable_diffusion([variant], matcher)
                images = self._image(source), self._image(target)
                matcher.prepare(*images, variant.prompt, variant.settings, progress)
            except Cancelled:
                return False  # preempted: this item is redone when the job resumes
            except EngineError as exc:
                error = str(exc)
            except Exception as exc:  # a bug must not kill the engine thread
                traceback.print_exc(file=sys.stderr)
                error = f"internal error ({type(exc).__name__}: {exc})"
            self._left.pop(0)
            report(Prefetched(source, target, variant.name, error))
        return True

    def _image(self, path: Path) -> LoadedImage:
        if path not in self._images:
            self._images[path] = load_image(path)
        return self._images[path]
