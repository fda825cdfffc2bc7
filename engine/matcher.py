"""The engine's front door: models, caches, and preparing image pairs for matching.

>>> matcher = Matcher(ModelSources(sd="path/or/hub-id"))
>>> pair = matcher.prepare(load_image("a.jpg"), load_image("b.jpg"), PromptSpec("text", category="cat"),
...                        FeatureSettings())            # expensive: seconds, cached
>>> pair.match(np.array([[120.0, 88.0]])).match_xy       # cheap: milliseconds per click

Models load lazily on first use. Feature maps are cached by (backend and weights, image digest,
prompt identity, settings); VAE posteriors by image; prompt conditioning by prompt. Given a
:class:`~engine.disk_cache.DiskCache`, feature maps and posteriors also persist between runs and
processes (memory first, then disk, then compute; a pair whose maps are all on disk loads no
model). A matcher must be used from one thread at a time (the app's engine worker does this); a
prepared pair, immutable, can be queried from another thread meanwhile (the app's query lane).
The steps themselves read in order in :mod:`engine.pipeline`; docs/architecture.md#caches lists
every cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from itertools import zip_longest
from typing import Any

from .cache import LRUCache, fields_key
from .disk_cache import DiskCache, key_fields
from .errors import WeightsNotFoundError
from .features import FeatureMap
from .features.dense_sift import DenseSiftFeatures
from .features.stable_diffusion import StableDiffusionFeatures, backend_identity, default_max_batch, disk_key
from .images import LoadedImage
from .models.dinov2 import DinoV2, load_dinov2
from .models.interrupt import interruptible
from .models.stable_diffusion import StableDiffusionParts, load_stable_diffusion
from .models.weights import LocatedWeights, locate_weights, weights_fingerprint
from .pipeline import EnsembleMean, image_feature_stream
from .prepared_pair import PartialPair, PreparedPair
from .progress import SILENT, Progress
from .prompts.builder import Conditioning, PromptBuilder, describe_prompt, read_spec_file
from .prompts.library import PromptLibrary
from .prompts.spec import PromptSpec
from .prompts.text_encoder import TextConditioner
from .runtime import Runtime, resolve_runtime
from .settings import FeatureSettings, ModelSources

DEFAULT_FEATURE_CACHE_BYTES = 1 << 30


class _NotStored(Exception):
    """A feature map in neither the memory nor the disk cache (the warm start gives way to the models)."""


class Matcher:
    """Turns image pairs into :class:`PreparedPair` objects for any backend, prompt and settings.

    Args:
        sources: where the SD, DINOv2 and learned-prompt files are.
        runtime: device and precision (default: ``resolve_runtime("auto", "auto")``).
        feature_cache_bytes: budget of the feature-map LRU (SD2-1 layer 1 at 768: 11.8 MB a map).
        max_batch: most ensemble members per UNet call (default 8 on CUDA, 1 elsewhere).
        disk_cache: the persistent feature cache under the memory one; None keeps nothing on disk.
    """

    def __init__(
        self,
        sources: ModelSources | None = None,
        runtime: Runtime | None = None,
        feature_cache_bytes: int = DEFAULT_FEATURE_CACHE_BYTES,
        max_batch: int | None = None,
        disk_cache: DiskCache | None = None,
    ) -> None:
        self.sources = sources or ModelSources()
        self.runtime = runtime or resolve_runtime()
        self.max_batch = max_batch
        self.disk_cache = disk_cache
        self.features: LRUCache[FeatureMap] = LRUCache(feature_cache_bytes, lambda fm: fm.nbytes)
        self.sift = DenseSiftFeatures()
        self._sd: StableDiffusionFeatures | None = None
        self._prompts: PromptBuilder | None = None
        self._dinov2: DinoV2 | None = None
        # What a warm start needs, kept so that clicks before the model loads stay cheap.
        self._located: dict[str, LocatedWeights] = {}
        self._fingerprints: dict[str, str] = {}
        self._library = PromptLibrary(self.sources.prompts)

    # ---- public API ----

    def sd_unavailable_reason(self) -> str | None:
        """None if the SD weights are on disk, else the message saying what is missing (no loading)."""
        if self._sd is not None:
            return None
        try:
            locate_weights(self.sources.sd, "sd")
        except WeightsNotFoundError as exc:
            return str(exc)
        return None

    def resolve_backend(self, backend: str) -> str:
        """ "auto" -> "sd" when the weights are found, else "sift"; other values unchanged."""
        if backend != "auto":
            return backend
        return "sd" if self.sd_unavailable_reason() is None else "sift"

    @classmethod
    def from_parts(cls, parts: StableDiffusionParts, **options: Any) -> Matcher:
        """A matcher over an SD model already built in memory (the benchmark's random weights);
        ``options`` as the constructor's, the runtime being the parts' own."""
        matcher = cls(runtime=parts.runtime, **options)
        matcher._install(parts)
        return matcher

    def stable_diffusion(self, progress: Progress = SILENT) -> StableDiffusionFeatures:
        """The SD backend, loading the model on first call."""
        if self._sd is None:
            progress("loading Stable Diffusion", 0.0)
            self._install(load_stable_diffusion(self.sources.sd, self.runtime))
        assert self._sd is not None
        return self._sd

    @property
    def sd_parts(self) -> StableDiffusionParts:
        return self.stable_diffusion().parts

    @property
    def prompts(self) -> PromptBuilder:
        self.stable_diffusion()
        assert self._prompts is not None
        return self._prompts

    def dinov2(self) -> DinoV2:
        """DINOv2, loading it on first call (only CPM prompts need it)."""
        if self._dinov2 is None:
            self._dinov2 = load_dinov2(self.sources.dinov2, self.runtime)
        return self._dinov2

    def prepare(
        self,
        source: LoadedImage,
        target: LoadedImage,
        prompt: PromptSpec,
        settings: FeatureSettings,
        progress: Progress = SILENT,
        on_partial: Callable[[PartialPair], None] | None = None,
    ) -> PreparedPair:
        """Feature maps of both images (from cache when possible), ready for :meth:`PreparedPair.match`.

        Stable Diffusion: step 0 of :mod:`engine.pipeline` (the prompt), then its steps 1-5
        (:func:`engine.pipeline.image_feature_stream`) for each image whose map is not cached, the
        two images' UNet batches in turns. Before the model is loaded, a pair whose two maps are in
        the disk cache is answered from there alone.

        Args:
            on_partial: called after each round of UNet batches that leaves the ensemble incomplete,
                with the pair as its running means stand (the progressive ensemble: a first match
                after the first batch of members). It costs no model work, and the returned pair
                and the cached maps are the same bits as without it.
        """
        settings = dataclasses.replace(settings, backend=self.resolve_backend(settings.backend))
        if settings.backend == "sift":
            maps = [self._sift_map(image, settings) for image in (source, target)]
            return PreparedPair(source, target, maps[0], maps[1], self._sift_record(settings))
        warm = self._prepare_from_disk(source, target, prompt, settings)
        if warm is not None:
            return warm
        backend = self.stable_diffusion(progress)
        progress("prompt", 0.0)
        conditioning = self.prompts.conditioning(prompt, source, target)
        record = self._sd_record(backend.parts.weights, prompt, settings, conditioning.record)
        streams = [
            self._sd_map_stream(backend, image, prompt, conditioning, settings, progress.prefixed(f"{role}: "))
            for role, image in (("source", source), ("target", target))
        ]
        latest: list[FeatureMap | EnsembleMean] = []
        backend.check(settings)
        # A cancel stops the VAE and UNet passes between their blocks, not only between the calls.
        with interruptible(backend.parts, progress):
            for step in zip_longest(*streams):  # source batch, target batch, source batch, ...
                latest = [new if new is not None else old for new, old in zip(step, latest or step, strict=True)]
                means = [m for m in latest if isinstance(m, EnsembleMean)]
                if on_partial is not None and means:
                    images = zip(latest, (source, target), strict=True)
                    maps = [self._partial_map(m, image, settings) for m, image in images]
                    behind = min(means, key=lambda m: m.done / m.passes)
                    on_partial(PartialPair(PreparedPair(source, target, *maps, record), behind.done, behind.passes))
        assert all(isinstance(m, FeatureMap) for m in latest)  # every stream ends with its final map
        return PreparedPair(source, target, latest[0], latest[1], record)  # type: ignore[arg-type]

    # ---- internals ----

    def _install(self, parts: StableDiffusionParts) -> None:
        self._sd = StableDiffusionFeatures(parts, max_batch=self.max_batch, disk=self.disk_cache)
        conditioner = TextConditioner(parts.tokenizer, parts.text_encoder, self.runtime.autocast)
        self._prompts = PromptBuilder(conditioner, self._library, self.dinov2)

    def _prepare_from_disk(
        self, source: LoadedImage, target: LoadedImage, prompt: PromptSpec, settings: FeatureSettings
    ) -> PreparedPair | None:
        """A warm start: both maps from memory or the disk cache before any model is loaded (loading
        SD2-1 costs seconds a cached pair need not pay); None when one is missing or SD is loaded."""
        disk = self.disk_cache
        if disk is None or self._sd is not None:
            return None
        weights = self._locate("sd")
        identity, record = describe_prompt(
            prompt,
            lambda spec: read_spec_file(spec, self._library),
            source,
            target,
            lambda: self._locate("dinov2").identity,
        )
        base = disk_key(self._fingerprint("sd"), self.runtime, self.max_batch or default_max_batch(self.runtime))

        def from_disk(image: LoadedImage) -> FeatureMap:
            stored = disk.load(self._feature_key(base, image, identity, prompt, settings))
            if stored is None:
                raise _NotStored
            features = stored["features"].to(self.runtime.device)
            return FeatureMap.build(features, image.width, image.height, settings.size)

        memory = backend_identity(weights, self.runtime)
        try:
            maps = [
                self.features.get_or_create(
                    (memory, image.digest, identity, fields_key(settings)), lambda image=image: from_disk(image)
                )
                for image in (source, target)
            ]
        except _NotStored:
            return None
        return PreparedPair(source, target, maps[0], maps[1], self._sd_record(weights, prompt, settings, record))

    def _sd_map_stream(
        self,
        backend: StableDiffusionFeatures,
        image: LoadedImage,
        prompt: PromptSpec,
        conditioning: Conditioning,
        settings: FeatureSettings,
        progress: Progress,
    ) -> Iterator[EnsembleMean | FeatureMap]:
        """Steps 1-5 for one image: its map from memory or disk, else the running means of the
        ensemble as the UNet batches come, then the final map (cached in memory and on disk)."""
        memory_key = (backend.identity, image.digest, conditioning.identity, fields_key(settings))
        cached = self.features.get(memory_key)
        if cached is not None:
            yield cached
            return
        disk_key = None
        if self.disk_cache is not None:
            disk_key = self._feature_key(backend.disk_key(), image, conditioning.identity, prompt, settings)
            stored = self.disk_cache.load(disk_key)
            if stored is not None:
                features = stored["features"].to(self.runtime.device)
                yield self._put(memory_key, FeatureMap.build(features, image.width, image.height, settings.size))
                return
        for mean in image_feature_stream(backend, image, conditioning.states, settings, progress):
            if not mean.final:
                yield mean
        computed = FeatureMap.build(mean.features(), image.width, image.height, settings.size)
        if disk_key is not None:
            self.disk_cache.store(disk_key, {"features": computed.features})  # type: ignore[union-attr]
        yield self._put(memory_key, computed)

    def _put(self, key: tuple[Any, ...], feature_map: FeatureMap) -> FeatureMap:
        self.features.put(key, feature_map)
        return feature_map

    @staticmethod
    def _partial_map(mean: FeatureMap | EnsembleMean, image: LoadedImage, settings: FeatureSettings) -> FeatureMap:
        if isinstance(mean, FeatureMap):
            return mean
        return FeatureMap.build(mean.features(), image.width, image.height, settings.size)

    def _feature_key(
        self, base: dict[str, Any], image: LoadedImage, identity: str, prompt: PromptSpec, settings: FeatureSettings
    ) -> dict[str, Any]:
        """The disk-cache key of one feature map: the model's :func:`disk_key`, image, prompt, settings."""
        prompt_key = {"identity": identity}
        if prompt.variant == "cpm":  # CPM's states also depend on the DINOv2 weights
            prompt_key["dinov2"] = self._fingerprint("dinov2")
        return base | {
            "kind": "feature-map",
            "image": image.digest,
            "prompt": prompt_key,
            "settings": key_fields(settings),
        }

    def _locate(self, kind: str) -> LocatedWeights:
        """:func:`locate_weights` of the SD or DINOv2 source, once per matcher (once found)."""
        if kind not in self._located:
            self._located[kind] = locate_weights(self.sources.sd if kind == "sd" else self.sources.dinov2, kind)
        return self._located[kind]

    def _fingerprint(self, kind: str) -> str:
        """:func:`weights_fingerprint` of the SD or DINOv2 weights, once per matcher."""
        if kind not in self._fingerprints:
            self._fingerprints[kind] = weights_fingerprint(self._locate(kind))
        return self._fingerprints[kind]

    def _sift_map(self, image: LoadedImage, settings: FeatureSettings) -> FeatureMap:
        key = (self.sift.identity, image.digest, settings.size)
        return self.features.get_or_create(
            key,
            lambda: FeatureMap.build(self.sift.extract(image, settings), image.width, image.height, settings.size),
        )

    def _sd_record(
        self, weights: LocatedWeights, prompt: PromptSpec, settings: FeatureSettings, prompt_record: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "backend": "sd",
            "model": {
                "id": weights.source,
                "revision": weights.revision,
                "dtype": str(self.runtime.compute_dtype).removeprefix("torch."),
                "device": self.runtime.device.type,
            },
            "features": settings.to_dict(),
            "prompt": prompt.to_dict() | prompt_record,
        }

    def _sift_record(self, settings: FeatureSettings) -> dict[str, Any]:
        return {
            "backend": "sift",
            "model": {"id": self.sift.identity, "revision": None, "dtype": "float32", "device": "cpu"},
            "features": {"backend": "sift", "size": settings.size},
            "prompt": None,
        }
