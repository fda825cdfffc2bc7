"""Device and precision: where the models run and in which float type.

``auto`` picks CUDA, then Apple MPS, then the CPU. Precision ``auto`` is float16 weights on CUDA,
bfloat16 on CPUs with native bf16 matmul (AVX512-BF16 / AMX; features stay within cosine 0.9997
of fp32, see docs/benchmarks.md), else float32. On the CPU, reduced precision means bf16 weights
*and* ``torch.autocast``: the weights take half the memory and are not re-cast on every forward,
while autocast keeps normalisation layers in float32. Features always leave the extractor as
float32 so that matching is done at full precision.

:class:`RuntimeOptions` are the process-wide tuning choices (allocator, CPU attention). They are
explicit: ``sd4match`` and ``sd4match-gui`` read them from the environment at start and apply
them with :func:`configure_process`; importing the engine or loading a model changes nothing in
the process by itself. Each is on by default and turned off with its environment variable set to
``0`` (see the README's "Runtime options").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

from .errors import SettingsError
from .models.cpu_memory import keep_freed_memory, share_one_arena
from .settings import DEVICES, DTYPES

OFF, ON = ("0", "false", "no", "off"), ("1", "true", "yes", "on")


@dataclass(frozen=True)
class RuntimeOptions:
    """Process-wide tuning; each is on by default and off with its environment variable set to 0.

    Attributes:
        tune_allocator: ``SD4MATCH_TUNE_ALLOCATOR``: glibc keeps freed activation memory for reuse
            when the process computes on the CPU, and threads share one heap
            (:mod:`engine.models.cpu_memory`; costs: the process keeps its peak memory).
        blockwise_attention: ``SD4MATCH_BLOCKWISE_ATTENTION``: models placed on the CPU get the
            blockwise attention processor (:mod:`engine.models.blockwise_attention`: the same maths;
            float32 results equal diffusers' own processor). None (the variable unset) chooses by
            the CPU: on one with AMX tiles PyTorch's flash kernel is the faster one, elsewhere the
            blockwise attention (:func:`blockwise_attention_is_faster`).
    """

    tune_allocator: bool = True
    blockwise_attention: bool | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> RuntimeOptions:
        """The options as the environment sets them; SettingsError for a value that is not a yes or no."""
        return cls(
            tune_allocator=_switch(environ, "SD4MATCH_TUNE_ALLOCATOR"),
            blockwise_attention=_switch(environ, "SD4MATCH_BLOCKWISE_ATTENTION", None),
        )


def _switch(environ: Mapping[str, str], name: str, unset: bool | None = True) -> bool | None:
    if name not in environ:
        return unset
    value = environ[name].strip().lower()
    if value not in OFF + ON:
        raise SettingsError(f"{name}={environ[name]!r}: use 0 (off) or 1 (on)")
    return value in ON


def configure_process(options: RuntimeOptions, device: str = "auto") -> bool:
    """Apply the process-wide options; True when the allocator tuning is in force.

    Called once at start by the command line and the app, before any thread exists (a thread keeps
    the heap it started with). Memory is kept for reuse only when ``device`` resolves to the CPU,
    so a GPU process still returns memory as usual; threads share one heap whatever the device.
    """
    if not options.tune_allocator:
        return False
    if device in DEVICES and _pick_device(device) == "cpu":
        return keep_freed_memory()
    return share_one_arena()


@dataclass(frozen=True)
class Runtime:
    """Resolved device and precision.

    Attributes:
        device: where weights and activations live.
        weights_dtype: dtype the weights are stored in.
        autocast_dtype: if set, forward passes run under ``torch.autocast`` with this dtype
            (used on the CPU, so that normalisation layers still run in float32).
        blockwise_attention: install the blockwise attention processor on models placed on the
            CPU (see :class:`RuntimeOptions`).
    """

    device: torch.device
    weights_dtype: torch.dtype
    autocast_dtype: torch.dtype | None = None
    blockwise_attention: bool = True

    @property
    def compute_dtype(self) -> torch.dtype:
        return self.autocast_dtype or self.weights_dtype

    @property
    def label(self) -> str:
        """Short human name, e.g. ``cuda float16`` or ``cpu bfloat16-autocast``."""
        dtype = str(self.compute_dtype).removeprefix("torch.")
        return f"{self.device.type} {dtype}{'-autocast' if self.autocast_dtype else ''}"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.autocast_dtype is None:
            yield
            return
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            yield


def cpu_has_native_bf16() -> bool:
    """True when oneDNN reports bf16 support (AVX512-BF16 or AMX) on this x86 CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def blockwise_attention_is_faster() -> bool:
    """Whether the blockwise attention beats PyTorch's CPU flash kernel on this CPU: not where it
    has AMX tiles, whose matrix units the flash kernel uses (measured on SD2-1's 9,216-token
    self-attention in bf16: 177 ms for the flash kernel against 371 ms, and a whole UNet pass 1.89 s
    against 2.42 s; on an AVX512-BF16 CPU without AMX the blockwise one was 1.4-2x faster,
    docs/benchmarks.md section 1). torch reports AMX through a private call; without it, blockwise."""
    has_amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return not (has_amx is not None and has_amx())
    except RuntimeError:
        return True


def resolve_runtime(device: str = "auto", dtype: str = "auto", options: RuntimeOptions | None = None) -> Runtime:
    """Turn the user's ``--device`` / ``--dtype`` words into a :class:`Runtime`.

    ``options`` default to :meth:`RuntimeOptions.from_environment`.
    """
    blockwise = (options or RuntimeOptions.from_environment()).blockwise_attention
    if blockwise is None:
        blockwise = blockwise_attention_is_faster()
    if device not in DEVICES:
        raise SettingsError(f"unknown device '{device}'; choose one of {', '.join(DEVICES)}")
    if dtype not in DTYPES:
        raise SettingsError(f"unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}")
    kind = _pick_device(device)
    if kind == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device 'cuda' was requested but torch sees no CUDA GPU (CPU-only torch build?)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise SettingsError("device 'mps' was requested but this machine has no Apple MPS backend")
    if dtype == "auto":
        dtype = {"cuda": "float16", "mps": "float32"}.get(kind, "bfloat16" if cpu_has_native_bf16() else "float32")
    chosen = getattr(torch, dtype)
    if kind == "cpu" and chosen != torch.float32:
        return Runtime(torch.device("cpu"), chosen, autocast_dtype=chosen, blockwise_attention=blockwise)
    return Runtime(torch.device(kind), chosen, blockwise_attention=blockwise)


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"
