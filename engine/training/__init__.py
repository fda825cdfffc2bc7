"""Prompt tuning (docs/algorithm.md#training): learn Single, Class and CPM prompts on annotated pairs.

GUI-free; ``sd4match tune`` and the app call the same API::

    from engine.training import PromptTrainer, TrainingConfig, TrainingSet

    trainer = PromptTrainer(TrainingConfig("class", "my-birds", epochs=3, batch_size=4), matcher)
    result = trainer.fit(TrainingSet.open("json", "session.json"), library="prompts",
                         on_step=show_loss, progress=Progress(cancel_requested=stop_pressed))

The kept prompt is written in the official release format and folder naming, so
``PromptSpec(variant="class", prompt_set="my-birds")`` with ``ModelSources(prompts="prompts")``
loads it like a released one.
"""

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes

if TYPE_CHECKING:
    from .config import TrainingConfig
    from .data import TrainingSet
    from .reports import EpochReport, StepReport, TrainingResult
    from .trainer import PromptTrainer, create_accelerator

# Imported on first use (engine/lazy.py): `sd4match tune --help` reads TrainingConfig's defaults without torch.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "EpochReport": ".reports",
        "PromptTrainer": ".trainer",
        "StepReport": ".reports",
        "TrainingConfig": ".config",
        "TrainingResult": ".reports",
        "TrainingSet": ".data",
        "create_accelerator": ".trainer",
    },
)

__all__ = [
    "EpochReport",
    "PromptTrainer",
    "StepReport",
    "TrainingConfig",
    "TrainingResult",
    "TrainingSet",
    "create_accelerator",
]
