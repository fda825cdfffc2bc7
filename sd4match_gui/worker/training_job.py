"""One prompt-tuning run, on the engine thread: the session's points in, a tuned prompt file out.

The data go through the same reader as ``sd4match tune ... json SESSION.json``: the session's
export is written to a temporary file and opened with ``TrainingSet.open("json", ...)``, so the
app and the command line agree on which points count (accepted or corrected, with a target and
not marked "not labelled"; ``engine.datasets.exported``). The samples' image paths are the file's
relative ones joined to its folder (``.../tmp/x/../../images/a.jpg``), so the file stays until the
run ends.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from engine import Matcher
from engine.errors import EngineError
from engine.progress import Progress
from engine.training import EpochReport, PromptTrainer, StepReport, TrainingSet

from .messages import TrainingOutcome, TrainingRequest


def tune(
    matcher: Callable[[], Matcher],
    request: TrainingRequest,
    on_step: Callable[[StepReport], None],
    on_epoch: Callable[[EpochReport], None],
    progress: Progress,
) -> TrainingOutcome:
    """Run ``request`` with the matcher's models; every failure becomes a one-line message.

    Args:
        matcher: returns the engine's matcher (building it may fail, e.g. a missing model).
        request: what to tune on which data.
        on_step, on_epoch: the trainer's reports, called on this thread.
        progress: stage reports; its cancel request stops the run between steps (state saved).
    """
    try:
        engine_matcher = matcher()
        trainer = PromptTrainer(request.config, engine_matcher)
        with tempfile.TemporaryDirectory(prefix="sd4match-tune-") as folder:
            result = trainer.fit(
                read_points(request, Path(folder)),
                # The library the matcher reads (None: the user's), so that the new variant finds the prompt.
                library=engine_matcher.sources.prompts,
                resume=request.resume,
                overwrite=request.overwrite,
                on_step=on_step,
                on_epoch=on_epoch,
                progress=progress,
            )
    except (EngineError, OSError) as exc:
        return TrainingOutcome(None, str(exc))
    except Exception as exc:  # a bug must not kill the engine thread; the user sees one line
        traceback.print_exc(file=sys.stderr)
        return TrainingOutcome(None, f"internal error ({type(exc).__name__}: {exc}); details on the console")
    return TrainingOutcome(result)


def read_points(request: TrainingRequest, folder: Path) -> TrainingSet:
    """The request's document, saved in ``folder``, as training pairs described by its provenance."""
    path = folder / "session.json"
    request.document.save(path)
    return TrainingSet(TrainingSet.open("json", path).pairs, request.provenance)
