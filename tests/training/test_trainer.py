"""Prompt tuning end to end on the tiny random models: learning, files, loading back, resuming, errors."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import FeatureSettings, LocalisationSettings, Matcher, ModelSources, PromptSpec, resolve_runtime
from engine.datasets import PairSample
from engine.errors import SettingsError
from engine.evaluation import score_pair
from engine.progress import Progress
from engine.prompts.cpm import ConditionalPromptModule
from engine.prompts.files import CPM_KEYS
from engine.prompts.text_encoder import TextConditioner
from engine.training import PromptTrainer, TrainingConfig, TrainingSet
from engine.training.prompt_modules import TokenPrompts
from engine.training.schedule import noise_generator
from engine.training.step import PairLoss, TrainingExample
from tests.conftest import TEST_SIZE


def toy_config(variant: str = "single", **changes) -> TrainingConfig:
    values = dict(variant=variant, prompt_set="toy", epochs=1, batch_size=2, size=TEST_SIZE, save_every=1)
    return TrainingConfig(**{**values, **changes})


@pytest.fixture(scope="module")
def train_set(toy_export: Path) -> TrainingSet:
    return TrainingSet.open("json", toy_export)


@pytest.fixture(scope="module")
def validation_set(toy_validation_export: Path) -> TrainingSet:
    return TrainingSet.open("json", toy_validation_export)


def conditioner_of(matcher: Matcher) -> TextConditioner:
    parts = matcher.sd_parts
    return TextConditioner(parts.tokenizer, parts.text_encoder, contextlib.nullcontext)


def test_loss_decreases_over_a_few_steps(tiny_matcher: Matcher, train_set: TrainingSet, tmp_path: Path) -> None:
    one_pair = TrainingSet(train_set.pairs[:1], {"kind": "test"})
    config = toy_config(epochs=6, batch_size=1)
    result = PromptTrainer(config, tiny_matcher).fit(one_pair, None, tmp_path)

    conditioner = conditioner_of(tiny_matcher)
    pair_loss = PairLoss(tiny_matcher.stable_diffusion(), config, contextlib.nullcontext)

    @torch.no_grad()
    def fixed_noise_loss(tokens: torch.Tensor) -> float:
        example = TrainingExample.load(one_pair.pairs[0], "dataset", noise_generator(99, 0, 0))
        return pair_loss([example], conditioner.encode_token_embeddings(tokens)).item()

    initial = TokenPrompts.initialise(["dataset"], conditioner, config.seed)
    before = fixed_noise_loss(conditioner.splice(initial(["dataset"])))
    after = fixed_noise_loss(torch.load(result.prompt_file)["dataset"])
    assert after < before - 0.2


def trained_states(variant: str, state: dict, conditioner: TextConditioner, matcher: Matcher, images) -> torch.Tensor:
    """The run's final prompt rebuilt from its training state (the in-memory module), as UNet states."""
    if variant == "cpm":
        dinov2 = matcher.dinov2()
        module = ConditionalPromptModule(conditioner.width, dinov2.hidden_size, dinov2.num_patches)
        module.load_state_dict(state["module"])
        patches = [dinov2.patch_features(image.rgb)[None] for image in images]
        middle = module(*patches)
    else:
        module = TokenPrompts(state["keys"], torch.zeros(len(state["keys"]), 75, conditioner.width))
        module.load_state_dict(state["module"])
        middle = module(["cat" if variant == "class" else "dataset"])
    with torch.no_grad():
        return conditioner.encode_token_embeddings(conditioner.splice(middle))


@pytest.mark.parametrize("variant", ["single", "class", "cpm"])
def test_saved_prompt_loads_like_a_released_one(
    variant: str,
    tiny_matcher: Matcher,
    tiny_sd_dir: Path,
    tiny_dinov2_dir: Path,
    train_set: TrainingSet,
    tmp_path: Path,
) -> None:
    result = PromptTrainer(toy_config(variant), tiny_matcher).fit(train_set, None, tmp_path)

    # 1. The official layout, keys and shapes.
    expected_folder = {
        "single": "Single_toy_sd2-1_TokenEmbeds75/caption.pt",
        "class": "Class_toy_sd2-1_TokenEmbeds75/caption.pt",
        "cpm": "CPM_toy_sd2-1_Pair-DINO-Feat-G25-C50/ckpt.pt",
    }[variant]
    assert result.prompt_file == tmp_path / expected_folder
    saved = torch.load(result.prompt_file, weights_only=True)
    conditioner = conditioner_of(tiny_matcher)
    width = conditioner.width
    if variant == "cpm":
        assert set(saved) == set(CPM_KEYS)
        assert saved["global_embeds"].shape == (1, 25, width) and saved["alpha_cond"].shape == (1, 50, width)
    else:
        assert set(saved) == ({"dataset"} if variant == "single" else {"cat", "dog"})
        start, end = conditioner.start_and_end_embeddings()
        for tokens in saved.values():
            assert tokens.shape == (1, 77, width) and tokens.dtype == torch.float32
            assert torch.equal(tokens[:, :1], start) and torch.equal(tokens[:, -1:], end)

    # 2. Through the prompt loader, exactly the prompt the run ended with.
    loader = Matcher(
        ModelSources(sd=str(tiny_sd_dir), dinov2=str(tiny_dinov2_dir), prompts=str(tmp_path)),
        runtime=resolve_runtime("cpu", "float32"),
    )
    images = train_set.pairs[0].load_images()
    spec = PromptSpec(variant=variant, prompt_set="toy", category="cat")
    loaded = loader.prompts.conditioning(spec, *images).states
    state = torch.load(result.resume_file, weights_only=True)
    assert torch.allclose(loaded, trained_states(variant, state, conditioner, tiny_matcher, images), atol=1e-6)

    # 3. The sidecar says how and on what.
    sidecar = json.loads(result.sidecar.read_text())
    assert sidecar["variant"] == variant and sidecar["prompt_file"] == result.prompt_file.name
    assert sidecar["settings"]["timestep"] == 261 and sidecar["settings"]["learning_rate"] == 0.01
    assert sidecar["data"]["train"]["pairs"] == 4 and sidecar["data"]["train"]["sha256"] == train_set.fingerprint()
    assert [entry["epoch"] for entry in sidecar["history"]] == [1]


def test_validation_score_is_what_the_app_measures_with_the_saved_prompt(
    tiny_matcher: Matcher, tiny_sd_dir: Path, train_set: TrainingSet, validation_set: TrainingSet, tmp_path: Path
) -> None:
    config = toy_config("class", selection="kernel", alpha=0.5)
    result = PromptTrainer(config, tiny_matcher).fit(train_set, validation_set, tmp_path)
    loader = Matcher(
        ModelSources(sd=str(tiny_sd_dir), prompts=str(tmp_path)), runtime=resolve_runtime("cpu", "float32")
    )
    settings = FeatureSettings(timestep=261, ensemble=1, size=TEST_SIZE, seed=config.seed)
    scores = []
    for sample in validation_set.pairs:
        prepared = loader.prepare(
            *sample.load_images(), PromptSpec("class", prompt_set="toy", category=sample.category), settings
        )
        match = prepared.match(sample.source_points, LocalisationSettings("kernel"))
        scores.append(score_pair(sample, match.match_xy, prepared.target.frame).measurements["square"].pck((0.5,))[0])
    assert result.best is not None
    assert 0 < result.best.score < 1  # a score that would show a different prompt
    assert result.best.score == pytest.approx(float(np.mean(scores)), abs=1e-12)


class Killed(Exception):
    """Stands in for the process dying: nothing is saved on the way out."""


@pytest.mark.parametrize("killed_after", [2, 3])  # 2: at an epoch end, before its validation
def test_resume_after_a_kill_continues_like_an_uninterrupted_run(
    killed_after: int, tiny_matcher: Matcher, train_set: TrainingSet, validation_set: TrainingSet, tmp_path: Path
) -> None:
    two_pairs = TrainingSet(train_set.pairs[:2], {"kind": "test"})
    one_pair = TrainingSet(validation_set.pairs[:1], {"kind": "test"})
    config = toy_config(epochs=2, batch_size=1, selection="kernel", alpha=0.5)  # 2 steps an epoch
    whole = PromptTrainer(config, tiny_matcher).fit(two_pairs, one_pair, tmp_path / "whole")

    def kill(report) -> None:
        if report.step == killed_after:
            raise Killed

    with pytest.raises(Killed):
        PromptTrainer(config, tiny_matcher).fit(two_pairs, one_pair, tmp_path / "killed", on_step=kill)
    steps: list[int] = []
    resumed = PromptTrainer(config, tiny_matcher).fit(
        two_pairs, one_pair, tmp_path / "killed", resume=True, on_step=lambda report: steps.append(report.step)
    )
    assert steps == list(range(killed_after + 1, 5))
    assert resumed.finished and resumed.history == whole.history
    final = [torch.load(result.resume_file, weights_only=True) for result in (whole, resumed)]
    assert torch.equal(final[0]["module"]["tokens.0"], final[1]["module"]["tokens.0"])
    assert torch.equal(torch.load(whole.prompt_file)["dataset"], torch.load(resumed.prompt_file)["dataset"])


def test_cancel_stops_between_steps_and_the_run_can_resume(
    tiny_matcher: Matcher, train_set: TrainingSet, tmp_path: Path
) -> None:
    config = toy_config(epochs=2, batch_size=2, save_every=50)
    steps: list[int] = []
    stopped = PromptTrainer(config, tiny_matcher).fit(
        train_set,
        None,
        tmp_path,
        on_step=lambda report: steps.append(report.step),
        progress=Progress(cancel_requested=lambda: len(steps) >= 2),
    )
    assert stopped.stopped and stopped.steps_done == 2 and not stopped.finished
    resumed = PromptTrainer(config, tiny_matcher).fit(train_set, None, tmp_path, resume=True)
    assert resumed.finished and resumed.steps_done == 4 and len(resumed.history) == 2


def test_same_seed_same_prompt_other_seed_other_prompt(
    tiny_matcher: Matcher, train_set: TrainingSet, tmp_path: Path
) -> None:
    two_pairs = TrainingSet(train_set.pairs[:2], {"kind": "test"})
    prompts = [
        torch.load(PromptTrainer(toy_config(seed=seed), tiny_matcher).fit(two_pairs, None, tmp_path / name).prompt_file)
        for name, seed in (("a", 0), ("b", 0), ("c", 1))
    ]
    assert torch.equal(prompts[0]["dataset"], prompts[1]["dataset"])
    assert not torch.allclose(prompts[0]["dataset"], prompts[2]["dataset"])


def pair_without_points(sample: PairSample) -> PairSample:
    empty = np.zeros((0, 2))
    return PairSample(
        sample.pair_id, sample.category, sample.source_path, sample.target_path, empty, empty, None, None,
        threshold="image",
    )  # fmt: skip


def test_clear_errors_for_unusable_data_and_settings(
    tiny_matcher: Matcher, train_set: TrainingSet, validation_set: TrainingSet, tmp_path: Path
) -> None:
    trainer = PromptTrainer(toy_config(), tiny_matcher)
    no_points = TrainingSet(tuple(pair_without_points(pair) for pair in train_set.pairs), {"root": "session.json"})
    with pytest.raises(SettingsError, match="0 ground-truth point"):
        trainer.fit(no_points, None, tmp_path)
    with pytest.raises(SettingsError, match="at least 50 point"):
        PromptTrainer(toy_config(min_points=50), tiny_matcher).fit(train_set, None, tmp_path)
    with pytest.raises(SettingsError, match="batch size 9 is larger than the 4 training pairs"):
        PromptTrainer(toy_config(batch_size=9), tiny_matcher).fit(train_set, None, tmp_path)
    cats_only = TrainingSet(tuple(pair for pair in train_set.pairs if pair.category == "cat"), {})
    with pytest.raises(SettingsError, match=r"categor.* dog .*no training pair"):
        PromptTrainer(toy_config("class"), tiny_matcher).fit(cats_only, validation_set, tmp_path)

    trainer.fit(train_set, None, tmp_path)
    with pytest.raises(SettingsError, match="already holds a tuned prompt"):
        trainer.fit(train_set, None, tmp_path)
    with pytest.raises(SettingsError, match=r"settings differ.*learning_rate"):
        PromptTrainer(toy_config(learning_rate=0.1), tiny_matcher).fit(train_set, None, tmp_path, resume=True)
    with pytest.raises(SettingsError, match="pairs are not the saved run's"):
        trainer.fit(TrainingSet(train_set.pairs[:2], {}), None, tmp_path, resume=True)
    with pytest.raises(SettingsError, match="nothing to resume"):
        trainer.fit(train_set, None, tmp_path / "elsewhere", resume=True)
