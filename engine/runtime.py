"""Device and precision: where the models run and in which float type.

``auto`` picks CUDA, then Apple MPS, then the CPU. Precision ``auto`` is float16 weights on CUDA,
bfloat16 on CPUs with native bf16 matmul (AVX512-BF16 / AMX; features stay within cosine 0.9997
of fp32, see docs/benchmarks.md), else float32. On the CPU, reduced precision means bf16 weights
*and* ``torch.autocast``: the weights take half the memory and are not re-cast on every forward,
while autocast keeps normalisation layers in float32. Features always leave the extractor as
float32 so that matching is done at full precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .errors import SettingsError
from .settings import DEVICES, DTYPES


@dataclass(frozen=True)
class Runtime:
    """Resolved device and precision.

    Attributes:
        device: where weights and activations live.
        weights_dtype: dtype the weights are stored in.
        autocast_dtype: if set, forward passes run under ``torch.autocast`` with this dtype
            (used on the CPU, so that normalisation layers still run in float32).
    """

    device: torch.device
    weights_dtype: torch.dtype
    autocast_dtype: torch.dtype | None = None

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


def resolve_runtime(device: str = "auto", dtype: str = "auto") -> Runtime:
    """Turn the user's ``--device`` / ``--dtype`` words into a :class:`Runtime`."""
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
        return Runtime(torch.device("cpu"), chosen, autocast_dtype=chosen)
    return Runtime(torch.device(kind), chosen)


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"
