"""The benchmark behind ``sd4match bench`` (issue 2, section Performance).

Phases, in one process on one machine, each with its peak resident memory:

1. FLOPs per image, counted on meta tensors (no compute), and measured dense GEMM throughput;
   their ratio is the compute limit the engine is compared with.
2. Engine extraction in the runtime's precision, cold (VAE runs) and with the image's VAE latent
   cached (what switching prompt variant or timestep costs); switching prompt on a cached image
   (text encoding plus the UNet passes); per-click ``PreparedPair.match`` latency on cached
   real-size feature maps.
3. What the user waits for on a new pair, in the runtime's precision (:mod:`engine.bench.waits`):
   first match at E = 1 cold, first partial and final match with the progressive ensemble, the next
   pair after prefetch, a click while prefetch runs.
4. The same engine extraction in float32.
5. Reference-style extraction (official code's path, float32, see :mod:`engine.bench.pipelines`).
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..features import FeatureMap
from ..features.stable_diffusion import StableDiffusionFeatures
from ..images import LoadedImage, image_from_array
from ..models.stable_diffusion import StableDiffusionParts
from ..models.unet_features import up_block_features
from ..models.weights import quiet_library_output
from ..prepared_pair import PreparedPair
from ..prompts.text_encoder import TextConditioner
from ..runtime import Runtime, resolve_runtime
from ..settings import FeatureSettings
from .measure import count_flops, matmul_throughput, percentile, timed, track_peak
from .pipelines import parts_from_random, reference_features
from .random_init import random_stable_diffusion
from .waits import WaitOptions, wait_rows


@dataclass
class BenchOptions:
    architecture: str = "sd2-1"
    device: str = "auto"
    dtype: str = "auto"
    ensembles: tuple[int, ...] = (1, 8)
    size: int = 768
    timestep: int = 50
    layer: int = 1
    clicks: int = 1000
    reference: bool = True
    waits: bool = True  # the rows of engine.bench.waits (a new pair, prefetch)
    warmup: bool = True  # one untimed run per pipeline, precision and E (oneDNN/cuDNN set-up, allocator)
    repeats: int = 1  # timed runs per row; the row reports their median (a shared CPU varies by ~10 %)


@dataclass
class BenchReport:
    machine: dict[str, str] = field(default_factory=dict)
    flops: dict[str, float] = field(default_factory=dict)
    throughput: dict[str, float] = field(default_factory=dict)
    rows: list[dict[str, object]] = field(default_factory=list)

    def add(self, what: str, seconds: float, peak_gb: float | None = None, **extra: object) -> None:
        self.rows.append({"what": what, "seconds": seconds, "peak_rss_gb": peak_gb, **extra})


def run_benchmark(options: BenchOptions, log: Callable[[str], None] = print) -> BenchReport:
    quiet_library_output()
    report = BenchReport()
    runtime = resolve_runtime(options.device, options.dtype)
    fp32 = dataclasses.replace(runtime, weights_dtype=torch.float32, autocast_dtype=None)
    report.machine = {**_machine(runtime), "timed runs per row (median)": str(options.repeats)}
    low = torch.float16 if runtime.device.type == "cuda" else torch.bfloat16

    log("counting FLOPs and measuring GEMM throughput")
    report.flops = _flops(options)
    report.throughput = {
        "float32": matmul_throughput(torch.float32, runtime.device),
        str(low).removeprefix("torch."): matmul_throughput(low, runtime.device),
    }

    log(f"building the {options.architecture} architecture with random weights")
    random = random_stable_diffusion(options.architecture)
    rng = np.random.default_rng(0)
    warmup_image, image = (image_from_array(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) for _ in range(2))
    states = torch.randn(1, 77, random.text_encoder.config.hidden_size) * 0.5
    sync = _synchronizer(runtime)

    # The runtime's own precision first: on the CPU freed memory stays in the process
    # (engine/models/cpu_memory.py), so float32 work done before would inflate its peak RSS.
    parts = parts_from_random(random, runtime, options.architecture)
    for ensemble in options.ensembles:
        _engine_rows(report, parts, warmup_image, image, states, options, ensemble, sync, log)
    features = _switch_row(report, parts, image, states, options, sync, log)
    log(f"per-click latency over {options.clicks} clicks")
    report.rows.extend(_click_latency(image, features, options))
    if options.waits:
        waits = WaitOptions(max(options.ensembles), options.size, options.timestep, options.layer)
        report.rows.extend(wait_rows(parts, waits, log))

    if runtime != fp32:
        parts = parts_from_random(random, fp32, options.architecture)
        for ensemble in options.ensembles:
            _engine_rows(report, parts, warmup_image, image, states, options, ensemble, sync, log)
    if options.reference:  # parts are in float32 by now
        for ensemble in options.ensembles:
            log(f"reference-style extraction, float32, E={ensemble}")

            def reference(e: int = ensemble) -> torch.Tensor:
                return reference_features(parts, image, states, options.timestep, options.layer, e, options.size)

            with track_peak() as peak:
                seconds, _ = timed(sync(reference), repeats=options.repeats, warmup=int(options.warmup))
            report.add(
                f"reference-style, float32, E={ensemble}",
                seconds,
                peak.gigabytes,
                pipeline="reference",
                ensemble=ensemble,
            )
    return report


Sync = Callable[[Callable[[], object]], Callable[[], object]]


def _engine_rows(
    report: BenchReport,
    parts: StableDiffusionParts,
    warmup_image: LoadedImage,
    image: LoadedImage,
    states: torch.Tensor,
    options: BenchOptions,
    ensemble: int,
    sync: Sync,
    log: Callable[[str], None],
) -> None:
    """Time one image's extraction, cold (VAE + UNet) and with its VAE latent cached."""
    label = parts.runtime.label
    settings = FeatureSettings(timestep=options.timestep, layer=options.layer, ensemble=ensemble, size=options.size)
    log(f"engine extraction, {label}, E={ensemble}")
    extractor = StableDiffusionFeatures(parts)
    if options.warmup:
        extractor.extract(warmup_image, states, settings)

    def cold_extract() -> torch.Tensor:
        extractor.latents.clear()  # each repeat encodes the image again
        return extractor.extract(image, states, settings)

    with track_peak() as peak:
        cold, _ = timed(sync(cold_extract), repeats=options.repeats)
        warm, _ = timed(sync(lambda: extractor.extract(image, states, settings)), repeats=options.repeats)
    common = {"ensemble": ensemble, "precision": label}
    report.add(f"engine, {label}, E={ensemble}, cold (VAE + UNet)", cold, peak.gigabytes, pipeline="engine", **common)
    report.add(
        f"engine, {label}, E={ensemble}, VAE latent cached", warm, peak.gigabytes, pipeline="engine-warm", **common
    )


def _switch_row(
    report: BenchReport,
    parts: StableDiffusionParts,
    image: LoadedImage,
    states: torch.Tensor,
    options: BenchOptions,
    sync: Sync,
    log: Callable[[str], None],
) -> torch.Tensor:
    """Time a new text prompt on an image whose latent is cached (text encoding + UNet); returns its features."""
    log("switching prompt on a cached image")
    runtime = parts.runtime
    conditioner = TextConditioner(parts.tokenizer, parts.text_encoder, runtime.autocast)
    settings = FeatureSettings(
        timestep=options.timestep, layer=options.layer, ensemble=max(options.ensembles), size=options.size
    )
    extractor = StableDiffusionFeatures(parts)
    extractor.extract(image, states, dataclasses.replace(settings, ensemble=1))  # caches the VAE latent
    with track_peak() as peak:
        switch, features = timed(
            sync(lambda: extractor.extract(image, conditioner.encode_text("a photo of a cat"), settings)),
            repeats=options.repeats,
        )
    report.add(
        f"switch prompt on a cached image, {runtime.label}, E={settings.ensemble}",
        switch,
        peak.gigabytes,
        pipeline="switch",
    )
    return features


def _flops(options: BenchOptions) -> dict[str, float]:
    """FLOPs per single image and noise sample, counted on meta tensors."""
    with torch.device("meta"):
        meta = random_stable_diffusion(options.architecture)
    latent_side = options.size // 8
    latents = torch.zeros(1, 4, latent_side, latent_side, device="meta")
    states = torch.zeros(1, 77, meta.text_encoder.config.hidden_size, device="meta")
    pixels = torch.zeros(1, 3, options.size, options.size, device="meta")
    return {
        "vae_encoder": count_flops(lambda: meta.vae.encode(pixels)),
        "unet_truncated": count_flops(lambda: up_block_features(meta.unet, latents, 50, states, (options.layer,))),
        "unet_full": count_flops(lambda: meta.unet(latents, 50, encoder_hidden_states=states)),
        "text_encoder": count_flops(lambda: meta.text_encoder(torch.zeros(1, 77, dtype=torch.long, device="meta"))),
    }


def _click_latency(image: LoadedImage, features: torch.Tensor, options: BenchOptions) -> list[dict[str, object]]:
    source = FeatureMap.build(features, image.width, image.height, options.size)
    target = FeatureMap.build(features.flip(-1).contiguous(), image.width, image.height, options.size)
    pair = PreparedPair(image, image, source, target)
    rng = np.random.default_rng(1)
    points = rng.uniform([0, 0], [image.width - 1, image.height - 1], size=(options.clicks, 2))
    pair.match(points[:1])  # first call normalises the target map once
    rows = []
    for name, call in (("match (kernel soft-argmax)", pair.match), ("score map (heatmap)", pair.score_maps)):
        times = [timed(lambda p=point, c=call: c(p[None]))[0] * 1000 for point in points]
        rows.append(
            {"what": f"per click: {name}", "median_ms": float(np.median(times)), "p95_ms": percentile(times, 0.95)}
        )
    return rows


def _synchronizer(runtime: Runtime) -> Callable[[Callable[[], object]], Callable[[], object]]:
    def wrap(function: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            result = function()
            if runtime.device.type == "cuda":
                torch.cuda.synchronize()
            return result

        return run

    return wrap


def _machine(runtime: Runtime) -> dict[str, str]:
    device = torch.cuda.get_device_name(runtime.device) if runtime.device.type == "cuda" else _cpu_name()
    return {
        "device": device,
        "threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "runtime": runtime.label,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
