"""SD4Match engine: Stable Diffusion features, prompts and localisation for semantic correspondence.

PyTorch and numpy only (never Qt). The public API speaks original-image pixels, (x, y), with
(0, 0) the centre of the top-left pixel:

>>> from engine import Matcher, ModelSources, FeatureSettings, PromptSpec, load_image
>>> matcher = Matcher(ModelSources())
>>> pair = matcher.prepare(load_image("a.jpg"), load_image("b.jpg"), PromptSpec(), FeatureSettings())
>>> pair.match([[120.0, 88.0]]).match_xy

The names below are imported on first use (:mod:`engine.lazy`): ``import engine`` loads no
torch, so that the command line answers ``--help`` at once.
"""

from typing import TYPE_CHECKING

from .lazy import lazy_attributes

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .errors import EngineError
    from .images import LoadedImage, image_from_array, load_image
    from .matcher import Matcher
    from .prepared_pair import MatchResult, PreparedPair
    from .prompts.spec import PromptSpec
    from .runtime import Runtime, RuntimeOptions, resolve_runtime
    from .settings import FeatureSettings, LocalisationSettings, ModelSources

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "EngineError": ".errors",
        "FeatureSettings": ".settings",
        "LoadedImage": ".images",
        "LocalisationSettings": ".settings",
        "MatchResult": ".prepared_pair",
        "Matcher": ".matcher",
        "ModelSources": ".settings",
        "PreparedPair": ".prepared_pair",
        "PromptSpec": ".prompts.spec",
        "Runtime": ".runtime",
        "RuntimeOptions": ".runtime",
        "image_from_array": ".images",
        "load_image": ".images",
        "resolve_runtime": ".runtime",
    },
)

__all__ = [
    "EngineError",
    "FeatureSettings",
    "LoadedImage",
    "LocalisationSettings",
    "MatchResult",
    "Matcher",
    "ModelSources",
    "PreparedPair",
    "PromptSpec",
    "Runtime",
    "RuntimeOptions",
    "__version__",
    "image_from_array",
    "load_image",
    "resolve_runtime",
]
