"""The persistent feature cache: keys, damage, eviction, processes, bit-identity, commands."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import FeatureSettings, Matcher, ModelSources, PromptSpec, image_from_array, resolve_runtime
from engine.cli import main
from engine.disk_cache import CACHE_ENV, DiskCache, key_fields, parse_size
from engine.errors import SettingsError
from engine.models.weights import LocatedWeights, weights_fingerprint
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, REPO, TEST_SIZE, random_rgb

SETTINGS = FeatureSettings(ensemble=2, size=TEST_SIZE)
POINTS = np.array([[10.0, 12.0], [30.5, 20.0], [0.0, 0.0]])


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "feature-cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def images():
    return [image_from_array(random_rgb(40, 50, seed)) for seed in (11, 12, 13)]


def tiny_matcher(sd: Path, dinov2: Path, prompts: Path, disk: DiskCache | None, dtype: str = "float32") -> Matcher:
    """A matcher with empty memory caches over ``disk``: what a new run of the app or a command sees."""
    sources = ModelSources(sd=str(sd), dinov2=str(dinov2), prompts=str(prompts))
    return Matcher(sources, runtime=resolve_runtime("cpu", dtype), disk_cache=disk)


def entry(cache: DiskCache, name: str) -> dict[str, torch.Tensor]:
    return {"values": torch.full((64,), float(len(name)))}


# ---- the store itself ----


def test_entries_round_trip_bit_for_bit(cache_dir):
    cache = DiskCache()
    tensors = {"features": torch.randn(7, 5, 3), "half": torch.randn(4).to(torch.bfloat16)}
    cache.store({"name": "a"}, tensors)
    loaded = cache.load({"name": "a"})
    assert set(loaded) == {"features", "half"}
    assert all(torch.equal(loaded[n], tensors[n]) and loaded[n].dtype == tensors[n].dtype for n in tensors)
    assert cache.load({"name": "b"}) is None
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)
    assert [p.suffix for p in cache_dir.iterdir()] == [".safetensors"]


@pytest.mark.parametrize("damage", ["truncate", "flip a tensor byte", "flip a header byte", "empty"])
def test_a_damaged_entry_is_detected_deleted_and_recomputed(cache_dir, damage):
    cache = DiskCache()
    key, tensors = {"name": "a"}, {"features": torch.arange(1000, dtype=torch.float32)}
    cache.store(key, tensors)
    [path] = cache_dir.iterdir()
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "flip a tensor byte":
        data[-10] ^= 0xFF
    elif damage == "flip a header byte":
        data[20] ^= 0xFF
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert cache.load(key) is None
    assert not path.exists()
    recomputed = cache.get_or_create(key, lambda: tensors)
    assert torch.equal(recomputed["features"], tensors["features"])
    assert torch.equal(cache.load(key)["features"], tensors["features"])


def test_an_entry_under_another_key_is_not_served(cache_dir):
    cache = DiskCache()
    cache.store({"name": "a"}, {"x": torch.zeros(3)})
    cache.store({"name": "b"}, {"x": torch.ones(3)})
    path_a, path_b = (cache._path(text) for text in map(_key_text, ({"name": "a"}, {"name": "b"})))
    shutil.copyfile(path_b, path_a)  # as a name collision would
    assert cache.load({"name": "a"}) is None


def _key_text(key):
    from engine.disk_cache import _key_text as text

    return text(key)


def test_least_recently_used_entries_go_first_and_the_bound_holds(cache_dir):
    one = len(_entry_bytes())
    cache = DiskCache(max_bytes=2 * one + one // 2)  # room for two entries
    cache.store({"n": 1}, {"x": torch.zeros(256)})
    cache.store({"n": 2}, {"x": torch.zeros(256)})
    for age, n in ((1000, 1), (2000, 2)):  # entry 1 older than entry 2 ...
        os.utime(cache._path(_key_text({"n": n})), (age, age))
    assert cache.load({"n": 1}) is not None  # ... until it is read
    cache.store({"n": 3}, {"x": torch.zeros(256)})
    assert cache.load({"n": 2}) is None
    assert cache.load({"n": 1}) is not None and cache.load({"n": 3}) is not None
    info = cache.info()
    assert info.entries == 2 and info.bytes <= cache.max_bytes and info.root == cache_dir


def _entry_bytes() -> bytes:
    from safetensors.torch import save

    return save({"x": torch.zeros(256)}, metadata={"key": _key_text({"n": 1}), "sha256": "0" * 64, "format": "1"})


def test_an_entry_larger_than_the_bound_is_not_kept(cache_dir):
    cache = DiskCache(max_bytes=100)
    assert torch.equal(cache.get_or_create({"n": 1}, lambda: {"x": torch.zeros(256)})["x"], torch.zeros(256))
    assert cache.info().entries == 0
    DiskCache(max_bytes=0).store({"n": 2}, {"x": torch.zeros(1)})
    assert not any(cache_dir.glob("*.safetensors"))


def test_sizes_parse_and_bad_ones_are_refused():
    assert parse_size("4G") == 4 << 30 and parse_size("500M") == 500 << 20 and parse_size("1.5GiB") == 3 << 29
    assert parse_size("0") == 0 and parse_size("123") == 123 and parse_size("2kb") == 2048
    for bad in ("", "lots", "-1G", "nanG"):
        with pytest.raises(SettingsError, match="cache size"):
            parse_size(bad)


def test_keys_carry_every_settings_field_by_name():
    fields = key_fields(FeatureSettings())
    assert set(fields) == {"type"} | {f.name for f in dataclasses.fields(FeatureSettings)}
    for change in ({"seed": 1}, {"ensemble": 3}, {"timestep": 51}, {"layer": 2}, {"extra_timesteps": (100,)}):
        assert key_fields(dataclasses.replace(FeatureSettings(), **change)) != fields
    with pytest.raises(TypeError):
        key_fields(object())


def test_weights_fingerprints_follow_the_revision_and_the_files(tmp_path, monkeypatch):
    hub = [LocatedWeights(tmp_path, "org/model", revision) for revision in ("abc", "def")]
    assert weights_fingerprint(hub[0]) != weights_fingerprint(hub[1])
    folder = tmp_path / "model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text('{"a": 1}')
    (folder / "unet" / "weights.safetensors").write_bytes(b"0" * 64)
    local = LocatedWeights(folder, str(folder), None)
    before = weights_fingerprint(local)
    (folder / "unet" / "config.json").write_text('{"a": 2}')
    assert weights_fingerprint(local) != before
    import engine.models.weights as weights_module

    monkeypatch.setattr(weights_module, "SMALL_FILE_BYTES", 16)  # the weights file now counts as large
    large = weights_fingerprint(local)
    os.utime(folder / "unet" / "weights.safetensors", (5, 5))
    assert weights_fingerprint(local) != large


CONCURRENT_WORKER = textwrap.dedent(
    """
    import sys, torch
    from engine.disk_cache import DiskCache
    cache = DiskCache(max_bytes=int(sys.argv[1]))
    seen = 0
    for step in range(300):
        n = (step * 7 + int(sys.argv[2])) % 12
        value = {"x": torch.arange(2000, dtype=torch.float32) + n}
        got = cache.get_or_create({"n": n}, lambda: value)
        assert torch.equal(got["x"], value["x"]), n
        seen += cache.load({"n": n}) is not None
    print(seen, cache.stats.hits, cache.stats.misses)
    """
)


def test_two_processes_share_the_cache_while_evicting(cache_dir):
    one = 8000 + 400  # one entry: 2000 float32 and its header
    environment = os.environ | {"PYTHONPATH": str(REPO), CACHE_ENV: str(cache_dir)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WORKER, str(6 * one), str(offset)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for offset in (0, 3)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        assert int(out.split()[1]) > 0  # hits happened, wrong tensors never
    assert DiskCache().info().bytes <= 6 * one
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]  # no staging left behind


# ---- the matcher over the disk cache ----


def test_cached_features_and_matches_are_bit_identical_to_fresh_ones(
    cache_dir, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir, images, counters
):
    folders = (tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir)
    fresh = tiny_matcher(*folders, None).prepare(images[0], images[1], PromptSpec(), SETTINGS)
    assert not cache_dir.exists()
    tiny_matcher(*folders, DiskCache()).prepare(images[0], images[1], PromptSpec(), SETTINGS)  # fills the disk
    calls = dict(counters)
    warm = tiny_matcher(*folders, DiskCache())
    cached = warm.prepare(images[0], images[1], PromptSpec(), SETTINGS)
    assert counters == calls  # neither VAE nor UNet ran
    assert warm.disk_cache.stats.hits == 2 and warm._sd is None  # a warm start: no model loaded
    assert cached.run == fresh.run
    for one, two in ((fresh.source, cached.source), (fresh.target, cached.target)):
        assert torch.equal(one.features, two.features) and one.frame == two.frame
    first, second = fresh.match(POINTS), cached.match(POINTS)
    assert np.array_equal(first.match_xy, second.match_xy) and np.array_equal(first.confidence, second.confidence)


def test_a_pair_half_on_disk_loads_the_model_for_the_other_half(
    cache_dir, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir, images, counters
):
    folders = (tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir)
    tiny_matcher(*folders, DiskCache()).prepare(images[0], images[1], PromptSpec(), SETTINGS)
    calls = dict(counters)
    matcher = tiny_matcher(*folders, DiskCache())
    pair = matcher.prepare(images[0], images[2], PromptSpec(), SETTINGS)
    assert counters["vae"] == calls["vae"] + 1 and matcher._sd is not None  # only the new target computed
    fresh = tiny_matcher(*folders, None).prepare(images[0], images[2], PromptSpec(), SETTINGS)
    assert torch.equal(pair.source.features, fresh.source.features) and pair.run == fresh.run


def _computed_digests(monkeypatch) -> list[str]:
    """Records the image digest of every feature map computed (not read from a cache)."""
    import engine.matcher as matcher_module

    computed: list[str] = []
    original = matcher_module.image_feature_stream

    def counting(backend, image, *args, **kwargs):
        computed.append(image.digest)
        return original(backend, image, *args, **kwargs)

    monkeypatch.setattr(matcher_module, "image_feature_stream", counting)
    return computed


def test_every_ingredient_of_the_numbers_is_in_the_key(
    cache_dir, tmp_path, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir, images, monkeypatch
):
    prompts = tmp_path / "prompts"
    shutil.copytree(tiny_prompts_dir, prompts)
    sd = tmp_path / "sd"
    shutil.copytree(tiny_sd_dir, sd)
    computed = _computed_digests(monkeypatch)
    a, b, c = images

    def run(source=a, target=b, prompt=None, settings=SETTINGS, dtype="float32") -> list[str]:
        computed.clear()
        matcher = tiny_matcher(sd, tiny_dinov2_dir, prompts, DiskCache(), dtype)
        matcher.prepare(source, target, prompt or PromptSpec(), settings)
        return list(computed)

    both = [a.digest, b.digest]
    assert run() == both
    assert run() == []  # the same again: all from disk
    for change in ({"seed": 1}, {"ensemble": 3}, {"timestep": 60}, {"layer": 2}, {"extra_timesteps": (100,)}):
        assert run(settings=dataclasses.replace(SETTINGS, **change)) == both, change
    assert run(target=c) == [c.digest]  # another image: only its map
    assert run(prompt=PromptSpec("text", text="a photo")) == both
    assert run(dtype="bfloat16") == both
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)  # CPU kernels split their sums by thread
    try:
        assert run() == both
    finally:
        torch.set_num_threads(threads)

    single = PromptSpec("single")
    assert run(prompt=single) == both and run(prompt=single) == []
    [caption] = prompts.glob("Single_*/caption.pt")
    torch.save({"dataset": torch.randn(1, 77, 32)}, caption)  # the learned prompt's file changed
    assert run(prompt=single) == both

    cpm = PromptSpec("cpm")
    assert run(prompt=cpm) == both and run(prompt=cpm) == []
    assert run(prompt=cpm, target=c) == [a.digest, c.digest]  # CPM: the partner image changes the prompt

    config = sd / "scheduler" / "scheduler_config.json"
    config.write_text(config.read_text() + "\n")  # other weights folder contents: another fingerprint
    assert run() == both


NEW_PROCESS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    import engine.features.stable_diffusion as sd_features
    import engine.matcher
    from engine import FeatureSettings, Matcher, ModelSources, PromptSpec, load_image, resolve_runtime
    from engine.disk_cache import DiskCache

    def refuse(*args, **kwargs):
        raise AssertionError("a model pass ran although the disk cache holds the features")

    torch.set_num_threads(int(sys.argv[5]))  # the parent's: thread counts are in the key
    sd_features.encode_posterior = refuse
    sd_features.up_block_features = refuse
    engine.matcher.load_stable_diffusion = refuse  # a warm start loads no model at all
    matcher = Matcher(ModelSources(sd=sys.argv[1]), runtime=resolve_runtime("cpu", "float32"), disk_cache=DiskCache())
    settings = FeatureSettings(ensemble=2, size=int(sys.argv[2]))
    pair = matcher.prepare(load_image(sys.argv[3]), load_image(sys.argv[4]), PromptSpec(), settings)
    print(pair.match(np.array([[10.0, 12.0], [30.5, 20.0], [0.0, 0.0]])).match_xy.tobytes().hex())
    """
)


def test_a_new_process_finds_the_entries_and_runs_no_model_pass(
    cache_dir, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir
):
    from engine import load_image

    source, target = load_image(DEMO_SOURCE), load_image(DEMO_TARGET)
    matcher = tiny_matcher(tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir, DiskCache())
    expected = matcher.prepare(source, target, PromptSpec(), SETTINGS).match(POINTS).match_xy
    environment = os.environ | {"PYTHONPATH": str(REPO), CACHE_ENV: str(cache_dir)}
    arguments = [str(tiny_sd_dir), str(TEST_SIZE), str(DEMO_SOURCE), str(DEMO_TARGET), str(torch.get_num_threads())]
    done = subprocess.run(
        [sys.executable, "-c", NEW_PROCESS, *arguments], env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected.tobytes().hex()


# ---- the commands ----


def _match(tmp_path, tiny_sd_dir, *extra: str) -> int:
    return main([
        "match", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", "100,100", "--out", str(tmp_path / "out.json"),
        "--model", str(tiny_sd_dir), "--backend", "sd", "--device", "cpu", "--dtype", "float32",
        "--size", str(TEST_SIZE), "--ensemble", "1", *extra,
    ])  # fmt: skip


def test_no_cache_writes_nothing_and_the_cache_commands_report_and_clear(cache_dir, tmp_path, tiny_sd_dir, capsys):
    assert _match(tmp_path, tiny_sd_dir, "--no-cache") == 0
    assert not cache_dir.exists()
    assert _match(tmp_path, tiny_sd_dir) == 0
    entries = list(cache_dir.glob("*.safetensors"))
    assert len(entries) == 4  # two posteriors, two feature maps
    capsys.readouterr()
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache_dir) in out and "entries: 4" in out
    assert f"bytes:   {sum(p.stat().st_size for p in entries)} " in out
    assert main(["cache", "clear"]) == 0
    assert "removed 4 entries" in capsys.readouterr().out
    assert not list(cache_dir.glob("*.safetensors"))
    assert main(["cache", "info"]) == 0 and "entries: 0" in capsys.readouterr().out


def test_a_cache_size_too_small_keeps_nothing_and_a_bad_one_is_refused(cache_dir, tmp_path, tiny_sd_dir, capsys):
    assert _match(tmp_path, tiny_sd_dir, "--cache-size", "1K") == 0
    assert not list(cache_dir.glob("*.safetensors"))
    with pytest.raises(SystemExit):
        _match(tmp_path, tiny_sd_dir, "--cache-size", "lots")
    assert "cache size 'lots' is not a size" in capsys.readouterr().err
