"""Process-wide tuning is an explicit runtime option applied at start, never a side effect of loading."""

from __future__ import annotations

import pytest

import engine.runtime
from engine import Matcher, ModelSources, RuntimeOptions, resolve_runtime
from engine.cli import main
from engine.errors import SettingsError
from engine.models import cpu_memory
from engine.models.blockwise_attention import BlockwiseAttentionProcessor


@pytest.fixture
def allocator_calls(monkeypatch) -> list[tuple[tuple[int, int], ...]]:
    """Every request to change the allocator's settings (none is applied)."""
    calls: list[tuple[tuple[int, int], ...]] = []
    monkeypatch.setattr(cpu_memory, "_set", lambda settings: calls.append(settings) or True)
    return calls


def processors(matcher: Matcher) -> list[object]:
    parts = matcher.sd_parts
    return [*parts.unet.attn_processors.values(), *parts.vae.attn_processors.values()]


def test_the_environment_turns_each_option_off():
    assert RuntimeOptions.from_environment({}) == RuntimeOptions(tune_allocator=True, blockwise_attention=None)
    on = {"SD4MATCH_BLOCKWISE_ATTENTION": "1"}
    assert RuntimeOptions.from_environment(on) == RuntimeOptions(blockwise_attention=True)
    off = {"SD4MATCH_TUNE_ALLOCATOR": "0", "SD4MATCH_BLOCKWISE_ATTENTION": "off"}
    assert RuntimeOptions.from_environment(off) == RuntimeOptions(tune_allocator=False, blockwise_attention=False)
    with pytest.raises(SettingsError, match="SD4MATCH_TUNE_ALLOCATOR='maybe'"):
        RuntimeOptions.from_environment({"SD4MATCH_TUNE_ALLOCATOR": "maybe"})


@pytest.mark.parametrize("amx", [True, False])
def test_unset_the_attention_follows_the_cpu(monkeypatch, amx):
    """The flash kernel where the CPU has AMX tiles (there it is the faster one), else blockwise."""
    monkeypatch.setattr(engine.runtime.torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    assert resolve_runtime("cpu", "float32", RuntimeOptions()).blockwise_attention is (not amx)
    assert resolve_runtime("cpu", "float32", RuntimeOptions(blockwise_attention=True)).blockwise_attention


def test_loading_a_model_leaves_the_allocator_alone(tiny_sd_dir, allocator_calls, monkeypatch):
    monkeypatch.setenv("SD4MATCH_BLOCKWISE_ATTENTION", "1")
    matcher = Matcher(ModelSources(sd=str(tiny_sd_dir)), runtime=resolve_runtime("cpu", "float32"))
    assert all(isinstance(processor, BlockwiseAttentionProcessor) for processor in processors(matcher))
    assert allocator_calls == []


def test_blockwise_attention_can_be_turned_off(tiny_sd_dir, monkeypatch):
    monkeypatch.setenv("SD4MATCH_BLOCKWISE_ATTENTION", "0")
    matcher = Matcher(ModelSources(sd=str(tiny_sd_dir)), runtime=resolve_runtime("cpu", "float32"))
    assert processors(matcher) and not any(isinstance(p, BlockwiseAttentionProcessor) for p in processors(matcher))


def test_configure_process_applies_the_allocator_option(allocator_calls, monkeypatch):
    monkeypatch.setattr(cpu_memory.platform, "libc_ver", lambda: ("glibc", "2.36"))
    assert not engine.runtime.configure_process(RuntimeOptions(tune_allocator=False), "cpu")
    assert allocator_calls == []
    engine.runtime.configure_process(RuntimeOptions(), "cpu")  # keeps freed memory: three settings
    engine.runtime.configure_process(RuntimeOptions(), "cuda")  # only one heap for all threads
    assert [len(settings) for settings in allocator_calls] == [3, 1]


def test_the_command_line_applies_the_options_from_the_environment(allocator_calls, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cpu_memory.platform, "libc_ver", lambda: ("glibc", "2.36"))
    # A command that computes (prompts import), stopped by its own error after the options applied;
    # commands that compute nothing (prompts list, cache) do not apply them (no torch import).
    command = ["prompts", "import", str(tmp_path), "--to", str(tmp_path / "library")]
    monkeypatch.setenv("SD4MATCH_TUNE_ALLOCATOR", "0")
    assert main(command) == 2
    assert allocator_calls == []
    monkeypatch.setenv("SD4MATCH_TUNE_ALLOCATOR", "1")
    assert main(command) == 2
    assert len(allocator_calls) == 1
    assert main(["prompts", "list"]) == 0 and len(allocator_calls) == 1
    monkeypatch.setenv("SD4MATCH_TUNE_ALLOCATOR", "sometimes")
    assert main(command) == 2
    assert "SD4MATCH_TUNE_ALLOCATOR='sometimes'" in capsys.readouterr().err
